//! Drives the sans-IO [`Connection`] through a whole session with a scripted server, on virtual time,
//! and prints every frame and event: the handshake, a queued request, a broadcast, heartbeats, a server
//! restart with reconnection, and a request that ends because the transport dropped.
//!
//! Run: `cargo run -p sails-io --example scripted_session` (add `-- 4` for Engine.IO 4).

use sails_io::protocol::engine_io::Frame;
use sails_io::{Config, Connection, EioVersion, Event, Method, Reconnection, Request, Transmit};
use serde_json::json;
use web_time::{Duration, Instant};

fn main() {
    let eio = match std::env::args().nth(1).as_deref() {
        Some("4") => EioVersion::V4,
        _ => EioVersion::V3,
    };
    let config =
        Config { eio, reconnection: Reconnection { enabled: true, ..Reconnection::default() }, ..Config::default() };
    let mut conn = Connection::new(config);
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let open = r#"0{"sid":"ENGINE-SID","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
    let server_connect = match eio {
        EioVersion::V3 => "40",
        EioVersion::V4 => r#"40{"sid":"SOCKET-ID"}"#,
    };

    println!("# Engine.IO {} session", eio.query_value());
    conn.connect(at(0));
    let hello = conn.request(Request::new(Method::Get, "/hello"), at(0)).expect("valid request");
    println!("client: request {hello:?} GET /hello (queued until connected)");
    drain(&mut conn, 0);
    for frame in [open, server_connect] {
        server(&mut conn, t0, frame, 5);
    }
    server(&mut conn, t0, r#"430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#, 10);
    server(&mut conn, t0, r#"42["message",{"greeting":"hi"}]"#, 12);

    // Heartbeats. EIO 3: the client pings when its deadline comes and the server pongs.
    // EIO 4: the server pings every pingInterval and the client pongs at once.
    for k in 1..=2u64 {
        match eio {
            EioVersion::V3 => {
                let next = conn.poll_timeout().expect("a connected socket always has a heartbeat deadline");
                let ms = next.duration_since(t0).as_millis() as u64;
                conn.handle_timeout(next);
                drain(&mut conn, ms);
                server(&mut conn, t0, "3", ms + 1);
            }
            EioVersion::V4 => server(&mut conn, t0, "2", 5 + 25_000 * k),
        }
    }

    // A request in flight when the server goes away ends with a typed error; then the client reconnects.
    let pending =
        conn.request(Request::new(Method::Post, "/echo").data(json!({"n": 1})), at(60_000)).expect("valid request");
    println!("client: request {pending:?} POST /echo");
    drain(&mut conn, 60_000);
    println!("transport: closed by the server");
    conn.transport_closed(None, at(60_010));
    drain(&mut conn, 60_010);
    let retry = conn.poll_timeout().expect("a reconnection is scheduled");
    let ms = retry.duration_since(t0).as_millis() as u64;
    conn.handle_timeout(retry);
    drain(&mut conn, ms);
    for frame in [open, server_connect] {
        server(&mut conn, t0, frame, ms + 5);
    }
}

fn server(conn: &mut Connection, t0: Instant, text: &str, ms: u64) {
    println!("[{ms:>6} ms] server -> {text}");
    conn.handle_frame(Frame::Text(text.into()), t0 + Duration::from_millis(ms));
    drain(conn, ms);
}

fn drain(conn: &mut Connection, ms: u64) {
    while let Some(t) = conn.poll_transmit() {
        match t {
            Transmit::Open => println!("[{ms:>6} ms] client: open WebSocket"),
            Transmit::Close => println!("[{ms:>6} ms] client: close WebSocket"),
            Transmit::Frame(Frame::Text(text)) => println!("[{ms:>6} ms] client -> {text}"),
            Transmit::Frame(Frame::Binary(bytes)) => println!("[{ms:>6} ms] client -> <{} bytes>", bytes.len()),
        }
    }
    while let Some(e) = conn.poll_event() {
        match e {
            Event::Response { id, result: Ok(jwr) } => {
                println!("[{ms:>6} ms] event: response {id:?} {}", jwr.to_json())
            }
            other => println!("[{ms:>6} ms] event: {other:?}"),
        }
    }
}
