//! The tokio driver against a local tokio-tungstenite server that scripts its frames: handshakes, requests,
//! events and acks, HTTP rejection, server `41`, abrupt TCP close, ping timeout, reconnection, drop.

// tungstenite's handshake callback must return its large `ErrorResponse`; nothing to shrink here.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sails_io::{DisconnectReason, EioVersion, Error, Method, Payload, Request, SailsSocket, SocketEvent};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as HsRequest, Response as HsResponse};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

const OPEN: &str =
    r#"0{"sid":"ENGINESID","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}"#;

/// A server whose every connection runs `script`; it reports each handshake's URI and cookie header.
struct Server {
    url: String,
    handshakes: mpsc::UnboundedReceiver<(String, Option<String>)>,
}

async fn serve<F, Fut>(script: F) -> Server
where
    F: Fn(Ws, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, handshakes) = mpsc::unbounded_channel();
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = Arc::new(Mutex::new(None));
            let seen2 = seen.clone();
            let callback = move |req: &HsRequest, resp: HsResponse| {
                let cookie = req.headers().get("cookie").map(|v| v.to_str().unwrap().to_owned());
                *seen2.lock().unwrap() = Some((req.uri().to_string(), cookie));
                Ok::<_, ErrorResponse>(resp)
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else { continue };
            let _ = tx.send(seen.lock().unwrap().take().unwrap());
            tokio::spawn(script(ws, n));
            n += 1;
        }
    });
    Server { url, handshakes }
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.unwrap();
}

async fn recv_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Answers every request with a JWR echoing its ack id and url.
async fn echo_requests(ws: &mut Ws) {
    while let Some(text) = recv_text(ws).await {
        if let Some(rest) = text.strip_prefix("42") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let payload: serde_json::Value = serde_json::from_str(&rest[digits.len()..]).unwrap();
            let url = payload[1]["url"].clone();
            let reply =
                json!([{"body": {"url": url, "headers": payload[1]["headers"]}, "headers": {}, "statusCode": 200}]);
            send(ws, &format!("43{digits}{reply}")).await;
        }
    }
}

async fn eio3_handshake(ws: &mut Ws) {
    send(ws, OPEN).await;
    send(ws, "40").await;
}

#[tokio::test]
async fn eio3_connect_request_and_handshake_url() {
    let mut server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        echo_requests(&mut ws).await;
    })
    .await;
    let socket = SailsSocket::builder(&server.url).query("nosession=true").header("x-g", "1").connect().await.unwrap();
    let (uri, _) = server.handshakes.recv().await.unwrap();
    assert_eq!(
        uri,
        "/socket.io/?nosession=true&__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=native&__sails_io_sdk_language=rust&EIO=3&transport=websocket"
    );
    assert!(socket.is_connected());
    assert_eq!(socket.id().as_deref(), Some("ENGINESID"));
    let jwr = socket.get("/hello").await.unwrap();
    assert_eq!(jwr.body_json(), Some(&json!({"url": "/hello", "headers": {"x-g": "1"}})));
    // Many requests in flight at once from clones of one socket.
    let calls = (0..50).map(|i| {
        let s = socket.clone();
        async move { s.request(Request::new(Method::Post, format!("/n/{i}"))).await.unwrap() }
    });
    let all = futures_util::future::join_all(calls).await;
    for (i, jwr) in all.iter().enumerate() {
        assert_eq!(jwr.body_json().unwrap()["url"], json!(format!("/n/{i}")));
    }
}

/// Dropping a request's future cancels it: queued before the connection came up, it is never sent; sent
/// already, its late answer is dropped and the socket carries on.
#[tokio::test]
async fn dropping_a_request_future_cancels_the_request() {
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<String>();
    let server = serve(move |mut ws, _| {
        let frames_tx = frames_tx.clone();
        async move {
            // A slow handshake, so that the first requests wait in the queue.
            tokio::time::sleep(Duration::from_millis(300)).await;
            eio3_handshake(&mut ws).await;
            while let Some(text) = recv_text(&mut ws).await {
                let _ = frames_tx.send(text.clone());
                let Some(rest) = text.strip_prefix("42") else { continue };
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if rest.contains("/slow") {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                send(&mut ws, &format!(r#"43{digits}[{{"body":"ok","headers":{{}},"statusCode":200}}]"#)).await;
            }
        }
    })
    .await;
    let socket = SailsSocket::builder(&server.url).build().unwrap();
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move { socket.connect().await }
    });
    let short = Duration::from_millis(50);
    assert!(tokio::time::timeout(short, socket.post("/dropped", &json!({"n": 1}))).await.is_err());
    let kept = socket.get("/kept").await.unwrap();
    assert_eq!(kept.status_code, 200);
    connecting.await.unwrap().unwrap();
    assert!(tokio::time::timeout(short, socket.get("/slow")).await.is_err());
    // The late answer to /slow arrives meanwhile and is dropped; the socket works on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(socket.get("/after").await.unwrap().status_code, 200);
    let mut seen = Vec::new();
    while let Ok(text) = frames.try_recv() {
        seen.push(text);
    }
    let urls: Vec<&str> = ["/dropped", "/kept", "/slow", "/after"]
        .into_iter()
        .filter(|url| seen.iter().any(|f| f.contains(&format!(r#""url":"{url}""#))))
        .collect();
    assert_eq!(urls, ["/kept", "/slow", "/after"], "{seen:?}");
}

#[tokio::test]
async fn eio4_takes_the_socket_id_from_the_connect_reply() {
    let server = serve(|mut ws, _| async move {
        send(&mut ws, OPEN).await;
        assert_eq!(recv_text(&mut ws).await.as_deref(), Some("40"));
        send(&mut ws, r#"40{"sid":"SOCKETID"}"#).await;
        echo_requests(&mut ws).await;
    })
    .await;
    let socket = SailsSocket::builder(&server.url).protocol(EioVersion::V4).connect().await.unwrap();
    assert_eq!(socket.id().as_deref(), Some("SOCKETID"));
    assert_eq!(socket.get("/x").await.unwrap().status_code, 200);
}

#[tokio::test]
async fn http_rejection_is_a_typed_handshake_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let reject = |_: &HsRequest, _: HsResponse| {
            let mut resp = ErrorResponse::new(Some("Forbidden".to_owned()));
            *resp.status_mut() = http::StatusCode::BAD_REQUEST;
            Err(resp)
        };
        let _ = tokio_tungstenite::accept_hdr_async(tcp, reject).await;
    });
    match SailsSocket::connect_to(&url).await {
        Err(Error::Handshake { status, body }) => {
            assert_eq!(status, 400);
            assert_eq!(body, "Forbidden");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refused_tcp_connection_is_a_transport_error() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let err = SailsSocket::connect_to(format!("http://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    let err = SailsSocket::connect_to("not a url").await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn a_failed_connect_ends_the_queued_requests_with_its_error() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    // With reconnection on or off, connect() fails fast and does not retry, so nothing would ever send
    // what was queued before it: those requests end with the connect error.
    for reconnection in [false, true] {
        let socket =
            SailsSocket::builder(format!("http://127.0.0.1:{port}")).reconnection(reconnection).build().unwrap();
        let queued = {
            let s = socket.clone();
            tokio::spawn(async move { s.post("/login", &json!({ "userId": "never" })).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = socket.connect().await.unwrap_err();
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        let queued = tokio::time::timeout(Duration::from_secs(5), queued).await.expect("the request ended").unwrap();
        assert_eq!(queued.unwrap_err(), err, "reconnection {reconnection}");
        assert!(!socket.is_connecting());
    }
}

#[tokio::test]
async fn unresolvable_host_is_a_dns_error() {
    // `.invalid` never resolves (RFC 6761).
    let err = SailsSocket::connect_to("http://sails-io-test.invalid:1337").await.unwrap_err();
    assert!(matches!(&err, Error::Dns(m) if m.contains("sails-io-test.invalid")), "{err:?}");
    let err = SailsSocket::builder("http://sails-io-test.invalid:1337").get_cookie(true).connect().await.unwrap_err();
    assert!(matches!(err, Error::Dns(_)), "{err:?}");
}

#[tokio::test]
async fn connect_timeout_when_the_server_never_connects() {
    let server = serve(|mut ws, _| async move {
        send(&mut ws, OPEN).await; // never sends `40`
        while recv_text(&mut ws).await.is_some() {}
    })
    .await;
    let started = std::time::Instant::now();
    let err = SailsSocket::builder(&server.url).timeout(Duration::from_millis(300)).connect().await.unwrap_err();
    assert_eq!(err, Error::Timeout("connecting"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn server_41_disconnects_without_reconnecting() {
    let mut server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        send(&mut ws, "41").await;
        let _ = ws.close(None).await;
    })
    .await;
    let socket = SailsSocket::builder(&server.url).reconnection(true).build().unwrap();
    let mut events = socket.events();
    socket.connect().await.unwrap();
    server.handshakes.recv().await.unwrap();
    loop {
        match events.next().await.unwrap() {
            SocketEvent::Disconnected { reason } => {
                assert_eq!(reason, DisconnectReason::ServerDisconnect);
                break;
            }
            SocketEvent::Connected { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(server.handshakes.try_recv().is_err(), "no reconnection after the server's 41");
    assert!(!socket.is_connected());
}

#[tokio::test]
async fn abrupt_close_fails_in_flight_and_reconnect_delivers_the_queue() {
    let mut server = serve(|mut ws, n| async move {
        eio3_handshake(&mut ws).await;
        if n == 0 {
            // Read the first request and drop the TCP connection without answering.
            let _ = recv_text(&mut ws).await;
            drop(ws);
        } else {
            echo_requests(&mut ws).await;
        }
    })
    .await;
    let policy = sails_io::Reconnection {
        enabled: true,
        delay: Duration::from_millis(50),
        delay_max: Duration::from_millis(100),
        ..Default::default()
    };
    let socket = SailsSocket::builder(&server.url).reconnection_policy(policy).connect().await.unwrap();
    let mut events = socket.events();
    assert_eq!(socket.get("/lost").await.unwrap_err(), Error::Disconnected);
    // Requested while the connection is down: queued, then sent once after the reconnect.
    let queued = socket.get("/queued").await.unwrap();
    assert_eq!(queued.body_json().unwrap()["url"], json!("/queued"));
    let mut names = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await {
        names.push(e.name().to_owned());
    }
    assert_eq!(names, ["disconnect", "reconnecting", "reconnect", "connect"]);
    assert!(server.handshakes.recv().await.is_some() && server.handshakes.recv().await.is_some(), "two handshakes");
}

#[tokio::test]
async fn dead_server_is_detected_by_the_heartbeat() {
    let server = serve(|mut ws, _| async move {
        send(&mut ws, r#"0{"sid":"S","upgrades":[],"pingInterval":100,"pingTimeout":100}"#).await;
        send(&mut ws, "40").await;
        // Reads pings but never answers.
        while recv_text(&mut ws).await.is_some() {}
    })
    .await;
    let socket = SailsSocket::builder(&server.url).build().unwrap();
    let mut events = socket.events();
    socket.connect().await.unwrap();
    let started = std::time::Instant::now();
    let pending = socket.clone();
    let request = tokio::spawn(async move { pending.get("/never").await });
    loop {
        if let SocketEvent::Disconnected { reason } = events.next().await.unwrap() {
            assert_eq!(reason, DisconnectReason::PingTimeout);
            break;
        }
    }
    assert!(started.elapsed() < Duration::from_millis(1000), "{:?}", started.elapsed());
    assert_eq!(request.await.unwrap().unwrap_err(), Error::Disconnected);
}

#[tokio::test]
async fn server_events_handlers_streams_and_acks() {
    let (acks_tx, mut acks) = mpsc::unbounded_channel();
    let server = serve(move |mut ws, _| {
        let acks_tx = acks_tx.clone();
        async move {
            eio3_handshake(&mut ws).await;
            send(&mut ws, r#"42["message",{"greeting":"hi"}]"#).await;
            send(&mut ws, r#"42["pet",{"verb":"created","data":{"name":"Rex","id":1},"id":1}]"#).await;
            send(&mut ws, r#"451-["bin",{"_placeholder":true,"num":0}]"#).await;
            ws.send(Message::binary(vec![4u8, 0xde, 0xad])).await.unwrap();
            send(&mut ws, r#"427["question",{"q":1}]"#).await;
            while let Some(t) = recv_text(&mut ws).await {
                let _ = acks_tx.send(t);
            }
        }
    })
    .await;
    let socket = SailsSocket::builder(&server.url).build().unwrap();
    let greetings = Arc::new(Mutex::new(Vec::new()));
    let g = greetings.clone();
    socket.on("message", move |e| g.lock().unwrap().push(e.as_server().unwrap().json_value()));
    let pets = Arc::new(Mutex::new(Vec::new()));
    let p = pets.clone();
    socket.on_json::<sails_io::ModelEvent>("pet", move |e| p.lock().unwrap().push(e.unwrap()));
    let removed = socket.on("message", |_| panic!("removed handlers are not called"));
    assert!(socket.off(removed));
    let mut events = socket.events();
    socket.connect().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let e = events.next().await.unwrap();
        if let SocketEvent::Server(server_event) = &e {
            if server_event.name == "question" {
                assert!(server_event.wants_ack());
                server_event.ack(vec![json!({"answer": 42}).into()]).unwrap();
                assert!(server_event.ack(vec![]).is_err(), "only one answer");
            }
            if server_event.name == "bin" {
                assert_eq!(server_event.data(), Some(&Payload::Binary(vec![0xde, 0xad])));
            }
        }
        seen.push(e.name().to_owned());
    }
    assert_eq!(seen, ["connect", "message", "pet", "bin", "question"]);
    assert_eq!(acks.recv().await.unwrap(), r#"437[{"answer":42}]"#);
    assert_eq!(*greetings.lock().unwrap(), [json!({"greeting": "hi"})]);
    let pets = pets.lock().unwrap();
    assert_eq!(pets[0].verb, "created");
    assert_eq!(pets[0].data, Some(json!({"name": "Rex", "id": 1})));
}

#[tokio::test]
async fn dropping_the_last_handle_disconnects() {
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let server = serve(move |mut ws, _| {
        let closed_tx = closed_tx.clone();
        async move {
            eio3_handshake(&mut ws).await;
            let mut frames = Vec::new();
            while let Some(t) = recv_text(&mut ws).await {
                frames.push(t);
            }
            let _ = closed_tx.send(frames);
        }
    })
    .await;
    let socket = SailsSocket::connect_to(&server.url).await.unwrap();
    let clone = socket.clone();
    drop(socket);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(clone.is_connected(), "a clone keeps the connection");
    drop(clone);
    let frames = tokio::time::timeout(Duration::from_secs(5), closed.recv()).await.unwrap().unwrap();
    assert_eq!(frames, ["41"]);
}

#[tokio::test]
async fn disconnect_then_reconnect_with_queued_request() {
    let mut server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        echo_requests(&mut ws).await;
    })
    .await;
    let socket = SailsSocket::connect_to(&server.url).await.unwrap();
    socket.disconnect().await.unwrap();
    assert!(!socket.is_connected());
    let queued = {
        let s = socket.clone();
        tokio::spawn(async move { s.get("/after").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    socket.connect().await.unwrap();
    assert_eq!(queued.await.unwrap().unwrap().body_json().unwrap()["url"], json!("/after"));
    assert!(server.handshakes.recv().await.is_some() && server.handshakes.recv().await.is_some());
}

#[tokio::test]
async fn request_timeout_ends_requests_the_server_ignores() {
    let server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        while recv_text(&mut ws).await.is_some() {}
    })
    .await;
    let socket =
        SailsSocket::builder(&server.url).request_timeout(Some(Duration::from_millis(100))).connect().await.unwrap();
    assert!(matches!(socket.get("/ignored").await, Err(Error::Timeout(_))));
    let own = Request::new(Method::Get, "/own").timeout(Duration::from_millis(50));
    assert!(matches!(socket.request(own).await, Err(Error::Timeout(_))));
}

#[tokio::test]
async fn cookie_jar_cookie_goes_on_the_handshake() {
    let mut server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        while recv_text(&mut ws).await.is_some() {}
    })
    .await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str("sails.sid=s%3Aabc.sig; Path=/", &server.url.parse().unwrap());
    let _socket = SailsSocket::builder(&server.url).cookie_jar(jar).connect().await.unwrap();
    let (_, cookie) = server.handshakes.recv().await.unwrap();
    assert_eq!(cookie.as_deref(), Some("sails.sid=s%3Aabc.sig"));
    let _explicit = SailsSocket::builder(&server.url)
        .initial_connection_header("cookie", "sails.sid=explicit")
        .connect()
        .await
        .unwrap();
    let (_, cookie) = server.handshakes.recv().await.unwrap();
    assert_eq!(cookie.as_deref(), Some("sails.sid=explicit"));
}

/// `disconnect()` resolving means the socket is disconnected: `is_connected()` must already say so (the
/// conformance runner checks it right after, as sails.io.js code checks `isConnected()` after the
/// `disconnect` event). On a multi-threaded runtime the caller used to wake up before the driver had
/// published the new status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_connected_is_false_as_soon_as_disconnect_resolves() {
    let server = serve(|mut ws, _| async move {
        eio3_handshake(&mut ws).await;
        echo_requests(&mut ws).await;
    })
    .await;
    let socket = SailsSocket::connect_to(&server.url).await.unwrap();
    for round in 0..20 {
        assert!(socket.is_connected(), "round {round}: connected after connect()");
        socket.disconnect().await.unwrap();
        assert!(!socket.is_connected(), "round {round}: still connected after disconnect() resolved");
        assert!(!socket.is_connecting(), "round {round}: connecting after disconnect() resolved");
        socket.connect().await.unwrap();
    }
}
