//! The usual answer to a request, `[{"body":…,"headers":{…},"statusCode":N}]`, read straight into a
//! [`Jwr`] (builds with `serde_json`).
//!
//! The general path parses an ack's arguments into a `Value` array, the JWR into a `Value` map (an
//! `IndexMap` with hashed keys), and then takes the map apart. Reading the three keys as they stream by
//! saves that envelope, about a fifth of the native client's work per request. Only the plain shape is
//! taken: one argument, an object with nothing but `body`, `headers` and `statusCode`, each at most once,
//! and a `statusCode` that is an HTTP status. Anything else (a repeated or other key, such as Sails' parse
//! error object, a bad status, more arguments, malformed JSON) returns `None` and goes the general way,
//! which then gives its own answer or error. Both paths read values with the same serde_json parser.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json;
use super::payload::Payload;
use super::sails::Jwr;
use super::socket_io::MAX_ACK_ID;

/// Reads an ACK packet's text in the usual shape: its ack id and the JWR; `None` for anything else.
pub(crate) fn read_packet(text: &str) -> Option<(u64, Jwr)> {
    let (ack, args) = plain_ack(text)?;
    Some((ack, read(args)?))
}

/// An ACK packet on `/` without attachments, `3<id>[…]`: its ack id and the text of its argument list
/// (not parsed). `None` for any other packet, and for an id the general decoder rejects.
fn plain_ack(text: &str) -> Option<(u64, &str)> {
    let rest = text.strip_prefix('3')?;
    let digits_end = rest.bytes().position(|b| !b.is_ascii_digit())?;
    if digits_end == 0 || rest.as_bytes()[digits_end] != b'[' {
        return None;
    }
    let id = rest[..digits_end].parse::<u64>().ok().filter(|&n| n <= MAX_ACK_ID)?;
    Some((id, &rest[digits_end..]))
}

/// Reads an ack's argument list in the usual shape; `None` for anything else.
fn read(args: &str) -> Option<Jwr> {
    serde_json::from_str::<Args>(args).ok().map(|args| args.0)
}

/// The argument list: exactly one JWR.
struct Args(Jwr);

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ArgsVisitor)
    }
}

struct ArgsVisitor;

impl<'de> Visitor<'de> for ArgsVisitor {
    type Value = Args;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array holding one JWR")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
        let Envelope(jwr) = seq.next_element()?.ok_or_else(|| de::Error::custom("an ack without arguments"))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("more than one argument"));
        }
        Ok(Args(jwr))
    }
}

/// `{"body":…,"headers":…,"statusCode":…}`, each key optional and at most once.
struct Envelope(Jwr);

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWR object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let (mut body, mut headers, mut status) = (None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Body if body.is_none() => body = Some(map.next_value::<serde_json::Value>()?),
                Key::Headers if headers.is_none() => headers = Some(map.next_value::<serde_json::Value>()?),
                Key::StatusCode if status.is_none() => status = Some(map.next_value::<u16>()?),
                _ => return Err(de::Error::custom("a repeated key")),
            }
        }
        Ok(Envelope(Jwr {
            body: body.map(Payload::Json),
            // As the general path: headers that are not an object are ignored.
            headers: headers.and_then(json::into_map).unwrap_or_else(json::empty_map),
            status_code: status.unwrap_or(200),
        }))
    }
}

/// The keys the usual shape has.
enum Key {
    Body,
    Headers,
    StatusCode,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body, headers or statusCode")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        match key {
            "body" => Ok(Key::Body),
            "headers" => Ok(Key::Headers),
            "statusCode" => Ok(Key::StatusCode),
            _ => Err(E::custom("another key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::*;
    use crate::protocol::json::JsonExt;
    use crate::protocol::socket_io::Decoder;

    /// The general path: the Socket.IO decoder, then [`Jwr::from_ack_args`].
    fn general(packet: &str) -> (Option<u64>, Result<Jwr, String>) {
        match Decoder::default().decode_text(packet) {
            Ok(Some(p)) => (p.id, Jwr::from_ack_args(p.into_args()).map_err(|e| e.to_string())),
            other => (None, Err(format!("{other:?}"))),
        }
    }

    #[test]
    fn reads_the_usual_answer() {
        let jwr = read(r#"[{"body":{"hello":"world"},"headers":{"x-a":"1"},"statusCode":201}]"#).unwrap();
        assert_eq!(jwr.status_code, 201);
        assert_eq!(jwr.body_json().map(|b| b.text().into_owned()).as_deref(), Some(r#"{"hello":"world"}"#));
        assert_eq!(jwr.header("x-a"), Some("1"));
        let bare = read("[{}]").unwrap();
        assert_eq!((bare.body, bare.headers.len(), bare.status_code), (None, 0, 200));
    }

    #[test]
    fn leaves_everything_else_to_the_general_path() {
        for args in [
            r#"[]"#,
            r#"[{"statusCode":200},1]"#,
            r#"[{"body":1,"body":2}]"#,
            r#"[{"statusCode":70000}]"#,
            r#"[{"statusCode":"200"}]"#,
            r#"[{"statusCode":200.5}]"#,
            r#"[{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","message":"m","details":"d"}]"#,
            r#"[{"body":1,"extra":2}]"#,
            r#"[{"body":1}"#,
            r#"[{"body":1}]x"#,
            r#"["text"]"#,
            r#"{"body":1}"#,
        ] {
            assert!(read(args).is_none(), "{args}");
        }
    }

    #[test]
    fn takes_only_plain_ack_packets() {
        assert_eq!(read_packet(r#"37[{"statusCode":204}]"#).map(|(id, j)| (id, j.status_code)), Some((7, 204)));
        for packet in [
            r#"3[{"statusCode":200}]"#,
            r#"3/admin,7[{"statusCode":200}]"#,
            r#"37 [{"statusCode":200}]"#,
            r#"61-7[{"body":{"_placeholder":true,"num":0}}]"#,
            r#"27[{"statusCode":200}]"#,
            r#"39007199254740992[{"statusCode":200}]"#,
            "37",
        ] {
            assert!(read_packet(packet).is_none(), "{packet}");
        }
        assert_eq!(read_packet("39007199254740991[{}]").map(|(id, _)| id), Some(MAX_ACK_ID));
    }

    /// A JSON value as text, of the kinds a JWR's parts can hold.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("200".to_owned()),
            Just("-1.5e3".to_owned()),
            Just("99999".to_owned()),
            "[a-z\"é\\\\]{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("[a-z]{1,2}", inner), 0..3).prop_map(|entries| {
                    let members: Vec<String> = entries.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    /// An ack packet whose arguments are usually one JWR-like object (its keys repeated or other keys
    /// sometimes), sometimes followed by a second argument.
    fn ack_packet() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            4 => Just("body"),
            3 => Just("headers"),
            3 => Just("statusCode"),
            1 => Just("code"),
            1 => Just("other"),
        ];
        let status = prop_oneof![Just("200".to_owned()), Just("404".to_owned()), value()];
        let member = (key, value(), status).prop_map(|(k, v, s)| match k {
            "statusCode" => format!("\"{k}\":{s}"),
            _ => format!("\"{k}\":{v}"),
        });
        let object = proptest::collection::vec(member, 0..4).prop_map(|m| format!("{{{}}}", m.join(",")));
        let first = prop_oneof![6 => object, 1 => value()];
        (0u64..1000, first, proptest::option::weighted(0.1, value())).prop_map(|(id, first, second)| match second {
            Some(second) => format!("3{id}[{first},{second}]"),
            None => format!("3{id}[{first}]"),
        })
    }

    /// The property below is not vacuous: the generator makes many packets of the usual shape.
    #[test]
    fn the_generator_makes_usual_answers() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = ack_packet();
        let usual = (0..1000)
            .filter(|_| {
                let packet = strategy.new_tree(&mut runner).unwrap().current();
                read_packet(&packet).is_some()
            })
            .count();
        assert!(usual >= 150, "{usual} of 1000");
    }

    proptest! {
        /// Whatever the usual reading takes, the general path reads the same.
        #[test]
        fn the_usual_reading_agrees_with_the_general_path(packet in ack_packet()) {
            if let Some((ack, fast)) = read_packet(&packet) {
                let (id, general) = general(&packet);
                prop_assert_eq!(id, Some(ack));
                prop_assert_eq!(general, Ok(fast), "{}", packet);
            }
        }
    }
}
