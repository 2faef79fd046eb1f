//! [`Connection`]: the sans-IO state machine of one Sails socket.
//!
//! It owns everything a socket does that is not I/O: the Engine.IO and Socket.IO handshakes for both
//! protocol generations, heartbeats, the request queue, the ack table, request deadlines and the
//! reconnection schedule. A driver feeds it inputs (frames, the transport closing, the time) and carries
//! out its outputs:
//!
//! - [`Connection::poll_transmit`]: open the transport, write a frame, close the transport;
//! - [`Connection::poll_timeout`]: when to call [`Connection::handle_timeout`] next;
//! - [`Connection::poll_event`]: what to tell the user.
//!
//! Time is always passed in, so tests run on virtual time and the same code runs under tokio and in the
//! browser.
//!
//! ```
//! use sails_io::connection::{Config, Connection, Event, Transmit};
//! use sails_io::protocol::engine_io::Frame;
//! use sails_io::{Method, Request};
//! use web_time::{Duration, Instant};
//!
//! let t0 = Instant::now();
//! let mut conn = Connection::new(Config::default());
//! conn.connect(t0);
//! assert_eq!(conn.poll_transmit(), Some(Transmit::Open));
//! // A request made before the connection is up waits in the queue.
//! let id = conn.request(Request::new(Method::Get, "/hello"), t0).unwrap();
//! assert_eq!(conn.poll_transmit(), None);
//! // The server's Engine.IO handshake, then (EIO 3) its unprompted Socket.IO connect.
//! conn.handle_frame(Frame::Text(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#.into()), t0);
//! conn.handle_frame(Frame::Text("40".into()), t0);
//! assert!(matches!(conn.poll_event(), Some(Event::Connected { .. })));
//! // Now the queued request goes out with ack id 0 …
//! assert_eq!(
//!     conn.poll_transmit(),
//!     Some(Transmit::Frame(Frame::Text(r#"420["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#.into())))
//! );
//! // … and the server's ack completes it.
//! conn.handle_frame(Frame::Text(r#"430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#.into()), t0);
//! match conn.poll_event() {
//!     Some(Event::Response { id: done, result: Ok(jwr) }) => {
//!         assert_eq!(done, id);
//!         assert_eq!(jwr.status_code, 200);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! // The next heartbeat (EIO 3: the client pings) is due after pingInterval.
//! assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_millis(25000)));
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

use web_time::{Duration, Instant};

use crate::error::{Error, ProtocolError};
use crate::protocol::engine_io::{self, EioVersion, Frame, OpenPacket, Packet as EioPacket, PacketData, PacketType};
use crate::protocol::json::{Json, JsonExt};
use crate::protocol::payload::Payload;
use crate::protocol::sails::{Jwr, Request};
use crate::protocol::socket_io::{self, Decoder, Packet as SioPacket, PacketKind};

/// Identifies a request for its whole life (queued, in flight, answered). Ids count up from 0 for the
/// connection's whole life, reconnections included; a sent request's ack id on the wire is its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// The reconnection policy, with socket.io-client's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnection {
    /// Reconnect automatically after the transport drops. sails.io.js defaults this to `false`.
    pub enabled: bool,
    /// Give up after this many attempts (`None`: never give up).
    pub attempts: Option<u32>,
    /// The first delay (1000 ms); each attempt doubles it.
    pub delay: Duration,
    /// The largest delay (5000 ms).
    pub delay_max: Duration,
    /// Jitter factor in `0.0..=1.0` (0.5): each delay moves by up to this fraction, up or down.
    pub randomization: f64,
}

impl Default for Reconnection {
    fn default() -> Self {
        Reconnection {
            enabled: false,
            attempts: None,
            delay: Duration::from_millis(1000),
            delay_max: Duration::from_millis(5000),
            randomization: 0.5,
        }
    }
}

/// Settings of a [`Connection`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The protocol generation: EIO 3 + Socket.IO v4 (sails.io.js) or EIO 4 + Socket.IO v5.
    pub eio: EioVersion,
    /// Reconnection policy.
    pub reconnection: Reconnection,
    /// How long a connection attempt may take, up to the Socket.IO connect (20 s as socket.io-client).
    pub connect_timeout: Duration,
    /// The default deadline of every request, counted from the call (`None`: wait as long as the
    /// connection lives, as sails.io.js does).
    pub request_timeout: Option<Duration>,
    /// Headers added to every request that does not set them.
    pub headers: Vec<(String, String)>,
    /// The auth object sent in the EIO 4 CONNECT packet (`40{…}`).
    pub auth: Option<Json>,
    /// Most attachments accepted in one binary packet.
    pub max_attachments: usize,
    /// Seed of the jitter generator, so reconnect schedules can be replayed in tests.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            eio: EioVersion::V3,
            reconnection: Reconnection::default(),
            connect_timeout: Duration::from_secs(20),
            request_timeout: None,
            headers: Vec::new(),
            auth: None,
            max_attachments: socket_io::DEFAULT_MAX_ATTACHMENTS,
            rng_seed: 0x5a11_5105,
        }
    }
}

/// What the driver must do with the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a new transport (WebSocket) to the handshake URL.
    Open,
    /// Write this frame.
    Frame(Frame),
    /// Close the transport. The driver must not report this close back through
    /// [`Connection::transport_closed`].
    Close,
}

/// Why a connected socket disconnected. [`as_str`](Self::as_str) gives socket.io-client's reason strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The transport closed (server restart, network drop).
    TransportClose,
    /// The transport failed with an error.
    TransportError(String),
    /// The peer stopped answering heartbeats within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server disconnected the socket (`41`); no automatic reconnection follows.
    ServerDisconnect,
    /// [`Connection::disconnect`] was called; no automatic reconnection follows.
    ClientDisconnect,
    /// The server broke the protocol; the connection was closed.
    ProtocolError(ProtocolError),
}

impl DisconnectReason {
    /// The reason string socket.io-client gives its `disconnect` event.
    pub fn as_str(&self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError(_) => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ServerDisconnect => "io server disconnect",
            DisconnectReason::ClientDisconnect => "io client disconnect",
            DisconnectReason::ProtocolError(_) => "parse error",
        }
    }

    /// True if this reason stops automatic reconnection.
    pub fn is_final(&self) -> bool {
        matches!(self, DisconnectReason::ServerDisconnect | DisconnectReason::ClientDisconnect)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::TransportError(e) => crate::error::write_pieces(f, &["transport error: ", e]),
            DisconnectReason::ProtocolError(e) => {
                f.write_str("parse error: ")?;
                fmt::Display::fmt(e, f)
            }
            other => f.write_str(other.as_str()),
        }
    }
}

/// Something for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The Socket.IO connection is up; `sid` is the socket id as the server sees it.
    Connected {
        /// EIO 3: the Engine.IO session id; EIO 4: the id from the server's `40{"sid"}`.
        sid: String,
    },
    /// The connection came back after `attempt` reconnection attempts (followed by [`Event::Connected`]).
    Reconnected {
        /// How many attempts it took.
        attempt: u32,
    },
    /// A connected socket lost its connection.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// A connection attempt failed (before the socket was connected).
    ConnectError {
        /// Why.
        error: Error,
    },
    /// Reconnection attempt number `attempt` starts now.
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// The reconnection attempts are used up.
    ReconnectFailed,
    /// A request ended.
    Response {
        /// The request.
        id: RequestId,
        /// The server's response, or why there is none.
        result: Result<Jwr, Error>,
    },
    /// The server emitted an event (a broadcast, a pubsub message, `sails:parseError`, …).
    ServerEvent {
        /// The event name.
        name: String,
        /// Its arguments (usually one).
        args: Vec<Payload>,
        /// Present when the server wants an answer: pass it to [`Connection::ack`].
        ack: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not connected and not trying to be.
    Idle,
    /// The transport is being opened; waiting for the Engine.IO open packet.
    Opening,
    /// Engine.IO is open; waiting for the Socket.IO connect.
    Handshaking,
    /// Connected at the Socket.IO level.
    Connected,
    /// Waiting for the next reconnection attempt.
    WaitingReconnect(Instant),
}

impl State {
    /// For error messages (no `Debug`: it would format the `Instant`, and with it floats, in the wasm build).
    fn name(&self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Opening => "Opening",
            State::Handshaking => "Handshaking",
            State::Connected => "Connected",
            State::WaitingReconnect(_) => "WaitingReconnect",
        }
    }
}

#[derive(Debug, Default)]
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    /// EIO 3: when the client sends its next ping (`None` while waiting for a pong).
    next_ping: Option<Instant>,
    /// When the peer counts as dead if nothing (v3) / no ping (v4) arrived.
    dead_at: Option<Instant>,
}

#[derive(Debug)]
struct Tracked {
    deadline: Option<Instant>,
    /// Sent and waiting for its ack, whose wire id is the request's id.
    in_flight: bool,
}

/// The sans-IO state machine of one Sails socket. See the [module documentation](self).
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    decoder: Decoder,
    heartbeat: Heartbeat,
    engine_sid: Option<String>,
    socket_id: Option<String>,
    connect_deadline: Option<Instant>,
    /// Reconnection attempts made since the last successful connect.
    attempts: u32,
    rng: SplitMix64,
    next_request: u64,
    queue: VecDeque<(RequestId, Request)>,
    tracked: SortedMap<RequestId, Tracked>,
    /// How many of the tracked requests are in flight.
    in_flight: usize,
    /// Request deadlines, earliest first.
    deadlines: SortedMap<(Instant, RequestId), ()>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Connection {
    /// A new, idle connection.
    pub fn new(config: Config) -> Self {
        let rng = SplitMix64(config.rng_seed);
        let decoder = Decoder::new(config.max_attachments);
        Connection {
            config,
            state: State::Idle,
            decoder,
            heartbeat: Heartbeat::default(),
            engine_sid: None,
            socket_id: None,
            connect_deadline: None,
            attempts: 0,
            rng,
            next_request: 0,
            queue: VecDeque::new(),
            tracked: SortedMap::default(),
            in_flight: 0,
            deadlines: SortedMap::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the Socket.IO connect arrived, until the connection is lost.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// True while a connection attempt is under way (transport opening or handshaking).
    pub fn is_connecting(&self) -> bool {
        matches!(self.state, State::Opening | State::Handshaking)
    }

    /// True while waiting for the next automatic reconnection attempt.
    pub fn is_reconnect_pending(&self) -> bool {
        matches!(self.state, State::WaitingReconnect(_))
    }

    /// The socket id as the server sees it, while connected.
    pub fn socket_id(&self) -> Option<&str> {
        self.socket_id.as_deref().filter(|_| self.is_connected())
    }

    /// The Engine.IO session id of the current transport.
    pub fn engine_sid(&self) -> Option<&str> {
        self.engine_sid.as_deref()
    }

    /// Requests waiting for the connection.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Requests sent and waiting for their ack.
    pub fn in_flight_len(&self) -> usize {
        self.in_flight
    }

    /// Starts connecting (a no-op while connecting or connected). A pending automatic reconnection is
    /// replaced by this attempt.
    pub fn connect(&mut self, now: Instant) {
        match self.state {
            State::Opening | State::Handshaking | State::Connected => {}
            State::Idle | State::WaitingReconnect(_) => self.open_transport(now),
        }
    }

    /// Gives up a reconnection that waits for its next attempt, for a driver whose explicit connect just
    /// failed and that does not retry: the connection goes idle and the queued requests end with `error`
    /// (the error that attempt failed with). Does nothing in any other state.
    pub fn stop_reconnecting(&mut self, error: Error) {
        if self.is_reconnect_pending() {
            self.state = State::Idle;
            self.attempts = 0;
            self.end_queued(error);
        }
    }

    /// Disconnects: sends the Socket.IO DISCONNECT when connected, closes the transport, stops
    /// reconnecting, and ends every pending request (in flight or queued) with [`Error::Disconnected`].
    pub fn disconnect(&mut self) {
        let was = self.state;
        if was == State::Connected {
            self.send_sio(&SioPacket::disconnect());
        }
        if matches!(was, State::Opening | State::Handshaking | State::Connected) {
            self.transmits.push_back(Transmit::Close);
        }
        self.reset_transport_state();
        self.state = State::Idle;
        self.attempts = 0;
        if was == State::Connected {
            self.events.push_back(Event::Disconnected { reason: DisconnectReason::ClientDisconnect });
        }
        self.end_pending(|| Error::Disconnected);
    }

    /// Sends a request, or queues it until the connection is up. Fails at once only if the request is
    /// invalid; every accepted request later ends with exactly one [`Event::Response`].
    pub fn request(&mut self, request: Request, now: Instant) -> Result<RequestId, Error> {
        request.validate()?;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let deadline = request.timeout.or(self.config.request_timeout).map(|t| now + t);
        if let Some(d) = deadline {
            self.deadlines.insert((d, id), ());
        }
        self.tracked.insert(id, Tracked { deadline, in_flight: false });
        if self.state == State::Connected {
            self.send_request(id, request);
        } else {
            self.queue.push_back((id, request));
        }
        Ok(id)
    }

    /// Cancels a request: one still queued is never sent, one in flight is forgotten (its answer, if it
    /// comes, is dropped; the server may still carry it out). It ends at once with [`Error::Cancelled`];
    /// an id that already ended is ignored.
    pub fn cancel(&mut self, id: RequestId) {
        self.finish(id, Err(Error::Cancelled));
    }

    /// Answers a server event that asked for an ack (see [`Event::ServerEvent::ack`]). Ignored when not
    /// connected, since the ack belongs to a connection that is gone.
    pub fn ack(&mut self, ack_id: u64, args: Vec<Payload>) {
        if self.state == State::Connected {
            self.send_sio(&SioPacket::ack(ack_id, args));
        }
    }

    /// Emits a custom Socket.IO event (not a Sails request) when connected; returns false when not.
    pub fn emit(&mut self, name: &str, args: Vec<Payload>) -> bool {
        if self.state != State::Connected {
            return false;
        }
        self.send_sio(&SioPacket::event(name, args, None));
        true
    }

    /// Shuts the connection down for good (the driver is going away): like [`disconnect`](Self::disconnect),
    /// but pending requests end with [`Error::Closed`].
    pub fn close(&mut self) {
        self.end_pending(|| Error::Closed);
        self.disconnect();
    }

    /// Feeds a frame received from the transport.
    pub fn handle_frame(&mut self, frame: Frame, now: Instant) {
        if matches!(self.state, State::Idle | State::WaitingReconnect(_)) {
            return; // a frame from a transport we already gave up on
        }
        match engine_io::decode_frame(&frame, self.config.eio) {
            Ok(packet) => self.handle_eio(packet, now),
            Err(e) => self.lose_transport(DisconnectReason::ProtocolError(e), true, now),
        }
    }

    /// Reports that the transport closed or failed by itself (not after [`Transmit::Close`]).
    /// `error` is `None` for a clean close; a failure to open carries the reason (e.g.
    /// [`Error::Handshake`] for an HTTP rejection).
    pub fn transport_closed(&mut self, error: Option<Error>, now: Instant) {
        match self.state {
            State::Idle | State::WaitingReconnect(_) => {}
            State::Opening | State::Handshaking => {
                let error =
                    error.unwrap_or_else(|| Error::Transport("the transport closed during the handshake".into()));
                self.connect_failed(error, false, now);
            }
            State::Connected => {
                let reason = match error {
                    None => DisconnectReason::TransportClose,
                    Some(e) => DisconnectReason::TransportError(e.to_string()),
                };
                self.lose_transport(reason, false, now);
            }
        }
    }

    /// Processes every deadline up to `now`: heartbeats, the connect timeout, reconnection, requests.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((deadline, id)) = self.deadlines.first_key() {
            if deadline > now {
                break;
            }
            self.deadlines.0.pop_front();
            self.finish(id, Err(Error::Timeout("no response before the request timeout")));
        }
        match self.state {
            State::Opening | State::Handshaking => {
                if self.connect_deadline.is_some_and(|d| d <= now) {
                    self.connect_failed(Error::Timeout("connecting"), true, now);
                    return;
                }
                self.heartbeat_timeout(now);
            }
            State::Connected => self.heartbeat_timeout(now),
            State::WaitingReconnect(at) if at <= now => {
                self.events.push_back(Event::Reconnecting { attempt: self.attempts });
                self.open_transport(now);
            }
            State::WaitingReconnect(_) | State::Idle => {}
        }
    }

    /// The next frame to write or transport action to take.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let request = self.deadlines.first_key().map(|(d, _)| d);
        let state = match self.state {
            State::Opening | State::Handshaking => min_opt(self.connect_deadline, self.heartbeat_deadline()),
            State::Connected => self.heartbeat_deadline(),
            State::WaitingReconnect(at) => Some(at),
            State::Idle => None,
        };
        min_opt(request, state)
    }

    fn heartbeat_deadline(&self) -> Option<Instant> {
        min_opt(self.heartbeat.next_ping, self.heartbeat.dead_at)
    }

    fn heartbeat_timeout(&mut self, now: Instant) {
        if self.heartbeat.dead_at.is_some_and(|d| d <= now) {
            self.lose_transport(DisconnectReason::PingTimeout, true, now);
            return;
        }
        if self.heartbeat.next_ping.is_some_and(|p| p <= now) {
            // EIO 3 only: the client pings and then expects any packet within pingTimeout.
            self.send_eio(EioPacket::empty(PacketType::Ping));
            self.heartbeat.next_ping = None;
            self.heartbeat.dead_at = Some(now + self.heartbeat.timeout);
        }
    }

    fn open_transport(&mut self, now: Instant) {
        self.reset_transport_state();
        self.state = State::Opening;
        self.connect_deadline = Some(now + self.config.connect_timeout);
        self.transmits.push_back(Transmit::Open);
    }

    fn reset_transport_state(&mut self) {
        self.decoder.reset();
        self.heartbeat = Heartbeat::default();
        self.engine_sid = None;
        self.socket_id = None;
        self.connect_deadline = None;
    }

    fn handle_eio(&mut self, packet: EioPacket, now: Instant) {
        if self.config.eio == EioVersion::V3 && self.state != State::Opening {
            // engine.io-client 3: any packet proves the peer alive for another interval + timeout.
            self.heartbeat.dead_at = Some(now + self.heartbeat.interval + self.heartbeat.timeout);
        }
        match packet.kind {
            PacketType::Open => self.handle_open(packet, now),
            _ if self.state == State::Opening => {
                let e = ProtocolError::eio(["expected the open packet, got ", packet.kind.name()].concat());
                self.connect_failed(e.into(), true, now);
            }
            PacketType::Close => self.lose_transport(DisconnectReason::TransportClose, true, now),
            PacketType::Ping => {
                if self.config.eio == EioVersion::V4 {
                    self.heartbeat.dead_at = Some(now + self.heartbeat.interval + self.heartbeat.timeout);
                    self.send_eio(EioPacket::text(PacketType::Pong, packet.as_text().unwrap_or_default()));
                }
            }
            PacketType::Pong => {
                if self.config.eio == EioVersion::V3 {
                    self.heartbeat.next_ping = Some(now + self.heartbeat.interval);
                }
            }
            PacketType::Message => match packet.data {
                PacketData::Text(text) if self.took_usual_answer(&text) => {}
                PacketData::Text(text) => match self.decoder.decode_text(&text) {
                    Ok(Some(p)) => self.handle_sio(p, now),
                    Ok(None) => {}
                    Err(e) => self.lose_transport(DisconnectReason::ProtocolError(e), true, now),
                },
                PacketData::Binary(bytes) => match self.decoder.decode_binary(bytes) {
                    Ok(Some(p)) => self.handle_sio(p, now),
                    Ok(None) => {}
                    Err(e) => self.lose_transport(DisconnectReason::ProtocolError(e), true, now),
                },
            },
            PacketType::Upgrade | PacketType::Noop => {}
        }
    }

    /// The usual answer to a request, `3<id>[{"body":…,"headers":…,"statusCode":…}]`, read without
    /// decoding it as a general packet first ([`Jwr::from_usual_ack_packet`]); what the general path does
    /// with an ACK packet then happens here: the request in flight ends, an unknown id is dropped. False
    /// when the text is anything else, for the general path.
    fn took_usual_answer(&mut self, text: &str) -> bool {
        if self.state != State::Connected || self.decoder.is_reconstructing() {
            return false;
        }
        let Some((ack, jwr)) = Jwr::from_usual_ack_packet(text) else { return false };
        if let Some(id) = self.in_flight_with(ack) {
            self.finish(id, Ok(jwr));
        }
        true
    }

    fn handle_open(&mut self, packet: EioPacket, now: Instant) {
        if self.state != State::Opening {
            let e = ProtocolError::eio("a second open packet");
            return self.lose_transport(DisconnectReason::ProtocolError(e), true, now);
        }
        let open = match packet.as_text().map(OpenPacket::parse) {
            Some(Ok(open)) => open,
            Some(Err(e)) => return self.connect_failed(e.into(), true, now),
            None => return self.connect_failed(ProtocolError::eio("binary open packet").into(), true, now),
        };
        let interval = Duration::from_millis(open.ping_interval);
        let timeout = Duration::from_millis(open.ping_timeout);
        self.heartbeat = Heartbeat {
            interval,
            timeout,
            next_ping: (self.config.eio == EioVersion::V3).then(|| now + interval),
            dead_at: Some(now + interval + timeout),
        };
        self.engine_sid = Some(open.sid);
        self.state = State::Handshaking;
        if self.config.eio == EioVersion::V4 {
            // Socket.IO v5: the client asks to join `/`; EIO 3 servers connect `/` unprompted.
            self.send_sio(&SioPacket::connect(self.config.auth.clone()));
        }
    }

    fn handle_sio(&mut self, packet: SioPacket, now: Instant) {
        if packet.nsp != "/" {
            return; // Sails only uses `/`; other namespaces are not ours.
        }
        match packet.kind {
            PacketKind::Connect => self.handle_connect(packet, now),
            PacketKind::ConnectError if self.state == State::Handshaking => {
                let message = match packet.data.as_ref().and_then(Payload::as_json) {
                    Some(v) => match v.string_value() {
                        Some(s) => s.into_owned(),
                        None => v
                            .member("message")
                            .and_then(|m| m.string_value().map(Cow::into_owned))
                            .unwrap_or_else(|| v.to_string()),
                    },
                    None => String::new(),
                };
                self.transmits.push_back(Transmit::Close);
                self.reset_transport_state();
                self.state = State::Idle;
                let error = Error::Refused(message);
                self.events.push_back(Event::ConnectError { error: copy_connect_error(&error) });
                self.end_queued(error);
            }
            PacketKind::Disconnect if self.state == State::Connected => {
                self.lose_transport(DisconnectReason::ServerDisconnect, true, now)
            }
            PacketKind::Event if self.state == State::Connected => {
                let name = packet.event_name().unwrap_or_default();
                let ack = packet.id;
                self.events.push_back(Event::ServerEvent { name, args: packet.into_args(), ack });
            }
            PacketKind::Ack if self.state == State::Connected => {
                // Unknown ids (late acks for requests that already ended) are dropped.
                if let Some(id) = packet.id.and_then(|ack| self.in_flight_with(ack)) {
                    let result = Jwr::from_ack_args(packet.into_args());
                    self.finish(id, result);
                }
            }
            kind => {
                let e = ProtocolError::Unexpected([kind.name(), " packet while ", self.state.name()].concat());
                if self.state == State::Connected {
                    self.lose_transport(DisconnectReason::ProtocolError(e), true, now);
                } else {
                    self.connect_failed(e.into(), true, now);
                }
            }
        }
    }

    fn handle_connect(&mut self, packet: SioPacket, now: Instant) {
        if self.state != State::Handshaking {
            return; // a repeated connect changes nothing
        }
        let sid = match self.config.eio {
            // Socket.IO v4: the socket id of `/` is the Engine.IO session id.
            EioVersion::V3 => self.engine_sid.clone(),
            EioVersion::V4 => packet
                .data
                .as_ref()
                .and_then(Payload::as_json)
                .and_then(|d| d.member("sid"))
                .and_then(|sid| sid.string_value().map(Cow::into_owned)),
        };
        let Some(sid) = sid else {
            return self.connect_failed(ProtocolError::sio("CONNECT without a sid").into(), true, now);
        };
        self.state = State::Connected;
        self.connect_deadline = None;
        self.socket_id = Some(sid.clone());
        if self.attempts > 0 {
            self.events.push_back(Event::Reconnected { attempt: self.attempts });
            self.attempts = 0;
        }
        self.events.push_back(Event::Connected { sid });
        while let Some((id, request)) = self.queue.pop_front() {
            self.send_request(id, request);
        }
    }

    /// A connection attempt failed: report it, then reconnect if the policy says so. If no attempt follows
    /// (reconnection is off, or its attempts are used up), the queued requests end with this attempt's
    /// error rather than wait for a connection nobody is making.
    fn connect_failed(&mut self, error: Error, close: bool, now: Instant) {
        if close {
            self.transmits.push_back(Transmit::Close);
        }
        self.reset_transport_state();
        self.events.push_back(Event::ConnectError { error: copy_connect_error(&error) });
        self.schedule_reconnect(now);
        if self.state == State::Idle {
            self.end_queued(error);
        }
    }

    /// Ends the queued requests (none is in flight: the socket is not connected) with `error`.
    fn end_queued(&mut self, error: Error) {
        let queued = self.take_queued(Vec::new());
        self.end_all(queued, || copy_connect_error(&error));
    }

    /// A connected (or handshaking) transport is gone: fail what is in flight, tell the user, maybe
    /// reconnect.
    fn lose_transport(&mut self, reason: DisconnectReason, close: bool, now: Instant) {
        if self.state != State::Connected {
            let error = match reason {
                DisconnectReason::ProtocolError(e) => Error::Protocol(e),
                DisconnectReason::PingTimeout => Error::Timeout("heartbeat"),
                other => Error::Transport(other.to_string()),
            };
            return self.connect_failed(error, close, now);
        }
        if close {
            self.transmits.push_back(Transmit::Close);
        }
        self.reset_transport_state();
        let is_final = reason.is_final();
        // As in sails.io.js: the disconnect event first, then the in-flight callbacks fail.
        self.events.push_back(Event::Disconnected { reason });
        let in_flight = self.take_in_flight();
        self.end_all(in_flight, || Error::Disconnected);
        if is_final {
            self.state = State::Idle;
        } else {
            self.schedule_reconnect(now);
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let policy = &self.config.reconnection;
        if !policy.enabled {
            self.state = State::Idle;
            return;
        }
        if policy.attempts.is_some_and(|max| self.attempts >= max) {
            self.attempts = 0;
            self.state = State::Idle;
            self.events.push_back(Event::ReconnectFailed);
            return;
        }
        let delay = backoff(policy, self.attempts, self.rng.next_f64());
        self.attempts += 1;
        self.state = State::WaitingReconnect(now + delay);
    }

    fn send_request(&mut self, id: RequestId, request: Request) {
        // The ack id is the request's id: unique for the connection's whole life, as socket.io-client's
        // ids are (they are not reset on reconnection either), and no second table to keep.
        let ack_id = id.0;
        match request.event_text(ack_id, &self.config.headers) {
            Some(text) => self.send_eio(EioPacket::message(text)),
            None => {
                let method = request.method;
                let envelope = request.into_envelope(&self.config.headers);
                self.send_sio(&SioPacket::event(method.as_str(), [envelope], Some(ack_id)));
            }
        }
        if let Some(t) = self.tracked.get_mut(id) {
            t.in_flight = true;
            self.in_flight += 1;
        }
    }

    /// Ends a request once: removes it from the queue or the ack table, then [`end`](Self::end)s it.
    fn finish(&mut self, id: RequestId, result: Result<Jwr, Error>) {
        match self.tracked.get(id).map(|t| t.in_flight) {
            None => return,
            Some(true) => self.in_flight -= 1,
            Some(false) => self.queue.retain(|(q, _)| *q != id),
        }
        self.end(id, result);
    }

    /// Forgets a request that is already out of the queue and the ack table, and emits its response.
    fn end(&mut self, id: RequestId, result: Result<Jwr, Error>) {
        if let Some(tracked) = self.tracked.remove(id) {
            if let Some(d) = tracked.deadline {
                self.deadlines.remove((d, id));
            }
            self.events.push_back(Event::Response { id, result });
        }
    }

    /// Ends the given requests (already removed from the queue / ack table) in request order.
    fn end_all(&mut self, mut ids: Vec<RequestId>, error: impl Fn() -> Error) {
        // Unstable is enough (ids are unique) and is less code than the stable merge sort.
        ids.sort_unstable();
        for id in ids {
            self.end(id, Err(error()));
        }
    }

    /// Ends every request, in flight or queued.
    fn end_pending(&mut self, error: impl Fn() -> Error) {
        let in_flight = self.take_in_flight();
        let ids = self.take_queued(in_flight);
        self.end_all(ids, error);
    }

    /// Empties the queue, adding the ids of its requests to `ids`. (Popped one by one: a `VecDeque`
    /// drain's drop code is 1 KB of the WebAssembly build, and the queue is popped anyway.)
    /// The request in flight that an ack with this wire id answers, if any (late acks for requests that
    /// already ended, and ids never sent, have none).
    fn in_flight_with(&self, ack: u64) -> Option<RequestId> {
        let id = RequestId(ack);
        self.tracked.get(id).is_some_and(|t| t.in_flight).then_some(id)
    }

    /// The requests in flight, in request order, marked as no longer in flight (they stay tracked until
    /// they are [`end`](Self::end)ed).
    fn take_in_flight(&mut self) -> Vec<RequestId> {
        let mut ids = Vec::with_capacity(self.in_flight);
        for (&id, tracked) in self.tracked.iter_mut() {
            if std::mem::take(&mut tracked.in_flight) {
                ids.push(id);
            }
        }
        self.in_flight = 0;
        ids
    }

    fn take_queued(&mut self, mut ids: Vec<RequestId>) -> Vec<RequestId> {
        ids.reserve(self.queue.len());
        while let Some((id, _)) = self.queue.pop_front() {
            ids.push(id);
        }
        ids
    }

    fn send_sio(&mut self, packet: &SioPacket) {
        let encoded = socket_io::encode(packet);
        self.send_eio(EioPacket::message(encoded.text));
        for attachment in encoded.attachments {
            self.send_eio(EioPacket::binary(attachment));
        }
    }

    fn send_eio(&mut self, packet: EioPacket) {
        match engine_io::encode_frame_owned(packet, self.config.eio) {
            Ok(frame) => self.transmits.push_back(Transmit::Frame(frame)),
            Err(e) => unreachable!("the connection only builds encodable packets: {e}"),
        }
    }
}

/// A map kept sorted by key in a `VecDeque`. The request and ack tables are keyed by counters that only
/// grow (request ids, ack ids), so inserting is a `push_back` and lookups are binary searches; acks mostly
/// come back in order, so removals are near the front. Deadlines (request timeouts) mostly grow too when
/// requests share a timeout. (Much smaller code than a `HashMap` or a `BTreeSet` in the wasm build.)
#[derive(Debug)]
struct SortedMap<K, V>(VecDeque<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(VecDeque::new())
    }
}

impl<K: Ord + Copy, V> SortedMap<K, V> {
    fn find(&self, key: K) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(&key))
    }

    fn insert(&mut self, key: K, value: V) {
        match self.0.back() {
            Some((last, _)) if *last >= key => match self.find(key) {
                Ok(i) => self.0[i].1 = value,
                Err(i) => self.0.insert(i, (key, value)),
            },
            _ => self.0.push_back((key, value)),
        }
    }

    fn get(&self, key: K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, key: K) -> Option<&mut V> {
        let i = self.find(key).ok()?;
        Some(&mut self.0[i].1)
    }

    fn remove(&mut self, key: K) -> Option<V> {
        let i = self.find(key).ok()?;
        self.0.remove(i).map(|(_, v)| v)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    fn first_key(&self) -> Option<K> {
        self.0.front().map(|(k, _)| *k)
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A copy of a connection attempt's error, for the queued requests it ends. The kinds a connection
/// attempt fails with are copied as they are; any other becomes a transport error with its text. (Not
/// `Error::clone`: cloning a response's body, which no connect error has, would add its code to the
/// WebAssembly build.)
fn copy_connect_error(error: &Error) -> Error {
    match error {
        Error::Timeout(what) => Error::Timeout(what),
        Error::Handshake { status, body } => Error::Handshake { status: *status, body: body.clone() },
        Error::Protocol(e) => Error::Protocol(e.clone()),
        Error::Refused(m) => Error::Refused(m.clone()),
        Error::Transport(m) => Error::Transport(m.clone()),
        Error::Dns(m) => Error::Dns(m.clone()),
        Error::Tls(m) => Error::Tls(m.clone()),
        other => Error::Transport(other.to_string()),
    }
}

/// socket.io-client's backoff (backo2): `delay * 2^attempt`, moved up or down by up to
/// `randomization` of itself using `rand` in `0.0..1.0`, then capped at `delay_max`.
pub fn backoff(policy: &Reconnection, attempt: u32, rand: f64) -> Duration {
    let min = policy.delay.as_millis() as f64;
    let max = policy.delay_max.as_millis() as f64;
    let mut ms = (min * 2f64.powi(attempt.min(64) as i32)).min(1e15);
    let jitter = policy.randomization.clamp(0.0, 1.0);
    if jitter > 0.0 {
        let deviation = (rand * jitter * ms).floor();
        ms = if ((rand * 10.0).floor() as u64) & 1 == 0 { ms - deviation } else { ms + deviation };
    }
    Duration::from_millis(ms.min(max).max(0.0) as u64)
}

/// A small seeded generator for reconnection jitter (SplitMix64).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `0.0..1.0`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
