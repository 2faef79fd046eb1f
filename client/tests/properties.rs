//! Property tests: every packet kind round-trips through its codec, and no decoder panics on arbitrary input.

use proptest::prelude::*;
use sails_io::protocol::engine_io::{
    decode_frame, decode_payload, decode_payload_v3_binary, encode_frame, encode_payload, encode_payload_v3_binary,
    EioVersion, Frame, Packet as EioPacket, PacketData, PacketType,
};
use sails_io::protocol::socket_io::{encode, Decoder, Packet as SioPacket, PacketKind, MAX_ACK_ID};
use sails_io::{Config, Connection, Event, Method, Payload, Reconnection, Request};
use serde_json::{json, Value};
use std::collections::HashSet;
use web_time::{Duration, Instant};

fn version() -> impl Strategy<Value = EioVersion> {
    prop_oneof![Just(EioVersion::V3), Just(EioVersion::V4)]
}

fn packet_type() -> impl Strategy<Value = PacketType> {
    (0u8..7).prop_map(|c| PacketType::from_code(c).unwrap())
}

/// Engine.IO packets that the version can frame (v4 binary packets are always messages).
fn eio_packet(v: EioVersion) -> impl Strategy<Value = EioPacket> {
    prop_oneof![
        (packet_type(), ".*").prop_map(|(kind, text)| EioPacket::text(kind, text)),
        (packet_type(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(move |(kind, bytes)| {
            let kind = if v == EioVersion::V4 { PacketType::Message } else { kind };
            EioPacket { kind, data: PacketData::Binary(bytes) }
        }),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[^\u{0}]{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Payloads, sometimes with binary parts inside (as the encoder would build them).
fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        3 => json_value().prop_map(Payload::Json),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Payload::Binary),
        1 => ("[a-z]{1,5}", proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(k, b)| Payload::Object(vec![(k, Payload::Binary(b))])),
    ]
}

fn sio_packet() -> impl Strategy<Value = SioPacket> {
    let nsp = prop_oneof![Just("/".to_owned()), "/[a-z]{1,6}"];
    let id = proptest::option::of(0..=MAX_ACK_ID);
    prop_oneof![
        (nsp.clone(), "[a-z][a-z:]{0,10}", proptest::collection::vec(payload(), 0..3), id.clone())
            .prop_map(|(nsp, name, args, id)| SioPacket { nsp, ..SioPacket::event(&name, args, id) }),
        (nsp.clone(), 0..=MAX_ACK_ID, proptest::collection::vec(payload(), 0..3))
            .prop_map(|(nsp, id, args)| SioPacket { nsp, ..SioPacket::ack(id, args) }),
        (nsp.clone(), proptest::option::of(json_value().prop_map(|v| json!({ "v": v }))))
            .prop_map(|(nsp, data)| SioPacket { nsp, ..SioPacket::connect(data) }),
        nsp.clone().prop_map(|nsp| SioPacket { nsp, ..SioPacket::disconnect() }),
        (nsp, "[^\u{0}]{0,12}").prop_map(|(nsp, msg)| SioPacket {
            kind: PacketKind::ConnectError,
            nsp,
            id: None,
            data: Some(Payload::Json(json!({ "message": msg }))),
        }),
    ]
}

/// Socket.IO sends binary attachments only when there are some; an event whose binary parts are all
/// empty lists still counts (its placeholders refer to empty buffers).
fn decode_encoded(packet: &SioPacket) -> Result<Option<SioPacket>, sails_io::ProtocolError> {
    let encoded = encode(packet);
    let mut decoder = Decoder::new(usize::MAX);
    let mut out = decoder.decode_text(&encoded.text)?;
    for attachment in encoded.attachments {
        out = decoder.decode_binary(attachment)?;
    }
    Ok(out)
}

proptest! {
    #[test]
    fn eio_frames_round_trip((v, packet) in version().prop_flat_map(|v| (Just(v), eio_packet(v)))) {
        let frame = encode_frame(&packet, v).unwrap();
        prop_assert_eq!(decode_frame(&frame, v).unwrap(), packet);
    }

    #[test]
    fn eio_payloads_round_trip((v, packets) in version().prop_flat_map(|v| (Just(v), proptest::collection::vec(eio_packet(v), 1..6)))) {
        // Empty text packets vanish from a v3 payload only when they have no type; every packet has one.
        let text = encode_payload(&packets, v).unwrap();
        prop_assert_eq!(decode_payload(&text, v).unwrap(), packets.clone());
        if v == EioVersion::V3 {
            let bin = encode_payload_v3_binary(&packets);
            prop_assert_eq!(decode_payload_v3_binary(&bin).unwrap(), packets);
        }
    }

    #[test]
    fn sio_packets_round_trip(packet in sio_packet()) {
        let decoded = decode_encoded(&packet).unwrap();
        prop_assert_eq!(decoded, Some(packet));
    }

    #[test]
    fn eio_decoders_never_panic(v in version(), text in ".*", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_frame(&Frame::Text(text.clone()), v);
        let _ = decode_frame(&Frame::Binary(bytes.clone()), v);
        let _ = decode_payload(&text, v);
        let _ = decode_payload_v3_binary(&bytes);
    }

    #[test]
    fn sio_decoder_never_panics(messages in proptest::collection::vec(prop_oneof![
        ".*".prop_map(Ok),
        "[0-6][0-9]{0,3}-?(/[a-z]*,)?[0-9]{0,20}(\\[.*\\]|\\{.*\\})?".prop_map(Ok),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Err),
    ], 0..8)) {
        let mut d = Decoder::default();
        for m in messages {
            let _ = match m {
                Ok(text) => d.decode_text(&text),
                Err(bytes) => d.decode_binary(bytes),
            };
        }
    }

    /// Whatever the server sends and however time jumps, the connection never panics and every request
    /// ends exactly once (at the latest when the connection is closed).
    #[test]
    fn every_request_ends_exactly_once(
        v in version(),
        reconnect in any::<bool>(),
        ops in proptest::collection::vec(prop_oneof![
            prop_oneof![
                Just("0{\"sid\":\"s\",\"upgrades\":[],\"pingInterval\":100,\"pingTimeout\":50}".to_owned()),
                Just("40".to_owned()),
                Just("40{\"sid\":\"x\"}".to_owned()),
                Just("41".to_owned()),
                (0u64..4).prop_map(|i| format!("43{i}[{{\"statusCode\":200}}]")),
                Just("2".to_owned()),
                Just("3".to_owned()),
                ".{0,12}",
            ].prop_map(Op::Frame),
            (0u64..300).prop_map(Op::Wait),
            Just(Op::Request),
            Just(Op::Closed),
            Just(Op::Connect),
            Just(Op::Disconnect),
        ], 0..40),
    ) {
        let policy = Reconnection { enabled: reconnect, ..Reconnection::default() };
        let mut conn = Connection::new(Config { eio: v, reconnection: policy, request_timeout: None, ..Config::default() });
        let mut now = Instant::now();
        let mut open = HashSet::new();
        conn.connect(now);
        for op in ops {
            match op {
                Op::Frame(text) => conn.handle_frame(Frame::Text(text), now),
                Op::Wait(ms) => { now += Duration::from_millis(ms); conn.handle_timeout(now); }
                Op::Request => { open.insert(conn.request(Request::new(Method::Get, "/x"), now).unwrap()); }
                Op::Closed => conn.transport_closed(None, now),
                Op::Connect => conn.connect(now),
                Op::Disconnect => conn.disconnect(),
            }
            while conn.poll_transmit().is_some() {}
            while let Some(e) = conn.poll_event() {
                if let Event::Response { id, .. } = e { prop_assert!(open.remove(&id), "ended twice"); }
            }
            if let Some(t) = conn.poll_timeout() { prop_assert!(t >= now - Duration::from_secs(1)); }
        }
        conn.close();
        while let Some(e) = conn.poll_event() {
            if let Event::Response { id, .. } = e { prop_assert!(open.remove(&id), "ended twice"); }
        }
        prop_assert!(open.is_empty());
    }
}

#[derive(Debug, Clone)]
enum Op {
    Frame(String),
    Wait(u64),
    Request,
    Closed,
    Connect,
    Disconnect,
}
