//! The Rust half of the differential conformance suite (issue 5): executes `tests/interop/scenario.json`
//! with the `sails-io` client and writes the transcript described in `tests/interop/README.md`.
//!
//! ```text
//! run-scenario --url http://127.0.0.1:PORT --eio 3|4 --out FILE [--scenario FILE] [--verbose]
//! ```
//!
//! It follows `tests/interop/clients/run-scenario.js` (the sails.io.js runner) step by step: same
//! ops, same `expect` checks, same `save` / `{{var}}` / `$repeat` materialisation, same cookie jars,
//! same transcript records in the same order, same canonical JSON. Where the Rust client behaves
//! differently on purpose, the transcript says what really happened with record kinds sails.io.js
//! never produces:
//! - `requestRefused` (`socket`, `request`, `error`): the client refused the request before sending
//!   it (a method Sails does not serve, a body that is neither an object nor an array);
//! - `requestFailed` (`socket`, `request`, `error`): the client ended the request with an error
//!   instead of a response (the server's parse error, the disconnected error, …).
//!
//! Exit status: 0 when every step ran and every `expect` held, 1 otherwise (the transcript is written
//! either way), 2 on usage errors or when the scenario cannot be run at all.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use sails_io::{EioVersion, Error, Jwr, Method, Payload, Request, SailsSocket};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------------

const USAGE: &str =
    "usage: run-scenario --url http://127.0.0.1:PORT --eio 3|4 --out FILE [--scenario FILE] [--verbose]";

/// The parsed command line.
#[derive(Debug)]
struct Args {
    url: String,
    eio: EioVersion,
    eio_text: String,
    out: String,
    scenario: String,
    verbose: bool,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut values: HashMap<&'static str, String> = HashMap::new();
    let mut verbose = false;
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--verbose" {
            verbose = true;
            continue;
        }
        let Some(rest) = arg.strip_prefix("--") else { return Err(format!("unknown argument: {arg}")) };
        let (name, inline) = match rest.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (rest, None),
        };
        let key = match name {
            "url" => "url",
            "eio" => "eio",
            "out" => "out",
            "scenario" => "scenario",
            _ => return Err(format!("unknown argument: {arg}")),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                let v = argv.get(i).cloned().ok_or_else(|| format!("missing value for --{key}"))?;
                i += 1;
                v
            }
        };
        values.insert(key, value);
    }
    let (Some(url), Some(eio_text), Some(out)) = (values.remove("url"), values.remove("eio"), values.remove("out"))
    else {
        return Err("missing --url, --eio or --out".into());
    };
    let eio = match eio_text.as_str() {
        "3" => EioVersion::V3,
        "4" => EioVersion::V4,
        _ => return Err("--eio must be 3 or 4".into()),
    };
    let scenario = values
        .remove("scenario")
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/interop/scenario.json").to_owned());
    Ok(Args { url: url.trim_end_matches('/').to_owned(), eio, eio_text, out, scenario, verbose })
}

// ---------------------------------------------------------------------------------------------------
// Canonical JSON (README.md "Transcript")
// ---------------------------------------------------------------------------------------------------

/// Strings longer than this many UTF-16 code units are written as a digest.
const LONG_STRING: usize = 4096;

/// Compares two strings the way JavaScript's default `sort` does: by UTF-16 code units.
fn js_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// True for the keys JavaScript enumerates first, in numeric order: canonical array indices.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

/// A number as `JSON.parse` would hold it: integral values are integers (`2.0` is `2`).
fn js_number(n: &serde_json::Number) -> Value {
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                return Value::from(f as i64);
            }
        }
    }
    Value::Number(n.clone())
}

/// The canonical form of a value, as `canonical()` in run-scenario.js builds it: object keys sorted
/// (JavaScript then enumerates array-index keys first, in numeric order, and `JSON.stringify` writes
/// them that way), long strings replaced by `<string length=N sha256=HEX>`.
fn canonical(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let units = s.encode_utf16().count();
            if units > LONG_STRING {
                let digest = Sha256::digest(s.as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Value::String(format!("<string length={units} sha256={hex}>"))
            } else {
                value.clone()
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| match (array_index(a), array_index(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => js_cmp(a, b),
            });
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&map[k]));
            }
            Value::Object(out)
        }
        Value::Number(n) => js_number(n),
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

/// `JSON.stringify(canonical(value))`.
fn canonical_json(value: &Value) -> String {
    serde_json::to_string(&canonical(value)).expect("a JSON value serializes")
}

/// Sorts canonical values by their canonical JSON text, as run-scenario.js sorts payloads.
fn sort_canonical(values: &mut [Value]) {
    values.sort_by_cached_key(|v| {
        serde_json::to_string(v).expect("a JSON value serializes").encode_utf16().collect::<Vec<u16>>()
    });
}

// ---------------------------------------------------------------------------------------------------
// Scenario data helpers
// ---------------------------------------------------------------------------------------------------

type Vars = HashMap<String, Value>;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The variable name of a `{{name}}` at the start of `s`, and the length of the whole match.
fn var_at(s: &str) -> Option<(&str, usize)> {
    let rest = s.strip_prefix("{{")?;
    let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    if len == 0 || !rest[len..].starts_with("}}") {
        return None;
    }
    Some((&rest[..len], len + 4))
}

/// JavaScript's `String(value)` for the values a scenario can save.
fn js_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n).to_string(),
        Value::Array(items) => {
            items.iter().map(|v| if v.is_null() { String::new() } else { js_string(v) }).collect::<Vec<_>>().join(",")
        }
        Value::Object(_) => "[object Object]".into(),
    }
}

/// `{"$repeat": "ab", "times": 3}` becomes `"ababab"`; `{{var}}` is substituted in strings (a string
/// that is exactly `"{{var}}"` keeps the saved value's type). `{"$bytes": [1, 2]}` is checked and kept:
/// [`request_data`] turns it into binary data.
fn materialize(value: &Value, vars: &Vars) -> Result<Value, String> {
    match value {
        Value::String(s) => {
            if let Some((name, len)) = var_at(s) {
                if len == s.len() {
                    if let Some(v) = vars.get(name) {
                        return Ok(v.clone());
                    }
                }
            }
            let mut out = String::with_capacity(s.len());
            let mut i = 0;
            while i < s.len() {
                if let Some((name, len)) = var_at(&s[i..]) {
                    let v = vars.get(name).ok_or_else(|| format!("unknown variable {{{{{name}}}}}"))?;
                    out.push_str(&js_string(v));
                    i += len;
                } else {
                    let c = s[i..].chars().next().expect("inside the string");
                    out.push(c);
                    i += c.len_utf8();
                }
            }
            Ok(Value::String(out))
        }
        Value::Array(items) => items.iter().map(|v| materialize(v, vars)).collect::<Result<_, _>>().map(Value::Array),
        Value::Object(map) => {
            if let Some(rep) = map.get("$repeat") {
                let rep = rep.as_str().ok_or("$repeat must be a string")?;
                let times = map.get("times").and_then(Value::as_u64).ok_or("$repeat needs a numeric `times`")?;
                let times = usize::try_from(times).map_err(|_| "`times` is too large".to_owned())?;
                return Ok(Value::String(rep.repeat(times)));
            }
            if map.contains_key("$bytes") {
                bytes_of(value)?;
                return Ok(value.clone());
            }
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), materialize(v, vars)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// The bytes of a `{"$bytes": [0–255, …]}` object, `None` for any other value.
fn bytes_of(value: &Value) -> Result<Option<Vec<u8>>, String> {
    let Some(list) = value.as_object().and_then(|m| m.get("$bytes")) else { return Ok(None) };
    let bad = || "$bytes must be an array of integers 0-255".to_owned();
    let items = list.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(bad))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Request data with every `{"$bytes": […]}` as a binary attachment (what sails.io.js sends for a `Buffer`).
fn request_data(value: Value) -> Payload {
    fn has_bytes(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.contains_key("$bytes") || m.values().any(has_bytes),
            Value::Array(items) => items.iter().any(has_bytes),
            _ => false,
        }
    }
    if !has_bytes(&value) {
        return Payload::Json(value);
    }
    if let Ok(Some(bytes)) = bytes_of(&value) {
        return Payload::Binary(bytes);
    }
    match value {
        Value::Object(m) => Payload::Object(m.into_iter().map(|(k, v)| (k, request_data(v))).collect()),
        Value::Array(items) => Payload::Array(items.into_iter().map(request_data).collect()),
        other => Payload::Json(other),
    }
}

/// A dotted path into a value (`body.id`); arrays are indexed by number.
fn get_path<'a>(value: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(value, |acc, key| match acc {
        Value::Object(m) => m.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// run-scenario.js `isSubset`: every key of an expected object must match recursively; anything else
/// (arrays included) must be equal.
fn is_subset(expected: &Value, actual: Option<&Value>) -> bool {
    if let Value::Object(want) = expected {
        let Some(actual @ (Value::Object(_) | Value::Array(_))) = actual else { return false };
        return want.iter().all(|(k, v)| {
            let inner = match actual {
                Value::Object(m) => m.get(k),
                Value::Array(items) => array_index(k).and_then(|i| items.get(i as usize)),
                _ => None,
            };
            is_subset(v, inner)
        });
    }
    actual.is_some_and(|a| canonical_json(expected) == canonical_json(a))
}

/// A value for a failure message, shortened like run-scenario.js `show`.
fn show(value: Option<&Value>) -> String {
    let text = value.map(canonical_json).unwrap_or_else(|| "undefined".into());
    if text.encode_utf16().count() > 300 {
        let short: Vec<u16> = text.encode_utf16().take(300).collect();
        format!("{}…", String::from_utf16_lossy(&short))
    } else {
        text
    }
}

fn str_field<'a>(step: &'a Value, key: &str) -> Option<&'a str> {
    step.get(key).and_then(Value::as_str)
}

/// A JSON value that must be an object of strings (headers).
fn string_pairs(value: &Value, what: &str) -> Result<Vec<(String, String)>, String> {
    let map = value.as_object().ok_or_else(|| format!("{what} must be an object"))?;
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(format!("{what}: the value of {k:?} must be a string, got {other}")),
        })
        .collect()
}

fn millis(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64).filter(|&n| n > 0)
}

// ---------------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------------

/// What became of a request the runner made.
enum Issued {
    /// The client refused it synchronously (never sent).
    Refused(Error),
    /// Under way: the task resolves with the client's answer.
    Pending(JoinHandle<Result<Jwr, Error>>),
}

/// The outcome of waiting for a request.
enum Outcome {
    Response(Jwr),
    Refused(Error),
    Failed(Error),
    NoResponse,
}

/// A request made while its socket could not send it, answered later.
struct Held {
    spec: Value,
    label: String,
    issued: Issued,
}

/// One named socket of the scenario.
struct Entry {
    socket: SailsSocket,
    /// Recorded server events (`{event, payload}`), from the moment the socket connects.
    inbox: Arc<Mutex<Vec<(String, Value)>>>,
    /// Requests made by `queueWhileDisconnected`, answered at `reconnect`.
    pending: Vec<Held>,
}

struct Runner {
    args: Args,
    event_names: Vec<String>,
    /// `acks`: event name -> the arguments to answer it with when the server asks for an ack.
    acks: HashMap<String, Vec<Payload>>,
    timeout_ms: u64,
    settle_ms: u64,
    sockets: HashMap<String, Entry>,
    /// Cookie jars: name -> cookies in insertion order.
    jars: HashMap<String, Vec<(String, String)>>,
    vars: Vars,
    records: Vec<Value>,
    failures: Vec<String>,
    current: String,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runner {
    fn new(args: Args, scenario: &Value) -> Result<Self, String> {
        let defaults = scenario.get("defaults");
        let timeout_ms = millis(defaults.and_then(|d| d.get("timeoutMs"))).unwrap_or(5000);
        let settle_ms = defaults.and_then(|d| d.get("settleMs")).and_then(Value::as_u64).unwrap_or(150);
        let event_names = scenario
            .get("events")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let mut acks = HashMap::new();
        for (name, args) in scenario.get("acks").and_then(Value::as_object).into_iter().flatten() {
            let args = args.as_array().ok_or_else(|| format!("acks.{name} must be an array of arguments"))?;
            // Materialized like request data (`$repeat`, `$bytes`), as the node runner does; no variables.
            let args = args
                .iter()
                .map(|a| materialize(a, &Vars::new()).map(request_data))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("acks.{name}: {e}"))?;
            acks.insert(name.clone(), args);
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Runner {
            args,
            event_names,
            acks,
            timeout_ms,
            settle_ms,
            sockets: HashMap::new(),
            jars: HashMap::new(),
            vars: Vars::new(),
            records: Vec::new(),
            failures: Vec::new(),
            current: String::new(),
            http,
        })
    }

    /// Adds a record of the current step: `fields` plus `step` and `kind`.
    fn record(&mut self, kind: &str, fields: Vec<(&str, Value)>) {
        let mut rec = Map::new();
        rec.insert("step".into(), Value::from(self.current.clone()));
        rec.insert("kind".into(), Value::from(kind));
        for (k, v) in fields {
            rec.insert(k.into(), v);
        }
        self.records.push(Value::Object(rec));
    }

    fn fail(&mut self, message: impl AsRef<str>) {
        let text = format!("step {}: {}", self.current, message.as_ref());
        eprintln!("FAIL {text}");
        self.failures.push(text);
    }

    fn entry(&mut self, name: &str) -> Result<&mut Entry, String> {
        self.sockets.get_mut(name).ok_or_else(|| format!("unknown socket \"{name}\""))
    }

    fn jar_cookie(&self, jar: &str) -> Option<String> {
        let cookies = self.jars.get(jar)?;
        (!cookies.is_empty()).then(|| cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn store_set_cookie(&mut self, jar: &str, lines: &[String]) {
        let cookies = self.jars.entry(jar.to_owned()).or_default();
        for line in lines {
            let pair = line.split(';').next().unwrap_or_default();
            let Some(eq) = pair.find('=').filter(|&eq| eq > 0) else { continue };
            let (name, value) = (pair[..eq].trim().to_owned(), pair[eq + 1..].trim().to_owned());
            match cookies.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => cookies.push((name, value)),
            }
        }
    }

    /// `"<method> <url>"` as the transcript labels a request.
    fn label(&self, spec: &Value) -> Result<String, String> {
        let method = str_field(spec, "method").unwrap_or("get").to_lowercase();
        let url = materialize(spec.get("url").unwrap_or(&Value::Null), &self.vars)?;
        Ok(format!("{method} {}", js_string(&url)))
    }

    /// Makes a request through the client. The request is handed to the socket before this returns,
    /// so requests are sent (or queued) in the order they are made.
    fn issue(&self, socket: &SailsSocket, spec: &Value) -> Result<Issued, String> {
        let method = str_field(spec, "method").unwrap_or("get").to_lowercase();
        let url = match materialize(spec.get("url").unwrap_or(&Value::Null), &self.vars)? {
            Value::String(s) => s,
            other => return Err(format!("the url must be a string, got {other}")),
        };
        let data = spec.get("data").map(|d| materialize(d, &self.vars)).transpose()?;
        let headers = match spec.get("headers") {
            Some(h) => string_pairs(&materialize(h, &self.vars)?, "headers")?,
            None => Vec::new(),
        };
        let method: Method = match method.parse() {
            Ok(m) => m,
            Err(e) => return Ok(Issued::Refused(e)),
        };
        let mut request = Request::new(method, url);
        if let Some(data) = data {
            request = request.data(request_data(data));
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let socket = socket.clone();
        let mut call = Box::pin(async move { socket.request(request).await });
        // The first poll hands the request to the socket's task; the rest can run anywhere.
        if let Some(done) = (&mut call).now_or_never() {
            return Ok(Issued::Pending(tokio::spawn(async move { done })));
        }
        Ok(Issued::Pending(tokio::spawn(call)))
    }

    async fn await_issued(issued: Issued, timeout_ms: u64) -> Result<Outcome, String> {
        match issued {
            Issued::Refused(e) => Ok(Outcome::Refused(e)),
            Issued::Pending(mut task) => match tokio::time::timeout(Duration::from_millis(timeout_ms), &mut task).await
            {
                Err(_) => Ok(Outcome::NoResponse),
                Ok(Err(join)) => Err(format!("the request task failed: {join}")),
                Ok(Ok(Ok(jwr))) => Ok(Outcome::Response(jwr)),
                Ok(Ok(Err(e @ Error::InvalidRequest(_)))) => Ok(Outcome::Refused(e)),
                Ok(Ok(Err(e))) => Ok(Outcome::Failed(e)),
            },
        }
    }

    fn request_timeout(&self, spec: &Value) -> u64 {
        millis(spec.get("timeoutMs")).unwrap_or(self.timeout_ms)
    }

    fn record_outcome(&mut self, socket: &str, spec: &Value, label: &str, outcome: Outcome) {
        let expect_none = spec.get("expectNoResponse").and_then(Value::as_bool).unwrap_or(false);
        let base = |extra: Vec<(&'static str, Value)>| {
            let mut fields = vec![("socket", Value::from(socket)), ("request", Value::from(label))];
            fields.extend(extra);
            fields
        };
        match outcome {
            Outcome::NoResponse => {
                self.record("noResponse", base(vec![]));
                if !expect_none {
                    self.fail(format!("no response to {label}"));
                }
            }
            Outcome::Refused(e) => {
                // Never sent, so never answered: that satisfies `expectNoResponse`.
                self.record("requestRefused", base(vec![("error", Value::from(e.to_string()))]));
                if !expect_none {
                    self.fail(format!("the client refused {label}: {e}"));
                }
            }
            Outcome::Failed(e) => {
                let message = e.to_string();
                self.record("requestFailed", base(vec![("error", Value::from(message.clone()))]));
                // `typedError`: a client that types server errors (ours) must fail the request with this text.
                let typed = spec.get("typedError").and_then(Value::as_str);
                if let Some(want) = typed {
                    if !message.contains(want) {
                        self.fail(format!("{label}: expected an error containing {want:?}, got: {message}"));
                    }
                } else if expect_none {
                    self.fail(format!("expected no response to {label}, the client failed it: {e}"));
                } else {
                    self.fail(format!("the client failed {label}: {e}"));
                }
            }
            Outcome::Response(jwr) => {
                if expect_none {
                    self.fail(format!("expected no response to {label}, got status {}", jwr.status_code));
                }
                let Value::Object(pojo) = jwr.to_json() else { unreachable!("a JWR is an object") };
                let mut fields = base(vec![]);
                for (k, v) in &pojo {
                    let key = match k.as_str() {
                        "body" => "body",
                        "headers" => "headers",
                        "statusCode" => "statusCode",
                        _ => continue,
                    };
                    fields.push((key, v.clone()));
                }
                self.record("response", fields);
                let mut res = pojo;
                res.insert("request".into(), Value::from(label));
                let res = Value::Object(res);
                self.check_expect(spec.get("expect"), &res, label);
                if let Some(save) = spec.get("save").and_then(Value::as_object) {
                    for (name, path) in save {
                        let found = path.as_str().and_then(|p| get_path(&res, p)).cloned();
                        match found {
                            Some(v) => {
                                self.vars.insert(name.clone(), v);
                            }
                            None => self.fail(format!("cannot save {name} from {}", js_string(path))),
                        }
                    }
                }
            }
        }
    }

    /// run-scenario.js `checkExpect`, on `{statusCode, headers, body}` (body absent = no body).
    fn check_expect(&mut self, expect: Option<&Value>, res: &Value, label: &str) {
        let Some(expect) = expect else { return };
        let body = res.get("body");
        if let Some(want) = expect.get("statusCode") {
            if res.get("statusCode") != Some(want) {
                let got = res.get("statusCode").map(js_string).unwrap_or_else(|| "undefined".into());
                self.fail(format!("{label}: expected status {}, got {got} body {}", js_string(want), show(body)));
            }
        }
        if let Some(want) = expect.get("body") {
            if body.map(canonical_json).as_deref() != Some(canonical_json(want).as_str()) {
                self.fail(format!("{label}: expected body {want}, got {}", show(body)));
            }
        }
        if let Some(want) = expect.get("bodySubset") {
            match materialize(want, &self.vars) {
                Ok(want_m) => {
                    if !is_subset(&want_m, body) {
                        self.fail(format!("{label}: body {} does not contain {want}", show(body)));
                    }
                }
                Err(e) => self.fail(format!("{label}: {e}")),
            }
        }
        if let Some(prefix) = expect.get("bodyStartsWith") {
            let ok = matches!((body, prefix), (Some(Value::String(b)), Value::String(p)) if b.starts_with(p.as_str()));
            if !ok {
                self.fail(format!("{label}: body does not start with {prefix}: {}", show(body)));
            }
        }
        if let Some(want) = expect.get("headers") {
            if !is_subset(want, res.get("headers")) {
                let got = res.get("headers").map(Value::to_string).unwrap_or_default();
                self.fail(format!("{label}: headers {got} do not contain {want}"));
            }
        }
        if expect.get("noBody") == Some(&Value::Bool(true)) && body.is_some() {
            self.fail(format!("{label}: expected no body, got {}", show(body)));
        }
    }

    fn record_connected(&mut self, name: &str, id: Option<String>) {
        match id {
            Some(id) => self.record("connected", vec![("socket", Value::from(name)), ("id", Value::from(id))]),
            None => {
                self.record("connectFailed", vec![("socket", Value::from(name))]);
                self.fail(format!("socket {name} did not connect"));
            }
        }
    }

    /// Starts `socket.connect()` (handed to the socket's task before this returns) and gives back a task
    /// that resolves with its result.
    fn start_connect(socket: &SailsSocket) -> JoinHandle<Result<(), Error>> {
        let socket = socket.clone();
        let mut call = Box::pin(async move { socket.connect().await });
        if let Some(done) = (&mut call).now_or_never() {
            return tokio::spawn(async move { done });
        }
        tokio::spawn(call)
    }

    /// Waits (at most the default timeout) for a connection attempt; the socket id when connected.
    async fn wait_connected(&self, socket: &SailsSocket, task: JoinHandle<Result<(), Error>>) -> Option<String> {
        match tokio::time::timeout(Duration::from_millis(self.timeout_ms), task).await {
            Ok(Ok(Ok(()))) => socket.id(),
            Ok(Ok(Err(e))) => {
                eprintln!("step {}: connect failed: {e}", self.current);
                None
            }
            Ok(Err(join)) => {
                eprintln!("step {}: connect task failed: {join}", self.current);
                None
            }
            Err(_) => None,
        }
    }

    // --- ops ---------------------------------------------------------------------------------------

    async fn op_connect(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("connect needs `socket`")?.to_owned();
        if self.sockets.contains_key(&name) {
            return Err(format!("socket \"{name}\" already exists"));
        }
        let mut handshake = match step.get("handshakeHeaders") {
            Some(h) => string_pairs(h, "handshakeHeaders")?,
            None => Vec::new(),
        };
        if let Some(jar) = str_field(step, "jar") {
            let cookie = self.jar_cookie(jar).ok_or_else(|| format!("jar \"{jar}\" has no cookie"))?;
            handshake.retain(|(k, _)| k != "cookie");
            handshake.push(("cookie".into(), cookie));
        }
        let mut builder = SailsSocket::builder(&self.args.url).protocol(self.args.eio).request_timeout(None);
        for (k, v) in handshake {
            builder = builder.initial_connection_header(k, v);
        }
        if let Some(query) = step.get("query") {
            builder = builder.query(js_string(query));
        }
        if let Some(headers) = step.get("headers") {
            for (k, v) in string_pairs(headers, "headers")? {
                builder = builder.header(k, v);
            }
        }
        let socket = builder.build().map_err(|e| format!("cannot build the socket: {e}"))?;
        let inbox: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        for event in &self.event_names {
            let (inbox, event_name) = (inbox.clone(), event.clone());
            let answer = self.acks.get(event).cloned();
            socket.on(event, move |ev| {
                let payload = ev.as_server().map(|s| s.json_value()).unwrap_or(Value::Null);
                lock(&inbox).push((event_name.clone(), payload));
                if let (Some(server_event), Some(args)) = (ev.as_server(), &answer) {
                    if server_event.wants_ack() {
                        let _ = server_event.ack(args.clone());
                    }
                }
            });
        }
        self.sockets.insert(name.clone(), Entry { socket: socket.clone(), inbox, pending: Vec::new() });
        let connecting = Self::start_connect(&socket);
        // Requests made before the connection is up: the client queues them.
        let mut queued = Vec::new();
        for spec in step.get("queue").and_then(Value::as_array).cloned().unwrap_or_default() {
            let issued = self.issue(&socket, &spec)?;
            queued.push((spec, issued));
        }
        let id = self.wait_connected(&socket, connecting).await;
        self.record_connected(&name, id);
        for (spec, issued) in queued {
            let label = self.label(&spec)?;
            let outcome = Self::await_issued(issued, self.request_timeout(&spec)).await?;
            self.record_outcome(&name, &spec, &label, outcome);
        }
        Ok(())
    }

    async fn op_request(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("request needs `socket`")?.to_owned();
        let socket = self.entry(&name)?.socket.clone();
        let label = self.label(step)?;
        let issued = self.issue(&socket, step)?;
        let outcome = Self::await_issued(issued, self.request_timeout(step)).await?;
        self.record_outcome(&name, step, &label, outcome);
        Ok(())
    }

    async fn op_http(&mut self, step: &Value) -> Result<(), String> {
        let method = str_field(step, "method").unwrap_or("GET").to_uppercase();
        let url = js_string(&materialize(step.get("url").unwrap_or(&Value::Null), &self.vars)?);
        let mut headers = match step.get("headers") {
            Some(h) => string_pairs(&materialize(h, &self.vars)?, "headers")?,
            None => Vec::new(),
        };
        let mut payload = None;
        if let Some(body) = step.get("body") {
            let bytes = serde_json::to_vec(&materialize(body, &self.vars)?).map_err(|e| e.to_string())?;
            if !headers.iter().any(|(k, _)| k == "content-type") {
                headers.push(("content-type".into(), "application/json".into()));
            }
            headers.retain(|(k, _)| k != "content-length");
            headers.push(("content-length".into(), bytes.len().to_string()));
            payload = Some(bytes);
        }
        let jar = str_field(step, "jar").map(str::to_owned);
        if let Some(cookie) = jar.as_deref().and_then(|j| self.jar_cookie(j)) {
            headers.retain(|(k, _)| k != "cookie");
            headers.push(("cookie".into(), cookie));
        }
        let base = reqwest::Url::parse(&format!("{}/", self.args.url)).map_err(|e| e.to_string())?;
        let target = base.join(&url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("invalid method {method:?}: {e}"))?;
        let mut request = self
            .http
            .request(method_value, target)
            .timeout(Duration::from_millis(millis(step.get("timeoutMs")).unwrap_or(self.timeout_ms)))
            .header("connection", "close");
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some(bytes) = payload {
            request = request.body(bytes);
        }
        let response = request.send().await.map_err(|e| format!("HTTP {method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response.headers().get(name).map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
        };
        let content_type = header("content-type").unwrap_or(Value::Null);
        let location = header("location").filter(|v| v.as_str() != Some("")).unwrap_or(Value::Null);
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let bytes = response.bytes().await.map_err(|e| format!("HTTP {method} {url}: reading the body: {e}"))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let is_json = content_type.as_str().is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
        let body = if is_json {
            serde_json::from_str(text.trim_matches(|c: char| c.is_ascii_whitespace()))
                .unwrap_or_else(|_| Value::String(text.clone()))
        } else {
            Value::String(text)
        };
        if let Some(jar) = &jar {
            if !set_cookie.is_empty() {
                self.store_set_cookie(jar, &set_cookie);
            }
        }
        let mut hdrs = Map::new();
        hdrs.insert("content-type".into(), content_type);
        hdrs.insert("location".into(), location);
        hdrs.insert(
            "set-cookie".into(),
            if set_cookie.is_empty() {
                Value::Null
            } else {
                Value::Array(set_cookie.into_iter().map(Value::from).collect())
            },
        );
        let label = format!("{method} {url}");
        let fields = vec![
            ("request", Value::from(label.clone())),
            ("statusCode", Value::from(status)),
            ("headers", Value::Object(hdrs)),
            ("body", body),
        ];
        let res = Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        self.record("http", fields);
        self.check_expect(step.get("expect"), &res, &label);
        Ok(())
    }

    fn count_events(&mut self, name: &str, event: &str) -> Result<usize, String> {
        let entry = self.entry(name)?;
        Ok(lock(&entry.inbox).iter().filter(|(e, _)| e == event).count())
    }

    async fn op_expect_events(&mut self, step: &Value) -> Result<(), String> {
        let event = str_field(step, "event").ok_or("expectEvents needs `event`")?.to_owned();
        let counts = step.get("counts").and_then(Value::as_object).ok_or("expectEvents needs `counts`")?.clone();
        let timeout_ms = millis(step.get("timeoutMs")).unwrap_or(self.timeout_ms);
        let settle_ms = step.get("settleMs").and_then(Value::as_u64).unwrap_or(self.settle_ms);
        let mut names: Vec<String> = counts.keys().cloned().collect();
        names.sort_by(|a, b| js_cmp(a, b));
        let want = |n: &str| counts.get(n).and_then(Value::as_u64).unwrap_or(0) as usize;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let mut all = true;
            for n in &names {
                if self.count_events(n, &event)? < want(n) {
                    all = false;
                }
            }
            if all || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(settle_ms)).await;
        for n in &names {
            let entry = self.entry(n)?;
            let mut payloads: Vec<Value> = {
                let mut inbox = lock(&entry.inbox);
                let (mine, rest): (Vec<_>, Vec<_>) = inbox.drain(..).partition(|(e, _)| *e == event);
                *inbox = rest;
                mine.into_iter().map(|(_, p)| canonical(&p)).collect()
            };
            sort_canonical(&mut payloads);
            let got = payloads.len();
            self.record(
                "events",
                vec![
                    ("socket", Value::from(n.as_str())),
                    ("event", Value::from(event.as_str())),
                    ("payloads", Value::Array(payloads.clone())),
                ],
            );
            if got != want(n) {
                self.fail(format!("socket {n}: expected {} \"{event}\" events, got {got}", want(n)));
            }
            if let Some(pattern) = step.get("payload") {
                let pattern = materialize(pattern, &self.vars)?;
                for p in &payloads {
                    if !is_subset(&pattern, Some(p)) {
                        self.fail(format!("socket {n}: event payload {} does not contain {pattern}", show(Some(p))));
                    }
                }
            }
        }
        Ok(())
    }

    /// Disconnects (client side) if connected; true if it was connected.
    async fn disconnect_entry(&self, socket: &SailsSocket) -> Result<bool, String> {
        if !socket.is_connected() {
            return Ok(false);
        }
        match tokio::time::timeout(Duration::from_millis(self.timeout_ms), socket.disconnect()).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(format!("disconnect failed: {e}")),
            Err(_) => Err("disconnect did not finish in time".into()),
        }
    }

    async fn op_disconnect(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("disconnect needs `socket`")?.to_owned();
        let socket = self.entry(&name)?.socket.clone();
        if !self.disconnect_entry(&socket).await? {
            self.fail(format!("socket {name} was not connected"));
        }
        self.record(
            "disconnected",
            vec![("socket", Value::from(name)), ("connected", Value::from(socket.is_connected()))],
        );
        Ok(())
    }

    async fn op_queue_while_disconnected(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("queueWhileDisconnected needs `socket`")?.to_owned();
        let socket = self.entry(&name)?.socket.clone();
        if socket.is_connected() {
            self.fail(format!("socket {name} is connected; requests would not be queued"));
        }
        let requests = step.get("requests").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut held = Vec::new();
        for spec in &requests {
            let label = self.label(spec)?;
            let issued = self.issue(&socket, spec)?;
            held.push(Held { spec: spec.clone(), label, issued });
        }
        self.entry(&name)?.pending.extend(held);
        self.record("queued", vec![("socket", Value::from(name)), ("count", Value::from(requests.len()))]);
        Ok(())
    }

    async fn op_reconnect(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("reconnect needs `socket`")?.to_owned();
        let socket = self.entry(&name)?.socket.clone();
        // sails.io.js `.reconnect()`: a new connection of the same client object; the requests held
        // since the disconnect go out once it is up. Event handlers stay registered on the object.
        let connecting = Self::start_connect(&socket);
        let id = self.wait_connected(&socket, connecting).await;
        self.record_connected(&name, id);
        let pending = std::mem::take(&mut self.entry(&name)?.pending);
        for held in pending {
            let outcome = Self::await_issued(held.issued, self.request_timeout(&held.spec)).await?;
            self.record_outcome(&name, &held.spec, &held.label, outcome);
        }
        Ok(())
    }

    async fn close_socket(&mut self, name: &str) -> Result<(), String> {
        let socket = self.entry(name)?.socket.clone();
        self.disconnect_entry(&socket).await?;
        let entry = self.sockets.remove(name).expect("looked up above");
        let mut leftovers: Vec<Value> = lock(&entry.inbox)
            .iter()
            .map(|(event, payload)| {
                let mut m = Map::new();
                m.insert("event".into(), Value::from(event.as_str()));
                m.insert("payload".into(), payload.clone());
                canonical(&Value::Object(m))
            })
            .collect();
        sort_canonical(&mut leftovers);
        let n = leftovers.len();
        self.record("closed", vec![("socket", Value::from(name)), ("unclaimedEvents", Value::Array(leftovers))]);
        if n > 0 {
            self.fail(format!("socket {name} closed with {n} unclaimed event(s)"));
        }
        Ok(())
    }

    async fn op_close(&mut self, step: &Value) -> Result<(), String> {
        let name = str_field(step, "socket").ok_or("close needs `socket`")?.to_owned();
        self.close_socket(&name).await
    }

    async fn run_step(&mut self, step: &Value) -> Result<(), String> {
        match str_field(step, "op").unwrap_or_default() {
            "connect" => self.op_connect(step).await,
            "request" => self.op_request(step).await,
            "http" => self.op_http(step).await,
            "expectEvents" => self.op_expect_events(step).await,
            "disconnect" => self.op_disconnect(step).await,
            "queueWhileDisconnected" => self.op_queue_while_disconnected(step).await,
            "reconnect" => self.op_reconnect(step).await,
            "close" => self.op_close(step).await,
            other => unreachable!("op {other:?} was validated before the run"),
        }
    }

    async fn run(&mut self, steps: &[Value]) {
        for step in steps {
            self.current = str_field(step, "id").unwrap_or_default().to_owned();
            let started = Instant::now();
            if let Err(message) = self.run_step(step).await {
                self.record("stepError", vec![("message", Value::from(message.clone()))]);
                self.fail(format!("threw {message}"));
            }
            if self.args.verbose {
                eprintln!("{} {}ms", self.current, started.elapsed().as_millis());
            }
        }
        self.current = "(end)".into();
        let mut names: Vec<String> = self.sockets.keys().cloned().collect();
        names.sort_by(|a, b| js_cmp(a, b));
        for name in names {
            if let Err(message) = self.close_socket(&name).await {
                self.record("stepError", vec![("message", Value::from(message.clone()))]);
                self.fail(format!("threw {message}"));
            }
        }
    }
}

const OPS: [&str; 8] =
    ["connect", "request", "http", "expectEvents", "disconnect", "queueWhileDisconnected", "reconnect", "close"];

/// Checks what run-scenario.js refuses before running: ids present and unique, ops known.
fn validate_steps(steps: &[Value]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (i, step) in steps.iter().enumerate() {
        let id = str_field(step, "id").unwrap_or_default();
        if id.is_empty() || !seen.insert(id) {
            return Err(format!("step {i} has a missing or duplicate id: {id}"));
        }
        let op = str_field(step, "op").unwrap_or_default();
        if !OPS.contains(&op) {
            return Err(format!("step {id}: unknown op \"{op}\""));
        }
    }
    Ok(())
}

async fn run(args: Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(&args.scenario).map_err(|e| format!("{}: {e}", args.scenario))?;
    let scenario: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.scenario))?;
    let steps = scenario.get("steps").and_then(Value::as_array).cloned().ok_or("the scenario has no `steps`")?;
    validate_steps(&steps)?;
    let name = str_field(&scenario, "name").unwrap_or("scenario").to_owned();
    let (out, eio) = (args.out.clone(), args.eio_text.clone());
    let mut runner = Runner::new(args, &scenario)?;
    let started = Instant::now();
    runner.run(&steps).await;
    let mut lines: String = runner.records.iter().map(|r| canonical_json(r) + "\n").collect();
    if lines.is_empty() {
        lines.push('\n');
    }
    std::fs::write(&out, lines).map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "{name} (EIO={eio}, rust): {} steps, {} transcript lines, {} failure(s), {} ms",
        steps.len(),
        runner.records.len(),
        runner.failures.len(),
        started.elapsed().as_millis()
    );
    Ok(runner.failures.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    // reqwest is built with `rustls-no-provider` (the client's choice); it needs a process-wide provider
    // even for plain HTTP. Installing fails only when one is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(msg) => {
            eprintln!("run-scenario: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_like_javascript() {
        let v = json!({"b": 1, "a": {"z": true, "10": 0, "2": 0, "y": [2.0, {"d": 1, "c": 2}]}});
        assert_eq!(canonical_json(&v), r#"{"a":{"2":0,"10":0,"y":[2,{"c":2,"d":1}],"z":true},"b":1}"#);
        // UTF-16 order: U+FF5E (one unit 0xFF5E) sorts after U+1F408 (surrogates 0xD83D…).
        let v = json!({"\u{ff5e}": 1, "\u{1f408}": 2});
        assert_eq!(canonical_json(&v), "{\"\u{1f408}\":2,\"\u{ff5e}\":1}");
    }

    #[test]
    fn long_strings_become_digests_counted_in_utf16_units() {
        let exact = "x".repeat(4096);
        assert_eq!(canonical(&json!(exact)), json!(exact));
        // 2049 cats = 4098 UTF-16 units but 8196 bytes.
        let cats = "🐈".repeat(2049);
        let hex: String = Sha256::digest(cats.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(canonical(&json!(cats)), json!(format!("<string length=4098 sha256={hex}>")));
    }

    #[test]
    fn materialize_repeats_and_substitutes() {
        let mut vars = Vars::new();
        vars.insert("petId".into(), json!(7));
        let v = json!({"url": "/pet/{{petId}}", "id": "{{petId}}", "blob": {"$repeat": "ab", "times": 3}, "odd": "{{{petId}}}"});
        assert_eq!(materialize(&v, &vars).unwrap(), json!({"url": "/pet/7", "id": 7, "blob": "ababab", "odd": "{7}"}));
        assert_eq!(materialize(&json!("/x/{{nope}}"), &vars).unwrap_err(), "unknown variable {{nope}}");
        assert_eq!(materialize(&json!("{{ petId }}"), &vars).unwrap(), json!("{{ petId }}"));
    }

    #[test]
    fn subset_matches_objects_recursively_and_arrays_exactly() {
        let actual = json!({"a": 1, "b": {"c": [1, 2], "d": null}, "e": "x"});
        assert!(is_subset(&json!({"b": {"c": [1, 2]}}), Some(&actual)));
        assert!(is_subset(&json!({"b": {"d": null}}), Some(&actual)));
        assert!(!is_subset(&json!({"b": {"c": [1]}}), Some(&actual)));
        assert!(!is_subset(&json!({"missing": null}), Some(&actual)));
        assert!(!is_subset(&json!({"a": 1}), None));
        assert!(is_subset(&json!({"0": 1}), Some(&json!([1, 2]))));
    }

    #[test]
    fn args_follow_the_node_runner() {
        let argv: Vec<String> = ["--url", "http://h:1/", "--eio=4", "--out", "o.jsonl", "--verbose"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let args = parse_args(&argv).unwrap();
        assert_eq!(
            (args.url.as_str(), args.eio, args.out.as_str(), args.verbose),
            ("http://h:1", EioVersion::V4, "o.jsonl", true)
        );
        assert!(args.scenario.ends_with("interop/scenario.json"));
        let bad: Vec<String> = ["--url", "u", "--eio", "5", "--out", "o"].iter().map(|s| s.to_string()).collect();
        assert!(parse_args(&bad).is_err());
        assert!(parse_args(&["--nope".to_owned()]).is_err());
    }

    #[test]
    fn js_string_matches_javascript() {
        assert_eq!(js_string(&json!(3.0)), "3");
        assert_eq!(js_string(&json!([1, null, "a"])), "1,,a");
        assert_eq!(js_string(&json!({"a": 1})), "[object Object]");
    }
}
