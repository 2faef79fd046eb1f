//! The HTTP long-polling transport (`transports(&[Transport::Polling])`) against the real Sails app
//! configured with `transports: ['polling', 'websocket']` and against the server-stub with polling on,
//! over both protocol generations: requests, a broadcast, a large body, heartbeats and disconnect; and
//! the upgrade from polling to a WebSocket (`transports(&[Transport::Polling, Transport::Websocket])`).

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use sails_io::{EioVersion, EventStream, SailsSocket, SocketEvent, Transport};
use serde_json::json;

use common::RealSails;

const GENERATIONS: [EioVersion; 2] = [EioVersion::V3, EioVersion::V4];

/// The stub serving `transports`, heartbeats every 300 ms with a 2 s timeout.
async fn stub(transports: &[sails_io_stub::Transport]) -> sails_io_stub::RunningServer {
    sails_io_stub::Builder::new()
        .host("127.0.0.1")
        .port(0)
        .transports(transports)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(2000))
        .app(sails_io_stub::demo::router())
        .start()
        .await
        .unwrap()
}

/// `n` requests made at once on `socket` are each answered once, with their own data.
async fn concurrent_echoes(socket: &SailsSocket, n: usize, eio: EioVersion) {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let socket = socket.clone();
            tokio::spawn(async move { socket.post("/echo", &json!({ "i": i })).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap().body_json().unwrap()["body"], json!({ "i": i }), "{eio:?}");
    }
}

/// `b` joins `room`, `a` says `text` there, and `b` gets the `said` event.
async fn say_in_room(a: &SailsSocket, b: &SailsSocket, b_events: &mut EventStream, room: &str, text: &str) {
    b.post(&format!("/rooms/{room}/join"), &json!({})).await.unwrap().error_for_status().unwrap();
    a.post(&format!("/rooms/{room}/say"), &json!({ "text": text })).await.unwrap().error_for_status().unwrap();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), b_events.next()).await.unwrap().unwrap();
        if let SocketEvent::Server(e) = e {
            if e.name == "said" {
                assert_eq!(e.json_value(), json!({ "room": room, "text": text }));
                return;
            }
        }
    }
}

async fn exercise(url: &str, eio: EioVersion) {
    let polling = |eio| SailsSocket::builder(url).protocol(eio).transports(&[Transport::Polling]);
    let a = polling(eio).connect().await.unwrap_or_else(|e| panic!("{eio:?}: {e}"));
    let b = polling(eio).connect().await.unwrap();
    let mut b_events = b.events();

    let hello = a.get("/hello").await.unwrap();
    assert_eq!(hello.to_json(), json!({"body": {"hello": "world"}, "headers": {}, "statusCode": 200}), "{eio:?}");
    let me = a.get("/me/id").await.unwrap();
    assert_eq!(me.body_json().unwrap()["id"], json!(a.id().unwrap()), "{eio:?}");

    // Several requests in flight at once go out in as few POSTs as the driver can batch.
    concurrent_echoes(&a, 20, eio).await;
    // A broadcast reaches the other polling socket through its long poll.
    say_in_room(&a, &b, &mut b_events, "poll", "via polling").await;

    let big = "p".repeat(1_000_000);
    let echoed = a.post("/echo", &json!({ "big": big })).await.unwrap_or_else(|e| panic!("{eio:?}: {e}"));
    assert_eq!(echoed.body_json().unwrap()["body"]["big"].as_str().map(str::len), Some(1_000_000), "{eio:?}");

    // Heartbeats over polling keep the connection (ping interval 300 ms, timeout 2 s in these tests: a
    // 1 MB round trip through debug builds can take longer than a 300 ms ping timeout).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(a.is_connected(), "{eio:?}: still connected after several heartbeats");
    assert_eq!(a.get("/hello").await.unwrap().status_code, 200);

    assert_eq!(a.transport(), Some(Transport::Polling), "{eio:?}: no upgrade without Websocket in the list");
    a.disconnect().await.unwrap();
    b.disconnect().await.unwrap();
    assert!(!a.is_connected());
}

/// Opens with polling and upgrades to a WebSocket while requests are in flight: every request is
/// answered once, events arrive, heartbeats go on over the WebSocket.
async fn upgrade(url: &str, eio: EioVersion) {
    let both = |eio| SailsSocket::builder(url).protocol(eio).transports(&[Transport::Polling, Transport::Websocket]);
    let a = both(eio).connect().await.unwrap_or_else(|e| panic!("{eio:?}: {e}"));
    let b = both(eio).connect().await.unwrap();
    let mut b_events = b.events();
    // Requests made at once, while the probe is under way or polling is paused, go out once each.
    concurrent_echoes(&a, 50, eio).await;
    for socket in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while socket.transport() != Some(Transport::Websocket) {
            assert!(tokio::time::Instant::now() < deadline, "{eio:?}: still on {:?}", socket.transport());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let me = a.get("/me/id").await.unwrap();
    assert_eq!(me.body_json().unwrap()["id"], json!(a.id().unwrap()), "{eio:?}: the same session after the upgrade");
    say_in_room(&a, &b, &mut b_events, "up", "upgraded").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(a.is_connected(), "{eio:?}: heartbeats over the upgraded transport");
    assert_eq!(a.get("/hello").await.unwrap().status_code, 200);
    a.disconnect().await.unwrap();
    b.disconnect().await.unwrap();
    assert_eq!(a.transport(), None);
}

#[tokio::test]
async fn long_polling_against_real_sails() {
    let app = RealSails::start(
        0,
        &[("SAILS_TRANSPORTS", "polling,websocket"), ("SAILS_PING_INTERVAL", "300"), ("SAILS_PING_TIMEOUT", "2000")],
    );
    for eio in GENERATIONS {
        exercise(&app.url, eio).await;
        upgrade(&app.url, eio).await;
    }
}

#[tokio::test]
async fn long_polling_against_the_stub() {
    let server = stub(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket]).await;
    for eio in GENERATIONS {
        exercise(&server.url(), eio).await;
        upgrade(&server.url(), eio).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn no_upgrade_when_the_server_offers_none() {
    let server = stub(&[sails_io_stub::Transport::Polling]).await;
    for eio in GENERATIONS {
        let socket = SailsSocket::builder(server.url())
            .protocol(eio)
            .transports(&[Transport::Polling, Transport::Websocket])
            .connect()
            .await
            .unwrap();
        assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(socket.transport(), Some(Transport::Polling), "{eio:?}");
        assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
        socket.disconnect().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn polling_refused_by_a_websocket_only_server_is_a_handshake_error() {
    let app = RealSails::start(0, &[]);
    let err = SailsSocket::builder(&app.url).transports(&[Transport::Polling]).connect().await.unwrap_err();
    match err {
        sails_io::Error::Handshake { status, body } => {
            assert_eq!(status, 400);
            assert_eq!(body, r#"{"code":0,"message":"Transport unknown"}"#);
        }
        other => panic!("{other:?}"),
    }
}

/// A proxy to `upstream` that refuses WebSocket handshakes (HTTP 400) and passes everything else
/// through, as a proxy that blocks WebSockets does. Returns its `http://` URL.
async fn websocket_blocking_proxy(upstream: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Enough of the request head to see its target.
                let mut head = vec![0u8; 4096];
                let n = client.read(&mut head).await.unwrap_or(0);
                head.truncate(n);
                if String::from_utf8_lossy(&head).contains("transport=websocket") {
                    let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                    return;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                if server.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_failed_upgrade_probe_stays_on_polling() {
    let server = stub(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket]).await;
    let proxy = websocket_blocking_proxy(server.addr()).await;
    for eio in GENERATIONS {
        let socket = SailsSocket::builder(&proxy)
            .protocol(eio)
            .transports(&[Transport::Polling, Transport::Websocket])
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{eio:?}: {e}"));
        for i in 0..5 {
            let echoed = socket.post("/echo", &json!({ "i": i })).await.unwrap();
            assert_eq!(echoed.body_json().unwrap()["body"], json!({ "i": i }), "{eio:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(socket.transport(), Some(Transport::Polling), "{eio:?}: the refused probe leaves polling on");
        assert!(socket.is_connected());
        assert_eq!(socket.get("/hello").await.unwrap().status_code, 200, "{eio:?}");
        socket.disconnect().await.unwrap();
    }
    server.shutdown().await;
}
