//! `sails-bench`: the Rust side of `tests/bench/run.sh`.
//!
//! Server modes (each prints `listening on http://127.0.0.1:PORT` and serves until killed):
//! - `stub`: the server-stub with the conformance app on one thread, as the `sails-io-stub` binary serves
//!   it by default (`STUB_THREADS=N` as its `--threads N`: 0 = one worker per core);
//! - `echo-server`: a raw tokio-tungstenite WebSocket echo server (the floor).
//! - `instant-server`: a scripted EIO 3 Socket.IO server on tokio-tungstenite that answers every request
//!   at once with a fixed JWR (`{"hello":"world"}`), with no routing, session or JSON parsing: the client's
//!   own cost of a round trip, for comparison with the floor.
//!
//! Client modes (each prints one JSON line of figures on stdout; progress goes to stderr):
//! - `floor --url ws://… [--read-buffer BYTES]`: sequential round trips of a small text frame through the
//!   echo server (`echo-server` takes `--read-buffer` too);
//! - `rt --url http://…`: sequential `GET /hello` on one socket;
//! - `pipe --url … --inflight 500`: `GET /hello` with 500 requests in flight on one socket;
//! - `rt-raw --url …`, `pipe-raw --url … --inflight 500`: the loads of `rt` and `pipe` from a bare
//!   tokio-tungstenite client speaking just enough EIO 3 (pre-formatted frames, answers matched by ack
//!   id, no JSON parsing): about the best any client could get from the server (`"client":"raw-sio"`);
//! - `many --url … --n 10000`: N connected sockets in this process: connect time and RSS delta per socket;
//! - `many-raw --url ws://… --n 10000 [--read-buffer BYTES]`: the same for raw tokio-tungstenite
//!   connections to the echo server (tungstenite's default 128 KiB read buffer, or BYTES);
//! - `broadcast --url … --n 10000 --rounds 7`: N sockets connected, `POST /blast` from another socket,
//!   time until the last of the N has the `announcement` event;
//! - `rps --url … --sockets 100 --secs 5`: requests/s served to 100 sockets issuing sequential requests.
//!
//! Common flags: `--server NAME` (a label copied into the output), `--eio 3|4` (default 3).
//! Every mode runs as a task spawned on the runtime, the floor and the clients alike.
//! Environment: `RUNTIME=current-thread` runs everything on a current-thread tokio runtime instead of the
//! multi-thread one; the native client's lines then say `"client":"rust-ct"`. `CALLER=block-on` runs the
//! mode on the thread that called `block_on` (what the body of `#[tokio::main]` is) instead of in a
//! spawned task; the native client's lines then say `"client":"rust-blockon"`.
//! Nothing here fails on a time: figures are printed, errors are counted and reported.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sails_io::{EioVersion, SailsSocket, SocketEvent};
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// `--key value` flags.
struct Args {
    mode: String,
    flags: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Args, AnyError> {
        let mut it = std::env::args().skip(1);
        let mode = it.next().ok_or("usage: sails-bench MODE [--flag value]... (see the source header)")?;
        let mut flags = HashMap::new();
        while let Some(k) = it.next() {
            let key = k.strip_prefix("--").ok_or_else(|| format!("unexpected argument {k}"))?.to_owned();
            let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            flags.insert(key, value);
        }
        Ok(Args { mode, flags })
    }

    fn str(&self, key: &str, default: &str) -> String {
        self.flags.get(key).cloned().unwrap_or_else(|| default.to_owned())
    }

    fn num(&self, key: &str, default: u64) -> Result<u64, AnyError> {
        match self.flags.get(key) {
            Some(v) => Ok(v.parse().map_err(|_| format!("--{key}: not a number: {v}"))?),
            None => Ok(default),
        }
    }

    fn url(&self) -> Result<String, AnyError> {
        Ok(self.flags.get("url").cloned().ok_or("--url is required")?)
    }

    fn eio(&self) -> Result<EioVersion, AnyError> {
        match self.str("eio", "3").as_str() {
            "3" => Ok(EioVersion::V3),
            "4" => Ok(EioVersion::V4),
            other => Err(format!("--eio {other}: use 3 or 4").into()),
        }
    }
}

/// Percentile (nearest rank) of sorted samples.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Latency figures of a sample set (µs) plus throughput.
fn latency_json(mut samples: Vec<f64>, elapsed: Duration) -> Value {
    samples.sort_by(f64::total_cmp);
    json!({
        "n": samples.len(),
        "p50_us": round1(pct(&samples, 50.0)),
        "p99_us": round1(pct(&samples, 99.0)),
        "max_us": round1(pct(&samples, 100.0)),
        "rps": round1(samples.len() as f64 / elapsed.as_secs_f64()),
    })
}

fn emit(mode: &str, client: &str, args: &Args, mut figures: Value) {
    let obj = figures.as_object_mut().expect("an object");
    obj.insert("bench".into(), json!(mode));
    // The native client on a current-thread runtime is reported as its own client, `rust-ct`, and called
    // from the `block_on` thread of the multi-thread runtime as `rust-blockon`.
    let client = match client {
        "rust" if current_thread_runtime() => "rust-ct",
        "rust" if caller_on_block_on_thread() => "rust-blockon",
        other => other,
    };
    obj.insert("client".into(), json!(client));
    obj.insert("server".into(), json!(args.str("server", "?")));
    println!("{figures}");
}

/// VmRSS of a process in KiB (`self` or a pid).
fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn connect(url: &str, eio: EioVersion) -> Result<SailsSocket, sails_io::Error> {
    SailsSocket::builder(url).protocol(eio).connect().await
}

fn listening(addr: std::net::SocketAddr) {
    use std::io::Write as _;
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
}

async fn serve_stub() -> Result<(), AnyError> {
    let server = sails_io_stub::Builder::new()
        .host("127.0.0.1")
        .port(0)
        .app(sails_io_stub::demo::router())
        .start()
        .await
        .map_err(|e| format!("stub: {e:?}"))?;
    let url = server.url();
    {
        use std::io::Write as _;
        println!("listening on {url}");
        let _ = std::io::stdout().flush();
    }
    std::future::pending::<()>().await;
    drop(server);
    Ok(())
}

type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Accepts WebSocket connections on a free loopback port (printing `listening on …`) and serves each with
/// `serve` on its own task.
/// `--read-buffer BYTES`: tungstenite's config with that read buffer (and no write buffer); without it
/// tungstenite's defaults (a 128 KiB read buffer, which tungstenite zeroes up to its size before each read).
fn ws_config(args: &Args) -> Result<Option<WebSocketConfig>, AnyError> {
    let read_buffer = args.flags.get("read-buffer").map(|v| v.parse::<usize>()).transpose()?;
    Ok(read_buffer.map(|bytes| WebSocketConfig::default().read_buffer_size(bytes).write_buffer_size(0)))
}

async fn serve_ws<F, Fut>(config: Option<WebSocketConfig>, serve: F) -> Result<(), AnyError>
where
    F: Fn(ServerWs) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    listening(listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let serve = serve.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            if let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, config).await {
                serve(ws).await;
            }
        });
    }
}

async fn serve_echo(args: &Args) -> Result<(), AnyError> {
    let config = ws_config(args)?;
    serve_ws(config, |mut ws| async move {
        while let Some(Ok(msg)) = ws.next().await {
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// The scripted server of `instant-server`: the EIO 3 open packet and `40`, then `43<id>[jwr]` for every
/// `42<id>[…]` it reads (the ack id is the digits between `42` and `[`), `3` for every `2`.
async fn serve_instant() -> Result<(), AnyError> {
    const OPEN: &str = r#"0{"sid":"instant","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
    const JWR: &str = r#"[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#;
    serve_ws(None, |mut ws| async move {
        if ws.send(Message::text(OPEN)).await.is_err() || ws.send(Message::text("40")).await.is_err() {
            return;
        }
        // Answers everything already received, then flushes once: the server must not be what limits a
        // pipelining client.
        while let Some(Ok(first)) = ws.next().await {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                if let Some(reply) = instant_reply(&msg, JWR) {
                    if ws.feed(Message::text(reply)).await.is_err() {
                        return;
                    }
                }
                if let Some(Some(Ok(more))) = futures_util::FutureExt::now_or_never(ws.next()) {
                    next = Some(more);
                }
            }
            if ws.flush().await.is_err() {
                return;
            }
        }
    })
    .await
}

/// The instant server's answer to one message: `3` to a ping, the JWR to a request with an ack id.
fn instant_reply(msg: &Message, jwr: &str) -> Option<String> {
    let Message::Text(text) = msg else { return None };
    if text.as_str() == "2" {
        return Some("3".to_owned());
    }
    let (id, _) = packet_id(text.as_str(), "42")?;
    (!id.is_empty()).then(|| format!("43{id}{jwr}"))
}

/// A Socket.IO text packet that starts with `prefix` (`42` an event, `43` an ack), split after it into
/// its ack id's digits (maybe none) and the rest.
fn packet_id<'a>(text: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let rest = text.strip_prefix(prefix)?;
    Some(rest.split_at(rest.bytes().take_while(u8::is_ascii_digit).count()))
}

/// A request's event as sails.io.js sends `GET /hello`, after `42<ack id>`: what the floor echoes (the size
/// of a small Sails request) and what the ceiling client sends.
const HELLO_EVENT: &str = r#"["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#;

/// Sequential round trips through the raw echo server: the floor for one request on one socket.
async fn floor(args: &Args) -> Result<(), AnyError> {
    let url = args.url()?.replacen("http://", "ws://", 1);
    let (n, warmup) = (args.num("n", 2000)?, args.num("warmup", 200)?);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), ws_config(args)?, false).await?;
    // A frame the size of a small Sails request.
    let frame = ["421", HELLO_EVENT].concat();
    let mut samples = Vec::with_capacity(n as usize);
    let mut started = Instant::now();
    for i in 0..warmup + n {
        if i == warmup {
            started = Instant::now();
        }
        let t = Instant::now();
        ws.send(Message::text(frame.as_str())).await?;
        match ws.next().await {
            Some(Ok(m)) if m.is_text() => {}
            other => return Err(format!("echo: unexpected {other:?}").into()),
        }
        if i >= warmup {
            samples.push(us(t.elapsed()));
        }
    }
    let elapsed = started.elapsed();
    let client = if args.flags.contains_key("read-buffer") { "raw-ws-small-buffers" } else { "raw-ws" };
    emit("rt", client, args, latency_json(samples, elapsed));
    Ok(())
}

/// Sequential `GET /hello` on one socket.
async fn round_trip(args: &Args) -> Result<(), AnyError> {
    let (n, warmup) = (args.num("n", 2000)?, args.num("warmup", 200)?);
    let socket = connect(&args.url()?, args.eio()?).await?;
    let mut samples = Vec::with_capacity(n as usize);
    let mut started = Instant::now();
    for i in 0..warmup + n {
        if i == warmup {
            started = Instant::now();
        }
        let t = Instant::now();
        let jwr = socket.get("/hello").await?;
        if jwr.status_code != 200 {
            return Err(format!("GET /hello: {}", jwr.status_code).into());
        }
        if i >= warmup {
            samples.push(us(t.elapsed()));
        }
    }
    let elapsed = started.elapsed();
    socket.disconnect().await?;
    emit("rt", "rust", args, latency_json(samples, elapsed));
    Ok(())
}

/// `GET /hello` with `inflight` requests outstanding on one socket at all times. A response that does not
/// come within `--lost-after` seconds (5) counts as lost; throughput is responses / time to the last one.
async fn pipelined(args: &Args) -> Result<(), AnyError> {
    let n = args.num("n", 20_000)? as usize;
    let inflight = args.num("inflight", 500)? as usize;
    let lost_after = Duration::from_secs(args.num("lost-after", 5)?);
    let socket =
        SailsSocket::builder(args.url()?).protocol(args.eio()?).request_timeout(Some(lost_after)).connect().await?;
    // Warm up with a window of sequential-ish requests (below any server-side buffer limit).
    let warm: Vec<_> = (0..inflight.min(100)).map(|_| socket.get("/hello")).collect();
    for r in futures_util::future::join_all(warm).await {
        r?;
    }
    let started = Instant::now();
    let mut last_ok = started;
    let mut pending = futures_util::stream::FuturesUnordered::new();
    let mut samples = Vec::with_capacity(n);
    let (mut sent, mut lost, mut errors) = (0usize, 0usize, 0usize);
    while samples.len() + lost + errors < n {
        while sent < n && pending.len() < inflight {
            let s = socket.clone();
            pending.push(async move {
                let t = Instant::now();
                let r = s.get("/hello").await;
                (r, t.elapsed())
            });
            sent += 1;
        }
        match pending.next().await {
            Some((Ok(jwr), took)) if jwr.status_code == 200 => {
                samples.push(us(took));
                last_ok = Instant::now();
            }
            Some((Err(sails_io::Error::Timeout(_)), _)) => lost += 1,
            Some(_) => errors += 1,
            None => break,
        }
    }
    socket.disconnect().await?;
    let mut out = latency_json(samples, last_ok.duration_since(started));
    out["inflight"] = json!(inflight);
    out["lost"] = json!(lost);
    out["errors"] = json!(errors);
    emit("pipe", "rust", args, out);
    Ok(())
}

/// The loads of `rt` (`sequential`) and `pipe` from a bare tokio-tungstenite client that speaks just
/// enough EIO 3 and Socket.IO: the handshake URL sails.io.js opens, the open packet and `40`, then
/// pre-formatted `42<id>["get",{…"url":"/hello"}]` frames out and `43<id>[…]` answers back, matched by
/// the ack id and checked for `"statusCode":200` by a substring search (no JSON parsing). A client can
/// hardly do less per request, so its figures are about what the server gives one socket: the best any
/// client could get against it (`"client":"raw-sio"`).
async fn raw_client(args: &Args, sequential: bool) -> Result<(), AnyError> {
    let (n, inflight, warm) = if sequential {
        (args.num("n", 2000)? as usize, 1, args.num("warmup", 200)? as usize)
    } else {
        let inflight = args.num("inflight", 500)?.max(1) as usize;
        (args.num("n", 20_000)? as usize, inflight, inflight.min(100))
    };
    let lost_after = Duration::from_secs(args.num("lost-after", 5)?);
    let base = args.url()?;
    let base = base.strip_prefix("http").map_or(base.clone(), |rest| ["ws", rest].concat());
    let url = format!(
        "{}/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=websocket",
        base.trim_end_matches('/')
    );
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (mut tx, mut rx) = ws.split();
    // The open packet (`0{…}`), then the namespace's connect (`40`).
    loop {
        match tokio::time::timeout(lost_after, rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().starts_with("40") => break,
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().starts_with('0') => {}
            other => return Err(format!("raw client: no Socket.IO connect: {other:?}").into()),
        }
    }
    let frame = |id: usize| format!("42{id}{HELLO_EVENT}");
    // `warm` warm-up requests (as `rt` and `pipe` do), then `n` measured ones; ids count from 0 over both.
    let total = warm + n;
    let mut sent_at: Vec<Option<Instant>> = vec![None; total];
    let (mut next, mut answered, mut errors) = (0usize, 0usize, 0usize);
    let mut samples = Vec::with_capacity(n);
    let mut started = Instant::now();
    let mut last_ok = started;
    while answered + errors < total {
        // Pipelined, the warm-up requests go out as one window and all are answered before the measured
        // ones, which keep `inflight` outstanding; sequential, one at a time throughout.
        let (window, limit) = match (sequential, answered + errors < warm) {
            (true, _) => (1, total),
            (false, true) => (warm, warm),
            (false, false) => (inflight, total),
        };
        let mut fed = false;
        while next < limit && next - (answered + errors) < window {
            if next == warm {
                started = Instant::now();
            }
            tx.feed(Message::text(frame(next))).await?;
            sent_at[next] = Some(Instant::now());
            next += 1;
            fed = true;
        }
        if fed {
            tx.flush().await?;
        }
        // Waits for one frame, then takes every frame already read before refilling the window, so that
        // the requests of a refill go out in one write, as the native client batches them.
        let mut frame_in = match tokio::time::timeout(lost_after, rx.next()).await {
            Ok(Some(Ok(m))) => Some(m),
            // Nothing more within `lost_after`, or the connection ended: what is still out is lost.
            _ => break,
        };
        while let Some(msg) = frame_in.take() {
            if let Message::Text(text) = &msg {
                match raw_answer(text.as_str(), &mut sent_at) {
                    Some(RawAnswer::Ok { id, sent }) => {
                        answered += 1;
                        if id >= warm {
                            samples.push(us(sent.elapsed()));
                            last_ok = Instant::now();
                        }
                    }
                    Some(RawAnswer::Wrong) => errors += 1,
                    None => {}
                }
            }
            if let Some(Some(Ok(more))) = futures_util::FutureExt::now_or_never(rx.next()) {
                frame_in = Some(more);
            }
        }
    }
    let lost = sent_at[warm..].iter().filter(|t| t.is_some()).count() + (total - next);
    let mut out = latency_json(samples, last_ok.duration_since(started));
    if !sequential {
        out["inflight"] = json!(inflight);
    }
    out["lost"] = json!(lost);
    out["errors"] = json!(errors);
    emit(if sequential { "rt" } else { "pipe" }, "raw-sio", args, out);
    Ok(())
}

/// What the ceiling client makes of an ack (`43<id>[…]`).
enum RawAnswer {
    /// The answer to request `id`, sent at `sent`, with `"statusCode":200`.
    Ok { id: usize, sent: Instant },
    /// An ack for no request of ours, for one answered already, or without status 200.
    Wrong,
}

/// The ceiling client's reading of one text frame: the ack's request is taken out of `sent_at`; `None`
/// for a frame that is not an ack.
fn raw_answer(text: &str, sent_at: &mut [Option<Instant>]) -> Option<RawAnswer> {
    let (digits, rest) = packet_id(text, "43")?;
    let sent = digits.parse::<usize>().ok().and_then(|id| Some((id, sent_at.get_mut(id)?.take()?)));
    Some(match sent {
        Some((id, sent)) if rest.contains(r#""statusCode":200"#) => RawAnswer::Ok { id, sent },
        _ => RawAnswer::Wrong,
    })
}

/// Connects `n` sockets with at most `concurrency` handshakes at a time; returns them, the per-socket
/// connect latencies and the failures.
async fn connect_many(
    url: &str,
    eio: EioVersion,
    n: usize,
    concurrency: usize,
) -> (Vec<SailsSocket>, Vec<f64>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let gate = gate.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            let t = Instant::now();
            let r = connect(&url, eio).await;
            (r, t.elapsed())
        }));
    }
    let (mut sockets, mut times, mut errors) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
    for task in tasks {
        match task.await {
            Ok((Ok(s), took)) => {
                sockets.push(s);
                times.push(us(took));
            }
            Ok((Err(e), _)) => errors.push(e.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (sockets, times, errors)
}

fn error_summary(errors: &[String]) -> Value {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in errors {
        *counts.entry(e.as_str()).or_default() += 1;
    }
    json!(counts)
}

/// N connected sockets in this process: connect time and RSS delta per socket (this process and,
/// with `--server-pid`, the server's).
async fn many(args: &Args) -> Result<(), AnyError> {
    let url = args.url()?;
    let eio = args.eio()?;
    let n = args.num("n", 10_000)? as usize;
    let concurrency = args.num("concurrency", 64)? as usize;
    let server_pid = args.flags.get("server-pid").cloned();
    // Warm the runtime and the TLS/HTTP machinery with one socket, so the delta is per-socket state.
    let probe = connect(&url, eio).await?;
    probe.get("/hello").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss0, srv0) = (rss_kib("self"), server_pid.as_deref().and_then(rss_kib));
    let started = Instant::now();
    let (sockets, mut times, errors) = connect_many(&url, eio, n, concurrency).await;
    let connect_all = started.elapsed();
    // Every socket still answers (a sample of them: one request each, all at once).
    let check: Vec<_> = sockets.iter().step_by((sockets.len() / 100).max(1)).map(|s| s.get("/hello")).collect();
    let checked = futures_util::future::join_all(check).await.iter().filter(|r| r.is_ok()).count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss1, srv1) = (rss_kib("self"), server_pid.as_deref().and_then(rss_kib));
    let connected = sockets.iter().filter(|s| s.is_connected()).count();
    times.sort_by(f64::total_cmp);
    let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if connected > 0 => json!(round1((b as f64 - a as f64) * 1024.0 / connected as f64)),
        _ => Value::Null,
    };
    let out = json!({
        "n": n,
        "connected": connected,
        "failed": errors.len(),
        "errors": error_summary(&errors),
        "concurrency": concurrency,
        "checked_requests_ok": checked,
        "connect_all_ms": round1(connect_all.as_secs_f64() * 1e3),
        "connects_per_s": round1(connected as f64 / connect_all.as_secs_f64()),
        "connect_p50_us": round1(pct(&times, 50.0)),
        "connect_p99_us": round1(pct(&times, 99.0)),
        "client_rss_before_kib": rss0,
        "client_rss_after_kib": rss1,
        "client_bytes_per_socket": per(rss0, rss1),
        "server_rss_before_kib": srv0,
        "server_rss_after_kib": srv1,
        "server_bytes_per_socket": per(srv0, srv1),
    });
    eprintln!("many: {connected}/{n} connected in {connect_all:?}");
    // Close quickly: dropping the handles ends each socket's task.
    drop(sockets);
    drop(probe);
    emit("many", "rust", args, out);
    Ok(())
}

/// The floor of row 3: N raw tokio-tungstenite connections to the echo server in this process, each with
/// a task reading it, with tungstenite's default buffers or `--read-buffer BYTES`.
async fn many_raw(args: &Args) -> Result<(), AnyError> {
    let url = args.url()?.replacen("http://", "ws://", 1);
    let n = args.num("n", 10_000)? as usize;
    let config = ws_config(args)?;
    let read_buffer = config.as_ref().map(|c| c.read_buffer_size);
    let config = config.unwrap_or_default();
    let gate = Arc::new(Semaphore::new(64));
    let rss0 = rss_kib("self");
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (gate, url) = (gate.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let ws = {
                let _permit = gate.acquire_owned().await.expect("semaphore open");
                tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await
            };
            let (mut ws, _) = ws.ok()?;
            ws.send(Message::text("hello")).await.ok()?;
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let reader = tokio::spawn(async move {
                let _keep = rx;
                while let Some(Ok(_)) = ws.next().await {}
            });
            Some((reader, tx))
        }));
    }
    let mut alive = Vec::with_capacity(n);
    for t in tasks {
        if let Some(conn) = t.await? {
            alive.push(conn);
        }
    }
    let connect_all = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss1 = rss_kib("self");
    let out = json!({
        "n": n,
        "connected": alive.len(),
        "read_buffer": read_buffer,
        "connect_all_ms": round1(connect_all.as_secs_f64() * 1e3),
        "client_bytes_per_socket": match (rss0, rss1) {
            (Some(a), Some(b)) if !alive.is_empty() => json!(round1((b as f64 - a as f64) * 1024.0 / alive.len() as f64)),
            _ => Value::Null,
        },
    });
    for (reader, _) in &alive {
        reader.abort();
    }
    emit("many", if read_buffer.is_some() { "raw-ws-small-buffers" } else { "raw-ws" }, args, out);
    Ok(())
}

/// N sockets listening for `announcement`; another socket posts `/blast`; the time from the post until
/// the last of the N has the event, over several rounds.
async fn broadcast(args: &Args) -> Result<(), AnyError> {
    let url = args.url()?;
    let eio = args.eio()?;
    let n = args.num("n", 10_000)? as usize;
    let rounds = args.num("rounds", 7)?;
    let concurrency = args.num("concurrency", 64)? as usize;
    let server_pid = args.flags.get("server-pid").cloned();
    let srv0 = server_pid.as_deref().and_then(rss_kib);
    let started = Instant::now();
    let (sockets, _, errors) = connect_many(&url, eio, n, concurrency).await;
    let connect_all = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let srv1 = server_pid.as_deref().and_then(rss_kib);
    eprintln!("broadcast: {}/{n} connected in {connect_all:?}", sockets.len());
    let receivers = sockets.len();
    // The round currently measured, how many receivers have it, and when the last one got it.
    let round = Arc::new(AtomicU64::new(u64::MAX));
    let got = Arc::new(AtomicUsize::new(0));
    let stale = Arc::new(AtomicUsize::new(0));
    let last: Arc<Mutex<Option<Instant>>> = Arc::default();
    let done = Arc::new(Notify::new());
    for s in &sockets {
        let (round, got, stale, last, done) = (round.clone(), got.clone(), stale.clone(), last.clone(), done.clone());
        s.on("announcement", move |e| {
            let SocketEvent::Server(e) = e else { return };
            if e.json_value()["round"].as_u64() != Some(round.load(Ordering::SeqCst)) {
                stale.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if got.fetch_add(1, Ordering::SeqCst) + 1 == receivers {
                *last.lock().expect("not poisoned") = Some(Instant::now());
                done.notify_one();
            }
        });
    }
    let sender = connect(&url, eio).await?;
    let mut samples = Vec::new();
    let mut incomplete = Vec::new();
    for r in 0..rounds {
        got.store(0, Ordering::SeqCst);
        *last.lock().expect("not poisoned") = None;
        round.store(r, Ordering::SeqCst);
        let notified = done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let t0 = Instant::now();
        let jwr = sender.post("/blast", &json!({"round": r})).await?;
        if jwr.status_code != 200 {
            return Err(format!("POST /blast: {}", jwr.status_code).into());
        }
        if tokio::time::timeout(Duration::from_secs(30), notified).await.is_ok() {
            let at = last.lock().expect("not poisoned").expect("set before notify");
            samples.push(at.duration_since(t0).as_secs_f64() * 1e3);
        } else {
            incomplete.push(json!({"round": r, "received": got.load(Ordering::SeqCst)}));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let out = json!({
        "n": n,
        "connected": receivers,
        "failed": errors.len(),
        "errors": error_summary(&errors),
        "connect_all_ms": round1(connect_all.as_secs_f64() * 1e3),
        "rounds": rounds,
        "last_ms": samples.iter().map(|x| round1(*x)).collect::<Vec<_>>(),
        "p50_ms": round1(pct(&sorted, 50.0)),
        "p99_ms": round1(pct(&sorted, 99.0)),
        "incomplete": incomplete,
        "stale_events": stale.load(Ordering::Relaxed),
        "server_rss_before_kib": srv0,
        "server_rss_after_kib": srv1,
        "server_bytes_per_socket": match (srv0, srv1) {
            (Some(a), Some(b)) if receivers > 0 => json!(round1((b as f64 - a as f64) * 1024.0 / receivers as f64)),
            _ => Value::Null,
        },
    });
    drop(sockets);
    emit("broadcast", "rust", args, out);
    Ok(())
}

/// `sockets` sockets, each issuing sequential `GET /hello` for `secs` seconds: requests/s served.
async fn rps(args: &Args) -> Result<(), AnyError> {
    let url = args.url()?;
    let eio = args.eio()?;
    let n = args.num("sockets", 100)? as usize;
    let secs = args.num("secs", 5)?;
    let (sockets, _, errors) = connect_many(&url, eio, n, 32).await;
    // One warm-up request each.
    for r in futures_util::future::join_all(sockets.iter().map(|s| s.get("/hello"))).await {
        r?;
    }
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in &sockets {
        let (s, ok, failed) = (s.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match s.get("/hello").await {
                    Ok(j) if j.status_code == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        samples.push(us(t.elapsed()));
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await?);
    }
    let elapsed = started.elapsed();
    let mut out = latency_json(samples, elapsed);
    out["sockets"] = json!(sockets.len());
    out["connect_failed"] = json!(errors.len());
    out["failed"] = json!(failed.load(Ordering::Relaxed));
    out["secs"] = json!(round1(elapsed.as_secs_f64()));
    drop(sockets);
    emit("rps", "rust", args, out);
    Ok(())
}

/// `CALLER=block-on`: the work runs in `block_on` itself rather than in a spawned task.
fn caller_on_block_on_thread() -> bool {
    std::env::var("CALLER").as_deref() == Ok("block-on")
}

/// `RUNTIME=current-thread`: run on one thread, so there are no cross-thread wake-ups between the
/// caller's task and the socket's driver task.
fn current_thread_runtime() -> bool {
    std::env::var("RUNTIME").as_deref() == Ok("current-thread")
}

fn main() -> Result<(), AnyError> {
    let args = Args::parse()?;
    // `sails_io_stub::runtime`'s numbering: 1 is a current-thread runtime, 0 a worker per core. The `stub`
    // mode takes `STUB_THREADS` (default 1, as `sails-io-stub --threads`), the others `RUNTIME`.
    let threads: usize = if args.mode == "stub" {
        std::env::var("STUB_THREADS").map_or(Ok(1), |n| n.parse())?
    } else if current_thread_runtime() {
        1
    } else {
        0
    };
    let rt = sails_io_stub::runtime(threads)?;
    let work = async move {
        match args.mode.as_str() {
            "stub" => serve_stub().await,
            "echo-server" => serve_echo(&args).await,
            "instant-server" => serve_instant().await,
            "floor" => floor(&args).await,
            "rt" => round_trip(&args).await,
            "pipe" => pipelined(&args).await,
            "rt-raw" => raw_client(&args, true).await,
            "pipe-raw" => raw_client(&args, false).await,
            "many" => many(&args).await,
            "many-raw" => many_raw(&args).await,
            "broadcast" => broadcast(&args).await,
            "rps" => rps(&args).await,
            other => Err(format!("unknown mode {other}").into()),
        }
    };
    // The work runs as a task on the runtime, as application code usually does (a server's handlers, a
    // spawned job), for the floor and every client alike. `CALLER=block-on` runs it on the thread that
    // called `block_on` instead (the body of `#[tokio::main]`), which is not one of the multi-thread
    // runtime's workers: each hand-off between it and a task then wakes another thread.
    if caller_on_block_on_thread() {
        rt.block_on(work)?;
    } else {
        rt.block_on(rt.spawn(work))??;
    }
    // Do not wait for thousands of socket tasks to wind down.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}
