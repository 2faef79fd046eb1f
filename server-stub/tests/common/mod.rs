//! Raw-frame test client (tokio-tungstenite) and server start-up shared by the integration tests.
//! It deliberately does not use the `sails-io` client crate: the stub is an independent cross-check.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sails_io_stub::{Builder, RunningServer};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SDK_QUERY: &str =
    "__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript";
pub const T: Duration = Duration::from_secs(5);

/// Start the conformance app on 127.0.0.1, any port.
pub async fn start() -> RunningServer {
    start_with(Builder::new()).await
}

/// Start a configured builder with the conformance app on 127.0.0.1, any port.
pub async fn start_with(b: Builder) -> RunningServer {
    // In a workspace-wide build reqwest is unified with the client crate's `rustls-no-provider`
    // feature, which needs a process-wide crypto provider before any reqwest::Client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    b.host("127.0.0.1").port(0).app(sails_io_stub::demo::router()).start().await.expect("server starts")
}

/// A frame as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Closed,
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub eio: u8,
    pub sid: String,
    pub open: Value,
    /// Socket.IO id (`40{"sid"}` for EIO4, the engine sid for EIO3).
    pub id: String,
    /// Server events (`42[...]` frames) seen while waiting for something else.
    pub events: Vec<Value>,
}

pub fn ws_url(server: &RunningServer, eio: &str, extra_query: &str) -> String {
    let mut q = String::new();
    if !extra_query.is_empty() {
        q.push_str(extra_query);
        q.push('&');
    }
    if !eio.is_empty() {
        q.push_str("EIO=");
        q.push_str(eio);
        q.push('&');
    }
    q.push_str("transport=websocket");
    format!("ws://{}/socket.io/?{}", server.addr(), q)
}

/// Open a raw WebSocket (no engine.io handshake processing).
pub async fn raw_ws(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().expect("valid url");
    for (k, v) in headers {
        req.headers_mut().insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

pub async fn next_frame(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>, t: Duration) -> Option<Frame> {
    loop {
        match tokio::time::timeout(t, ws.next()).await {
            Err(_) => return None,
            Ok(None) | Ok(Some(Err(_))) => return Some(Frame::Closed),
            Ok(Some(Ok(Message::Text(s)))) => return Some(Frame::Text(s.to_string())),
            Ok(Some(Ok(Message::Binary(b)))) => return Some(Frame::Binary(b.to_vec())),
            Ok(Some(Ok(Message::Close(_)))) => return Some(Frame::Closed),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

impl Client {
    /// Connect with the sails.io.js query, EIO 3 (`"3"`) or 4 (`"4"`), and complete the Socket.IO connect.
    pub async fn connect(server: &RunningServer, eio: &str) -> Client {
        Client::connect_with(server, eio, SDK_QUERY, &[]).await
    }

    pub async fn connect_with(server: &RunningServer, eio: &str, query: &str, headers: &[(&str, &str)]) -> Client {
        let url = ws_url(server, eio, query);
        let mut ws = raw_ws(&url, headers).await.expect("ws connects");
        let open = match next_frame(&mut ws, T).await {
            Some(Frame::Text(t)) if t.starts_with('0') => t,
            other => panic!("expected open packet, got {other:?}"),
        };
        let open: Value = serde_json::from_str(&open[1..]).unwrap();
        let sid = open["sid"].as_str().unwrap().to_owned();
        let eio_n = if eio == "4" { 4 } else { 3 };
        let id;
        if eio_n == 4 {
            ws.send(Message::text("40")).await.unwrap();
            let mut reply = next_frame(&mut ws, T).await;
            // engineioxide pings right after the open packet (README: differences)
            if reply == Some(Frame::Text("2".into())) {
                ws.send(Message::text("3")).await.unwrap();
                reply = next_frame(&mut ws, T).await;
            }
            match reply {
                Some(Frame::Text(t)) if t.starts_with("40{") => {
                    let v: Value = serde_json::from_str(&t[2..]).unwrap();
                    id = v["sid"].as_str().unwrap().to_owned();
                }
                other => panic!("expected 40{{sid}}, got {other:?}"),
            }
        } else {
            match next_frame(&mut ws, T).await {
                Some(Frame::Text(t)) if t == "40" => {}
                other => panic!("expected bare 40, got {other:?}"),
            }
            id = sid.clone();
        }
        Client { ws, eio: eio_n, sid, open, id, events: Vec::new() }
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_owned())).await.unwrap();
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        let _ = self.ws.send(Message::binary(b)).await;
    }

    /// The next frame, answering (and skipping) EIO4 server pings.
    pub async fn next(&mut self, t: Duration) -> Option<Frame> {
        loop {
            let f = next_frame(&mut self.ws, t).await;
            if self.eio == 4 && f == Some(Frame::Text("2".into())) {
                self.send("3").await;
                continue;
            }
            return f;
        }
    }

    /// Send `42<id>["<verb>",<payload>]` and wait for `43<id>[x]`; returns `x` (events seen meanwhile go to
    /// `self.events`).
    pub async fn emit_ack(&mut self, id: u64, args: &str) -> Value {
        self.send(&format!("42{id}{args}")).await;
        self.wait_ack(id).await
    }

    pub async fn wait_ack(&mut self, id: u64) -> Value {
        let prefix = format!("43{id}[");
        loop {
            match self.next(T).await {
                Some(Frame::Text(t)) if t.starts_with(&prefix) => {
                    let v: Value = serde_json::from_str(&t[prefix.len() - 1..]).unwrap();
                    let arr = v.as_array().unwrap();
                    assert_eq!(arr.len(), 1, "one ack argument: {t}");
                    return arr[0].clone();
                }
                Some(Frame::Text(t)) if t.starts_with("42[") => {
                    self.events.push(serde_json::from_str(&t[2..]).unwrap());
                }
                Some(Frame::Text(t)) if t == "2" || t == "3" => {
                    if self.eio == 4 && t == "2" {
                        self.send("3").await;
                    }
                }
                other => panic!("waiting for ack {id}: got {other:?}"),
            }
        }
    }

    /// A sails.io.js request: `42<id>["<verb>",{"method","headers","data","url"}]` → the JWR.
    pub async fn request(&mut self, id: u64, verb: &str, url: &str, data: Value) -> Value {
        let payload = serde_json::json!({"method": verb, "headers": {}, "data": data, "url": url});
        self.emit_ack(id, &format!("[\"{verb}\",{payload}]")).await
    }

    /// Collect server events for `t` (answering EIO4 pings).
    pub async fn collect_events(&mut self, t: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match self.next(left).await {
                Some(Frame::Text(t)) if t.starts_with("42[") => {
                    self.events.push(serde_json::from_str(&t[2..]).unwrap())
                }
                Some(Frame::Text(t)) if t == "2" && self.eio == 4 => self.send("3").await,
                None => break,
                Some(Frame::Closed) => panic!("socket closed while collecting events"),
                Some(_) => {}
            }
        }
        std::mem::take(&mut self.events)
    }

    /// Expect the server to close this connection within `t` (frames before the close are returned).
    pub async fn expect_closed(&mut self, t: Duration) -> Vec<Frame> {
        let mut seen = Vec::new();
        loop {
            match self.next(t).await {
                Some(Frame::Closed) => return seen,
                None => panic!("connection still open; frames seen: {seen:?}"),
                Some(f) => seen.push(f),
            }
        }
    }
}

/// Events named `name` with their single argument.
pub fn events_named(events: &[Value], name: &str) -> Vec<Value> {
    events.iter().filter(|e| e[0] == name).map(|e| e.get(1).cloned().unwrap_or(Value::Null)).collect()
}
