//! Load and fault tests of the native client against the in-process server-stub (issue 7):
//! - M sockets x K requests, pipelined on each socket: every response arrives, carries the id of its own
//!   request, and the server saw every id exactly once;
//! - the server is killed and restarted on the same port under load: every request ends (a response or a
//!   typed error), every socket reconnects with growing, jittered delays (the reconnect times spread out),
//!   requests queued while the server was down are delivered exactly once;
//! - many raw WebSocket connections flood the stub with malformed frames while a well-behaved socket
//!   keeps being served without an error or a disconnect.
//!
//! Reduced sizes here (CI); `tests/bench/load.sh` runs the full 1,000 x 100 through LOAD_SOCKETS and
//! LOAD_REQUESTS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use futures_util::StreamExt;
use sails_io::{EioVersion, Error, Reconnection, SailsSocket, SocketEvent};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many times the server saw each request id.
type Seen = Arc<Mutex<BTreeMap<String, u32>>>;

/// The conformance app plus `POST /load`: counts the request's `id`, waits `ms` milliseconds if asked, and
/// echoes the id back.
fn load_app(seen: Seen) -> axum::Router {
    sails_io_stub::demo::router().route(
        "/load",
        post(move |req: sails_io_stub::SailsReq| async move {
            let id = req.param("id").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            *seen.lock().unwrap().entry(id.clone()).or_default() += 1;
            if let Some(ms) = req.param("ms").and_then(|v| v.as_u64()) {
                tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
            }
            axum::Json(json!({ "id": id }))
        }),
    )
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `POST /load {id}` for each id, `window` of them in flight at a time; each answer with its id.
async fn post_load_ids(
    socket: &SailsSocket,
    ids: impl Iterator<Item = String>,
    window: usize,
) -> Vec<(String, Result<sails_io::Jwr, Error>)> {
    futures_util::stream::iter(ids)
        .map(|id| {
            let socket = socket.clone();
            async move {
                let r = socket.post("/load", &json!({ "id": id })).await;
                (id, r)
            }
        })
        .buffer_unordered(window)
        .collect()
        .await
}

fn echoed_id(jwr: &sails_io::Jwr) -> Option<String> {
    jwr.body_json().and_then(|b| b["id"].as_str()).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sockets_many_requests_every_response_matched_once() {
    let sockets = env_or("LOAD_SOCKETS", 100);
    let requests = env_or("LOAD_REQUESTS", 50);
    // Requests in flight per socket.
    let window = env_or("LOAD_WINDOW", 32);
    let seen: Seen = Arc::default();
    let server =
        sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(load_app(seen.clone())).start().await.unwrap();
    let url = server.url();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sockets {
        let url = url.clone();
        let eio = if s % 2 == 0 { EioVersion::V3 } else { EioVersion::V4 };
        tasks.push(tokio::spawn(async move {
            let socket = SailsSocket::builder(&url).protocol(eio).connect().await.expect("connects");
            let answers = post_load_ids(&socket, (0..requests).map(|r| format!("s{s}-r{r}")), window).await;
            socket.disconnect().await.unwrap();
            answers
        }));
    }
    let mut answered = 0;
    for task in tasks {
        for (id, r) in tokio::time::timeout(Duration::from_secs(60), task).await.expect("in time").unwrap() {
            let jwr = r.unwrap_or_else(|e| panic!("{id}: {e:?}"));
            assert_eq!(jwr.status_code, 200, "{id}");
            assert_eq!(echoed_id(&jwr).as_deref(), Some(id.as_str()), "the response of {id} is its own");
            answered += 1;
        }
    }
    assert_eq!(answered, sockets * requests);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), sockets * requests, "the server saw every id");
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(dups.is_empty(), "ids the server saw more than once: {dups:?}");
    eprintln!("{sockets} sockets x {requests} requests in {:?}", started.elapsed());
}

/// 500 requests in flight on one socket (benchmark row 2's load), for both protocol versions: every
/// reply arrives. socketioxide's default 128-packet send buffer once dropped the replies beyond it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_in_flight_on_one_socket_all_answered() {
    const IN_FLIGHT: usize = 500;
    const REQUESTS: usize = 2_000;
    let seen: Seen = Arc::default();
    let server =
        sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(load_app(seen.clone())).start().await.unwrap();
    for eio in [EioVersion::V3, EioVersion::V4] {
        let socket = SailsSocket::builder(server.url()).protocol(eio).connect().await.expect("connects");
        let answers = post_load_ids(&socket, (0..REQUESTS).map(|r| format!("{eio:?}-r{r}")), IN_FLIGHT).await;
        for (id, r) in &answers {
            let jwr = r.as_ref().unwrap_or_else(|e| panic!("{id}: {e:?}"));
            assert_eq!(echoed_id(jwr).as_deref(), Some(id.as_str()), "the response of {id} is its own");
        }
        assert_eq!(answers.len(), REQUESTS);
        socket.disconnect().await.unwrap();
    }
    assert_eq!(seen.lock().unwrap().len(), 2 * REQUESTS, "the server saw every id");
}

/// The stub on its own runtime thread, so that dropping the runtime kills it with every connection.
struct Stub {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    url: String,
    port: u16,
}

impl Stub {
    fn start(port: u16, seen: Seen) -> Stub {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let server = rt
                .block_on(sails_io_stub::Builder::new().host("127.0.0.1").port(port).app(load_app(seen)).start())
                .unwrap();
            url_tx.send(server.url()).unwrap();
            let _ = rt.block_on(stopped);
            // No goodbye: the runtime goes down with every connection in it (like a killed process).
            std::mem::forget(server);
            rt.shutdown_timeout(Duration::from_millis(10));
        });
        let url = url_rx.recv().unwrap();
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Stub { stop: Some(stop), thread: Some(thread), url, port }
    }

    fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// When each lifecycle event of one socket happened.
#[derive(Default, Debug)]
struct Timeline {
    disconnected: Vec<Instant>,
    attempts: Vec<(u32, Instant)>,
    reconnected: Vec<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_under_load_every_request_ends_and_reconnects_spread_out() {
    const SOCKETS: usize = 40;
    const DOWN: Duration = Duration::from_millis(1200);
    let seen: Seen = Arc::default();
    let mut stub = Stub::start(0, seen.clone());
    let (url, port) = (stub.url.clone(), stub.port);
    let policy = Reconnection {
        enabled: true,
        attempts: None,
        delay: Duration::from_millis(100),
        delay_max: Duration::from_millis(800),
        randomization: 0.5,
    };
    let mut sockets = Vec::new();
    let mut timelines = Vec::new();
    for i in 0..SOCKETS {
        let eio = if i % 2 == 0 { EioVersion::V3 } else { EioVersion::V4 };
        let socket = SailsSocket::builder(&url)
            .protocol(eio)
            .reconnection_policy(policy.clone())
            .reconnection_seed(1000 + i as u64)
            .request_timeout(Some(Duration::from_secs(10)))
            .connect()
            .await
            .unwrap();
        let timeline: Arc<Mutex<Timeline>> = Arc::default();
        for name in ["disconnect", "reconnecting", "reconnect"] {
            let timeline = timeline.clone();
            socket.on(name, move |e| {
                let mut t = timeline.lock().unwrap();
                match e {
                    SocketEvent::Disconnected { .. } => t.disconnected.push(Instant::now()),
                    SocketEvent::Reconnecting { attempt } => t.attempts.push((*attempt, Instant::now())),
                    SocketEvent::Reconnected { .. } => t.reconnected.push(Instant::now()),
                    _ => {}
                }
            });
        }
        sockets.push(socket);
        timelines.push(timeline);
    }

    // Load: every socket posts sequentially until told to stop; every request records how it ended.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for (i, socket) in sockets.iter().enumerate() {
        let (socket, stop) = (socket.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut ended = Vec::new();
            let mut r = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && r < 10_000 {
                let id = format!("load-s{i}-r{r}");
                let out = tokio::time::timeout(Duration::from_secs(15), socket.post("/load", &json!({ "id": id })))
                    .await
                    .unwrap_or_else(|_| panic!("{id} never ended"));
                ended.push((id, out));
                r += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            ended
        }));
    }
    // One slow request per socket is sure to be in flight when the server dies.
    let slow: Vec<_> = sockets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.clone();
            tokio::spawn(async move { s.post("/load", &json!({ "id": format!("slow-s{i}"), "ms": 5000 })).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed_at = Instant::now();
    stub.kill();
    for (i, r) in slow.into_iter().enumerate() {
        let r = tokio::time::timeout(Duration::from_secs(5), r).await.expect("the in-flight request ends").unwrap();
        assert_eq!(r.unwrap_err(), Error::Disconnected, "slow-s{i}: in flight when the server died");
    }
    // Wait until every socket knows, then queue one request per socket while the server is down.
    for _ in 0..200 {
        if sockets.iter().all(|s| !s.is_connected()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sockets.iter().all(|s| !s.is_connected()), "every socket saw the server go");
    let queued: Vec<_> = sockets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.clone();
            let id = format!("queued-s{i}");
            tokio::spawn(async move {
                let r = s.post("/load", &json!({ "id": id })).await;
                (id, r)
            })
        })
        .collect();
    tokio::time::sleep(DOWN.saturating_sub(killed_at.elapsed())).await;
    let restarted_at = Instant::now();
    let _stub = Stub::start(port, seen.clone());

    for q in queued {
        let (id, r) = tokio::time::timeout(Duration::from_secs(15), q).await.expect("queued request ends").unwrap();
        let jwr = r.unwrap_or_else(|e| panic!("{id}: queued while down, delivered after the reconnect: {e:?}"));
        assert_eq!(echoed_id(&jwr).as_deref(), Some(id.as_str()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);

    let mut ended = Vec::new();
    for task in load {
        ended.extend(task.await.unwrap());
    }
    let (mut ok, mut failed) = (0, 0);
    let seen_now = seen.lock().unwrap().clone();
    {
        for (id, out) in ended {
            match out {
                Ok(jwr) => {
                    assert_eq!(echoed_id(&jwr).as_deref(), Some(id.as_str()));
                    assert_eq!(seen_now.get(&id), Some(&1), "{id} answered, so seen exactly once");
                    ok += 1;
                }
                // In flight when the server died: a typed error, and never run twice.
                Err(Error::Disconnected) | Err(Error::Timeout(_)) => {
                    assert!(seen_now.get(&id).copied().unwrap_or(0) <= 1, "{id}");
                    failed += 1;
                }
                Err(e) => panic!("{id}: unexpected error {e:?}"),
            }
        }
    }
    for i in 0..SOCKETS {
        assert_eq!(seen_now.get(&format!("queued-s{i}")), Some(&1), "queued-s{i} delivered once");
    }
    assert!(ok > SOCKETS, "load was running: {ok} answered, {failed} failed");

    // Every socket reconnected once the server was back, after attempts with growing jittered delays.
    let mut reconnect_times = Vec::new();
    let mut first_gaps = Vec::new();
    let mut later_gaps = Vec::new();
    for (i, t) in timelines.iter().enumerate() {
        let t = t.lock().unwrap();
        assert_eq!(t.disconnected.len(), 1, "socket {i}: {t:?}");
        assert_eq!(t.reconnected.len(), 1, "socket {i} reconnected once: {t:?}");
        let at = t.reconnected[0];
        assert!(at >= restarted_at, "socket {i} reconnected before the restart?");
        reconnect_times.push(at.duration_since(restarted_at));
        // attempt 1 comes `delay` (+-50%) after the disconnect, attempt k+1 `2^k delay` (+-50%) later.
        let mut previous = t.disconnected[0];
        for (k, (attempt, when)) in t.attempts.iter().enumerate() {
            assert_eq!(*attempt as usize, k + 1, "socket {i}: attempts counted in order");
            let gap = when.duration_since(previous);
            if k == 0 {
                first_gaps.push(gap);
            } else if k == 2 {
                later_gaps.push(gap);
            }
            previous = *when;
        }
        assert!(t.attempts.len() >= 3, "socket {i}: the server was down for {DOWN:?}: {t:?}");
    }
    reconnect_times.sort();
    let spread = *reconnect_times.last().unwrap() - reconnect_times[0];
    assert!(spread >= Duration::from_millis(50), "no thundering herd: reconnects spread over {spread:?}");
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (first, third) = (median(&mut first_gaps), median(&mut later_gaps));
    assert!(first >= Duration::from_millis(40) && first <= Duration::from_millis(200), "first delay {first:?}");
    assert!(third > first * 2, "backoff: median gap before attempt 3 {third:?} vs attempt 1 {first:?}");
    let distinct: std::collections::BTreeSet<_> = first_gaps.iter().map(|d| d.as_millis() / 10).collect();
    assert!(distinct.len() > 3, "jitter: first delays differ between sockets: {first_gaps:?}");
    eprintln!(
        "{ok} answered, {failed} ended with a typed error; reconnects spread over {spread:?}; median first delay \
         {first:?}, third {third:?}"
    );
    for s in &sockets {
        s.disconnect().await.unwrap();
    }
}

/// A minimal WebSocket client over a raw TCP stream: enough to send frames the real clients never would.
/// What the server sends (open packet, parse errors) is read and dropped, so the server never blocks on it.
struct RawWs {
    tx: tokio::net::tcp::OwnedWriteHalf,
    drain: tokio::task::JoinHandle<()>,
}

impl RawWs {
    async fn connect(port: u16, eio: u8) -> std::io::Result<RawWs> {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "GET /socket.io/?EIO={eio}&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            if tcp.read(&mut byte).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(std::io::Error::other(String::from_utf8_lossy(&head).into_owned()));
        }
        let (mut rx, tx) = tcp.into_split();
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while matches!(rx.read(&mut buf).await, Ok(n) if n > 0) {}
        });
        Ok(RawWs { tx, drain })
    }

    /// One frame; `masked: false` breaks RFC 6455 (a client must mask).
    async fn frame(&mut self, opcode: u8, payload: &[u8], masked: bool) -> std::io::Result<()> {
        let mut out = vec![0x80 | opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(mask_bit | n as u8),
            n if n <= 0xffff => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [0x12, 0x34, 0x56, 0x78];
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(payload);
        }
        self.tx.write_all(&out).await
    }
}

impl Drop for RawWs {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

/// Malformed input at every layer: Engine.IO, Socket.IO, the Sails request envelope, WebSocket framing.
fn malformed_frames(i: usize) -> Vec<(u8, Vec<u8>, bool)> {
    let text = |s: &str| (0x1, s.as_bytes().to_vec(), true);
    let deep = format!("42[\"get\",{}{}]", "[".repeat(5000), "]".repeat(5000));
    let mut frames = vec![
        text(""),
        text("x"),
        text("9"),
        text("4"),
        text("42"),
        text("42["),
        text("42[\"get\"]"),
        text("42[\"get\",{}]"),
        text("421[\"post\",{\"url\":5}]"),
        text("422[\"get\",\"not an object\"]"),
        text("42[\"delete\",{\"url\":\"/echo\",\"data\":"),
        text("4299999999999999999999999[\"get\",{\"url\":\"/hello\"}]"),
        text("451-[\"get\",{\"_placeholder\":true,\"num\":0}]"),
        text("47[\"get\",{\"url\":\"/hello\"}]"),
        text("40/nope,"),
        text("41"),
        text("4{\"a\":1}"),
        text("3probe"),
        text("5"),
        text(&deep),
        text(&format!("42[\"post\",{{\"url\":\"/echo\",\"data\":\"{}\"}}]", "z".repeat(100_000))),
        text(&format!("423[\"get\",{{\"url\":\"/hello\",\"headers\":{{\"x\":{i}}},\"method\":7}}]")),
        (0x2, vec![0xff, 0x00, 0x13, 0x37, i as u8], true),
        (0x2, Vec::new(), true),
    ];
    // Protocol errors that end that connection (sent last: nothing after them is read): a text frame that
    // is not UTF-8, a reserved opcode, an unmasked client frame; or a clean close.
    frames.push(match i % 4 {
        0 => (0x1, vec![0x34, 0x32, 0xc3, 0x28, 0xff], true),
        1 => (0x3, b"reserved".to_vec(), true),
        2 => (0x1, b"42[\"get\",{\"url\":\"/hello\"}]".to_vec(), false),
        _ => (0x8, vec![0x03, 0xe8], true),
    });
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frame_flood_does_not_disturb_a_well_behaved_socket() {
    const FLOODERS: usize = 40;
    const ROUNDS: usize = 5;
    let seen: Seen = Arc::default();
    let server = sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(load_app(seen)).start().await.unwrap();
    let port = server.addr().port();
    let url = server.url();

    let good = SailsSocket::builder(&url).connect().await.unwrap();
    let mut events = good.events();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = {
        let (good, stop) = (good.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && n < 100_000 {
                let id = format!("good-{n}");
                let jwr = good.post("/load", &json!({ "id": id })).await.unwrap_or_else(|e| panic!("{id}: {e:?}"));
                assert_eq!(jwr.status_code, 200, "{id}");
                assert_eq!(echoed_id(&jwr).as_deref(), Some(id.as_str()));
                n += 1;
            }
            n
        })
    };

    let mut flood = Vec::new();
    for i in 0..FLOODERS {
        flood.push(tokio::spawn(async move {
            let (mut connections, mut frames) = (0usize, 0usize);
            for round in 0..ROUNDS {
                let eio = if (i + round) % 2 == 0 { 3 } else { 4 };
                let mut ws = RawWs::connect(port, eio).await.expect("the stub still accepts connections");
                connections += 1;
                for (opcode, payload, masked) in malformed_frames(i + round) {
                    if ws.frame(opcode, &payload, masked).await.is_err() {
                        break; // the server closed this connection: fine, it is the server's answer
                    }
                    frames += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (connections, frames)
        }));
    }
    let (mut connections, mut frames) = (0, 0);
    for f in flood {
        let (c, n) = tokio::time::timeout(Duration::from_secs(30), f).await.expect("flood ends").unwrap();
        connections += c;
        frames += n;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let requests = tokio::time::timeout(Duration::from_secs(10), served).await.expect("in time").unwrap();
    assert_eq!(connections, FLOODERS * ROUNDS);
    assert!(frames >= FLOODERS * ROUNDS * 20, "{frames} malformed frames sent");
    assert!(requests > 0, "the well-behaved socket was served during the flood");

    // Nothing reached the well-behaved socket but its own connect: no disconnect, no parse error.
    assert!(good.is_connected());
    let sid = good.id().unwrap();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {
        assert!(matches!(&e, SocketEvent::Connected { sid: s } if *s == sid), "unexpected event: {e:?}");
    }
    // And a new socket is served as usual afterwards.
    let fresh = SailsSocket::builder(&url).protocol(EioVersion::V4).connect().await.unwrap();
    assert_eq!(fresh.get("/hello").await.unwrap().status_code, 200);
    eprintln!("{frames} malformed frames over {connections} connections; {requests} good requests served meanwhile");
}
