//! The HTTP long-polling transport (`transports(&[Transport::Polling])`) against the real Sails app
//! configured with `transports: ['polling', 'websocket']` and against the server-stub with polling on,
//! over both protocol generations: requests, a broadcast, a large body, heartbeats and disconnect.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use sails_io::{EioVersion, SailsSocket, SocketEvent, Transport};
use serde_json::json;

use common::RealSails;

const GENERATIONS: [EioVersion; 2] = [EioVersion::V3, EioVersion::V4];

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
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move { a.post("/echo", &json!({ "i": i })).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap().body_json().unwrap()["body"], json!({ "i": i }), "{eio:?}");
    }

    // A broadcast reaches the other polling socket through its long poll.
    b.post("/rooms/poll/join", &json!({})).await.unwrap().error_for_status().unwrap();
    a.post("/rooms/poll/say", &json!({"text": "via polling"})).await.unwrap().error_for_status().unwrap();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), b_events.next()).await.unwrap().unwrap();
        if let SocketEvent::Server(e) = e {
            if e.name == "said" {
                assert_eq!(e.json_value(), json!({"room": "poll", "text": "via polling"}), "{eio:?}");
                break;
            }
        }
    }

    let big = "p".repeat(1_000_000);
    let echoed = a.post("/echo", &json!({ "big": big })).await.unwrap_or_else(|e| panic!("{eio:?}: {e}"));
    assert_eq!(echoed.body_json().unwrap()["body"]["big"].as_str().map(str::len), Some(1_000_000), "{eio:?}");

    // Heartbeats over polling keep the connection (ping interval 300 ms, timeout 2 s in these tests: a
    // 1 MB round trip through debug builds can take longer than a 300 ms ping timeout).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(a.is_connected(), "{eio:?}: still connected after several heartbeats");
    assert_eq!(a.get("/hello").await.unwrap().status_code, 200);

    a.disconnect().await.unwrap();
    b.disconnect().await.unwrap();
    assert!(!a.is_connected());
}

#[tokio::test]
async fn long_polling_against_real_sails() {
    let app = RealSails::start(
        0,
        &[("SAILS_TRANSPORTS", "polling,websocket"), ("SAILS_PING_INTERVAL", "300"), ("SAILS_PING_TIMEOUT", "2000")],
    );
    for eio in GENERATIONS {
        exercise(&app.url, eio).await;
    }
}

#[tokio::test]
async fn long_polling_against_the_stub() {
    let server = sails_io_stub::Builder::new()
        .host("127.0.0.1")
        .port(0)
        .transports(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket])
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(2000))
        .app(sails_io_stub::demo::router())
        .start()
        .await
        .unwrap();
    for eio in GENERATIONS {
        exercise(&server.url(), eio).await;
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
