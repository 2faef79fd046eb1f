//! Deterministic tests of the `Connection` state machine on virtual time, driven by scripted server frames
//! taken from the real wire (sails.io.js 1.2.1 ⇄ sails-hook-sockets 3.0.2), for both protocol generations.

use sails_io::connection::backoff;
use sails_io::protocol::engine_io::Frame;
use sails_io::{
    Config, Connection, DisconnectReason, EioVersion, Error, Event, Method, Payload, Reconnection, Request, RequestId,
    Transmit,
};
use serde_json::json;
use web_time::{Duration, Instant};

const OPEN: &str =
    r#"0{"sid":"5MvB7elXwBcUfaSdAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}"#;
const OPEN_SHORT: &str = r#"0{"sid":"SHORT","upgrades":[],"pingInterval":700,"pingTimeout":400}"#;

/// A scripted peer: feeds frames and time to the connection and renders what comes out as text.
struct Peer {
    conn: Connection,
    t0: Instant,
    now: Instant,
}

impl Peer {
    fn new(config: Config) -> Self {
        let t0 = Instant::now();
        Peer { conn: Connection::new(config), t0, now: t0 }
    }

    fn eio(eio: EioVersion) -> Self {
        Peer::new(Config { eio, ..Config::default() })
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        self.now = self.t0 + Duration::from_millis(ms);
        self
    }

    fn server(&mut self, text: &str) -> &mut Self {
        self.conn.handle_frame(Frame::Text(text.into()), self.now);
        self
    }

    fn server_binary(&mut self, bytes: &[u8]) -> &mut Self {
        self.conn.handle_frame(Frame::Binary(bytes.to_vec()), self.now);
        self
    }

    /// Advances to `ms` and fires the timers.
    fn tick(&mut self, ms: u64) -> &mut Self {
        self.at(ms);
        self.conn.handle_timeout(self.now);
        self
    }

    fn request(&mut self, url: &str) -> RequestId {
        self.conn.request(Request::new(Method::Get, url), self.now).unwrap()
    }

    /// Everything the connection wants written, as text: `OPEN`, `CLOSE`, text frames, `<hex>` for binary.
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.conn.poll_transmit())
            .map(|t| match t {
                Transmit::Open => "OPEN".to_owned(),
                Transmit::Close => "CLOSE".to_owned(),
                Transmit::Frame(Frame::Text(t)) => t,
                Transmit::Frame(Frame::Binary(b)) => format!("<{}>", hex(&b)),
            })
            .collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    fn next_timeout_ms(&self) -> Option<u64> {
        self.conn.poll_timeout().map(|t| t.duration_since(self.t0).as_millis() as u64)
    }

    /// Connects through the whole handshake and drains the output.
    fn connected(eio: EioVersion, config: Config) -> Self {
        let mut p = Peer::new(Config { eio, ..config });
        p.conn.connect(p.now);
        p.server(OPEN);
        match eio {
            EioVersion::V3 => p.server("40"),
            EioVersion::V4 => p.server(r#"40{"sid":"uqN1jb6BNw4sDcgSAAAA"}"#),
        };
        p.sent();
        p.events();
        p
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

fn hello_frame(ack: u64) -> String {
    format!(r#"42{ack}["get",{{"method":"get","headers":{{}},"data":{{}},"url":"/hello"}}]"#)
}

fn responses(events: &[Event]) -> Vec<(RequestId, Result<u16, Error>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Response { id, result } => Some((*id, result.as_ref().map(|j| j.status_code).map_err(Clone::clone))),
            _ => None,
        })
        .collect()
}

#[test]
fn eio3_client_sends_nothing_until_the_servers_40() {
    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    assert_eq!(p.sent(), ["OPEN"]);
    let id = p.request("/hello");
    assert_eq!(p.sent(), Vec::<String>::new(), "queued, transport not open");
    p.at(3).server(OPEN);
    assert_eq!(p.sent(), Vec::<String>::new(), "EIO3: no `40`, no event before the server's `40`");
    assert!(!p.conn.is_connected());
    p.server("40");
    assert_eq!(p.sent(), [hello_frame(0)]);
    assert_eq!(p.events(), [Event::Connected { sid: "5MvB7elXwBcUfaSdAAAA".into() }]);
    assert_eq!(p.conn.socket_id(), Some("5MvB7elXwBcUfaSdAAAA"), "EIO3: socket id = engine sid");
    p.server(r#"430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#);
    match &p.events()[..] {
        [Event::Response { id: got, result: Ok(jwr) }] => {
            assert_eq!(*got, id);
            assert_eq!(jwr.body_json(), Some(&json!({"hello":"world"})));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn eio4_client_sends_40_and_takes_the_sid_from_the_reply() {
    let mut p = Peer::eio(EioVersion::V4);
    p.conn.connect(p.now);
    p.sent();
    p.request("/hello");
    p.server(r#"0{"sid":"XRIgQI4KTvEJHldlAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}"#);
    assert_eq!(p.sent(), ["40"]);
    assert!(p.events().is_empty());
    p.server(r#"40{"sid":"uqN1jb6BNw4sDcgSAAAA"}"#);
    assert_eq!(p.sent(), [hello_frame(0)]);
    assert_eq!(p.events(), [Event::Connected { sid: "uqN1jb6BNw4sDcgSAAAA".into() }]);
    assert_eq!(p.conn.engine_sid(), Some("XRIgQI4KTvEJHldlAAAA"));
}

#[test]
fn eio4_sends_the_auth_object_and_rejects_connect_without_sid() {
    let mut p = Peer::new(Config { eio: EioVersion::V4, auth: Some(json!({"token":"t"})), ..Config::default() });
    p.conn.connect(p.now);
    p.server(OPEN);
    assert_eq!(p.sent(), ["OPEN", r#"40{"token":"t"}"#]);
    p.server("40");
    assert_eq!(p.sent(), ["CLOSE"]);
    assert!(matches!(&p.events()[..], [Event::ConnectError { error: Error::Protocol(_) }]));
}

#[test]
fn queued_requests_flush_fifo_after_connect() {
    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    let ids: Vec<_> = ["/a", "/b", "/c"].iter().map(|u| p.request(u)).collect();
    assert_eq!(p.conn.queued_len(), 3);
    p.server(OPEN).server("40");
    let sent = p.sent();
    assert_eq!(sent.len(), 4, "OPEN + three requests: {sent:?}");
    for (i, url) in ["/a", "/b", "/c"].iter().enumerate() {
        assert!(sent[i + 1].starts_with(&format!("42{i}[\"get\"")) && sent[i + 1].contains(url), "{sent:?}");
    }
    // Acks in any order complete the right requests.
    p.server(r#"432[{"body":"c","statusCode":200}]"#).server(r#"430[{"body":"a","statusCode":201}]"#);
    assert_eq!(responses(&p.events()), [(ids[2], Ok(200)), (ids[0], Ok(201))]);
    assert_eq!(p.conn.in_flight_len(), 1);
}

#[test]
fn cancelled_requests_end_once_and_a_queued_one_is_never_sent() {
    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    let ids: Vec<_> = ["/a", "/b", "/c"].iter().map(|u| p.request(u)).collect();
    p.conn.cancel(ids[1]);
    assert_eq!(responses(&p.events()), [(ids[1], Err(Error::Cancelled))]);
    assert_eq!(p.conn.queued_len(), 2);
    p.server(OPEN).server("40");
    let sent = p.sent();
    assert_eq!(sent.len(), 3, "OPEN + /a and /c: {sent:?}");
    assert!(sent[1].contains("/a") && sent[2].contains("/c") && !sent.iter().any(|f| f.contains("/b")), "{sent:?}");
    p.events();
    // In flight: cancelled at once; its late answer is dropped, the other request still completes.
    p.conn.cancel(ids[0]);
    assert_eq!(responses(&p.events()), [(ids[0], Err(Error::Cancelled))]);
    assert_eq!(p.conn.in_flight_len(), 1);
    // (A request's ack id is its id: /c, the third request, is 432 on the wire.)
    p.server(r#"430[{"body":"a","statusCode":200}]"#).server(r#"432[{"body":"c","statusCode":200}]"#);
    assert_eq!(responses(&p.events()), [(ids[2], Ok(200))]);
    // Cancelling a request that already ended does nothing.
    p.conn.cancel(ids[0]);
    p.conn.cancel(ids[2]);
    assert!(p.events().is_empty());
    assert_eq!((p.conn.queued_len(), p.conn.in_flight_len()), (0, 0));
    // A cancelled request's deadline is gone with it.
    let timed = p.conn.request(Request::new(Method::Get, "/slow").timeout(Duration::from_millis(500)), p.now).unwrap();
    p.sent();
    p.conn.cancel(timed);
    assert_eq!(responses(&p.events()), [(timed, Err(Error::Cancelled))]);
    p.tick(1_000);
    assert!(responses(&p.events()).is_empty(), "no timeout after the cancel");
}

#[test]
fn many_requests_in_flight_and_unknown_acks_are_ignored() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let ids: Vec<_> = (0..500).map(|i| p.request(&format!("/n/{i}"))).collect();
    assert_eq!(p.sent().len(), 500);
    p.server(r#"43999[{"body":"nobody asked","statusCode":200}]"#);
    assert!(p.events().is_empty(), "an ack for an unknown id is dropped");
    for ack in (0..500).rev() {
        p.server(&format!(r#"43{ack}[{{"body":{ack},"statusCode":200}}]"#));
    }
    let got = responses(&p.events());
    assert_eq!(got.len(), 500);
    assert_eq!(got[0], (ids[499], Ok(200)));
    assert_eq!(p.conn.in_flight_len(), 0);
}

#[test]
fn transport_drop_fails_in_flight_keeps_queue_and_drops_late_acks() {
    let config =
        Config { reconnection: Reconnection { enabled: true, ..Reconnection::default() }, ..Config::default() };
    let mut p = Peer::connected(EioVersion::V3, config);
    let in_flight = p.request("/slow");
    p.sent();
    p.at(100);
    p.conn.transport_closed(None, p.now);
    assert_eq!(
        p.events(),
        [
            Event::Disconnected { reason: DisconnectReason::TransportClose },
            Event::Response { id: in_flight, result: Err(Error::Disconnected) }
        ]
    );
    assert!(p.conn.is_reconnect_pending());
    let queued = p.request("/while-down");
    let at = p.next_timeout_ms().unwrap();
    p.tick(at);
    assert_eq!(p.sent(), ["OPEN"]);
    assert_eq!(p.events(), [Event::Reconnecting { attempt: 1 }]);
    p.server(OPEN).server("40");
    assert_eq!(
        p.events(),
        [Event::Reconnected { attempt: 1 }, Event::Connected { sid: "5MvB7elXwBcUfaSdAAAA".into() }]
    );
    // The queued request goes out with a fresh ack id; the late ack for the old one (id 0) is dropped.
    assert_eq!(p.sent(), [r#"421["get",{"method":"get","headers":{},"data":{},"url":"/while-down"}]"#]);
    p.server(r#"430[{"body":"late","statusCode":200}]"#);
    assert!(p.events().is_empty());
    p.server(r#"431[{"body":"ok","statusCode":200}]"#);
    assert_eq!(responses(&p.events()), [(queued, Ok(200))]);
}

#[test]
fn eio3_heartbeat_client_pings_and_detects_a_dead_server() {
    let mut p = Peer::new(Config::default());
    p.conn.connect(p.now);
    p.server(OPEN_SHORT).server("40");
    p.sent();
    p.events();
    assert_eq!(p.next_timeout_ms(), Some(700), "first ping after pingInterval");
    p.tick(700);
    assert_eq!(p.sent(), ["2"]);
    assert_eq!(p.next_timeout_ms(), Some(1100), "after a ping, any packet within pingTimeout");
    p.at(800).server("3");
    assert_eq!(p.next_timeout_ms(), Some(1500), "next ping pingInterval after the pong");
    p.tick(1500);
    assert_eq!(p.sent(), ["2"]);
    p.tick(1899);
    assert!(p.sent().is_empty());
    p.tick(1900);
    assert_eq!(p.sent(), ["CLOSE"]);
    assert_eq!(p.events(), [Event::Disconnected { reason: DisconnectReason::PingTimeout }]);
    assert!(!p.conn.is_connected());
    assert_eq!(p.next_timeout_ms(), None, "reconnection is off by default, as in sails.io.js");
}

#[test]
fn eio3_any_packet_keeps_the_peer_alive() {
    let mut p = Peer::new(Config::default());
    p.conn.connect(p.now);
    p.server(OPEN_SHORT).server("40");
    p.sent();
    // Broadcasts keep arriving; no pong ever comes, but the server is alive.
    p.tick(700);
    assert_eq!(p.sent(), ["2"]);
    p.at(1000).server(r#"42["message",{}]"#);
    assert_eq!(p.next_timeout_ms(), Some(2100), "interval + timeout after the last packet");
    p.tick(2099);
    assert!(p.conn.is_connected());
    p.tick(2100);
    assert!(!p.conn.is_connected());
}

#[test]
fn eio4_heartbeat_server_pings_client_pongs() {
    let mut p = Peer::new(Config { eio: EioVersion::V4, ..Config::default() });
    p.conn.connect(p.now);
    p.server(OPEN_SHORT);
    p.server(r#"40{"sid":"x"}"#);
    p.sent();
    p.events();
    assert_eq!(p.next_timeout_ms(), Some(1100), "no client ping in EIO4: only the dead-peer deadline");
    p.tick(1000);
    assert!(p.sent().is_empty(), "an EIO4 client never pings");
    p.at(1050).server("2");
    assert_eq!(p.sent(), ["3"]);
    assert_eq!(p.next_timeout_ms(), Some(2150));
    p.at(1100).server("3");
    assert!(p.sent().is_empty(), "a pong from the server is ignored");
    p.tick(2150);
    assert_eq!(p.sent(), ["CLOSE"]);
    assert_eq!(p.events(), [Event::Disconnected { reason: DisconnectReason::PingTimeout }]);
}

#[test]
fn reconnect_schedule_follows_the_backoff_and_is_reproducible() {
    fn schedule(seed: u64) -> Vec<u64> {
        let policy = Reconnection { enabled: true, attempts: Some(5), ..Reconnection::default() };
        let mut p =
            Peer::connected(EioVersion::V3, Config { reconnection: policy, rng_seed: seed, ..Config::default() });
        p.conn.transport_closed(None, p.now);
        p.events();
        let mut delays = Vec::new();
        let mut last = 0;
        for attempt in 1..=5 {
            let at = p.next_timeout_ms().expect("an attempt is scheduled");
            delays.push(at - last);
            p.tick(at);
            assert_eq!(p.events(), [Event::Reconnecting { attempt }]);
            assert_eq!(p.sent(), ["OPEN"]);
            p.conn.transport_closed(Some(Error::Transport("connection refused".into())), p.now);
            let events = p.events();
            assert!(matches!(events[0], Event::ConnectError { .. }), "{events:?}");
            if attempt == 5 {
                assert_eq!(events[1..], [Event::ReconnectFailed]);
            }
            last = at;
        }
        assert_eq!(p.next_timeout_ms(), None, "gave up after 5 attempts");
        delays
    }
    let a = schedule(1);
    assert_eq!(a, schedule(1), "same seed, same schedule");
    assert_ne!(a, schedule(2), "jitter depends on the seed");
    for (n, delay) in a.iter().enumerate() {
        let base = (1000u64 << n).min(5000) as f64;
        let (lo, hi) = ((1000u64 << n) as f64 * 0.5, (base * 1.5).min(5000.0));
        assert!((lo.min(5000.0)..=hi).contains(&(*delay as f64)), "attempt {}: {delay} ms", n + 1);
    }
}

#[test]
fn backoff_matches_socket_io_client() {
    let policy = Reconnection::default();
    // rand = 0.0: (floor(0)&1)==0 -> ms - 0.
    assert_eq!(backoff(&policy, 0, 0.0), Duration::from_millis(1000));
    assert_eq!(backoff(&policy, 1, 0.0), Duration::from_millis(2000));
    assert_eq!(backoff(&policy, 3, 0.0), Duration::from_millis(5000), "capped at delay_max");
    // rand = 0.15: floor(1.5)=1 odd -> ms + floor(0.15*0.5*1000)=75.
    assert_eq!(backoff(&policy, 0, 0.15), Duration::from_millis(1075));
    // rand = 0.25: floor(2.5)=2 even -> ms - 125.
    assert_eq!(backoff(&policy, 0, 0.25), Duration::from_millis(875));
    assert_eq!(backoff(&policy, 200, 0.9), Duration::from_millis(5000), "huge attempts stay capped");
}

#[test]
fn server_41_stops_reconnection() {
    let config =
        Config { reconnection: Reconnection { enabled: true, ..Reconnection::default() }, ..Config::default() };
    let mut p = Peer::connected(EioVersion::V3, config);
    let id = p.request("/x");
    p.sent();
    p.server("41");
    assert_eq!(p.sent(), ["CLOSE"]);
    assert_eq!(
        p.events(),
        [
            Event::Disconnected { reason: DisconnectReason::ServerDisconnect },
            Event::Response { id, result: Err(Error::Disconnected) }
        ]
    );
    assert_eq!(p.next_timeout_ms(), None);
    assert!(!p.conn.is_reconnect_pending());
    // An explicit connect() still works.
    p.conn.connect(p.now);
    assert_eq!(p.sent(), ["OPEN"]);
}

#[test]
fn client_disconnect_sends_41_and_ends_everything() {
    let config =
        Config { reconnection: Reconnection { enabled: true, ..Reconnection::default() }, ..Config::default() };
    let mut p = Peer::connected(EioVersion::V4, config);
    let sent = p.request("/a");
    p.sent();
    p.conn.disconnect();
    assert_eq!(p.sent(), ["41", "CLOSE"]);
    assert_eq!(
        p.events(),
        [
            Event::Disconnected { reason: DisconnectReason::ClientDisconnect },
            Event::Response { id: sent, result: Err(Error::Disconnected) }
        ]
    );
    assert_eq!(p.next_timeout_ms(), None, "no reconnection after disconnect()");
    // Frames from the dead transport change nothing.
    p.server(r#"430[{"statusCode":200}]"#);
    assert!(p.events().is_empty());
    // Requests made afterwards wait for the next connect().
    let later = p.request("/b");
    assert_eq!(p.conn.queued_len(), 1);
    p.conn.connect(p.now);
    p.server(OPEN).server(r#"40{"sid":"n"}"#);
    let out = p.sent();
    assert_eq!(out[..2], ["OPEN".to_owned(), "40".to_owned()]);
    assert!(out[2].starts_with(r#"421["get""#), "ack ids keep counting: {out:?}");
    p.server(r#"431[{"statusCode":204}]"#);
    assert_eq!(responses(&p.events()), [(later, Ok(204))]);
}

#[test]
fn disconnect_while_queued_ends_the_queue() {
    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    let id = p.request("/q");
    p.conn.disconnect();
    assert_eq!(p.sent(), ["OPEN", "CLOSE"]);
    assert_eq!(p.events(), [Event::Response { id, result: Err(Error::Disconnected) }]);
}

#[test]
fn request_deadlines_end_queued_and_in_flight_requests() {
    let config = Config { request_timeout: Some(Duration::from_millis(500)), ..Config::default() };
    let mut p = Peer::new(config);
    let queued = p.request("/never-connected");
    assert_eq!(p.next_timeout_ms(), Some(500));
    p.tick(500);
    assert_eq!(responses(&p.events()), [(queued, Err(Error::Timeout("no response before the request timeout")))]);
    assert_eq!(p.conn.queued_len(), 0);

    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let short = p.conn.request(Request::new(Method::Get, "/slow").timeout(Duration::from_millis(50)), p.now).unwrap();
    let other = p.request("/other");
    p.sent();
    p.tick(50);
    assert_eq!(responses(&p.events()), [(short, Err(Error::Timeout("no response before the request timeout")))]);
    p.server(r#"430[{"body":"too late","statusCode":200}]"#);
    assert!(p.events().is_empty(), "the late ack of a timed-out request is dropped");
    p.server(r#"431[{"statusCode":200}]"#);
    assert_eq!(responses(&p.events()), [(other, Ok(200))]);
}

#[test]
fn parse_error_ack_and_event() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let id = p.request("");
    p.sent();
    let err = r#"{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","stack":"…","details":"No url provided in request: { method: 'get', data: {} }"}"#;
    p.server(&format!("430[{err}]"));
    match &p.events()[..] {
        [Event::Response { id: got, result: Err(Error::Server(e)) }] => {
            assert_eq!(*got, id);
            assert_eq!(e.details, "No url provided in request: { method: 'get', data: {} }");
        }
        other => panic!("{other:?}"),
    }
    p.server(&format!(r#"42["sails:parseError",{err}]"#));
    assert!(matches!(&p.events()[..], [Event::ServerEvent { name, ack: None, .. }] if name == "sails:parseError"));
}

#[test]
fn binary_ack_body_in_both_generations() {
    for (eio, frame) in [(EioVersion::V3, vec![4u8, 1, 2, 3]), (EioVersion::V4, vec![1u8, 2, 3])] {
        let mut p = Peer::connected(eio, Config::default());
        let id = p.request("/file");
        p.sent();
        p.server(r#"461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]"#);
        assert!(p.events().is_empty(), "waits for the attachment");
        p.server_binary(&frame);
        match &p.events()[..] {
            [Event::Response { id: got, result: Ok(jwr) }] => {
                assert_eq!(*got, id);
                assert_eq!(jwr.body_bytes(), Some(&[1u8, 2, 3][..]));
            }
            other => panic!("{eio:?}: {other:?}"),
        }
    }
}

#[test]
fn server_events_with_binary_and_acks() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    p.server(r#"451-["bin",{"buf":{"_placeholder":true,"num":0}}]"#).server_binary(&[4, 0xde, 0xad]);
    match &p.events()[..] {
        [Event::ServerEvent { name, args, ack: None }] => {
            assert_eq!(name, "bin");
            assert_eq!(args, &[Payload::Object(vec![("buf".into(), Payload::Binary(vec![0xde, 0xad]))])]);
        }
        other => panic!("{other:?}"),
    }
    p.server(r#"425["question",{"q":1}]"#);
    assert!(matches!(&p.events()[..], [Event::ServerEvent { ack: Some(5), .. }]));
    p.conn.ack(5, vec![json!({"a":2}).into()]);
    assert_eq!(p.sent(), [r#"435[{"a":2}]"#]);
    p.conn.ack(6, vec![Payload::Binary(vec![9])]);
    assert_eq!(p.sent(), [r#"461-6[{"_placeholder":true,"num":0}]"#, "<04 09>"]);
}

#[test]
fn connect_timeout_and_handshake_rejection() {
    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    p.sent();
    assert_eq!(p.next_timeout_ms(), Some(20_000));
    p.tick(20_000);
    assert_eq!(p.sent(), ["CLOSE"]);
    assert_eq!(p.events(), [Event::ConnectError { error: Error::Timeout("connecting") }]);

    let mut p = Peer::eio(EioVersion::V3);
    p.conn.connect(p.now);
    p.sent();
    let rejection = Error::Handshake { status: 400, body: "Forbidden".into() };
    p.conn.transport_closed(Some(rejection.clone()), p.now);
    assert!(p.sent().is_empty(), "the transport is already gone");
    assert_eq!(p.events(), [Event::ConnectError { error: rejection }]);
    assert!(!p.conn.is_connecting());
}

#[test]
fn a_socket_that_gives_up_connecting_ends_its_queued_requests_with_the_error() {
    // Reconnection off: the one attempt fails, nothing will send the queue, so it ends at once.
    let mut p = Peer::eio(EioVersion::V3);
    let queued = [p.request("/a"), p.request("/b")];
    p.conn.connect(p.now);
    p.sent();
    let refused = Error::Transport("connection refused".into());
    p.conn.transport_closed(Some(refused.clone()), p.now);
    assert_eq!(
        p.events(),
        [
            Event::ConnectError { error: refused.clone() },
            Event::Response { id: queued[0], result: Err(refused.clone()) },
            Event::Response { id: queued[1], result: Err(refused.clone()) },
        ]
    );
    // A later request waits for a later connect(), which sends it.
    let later = p.request("/c");
    assert!(p.events().is_empty());
    p.conn.connect(p.now);
    p.server(OPEN).server("40");
    assert_eq!(p.sent(), ["OPEN", &hello_frame(later.0).replace("/hello", "/c")]);
    assert!(responses(&p.events()).is_empty(), "{later:?} is in flight");

    // Reconnection on: queued requests wait through failed attempts, and end with the last attempt's
    // error when the attempts are used up.
    let policy = Reconnection { enabled: true, attempts: Some(1), ..Reconnection::default() };
    let mut p = Peer::connected(EioVersion::V3, Config { reconnection: policy, ..Config::default() });
    p.conn.transport_closed(None, p.now);
    p.events();
    let queued = p.request("/a");
    let at = p.next_timeout_ms().expect("an attempt is scheduled");
    p.tick(at);
    p.sent();
    p.conn.transport_closed(Some(refused.clone()), p.now);
    assert_eq!(
        p.events(),
        [
            Event::Reconnecting { attempt: 1 },
            Event::ConnectError { error: refused.clone() },
            Event::ReconnectFailed,
            Event::Response { id: queued, result: Err(refused.clone()) },
        ]
    );

    // A driver that gives up waiting for the next attempt (an explicit connect that fails fast) ends
    // the queue with the error it got.
    let policy = Reconnection { enabled: true, ..Reconnection::default() };
    let mut p = Peer::new(Config { reconnection: policy, ..Config::default() });
    let queued = p.request("/a");
    p.conn.connect(p.now);
    p.conn.transport_closed(Some(refused.clone()), p.now);
    assert_eq!(p.events(), [Event::ConnectError { error: refused.clone() }]);
    assert!(p.conn.is_reconnect_pending());
    p.conn.stop_reconnecting(refused.clone());
    assert_eq!(responses(&p.events()), [(queued, Err(refused.clone()))]);
    assert!(!p.conn.is_reconnect_pending() && p.next_timeout_ms().is_none());

    // A connect timeout ends them the same way.
    let mut p = Peer::eio(EioVersion::V4);
    let queued = p.request("/a");
    p.conn.connect(p.now);
    p.tick(20_000);
    assert_eq!(responses(&p.events()), [(queued, Err(Error::Timeout("connecting")))]);
}

#[test]
fn connect_error_packet_refuses_without_reconnecting() {
    let config =
        Config { reconnection: Reconnection { enabled: true, ..Reconnection::default() }, ..Config::default() };
    let mut p = Peer::new(Config { eio: EioVersion::V4, ..config });
    p.conn.connect(p.now);
    let queued = p.request("/a");
    p.server(OPEN).server(r#"44{"message":"Not authorized"}"#);
    assert_eq!(p.sent(), ["OPEN", "40", "CLOSE"]);
    let refused = Error::Refused("Not authorized".into());
    assert_eq!(
        p.events(),
        [Event::ConnectError { error: refused.clone() }, Event::Response { id: queued, result: Err(refused) }]
    );
    assert_eq!(p.next_timeout_ms(), None);
}

#[test]
fn malformed_frames_close_the_connection_and_end_requests() {
    let bad_frames: &[&str] = &["", "9", "42[", "42{\"a\":1}", "4x", "43x", "451-", "0{\"sid\":1}"];
    for bad in bad_frames {
        let mut p = Peer::connected(EioVersion::V3, Config::default());
        let id = p.request("/x");
        p.sent();
        p.server(bad);
        let events = p.events();
        assert_eq!(p.sent(), ["CLOSE"], "{bad:?}");
        assert!(
            matches!(events[0], Event::Disconnected { reason: DisconnectReason::ProtocolError(_) }),
            "{bad:?}: {events:?}"
        );
        assert_eq!(events[1], Event::Response { id, result: Err(Error::Disconnected) }, "{bad:?}");
    }
}

#[test]
fn binary_frame_without_header_is_a_protocol_error() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    p.server_binary(&[4, 1, 2]);
    assert_eq!(p.sent(), ["CLOSE"]);
}

#[test]
fn invalid_requests_are_refused_synchronously() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let err = p.conn.request(Request::new(Method::Post, "/x").data(json!(5)), p.now).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)));
    assert!(p.sent().is_empty());
}

#[test]
fn binary_request_data_goes_out_as_attachments_in_both_generations() {
    for (eio, attachment) in [(EioVersion::V3, "<04 89 50>"), (EioVersion::V4, "<89 50>")] {
        let mut p = Peer::connected(eio, Config::default());
        let data = Payload::Object(vec![
            ("name".into(), Payload::Json(json!("logo.png"))),
            ("file".into(), Payload::Binary(vec![0x89, 0x50])),
        ]);
        let id = p.conn.request(Request::new(Method::Post, "/upload").header("x-a", "1").data(data), p.now).unwrap();
        assert_eq!(
            p.sent(),
            [
                r#"451-0["post",{"method":"post","headers":{"x-a":"1"},"data":{"name":"logo.png","file":{"_placeholder":true,"num":0}},"url":"/upload"}]"#,
                attachment
            ],
            "{eio:?}"
        );
        p.server(r#"430[{"body":{"ok":true},"headers":{},"statusCode":201}]"#);
        assert_eq!(responses(&p.events()), [(id, Ok(201))]);
    }
    // Binary data alone is not a dictionary: refused as sails.io.js refuses a string.
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let err = p.conn.request(Request::new(Method::Post, "/x").data(Payload::Binary(vec![1])), p.now).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)));
    assert!(p.sent().is_empty());
}

#[test]
fn default_headers_are_merged_into_each_request() {
    let config =
        Config { headers: vec![("x-foo".into(), "g".into()), ("x-bar".into(), "g".into())], ..Config::default() };
    let mut p = Peer::connected(EioVersion::V3, config);
    p.conn.request(Request::new(Method::Get, "/h").header("x-foo", "local"), p.now).unwrap();
    assert_eq!(
        p.sent(),
        [r#"420["get",{"method":"get","headers":{"x-foo":"local","x-bar":"g"},"data":{},"url":"/h"}]"#]
    );
}

#[test]
fn close_ends_every_request_with_closed() {
    let mut p = Peer::connected(EioVersion::V3, Config::default());
    let a = p.request("/a");
    p.sent();
    p.conn.close();
    assert_eq!(p.sent(), ["41", "CLOSE"]);
    let ev = p.events();
    assert_eq!(responses(&ev), [(a, Err(Error::Closed))]);
}
