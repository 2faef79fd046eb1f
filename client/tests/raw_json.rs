//! `RawJson` (the core's JSON without the `serde_json` feature, as in the WebAssembly package) agrees with
//! `serde_json::Value` (the default) on everything the protocol code asks of a value.

use proptest::prelude::*;
use sails_io::protocol::json::{JsonExt, RawJson};
use serde_json::Value;

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(("[a-z_\"\\\\é]{0,6}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn texts(items: Option<Vec<RawJson>>) -> Option<Vec<String>> {
    items.map(|i| i.into_iter().map(RawJson::into_string).collect())
}

fn value_texts(items: Option<Vec<Value>>) -> Option<Vec<String>> {
    items.map(|i| i.into_iter().map(|v| v.to_string()).collect())
}

proptest! {
    #[test]
    fn raw_json_reads_like_serde_json(v in json_value()) {
        let text = v.to_string();
        let raw = RawJson::parse(&text).unwrap();
        prop_assert_eq!(raw.as_str(), text.as_str());
        prop_assert_eq!(raw.pretty(), JsonExt::pretty(&v));
        prop_assert_eq!(raw.string_value(), JsonExt::string_value(&v));
        prop_assert_eq!(JsonExt::as_u64(&raw), v.as_u64());
        prop_assert_eq!(JsonExt::as_bool(&raw), v.as_bool());
        prop_assert_eq!(
            (JsonExt::is_null(&raw), JsonExt::is_string(&raw), JsonExt::is_number(&raw)),
            (v.is_null(), v.is_string(), v.is_number())
        );
        prop_assert_eq!(
            (JsonExt::is_array(&raw), JsonExt::is_object(&raw)),
            (v.is_array(), v.is_object())
        );
        if let Some(n) = v.as_i64() {
            prop_assert_eq!(JsonExt::as_f64(&raw), Some(n as f64));
        }
        prop_assert_eq!(texts(raw.items()), value_texts(JsonExt::items(&v)));
        prop_assert_eq!(raw.first_item().map(RawJson::into_string), JsonExt::first_item(&v).map(|f| f.to_string()));
        let raw_entries = raw.entries().map(|e| e.into_iter().map(|(k, v)| (k, v.into_string())).collect::<Vec<_>>());
        let entries = JsonExt::entries(&v).map(|e| e.into_iter().map(|(k, v)| (k, v.to_string())).collect::<Vec<_>>());
        prop_assert_eq!(&raw_entries, &entries);
        for (key, _) in entries.unwrap_or_default() {
            prop_assert_eq!(raw.member(&key).map(RawJson::into_string), JsonExt::member(&v, &key).map(|m| m.to_string()));
        }
        // Indented text reads back to the same value.
        let pretty = RawJson::parse(&JsonExt::pretty(&v)).unwrap();
        prop_assert_eq!(pretty.pretty(), JsonExt::pretty(&v));
        prop_assert_eq!(texts(pretty.items()).map(|i| i.len()), JsonExt::items(&v).map(|i| i.len()));
    }

    #[test]
    fn raw_json_builds_like_serde_json(
        entries in proptest::collection::vec(("[a-c\n\"]{0,2}", json_value()), 0..6),
        s in ".{0,16}",
        n in any::<u64>(),
    ) {
        let raw_entries: Vec<(String, RawJson)> =
            entries.iter().map(|(k, v)| (k.clone(), RawJson::parse(&v.to_string()).unwrap())).collect();
        let raw = RawJson::from_entries(raw_entries.clone());
        prop_assert_eq!(raw.into_string(), Value::from_entries(entries.clone()).to_string());
        let raw_items: Vec<RawJson> = raw_entries.into_iter().map(|(_, v)| v).collect();
        let items: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
        prop_assert_eq!(RawJson::from_items(raw_items).into_string(), Value::from_items(items).to_string());
        prop_assert_eq!(RawJson::from_string(&s).into_string(), Value::from_string(&s).to_string());
        prop_assert_eq!(RawJson::from_u64(n).into_string(), Value::from_u64(n).to_string());
    }

    /// Valid and invalid JSON alike: the scanner accepts what serde_json accepts. (Left out: the two places
    /// where serde_json is stricter than `JSON.parse`, lone surrogates and numbers out of the f64 range.)
    #[test]
    fn raw_json_validates_like_serde_json(text in "[\\[\\]{}\",:0-9a-z \\-+.\\\\/\t]{0,16}") {
        let serde = serde_json::from_str::<Value>(&text);
        prop_assume!(!text.contains("\\u"));
        prop_assume!(!serde.as_ref().is_err_and(|e| e.to_string().contains("out of range")));
        prop_assert_eq!(RawJson::parse(&text).is_ok(), serde.is_ok(), "{:?}", text);
    }
}
