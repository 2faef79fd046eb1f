//! Fault tests of the native client against the real Sails app (`tests/interop/sails-app`, a node process)
//! and against the server-stub, over both protocol generations:
//! - the server is killed with requests in flight and restarted while more are queued: in-flight
//!   requests end with `Error::Disconnected`, queued ones are delivered exactly once after the
//!   automatic reconnection (the server counts deliveries), none hangs; on a WebSocket, and with
//!   long-polling upgraded to a WebSocket (`[Polling, Websocket]`), where the reconnection upgrades again;
//! - the server freezes (SIGSTOP; a blocked runtime for the stub): the heartbeat detects it within
//!   `pingInterval + pingTimeout`;
//! - the server disconnects the socket (`socket.disconnect(true)`): no automatic reconnection;
//! - `beforeConnect` refuses the handshake: a typed `Error::Handshake` with the HTTP status.
//!
//! The real app needs node and npm (its packages install from the committed lockfile on first use).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use futures_util::StreamExt;
use sails_io::{DisconnectReason, EioVersion, Error, EventStream, Reconnection, SailsSocket, SocketEvent, Transport};
use serde_json::json;

use common::RealSails;

const T: Duration = Duration::from_secs(10);
const GENERATIONS: [EioVersion; 2] = [EioVersion::V3, EioVersion::V4];

/// The server-stub on its own single-threaded runtime thread, so it can be frozen (the thread blocks)
/// or crashed (the runtime is dropped with every connection in it).
struct Stub {
    commands: std::sync::mpsc::Sender<StubCommand>,
    thread: Option<std::thread::JoinHandle<()>>,
    url: String,
    port: u16,
}

enum StubCommand {
    Freeze(Duration),
    Crash,
}

impl Stub {
    fn start(port: u16, ping: Option<Duration>, reject: Option<&str>) -> Stub {
        Stub::start_with(port, ping, reject, &[sails_io_stub::Transport::Websocket])
    }

    fn start_with(
        port: u16,
        ping: Option<Duration>,
        reject: Option<&str>,
        transports: &[sails_io_stub::Transport],
    ) -> Stub {
        let transports = transports.to_vec();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (commands, rx) = std::sync::mpsc::channel::<StubCommand>();
        let reject = reject.map(str::to_owned);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut builder =
                sails_io_stub::Builder::new().host("127.0.0.1").port(port).transports(&transports).app(fault_app());
            if let Some(ping) = ping {
                builder = builder.ping_interval(ping).ping_timeout(ping);
            }
            if let Some(message) = reject {
                builder = builder.before_connect(move |_| Err(Some(message.clone())));
            }
            let server = rt.block_on(builder.start()).unwrap();
            url_tx.send(server.url()).unwrap();
            // Serve until told otherwise; a freeze blocks this thread and with it the whole runtime.
            loop {
                let command = rt.block_on(async {
                    loop {
                        match rx.try_recv() {
                            Ok(c) => return c,
                            Err(std::sync::mpsc::TryRecvError::Empty) => {
                                tokio::time::sleep(Duration::from_millis(10)).await
                            }
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => return StubCommand::Crash,
                        }
                    }
                });
                match command {
                    StubCommand::Freeze(d) => std::thread::sleep(d),
                    StubCommand::Crash => break,
                }
            }
            std::mem::forget(server);
            rt.shutdown_timeout(Duration::from_millis(10));
        });
        let url = url_rx.recv().unwrap();
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Stub { commands, thread: Some(thread), url, port }
    }

    fn freeze(&self, d: Duration) {
        self.commands.send(StubCommand::Freeze(d)).unwrap();
    }

    fn crash(mut self) {
        let _ = self.commands.send(StubCommand::Crash);
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.commands.send(StubCommand::Crash);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The conformance app plus the fault routes of the real app (`FaultController.js`).
fn fault_app() -> axum::Router {
    use axum::extract::Query;
    use axum::{Extension, Json};
    use sails_io_stub::SocketRequest;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    type Counts = Arc<Mutex<BTreeMap<String, u64>>>;
    let counts: Counts = Arc::default();
    let c1 = counts.clone();
    sails_io_stub::demo::router()
        .route(
            "/kick",
            post(|req: Extension<SocketRequest>| async move {
                let socket = req.socket.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = socket.disconnect();
                });
                Json(json!({"kicked": true}))
            }),
        )
        .route(
            "/slow",
            get(|q: Query<BTreeMap<String, String>>| async move {
                let ms = q.get("ms").and_then(|m| m.parse().ok()).unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Json(json!({"slept": ms}))
            }),
        )
        .route(
            "/count",
            post(move |req: sails_io_stub::SailsReq| async move {
                let key = req.param("key").and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
                let mut counts = c1.lock().unwrap();
                let n = counts.entry(key.clone()).or_default();
                *n += 1;
                Json(json!({"key": key, "count": *n}))
            }),
        )
        .route("/counts", get(move || async move { Json(json!(*counts.lock().unwrap())) }))
}

fn fast_reconnection() -> Reconnection {
    Reconnection {
        enabled: true,
        delay: Duration::from_millis(100),
        delay_max: Duration::from_millis(400),
        ..Reconnection::default()
    }
}

async fn next_lifecycle(events: &mut EventStream) -> SocketEvent {
    loop {
        let e = tokio::time::timeout(T, events.next()).await.expect("an event in time").expect("stream open");
        if e.as_server().is_none() {
            return e;
        }
    }
}

async fn wait_disconnected(events: &mut EventStream) -> DisconnectReason {
    loop {
        if let SocketEvent::Disconnected { reason } = next_lifecycle(events).await {
            return reason;
        }
    }
}

/// Kill the server with a request in flight, queue requests while it is down, restart it on the same
/// port: the in-flight one fails, the queued ones arrive exactly once.
async fn restart_scenario(
    eio: EioVersion,
    transports: &[Transport],
    url: &str,
    crash: impl FnOnce(),
    restart: impl FnOnce() -> Box<dyn std::any::Any>,
) {
    let socket = SailsSocket::builder(url)
        .protocol(eio)
        .transports(transports)
        .reconnection_policy(fast_reconnection())
        .connect()
        .await
        .unwrap();
    let upgrades = transports == [Transport::Polling, Transport::Websocket];
    let upgraded = || async {
        let deadline = Instant::now() + T;
        while socket.transport() != Some(Transport::Websocket) {
            assert!(Instant::now() < deadline, "{eio:?}: not upgraded: {:?}", socket.transport());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if upgrades {
        upgraded().await;
    }
    let mut events = socket.events();
    let slow = {
        let s = socket.clone();
        tokio::spawn(async move { s.get("/slow?ms=5000").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    crash();
    assert_eq!(tokio::time::timeout(T, slow).await.unwrap().unwrap().unwrap_err(), Error::Disconnected, "{eio:?}");
    assert_eq!(wait_disconnected(&mut events).await, DisconnectReason::TransportClose, "{eio:?}");
    let queued: Vec<_> = (0..3)
        .map(|i| {
            let s = socket.clone();
            tokio::spawn(async move { s.post("/count", &json!({"key": format!("q{i}")})).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _server = restart();
    for (i, q) in queued.into_iter().enumerate() {
        let jwr = tokio::time::timeout(T, q).await.expect("queued request ends").unwrap().unwrap();
        assert_eq!(jwr.body_json(), Some(&json!({"key": format!("q{i}"), "count": 1})), "{eio:?}");
    }
    let counts = socket.get("/counts").await.unwrap();
    assert_eq!(counts.body_json(), Some(&json!({"q0": 1, "q1": 1, "q2": 1})), "{eio:?}: each delivered once");
    if upgrades {
        upgraded().await;
    }
    socket.disconnect().await.unwrap();
}

const UPGRADE: [Transport; 2] = [Transport::Polling, Transport::Websocket];

#[tokio::test]
async fn real_sails_restart_with_requests_in_flight_and_queued() {
    for eio in GENERATIONS {
        let app = RealSails::start(0, &[]);
        let (url, port) = (app.url.clone(), app.port);
        let restart = move || Box::new(RealSails::start(port, &[])) as Box<dyn std::any::Any>;
        restart_scenario(eio, &[Transport::Websocket], &url, move || app.crash(), restart).await;
    }
}

#[tokio::test]
async fn real_sails_restart_with_the_upgrade_from_polling() {
    const BOTH: &[(&str, &str)] = &[("SAILS_TRANSPORTS", "polling,websocket")];
    for eio in GENERATIONS {
        let app = RealSails::start(0, BOTH);
        let (url, port) = (app.url.clone(), app.port);
        let restart = move || Box::new(RealSails::start(port, BOTH)) as Box<dyn std::any::Any>;
        restart_scenario(eio, &UPGRADE, &url, move || app.crash(), restart).await;
    }
}

#[tokio::test]
async fn stub_restart_with_requests_in_flight_and_queued() {
    for eio in GENERATIONS {
        let stub = Stub::start(0, None, None);
        let (url, port) = (stub.url.clone(), stub.port);
        let restart = move || Box::new(Stub::start(port, None, None)) as Box<dyn std::any::Any>;
        restart_scenario(eio, &[Transport::Websocket], &url, move || stub.crash(), restart).await;
    }
}

#[tokio::test]
async fn stub_restart_with_the_upgrade_from_polling() {
    use sails_io_stub::Transport as Served;
    const BOTH: &[Served] = &[Served::Polling, Served::Websocket];
    for eio in GENERATIONS {
        let stub = Stub::start_with(0, None, None, BOTH);
        let (url, port) = (stub.url.clone(), stub.port);
        let restart = move || Box::new(Stub::start_with(port, None, None, BOTH)) as Box<dyn std::any::Any>;
        restart_scenario(eio, &UPGRADE, &url, move || stub.crash(), restart).await;
    }
}

/// A server that stops answering is detected within pingInterval + pingTimeout (300 + 300 ms here).
async fn frozen_scenario(eio: EioVersion, url: &str, freeze: impl FnOnce()) {
    let socket = SailsSocket::builder(url).protocol(eio).connect().await.unwrap();
    let mut events = socket.events();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(socket.is_connected(), "{eio:?}: heartbeats keep a live server connected");
    let frozen_at = Instant::now();
    freeze();
    assert_eq!(wait_disconnected(&mut events).await, DisconnectReason::PingTimeout, "{eio:?}");
    let took = frozen_at.elapsed();
    assert!(took < Duration::from_millis(1500), "{eio:?}: detected after {took:?}");
}

#[tokio::test]
async fn real_sails_frozen_server_is_detected_by_the_heartbeat() {
    for eio in GENERATIONS {
        let app = RealSails::start(0, &[("SAILS_PING_INTERVAL", "300"), ("SAILS_PING_TIMEOUT", "300")]);
        frozen_scenario(eio, &app.url.clone(), || app.signal("STOP")).await;
        app.signal("CONT");
    }
}

#[tokio::test]
async fn stub_frozen_server_is_detected_by_the_heartbeat() {
    for eio in GENERATIONS {
        let stub = Stub::start(0, Some(Duration::from_millis(300)), None);
        frozen_scenario(eio, &stub.url.clone(), || stub.freeze(Duration::from_secs(3))).await;
    }
}

/// `socket.disconnect(true)` on the server: the client reports it and does not reconnect on its own.
async fn kick_scenario(eio: EioVersion, url: &str) {
    let socket =
        SailsSocket::builder(url).protocol(eio).reconnection_policy(fast_reconnection()).connect().await.unwrap();
    let mut events = socket.events();
    let kicked = socket.post("/kick", &json!({})).await.unwrap();
    assert_eq!(kicked.body_json(), Some(&json!({"kicked": true})));
    assert_eq!(wait_disconnected(&mut events).await, DisconnectReason::ServerDisconnect, "{eio:?}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!socket.is_connected() && !socket.is_connecting(), "{eio:?}: no automatic reconnection");
    // An explicit reconnect still works.
    socket.connect().await.unwrap();
    assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
}

#[tokio::test]
async fn real_sails_server_side_disconnect() {
    let app = RealSails::start(0, &[]);
    for eio in GENERATIONS {
        kick_scenario(eio, &app.url).await;
    }
}

#[tokio::test]
async fn stub_server_side_disconnect() {
    let stub = Stub::start(0, None, None);
    for eio in GENERATIONS {
        kick_scenario(eio, &stub.url).await;
    }
}

async fn rejected_scenario(eio: EioVersion, url: &str) {
    match SailsSocket::builder(url).protocol(eio).connect().await {
        Err(Error::Handshake { status, body }) => {
            assert_eq!(status, 400, "{eio:?}: engine.io rejects a WebSocket upgrade with a raw 400");
            assert_eq!(body, "go away", "{eio:?}");
        }
        other => panic!("{eio:?}: {other:?}"),
    }
}

#[tokio::test]
async fn real_sails_before_connect_rejection() {
    let app = RealSails::start(0, &[("SAILS_REJECT_CONNECTIONS", "go away")]);
    for eio in GENERATIONS {
        rejected_scenario(eio, &app.url).await;
    }
}

#[tokio::test]
async fn stub_before_connect_rejection() {
    let stub = Stub::start(0, None, Some("go away"));
    for eio in GENERATIONS {
        rejected_scenario(eio, &stub.url).await;
    }
}
