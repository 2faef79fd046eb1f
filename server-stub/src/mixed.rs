//! [`Mixed`]: JSON that may hold binary values, like a Node value with `Buffer`s inside.

use std::collections::HashMap;
use std::fmt;

use axum::body::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// JSON that may hold binary values: what a socket.io client can put in the arguments of an ack (a
/// `Buffer`, an `ArrayBuffer`), and what `res.json` of such a value sends back over a socket, where every
/// binary value travels as its own attachment. A value without binary data is always one
/// [`Mixed::Json`]; the [`Mixed::Array`] and [`Mixed::Object`] forms appear only on the way to bytes.
///
/// It deserializes from socketioxide's event and ack values (an attachment is handed to the visitor as
/// bytes) and serializes through socketioxide's serializer, which turns bytes back into attachments.
#[derive(Debug, Clone, PartialEq)]
pub enum Mixed {
    /// Plain JSON (no binary data inside).
    Json(Value),
    /// A binary value.
    Bytes(Bytes),
    /// An array with binary data somewhere inside.
    Array(Vec<Mixed>),
    /// An object with binary data somewhere inside, keys in order.
    Object(Vec<(String, Mixed)>),
}

impl Mixed {
    /// An array: plain JSON unless an item holds binary data.
    pub fn array(items: Vec<Mixed>) -> Mixed {
        if items.iter().any(Mixed::has_binary) {
            return Mixed::Array(items);
        }
        Mixed::Json(Value::Array(items.into_iter().map(Mixed::into_json).collect()))
    }

    /// An object (a later key replaces an earlier one in place, as in `JSON.parse`): plain JSON unless a
    /// value holds binary data. Linear in the number of entries, whatever the client sent.
    pub fn object(entries: Vec<(String, Mixed)>) -> Mixed {
        let mut unique: Vec<(String, Mixed)> = Vec::with_capacity(entries.len());
        let mut index: HashMap<String, usize> = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            match index.get(&key) {
                Some(&at) => unique[at].1 = value,
                None => {
                    index.insert(key.clone(), unique.len());
                    unique.push((key, value));
                }
            }
        }
        if unique.iter().any(|(_, v)| v.has_binary()) {
            return Mixed::Object(unique);
        }
        Mixed::Json(Value::Object(unique.into_iter().map(|(k, v)| (k, v.into_json())).collect()))
    }

    /// True if binary data is anywhere inside.
    pub fn has_binary(&self) -> bool {
        !matches!(self, Mixed::Json(_))
    }

    /// The value as `JSON.stringify` writes it: bytes become a `Buffer`'s `{"type":"Buffer","data":[…]}`
    /// (what `res.json` of such a value sends over HTTP).
    pub fn into_json(self) -> Value {
        match self {
            Mixed::Json(v) => v,
            Mixed::Bytes(b) => {
                let mut buffer = Map::new();
                buffer.insert("type".into(), Value::String("Buffer".into()));
                buffer.insert("data".into(), Value::Array(b.iter().map(|&x| Value::from(x)).collect()));
                Value::Object(buffer)
            }
            Mixed::Array(items) => Value::Array(items.into_iter().map(Mixed::into_json).collect()),
            Mixed::Object(entries) => Value::Object(entries.into_iter().map(|(k, v)| (k, v.into_json())).collect()),
        }
    }
}

impl Serialize for Mixed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Mixed::Json(v) => v.serialize(s),
            Mixed::Bytes(b) => s.serialize_bytes(b),
            Mixed::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Mixed::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Mixed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MixedVisitor)
    }
}

struct MixedVisitor;

impl<'de> Visitor<'de> for MixedVisitor {
    type Value = Mixed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON or binary data")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::String(v)))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Mixed, E> {
        Ok(Mixed::Bytes(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Mixed, E> {
        Ok(Mixed::Bytes(Bytes::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Mixed, E> {
        Ok(Mixed::Json(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Mixed, D::Error> {
        Mixed::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Mixed, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Mixed::array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Mixed, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Mixed>()? {
            entries.push(entry);
        }
        Ok(Mixed::object(entries))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_json_stays_one_value() {
        let v: Mixed = serde_json::from_value(json!({"a": [1, "x", null, {"b": true}], "a2": 1.5})).unwrap();
        assert_eq!(v, Mixed::Json(json!({"a": [1, "x", null, {"b": true}], "a2": 1.5})));
        assert!(!v.has_binary());
        assert_eq!(serde_json::to_value(&v).unwrap(), json!({"a": [1, "x", null, {"b": true}], "a2": 1.5}));
    }

    #[test]
    fn bytes_keep_their_place_and_read_as_buffers_in_json() {
        let v = Mixed::object(vec![
            ("n".into(), Mixed::Json(json!(1))),
            ("file".into(), Mixed::array(vec![Mixed::Bytes(Bytes::from_static(&[0, 255])), Mixed::Json(json!("x"))])),
        ]);
        assert!(v.has_binary());
        assert_eq!(v.clone().into_json(), json!({"n": 1, "file": [{"type": "Buffer", "data": [0, 255]}, "x"]}));
        // A later key replaces an earlier one, in place.
        let twice = Mixed::object(vec![
            ("k".into(), Mixed::Bytes(Bytes::from_static(&[1]))),
            ("j".into(), Mixed::Json(json!(0))),
            ("k".into(), Mixed::Json(json!(2))),
        ]);
        assert_eq!(twice, Mixed::Json(json!({"k": 2, "j": 0})));
    }
}
