//! JSON as the core holds it: [`Json`], read and built through [`JsonExt`].
//!
//! With the `serde_json` feature (on by default) [`Json`] is [`serde_json::Value`], so payloads, request
//! bodies and response bodies are `Value`s, as the native client's users expect. Without it (the
//! WebAssembly package, whose JavaScript side has `JSON.parse` for free) [`Json`] is [`RawJson`]: JSON
//! text the core validated with a small scanner of its own and hands on as text. The protocol code is
//! written once against [`JsonExt`], which both types implement, so the two builds share every rule
//! (packet validation, placeholders, the JWR, the request envelope) and differ only in how a value is
//! stored.

use std::borrow::Cow;
use std::fmt;

use crate::text::decimal;

/// A JSON value: [`serde_json::Value`] with the `serde_json` feature (the default), else [`RawJson`].
#[cfg(feature = "serde_json")]
pub type Json = serde_json::Value;
/// A JSON value: [`serde_json::Value`] with the `serde_json` feature (the default), else [`RawJson`].
#[cfg(not(feature = "serde_json"))]
pub type Json = RawJson;

/// A JSON object (response headers): `serde_json::Map` with the `serde_json` feature, else a [`RawJson`]
/// object.
#[cfg(feature = "serde_json")]
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
/// A JSON object (response headers): `serde_json::Map` with the `serde_json` feature, else a [`RawJson`]
/// object.
#[cfg(not(feature = "serde_json"))]
pub type JsonMap = RawJson;

/// What the core needs of a JSON value, for [`serde_json::Value`] and [`RawJson`] alike.
///
/// Names differ from `Value`'s inherent methods where the signatures differ (`string_value`, `member`),
/// and mean the same where they are the same (`is_object`, `as_u64`, …).
pub trait JsonExt: Sized + Clone {
    /// Parses JSON text: one value, optionally surrounded by whitespace.
    fn parse(text: &str) -> Result<Self, String>;
    /// The compact JSON text.
    fn text(&self) -> Cow<'_, str>;
    /// The JSON text indented by two spaces, as `JSON.stringify(value, null, 2)` writes it.
    fn pretty(&self) -> String;
    /// A JSON string.
    fn from_string(s: &str) -> Self;
    /// A JSON string, reusing `s` where the representation allows.
    fn from_owned_string(s: String) -> Self {
        Self::from_string(&s)
    }
    /// `null`.
    fn null() -> Self;
    /// A JSON number.
    fn from_u64(n: u64) -> Self;
    /// `true` or `false`.
    fn from_bool(b: bool) -> Self;
    /// An array.
    fn from_items(items: Vec<Self>) -> Self;
    /// An object; a repeated key keeps its first position and takes its last value (as `JSON.parse`).
    fn from_entries(entries: Vec<(String, Self)>) -> Self;
    /// True for `null`.
    fn is_null(&self) -> bool;
    /// True for a string.
    fn is_string(&self) -> bool;
    /// True for a number.
    fn is_number(&self) -> bool;
    /// True for an array.
    fn is_array(&self) -> bool;
    /// True for an object.
    fn is_object(&self) -> bool;
    /// The value of a string.
    fn string_value(&self) -> Option<Cow<'_, str>>;
    /// A non-negative integer that fits in a `u64`.
    fn as_u64(&self) -> Option<u64>;
    /// A number as a float.
    fn as_f64(&self) -> Option<f64>;
    /// A boolean.
    fn as_bool(&self) -> Option<bool>;
    /// The elements of an array.
    fn items(&self) -> Option<Vec<Self>>;
    /// The elements of an array, taken out of it (no copy where the representation allows).
    fn into_items(self) -> Option<Vec<Self>> {
        self.items()
    }
    /// The first element of an array (without copying the others).
    fn first_item(&self) -> Option<Self>;
    /// The entries of an object, in order (a repeated key as in [`from_entries`](Self::from_entries)).
    fn entries(&self) -> Option<Vec<(String, Self)>>;
    /// The entries of an object, taken out of it (no copy where the representation allows).
    fn into_entries(self) -> Option<Vec<(String, Self)>> {
        self.entries()
    }
    /// The value of an object's key (the last one, if repeated).
    fn member(&self, key: &str) -> Option<Self>;
}

#[cfg(feature = "serde_json")]
impl JsonExt for serde_json::Value {
    fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
    fn text(&self) -> Cow<'_, str> {
        // `to_string` (not `Display`): serde_json writes bytes straight into the buffer. A `Value` always
        // serializes (its keys are strings), so the fallback is never taken.
        Cow::Owned(serde_json::to_string(self).unwrap_or_default())
    }
    fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
    fn from_string(s: &str) -> Self {
        serde_json::Value::from(s)
    }
    fn from_owned_string(s: String) -> Self {
        serde_json::Value::String(s)
    }
    fn null() -> Self {
        serde_json::Value::Null
    }
    fn from_u64(n: u64) -> Self {
        serde_json::Value::from(n)
    }
    fn from_bool(b: bool) -> Self {
        serde_json::Value::Bool(b)
    }
    fn from_items(items: Vec<Self>) -> Self {
        serde_json::Value::Array(items)
    }
    fn from_entries(entries: Vec<(String, Self)>) -> Self {
        serde_json::Value::Object(entries.into_iter().collect())
    }
    fn is_null(&self) -> bool {
        serde_json::Value::is_null(self)
    }
    fn is_string(&self) -> bool {
        serde_json::Value::is_string(self)
    }
    fn is_number(&self) -> bool {
        serde_json::Value::is_number(self)
    }
    fn is_array(&self) -> bool {
        serde_json::Value::is_array(self)
    }
    fn is_object(&self) -> bool {
        serde_json::Value::is_object(self)
    }
    fn string_value(&self) -> Option<Cow<'_, str>> {
        self.as_str().map(Cow::Borrowed)
    }
    fn as_u64(&self) -> Option<u64> {
        serde_json::Value::as_u64(self)
    }
    fn as_f64(&self) -> Option<f64> {
        serde_json::Value::as_f64(self)
    }
    fn as_bool(&self) -> Option<bool> {
        serde_json::Value::as_bool(self)
    }
    fn items(&self) -> Option<Vec<Self>> {
        self.as_array().cloned()
    }
    fn into_items(self) -> Option<Vec<Self>> {
        match self {
            serde_json::Value::Array(items) => Some(items),
            _ => None,
        }
    }
    fn first_item(&self) -> Option<Self> {
        self.as_array()?.first().cloned()
    }
    fn entries(&self) -> Option<Vec<(String, Self)>> {
        self.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    fn into_entries(self) -> Option<Vec<(String, Self)>> {
        match self {
            serde_json::Value::Object(m) => Some(m.into_iter().collect()),
            _ => None,
        }
    }
    fn member(&self, key: &str) -> Option<Self> {
        self.get(key).cloned()
    }
}

/// The deepest nesting of arrays and objects accepted (serde_json's limit).
const MAX_DEPTH: usize = 128;

/// Validated JSON text: exactly one JSON value (RFC 8259, as `JSON.parse` reads it), without surrounding
/// whitespace. Equality is equality of the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(String);

impl RawJson {
    /// Validates `text` (surrounding whitespace is dropped).
    pub fn parse(text: &str) -> Result<RawJson, String> {
        let b = text.as_bytes();
        let start = skip_ws(b, 0);
        let end = value_end(b, start, 0).map_err(|(msg, at)| [msg, " at byte ", &decimal(at as u64)].concat())?;
        if skip_ws(b, end) != b.len() {
            return Err(["trailing characters at byte ", &decimal(end as u64)].concat());
        }
        Ok(RawJson(text[start..end].to_owned()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Splits an array or object into its members: the key's text (with quotes, objects only) and the
    /// value's text, in order. The text is valid, so this only finds the boundaries.
    fn members(&self, open: u8) -> Option<Vec<(&str, &str)>> {
        let b = self.0.as_bytes();
        if b.first() != Some(&open) {
            return None;
        }
        let mut out = Vec::new();
        let mut i = skip_ws(b, 1);
        if matches!(b.get(i), Some(b']' | b'}')) {
            return Some(out);
        }
        loop {
            let mut key = "";
            if open == b'{' {
                let end = string_end(b, i).ok()?;
                key = &self.0[i..end];
                i = skip_ws(b, skip_ws(b, end) + 1);
            }
            let end = value_end(b, i, 0).ok()?;
            out.push((key, &self.0[i..end]));
            i = skip_ws(b, end);
            if b.get(i) != Some(&b',') {
                return Some(out);
            }
            i = skip_ws(b, i + 1);
        }
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonExt for RawJson {
    fn parse(text: &str) -> Result<Self, String> {
        RawJson::parse(text)
    }
    fn text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
    fn pretty(&self) -> String {
        let mut out = String::new();
        pretty_into(&mut out, self, 0);
        out
    }
    fn from_string(s: &str) -> Self {
        let mut out = String::with_capacity(s.len() + 2);
        escape_into(&mut out, s);
        RawJson(out)
    }
    fn null() -> Self {
        RawJson("null".to_owned())
    }
    fn from_u64(n: u64) -> Self {
        RawJson(decimal(n))
    }
    fn from_bool(b: bool) -> Self {
        RawJson(if b { "true" } else { "false" }.to_owned())
    }
    fn from_items(items: Vec<Self>) -> Self {
        let mut out = String::from("[");
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&item.0);
        }
        out.push(']');
        RawJson(out)
    }
    fn from_entries(entries: Vec<(String, Self)>) -> Self {
        let mut out = String::from("{");
        for (n, (k, v)) in dedupe(entries).iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            escape_into(&mut out, k);
            out.push(':');
            out.push_str(&v.0);
        }
        out.push('}');
        RawJson(out)
    }
    fn is_null(&self) -> bool {
        self.0 == "null"
    }
    fn is_string(&self) -> bool {
        self.0.starts_with('"')
    }
    fn is_number(&self) -> bool {
        self.0.starts_with(|c: char| c == '-' || c.is_ascii_digit())
    }
    fn is_array(&self) -> bool {
        self.0.starts_with('[')
    }
    fn is_object(&self) -> bool {
        self.0.starts_with('{')
    }
    fn string_value(&self) -> Option<Cow<'_, str>> {
        self.is_string().then(|| unescape(&self.0))
    }
    fn as_u64(&self) -> Option<u64> {
        if !self.0.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        self.0.parse().ok()
    }
    fn as_f64(&self) -> Option<f64> {
        self.is_number().then(|| parse_f64(&self.0))
    }
    fn as_bool(&self) -> Option<bool> {
        match self.0.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
    fn items(&self) -> Option<Vec<Self>> {
        Some(self.members(b'[')?.into_iter().map(|(_, v)| RawJson(v.to_owned())).collect())
    }
    fn first_item(&self) -> Option<Self> {
        let b = self.0.as_bytes();
        if b.first() != Some(&b'[') {
            return None;
        }
        let start = skip_ws(b, 1);
        let end = value_end(b, start, 0).ok()?;
        Some(RawJson(self.0[start..end].to_owned()))
    }
    fn entries(&self) -> Option<Vec<(String, Self)>> {
        let members = self.members(b'{')?;
        Some(dedupe(members.into_iter().map(|(k, v)| (unescape(k).into_owned(), RawJson(v.to_owned()))).collect()))
    }
    fn member(&self, key: &str) -> Option<Self> {
        let members = self.members(b'{')?;
        members.into_iter().rev().find(|(k, _)| unescape(k) == key).map(|(_, v)| RawJson(v.to_owned()))
    }
}

/// A repeated key keeps its first position and takes its last value.
fn dedupe(entries: Vec<(String, RawJson)>) -> Vec<(String, RawJson)> {
    // Indices sorted by key, equal keys in their order, to find repeats in O(n log n). (An unstable
    // sort with the index as tie-break: the same order as a stable sort, and less code.)
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
    if order.windows(2).all(|w| entries[w[0]].0 != entries[w[1]].0) {
        return entries;
    }
    // For each index: the index whose value it takes (the last of its key), or none if it is dropped.
    let mut source: Vec<Option<usize>> = vec![None; entries.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && entries[order[end]].0 == entries[order[start]].0 {
            end += 1;
        }
        source[order[start]] = Some(order[end - 1]);
        start = end;
    }
    let mut values: Vec<Option<(String, RawJson)>> = entries.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for (i, from) in source.into_iter().enumerate() {
        if let Some(from) = from {
            let key = values[i].as_ref().map(|(k, _)| k.clone()).unwrap_or_default();
            if let Some((_, v)) = values[from].take() {
                out.push((key, v));
            }
        }
    }
    out
}

fn pretty_into(out: &mut String, value: &RawJson, indent: usize) {
    let (entries, open, close) = if let Some(entries) = value.entries() {
        (entries.into_iter().map(|(k, v)| (Some(k), v)).collect::<Vec<_>>(), '{', '}')
    } else if let Some(items) = value.items() {
        (items.into_iter().map(|v| (None, v)).collect(), '[', ']')
    } else {
        return out.push_str(&value.0);
    };
    out.push(open);
    for (n, (key, v)) in entries.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('\n');
        push_indent(out, indent + 1);
        if let Some(key) = key {
            escape_into(out, key);
            out.push_str(": ");
        }
        pretty_into(out, v, indent + 1);
    }
    if !entries.is_empty() {
        out.push('\n');
        push_indent(out, indent);
    }
    out.push(close);
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

type ScanError = (&'static str, usize);

/// Validates the value starting at `i` (no whitespace before it) and returns where it ends.
fn value_end(b: &[u8], i: usize, depth: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        Some(&open @ (b'[' | b'{')) => {
            if depth >= MAX_DEPTH {
                return Err(("nested too deeply", i));
            }
            let close = if open == b'[' { b']' } else { b'}' };
            let mut j = skip_ws(b, i + 1);
            if b.get(j) == Some(&close) {
                return Ok(j + 1);
            }
            loop {
                if open == b'{' {
                    if b.get(j) != Some(&b'"') {
                        return Err(("expected a key", j));
                    }
                    j = skip_ws(b, string_end(b, j)?);
                    if b.get(j) != Some(&b':') {
                        return Err(("expected `:`", j));
                    }
                    j = skip_ws(b, j + 1);
                }
                j = skip_ws(b, value_end(b, j, depth + 1)?);
                match b.get(j) {
                    Some(b',') => j = skip_ws(b, j + 1),
                    Some(&c) if c == close => return Ok(j + 1),
                    _ => return Err(("expected `,` or the end of the list", j)),
                }
            }
        }
        Some(b'"') => string_end(b, i),
        Some(b't') => literal_end(b, i, b"true"),
        Some(b'f') => literal_end(b, i, b"false"),
        Some(b'n') => literal_end(b, i, b"null"),
        Some(b'-' | b'0'..=b'9') => number_end(b, i),
        Some(_) => Err(("expected a value", i)),
        None => Err(("unexpected end", i)),
    }
}

fn literal_end(b: &[u8], i: usize, word: &[u8]) -> Result<usize, ScanError> {
    if b[i..].starts_with(word) {
        Ok(i + word.len())
    } else {
        Err(("expected a value", i))
    }
}

/// The end of the string starting at `i` (a `"`).
fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        match b.get(j) {
            None => return Err(("unterminated string", j)),
            Some(b'"') => return Ok(j + 1),
            Some(b'\\') => match b.get(j + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                Some(b'u') if b.get(j + 2..j + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => j += 6,
                _ => return Err(("invalid escape", j)),
            },
            Some(&c) if c < 0x20 => return Err(("control character in a string", j)),
            Some(_) => j += 1,
        }
    }
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
fn number_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + usize::from(b[i] == b'-');
    match b.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits_end(b, j + 1),
        _ => return Err(("invalid number", j)),
    }
    if b.get(j) == Some(&b'.') {
        let end = digits_end(b, j + 1);
        if end == j + 1 {
            return Err(("invalid number", end));
        }
        j = end;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let end = digits_end(b, j);
        if end == j {
            return Err(("invalid number", end));
        }
        j = end;
    }
    Ok(j)
}

/// The value of a valid JSON string literal (with its quotes). A lone surrogate becomes U+FFFD.
fn unescape(quoted: &str) -> Cow<'_, str> {
    let inner = &quoted[1..quoted.len() - 1];
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let esc = &rest[pos + 1..];
        let (c, used) = match esc.as_bytes()[0] {
            b'b' => ('\u{8}', 1),
            b'f' => ('\u{c}', 1),
            b'n' => ('\n', 1),
            b'r' => ('\r', 1),
            b't' => ('\t', 1),
            b'u' => {
                let unit = hex4(&esc[1..5]);
                let low = esc.get(5..11).filter(|s| s.starts_with("\\u")).map(|s| hex4(&s[2..]));
                match (unit, low) {
                    (0xD800..=0xDBFF, Some(low @ 0xDC00..=0xDFFF)) => {
                        let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(c).unwrap_or('\u{fffd}'), 11)
                    }
                    _ => (char::from_u32(unit).unwrap_or('\u{fffd}'), 5),
                }
            }
            other => (char::from(other), 1),
        };
        out.push(c);
        rest = &esc[used..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn hex4(s: &str) -> u32 {
    s.bytes().fold(0, |n, c| n * 16 + char::from(c).to_digit(16).unwrap_or(0))
}

/// `s` as a JSON string literal (`"a\"b"`): how error messages quote a value. (Not `{:?}`: the
/// WebAssembly build is compiled without `Debug` formatting, see wasm/build.sh.)
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_into(&mut out, s);
    out
}

/// The first character of `s` (empty if `s` is): what an "unknown packet type" message shows.
pub(crate) fn first_char(s: &str) -> &str {
    &s[..s.chars().next().map_or(0, char::len_utf8)]
}

/// Writes `s` as a JSON string literal, escaping as `JSON.stringify` and serde_json do.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A valid JSON number as a float, without the standard library's float parser (its tables would
/// be a large part of a WebAssembly build). Exact (correctly rounded) when the digits fit in 53 bits
/// and the decimal exponent is within ±22, which covers every option value the wasm client reads
/// (milliseconds, factors like `0.5`); otherwise within a few ulps.
fn parse_f64(s: &str) -> f64 {
    let b = s.as_bytes();
    let neg = b[0] == b'-';
    let mut i = usize::from(neg);
    let mut mantissa: u64 = 0;
    let mut exp: i32 = 0;
    let mut fraction = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                if mantissa < (u64::MAX - 9) / 10 {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    exp -= i32::from(fraction);
                } else if !fraction {
                    exp += 1;
                }
            }
            b'.' => fraction = true,
            _ => break,
        }
        i += 1;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let rest = &s[i + 1..];
        let e = rest.trim_start_matches('+').parse::<i32>().unwrap_or(if rest.starts_with('-') {
            i32::MIN / 2
        } else {
            i32::MAX / 2
        });
        exp = exp.saturating_add(e);
    }
    // 10^0 ..= 10^22 are exact in an f64.
    let mut pow = [1.0f64; 23];
    for k in 1..pow.len() {
        pow[k] = pow[k - 1] * 10.0;
    }
    let m = mantissa as f64;
    let v = if mantissa < (1 << 53) && (-22..=22).contains(&exp) {
        // One correctly rounded operation on exact operands: the result is correctly rounded.
        if exp < 0 {
            m / pow[(-exp) as usize]
        } else {
            m * pow[exp as usize]
        }
    } else {
        m * 10f64.powi(exp.clamp(-400, 400))
    };
    if neg {
        -v
    } else {
        v
    }
}

/// An empty object.
pub(crate) fn empty_map() -> JsonMap {
    #[cfg(feature = "serde_json")]
    return serde_json::Map::new();
    #[cfg(not(feature = "serde_json"))]
    return RawJson("{}".to_owned());
}

/// The object, if `value` is one.
pub(crate) fn into_map(value: Json) -> Option<JsonMap> {
    #[cfg(feature = "serde_json")]
    return match value {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    };
    #[cfg(not(feature = "serde_json"))]
    return value.is_object().then_some(value);
}

/// The object as a value.
pub(crate) fn map_to_json(map: &JsonMap) -> Json {
    #[cfg(feature = "serde_json")]
    return serde_json::Value::Object(map.clone());
    #[cfg(not(feature = "serde_json"))]
    return map.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawJson {
        RawJson::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn quotes_values_for_messages() {
        assert_eq!(quoted("trace"), r#""trace""#);
        assert_eq!(quoted("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(first_char("\u{e9}t\u{e9}"), "\u{e9}");
        assert_eq!(first_char(""), "");
    }

    #[test]
    fn validates_like_json_parse() {
        for ok in [
            "0",
            "-0",
            "1.5e-3",
            "1E+2",
            "\"\"",
            "\"a\\u00e9\\n\\/\"",
            "true",
            "false",
            "null",
            " [ ] ",
            "{}",
            "[1,[2,{\"a\":[]}]]",
            "{\"a\":1,\"a\":2}",
            "\"\u{1f600}\"",
            "1e400",
        ] {
            raw(ok);
        }
        for bad in [
            "",
            " ",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "[1 2]",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}\"",
            "\"abc",
            "tru",
            "nul",
            "[1]x",
            "[",
            "{\"a\":1",
            "'a'",
            "NaN",
            "Infinity",
        ] {
            assert!(RawJson::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(RawJson::parse(&deep(MAX_DEPTH)).is_ok());
        assert!(RawJson::parse(&deep(MAX_DEPTH + 1)).is_err());
        assert!(RawJson::parse(&deep(100_000)).is_err(), "no stack overflow");
    }

    #[test]
    fn reads_and_builds() {
        let v = raw(r#" {"a" : [1, "x\"y", {"b":null}], "s":"\ud83d\ude00\u00e9", "n": 42, "a": true} "#);
        assert_eq!(v.as_str(), r#"{"a" : [1, "x\"y", {"b":null}], "s":"\ud83d\ude00\u00e9", "n": 42, "a": true}"#);
        let entries = v.entries().unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "s", "n"], "a repeated key keeps its first place");
        assert_eq!(entries[0].1, raw("true"), "and takes its last value");
        assert_eq!(v.member("s").unwrap().string_value().unwrap(), "\u{1f600}\u{e9}");
        assert_eq!(v.member("n").unwrap().as_u64(), Some(42));
        assert_eq!(v.member("a").unwrap().as_bool(), Some(true));
        assert!(v.member("zz").is_none());
        let items = raw(r#"[1, "x\"y", {"b":null}]"#).items().unwrap();
        assert_eq!(items, vec![raw("1"), raw(r#""x\"y""#), raw(r#"{"b":null}"#)]);
        assert_eq!(items[1].string_value().unwrap(), "x\"y");
        assert_eq!(raw("[]").items(), Some(vec![]));
        assert_eq!(raw("{}").entries(), Some(vec![]));
        assert_eq!(raw("1").items(), None);
        let built = RawJson::from_entries(vec![
            ("k\n".into(), RawJson::from_string("v\u{1}\"\\")),
            ("n".into(), RawJson::from_items(vec![RawJson::from_u64(7), RawJson::from_bool(false)])),
            ("k\n".into(), RawJson::from_u64(1)),
        ]);
        assert_eq!(built.as_str(), r#"{"k\n":1,"n":[7,false]}"#);
        assert_eq!(RawJson::from_string("v\u{1}\"\\").as_str(), r#""v\u0001\"\\""#);
        assert_eq!(raw("\"\\ud800x\"").string_value().unwrap(), "\u{fffd}x", "a lone surrogate");
    }

    #[test]
    fn numbers() {
        for (s, u) in [("0", Some(0)), ("42", Some(42)), ("-1", None), ("1.0", None), ("1e2", None)] {
            assert_eq!(raw(s).as_u64(), u, "{s}");
        }
        assert_eq!(raw("18446744073709551616").as_u64(), None);
        for (s, f) in [
            ("0.5", 0.5),
            ("-2.25", -2.25),
            ("1000", 1000.0),
            ("1e3", 1000.0),
            ("0.1", 0.1),
            ("123.456", 123.456),
            ("1.5E-7", 1.5e-7),
            ("9007199254740993", 9007199254740992.0),
        ] {
            assert_eq!(raw(s).as_f64(), Some(f), "{s}");
        }
        assert_eq!(raw("1e400").as_f64(), Some(f64::INFINITY));
        assert_eq!(raw("\"1\"").as_f64(), None);
    }

    #[test]
    fn pretty_is_json_stringify_with_two_spaces() {
        let v = raw(r#"{"a":[1,{"b":[]}],"c":{},"d":"x"}"#);
        assert_eq!(
            v.pretty(),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {},\n  \"d\": \"x\"\n}"
        );
        assert_eq!(raw("\"Not Found\"").pretty(), "\"Not Found\"");
    }

    #[cfg(feature = "serde_json")]
    #[test]
    fn raw_json_agrees_with_serde_json() {
        use serde_json::Value;
        let samples = [
            r#"{"a":[1,"x\"y",{"b":null}],"s":"é\n","n":42,"f":1.5,"neg":-3,"t":true,"e":{},"l":[]}"#,
            r#"[{"_placeholder":true,"num":0},"é",[[[]]]]"#,
            r#""plain""#,
            "12",
        ];
        for s in samples {
            let r = raw(s);
            let v: Value = JsonExt::parse(s).unwrap();
            assert_eq!(r.pretty(), v.pretty(), "{s}");
            assert_eq!(JsonExt::text(&r), JsonExt::text(&v), "{s}");
            assert_eq!(r.string_value(), JsonExt::string_value(&v), "{s}");
            assert_eq!(r.is_object(), v.is_object());
            let entries = |e: Option<Vec<(String, RawJson)>>| {
                e.map(|e| e.into_iter().map(|(k, v)| (k, v.into_string())).collect::<Vec<_>>())
            };
            let v_entries = JsonExt::entries(&v).map(|e| e.into_iter().map(|(k, v)| (k, v.to_string())).collect());
            assert_eq!(entries(r.entries()), v_entries, "{s}");
            let items = r.items().map(|i| i.into_iter().map(RawJson::into_string).collect::<Vec<_>>());
            let v_items = JsonExt::items(&v).map(|i| i.into_iter().map(|v| v.to_string()).collect());
            assert_eq!(items, v_items, "{s}");
        }
    }
}
