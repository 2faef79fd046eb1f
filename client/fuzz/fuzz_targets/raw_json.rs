//! The core's own JSON scanner (`RawJson`, what the WebAssembly package uses instead of serde_json), fed
//! arbitrary text: it never panics; it accepts everything serde_json accepts; what it accepts re-parses
//! to itself, and its accessors (members, entries, strings, numbers) never panic on it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sails_io::protocol::json::{JsonExt, RawJson};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let raw = RawJson::parse(text);
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        assert!(raw.is_ok(), "serde_json accepts {text:?}, RawJson does not: {raw:?}");
    }
    let Ok(raw) = raw else { return };
    assert_eq!(RawJson::parse(raw.as_str()).as_ref(), Ok(&raw), "re-parses to itself");
    let _ = (raw.string_value(), raw.as_u64(), raw.as_f64(), raw.as_bool(), raw.first_item());
    let _ = (raw.is_null(), raw.is_string(), raw.is_number(), raw.is_array(), raw.is_object());
    let _ = raw.pretty();
    if let Some(items) = raw.items() {
        for item in &items {
            assert_eq!(RawJson::parse(item.as_str()).as_ref(), Ok(item), "an item is valid on its own");
        }
        let rebuilt = RawJson::from_items(items);
        assert!(RawJson::parse(rebuilt.as_str()).is_ok(), "a rebuilt array is valid: {rebuilt:?}");
    }
    if let Some(entries) = raw.entries() {
        for (key, value) in &entries {
            let _ = raw.member(key);
            assert_eq!(RawJson::parse(value.as_str()).as_ref(), Ok(value), "a member is valid on its own");
        }
        let rebuilt = RawJson::from_entries(entries);
        assert!(RawJson::parse(rebuilt.as_str()).is_ok(), "a rebuilt object is valid: {rebuilt:?}");
    }
});
