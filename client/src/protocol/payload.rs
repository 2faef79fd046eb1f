//! [`Payload`]: JSON that may hold binary attachments.

use super::json::{Json, JsonExt};

use crate::error::ProtocolError;

/// A Socket.IO argument: JSON that may hold binary data somewhere inside.
///
/// A payload without binary data is always a single [`Payload::Json`]; the [`Payload::Array`] and
/// [`Payload::Object`] forms appear only on the path to a [`Payload::Binary`]. On the wire each binary
/// part is replaced by `{"_placeholder":true,"num":N}` and sent as its own attachment frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Plain JSON (no binary anywhere inside).
    Json(Json),
    /// Binary data (a Node `Buffer`, a browser `ArrayBuffer`).
    Binary(Vec<u8>),
    /// An array with binary data somewhere inside.
    Array(Vec<Payload>),
    /// An object with binary data somewhere inside, keys in wire order.
    Object(Vec<(String, Payload)>),
}

impl From<Json> for Payload {
    fn from(v: Json) -> Self {
        Payload::Json(v)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload::Binary(v)
    }
}

impl Payload {
    /// An object from its entries, in the form this type promises: one [`Payload::Json`] when no value
    /// holds binary data, a [`Payload::Object`] otherwise.
    pub fn object(entries: Vec<(String, Payload)>) -> Payload {
        if entries.iter().any(|(_, v)| v.has_binary()) {
            return Payload::Object(entries);
        }
        // Every value is `Payload::Json` here, so none is left out.
        Payload::Json(Json::from_entries(entries.into_iter().filter_map(|(k, v)| Some((k, v.into_json()?))).collect()))
    }

    /// The JSON value, if this payload holds no binary data.
    pub fn as_json(&self) -> Option<&Json> {
        match self {
            Payload::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The JSON value, taken out, if this payload holds no binary data.
    pub fn into_json(self) -> Option<Json> {
        match self {
            Payload::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes, if this payload is binary data.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Payload::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// True if binary data is anywhere inside.
    pub fn has_binary(&self) -> bool {
        !matches!(self, Payload::Json(_))
    }

    /// Converts to JSON, writing binary data the way `JSON.stringify` writes a Node `Buffer`:
    /// `{"type":"Buffer","data":[bytes…]}`.
    pub fn to_json_lossy(&self) -> Json {
        match self {
            Payload::Json(v) => v.clone(),
            Payload::Binary(b) => Json::from_entries(vec![
                ("type".into(), Json::from_string("Buffer")),
                ("data".into(), Json::from_items(b.iter().map(|&x| Json::from_u64(u64::from(x))).collect())),
            ]),
            Payload::Array(items) => Json::from_items(items.iter().map(Payload::to_json_lossy).collect()),
            Payload::Object(entries) => {
                Json::from_entries(entries.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect())
            }
        }
    }

    /// Replaces binary parts with placeholders, appending their bytes to `attachments` in order.
    pub fn deconstruct(&self, attachments: &mut Vec<Vec<u8>>) -> Json {
        match self {
            Payload::Json(v) => v.clone(),
            Payload::Binary(b) => {
                let placeholder = Json::from_entries(vec![
                    ("_placeholder".into(), Json::from_bool(true)),
                    ("num".into(), Json::from_u64(attachments.len() as u64)),
                ]);
                attachments.push(b.clone());
                placeholder
            }
            Payload::Array(items) => Json::from_items(items.iter().map(|p| p.deconstruct(attachments)).collect()),
            Payload::Object(entries) => {
                Json::from_entries(entries.iter().map(|(k, v)| (k.clone(), v.deconstruct(attachments))).collect())
            }
        }
    }

    /// Puts attachments back in place of their placeholders, as socket.io-parser does: a placeholder whose
    /// `num` is not an index into `attachments` is an error.
    pub fn reconstruct(value: Json, attachments: &[Vec<u8>]) -> Result<Payload, ProtocolError> {
        if !contains_placeholder(&value) {
            return Ok(Payload::Json(value));
        }
        if is_placeholder(&value) {
            let index = value.member("num").and_then(|n| n.as_u64()).and_then(|n| usize::try_from(n).ok());
            return match index.and_then(|i| attachments.get(i)) {
                Some(bytes) => Ok(Payload::Binary(bytes.clone())),
                None => Err(ProtocolError::sio("illegal attachments: placeholder without attachment")),
            };
        }
        if let Some(entries) = value.entries() {
            let entries = entries
                .into_iter()
                .map(|(k, v)| Ok((k, Payload::reconstruct(v, attachments)?)))
                .collect::<Result<_, ProtocolError>>()?;
            return Ok(Payload::Object(entries));
        }
        match value.items() {
            Some(items) => Ok(Payload::Array(
                items.into_iter().map(|v| Payload::reconstruct(v, attachments)).collect::<Result<_, _>>()?,
            )),
            None => Ok(Payload::Json(value)),
        }
    }
}

/// `{"_placeholder":true,…}`
fn is_placeholder(v: &Json) -> bool {
    v.member("_placeholder").and_then(|p| p.as_bool()) == Some(true)
}

fn contains_placeholder(v: &Json) -> bool {
    if let Some(entries) = v.entries() {
        is_placeholder(v) || entries.iter().any(|(_, v)| contains_placeholder(v))
    } else if let Some(items) = v.items() {
        items.iter().any(contains_placeholder)
    } else {
        false
    }
}

#[cfg(all(test, feature = "serde_json"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deconstruct_then_reconstruct() {
        let p = Payload::Array(vec![
            Payload::Json(json!("bin")),
            Payload::Object(vec![("buf".into(), Payload::Binary(vec![0xde, 0xad])), ("n".into(), json!(1).into())]),
        ]);
        let mut atts = Vec::new();
        let v = p.deconstruct(&mut atts);
        assert_eq!(v, json!(["bin", {"buf": {"_placeholder": true, "num": 0}, "n": 1}]));
        assert_eq!(atts, vec![vec![0xde, 0xad]]);
        assert_eq!(Payload::reconstruct(v, &atts).unwrap(), p);
    }

    #[test]
    fn reconstruct_rejects_bad_placeholders() {
        for v in [
            json!({"_placeholder": true, "num": 1}),
            json!({"_placeholder": true}),
            json!([{"_placeholder": true, "num": -1}]),
        ] {
            assert!(Payload::reconstruct(v, &[vec![1]]).is_err());
        }
    }

    #[test]
    fn objects_are_json_unless_a_value_is_binary() {
        let json = Payload::object(vec![("a".into(), json!(1).into()), ("b".into(), json!([2]).into())]);
        assert_eq!(json, Payload::Json(json!({"a": 1, "b": [2]})));
        let entries = vec![("a".into(), json!(1).into()), ("f".into(), Payload::Binary(vec![7]))];
        assert_eq!(Payload::object(entries.clone()), Payload::Object(entries));
    }

    #[test]
    fn lossy_json_matches_node_buffer() {
        assert_eq!(Payload::Binary(vec![1, 2]).to_json_lossy(), json!({"type": "Buffer", "data": [1, 2]}));
    }
}
