//! The engine.io `verify()` step, done in an axum middleware in front of the socketioxide layer.
//!
//! socketioxide answers some bad handshakes differently from engine.io 6 (string error codes, other
//! checks first, no `allowRequest`), so every request on the engine.io path passes through here first and
//! gets engine.io's exact answer (protocol.md §1.6, §7.1). Valid requests go on with their `EIO` query
//! value normalised: anything but `"4"` becomes `"3"`, like `allowEIO3` does.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, Method, StatusCode, Uri};

use crate::config::{Config, Transport};

/// engine.io error code 0.
const TRANSPORT_UNKNOWN: (u8, &str) = (0, "Transport unknown");
/// engine.io error code 1.
const SESSION_ID_UNKNOWN: (u8, &str) = (1, "Session ID unknown");
/// engine.io error code 2.
const BAD_HANDSHAKE_METHOD: (u8, &str) = (2, "Bad handshake method");
/// engine.io error code 3.
const BAD_REQUEST: (u8, &str) = (3, "Bad request");
/// engine.io error code 4.
const FORBIDDEN: (u8, &str) = (4, "Forbidden");

/// The part of the config the gate needs.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) config: Arc<Config>,
    pub(crate) engine_path: String,
}

/// Query pairs of a URI, decoded (last duplicate wins when read through [`query_get`]).
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

/// The last value of `key` in the query pairs, as engine.io's `objectFromEntries` keeps it.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// engine.io `abortRequest`: JSON body with a numeric code; 403 for Forbidden, else 400.
fn abort_request(code: u8, message: &str) -> Response {
    let status = if code == FORBIDDEN.0 { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("static response parts are valid")
}

/// engine.io `abortUpgrade`: `400 Bad Request`, `text/html`, the message as body, then close.
fn abort_upgrade(message: &str) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONNECTION, "close")
        .header(header::CONTENT_TYPE, "text/html")
        .body(Body::from(message.to_owned()))
        .expect("static response parts are valid")
}

fn abort(upgrade: bool, (code, message): (u8, &str)) -> Response {
    if upgrade {
        abort_upgrade(message)
    } else {
        abort_request(code, message)
    }
}

/// Rewrite the `EIO` query value: `"4"` stays, anything else (missing, `3`, `5`, `abc`) becomes `3`.
fn normalise_eio(uri: &Uri) -> Option<Uri> {
    let pairs = query_pairs(uri);
    if query_get(&pairs, "EIO") == Some("4") {
        // engine.io reads the last value; keep only that one so socketioxide agrees.
        if pairs.iter().filter(|(k, _)| k == "EIO").count() == 1 {
            return None;
        }
    }
    let eio = if query_get(&pairs, "EIO") == Some("4") { "4" } else { "3" };
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "EIO") {
        ser.append_pair(k, v);
    }
    ser.append_pair("EIO", eio);
    let pq = format!("{}?{}", uri.path(), ser.finish());
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The middleware: verify, then hand the (normalised) request to the socket.io layer.
pub(crate) async fn verify(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(&gate.engine_path) {
        return next.run(req).await;
    }
    let config = &gate.config;
    let upgrade = is_upgrade(&req);
    let pairs = query_pairs(req.uri());

    // 1. transport
    let transport = query_get(&pairs, "transport").unwrap_or("");
    let known = config.transports.iter().any(|t| t.as_str() == transport);
    if !known {
        return abort(upgrade, TRANSPORT_UNKNOWN);
    }

    let sid = query_get(&pairs, "sid");
    if let Some(sid) = sid {
        // A sid that cannot even be one of ours is unknown; others are checked by socketioxide.
        if sid.parse::<socketioxide::socket::Sid>().is_err() {
            return abort(upgrade, SESSION_ID_UNKNOWN);
        }
        if upgrade && !config.transports.contains(&Transport::Websocket) {
            return abort(upgrade, BAD_REQUEST);
        }
    } else {
        // 2. handshake method
        if req.method() != Method::GET {
            return abort(upgrade, BAD_HANDSHAKE_METHOD);
        }
        // 3. a websocket handshake must be an upgrade
        if transport == "websocket" && !upgrade {
            return abort(upgrade, BAD_REQUEST);
        }
        // 4. allowRequest: beforeConnect, or the onlyAllowOrigins check
        let (parts, body) = req.into_parts();
        if let Some(hook) = &config.before_connect {
            if let Err(reason) = hook(&parts) {
                let msg = reason.unwrap_or_else(|| FORBIDDEN.1.to_owned());
                return abort(upgrade, (FORBIDDEN.0, &msg));
            }
        } else if let Some(allowed) = &config.only_allow_origins {
            let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let ok = match origin {
                Some(o) => allowed.iter().any(|a| a == o),
                None => !config.reject_missing_origin,
            };
            if !ok {
                return abort(upgrade, BAD_REQUEST);
            }
        }
        req = Request::from_parts(parts, body);
    }

    if let Some(uri) = normalise_eio(req.uri()) {
        *req.uri_mut() = uri;
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut res = next.run(req).await;
    if !upgrade {
        if let (Some(origin), Some(_)) = (origin, &config.only_allow_origins) {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    res
}
