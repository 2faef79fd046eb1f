//! The native client (`sails-io`) against the server-stub started in-process, over both protocol
//! generations: every client feature of issue 3 that the conformance app can show.
//!
//! The stub stands on socketioxide, an independent Socket.IO implementation, so these tests are a real
//! cross-check of the client's protocol code. The same features against the real Sails app are covered by
//! the differential suite (`tests/interop/run-conformance.sh`).

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use futures_util::StreamExt;
use sails_io::{
    DisconnectReason, EioVersion, Error, Method, ModelEvent, Payload, Reconnection, Request, SailsSocket, ServerEvent,
    SocketEvent,
};
use sails_io_stub::{Builder, RunningServer, SocketRequest};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(5);

async fn start() -> RunningServer {
    start_with(Builder::new()).await
}

async fn start_with(builder: Builder) -> RunningServer {
    builder.host("127.0.0.1").port(0).app(app()).start().await.expect("the stub starts")
}

/// The conformance app plus `POST /kick`, which disconnects the requesting socket server-side
/// (`socket.disconnect(true)` in Sails).
fn app() -> axum::Router {
    async fn kick(req: axum::Extension<SocketRequest>) -> &'static str {
        let socket = req.socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = socket.disconnect();
        });
        "bye"
    }
    sails_io_stub::demo::router().route("/kick", post(kick))
}

async fn connect(server: &RunningServer, eio: EioVersion) -> SailsSocket {
    SailsSocket::builder(server.url()).protocol(eio).connect().await.expect("connects")
}

async fn next_server_event(events: &mut sails_io::EventStream, name: &str) -> Value {
    next_server_event_with_ack(events, name).await.json_value()
}

/// The next server event named `name`, whole (so that it can be acknowledged).
async fn next_server_event_with_ack(events: &mut sails_io::EventStream, name: &str) -> ServerEvent {
    loop {
        let event = tokio::time::timeout(T, events.next()).await.expect("event in time").expect("stream open");
        if let SocketEvent::Server(e) = event {
            if e.name == name {
                return e;
            }
        }
    }
}

#[tokio::test]
async fn requests_every_verb_and_status_over_both_generations() {
    let server = start().await;
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket =
            SailsSocket::builder(server.url()).protocol(eio).header("x-test", "socket-level").connect().await.unwrap();
        let hello = socket.get("/hello").await.unwrap();
        assert_eq!(hello.to_json(), json!({"body": {"hello": "world"}, "headers": {}, "statusCode": 200}));

        // The id the client reports is the one the server knows it by.
        let me = socket.get("/me/id").await.unwrap();
        assert_eq!(me.body_json().unwrap()["id"], json!(socket.id().unwrap()), "{eio:?}");

        for method in Method::ALL {
            let req = Request::new(method, "/echo?x=1").data(json!({"d": 2})).header("x-test", "per-request");
            let jwr = socket.request(req).await.unwrap();
            if method == Method::Head {
                continue; // HEAD is answered by the GET route; its body is checked by the interop suite
            }
            let body = jwr.body_json().unwrap_or_else(|| panic!("{method}: {:?}", jwr.body));
            if method == Method::Options {
                continue;
            }
            assert_eq!(body["method"], json!(method.as_str().to_uppercase()));
            assert_eq!(body["query"], json!({"x": "1"}));
            assert_eq!(body["headers"]["x-test"], json!("per-request"), "per-request headers win");
            assert_eq!(body["isSocket"], json!(true));
        }
        let echo = socket.get("/echo").await.unwrap();
        assert_eq!(echo.body_json().unwrap()["headers"]["x-test"], json!("socket-level"));

        for code in [201u16, 302, 400, 404, 500] {
            let jwr = socket.get(&format!("/status/{code}")).await.unwrap();
            assert_eq!(jwr.status_code, code);
            assert_eq!(jwr.is_error(), code >= 400);
        }
        let text = socket.get("/text").await.unwrap();
        assert_eq!(text.body_json(), Some(&json!("plain text")));
        let redirect = socket.get("/redirect").await.unwrap();
        assert_eq!((redirect.status_code, redirect.header("location")), (302, Some("/hello")));
        let missing = socket.get("/no/such/route").await.unwrap();
        assert_eq!((missing.status_code, missing.body_json()), (404, Some(&json!("Not Found"))));
        assert!(matches!(missing.error_for_status(), Err(Error::Status(_))));
        let thrown = socket.get("/error").await.unwrap();
        assert_eq!(thrown.status_code, 500);

        // An empty url is a parse error on the server: a typed error, never a fake 200.
        match socket.get("").await {
            Err(Error::Server(e)) => assert!(e.details.contains("No url provided"), "{e:?}"),
            other => panic!("{other:?}"),
        }
        // Unsupported verbs are refused before anything is sent.
        assert!(matches!("purge".parse::<Method>(), Err(Error::InvalidRequest(_))));

        // Large bodies both ways.
        let big = "x".repeat(1_000_000);
        let jwr = socket.post("/echo", &json!({ "big": big })).await.unwrap();
        assert_eq!(jwr.body_json().unwrap()["body"]["big"].as_str().map(str::len), Some(1_000_000));
        socket.disconnect().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn binary_request_data_reaches_the_action_as_a_buffer() {
    let server = start().await;
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket = connect(&server, eio).await;
        let data = Payload::Object(vec![
            ("name".into(), Payload::Json(json!("logo.png"))),
            ("file".into(), Payload::Binary(vec![0x89, 0x50, 0x4e, 0x47])),
            ("parts".into(), Payload::Array(vec![Payload::Binary(vec![1]), Payload::Json(json!(2))])),
        ]);
        let jwr = socket.request(Request::new(Method::Post, "/echo").data(data)).await.unwrap();
        // Sails hands an action each attachment as an array of its bytes (lodash's `_.merge` of the data).
        assert_eq!(
            jwr.body_json().unwrap()["body"],
            json!({"name": "logo.png", "file": [0x89, 0x50, 0x4e, 0x47], "parts": [[1], 2]}),
            "{eio:?}"
        );
        socket.disconnect().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn http_login_and_socket_share_one_session_through_the_cookie_jar() {
    // reqwest here shares the client's rustls build, which brings no default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = start().await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap();
    let login = http
        .post(format!("{}/login", server.url()))
        .header("content-type", "application/json")
        .body(r#"{"userId":"u-http"}"#)
        .send()
        .await
        .unwrap();
    let login: Value = serde_json::from_str(&login.text().await.unwrap()).unwrap();
    assert_eq!(login["userId"], json!("u-http"));
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket = SailsSocket::builder(server.url()).protocol(eio).cookie_jar(jar.clone()).connect().await.unwrap();
        let who = socket.get("/whoami").await.unwrap();
        assert_eq!(who.body_json(), Some(&json!({"userId": "u-http"})), "{eio:?}");
        let secret = socket.get("/secret").await.unwrap();
        assert_eq!(secret.status_code, 200);
        socket.disconnect().await.unwrap();
    }

    // The other way: /__getcookie fills a fresh jar, a login over the socket shows over HTTP.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let socket = SailsSocket::builder(server.url()).get_cookie(true).cookie_jar(jar.clone()).connect().await.unwrap();
    let login = socket.post("/login", &json!({"userId": "u-socket"})).await.unwrap();
    assert_eq!(login.status_code, 200);
    let http = reqwest::Client::builder().cookie_provider(jar).build().unwrap();
    let who = http.get(format!("{}/whoami", server.url())).send().await.unwrap().text().await.unwrap();
    let who: Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who, json!({"userId": "u-socket"}));

    // Without a cookie the socket gets its own session: the secret stays secret.
    let anonymous = connect(&server, EioVersion::V3).await;
    assert_eq!(anonymous.get("/secret").await.unwrap().status_code, 403);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_event_asking_for_an_ack_is_answered() {
    let server = start().await;
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket = connect(&server, eio).await;
        let mut events = socket.events();
        // POST /ask sends this socket `question` with an ack and answers with the ack's arguments.
        let asked = tokio::spawn({
            let socket = socket.clone();
            async move { socket.post("/ask", &json!({"q": 1})).await }
        });
        let question = next_server_event_with_ack(&mut events, "question").await;
        assert_eq!(question.json_value(), json!({"q": 1}));
        question.ack(vec![Payload::Json(json!({"got": 1})), Payload::Json(json!("two"))]).unwrap();
        let jwr = asked.await.unwrap().unwrap();
        assert_eq!(jwr.body_json().unwrap(), &json!({"answer": [{"got": 1}, "two"]}), "{eio:?}");

        // Binary arguments come back as binary, as real Sails sends back the Buffers it was acked with.
        let asked = tokio::spawn({
            let socket = socket.clone();
            async move { socket.post("/ask", &json!({"q": 2})).await }
        });
        let question = next_server_event_with_ack(&mut events, "question").await;
        let file = Payload::Object(vec![("file".into(), Payload::Binary(vec![0, 1, 255]))]);
        question.ack(vec![file, Payload::Binary(vec![7])]).unwrap();
        let jwr = asked.await.unwrap().unwrap();
        let answer = Payload::Object(vec![(
            "answer".into(),
            Payload::Array(vec![
                Payload::Object(vec![("file".into(), Payload::Binary(vec![0, 1, 255]))]),
                Payload::Binary(vec![7]),
            ]),
        )]);
        assert_eq!(jwr.body, Some(answer), "{eio:?}");
        assert_eq!(jwr.status_code, 200);
        socket.disconnect().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_blast_and_pubsub_across_sockets() {
    let server = start().await;
    let a = connect(&server, EioVersion::V3).await;
    let b = connect(&server, EioVersion::V4).await;
    let c = connect(&server, EioVersion::V3).await;
    let (mut a_events, mut b_events, mut c_events) = (a.events(), b.events(), c.events());

    for s in [&a, &b] {
        s.post("/rooms/lobby/join", &json!({})).await.unwrap().error_for_status().unwrap();
    }
    a.post("/rooms/lobby/say", &json!({"text": "hi"})).await.unwrap();
    assert_eq!(next_server_event(&mut b_events, "said").await, json!({"room": "lobby", "text": "hi"}));

    c.post("/blast", &json!({"all": true})).await.unwrap();
    for events in [&mut a_events, &mut b_events, &mut c_events] {
        assert_eq!(next_server_event(events, "announcement").await, json!({"all": true}));
    }

    // Pubsub: a and b watch pets (blueprint find), c creates, updates and destroys one.
    let pets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = pets.clone();
    a.on_json::<ModelEvent>("pet", move |e| seen.lock().unwrap().push(e.unwrap()));
    for s in [&a, &b] {
        s.get("/pet").await.unwrap().error_for_status().unwrap();
    }
    let created = c.post("/pet", &json!({"name": "Rex"})).await.unwrap().error_for_status().unwrap();
    let id = created.body_json().unwrap()["id"].clone();
    let event = next_server_event(&mut b_events, "pet").await;
    assert_eq!((event["verb"].clone(), event["id"].clone()), (json!("created"), id.clone()));
    c.patch(&format!("/pet/{id}"), &json!({"species": "wolf"})).await.unwrap().error_for_status().unwrap();
    let event = next_server_event(&mut b_events, "pet").await;
    assert_eq!(event["verb"], json!("updated"));
    assert_eq!(event["data"]["species"], json!("wolf"));
    assert_eq!(event["previous"]["species"], json!("dog"));
    c.delete(&format!("/pet/{id}")).await.unwrap().error_for_status().unwrap();
    let event = next_server_event(&mut b_events, "pet").await;
    assert_eq!(event["verb"], json!("destroyed"));
    let verbs: Vec<String> = pets.lock().unwrap().iter().map(|e| e.verb.clone()).collect();
    assert_eq!(verbs, ["created", "updated", "destroyed"]);
    server.shutdown().await;
}

#[tokio::test]
async fn before_connect_rejection_is_a_typed_handshake_error() {
    let server = start_with(Builder::new().before_connect(|_| Err(Some("go away".to_owned())))).await;
    match SailsSocket::connect_to(server.url()).await {
        Err(Error::Handshake { status, body }) => {
            assert_eq!(status, 400, "a WebSocket upgrade is always rejected with 400");
            assert!(body.contains("go away"), "{body}");
        }
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn server_side_disconnect_stops_reconnection() {
    let server = start().await;
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket = SailsSocket::builder(server.url()).protocol(eio).reconnection(true).connect().await.unwrap();
        let mut events = socket.events();
        socket.post("/kick", &json!({})).await.unwrap();
        loop {
            match tokio::time::timeout(T, events.next()).await.unwrap().unwrap() {
                SocketEvent::Disconnected { reason } => {
                    assert_eq!(reason, DisconnectReason::ServerDisconnect, "{eio:?}");
                    break;
                }
                other => assert!(other.as_server().is_some(), "unexpected {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert!(!socket.is_connected() && !socket.is_connecting(), "{eio:?}: no automatic reconnection");
    }
    server.shutdown().await;
}

/// Runs a stub on its own runtime thread, so dropping that runtime kills it abruptly (TCP closed, no `41`),
/// as a crashed or restarted server would.
struct CrashableStub {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CrashableStub {
    fn start(port: u16) -> (CrashableStub, String) {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            let server = rt.block_on(Builder::new().host("127.0.0.1").port(port).app(app()).start()).unwrap();
            url_tx.send(server.url()).unwrap();
            let _ = stop_rx.recv();
            std::mem::forget(server); // no graceful shutdown: the runtime is dropped with everything in it
            rt.shutdown_timeout(Duration::from_millis(10));
        });
        let url = url_rx.recv().unwrap();
        (CrashableStub { stop: Some(stop), thread: Some(thread) }, url)
    }

    fn crash(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

#[tokio::test]
async fn server_restart_fails_in_flight_and_delivers_queued_once() {
    let (stub, url) = CrashableStub::start(0);
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let policy = Reconnection {
        enabled: true,
        delay: Duration::from_millis(100),
        delay_max: Duration::from_millis(300),
        ..Reconnection::default()
    };
    let socket = SailsSocket::builder(&url).reconnection_policy(policy).connect().await.unwrap();
    let mut events = socket.events();
    // A request racing the crash ends either way: answered, or failed with the typed error.
    let in_flight = {
        let s = socket.clone();
        tokio::spawn(async move { s.post("/echo", &json!({"n": 1})).await })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    stub.crash();
    let first = in_flight.await.unwrap();
    assert!(matches!(first, Ok(_) | Err(Error::Disconnected)), "{first:?}");
    loop {
        let e = tokio::time::timeout(T, events.next()).await.unwrap().unwrap();
        if let SocketEvent::Disconnected { reason } = e {
            assert_eq!(reason, DisconnectReason::TransportClose);
            break;
        }
    }
    // Requests made while the server is down wait for the reconnection.
    let queued: Vec<_> = (0..3)
        .map(|i| {
            let s = socket.clone();
            tokio::spawn(async move { s.post("/echo", &json!({ "queued": i })).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (stub, _) = CrashableStub::start(port);
    for (i, q) in queued.into_iter().enumerate() {
        let jwr = tokio::time::timeout(T, q).await.unwrap().unwrap().unwrap();
        assert_eq!(jwr.body_json().unwrap()["body"], json!({ "queued": i }));
    }
    let mut names = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        names.push(e.name().to_owned());
    }
    assert!(names.iter().any(|n| n == "reconnect") && names.last().map(String::as_str) == Some("connect"), "{names:?}");
    stub.crash();
}
