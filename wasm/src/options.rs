//! Turning what the JS layer hands over (the socket settings, request arguments as JSON text) into the
//! core's types. Pure Rust, so it is tested on the host as well as in wasm.

use std::time::Duration;

use sails_io::protocol::json::{quoted, Json, JsonExt};
use sails_io::protocol::sails::{handshake_url_from_parts, SdkInfo, SDK_PROTOCOL_VERSION};
use sails_io::{Config, EioVersion, Error, Method, Payload, ProtocolError, Reconnection, Request};

/// The connection settings of one socket, as the JS layer resolved them from `io.sails` and the
/// per-socket options. `None` keeps socket.io-client's default.
///
/// The JS layer hands them over as a plain object whose fields the driver reads one by one (numbers
/// as numbers, not as JSON text: parsing them here would link a float parser into the wasm build).
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// `http(s)://host[:port]` or `ws(s)://…`.
    pub url: String,
    /// The engine path (`/socket.io`).
    pub path: Option<String>,
    /// Added to the handshake URL (without a leading `?`).
    pub query: Option<String>,
    /// The Engine.IO version as the user wrote it: `3` (the default and what sails.io.js speaks) or `4`.
    pub eio: Option<String>,
    /// `__sails_io_sdk_platform` (`browser` unless set).
    pub platform: Option<String>,
    /// Reconnect after a connection that was up drops (default false).
    pub reconnection: bool,
    /// Attempts before giving up; `None`: never give up.
    pub reconnection_attempts: Option<f64>,
    /// First reconnection delay, ms.
    pub reconnection_delay: Option<f64>,
    /// Largest reconnection delay, ms.
    pub reconnection_delay_max: Option<f64>,
    /// Jitter of the reconnection delay (0..=1).
    pub randomization_factor: Option<f64>,
    /// Connect timeout, ms.
    pub timeout: Option<f64>,
    /// Default request timeout, ms; none: wait as long as the connection lives.
    pub request_timeout: Option<f64>,
    /// Headers added to every request that does not set them, as a JSON object.
    pub headers: Option<String>,
    /// Seed of the reconnection jitter.
    pub seed: Option<f64>,
}

/// A socket's core configuration and the WebSocket URL to open.
#[derive(Debug)]
pub struct Prepared {
    /// For [`sails_io::Connection::new`].
    pub config: Config,
    /// `ws(s)://host/socket.io/?…&EIO=3&transport=websocket`.
    pub handshake_url: String,
}

fn millis(ms: Option<f64>) -> Option<Duration> {
    ms.filter(|m| m.is_finite() && *m >= 0.0).map(|m| Duration::from_millis(m as u64))
}

/// A header value as a string: strings as they are, anything else as its JSON text.
fn header_value(v: &Json) -> String {
    match v.string_value() {
        Some(s) => s.into_owned(),
        None => v.text().into_owned(),
    }
}

fn headers(entries: Vec<(String, Json)>) -> Vec<(String, String)> {
    entries.iter().map(|(k, v)| (k.clone(), header_value(v))).collect()
}

/// A JSON object's entries; `what` names it in the error.
fn object_entries(json: &str, what: &str) -> Result<Vec<(String, Json)>, Error> {
    Json::parse(json)
        .ok()
        .and_then(|v| v.entries())
        .ok_or_else(|| Error::InvalidRequest(["invalid `", what, "`: expected a JSON object"].concat()))
}

/// Checks the settings and builds the configuration and handshake URL.
pub fn prepare(s: Settings) -> Result<Prepared, Error> {
    if s.url.is_empty() {
        return Err(Error::InvalidRequest(
            "no `url`: set `io.sails.url` (or pass one to `io.sails.connect(url)`)".into(),
        ));
    }
    let (scheme, authority, base_path) = split_url(&s.url)?;
    let eio = match s.eio.as_deref() {
        None | Some("3") => EioVersion::V3,
        Some("4") => EioVersion::V4,
        Some(other) => {
            return Err(Error::InvalidRequest(["unsupported `eio` ", &quoted(other), " (use 3 or 4)"].concat()))
        }
    };
    let sdk = SdkInfo {
        version: SDK_PROTOCOL_VERSION.into(),
        platform: s.platform.unwrap_or_else(|| "browser".into()),
        language: "javascript".into(),
    };
    let path = s.path.as_deref().unwrap_or("/socket.io");
    let url = handshake_url_from_parts(scheme, authority, base_path, path, s.query.as_deref(), &sdk, eio)?;
    let defaults = Reconnection::default();
    let reconnection = Reconnection {
        enabled: s.reconnection,
        attempts: s.reconnection_attempts.filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as u32),
        delay: millis(s.reconnection_delay).unwrap_or(defaults.delay),
        delay_max: millis(s.reconnection_delay_max).unwrap_or(defaults.delay_max),
        randomization: s.randomization_factor.filter(|f| f.is_finite()).unwrap_or(defaults.randomization),
    };
    let config_defaults = Config::default();
    let headers = match &s.headers {
        Some(json) => headers(object_entries(json, "headers")?),
        None => Vec::new(),
    };
    let config = Config {
        eio,
        reconnection,
        connect_timeout: millis(s.timeout).unwrap_or(config_defaults.connect_timeout),
        request_timeout: millis(s.request_timeout),
        headers,
        rng_seed: s.seed.filter(|s| s.is_finite() && *s >= 0.0).map_or(config_defaults.rng_seed, |s| s as u64),
        ..config_defaults
    };
    Ok(Prepared { config, handshake_url: url })
}

/// Splits `scheme://authority/path?query#fragment` into scheme, authority and path. (The `url` crate's
/// full parser is not used: its IDNA tables would be most of the wasm build; non-ASCII hosts are left to
/// the WebSocket implementation, which converts them.) Written with byte searches: `str::split_once` with
/// a `&str` pattern links a two-way string searcher, and `char` patterns their own code.
pub fn split_url(url: &str) -> Result<(&str, &str, &str), Error> {
    let invalid =
        || Error::InvalidRequest(["invalid url ", &quoted(url), " (expected e.g. http://localhost:1337)"].concat());
    let url = url.trim_ascii();
    let find = |s: &str, stops: &[u8]| s.bytes().position(|b| stops.contains(&b)).unwrap_or(s.len());
    let colon = find(url, b":");
    let scheme = &url[..colon];
    let rest = url[colon..].strip_prefix("://").ok_or_else(invalid)?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return Err(invalid());
    }
    let (authority, tail) = rest.split_at(find(rest, b"/?#"));
    if authority.is_empty() {
        return Err(invalid());
    }
    let path = &tail[..find(tail, b"?#")];
    Ok((scheme, authority, path))
}

/// Builds a request from what `socket.request()` was given after the JS layer's sails.io.js-style
/// argument checks: the method name (any case), the URL, the headers object and body as JSON text, a
/// timeout in ms (negative or NaN: the socket's default), and the binary values of the body, which the
/// JSON refers to as `{"_placeholder":true,"num":index}` (see [`with_attachments`]).
pub fn request(
    method: &str,
    url: &str,
    headers_json: &str,
    data_json: &str,
    timeout_ms: f64,
    attachments: &[Vec<u8>],
) -> Result<Request, Error> {
    let method: Method = method.parse()?;
    let bad = |what: &str, e: String| Error::InvalidRequest(["invalid `", what, "`: ", &e].concat());
    let header_entries = match headers_json {
        "" => Vec::new(),
        json => object_entries(json, "headers")?,
    };
    let data = if data_json.is_empty() { Json::null() } else { Json::parse(data_json).map_err(|e| bad("data", e))? };
    let data = with_attachments(data, attachments).map_err(|e| bad("data", e.to_string()))?;
    let mut req = Request::new(method, url).data(data);
    req.headers = headers(header_entries);
    if let Some(t) = millis(Some(timeout_ms)) {
        req = req.timeout(t);
    }
    req.validate()?;
    Ok(req)
}

/// JSON from the JS layer with its binary values put back: the JS layer replaced each `ArrayBuffer`,
/// typed array or `Buffer` by `{"_placeholder":true,"num":index}` into `attachments`. Without
/// attachments the JSON is taken as it is (as socket.io does, a placeholder-shaped object in plain JSON is
/// just an object).
pub fn with_attachments(json: Json, attachments: &[Vec<u8>]) -> Result<Payload, ProtocolError> {
    if attachments.is_empty() {
        Ok(Payload::Json(json))
    } else {
        Payload::reconstruct(json, attachments)
    }
}

/// The attachments the JS layer passed end to end in `bytes`, cut at `lengths`.
pub fn split_attachments(mut bytes: &[u8], lengths: &[u32]) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::with_capacity(lengths.len());
    for &len in lengths {
        let (head, rest) = bytes
            .split_at_checked(len as usize)
            .ok_or_else(|| Error::InvalidRequest("attachment lengths exceed the bytes given".into()))?;
        out.push(head.to_vec());
        bytes = rest;
    }
    if bytes.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidRequest("attachment lengths do not cover the bytes given".into()))
    }
}

/// How the JS layer reports a request that ended without a response.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Disconnected | Error::Closed => "disconnected",
        Error::Timeout(_) => "timeout",
        Error::Server(_) => "server",
        Error::Protocol(_) => "protocol",
        Error::Cancelled => "cancelled",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Settings {
        Settings { url: url.into(), ..Settings::default() }
    }

    #[test]
    fn defaults_are_sails_io_js_defaults() {
        let p = prepare(Settings { platform: Some("node".into()), ..settings("http://127.0.0.1:1337") }).unwrap();
        assert_eq!(
            p.handshake_url,
            "ws://127.0.0.1:1337/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=websocket"
        );
        assert!(!p.config.reconnection.enabled);
        assert_eq!(p.config.connect_timeout, Duration::from_secs(20));
        assert_eq!(p.config.request_timeout, None);
        assert_eq!(p.config.eio, EioVersion::V3);
        assert!(p.config.headers.is_empty());
    }

    #[test]
    fn settings_map_to_the_core_config() {
        let p = prepare(Settings {
            path: Some("/io".into()),
            query: Some("a=1".into()),
            eio: Some("4".into()),
            reconnection: true,
            reconnection_attempts: Some(3.0),
            reconnection_delay: Some(10.0),
            reconnection_delay_max: Some(20.0),
            randomization_factor: Some(0.0),
            timeout: Some(500.0),
            request_timeout: Some(250.0),
            headers: Some(r#"{"x-a":"1","x-n":5}"#.into()),
            seed: Some(7.0),
            ..settings("https://h.example/")
        })
        .unwrap();
        assert!(
            p.handshake_url.starts_with("wss://h.example/io/?a=1&__sails_io_sdk_version=1.2.1&"),
            "{}",
            p.handshake_url
        );
        assert!(p.handshake_url.ends_with("&EIO=4&transport=websocket"));
        let r = &p.config.reconnection;
        assert!(r.enabled);
        assert_eq!(
            (r.attempts, r.delay, r.delay_max, r.randomization),
            (Some(3), Duration::from_millis(10), Duration::from_millis(20), 0.0)
        );
        assert_eq!(p.config.connect_timeout, Duration::from_millis(500));
        assert_eq!(p.config.request_timeout, Some(Duration::from_millis(250)));
        assert_eq!(p.config.headers, vec![("x-a".into(), "1".into()), ("x-n".into(), "5".into())]);
        assert_eq!(p.config.rng_seed, 7);
        // `reconnectionAttempts: Infinity` arrives as null: never give up. Negative or NaN numbers keep
        // the defaults.
        let p = prepare(Settings {
            reconnection_attempts: None,
            reconnection_delay: Some(-1.0),
            timeout: Some(f64::NAN),
            ..settings("http://h")
        })
        .unwrap();
        assert_eq!(p.config.reconnection.attempts, None);
        assert_eq!(p.config.reconnection.delay, Reconnection::default().delay);
        assert_eq!(p.config.connect_timeout, Config::default().connect_timeout);
        assert_eq!(
            prepare(Settings { eio: Some("3".into()), ..settings("ws://h") }).unwrap().config.eio,
            EioVersion::V3
        );
    }

    #[test]
    fn urls_are_split() {
        assert_eq!(split_url("http://h:1/").unwrap(), ("http", "h:1", "/"));
        assert_eq!(split_url(" https://a.b?x=1 ").unwrap(), ("https", "a.b", ""));
        assert_eq!(split_url("ws://[::1]:9/ns?q#f").unwrap(), ("ws", "[::1]:9", "/ns"));
        assert_eq!(split_url("ws://h#f").unwrap(), ("ws", "h", ""));
        for bad in ["h:1", "://h", "http://", "ht tp://h", "http:/h", "a:b://c", "nope", ""] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        for bad in [
            settings(""),
            settings("nope"),
            settings("http://h/ns"),
            settings("ftp://h"),
            Settings { eio: Some("5".into()), ..settings("http://h") },
            Settings { headers: Some("[1]".into()), ..settings("http://h") },
            Settings { headers: Some("{".into()), ..settings("http://h") },
        ] {
            let shown = format!("{bad:?}");
            assert!(matches!(prepare(bad), Err(Error::InvalidRequest(_))), "{shown}");
        }
    }

    #[test]
    fn requests_are_built_and_checked() {
        let r = request("POST", "/echo", r#"{"x-a":"1"}"#, r#"{"n":1}"#, 1500.0, &[]).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.headers, vec![("x-a".into(), "1".into())]);
        assert_eq!(r.data.as_json().map(|d| d.text().into_owned()).as_deref(), Some(r#"{"n":1}"#));
        assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
        let r = request("get", "/a", "", "", f64::NAN, &[]).unwrap();
        assert_eq!((r.data.as_json().is_some_and(|d| d.is_null()), r.timeout), (true, None));
        assert_eq!(
            r.envelope(&[]).into_json().map(|e| e.text().into_owned()).as_deref(),
            Some(r#"{"method":"get","headers":{},"data":{},"url":"/a"}"#)
        );
        assert!(request("trace", "/a", "", "", -1.0, &[]).is_err());
        assert!(request("get", "/a", "", "\"str\"", -1.0, &[]).is_err());
        assert!(request("get", "/a", "[", "", -1.0, &[]).is_err());
        assert!(request("get", "/a", "[1]", "", -1.0, &[]).is_err());
    }

    #[test]
    fn binary_values_come_back_from_their_placeholders() {
        let data = r#"{"name":"a.png","file":{"_placeholder":true,"num":0},"parts":[{"_placeholder":true,"num":1},2]}"#;
        let r = request("post", "/up", "", data, -1.0, &[vec![0x89, 0x50], vec![1]]).unwrap();
        let Payload::Object(entries) = &r.data else { panic!("{:?}", r.data) };
        assert_eq!(entries[1], ("file".to_owned(), Payload::Binary(vec![0x89, 0x50])));
        let Payload::Array(parts) = &entries[2].1 else { panic!("{entries:?}") };
        assert_eq!(parts[0], Payload::Binary(vec![1]));
        // Without attachments a placeholder-shaped object is plain JSON.
        let r = request("post", "/up", "", r#"{"f":{"_placeholder":true,"num":0}}"#, -1.0, &[]).unwrap();
        assert!(r.data.as_json().is_some());
        // A reference to an attachment that is not there, or binary data as the whole body, is refused.
        assert!(request("post", "/up", "", r#"{"f":{"_placeholder":true,"num":3}}"#, -1.0, &[vec![1]]).is_err());
        assert!(request("post", "/up", "", r#"{"_placeholder":true,"num":0}"#, -1.0, &[vec![1]]).is_err());
    }

    #[test]
    fn attachments_are_cut_at_their_lengths() {
        assert_eq!(split_attachments(&[1, 2, 3], &[2, 0, 1]).unwrap(), vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(split_attachments(&[], &[]).unwrap(), Vec::<Vec<u8>>::new());
        assert!(split_attachments(&[1, 2], &[3]).is_err());
        assert!(split_attachments(&[1, 2], &[1]).is_err());
    }

    #[test]
    fn error_kinds() {
        assert_eq!(error_kind(&Error::Disconnected), "disconnected");
        assert_eq!(error_kind(&Error::Closed), "disconnected");
        assert_eq!(error_kind(&Error::Timeout("x")), "timeout");
        assert_eq!(error_kind(&Error::Cancelled), "cancelled");
        assert_eq!(error_kind(&Error::Transport("x".into())), "error");
    }
}
