//! A small rendition of Node's `util.format('%s', value)` / `util.inspect` for JSON values, used in
//! parse-error `details` so they read like the real server's (`{ method: 'get', data: {} }`).

use serde_json::Value;

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `util.inspect(value)` on one line (Node breaks long values over several lines; this does not).
pub fn inspect(v: &Value, depth: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Array(_) if depth > 2 => "[Array]".into(),
        Value::Array(a) => format!("[ {} ]", a.iter().map(|x| inspect(x, depth + 1)).collect::<Vec<_>>().join(", ")),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Object(_) if depth > 2 => "[Object]".into(),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, x)| {
                    let key = if is_identifier(k) { k.clone() } else { quote(k) };
                    format!("{key}: {}", inspect(x, depth + 1))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `util.format('%s', value)`: strings as is, everything else inspected.
pub fn format_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => inspect(other, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn looks_like_node() {
        assert_eq!(format_s(&json!({"method":"get","data":{}})), "{ method: 'get', data: {} }");
        assert_eq!(format_s(&json!({"x-a": [1, "b"], "n": null})), "{ 'x-a': [ 1, 'b' ], n: null }");
        assert_eq!(format_s(&json!("str")), "str");
        assert_eq!(format_s(&json!(5)), "5");
    }
}
