//! Long-polling's forms of Engine.IO packets: payloads (several packets in one HTTP body) and base64
//! packets (binary data in text). Feature `polling`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::{decode_frame, decode_text_packet, encode_frame, EioVersion, Frame, Packet, PacketData, PacketType};
use crate::error::ProtocolError;
use crate::protocol::json::quoted;
use crate::text::{decimal, push_decimal};

/// Decodes the data of a base64 packet (`b4<base64>` in v3, `b<base64>` in v4).
pub(super) fn decode_base64(b64: &str) -> Result<Vec<u8>, ProtocolError> {
    BASE64.decode(b64).map_err(|e| ProtocolError::eio(["invalid base64: ", &e.to_string()].concat()))
}

/// Encodes a packet as the text used inside polling payloads: `<type><text>`, or for binary data
/// `b<type><base64>` (v3) / `b<base64>` (v4).
fn encode_text_form(packet: &Packet, version: EioVersion) -> Result<String, ProtocolError> {
    match &packet.data {
        PacketData::Text(_) => match encode_frame(packet, version)? {
            Frame::Text(t) => Ok(t),
            Frame::Binary(_) => unreachable!("text packets encode to text frames"),
        },
        PacketData::Binary(bytes) => match version {
            EioVersion::V3 => Ok(["b", packet.kind.as_char().encode_utf8(&mut [0; 4]), &BASE64.encode(bytes)].concat()),
            EioVersion::V4 => {
                if packet.kind != PacketType::Message {
                    return Err(ProtocolError::eio("engine.io v4 can only send binary message packets"));
                }
                Ok(["b", &BASE64.encode(bytes)].concat())
            }
        },
    }
}

/// The v4 polling payload separator (ASCII record separator).
pub const V4_SEPARATOR: char = '\u{1e}';

/// Encodes packets as an HTTP long-polling text payload.
///
/// v3: `<len>:<packet>` concatenated, where `len` counts UTF-16 code units as JavaScript's
/// `String.length` does, binary packets as `b<type><base64>`, and no packets as `0:`.
/// v4: packets joined by `\x1e`, binary packets as `b<base64>`.
pub fn encode_payload(packets: &[Packet], version: EioVersion) -> Result<String, ProtocolError> {
    let mut out = String::new();
    match version {
        EioVersion::V3 => {
            if packets.is_empty() {
                return Ok("0:".to_owned());
            }
            for packet in packets {
                let text = encode_text_form(packet, version)?;
                push_decimal(&mut out, text.encode_utf16().count() as u64);
                out.push(':');
                out.push_str(&text);
            }
        }
        EioVersion::V4 => {
            for (i, packet) in packets.iter().enumerate() {
                if i > 0 {
                    out.push(V4_SEPARATOR);
                }
                out.push_str(&encode_text_form(packet, version)?);
            }
        }
    }
    Ok(out)
}

/// Decodes an HTTP long-polling text payload (see [`encode_payload`]).
pub fn decode_payload(payload: &str, version: EioVersion) -> Result<Vec<Packet>, ProtocolError> {
    match version {
        EioVersion::V3 => decode_payload_v3(payload),
        EioVersion::V4 => payload.split(V4_SEPARATOR).map(|part| decode_text_packet(part, version)).collect(),
    }
}

fn decode_payload_v3(payload: &str) -> Result<Vec<Packet>, ProtocolError> {
    if payload.is_empty() {
        return Err(ProtocolError::eio("empty payload"));
    }
    let mut packets = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let colon = rest.find(':').ok_or_else(|| ProtocolError::eio("payload length without ':'"))?;
        let digits = &rest[..colon];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProtocolError::eio(["invalid payload length ", &quoted(digits)].concat()));
        }
        let units: usize =
            digits.parse().map_err(|_| ProtocolError::eio(["payload length ", digits, " too large"].concat()))?;
        let body = &rest[colon + 1..];
        let byte_len = utf16_prefix_len(body, units).ok_or_else(|| {
            ProtocolError::eio(["payload length ", &decimal(units as u64), " does not match the data"].concat())
        })?;
        let text = &body[..byte_len];
        if !text.is_empty() {
            packets.push(decode_text_packet(text, EioVersion::V3)?);
        }
        rest = &body[byte_len..];
    }
    Ok(packets)
}

/// The byte length of the prefix of `s` that is exactly `units` UTF-16 code units long, if there is one.
fn utf16_prefix_len(s: &str, units: usize) -> Option<usize> {
    let mut counted = 0usize;
    for (idx, ch) in s.char_indices() {
        if counted == units {
            return Some(idx);
        }
        counted += ch.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(s.len())
}

/// Encodes packets as a v3 binary polling payload (XHR2): for each packet a marker byte (`0` string,
/// `1` binary), the decimal digits of its length as byte values, `0xFF`, then the packet (UTF-8 text
/// `<type><text>`, or the type byte followed by the data).
pub fn encode_payload_v3_binary(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    for packet in packets {
        let (marker, body) = match &packet.data {
            PacketData::Text(text) => {
                let mut body = Vec::with_capacity(text.len() + 1);
                body.push(b'0' + packet.kind.code());
                body.extend_from_slice(text.as_bytes());
                (0u8, body)
            }
            PacketData::Binary(bytes) => {
                let mut body = Vec::with_capacity(bytes.len() + 1);
                body.push(packet.kind.code());
                body.extend_from_slice(bytes);
                (1u8, body)
            }
        };
        out.push(marker);
        out.extend(decimal(body.len() as u64).bytes().map(|d| d - b'0'));
        out.push(0xFF);
        out.extend_from_slice(&body);
    }
    out
}

/// Decodes a v3 binary polling payload (see [`encode_payload_v3_binary`]).
pub fn decode_payload_v3_binary(mut data: &[u8]) -> Result<Vec<Packet>, ProtocolError> {
    if data.is_empty() {
        return Err(ProtocolError::eio("empty binary payload"));
    }
    let mut packets = Vec::new();
    while let Some((&marker, rest)) = data.split_first() {
        if marker > 1 {
            return Err(ProtocolError::eio(["invalid binary payload marker ", &decimal(marker)].concat()));
        }
        let end = rest
            .iter()
            .position(|&b| b == 0xFF)
            .ok_or_else(|| ProtocolError::eio("binary payload length without 0xFF"))?;
        let digits = &rest[..end];
        if digits.is_empty() || digits.iter().any(|&d| d > 9) {
            return Err(ProtocolError::eio("invalid binary payload length"));
        }
        let len = digits.iter().try_fold(0usize, |acc, &d| acc.checked_mul(10)?.checked_add(usize::from(d)));
        let len = len.ok_or_else(|| ProtocolError::eio("binary payload length too large"))?;
        let body_start = end + 1;
        let body = rest
            .get(body_start..body_start + len)
            .ok_or_else(|| ProtocolError::eio("binary payload shorter than its length"))?;
        let packet = if marker == 0 {
            let text = std::str::from_utf8(body).map_err(|_| ProtocolError::eio("invalid UTF-8 in payload"))?;
            decode_text_packet(text, EioVersion::V3)?
        } else {
            decode_frame(&Frame::Binary(body.to_vec()), EioVersion::V3)?
        };
        packets.push(packet);
        data = &rest[body_start + len..];
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_payload_counts_utf16_units() {
        let packets = vec![Packet::message("é😀"), Packet::empty(PacketType::Ping), Packet::binary(vec![1, 2, 3])];
        let encoded = encode_payload(&packets, EioVersion::V3).unwrap();
        // "4é😀" is 1 + 1 + 2 UTF-16 units.
        assert_eq!(encoded, "4:4é😀1:26:b4AQID");
        assert_eq!(decode_payload(&encoded, EioVersion::V3).unwrap(), packets);
        assert_eq!(encode_payload(&[], EioVersion::V3).unwrap(), "0:");
        assert_eq!(decode_payload("0:", EioVersion::V3).unwrap(), vec![]);
        assert_eq!(decode_payload("2:40", EioVersion::V3).unwrap(), vec![Packet::message("0")]);
    }

    #[test]
    fn v3_payload_rejects_malformed() {
        // "2:4😀" would split the surrogate pair; ":" alone, missing digits, too-long lengths.
        for bad in ["", "2:4😀", ":", "a:4", "5:4", "2:40x", "99999999999999999999999:4", "1:9"] {
            assert!(decode_payload(bad, EioVersion::V3).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn v4_payload_uses_record_separator() {
        let packets = vec![Packet::message("hello"), Packet::binary(vec![1, 2, 3])];
        let encoded = encode_payload(&packets, EioVersion::V4).unwrap();
        assert_eq!(encoded, "4hello\u{1e}bAQID");
        assert_eq!(decode_payload(&encoded, EioVersion::V4).unwrap(), packets);
        assert!(decode_payload("", EioVersion::V4).is_err());
        assert!(decode_payload("4a\u{1e}", EioVersion::V4).is_err());
    }

    #[test]
    fn v3_binary_payload_round_trips() {
        let packets = vec![Packet::message("héllo"), Packet::binary(vec![0xde, 0xad])];
        let encoded = encode_payload_v3_binary(&packets);
        assert_eq!(&encoded[..4], &[0, 7, 0xFF, b'4']);
        assert_eq!(decode_payload_v3_binary(&encoded).unwrap(), packets);
        for bad in [&[][..], &[2, 1, 0xFF, 0], &[0, 5, 0xFF, b'4'], &[0, 10, 0xFF], &[1, 1]] {
            assert!(decode_payload_v3_binary(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base64_text_frames() {
        let p = decode_frame(&Frame::Text("b4AQID".into()), EioVersion::V3).unwrap();
        assert_eq!(p, Packet::binary(vec![1, 2, 3]));
        let p = decode_frame(&Frame::Text("bAQID".into()), EioVersion::V4).unwrap();
        assert_eq!(p, Packet::binary(vec![1, 2, 3]));
    }
}
