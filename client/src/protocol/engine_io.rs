//! Engine.IO codec, protocol revisions 3 and 4.
//!
//! Engine.IO is the transport layer under Socket.IO: every WebSocket message carries exactly one
//! Engine.IO packet, and HTTP long-polling bodies carry several packets in a *payload*. Revision 3
//! (engine.io-client 3.x, bundled with sails.io.js) and revision 4 (engine.io-client 4+) differ in how
//! binary data is framed and how polling payloads are delimited; the packet types are the same.

#[cfg(feature = "serde_json")]
use serde::{Deserialize, Serialize};

use super::json::{first_char, quoted, Json, JsonExt};

use crate::error::ProtocolError;

/// The Engine.IO protocol revision, sent as the `EIO` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EioVersion {
    /// Revision 3 (`EIO=3`): what sails.io.js 1.2.1 (socket.io-client 2.0.3) speaks. The client pings.
    #[default]
    V3,
    /// Revision 4 (`EIO=4`): socket.io-client 3 and later. The server pings.
    V4,
}

impl EioVersion {
    /// The value of the `EIO` query parameter.
    pub fn query_value(self) -> &'static str {
        match self {
            EioVersion::V3 => "3",
            EioVersion::V4 => "4",
        }
    }
}

/// An Engine.IO packet type (the first character of a text frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: the handshake, sent by the server with an [`OpenPacket`] JSON.
    Open,
    /// `1`: close the transport.
    Close,
    /// `2`: heartbeat ping (client→server in v3, server→client in v4).
    Ping,
    /// `3`: heartbeat pong.
    Pong,
    /// `4`: a message; carries a Socket.IO packet or a binary attachment.
    Message,
    /// `5`: transport upgrade.
    Upgrade,
    /// `6`: no-op (used during upgrades).
    Noop,
}

impl PacketType {
    /// The type's name, as in error messages (`Open`, `Close`, …).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Open => "Open",
            PacketType::Close => "Close",
            PacketType::Ping => "Ping",
            PacketType::Pong => "Pong",
            PacketType::Message => "Message",
            PacketType::Upgrade => "Upgrade",
            PacketType::Noop => "Noop",
        }
    }

    /// The numeric code of this type.
    pub fn code(self) -> u8 {
        match self {
            PacketType::Open => 0,
            PacketType::Close => 1,
            PacketType::Ping => 2,
            PacketType::Pong => 3,
            PacketType::Message => 4,
            PacketType::Upgrade => 5,
            PacketType::Noop => 6,
        }
    }

    /// The type for a numeric code, if it is one of the seven.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => PacketType::Open,
            1 => PacketType::Close,
            2 => PacketType::Ping,
            3 => PacketType::Pong,
            4 => PacketType::Message,
            5 => PacketType::Upgrade,
            6 => PacketType::Noop,
            _ => return None,
        })
    }

    fn from_char(c: u8) -> Option<Self> {
        c.checked_sub(b'0').and_then(Self::from_code)
    }

    fn as_char(self) -> char {
        char::from(b'0' + self.code())
    }
}

/// The data a packet carries: text (possibly empty) or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketData {
    /// Text data (empty for packets without data, e.g. a bare ping).
    Text(String),
    /// Binary data.
    Binary(Vec<u8>),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// Its data.
    pub data: PacketData,
}

impl Packet {
    /// A packet of the given type without data.
    pub fn empty(kind: PacketType) -> Self {
        Packet { kind, data: PacketData::Text(String::new()) }
    }

    /// A text packet.
    pub fn text(kind: PacketType, text: impl Into<String>) -> Self {
        Packet { kind, data: PacketData::Text(text.into()) }
    }

    /// A text message packet (`4<text>`).
    pub fn message(text: impl Into<String>) -> Self {
        Packet::text(PacketType::Message, text)
    }

    /// A binary message packet.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Self {
        Packet { kind: PacketType::Message, data: PacketData::Binary(bytes.into()) }
    }

    /// The text data, if this is a text packet.
    pub fn as_text(&self) -> Option<&str> {
        match &self.data {
            PacketData::Text(t) => Some(t),
            PacketData::Binary(_) => None,
        }
    }
}

/// One WebSocket message: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text WebSocket message.
    Text(String),
    /// A binary WebSocket message.
    Binary(Vec<u8>),
}

/// The server's handshake, the JSON of the `open` packet:
/// `0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde_json", derive(Serialize, Deserialize), serde(rename_all = "camelCase"))]
pub struct OpenPacket {
    /// The Engine.IO session id.
    pub sid: String,
    /// Transports the client may upgrade to.
    #[cfg_attr(feature = "serde_json", serde(default))]
    pub upgrades: Vec<String>,
    /// Heartbeat interval in milliseconds.
    pub ping_interval: u64,
    /// Heartbeat timeout in milliseconds.
    pub ping_timeout: u64,
    /// Largest payload the server accepts (sent by engine.io 4+; v3 clients ignore it).
    #[cfg_attr(feature = "serde_json", serde(default, skip_serializing_if = "Option::is_none"))]
    pub max_payload: Option<u64>,
}

impl OpenPacket {
    /// Parses the JSON of an open packet.
    ///
    /// Read from a [`Json`] value rather than with the serde derive: the derive's error paths
    /// (`invalid type: floating point …`) pull float formatting into the wasm build. The rules are the
    /// derive's: `sid`, `pingInterval` and `pingTimeout` are required, `upgrades` (strings) defaults to
    /// none, `maxPayload` may be absent or null, other fields are ignored.
    pub fn parse(json: &str) -> Result<Self, ProtocolError> {
        let invalid = |what: &str| ProtocolError::eio(["invalid open packet: ", what].concat());
        let obj = Json::parse(json).map_err(|e| invalid(&e))?;
        if !obj.is_object() {
            return Err(invalid("expected a JSON object"));
        }
        let uint = |key: &str| match obj.member(key) {
            None => Err(invalid(&["missing field `", key, "`"].concat())),
            Some(v) => v.as_u64().ok_or_else(|| invalid(&["`", key, "` is not a non-negative integer"].concat())),
        };
        let sid = match obj.member("sid") {
            Some(sid) => sid.string_value().ok_or_else(|| invalid("`sid` is not a string"))?.into_owned(),
            None => return Err(invalid("missing field `sid`")),
        };
        let upgrades = match obj.member("upgrades") {
            None => Vec::new(),
            Some(list) => list
                .items()
                .and_then(|items| {
                    items.iter().map(|u| u.string_value().map(|u| u.into_owned())).collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| invalid("`upgrades` is not a list of strings"))?,
        };
        let max_payload = match obj.member("maxPayload") {
            Some(v) if !v.is_null() => Some(uint("maxPayload")?),
            _ => None,
        };
        Ok(OpenPacket {
            sid,
            upgrades,
            ping_interval: uint("pingInterval")?,
            ping_timeout: uint("pingTimeout")?,
            max_payload,
        })
    }

    /// The JSON text of this open packet.
    pub fn to_json(&self) -> String {
        let mut entries = vec![
            ("sid".to_owned(), Json::from_string(&self.sid)),
            ("upgrades".to_owned(), Json::from_items(self.upgrades.iter().map(|u| Json::from_string(u)).collect())),
            ("pingInterval".to_owned(), Json::from_u64(self.ping_interval)),
            ("pingTimeout".to_owned(), Json::from_u64(self.ping_timeout)),
        ];
        if let Some(max) = self.max_payload {
            entries.push(("maxPayload".to_owned(), Json::from_u64(max)));
        }
        Json::from_entries(entries).text().into_owned()
    }
}

/// The transport upgrade (polling → WebSocket) as engine.io-client performs it: the client opens the
/// new transport with the session id and sends [`probe`](upgrade::probe) on it; when the server answers
/// ([`is_probe_answer`](upgrade::is_probe_answer)) the client stops polling once the current poll has
/// returned, holds its writes meanwhile, then sends [`complete`](upgrade::complete) on the new transport,
/// followed by what it held. From then on only the new transport carries packets. The server answers
/// polls with `noop` packets while the upgrade is under way, so the pause does not wait long.
pub mod upgrade {
    use super::{OpenPacket, Packet, PacketType};

    /// The transport name an open packet lists when the server accepts an upgrade to a WebSocket.
    pub const WEBSOCKET: &str = "websocket";

    /// True if the server offers the upgrade to a WebSocket (`"websocket"` in `upgrades`).
    pub fn offered(open: &OpenPacket) -> bool {
        open.upgrades.iter().any(|u| u == WEBSOCKET)
    }

    /// The first packet on the new transport: a ping with `probe` (`2probe`).
    pub fn probe() -> Packet {
        Packet::text(PacketType::Ping, "probe")
    }

    /// True for the server's answer to the probe: a pong with `probe` (`3probe`).
    pub fn is_probe_answer(packet: &Packet) -> bool {
        packet.kind == PacketType::Pong && packet.as_text() == Some("probe")
    }

    /// The packet that moves the session to the new transport (`5`).
    pub fn complete() -> Packet {
        Packet::empty(PacketType::Upgrade)
    }
}

/// Encodes a packet as one WebSocket message.
///
/// Text packets become `<type><text>`. Binary packets become, in v3, a binary message whose first byte
/// is the packet type (`0x04` for a message) followed by the data; in v4 the raw data (v4 can only frame
/// binary *message* packets, so other binary packets are refused).
pub fn encode_frame(packet: &Packet, version: EioVersion) -> Result<Frame, ProtocolError> {
    encode_frame_owned(packet.clone(), version)
}

/// [`encode_frame`], reusing the packet's text or bytes for the frame instead of copying them.
pub fn encode_frame_owned(packet: Packet, version: EioVersion) -> Result<Frame, ProtocolError> {
    match (packet.data, version) {
        (PacketData::Text(mut text), _) => {
            text.insert(0, packet.kind.as_char());
            Ok(Frame::Text(text))
        }
        (PacketData::Binary(mut bytes), EioVersion::V3) => {
            bytes.insert(0, packet.kind.code());
            Ok(Frame::Binary(bytes))
        }
        (PacketData::Binary(bytes), EioVersion::V4) => {
            if packet.kind != PacketType::Message {
                return Err(ProtocolError::eio("engine.io v4 can only send binary message packets"));
            }
            Ok(Frame::Binary(bytes))
        }
    }
}

/// Decodes one WebSocket message into a packet.
///
/// Accepts the base64 form `b<…>` in text frames as the real parsers do (`b4<base64>` in v3, `b<base64>`
/// in v4) with the `polling` feature; without it such a frame is an error (only long-polling sends them).
pub fn decode_frame(frame: &Frame, version: EioVersion) -> Result<Packet, ProtocolError> {
    match frame {
        Frame::Text(text) => decode_text_packet(text, version),
        Frame::Binary(bytes) => match version {
            EioVersion::V3 => {
                let (&code, rest) = bytes.split_first().ok_or_else(|| ProtocolError::eio("empty binary frame"))?;
                let kind = PacketType::from_code(code).ok_or_else(|| {
                    ProtocolError::eio(["unknown binary packet type ", &crate::text::decimal(code)].concat())
                })?;
                Ok(Packet { kind, data: PacketData::Binary(rest.to_vec()) })
            }
            EioVersion::V4 => Ok(Packet::binary(bytes.clone())),
        },
    }
}

fn decode_text_packet(text: &str, version: EioVersion) -> Result<Packet, ProtocolError> {
    let first = *text.as_bytes().first().ok_or_else(|| ProtocolError::eio("empty packet"))?;
    if first == b'b' {
        let rest = &text[1..];
        let (kind, b64) = match version {
            EioVersion::V3 => {
                let code = *rest.as_bytes().first().ok_or_else(|| ProtocolError::eio("empty base64 packet"))?;
                let kind = PacketType::from_char(code)
                    .ok_or_else(|| ProtocolError::eio(["unknown packet type ", &quoted(first_char(rest))].concat()))?;
                (kind, &rest[1..])
            }
            EioVersion::V4 => (PacketType::Message, rest),
        };
        let bytes = decode_base64(b64)?;
        return Ok(Packet { kind, data: PacketData::Binary(bytes) });
    }
    let kind = PacketType::from_char(first)
        .ok_or_else(|| ProtocolError::eio(["unknown packet type ", &quoted(first_char(text))].concat()))?;
    Ok(Packet::text(kind, &text[1..]))
}

// Long-polling's payloads and base64 packets (feature `polling`).
#[cfg(feature = "polling")]
mod polling;
#[cfg(feature = "polling")]
use polling::decode_base64;
#[cfg(feature = "polling")]
pub use polling::{decode_payload, decode_payload_v3_binary, encode_payload, encode_payload_v3_binary, V4_SEPARATOR};

/// Without the `polling` feature there is no base64 decoder: only long-polling sends base64 packets (a
/// WebSocket carries binary data in binary frames), and the WebAssembly package only uses WebSockets.
#[cfg(not(feature = "polling"))]
fn decode_base64(_: &str) -> Result<Vec<u8>, ProtocolError> {
    Err(ProtocolError::eio("base64 packet: only long-polling sends these (feature `polling`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_frames_round_trip() {
        for v in [EioVersion::V3, EioVersion::V4] {
            let p = Packet::message("2[\"hi\"]");
            let f = encode_frame(&p, v).unwrap();
            assert_eq!(f, Frame::Text("42[\"hi\"]".into()));
            assert_eq!(decode_frame(&f, v).unwrap(), p);
        }
    }

    #[test]
    fn binary_frames_differ_by_version() {
        let p = Packet::binary(vec![0xde, 0xad]);
        assert_eq!(encode_frame(&p, EioVersion::V3).unwrap(), Frame::Binary(vec![4, 0xde, 0xad]));
        assert_eq!(encode_frame(&p, EioVersion::V4).unwrap(), Frame::Binary(vec![0xde, 0xad]));
        assert_eq!(decode_frame(&Frame::Binary(vec![4, 0xde, 0xad]), EioVersion::V3).unwrap(), p);
        assert_eq!(decode_frame(&Frame::Binary(vec![0xde, 0xad]), EioVersion::V4).unwrap(), p);
        assert!(decode_frame(&Frame::Binary(vec![]), EioVersion::V3).is_err());
        assert!(decode_frame(&Frame::Binary(vec![9, 1]), EioVersion::V3).is_err());
        let ping = Packet { kind: PacketType::Ping, data: PacketData::Binary(vec![1]) };
        assert!(encode_frame(&ping, EioVersion::V4).is_err());
    }

    /// The hand-written parser accepts and rejects what the serde derive does.
    #[cfg(feature = "serde_json")]
    #[test]
    fn open_packet_parse_matches_the_derive() {
        for json in [
            r#"{"sid":"a","upgrades":["websocket"],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#,
            r#"{"sid":"a","pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"a","pingInterval":1,"pingTimeout":2,"maxPayload":null,"extra":[1.5]}"#,
            r#"{"sid":"a","pingInterval":1.5,"pingTimeout":2}"#,
            r#"{"sid":"a","pingInterval":-1,"pingTimeout":2}"#,
            r#"{"sid":1,"pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"a","upgrades":[1],"pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"a","upgrades":null,"pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"a","pingInterval":1,"pingTimeout":2,"maxPayload":"x"}"#,
            r#"{"pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"a","pingTimeout":2}"#,
            r#"[1]"#,
            r#"{"sid":"a""#,
        ] {
            let derived = serde_json::from_str::<OpenPacket>(json).ok();
            let parsed = OpenPacket::parse(json);
            assert_eq!(parsed.as_ref().ok(), derived.as_ref(), "{json}");
            if let Err(ProtocolError::EngineIo(message)) = parsed {
                assert!(message.starts_with("invalid open packet: "), "{message}");
            }
        }
    }

    #[test]
    fn decodes_open_packet_from_real_server() {
        let f = Frame::Text(
            r#"0{"sid":"5MvB7elXwBcUfaSdAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}"#
                .into(),
        );
        let p = decode_frame(&f, EioVersion::V3).unwrap();
        assert_eq!(p.kind, PacketType::Open);
        let open = OpenPacket::parse(p.as_text().unwrap()).unwrap();
        assert_eq!(open.sid, "5MvB7elXwBcUfaSdAAAA");
        assert_eq!((open.ping_interval, open.ping_timeout, open.max_payload), (25000, 60000, Some(100000000)));
        assert_eq!(
            format!("0{}", open.to_json()),
            match f {
                Frame::Text(t) => t,
                _ => unreachable!(),
            }
        );
    }

    #[test]
    fn rejects_bad_text_frames() {
        for bad in ["", "9", "x", "b", "b9AAAA", "b4!!!"] {
            assert!(decode_frame(&Frame::Text(bad.into()), EioVersion::V3).is_err(), "{bad:?}");
        }
        assert!(decode_frame(&Frame::Text("b!!".into()), EioVersion::V4).is_err());
    }

    #[cfg(not(feature = "polling"))]
    #[test]
    fn base64_packets_need_the_polling_feature() {
        for (frame, v) in [("b4AQID", EioVersion::V3), ("bAQID", EioVersion::V4)] {
            let e = decode_frame(&Frame::Text(frame.into()), v).unwrap_err();
            assert!(e.to_string().contains("only long-polling"), "{e}");
        }
    }

    #[test]
    fn upgrade_packets_are_engine_io_clients() {
        for v in [EioVersion::V3, EioVersion::V4] {
            assert_eq!(encode_frame(&upgrade::probe(), v).unwrap(), Frame::Text("2probe".into()));
            assert_eq!(encode_frame(&upgrade::complete(), v).unwrap(), Frame::Text("5".into()));
            let answer = |t: &str| upgrade::is_probe_answer(&decode_frame(&Frame::Text(t.into()), v).unwrap());
            assert!(answer("3probe"));
            for other in ["3", "3prob", "2probe", "6", "4probe"] {
                assert!(!answer(other), "{other}");
            }
        }
        let open = |upgrades: &str| {
            OpenPacket::parse(&format!(r#"{{"sid":"s","upgrades":{upgrades},"pingInterval":1,"pingTimeout":1}}"#))
                .unwrap()
        };
        assert!(upgrade::offered(&open(r#"["websocket"]"#)));
        assert!(!upgrade::offered(&open("[]")));
        assert!(!upgrade::offered(&open(r#"["polling"]"#)));
    }
}
