//! The Sails layer: virtual requests, JSON WebSocket Responses (JWR), parse errors and the handshake URL.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "serde_json")]
use serde::de::DeserializeOwned;
use url::Url;
use web_time::Duration;

use super::engine_io::EioVersion;
use super::json::{self, Json, JsonExt, JsonMap};
use super::payload::Payload;
use super::socket_io;
use crate::error::{Error, ProtocolError};

/// The sails.io.js protocol version this crate implements, sent as `__sails_io_sdk_version`.
///
/// Sails answers every request with a parse error when the version is below 0.11.0, so this is the
/// version of the JavaScript SDK whose wire behaviour we reproduce, not this crate's version.
pub const SDK_PROTOCOL_VERSION: &str = "1.2.1";

/// The `code` of the error object Sails sends when it cannot parse a virtual request.
pub const PARSE_ERROR_CODE: &str = "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ";

/// The event Sails emits with a [`ParseError`] when the request had no ack id.
pub const PARSE_ERROR_EVENT: &str = "sails:parseError";

/// The HTTP methods Sails serves over sockets; each is sent as the Socket.IO event of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `get`
    #[default]
    Get,
    /// `post`
    Post,
    /// `put`
    Put,
    /// `patch`
    Patch,
    /// `delete`
    Delete,
    /// `options`
    Options,
    /// `head`
    Head,
}

impl Method {
    /// All methods the server listens for.
    pub const ALL: [Method; 7] =
        [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete, Method::Options, Method::Head];

    /// The lower-case name, which is also the Socket.IO event name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Options => "options",
            Method::Head => "head",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = Error;
    /// Parses a method name in any case (`GET`, `get`); methods Sails does not serve are refused.
    fn from_str(s: &str) -> Result<Self, Error> {
        Method::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            Error::InvalidRequest(
                [
                    "unsupported method ",
                    &json::quoted(s),
                    ": Sails serves get, post, put, patch, delete, options and head",
                ]
                .concat(),
            )
        })
    }
}

/// A virtual request: what `io.socket.request({method, url, headers, data})` sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method (and Socket.IO event name).
    pub method: Method,
    /// The URL path with its query string, e.g. `/users?limit=2`.
    pub url: String,
    /// Request headers, in insertion order.
    pub headers: Vec<(String, String)>,
    /// The body/parameters: an object or an array (`{}` when absent). Binary values inside it
    /// ([`Payload::Binary`] within a [`Payload::Object`] or [`Payload::Array`]) are sent as Socket.IO
    /// attachments, as sails.io.js sends a `Buffer` or `ArrayBuffer`; the server sees them as buffers.
    pub data: Payload,
    /// How long to wait for the response before failing with [`Error::Timeout`]; overrides the default.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with no headers and an empty `{}` body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            data: Payload::Json(Json::from_entries(Vec::new())),
            timeout: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (an object or an array; `null` means `{}`): JSON, or a [`Payload`] tree with binary
    /// parts.
    ///
    /// ```
    /// # #[cfg(feature = "serde_json")] {
    /// use sails_io::{Method, Payload, Request};
    ///
    /// let upload = Request::new(Method::Post, "/upload").data(Payload::Object(vec![
    ///     ("name".into(), Payload::Json(serde_json::json!("logo.png"))),
    ///     ("file".into(), Payload::Binary(vec![0x89, 0x50, 0x4e, 0x47])),
    /// ]));
    /// assert!(upload.validate().is_ok());
    /// # }
    /// ```
    pub fn data(mut self, data: impl Into<Payload>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets this request's timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks what sails.io.js checks before sending: the body must be an object or an array.
    pub fn validate(&self) -> Result<(), Error> {
        let valid = match &self.data {
            Payload::Json(v) => v.is_object() || v.is_array() || v.is_null(),
            Payload::Object(_) | Payload::Array(_) => true,
            Payload::Binary(_) => false,
        };
        if valid {
            Ok(())
        } else {
            Err(Error::InvalidRequest(
                "invalid `data`: it should be a dictionary (or an array) with JSON-serializable values".into(),
            ))
        }
    }

    /// The wire envelope `{"method","headers","data","url"}` in sails.io.js key order, with `defaults`
    /// added for header names the request does not set (compared case-sensitively, as sails.io.js does).
    /// It is [`Payload::Json`] unless the data holds binary parts.
    pub fn envelope(&self, defaults: &[(String, String)]) -> Payload {
        self.clone().into_envelope(defaults)
    }

    /// [`envelope`](Self::envelope), moving the request's data and url into it instead of copying them.
    pub fn into_envelope(self, defaults: &[(String, String)]) -> Payload {
        let mut headers: Vec<(String, Json)> = Vec::new();
        self.envelope_headers(defaults, |k, v| headers.push((k.to_owned(), Json::from_string(v))));
        let data = match self.data {
            Payload::Json(data) if data.is_null() => Payload::Json(Json::from_entries(Vec::new())),
            data => data,
        };
        Payload::object(vec![
            ("method".into(), Payload::Json(Json::from_string(self.method.as_str()))),
            ("headers".into(), Payload::Json(Json::from_entries(headers))),
            ("data".into(), data),
            ("url".into(), Payload::Json(Json::from_owned_string(self.url))),
        ])
    }

    /// Calls `f` with the envelope's headers, each name once: the request's (a repeated name at its first
    /// position with its last value, as `JSON.parse` keeps an object's repeated key), then each default
    /// whose name the request does not set (the first of a repeated default).
    fn envelope_headers<'a>(&'a self, defaults: &'a [(String, String)], mut f: impl FnMut(&'a str, &'a str)) {
        for (i, (name, _)) in self.headers.iter().enumerate() {
            if !self.headers[..i].iter().any(|(n, _)| n == name) {
                let last = self.headers[i..].iter().rev().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
                f(name, last);
            }
        }
        for (i, (name, value)) in defaults.iter().enumerate() {
            if !self.headers.iter().chain(&defaults[..i]).any(|(n, _)| n == name) {
                f(name, value);
            }
        }
    }

    /// The Socket.IO EVENT text of this request, `2<ack id>["<method>",<envelope>]`, written straight from
    /// the request (the same text as encoding the [`envelope`](Self::envelope) as a packet, without
    /// building it as a JSON value); `None` when the data holds binary parts.
    pub(crate) fn event_text(&self, ack_id: u64, defaults: &[(String, String)]) -> Option<String> {
        let Payload::Json(data) = &self.data else { return None };
        Some(socket_io::encode_json_event(self.method.as_str(), Some(ack_id), |out| {
            out.push_str(",{\"method\":");
            json::escape_into(out, self.method.as_str());
            out.push_str(",\"headers\":{");
            let mut first = true;
            self.envelope_headers(defaults, |name, value| {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                json::escape_into(out, name);
                out.push(':');
                json::escape_into(out, value);
            });
            out.push_str("},\"data\":");
            if data.is_null() {
                out.push_str("{}");
            } else {
                out.push_str(&data.text());
            }
            out.push_str(",\"url\":");
            json::escape_into(out, &self.url);
            out.push('}');
        }))
    }
}

/// A JSON WebSocket Response: the server's answer to a virtual request.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwr {
    /// The body; `None` when the server sent none (e.g. a 204). Binary bodies are [`Payload::Binary`].
    pub body: Option<Payload>,
    /// Response headers as sent (values are usually strings).
    pub headers: JsonMap,
    /// The HTTP status code (200 when the server omits it).
    pub status_code: u16,
}

impl Jwr {
    /// Reads a JWR from the first argument of an ack.
    ///
    /// The bare `SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ` object becomes [`Error::Server`]; anything that is
    /// not an object, or has a `statusCode` that is not an HTTP status, is a protocol error.
    pub fn from_ack(args: &[Payload]) -> Result<Jwr, Error> {
        Jwr::from_ack_args(args.iter().take(1).cloned().collect())
    }

    /// [`from_ack`](Self::from_ack), taking the ack's arguments instead of copying what it keeps.
    pub fn from_ack_args(args: Vec<Payload>) -> Result<Jwr, Error> {
        let first =
            args.into_iter().next().ok_or_else(|| ProtocolError::InvalidResponse("ack without arguments".into()))?;
        let entries: Vec<(String, Payload)> = match first {
            Payload::Json(v) if v.is_object() => {
                if ParseError::matches(&v) {
                    return Err(Error::Server(ParseError::from_value(&v)));
                }
                v.into_entries().unwrap_or_default().into_iter().map(|(k, v)| (k, Payload::Json(v))).collect()
            }
            Payload::Object(entries) => entries,
            other => {
                let got = other.to_json_lossy().to_string();
                return Err(ProtocolError::InvalidResponse(["expected a JWR object, got ", &got].concat()).into());
            }
        };
        let mut jwr = Jwr { body: None, headers: json::empty_map(), status_code: 200 };
        for (key, value) in entries {
            match key.as_str() {
                "body" => jwr.body = Some(value),
                "headers" => {
                    if let Some(h) = value.into_json().and_then(json::into_map) {
                        jwr.headers = h;
                    }
                }
                "statusCode" => {
                    jwr.status_code =
                        value.as_json().and_then(|n| n.as_u64()).and_then(|n| u16::try_from(n).ok()).ok_or_else(
                            || {
                                ProtocolError::InvalidResponse(
                                    ["invalid statusCode ", &value.to_json_lossy().to_string()].concat(),
                                )
                            },
                        )?;
                }
                _ => {}
            }
        }
        Ok(jwr)
    }

    /// Reads an ACK packet's text when it is the usual answer to a request, `3<id>[{…}]` with one object
    /// holding nothing but `body`, `headers` and `statusCode`, without decoding it as a general packet
    /// and a JSON value first: its ack id and the JWR. `None` for anything else, which the Socket.IO
    /// decoder and [`from_ack_args`](Self::from_ack_args) then read; the result is the same either way,
    /// this is only faster.
    #[cfg(feature = "serde_json")]
    pub(crate) fn from_usual_ack_packet(text: &str) -> Option<(u64, Jwr)> {
        super::usual_jwr::read_packet(text)
    }

    /// Without `serde_json` there is no such reading (and no code for it in the WebAssembly package):
    /// every ack takes the general path.
    #[cfg(not(feature = "serde_json"))]
    pub(crate) fn from_usual_ack_packet(_text: &str) -> Option<(u64, Jwr)> {
        None
    }

    /// True for status codes below 200 or from 400 up, as sails.io.js sets `jwr.error`.
    pub fn is_error(&self) -> bool {
        self.status_code < 200 || self.status_code >= 400
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<&Json> {
        self.body.as_ref().and_then(Payload::as_json)
    }

    /// The body as bytes, if it is binary.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.body.as_ref().and_then(Payload::as_binary)
    }

    /// A header by name, compared case-insensitively, if its value is a string.
    #[cfg(feature = "serde_json")]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
    }

    /// A header by name, compared case-insensitively, if its value is a string.
    #[cfg(not(feature = "serde_json"))]
    pub fn header(&self, name: &str) -> Option<String> {
        let entries = self.headers.entries()?;
        let (_, v) = entries.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        v.string_value().map(Cow::into_owned)
    }

    /// The headers as one JSON object.
    pub fn headers_json(&self) -> Json {
        json::map_to_json(&self.headers)
    }

    /// Deserializes the JSON body (a missing body reads as `null`).
    #[cfg(feature = "serde_json")]
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body = match &self.body {
            None => Json::Null,
            Some(Payload::Json(v)) => v.clone(),
            Some(other) => other.to_json_lossy(),
        };
        serde_json::from_value(body).map_err(|e| Error::Protocol(ProtocolError::Json(e.to_string())))
    }

    /// `Ok(self)` for a success status, else [`Error::Status`] holding this response.
    pub fn error_for_status(self) -> Result<Jwr, Error> {
        if self.is_error() {
            Err(Error::Status(Box::new(self)))
        } else {
            Ok(self)
        }
    }

    /// The message sails.io.js puts in `jwr.error` for an error status.
    pub fn error_message(&self) -> String {
        if self.status_code == 0 {
            return "The socket request failed.".into();
        }
        let body = match &self.body {
            None => "undefined".to_owned(),
            Some(b) => b.to_json_lossy().pretty(),
        };
        ["Server responded with a ", &crate::text::decimal(self.status_code), " status code:\n```\n", &body, "\n```"]
            .concat()
    }

    /// The JWR as sails.io.js's `toPOJO()` writes it: `{"body":…,"headers":{…},"statusCode":N}`, without
    /// `body` when there is none.
    pub fn to_json(&self) -> Json {
        let mut m = Vec::with_capacity(3);
        if let Some(body) = &self.body {
            m.push(("body".into(), body.to_json_lossy()));
        }
        m.push(("headers".into(), self.headers_json()));
        m.push(("statusCode".into(), Json::from_u64(u64::from(self.status_code))));
        Json::from_entries(m)
    }
}

/// The error object Sails sends when it cannot parse a virtual request (`PARSE_VIRTUAL_REQ`), as the ack
/// or as a `sails:parseError` event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParseError {
    /// Why the request could not be parsed, e.g. `No url provided in request: …`.
    pub details: String,
    /// The generic message (`Failed to parse incoming socket.io request.`).
    pub message: String,
    /// The status Sails attaches (400).
    pub status: Option<u16>,
    /// The server-side stack trace, if sent.
    pub stack: Option<String>,
}

impl ParseError {
    /// Reads the fields of the error object (missing fields stay empty).
    pub fn from_value(v: &Json) -> Self {
        let s = |k: &str| v.member(k).and_then(|s| s.string_value().map(Cow::into_owned));
        ParseError {
            details: s("details").unwrap_or_default(),
            message: s("message").unwrap_or_default(),
            status: v.member("status").and_then(|n| n.as_u64()).and_then(|n| u16::try_from(n).ok()),
            stack: s("stack"),
        }
    }

    /// True if `v` is the Sails parse-error object.
    pub fn matches(v: &Json) -> bool {
        v.member("code").is_some_and(|c| c.string_value().is_some_and(|c| c == PARSE_ERROR_CODE))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message.is_empty(), self.details.is_empty()) {
            (_, true) => f.write_str(&self.message),
            (true, false) => f.write_str(&self.details),
            (false, false) => crate::error::write_pieces(f, &[&self.message, " ", &self.details]),
        }
    }
}

/// What the client tells the server about itself in the handshake query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkInfo {
    /// `__sails_io_sdk_version` (must be at least 0.11.0 or Sails refuses every request).
    pub version: String,
    /// `__sails_io_sdk_platform` (sails.io.js sends `node` or `browser`).
    pub platform: String,
    /// `__sails_io_sdk_language` (sails.io.js sends `javascript`).
    pub language: String,
}

impl SdkInfo {
    /// The protocol version [`SDK_PROTOCOL_VERSION`] with the given platform, language `rust`.
    pub fn rust(platform: &str) -> Self {
        SdkInfo { version: SDK_PROTOCOL_VERSION.into(), platform: platform.into(), language: "rust".into() }
    }

    /// `__sails_io_sdk_version=…&__sails_io_sdk_platform=…&__sails_io_sdk_language=…`.
    pub fn query(&self) -> String {
        [
            "__sails_io_sdk_version=",
            &self.version,
            "&__sails_io_sdk_platform=",
            &self.platform,
            "&__sails_io_sdk_language=",
            &self.language,
        ]
        .concat()
    }
}

/// Builds the WebSocket handshake URL the way sails.io.js and engine.io-client do:
/// `ws[s]://host[:port]<path>/?<user query>&<sdk query>&EIO=<n>&transport=websocket`.
///
/// `base` is the server URL (`http`, `https`, `ws` or `wss`); its path must be empty or `/`, since
/// socket.io reads a URL path as a namespace and Sails only uses `/`. `path` is the engine path
/// (`/socket.io` by default); a trailing slash is added because the server only matches that form.
pub fn handshake_url(
    base: &Url,
    path: &str,
    user_query: Option<&str>,
    sdk: &SdkInfo,
    eio: EioVersion,
) -> Result<Url, Error> {
    let scheme = ws_scheme(base.scheme())?;
    if base.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidRequest(["the URL ", base.as_str(), " has no host"].concat()));
    }
    check_base_path(base.path())?;
    let mut url = base.clone();
    url.set_scheme(scheme)
        .map_err(|()| Error::InvalidRequest(["cannot use scheme ", scheme, " for ", base.as_str()].concat()))?;
    url.set_path(&engine_path(path));
    url.set_query(Some(&handshake_query(user_query, sdk, eio)));
    url.set_fragment(None);
    Ok(url)
}

/// [`handshake_url`] for a server address already split into `scheme` (`http`, `https`, `ws`, `wss`),
/// `authority` (`host[:port]`, as it should appear in the URL) and `base_path` (empty or `/`).
///
/// It builds the same URL without the `url` crate's parser, whose IDNA tables would make up most of a
/// WebAssembly build; the wasm client splits the address itself and lets the WebSocket implementation
/// handle non-ASCII hosts.
pub fn handshake_url_from_parts(
    scheme: &str,
    authority: &str,
    base_path: &str,
    path: &str,
    user_query: Option<&str>,
    sdk: &SdkInfo,
    eio: EioVersion,
) -> Result<String, Error> {
    let scheme = ws_scheme(&scheme.to_ascii_lowercase())?;
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(Error::InvalidRequest(["invalid host ", &json::quoted(authority)].concat()));
    }
    check_base_path(base_path)?;
    Ok([scheme, "://", authority, &engine_path(path), "?", &handshake_query(user_query, sdk, eio)].concat())
}

fn ws_scheme(scheme: &str) -> Result<&'static str, Error> {
    match scheme {
        "http" | "ws" => Ok("ws"),
        "https" | "wss" => Ok("wss"),
        other => Err(Error::InvalidRequest(
            ["unsupported URL scheme ", &json::quoted(other), " (use http, https, ws or wss)"].concat(),
        )),
    }
}

fn check_base_path(base_path: &str) -> Result<(), Error> {
    if matches!(base_path, "" | "/") {
        return Ok(());
    }
    Err(Error::InvalidRequest(
        [
            "the URL path ",
            &json::quoted(base_path),
            " would name a socket.io namespace; Sails only uses `/` (set the engine path with the `path` option)",
        ]
        .concat(),
    ))
}

/// The engine path with a leading and a trailing slash.
fn engine_path(path: &str) -> String {
    let mut engine_path = if path.starts_with('/') { path.to_owned() } else { ["/", path].concat() };
    if !engine_path.ends_with('/') {
        engine_path.push('/');
    }
    engine_path
}

/// `<user query>&<sdk query>&EIO=<n>&transport=websocket`.
fn handshake_query(user_query: Option<&str>, sdk: &SdkInfo, eio: EioVersion) -> String {
    let mut query = String::new();
    if let Some(q) = user_query.map(|q| q.trim_start_matches('?')).filter(|q| !q.is_empty()) {
        query.push_str(q);
        query.push('&');
    }
    query.push_str(&sdk.query());
    query.push_str("&EIO=");
    query.push_str(eio.query_value());
    query.push_str("&transport=websocket");
    query
}

/// The request's packet written directly ([`Request::event_text`]) against the packet built from its
/// envelope, in both builds of the core (`Json` as `serde_json::Value` or as `RawJson`).
#[cfg(test)]
mod event_text_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::socket_io::{encode, Packet as SioPacket};

    fn built(req: &Request, ack_id: u64, defaults: &[(String, String)]) -> String {
        let envelope = req.envelope(defaults);
        encode(&SioPacket::event(req.method.as_str(), [envelope], Some(ack_id))).text
    }

    const DATA: [&str; 6] = [
        "null",
        "{}",
        "[1,2,[]]",
        r#"{"a":"é\n\u0001","b":[true,null,1.5,-2e3],"c":{"d":"\"q\""}}"#,
        r#"{"dup":1,"dup":2}"#,
        r#"[{"_placeholder":true,"num":0}]"#,
    ];

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        // Few names, so that repeats (within the request, and between it and the defaults) are common.
        proptest::collection::vec(("[ab]|x-[ab]|\\PC{0,3}", "\\PC{0,6}"), 0..5)
    }

    #[test]
    fn typical_requests() {
        // A default the request sets is left out; of a repeated default, the first is taken.
        let defaults = [
            ("x-foo".to_owned(), "g".to_owned()),
            ("x-bar".to_owned(), "g".to_owned()),
            ("x-bar".to_owned(), "h".to_owned()),
        ];
        for (req, want) in [
            (
                Request::new(Method::Get, "/hello"),
                r#"27["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#,
            ),
            (
                Request::new(Method::Post, "/echo").header("x-foo", "local").header("x-foo", "2"),
                r#"27["post",{"method":"post","headers":{"x-foo":"2","x-bar":"g"},"data":{},"url":"/echo"}]"#,
            ),
        ] {
            let defaults = if want.contains("x-bar") { &defaults[..] } else { &[] };
            assert_eq!(req.event_text(7, defaults).as_deref(), Some(want));
            assert_eq!(built(&req, 7, defaults), want);
        }
        let binary = Request::new(Method::Post, "/up").data(Payload::Array(vec![Payload::Binary(vec![1])]));
        assert_eq!(binary.event_text(1, &[]), None);
    }

    proptest! {
        #[test]
        fn written_as_built(
            method in 0..Method::ALL.len(),
            url in "\\PC{0,12}",
            headers in pairs(),
            defaults in pairs(),
            data in 0..DATA.len(),
            ack_id in 0..=crate::protocol::socket_io::MAX_ACK_ID,
        ) {
            let mut req = Request::new(Method::ALL[method], url).data(Json::parse(DATA[data]).unwrap());
            for (name, value) in headers {
                req = req.header(name, value);
            }
            prop_assert_eq!(req.event_text(ack_id, &defaults), Some(built(&req, ack_id, &defaults)));
        }
    }
}

#[cfg(all(test, feature = "serde_json"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_key_order_and_header_merge() {
        let req = Request::new(Method::Post, "/echo").header("x-foo", "local").data(json!({"name":"bob","n":2}));
        let defaults = vec![("x-foo".to_owned(), "g".to_owned()), ("x-bar".to_owned(), "g".to_owned())];
        assert_eq!(
            req.envelope(&defaults).into_json().unwrap().to_string(),
            r#"{"method":"post","headers":{"x-foo":"local","x-bar":"g"},"data":{"name":"bob","n":2},"url":"/echo"}"#
        );
        assert_eq!(
            Request::new(Method::Get, "/hello").envelope(&[]).into_json().unwrap().to_string(),
            r#"{"method":"get","headers":{},"data":{},"url":"/hello"}"#
        );
    }

    #[test]
    fn validates_data_and_methods() {
        assert!(Request::new(Method::Get, "/").data(json!("str")).validate().is_err());
        assert!(Request::new(Method::Get, "/").data(json!([1, 2])).validate().is_ok());
        assert_eq!("GET".parse::<Method>().unwrap(), Method::Get);
        assert!(matches!("trace".parse::<Method>(), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn jwr_defaults_and_errors() {
        let jwr = Jwr::from_ack(&[json!({"headers":{},"statusCode":204}).into()]).unwrap();
        assert_eq!((jwr.body.clone(), jwr.status_code), (None, 204));
        let jwr = Jwr::from_ack(&[json!({"body":"Not Found","headers":{},"statusCode":404}).into()]).unwrap();
        assert!(jwr.is_error());
        assert_eq!(jwr.error_message(), "Server responded with a 404 status code:\n```\n\"Not Found\"\n```");
        assert!(matches!(jwr.clone().error_for_status(), Err(Error::Status(_))));
        let jwr = Jwr::from_ack(&[json!({"body":{"a":1}}).into()]).unwrap();
        assert_eq!((jwr.status_code, jwr.headers.len()), (200, 0));
        assert!(!jwr.is_error());
        assert!(Jwr::from_ack(&[json!("x").into()]).is_err());
        assert!(Jwr::from_ack(&[]).is_err());
        assert!(Jwr::from_ack(&[json!({"statusCode":"200"}).into()]).is_err());
        assert!(Jwr::from_ack(&[json!({"statusCode":70000}).into()]).is_err());
    }

    #[test]
    fn parse_error_is_typed_never_a_fake_200() {
        let obj = json!({"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,
            "message":"Failed to parse incoming socket.io request.","stack":"Error …","details":"No url provided in request: { method: 'get', data: {} }"});
        match Jwr::from_ack(&[obj.into()]) {
            Err(Error::Server(e)) => {
                assert_eq!(e.status, Some(400));
                assert!(e.details.starts_with("No url provided"));
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn jwr_json_and_headers() {
        let jwr =
            Jwr::from_ack(&[json!({"body":{"n":1},"headers":{"X-Custom":"yes"},"statusCode":201}).into()]).unwrap();
        #[derive(serde::Deserialize)]
        struct B {
            n: u32,
        }
        assert_eq!(jwr.json::<B>().unwrap().n, 1);
        assert_eq!(jwr.header("x-custom"), Some("yes"));
        assert_eq!(jwr.to_json().to_string(), r#"{"body":{"n":1},"headers":{"X-Custom":"yes"},"statusCode":201}"#);
    }

    #[test]
    fn handshake_url_matches_sails_io_js() {
        let sdk = SdkInfo { version: "1.2.1".into(), platform: "node".into(), language: "javascript".into() };
        let base = Url::parse("http://127.0.0.1:1337").unwrap();
        let url = handshake_url(&base, "/socket.io", None, &sdk, EioVersion::V3).unwrap();
        assert_eq!(
            url.as_str(),
            "ws://127.0.0.1:1337/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=websocket"
        );
        let url =
            handshake_url(&Url::parse("https://h/").unwrap(), "custom/", Some("?a=1"), &sdk, EioVersion::V4).unwrap();
        assert!(url.as_str().starts_with("wss://h/custom/?a=1&__sails_io_sdk_version=1.2.1&"), "{url}");
        assert!(url.as_str().ends_with("&EIO=4&transport=websocket"));
        assert!(handshake_url(&Url::parse("http://h/ns").unwrap(), "/socket.io", None, &sdk, EioVersion::V3).is_err());
        assert!(handshake_url(&Url::parse("ftp://h").unwrap(), "/socket.io", None, &sdk, EioVersion::V3).is_err());
    }

    #[test]
    fn handshake_url_from_parts_matches_handshake_url() {
        let sdk = SdkInfo { version: "1.2.1".into(), platform: "browser".into(), language: "javascript".into() };
        for (base, scheme, authority, base_path, path, query, eio) in [
            ("http://127.0.0.1:1337", "http", "127.0.0.1:1337", "", "/socket.io", None, EioVersion::V3),
            ("https://h.example/", "HTTPS", "h.example", "/", "custom/", Some("?a=1&b=2"), EioVersion::V4),
            ("ws://[::1]:8080", "ws", "[::1]:8080", "", "/io/", Some(""), EioVersion::V3),
        ] {
            let via_url = handshake_url(&Url::parse(base).unwrap(), path, query, &sdk, eio).unwrap();
            let via_parts = handshake_url_from_parts(scheme, authority, base_path, path, query, &sdk, eio).unwrap();
            assert_eq!(via_parts, via_url.as_str());
        }
        let parts = |scheme, authority, base_path| {
            handshake_url_from_parts(scheme, authority, base_path, "/socket.io", None, &sdk, EioVersion::V3)
        };
        assert!(parts("ftp", "h", "").is_err());
        assert!(parts("http", "", "").is_err());
        assert!(parts("http", "h/x", "").is_err());
        assert!(parts("http", "h", "/ns").is_err());
    }
}
