//! Socket.IO codec, protocol revisions 4 (with Engine.IO 3) and 5 (with Engine.IO 4).
//!
//! Both revisions share one string grammar, `<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`, carried in
//! Engine.IO message packets. Binary packets (`5` BINARY_EVENT, `6` BINARY_ACK) are followed by one
//! binary message per attachment; [`Decoder`] collects them and puts them back in place.
//!
//! [`Packet`] has five logical kinds: whether an EVENT or ACK goes out as its BINARY_ form follows
//! from its data, so callers never pick the wire type by hand.

use std::borrow::Cow;

use super::json::{escape_into, first_char, quoted, Json, JsonExt};
use super::payload::Payload;
use crate::error::ProtocolError;

/// The largest ack id a JavaScript peer can represent exactly (2^53 - 1).
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// The default limit on attachments per binary packet (socket.io-parser's default).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Event names a peer may not use (socket.io-parser's `RESERVED_EVENTS`).
pub const RESERVED_EVENTS: &[&str] =
    &["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// The logical kind of a Socket.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0` CONNECT: join a namespace (v5: optional auth object from the client, `{"sid"}` from the server).
    Connect,
    /// `1` DISCONNECT: leave a namespace.
    Disconnect,
    /// `2` EVENT (or `5` BINARY_EVENT when the data holds binary): `["name", args…]`.
    Event,
    /// `3` ACK (or `6` BINARY_ACK): the answer to an event that carried an ack id.
    Ack,
    /// `4` ERROR (v4) / CONNECT_ERROR (v5): the namespace refused the connection.
    ConnectError,
}

impl PacketKind {
    /// The kind's name, as in error messages (`Connect`, `Event`, …).
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Connect => "Connect",
            PacketKind::Disconnect => "Disconnect",
            PacketKind::Event => "Event",
            PacketKind::Ack => "Ack",
            PacketKind::ConnectError => "ConnectError",
        }
    }
}

/// A Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// What the packet is.
    pub kind: PacketKind,
    /// The namespace, `/` by default.
    pub nsp: String,
    /// The ack id, for events that want an answer and for acks.
    pub id: Option<u64>,
    /// The JSON payload, with binary attachments in place.
    pub data: Option<Payload>,
}

impl Packet {
    /// An event on `/` with the given name and arguments.
    pub fn event(name: &str, args: impl IntoIterator<Item = Payload>, id: Option<u64>) -> Self {
        let mut items = vec![Payload::Json(Json::from_string(name))];
        items.extend(args);
        Packet { kind: PacketKind::Event, nsp: "/".into(), id, data: Some(array_payload(items)) }
    }

    /// An ack on `/` with the given arguments.
    pub fn ack(id: u64, args: impl IntoIterator<Item = Payload>) -> Self {
        Packet {
            kind: PacketKind::Ack,
            nsp: "/".into(),
            id: Some(id),
            data: Some(array_payload(args.into_iter().collect())),
        }
    }

    /// A CONNECT for `/`, with an optional auth/handshake object.
    pub fn connect(data: Option<Json>) -> Self {
        Packet { kind: PacketKind::Connect, nsp: "/".into(), id: None, data: data.map(Payload::Json) }
    }

    /// A DISCONNECT for `/`.
    pub fn disconnect() -> Self {
        Packet { kind: PacketKind::Disconnect, nsp: "/".into(), id: None, data: None }
    }

    /// For an event, its name (a string or, as socket.io allows, a number written as text).
    pub fn event_name(&self) -> Option<String> {
        if self.kind != PacketKind::Event {
            return None;
        }
        match self.data.as_ref()? {
            Payload::Json(v) => {
                let first = v.first_item()?;
                match first.string_value() {
                    Some(s) => Some(s.into_owned()),
                    None => first.is_number().then(|| first.text().into_owned()),
                }
            }
            Payload::Array(items) => match items.first()? {
                Payload::Json(first) => match first.string_value() {
                    Some(s) => Some(s.into_owned()),
                    None => first.is_number().then(|| first.text().into_owned()),
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// The elements of an array payload (events and acks), taken out of the packet.
    pub fn into_items(self) -> Option<Vec<Payload>> {
        match self.data? {
            Payload::Json(v) => Some(v.into_items()?.into_iter().map(Payload::Json).collect()),
            Payload::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The arguments of an event (without its name) or of an ack, taken out of the packet.
    pub fn into_args(self) -> Vec<Payload> {
        let is_event = self.kind == PacketKind::Event;
        let mut items = self.into_items().unwrap_or_default();
        if is_event && !items.is_empty() {
            items.remove(0);
        }
        items
    }

    /// The elements of an array payload (events and acks).
    pub fn items(&self) -> Option<Vec<Payload>> {
        self.clone().into_items()
    }

    /// The arguments of an event (without its name) or of an ack.
    pub fn args(&self) -> Vec<Payload> {
        self.clone().into_args()
    }
}

fn array_payload(items: Vec<Payload>) -> Payload {
    if items.iter().any(Payload::has_binary) {
        Payload::Array(items)
    } else {
        Payload::Json(Json::from_items(
            items
                .into_iter()
                .map(|p| match p {
                    Payload::Json(v) => v,
                    _ => unreachable!("checked: no binary"),
                })
                .collect(),
        ))
    }
}

/// An encoded packet: the text message and the binary attachments that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The packet text (without the Engine.IO `4` prefix).
    pub text: String,
    /// Binary attachments, each sent as its own binary message after `text`.
    pub attachments: Vec<Vec<u8>>,
}

/// Encodes a packet (socket.io-parser's `encodeAsString` plus binary deconstruction).
pub fn encode(packet: &Packet) -> Encoded {
    let mut attachments = Vec::new();
    // A plain JSON payload is written straight from the packet; a payload with binary parts is rebuilt
    // with placeholders in their place (the `binary_*` tests below cover that branch).
    let json = packet.data.as_ref().map(|d| match d {
        Payload::Json(v) => Cow::Borrowed(v),
        other => Cow::Owned(other.deconstruct(&mut attachments)),
    });
    let binary = !attachments.is_empty();
    let code = match (packet.kind, binary) {
        (PacketKind::Connect, _) => '0',
        (PacketKind::Disconnect, _) => '1',
        (PacketKind::Event, false) => '2',
        (PacketKind::Ack, false) => '3',
        (PacketKind::ConnectError, _) => '4',
        (PacketKind::Event, true) => '5',
        (PacketKind::Ack, true) => '6',
    };
    let mut text = String::new();
    text.push(code);
    if binary && matches!(packet.kind, PacketKind::Event | PacketKind::Ack) {
        crate::text::push_decimal(&mut text, attachments.len() as u64);
        text.push('-');
    }
    if !packet.nsp.is_empty() && packet.nsp != "/" {
        text.push_str(&packet.nsp);
        text.push(',');
    }
    if let Some(id) = packet.id {
        crate::text::push_decimal(&mut text, id);
    }
    if let Some(json) = json {
        text.push_str(&json.text());
    }
    Encoded { text, attachments }
}

/// Encodes an EVENT on `/` named `name`, with an optional ack id, whose further arguments `write_args`
/// appends as JSON text (each after a comma): the text [`encode`] writes for such a packet when it holds
/// no binary data, without building its arguments as a JSON value first.
pub(crate) fn encode_json_event(name: &str, id: Option<u64>, write_args: impl FnOnce(&mut String)) -> String {
    let mut text = String::with_capacity(128);
    text.push('2');
    if let Some(id) = id {
        crate::text::push_decimal(&mut text, id);
    }
    text.push('[');
    escape_into(&mut text, name);
    write_args(&mut text);
    text.push(']');
    text
}

/// A header of a binary packet still waiting for its attachments.
#[derive(Debug)]
struct Pending {
    kind: PacketKind,
    nsp: String,
    id: Option<u64>,
    json: Option<Json>,
    expected: usize,
    received: Vec<Vec<u8>>,
}

/// Stateful decoder: text packets decode at once; binary packets complete after their attachments.
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    pending: Option<Pending>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// A decoder that accepts at most `max_attachments` attachments per binary packet.
    pub fn new(max_attachments: usize) -> Self {
        Decoder { max_attachments, pending: None }
    }

    /// True while a binary packet waits for attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops any half-received binary packet (e.g. when the transport closes).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Decodes a text message. Returns `None` for a binary packet header (its attachments follow).
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, ProtocolError> {
        if self.pending.is_some() {
            self.pending = None;
            return Err(ProtocolError::sio("got plaintext data when reconstructing a packet"));
        }
        let header = parse_header(text, self.max_attachments)?;
        match header.attachments {
            None => Ok(Some(Packet {
                kind: header.kind,
                nsp: header.nsp,
                id: header.id,
                data: header.json.map(Payload::Json),
            })),
            Some(expected) => {
                self.pending = Some(Pending {
                    kind: header.kind,
                    nsp: header.nsp,
                    id: header.id,
                    json: header.json,
                    expected,
                    received: Vec::with_capacity(expected),
                });
                Ok(None)
            }
        }
    }

    /// Decodes a binary message (an attachment). Returns the packet once its last attachment arrived.
    pub fn decode_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, ProtocolError> {
        let pending = self
            .pending
            .as_mut()
            .ok_or_else(|| ProtocolError::sio("got binary data when not reconstructing a packet"))?;
        pending.received.push(bytes);
        if pending.received.len() < pending.expected {
            return Ok(None);
        }
        let p = self.pending.take().expect("checked above");
        // A binary ack may come without a payload (socket.io-parser leaves `data` undefined then).
        let data = p.json.map(|json| Payload::reconstruct(json, &p.received)).transpose()?;
        Ok(Some(Packet { kind: p.kind, nsp: p.nsp, id: p.id, data }))
    }
}

struct Header {
    kind: PacketKind,
    attachments: Option<usize>,
    nsp: String,
    id: Option<u64>,
    json: Option<Json>,
}

fn parse_header(text: &str, max_attachments: usize) -> Result<Header, ProtocolError> {
    let bytes = text.as_bytes();
    let (kind, binary) = match bytes.first() {
        Some(b'0') => (PacketKind::Connect, false),
        Some(b'1') => (PacketKind::Disconnect, false),
        Some(b'2') => (PacketKind::Event, false),
        Some(b'3') => (PacketKind::Ack, false),
        Some(b'4') => (PacketKind::ConnectError, false),
        Some(b'5') => (PacketKind::Event, true),
        Some(b'6') => (PacketKind::Ack, true),
        Some(_) => return Err(ProtocolError::sio(["unknown packet type ", &quoted(first_char(text))].concat())),
        None => return Err(ProtocolError::sio("empty packet")),
    };
    let mut i = 1;
    let mut attachments = None;
    if binary {
        let dash = text[i..].find('-').map(|d| d + i);
        let digits = dash.map(|d| &text[i..d]).unwrap_or(&text[i..]);
        let valid = dash.is_some() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        let count = digits.parse::<usize>().ok().filter(|_| valid);
        match count {
            Some(n) if (1..=max_attachments).contains(&n) => attachments = Some(n),
            _ => {
                return Err(ProtocolError::InvalidAttachments {
                    count: digits.chars().take(32).collect(),
                    max: max_attachments,
                })
            }
        }
        i = dash.expect("valid implies a dash") + 1;
    }
    let mut nsp = "/".to_owned();
    if bytes.get(i) == Some(&b'/') {
        let end = text[i..].find(',').map(|c| c + i).unwrap_or(text.len());
        nsp = text[i..end].to_owned();
        i = (end + 1).min(text.len());
    }
    let mut id = None;
    let digits_end = text[i..].bytes().position(|b| !b.is_ascii_digit()).map(|p| p + i).unwrap_or(text.len());
    if digits_end > i {
        let digits = &text[i..digits_end];
        let parsed = digits.parse::<u64>().ok().filter(|&n| n <= MAX_ACK_ID);
        id = Some(parsed.ok_or_else(|| ProtocolError::InvalidAckId(digits.chars().take(32).collect()))?);
        i = digits_end;
    }
    let json = if i < text.len() {
        let value = Json::parse(&text[i..]).map_err(ProtocolError::Json)?;
        if !payload_is_valid(kind, &value) {
            return Err(ProtocolError::sio(["invalid payload for ", kind.name()].concat()));
        }
        Some(value)
    } else {
        None
    };
    if kind == PacketKind::Event && json.is_none() {
        return Err(ProtocolError::sio("event without payload"));
    }
    Ok(Header { kind, attachments, nsp, id, json })
}

/// socket.io-parser's `isPayloadValid`.
fn payload_is_valid(kind: PacketKind, v: &Json) -> bool {
    match kind {
        PacketKind::Connect => v.is_object(),
        PacketKind::Disconnect => false,
        PacketKind::ConnectError => v.is_string() || v.is_object(),
        PacketKind::Event => match v.first_item() {
            Some(first) if first.is_number() => true,
            Some(first) => first.string_value().is_some_and(|s: Cow<'_, str>| !RESERVED_EVENTS.contains(&&*s)),
            None => false,
        },
        PacketKind::Ack => v.is_array(),
    }
}

#[cfg(all(test, feature = "serde_json"))]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode_one(text: &str) -> Result<Option<Packet>, ProtocolError> {
        Decoder::default().decode_text(text)
    }

    #[test]
    fn encodes_like_socket_io_parser() {
        let req = json!({"method":"get","headers":{},"data":{},"url":"/hello"});
        let p = Packet::event("get", [Payload::Json(req)], Some(0));
        assert_eq!(encode(&p).text, r#"20["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#);
        assert_eq!(encode(&Packet::connect(None)).text, "0");
        assert_eq!(encode(&Packet::disconnect()).text, "1");
        assert_eq!(encode(&Packet::ack(7, [json!(1).into()])).text, "37[1]");
        let nsp = Packet { nsp: "/admin".into(), ..Packet::connect(Some(json!({"token":"x"}))) };
        assert_eq!(encode(&nsp).text, r#"0/admin,{"token":"x"}"#);
    }

    #[test]
    fn binary_ack_from_real_server() {
        let mut d = Decoder::default();
        let header = r#"61-4[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]"#;
        assert_eq!(d.decode_text(header).unwrap(), None);
        assert!(d.is_reconstructing());
        let p = d.decode_binary(vec![1, 2, 3]).unwrap().unwrap();
        assert_eq!(p.kind, PacketKind::Ack);
        assert_eq!(p.id, Some(4));
        let arg = &p.args()[0];
        let Payload::Object(entries) = arg else { panic!("expected object, got {arg:?}") };
        assert_eq!(entries[0], ("body".into(), Payload::Binary(vec![1, 2, 3])));
        // Encoding gives the same header back.
        let enc = encode(&p);
        assert_eq!(enc.text, header);
        assert_eq!(enc.attachments, vec![vec![1, 2, 3]]);
        // Taking the arguments out gives what copying them gives, and so does the JWR built from them.
        assert_eq!(p.clone().into_args(), p.args());
        let jwr = crate::Jwr::from_ack_args(p.clone().into_args()).unwrap();
        assert_eq!(jwr, crate::Jwr::from_ack(&p.args()).unwrap());
        assert_eq!(jwr.body, Some(Payload::Binary(vec![1, 2, 3])));
    }

    #[test]
    fn binary_event_with_two_attachments() {
        let mut d = Decoder::default();
        assert_eq!(
            d.decode_text(r#"52-["bin",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#).unwrap(),
            None
        );
        assert_eq!(d.decode_binary(vec![0]).unwrap(), None);
        let p = d.decode_binary(vec![1]).unwrap().unwrap();
        assert_eq!(p.event_name().as_deref(), Some("bin"));
        assert_eq!(p.args(), vec![Payload::Binary(vec![1]), Payload::Binary(vec![0])]);
        assert_eq!(p.into_args(), vec![Payload::Binary(vec![1]), Payload::Binary(vec![0])]);
    }

    #[test]
    fn rejects_what_the_real_parser_rejects() {
        let bad = [
            "",                                  // empty
            "7",                                 // unknown type
            "x",                                 // unknown type
            "2",                                 // event without payload
            "2{\"a\":1}",                        // event payload not an array
            "2[",                                // invalid JSON
            "2[{}]",                             // first element not a name
            "2[\"connect\"]",                    // reserved name
            "3{}",                               // ack payload not an array
            "0[]",                               // connect payload not an object
            "1{}",                               // disconnect with payload
            "4[]",                               // connect error neither string nor object
            "5[\"x\"]",                          // binary without count
            "50-[\"x\"]",                        // zero attachments
            "511-[\"x\"]",                       // too many attachments
            "5a-[\"x\"]",                        // count not a number
            "29007199254740992[\"x\"]",          // ack id 2^53
            "21234567890123456789012345[\"x\"]", // absurd ack id
        ];
        for text in bad {
            assert!(decode_one(text).is_err(), "{text:?} should be rejected");
        }
        assert!(matches!(decode_one("21234567890123456789012345[\"x\"]"), Err(ProtocolError::InvalidAckId(_))));
    }

    #[test]
    fn accepts_edge_cases_the_real_parser_accepts() {
        let p = decode_one("29007199254740991[\"x\"]").unwrap().unwrap();
        assert_eq!(p.id, Some(MAX_ACK_ID));
        let p = decode_one("2[1,\"a\"]").unwrap().unwrap();
        assert_eq!(p.event_name().as_deref(), Some("1"));
        let p = decode_one("4\"Not authorized\"").unwrap().unwrap();
        assert_eq!(p.kind, PacketKind::ConnectError);
        let p = decode_one("0/admin,").unwrap().unwrap();
        assert_eq!((p.kind, p.nsp.as_str()), (PacketKind::Connect, "/admin"));
        let p = decode_one("0{\"sid\":\"abc\"}").unwrap().unwrap();
        assert_eq!(p.data, Some(Payload::Json(json!({"sid":"abc"}))));
        let p = decode_one("1").unwrap().unwrap();
        assert_eq!(p.kind, PacketKind::Disconnect);
    }

    #[test]
    fn binary_state_errors() {
        let mut d = Decoder::default();
        assert!(d.decode_binary(vec![1]).is_err(), "binary without a header");
        d.decode_text("51-[\"x\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert!(d.decode_text("2[\"y\"]").is_err(), "text while reconstructing");
        assert!(!d.is_reconstructing(), "the broken packet is dropped");
        d.decode_text("51-[\"x\",{\"_placeholder\":true,\"num\":3}]").unwrap();
        assert!(d.decode_binary(vec![1]).is_err(), "placeholder out of range");
    }
}
