//! Sails-flavoured request and response helpers for actions.
//!
//! Actions are plain axum handlers. These helpers reproduce what Sails' `res.json`, `res.send`,
//! `res.set`, `res.sendStatus`, `res.redirect` put on the wire over HTTP, and record which headers the
//! action set explicitly ([`ExplicitHeaders`]) so the virtual-request layer can build the JWR `headers`
//! exactly as the Sails virtual `res` does (original-case and lower-case keys for explicit headers,
//! nothing for implicit ones).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value};
use socketioxide::extract::SocketRef;

use crate::mixed::Mixed;
use crate::session::Session;

/// Headers the action set explicitly (`res.set(name, value)`), in call order and original case.
#[derive(Clone, Debug, Default)]
pub struct ExplicitHeaders(pub Vec<(String, String)>);

/// Present in a request's extensions when it is a virtual request from a socket (`req.isSocket`).
#[derive(Clone)]
pub struct SocketRequest {
    /// The socket that sent the request (`req.socket`).
    pub socket: SocketRef,
}

impl std::fmt::Debug for SocketRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketRequest").field("id", &self.socket.id.to_string()).finish()
    }
}

impl SocketRequest {
    /// The socket id (`sails.sockets.getId(req)`).
    pub fn id(&self) -> String {
        self.socket.id.to_string()
    }
}

/// The body of a virtual request, set by the socket layer (the request's own body is empty).
#[derive(Clone, Debug)]
pub struct VirtualBody(pub Value);

/// Marks a virtual `HEAD` request that is routed as `GET` so the body is not stripped (Sails sends the
/// full GET body for a socket `head`).
#[derive(Clone, Copy, Debug)]
pub struct VirtualHead;

/// The original `url` string of a virtual request (`req.url`).
#[derive(Clone, Debug)]
pub struct VirtualUrl(pub String);

/// The body of `res.json(value)` when the value holds binary data ([`Res::json_mixed`]): the socket layer
/// sends it as is, each binary value as an attachment, while the HTTP body has each as a `Buffer`'s JSON.
#[derive(Clone, Debug)]
pub struct MixedBody(pub Mixed);

/// A response under construction, like Sails' `res` (`res.status(..).set(..).json(..)`).
#[derive(Debug, Clone)]
pub struct Res {
    status: StatusCode,
    explicit: Vec<(String, String)>,
}

impl Default for Res {
    fn default() -> Self {
        Res::new()
    }
}

/// `http.STATUS_CODES[n]` for the codes Sails apps commonly send (falls back to the `http` crate).
pub fn status_text(code: u16) -> String {
    match code {
        200 => "OK".into(),
        302 => "Found".into(),
        418 => "I'm a Teapot".into(),
        _ => StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map(str::to_owned)
            .unwrap_or_else(|| code.to_string()),
    }
}

impl Res {
    /// A 200 response.
    pub fn new() -> Self {
        Res { status: StatusCode::OK, explicit: Vec::new() }
    }

    /// `res.status(code)`.
    pub fn status(mut self, code: u16) -> Self {
        self.status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self
    }

    /// `res.set(name, value)`.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.explicit.push((name.to_owned(), value.to_owned()));
        self
    }

    fn explicit_content_type(&self) -> Option<&str> {
        self.explicit.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str())
    }

    fn finish(self, default_ct: Option<&'static str>, body: Body) -> Response {
        let mut res = Response::new(body);
        *res.status_mut() = self.status;
        let h = res.headers_mut();
        for (k, v) in &self.explicit {
            if let (Ok(name), Ok(val)) =
                (HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(v))
            {
                h.insert(name, val);
            }
        }
        if let Some(ct) = default_ct {
            let value = match self.explicit_content_type() {
                // Express adds the charset to string bodies.
                Some(given) if !given.contains("charset") && default_ct_is_text(ct) => {
                    HeaderValue::from_str(&format!("{given}; charset=utf-8")).ok()
                }
                Some(given) => HeaderValue::from_str(given).ok(),
                None => Some(HeaderValue::from_static(ct)),
            };
            if let Some(v) = value {
                h.insert(header::CONTENT_TYPE, v);
            }
        }
        // Absent means none (what `response_to_jwr` reads), so the usual response skips the allocation.
        if !self.explicit.is_empty() {
            res.extensions_mut().insert(ExplicitHeaders(self.explicit));
        }
        res
    }

    /// `res.json(value)`.
    pub fn json(self, value: &Value) -> Response {
        // `to_vec` writes straight into the buffer; `to_string()` would go through `Display`'s formatter.
        let text = serde_json::to_vec(value).unwrap_or_default();
        self.finish(Some("application/json; charset=utf-8"), Body::from(text))
    }

    /// `res.json(value)` of a value that may hold binary data (e.g. `Buffer`s a client sent in an ack):
    /// over a socket each binary value goes back as an attachment, as Sails' virtual `res` hands the
    /// value to socket.io as is; over HTTP it is `JSON.stringify`'s `{"type":"Buffer","data":[…]}`.
    pub fn json_mixed(self, value: Mixed) -> Response {
        if !value.has_binary() {
            return self.json(&value.into_json());
        }
        let mut res = self.json(&value.clone().into_json());
        res.extensions_mut().insert(MixedBody(value));
        res
    }

    /// `res.send(text)`.
    pub fn send(self, text: impl Into<String>) -> Response {
        self.finish(Some("text/html; charset=utf-8"), Body::from(text.into()))
    }

    /// `res.send(buffer)`: a binary body (a BINARY_ACK attachment over sockets).
    pub fn send_bytes(self, bytes: impl Into<Bytes>) -> Response {
        self.finish(Some("application/octet-stream"), Body::from(bytes.into()))
    }

    /// `res.send()` with no body (e.g. after `res.status(204)`).
    pub fn end(self) -> Response {
        self.finish(None, Body::empty())
    }

    /// `res.sendStatus(code)`: the status text as body.
    pub fn send_status(self, code: u16) -> Response {
        self.status(code).finish(Some("text/plain; charset=utf-8"), Body::from(status_text(code)))
    }
}

fn default_ct_is_text(ct: &str) -> bool {
    ct.contains("charset")
}

/// The verbs in the `Allow` header of the automatic OPTIONS answer. Sails binds catch-all routes for
/// every CRUD verb, so every path lists all of them, whatever the app binds. Over HTTP the Express 4
/// router answers (`res.set('Allow', …); res.send(…)`), over a socket Sails' virtual router
/// (`@sailshq/router`, sorted list, `setHeader`s and `res.end`).
pub const HTTP_OPTIONS_ALLOW: &str = "GET,HEAD,PUT,POST,DELETE,PATCH";
/// See [`HTTP_OPTIONS_ALLOW`].
pub const SOCKET_OPTIONS_ALLOW: &str = "DELETE, GET, HEAD, PATCH, POST, PUT";

/// A JWR made of exactly these `headers` and no `body`: what the virtual `res` gives when the router
/// answers with `res.setHeader(...)` and `res.end(text)` (the automatic OPTIONS answer).
#[derive(Clone, Debug)]
pub struct JwrHeadersOnly(pub Map<String, Value>);

/// The router's automatic answer to `OPTIONS` on a path that has no `OPTIONS` handler.
///
/// - HTTP: `200`, `Allow: GET,HEAD,PUT,POST,DELETE,PATCH`, `text/html; charset=utf-8`, the list as body.
/// - Socket: `200`, JWR headers `allow` (`DELETE, GET, HEAD, PATCH, POST, PUT`), `content-length` (a
///   number), `content-type: text/plain`, `x-content-type-options: nosniff`, and no `body`.
pub fn auto_options(is_socket: bool) -> Response {
    if !is_socket {
        return Res::new().set("Allow", HTTP_OPTIONS_ALLOW).send(HTTP_OPTIONS_ALLOW);
    }
    let mut headers = Map::new();
    headers.insert("allow".into(), SOCKET_OPTIONS_ALLOW.into());
    headers.insert("content-length".into(), SOCKET_OPTIONS_ALLOW.len().into());
    headers.insert("content-type".into(), "text/plain".into());
    headers.insert("x-content-type-options".into(), "nosniff".into());
    let mut res = Response::new(Body::empty());
    if let Ok(v) = HeaderValue::from_str(SOCKET_OPTIONS_ALLOW) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res.extensions_mut().insert(JwrHeadersOnly(headers));
    res
}

/// `res.ok(value)`.
pub fn ok(value: &Value) -> Response {
    Res::new().json(value)
}

/// `res.notFound()`: `404 "Not Found"`.
pub fn not_found() -> Response {
    Res::new().send_status(404)
}

/// `res.forbidden()`: `403 "Forbidden"`.
pub fn forbidden() -> Response {
    Res::new().send_status(403)
}

/// `res.badRequest(value)`: `400` with a JSON body.
pub fn bad_request(value: &Value) -> Response {
    Res::new().status(400).json(value)
}

/// `res.redirect(location)`: over HTTP Express' `302 Found. Redirecting to …`; over a socket the Sails
/// virtual response `302 "Redirecting to …"` with `content-type` and `Location` headers.
pub fn redirect(is_socket: bool, location: &str) -> Response {
    if is_socket {
        Res::new()
            .status(302)
            .set("content-type", "text/html")
            .set("Location", location)
            .send(format!("Redirecting to {location}"))
    } else {
        let mut res = Res::new()
            .status(302)
            .set("Location", location)
            .finish(None, Body::from(format!("Found. Redirecting to {location}")));
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        res
    }
}

/// An error thrown by an action: answered as Sails' development-mode `res.serverError(err)`, a 500
/// whose body is the error's stack text (`Error: <message>\n    at …`).
#[derive(Debug, Clone)]
pub struct ServerError(pub String);

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        server_error(&format!("Error: {}", self.0))
    }
}

/// Sails' development-mode `res.serverError(err)` for any thrown error: a 500 whose body is the stack
/// text, `first_line` (e.g. `TypeError: Cannot set properties of undefined (setting 'userId')`) followed
/// by `    at …` lines.
pub fn server_error(first_line: &str) -> Response {
    Res::new()
        .status(500)
        .send(format!("{first_line}\n    at action (sails-io-stub)\n    at virtual router (sails-io-stub)"))
}

/// Node's `querystring.parse`: flat keys, repeated keys become arrays.
pub fn parse_query(q: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        let k = k.into_owned();
        let v = Value::String(v.into_owned());
        match out.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, v]);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// `url.parse(url).pathname || '/'`.
fn url_path(url: &str) -> String {
    let p = url.split(['?', '#']).next().unwrap_or("");
    if p.is_empty() {
        "/".into()
    } else {
        p.to_owned()
    }
}

/// Everything Sails puts on `req`, for actions that want it in one extractor.
#[derive(Clone, Debug)]
pub struct SailsReq {
    /// `req.method` (upper case).
    pub method: String,
    /// `req.url` (path and query as requested).
    pub url: String,
    /// `req.path`.
    pub path: String,
    /// `req.query`.
    pub query: Map<String, Value>,
    /// `req.body` (`None` when undefined).
    pub body: Option<Value>,
    /// Route parameters, in route order.
    pub params: Vec<(String, String)>,
    /// Request headers (lower-case names; non-UTF-8 values dropped).
    pub headers: HashMap<String, String>,
    /// `req.socket` when this is a socket request (`req.isSocket`).
    pub socket: Option<SocketRequest>,
    /// `req.session` (present behind the session middleware; `None` for a `nosession` request, where
    /// Sails leaves `req.session` undefined).
    pub session: Option<Session>,
}

impl SailsReq {
    /// `req.isSocket`.
    pub fn is_socket(&self) -> bool {
        self.socket.is_some()
    }

    /// `req.wantsJSON`: always for sockets; over HTTP `req.xhr`, or no explicit HTML accept, or a JSON
    /// request with an `Accept` header.
    pub fn wants_json(&self) -> bool {
        if self.is_socket() {
            return true;
        }
        let xhr = self.header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"));
        let accepts_html = self.header("accept").is_some_and(|a| a.contains("text/html"));
        let is_json = self.header("content-type").is_some_and(|c| c.contains("json"));
        xhr || !accepts_html || (is_json && self.header("accept").is_some())
    }

    /// A request header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// `req.param(name)`: route params, then body, then query.
    pub fn param(&self, name: &str) -> Option<Value> {
        self.all_params().get(name).cloned()
    }

    /// `req.allParams()`: query, merged with the body, then route params on top.
    pub fn all_params(&self) -> Map<String, Value> {
        let mut all = self.query.clone();
        match &self.body {
            Some(Value::Object(b)) => {
                for (k, v) in b {
                    all.insert(k.clone(), v.clone());
                }
            }
            Some(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    all.insert(i.to_string(), v.clone());
                }
            }
            _ => {}
        }
        for (k, v) in &self.params {
            all.insert(k.clone(), Value::String(v.clone()));
        }
        all
    }
}

impl<S: Send + Sync> FromRequest<S> for SailsReq {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let params: Vec<(String, String)> =
            match <RawPathParams as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state).await {
                Ok(p) => p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                Err(_) => Vec::new(),
            };
        let socket = parts.extensions.get::<SocketRequest>().cloned();
        let session = parts.extensions.get::<Session>().cloned();
        let method = if parts.extensions.get::<VirtualHead>().is_some() { Method::HEAD } else { parts.method.clone() };
        let url =
            parts.extensions.get::<VirtualUrl>().map(|u| u.0.clone()).unwrap_or_else(|| {
                parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into())
            });
        let headers: HashMap<String, String> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = if let Some(VirtualBody(v)) = parts.extensions.get::<VirtualBody>() {
            Some(v.clone())
        } else {
            let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| Res::new().send_status(400))?;
            let ct = headers.get("content-type").map(String::as_str).unwrap_or("");
            if bytes.is_empty() {
                Some(Value::Object(Map::new()))
            } else if ct.contains("json") {
                Some(serde_json::from_slice(&bytes).map_err(|_| Res::new().send_status(400))?)
            } else if ct.starts_with("application/x-www-form-urlencoded") {
                Some(Value::Object(parse_query(&String::from_utf8_lossy(&bytes))))
            } else {
                Some(Value::Object(Map::new()))
            }
        };
        Ok(SailsReq {
            method: method.as_str().to_owned(),
            path: url_path(&url),
            query: parts.uri.query().map(parse_query).unwrap_or_default(),
            url,
            body,
            params,
            headers,
            socket,
            session,
        })
    }
}
