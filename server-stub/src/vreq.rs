//! The virtual request pattern: a socket request event becomes an `http::Request` sent through the
//! same axum `Router` that serves HTTP, and the response becomes the JWR (protocol.md §4.5, §7.3, §7.4).

use std::convert::Infallible;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Waker};

use axum::body::{Body, Bytes};
use axum::extract::OriginalUri;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use http::{header, HeaderName, HeaderValue, Request, Uri};
use http_body_util::BodyExt as _;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{AckSender, SocketRef, State};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value as SioValue};
use socketioxide::socket::Socket;

use crate::config::Config;
use crate::gate::{query_get, query_pairs};
use crate::inspect::format_s;
use crate::mixed::Mixed;
use crate::res::{
    not_found, ExplicitHeaders, JwrHeadersOnly, MixedBody, ServerError, SocketRequest, VirtualBody, VirtualHead,
    VirtualUrl,
};
use crate::session::SessionStore;
use crate::Stack;

/// The socket events Sails turns into requests (`bindRequestHandlersForMajorHttpMethods`).
pub const VERBS: [&str; 7] = ["get", "post", "put", "delete", "patch", "options", "head"];

/// Shared state of the socket.io side.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// The layers and routes behind the HTTP `Router`, which virtual requests enter directly.
    pub(crate) stack: Arc<OnceLock<Stack>>,
    pub(crate) config: Arc<Config>,
    pub(crate) store: SessionStore,
}

/// Per-socket handshake state (the parts of `socket.handshake` Sails reads or mutates).
#[derive(Clone)]
pub(crate) struct SocketCtx(Arc<SocketCtxInner>);

struct SocketCtxInner {
    /// The handshake `Cookie`, or the first `Set-Cookie` a response gave a socket that had none.
    cookie: Mutex<Option<HeaderValue>>,
    nosession_header: bool,
    origin: Option<HeaderValue>,
    sdk_version: String,
    /// [`sdk_version_ok`] of `sdk_version`, decided once at the handshake.
    sdk_version_ok: bool,
}

/// The raw arguments of a socket.io event, before any deserialisation: the JSON array text (event name
/// included), its binary attachments, and the ack id.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The packet's JSON array text, e.g. `["get",{"url":"/hello"}]`.
    pub text: String,
    /// Binary attachments, in placeholder order.
    pub bins: Vec<Bytes>,
    /// The ack id, if the client asked for one.
    pub ack_id: Option<i64>,
}

impl<A: Adapter> FromMessageParts<A> for RawEvent {
    type Error = Infallible;
    fn from_message_parts(_: &Arc<Socket<A>>, v: &mut SioValue, ack_id: &Option<i64>) -> Result<Self, Infallible> {
        let (text, bins) = match v {
            SioValue::Str(s, bins) => {
                (s.as_str().to_owned(), bins.as_ref().map(|b| b.iter().cloned().collect()).unwrap_or_default())
            }
            SioValue::Bytes(b) => (String::from_utf8_lossy(b).into_owned(), Vec::new()),
        };
        Ok(RawEvent { text, bins, ack_id: *ack_id })
    }
}

/// A JWR body: JSON, or binary (sent as a BINARY_ACK attachment).
#[derive(Debug, Clone)]
pub enum JwrBody {
    /// Any JSON value (a string body is a JSON string).
    Json(Value),
    /// A JSON array, object, number or literal as the action's response wrote it, validated and sent
    /// verbatim: the same value a client parses from [`JwrBody::Json`] of the parsed text, without
    /// building that value and writing it out again.
    JsonText(Box<RawValue>),
    /// A binary body.
    Bytes(Bytes),
    /// JSON with binary values inside (`res.json` of a value holding `Buffer`s), each an attachment.
    Mixed(Mixed),
}

impl Serialize for JwrBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JwrBody::Json(v) => v.serialize(s),
            JwrBody::JsonText(t) => t.serialize(s),
            JwrBody::Bytes(b) => s.serialize_bytes(b),
            JwrBody::Mixed(m) => m.serialize(s),
        }
    }
}

impl PartialEq for JwrBody {
    /// Verbatim JSON equals verbatim JSON of the same text; it is never equal to a parsed value.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (JwrBody::Json(a), JwrBody::Json(b)) => a == b,
            (JwrBody::JsonText(a), JwrBody::JsonText(b)) => a.get() == b.get(),
            (JwrBody::Bytes(a), JwrBody::Bytes(b)) => a == b,
            (JwrBody::Mixed(a), JwrBody::Mixed(b)) => a == b,
            _ => false,
        }
    }
}

/// The JSON WebSocket Response `{body, headers, statusCode}`; absent parts are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwr {
    /// `body` (absent for an empty response such as a 204).
    pub body: Option<JwrBody>,
    /// `headers` (absent with `send_response_headers = false`).
    pub headers: Option<Map<String, Value>>,
    /// `statusCode` (absent with `send_status_code = false`).
    pub status_code: Option<u16>,
}

impl Serialize for Jwr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(b) = &self.body {
            m.serialize_entry("body", b)?;
        }
        if let Some(h) = &self.headers {
            m.serialize_entry("headers", h)?;
        }
        if let Some(c) = &self.status_code {
            m.serialize_entry("statusCode", c)?;
        }
        m.end()
    }
}

/// The `PARSE_VIRTUAL_REQ` error object (protocol.md §7.7), same keys as sails-hook-sockets.
pub fn parse_error(details: &str) -> Value {
    json!({
        "code": "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ",
        "name": "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):",
        "status": 400,
        "message": "Failed to parse incoming socket.io request.",
        "stack": "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):: Failed to parse incoming socket.io request.\n    at receiveIncomingSailsIOMsg (sails-io-stub)",
        "details": details,
    })
}

/// Convert an axum response into the JWR the Sails virtual `res` would produce.
pub async fn response_to_jwr(res: Response, config: &Config) -> (Jwr, Vec<String>) {
    let (mut parts, body) = res.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let explicit = parts.extensions.remove::<ExplicitHeaders>().unwrap_or_default();
    let set_cookies: Vec<String> =
        parts.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect();
    let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // Header names in a `HeaderMap` are lower case.
    let is_explicit = |lower: &str| explicit.0.iter().any(|(k, _)| k.eq_ignore_ascii_case(lower));

    let mut headers = Map::new();
    for (k, v) in &explicit.0 {
        if k.eq_ignore_ascii_case("set-cookie") {
            continue;
        }
        headers.insert(k.clone(), Value::String(v.clone()));
        headers.insert(k.to_ascii_lowercase(), Value::String(v.clone()));
    }
    for (name, v) in &parts.headers {
        let n = name.as_str();
        if matches!(n, "content-type" | "content-length" | "set-cookie") || is_explicit(n) {
            continue;
        }
        if let Ok(v) = v.to_str() {
            headers.insert(n.to_owned(), Value::String(v.to_owned()));
        }
    }

    // The virtual `res` keeps a body even for a 204 or 304 (`res.status(204).json(x)`); only an empty
    // `res.send()`/`res.end()` has no `body` key.
    if let Some(JwrHeadersOnly(h)) = parts.extensions.get::<JwrHeadersOnly>() {
        let jwr = Jwr {
            body: None,
            headers: config.send_response_headers.then(|| h.clone()),
            status_code: config.send_status_code.then_some(parts.status.as_u16()),
        };
        return (jwr, set_cookies);
    }
    let body = if let Some(MixedBody(mixed)) = parts.extensions.remove::<MixedBody>() {
        Some(JwrBody::Mixed(mixed))
    } else if bytes.is_empty() && ct.is_empty() {
        None
    } else if ct.starts_with("application/json") {
        let as_string = || JwrBody::Json(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        match serde_json::from_slice::<&RawValue>(&bytes) {
            // `res.json('str')`: the virtual res double-encodes and reports the content type.
            Ok(raw) if raw.get().starts_with('"') => {
                if !is_explicit("content-type") {
                    headers.insert("content-type".into(), "application/json".into());
                }
                Some(as_string())
            }
            // Anything else goes out as the action wrote it.
            Ok(raw) => Some(JwrBody::JsonText(raw.to_owned())),
            Err(_) => Some(as_string()),
        }
    } else if ct.starts_with("application/octet-stream") {
        Some(JwrBody::Bytes(bytes))
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(s) => Some(JwrBody::Json(Value::String(s))),
            Err(_) => Some(JwrBody::Bytes(bytes)),
        }
    };
    let jwr = Jwr {
        body,
        headers: config.send_response_headers.then_some(headers),
        status_code: config.send_status_code.then_some(parts.status.as_u16()),
    };
    (jwr, set_cookies)
}

/// Sets up each new socket of the `/` namespace: own-id room, handshake session, verb listeners.
///
/// This runs as a connect *middleware*, which socketioxide awaits before it sends the connect packet
/// (`40`). Its connect *handler* is spawned only after that packet is sent, so listeners registered there
/// could miss a request the client sends as soon as it sees `40` (sails.io.js flushes its queue then).
pub(crate) async fn setup_socket(s: SocketRef, State(ctx): State<Ctx>) -> Result<(), Infallible> {
    s.join(s.id.to_string());
    let parts = s.req_parts();
    let pairs = query_pairs(&parts.uri);
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let nosession_header = parts.headers.contains_key("nosession");
    let nosession = nosession_header || query_get(&pairs, "nosession").is_some();
    let mut cookie = header("cookie");
    if cookie.is_none() && !nosession {
        let id = ctx.store.create();
        cookie = Some(ctx.store.cookie_pair(&id));
    }
    // A copy, so the socket does not keep the handshake's read buffer alive.
    let cookie = cookie.and_then(|c| HeaderValue::from_str(&c).ok());
    let sdk_version = header("__sails_io_sdk_version")
        .filter(|v| !v.is_empty())
        .or_else(|| query_get(&pairs, "__sails_io_sdk_version").map(str::to_owned))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "0.9.0".to_owned());
    s.extensions.insert(SocketCtx(Arc::new(SocketCtxInner {
        cookie: Mutex::new(cookie),
        nosession_header,
        origin: parts.headers.get(header::ORIGIN).cloned(),
        sdk_version_ok: sdk_version_ok(&sdk_version) == Ok(true),
        sdk_version,
    })));
    for verb in VERBS {
        s.on(verb, VerbListener);
    }
    Ok(())
}

/// The listener of the verb events. socketioxide spawns a tokio task for every event an `async fn`
/// listener gets; this one runs [`on_verb`] at once in socketioxide's own task (the socket's reader) and
/// spawns the rest only if it has to wait. A virtual request through the in-memory stack usually never
/// waits, so it is routed and acked without a task of its own: no task allocation, no trip through the
/// scheduler, no move of the handler's future into the task (13 % of the stub's instructions per
/// request, see BENCHMARKS.md). Requests of one socket are still handled in the order they came.
struct VerbListener;

impl MessageHandler<LocalAdapter, VerbListener> for VerbListener {
    fn call(&self, s: Arc<Socket<LocalAdapter>>, mut v: SioValue, ack_id: Option<i64>) {
        let (Ok(socket), Ok(state), Ok(ev), Ok(ack)) = (
            SocketRef::from_message_parts(&s, &mut v, &ack_id),
            State::<Ctx>::from_message_parts(&s, &mut v, &ack_id),
            RawEvent::from_message_parts(&s, &mut v, &ack_id),
            AckSender::from_message_parts(&s, &mut v, &ack_id),
        ) else {
            return;
        };
        let mut handling = Box::pin(on_verb(socket, state, ev, ack));
        // A future may keep the waker of any poll: if this one is pending, the spawned task polls it
        // again at once with its own waker. A panic ends this event only, as it would in a task.
        let first = panic::catch_unwind(AssertUnwindSafe(|| {
            handling.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending()
        }));
        if first.unwrap_or(false) {
            tokio::spawn(handling);
        }
    }
}

/// The connect handler: everything is done by [`setup_socket`] before the connect packet.
pub(crate) async fn on_connect() {}

/// One argument of the event as socket.io hands it to a listener: JSON, or the ack function.
enum Arg {
    Json(Value),
    AckFn,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Replace `{"_placeholder":true,"num":n}` by attachment `n` as an array of its byte values: what an
/// action of real Sails sees in `req.body` (Sails merges the request data with lodash 3's `_.merge`,
/// which turns the `Buffer` socket.io made of the attachment into a plain array of numbers).
fn fill_placeholders(v: &mut Value, bins: &[Bytes]) {
    match v {
        Value::Object(o) => {
            if o.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(b) = o.get("num").and_then(Value::as_u64).and_then(|n| bins.get(n as usize)) {
                    *v = Value::Array(b.iter().map(|&byte| Value::from(byte)).collect());
                    return;
                }
            }
            for x in o.values_mut() {
                fill_placeholders(x, bins);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| fill_placeholders(x, bins)),
        _ => {}
    }
}

/// `_.extend({}, x)` for one source: objects copy, strings spread into indexed characters, arrays into
/// indices, anything else adds nothing.
fn spread_into(out: &mut Map<String, Value>, v: Value) {
    match v {
        Value::Object(o) => {
            if out.is_empty() {
                *out = o;
                return;
            }
            for (k, x) in o {
                out.insert(k, x);
            }
        }
        Value::String(s) => {
            for (i, c) in s.chars().enumerate() {
                out.insert(i.to_string(), Value::String(c.to_string()));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.into_iter().enumerate() {
                out.insert(i.to_string(), x);
            }
        }
        _ => {}
    }
}

/// `semver.major/minor/patch` of the SDK version, then `>= 0.11.0`. `Err` when not semver.
fn sdk_version_ok(v: &str) -> Result<bool, ()> {
    let t = v.trim().trim_start_matches('=').trim_start_matches('v');
    let ver = semver::Version::parse(t).map_err(|_| ())?;
    Ok((ver.major, ver.minor, ver.patch) >= (0, 11, 0))
}

/// Characters we percent-encode when a client URL is not a valid URI as is.
const URL_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

fn parse_uri(url: &str) -> Option<Uri> {
    if !url.starts_with('/') {
        return None;
    }
    url.parse::<Uri>().ok().or_else(|| percent_encoding::utf8_percent_encode(url, URL_UNSAFE).to_string().parse().ok())
}

fn header_value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => {
            Some(a.iter().map(|x| header_value_text(x).unwrap_or_default()).collect::<Vec<_>>().join(","))
        }
        Value::Object(_) => Some("[object Object]".into()),
        other => Some(other.to_string()),
    }
}

async fn respond_with_parse_error(s: &SocketRef, ack: Option<AckSender>, details: &str) {
    let err = parse_error(details);
    tracing::error!("Failed to parse incoming socket.io request: {details}");
    match ack {
        Some(ack) => {
            let _ = ack.send(&err);
        }
        None => {
            let _ = s.emit("sails:parseError", &err);
        }
    }
}

/// A verb event: validate like `receiveIncomingSailsIOMsg`, route the virtual request, ack the JWR.
async fn on_verb(s: SocketRef, State(ctx): State<Ctx>, ev: RawEvent, ack: AckSender) {
    let Some(sctx) = s.extensions.get::<SocketCtx>() else {
        return;
    };
    if let Some(usual) = UsualEvent::read(&ev) {
        // What the checks below conclude for such an event: no parse error, the ack if one was asked for.
        let ack = ev.ack_id.map(|_| ack);
        if !sctx.0.sdk_version_ok {
            return respond_with_sdk_version_error(&s, ack, &sctx).await;
        }
        let UsualEvent(verb, msg) = usual;
        return route_and_ack(&s, &ctx, &sctx, &verb, msg, ack).await;
    }
    let mut arr = match serde_json::from_str::<Value>(&ev.text) {
        Ok(Value::Array(a)) => a,
        _ => return,
    };
    if arr.is_empty() {
        return;
    }
    let verb = match arr.remove(0) {
        Value::String(v) => v,
        _ => return,
    };
    // The listener's arguments: the JSON ones with their attachments filled in, then the ack function.
    // The iterator is lazy, so only the two that are read (message and callback) are built; filling a
    // placeholder in the second cannot change the callback check below, since a placeholder object and
    // the bytes it stands for are both truthy (tests/bad_input.rs `binary_attachment_in_request_…`).
    let mut args = arr
        .into_iter()
        .map(|mut v| {
            if !ev.bins.is_empty() {
                fill_placeholders(&mut v, &ev.bins);
            }
            Arg::Json(v)
        })
        .chain(ev.ack_id.map(|_| Arg::AckFn));
    let msg = args.next();
    let cb = args.next();
    // `options.socketIOClientCallback && !_.isFunction(...)`
    let ack = match cb {
        Some(Arg::AckFn) => Some(ack),
        Some(Arg::Json(v)) if truthy(&v) => {
            return respond_with_parse_error(
                &s,
                None,
                "Could not parse request- callback may be omitted... but if provided, it must be a function.",
            )
            .await;
        }
        _ => None,
    };
    let msg = match msg {
        // Real Sails crashes on `msg.url` of undefined/null; answer a parse error instead.
        None => return respond_with_parse_error(&s, ack, "No url provided in request: undefined").await,
        Some(Arg::AckFn) => {
            return respond_with_parse_error(&s, ack, "No url provided in request: [Function (anonymous)]").await
        }
        Some(Arg::Json(v)) => v,
    };
    let url_val = msg.get("url").unwrap_or(&Value::Null);
    if !truthy(url_val) {
        let details = format!("No url provided in request: {}", format_s(&msg));
        return respond_with_parse_error(&s, ack, &details).await;
    }
    if !url_val.is_string() {
        let details = format!("Invalid url provided: {}", format_s(url_val));
        return respond_with_parse_error(&s, ack, &details).await;
    };
    if !sctx.0.sdk_version_ok {
        return respond_with_sdk_version_error(&s, ack, &sctx).await;
    }
    // `msg.url` is a string here, so `msg` is an object.
    let Some(msg) = Message::from_value(msg) else {
        return;
    };
    route_and_ack(&s, &ctx, &sctx, &verb, msg, ack).await
}

async fn respond_with_sdk_version_error(s: &SocketRef, ack: Option<AckSender>, sctx: &SocketCtx) {
    let details = format!(
        "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using ({}). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails.",
        sctx.0.sdk_version
    );
    respond_with_parse_error(s, ack, &details).await
}

/// The parts of a request message the virtual request is made of (`msg.url` a string).
#[derive(Debug, PartialEq)]
struct Message {
    url: String,
    headers: Option<Map<String, Value>>,
    data: Value,
    params: Option<Value>,
}

impl Message {
    /// The parts of a message object whose `url` is a string (`headers` only if it is an object).
    fn from_value(msg: Value) -> Option<Message> {
        let Value::Object(mut msg) = msg else {
            return None;
        };
        let Some(Value::String(url)) = msg.remove("url") else {
            return None;
        };
        let headers = match msg.remove("headers") {
            Some(Value::Object(headers)) => Some(headers),
            _ => None,
        };
        let data = msg.remove("data").unwrap_or(Value::Null);
        Some(Message { url, headers, data, params: msg.remove("params") })
    }
}

/// The usual request event, `["<verb>",{"url":"<non-empty>",…}]` with no attachments and no further
/// argument, read without building the message as a map. Anything else (a repeated key, `headers` that
/// is not an object, attachments, other shapes) fails to read and takes the general path, which applies
/// every rule of `receiveIncomingSailsIOMsg`.
#[derive(serde::Deserialize)]
struct UsualEvent(String, Message);

/// The usual message object, read straight into its parts: from an object only (a derived struct would
/// also read an array), each key at most once, `url` a string (the same parts as [`Message::from_value`]).
impl<'de> serde::Deserialize<'de> for Message {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};

        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Key {
            Url,
            Headers,
            Data,
            Params,
            #[serde(other)]
            Other,
        }
        fn once<T, E: serde::de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
            match slot.replace(value) {
                None => Ok(()),
                Some(_) => Err(E::custom("repeated key")),
            }
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Message;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a request message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
                let (mut url, mut headers, mut data, mut params) = (None, None, None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Url => once(&mut url, map.next_value::<String>()?)?,
                        Key::Headers => once(&mut headers, map.next_value::<Option<Map<String, Value>>>()?)?,
                        Key::Data => once(&mut data, map.next_value::<Option<Value>>()?)?,
                        // `null` stays `Some(Null)`, as `Message::from_value` keeps it.
                        Key::Params => once(&mut params, map.next_value::<Value>()?)?,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let url = url.ok_or_else(|| A::Error::missing_field("url"))?;
                let data = data.flatten().unwrap_or(Value::Null);
                Ok(Message { url, headers: headers.flatten(), data, params })
            }
        }
        d.deserialize_map(Fields)
    }
}

impl UsualEvent {
    fn read(ev: &RawEvent) -> Option<UsualEvent> {
        if !ev.bins.is_empty() {
            return None;
        }
        serde_json::from_str::<UsualEvent>(&ev.text).ok().filter(|e| !e.1.url.is_empty())
    }
}

/// Routes a validated request message through the stack and acks its JWR.
async fn route_and_ack(s: &SocketRef, ctx: &Ctx, sctx: &SocketCtx, verb: &str, msg: Message, ack: Option<AckSender>) {
    let res = match build_request(s, sctx, verb, msg) {
        Some(req) => {
            let Some(stack) = ctx.stack.get() else {
                return;
            };
            match AssertUnwindSafe(stack.serve(req)).catch_unwind().await {
                Ok(res) => res,
                Err(_) => ServerError("The action panicked".into()).into_response(),
            }
        }
        // Relative or unparsable URLs match no route.
        None => not_found(),
    };
    let (jwr, set_cookies) = response_to_jwr(res, &ctx.config).await;
    if let Some(first) = set_cookies.first() {
        if let Ok(mut c) = sctx.0.cookie.lock() {
            if c.is_none() {
                *c = HeaderValue::from_str(first).ok();
            }
        }
    }
    if let Some(ack) = ack {
        if let Err(e) = ack.send(&jwr) {
            tracing::warn!("could not send the JWR ack: {e}");
        }
    }
}

/// The `http::Request` of a validated request message.
fn build_request(s: &SocketRef, sctx: &SocketCtx, verb: &str, msg: Message) -> Option<Request<Body>> {
    let Message { url, headers, data, params } = msg;
    let uri = parse_uri(&url)?;
    // What the HTTP `Router` records before the Sails routing step trims a trailing slash.
    let original_uri = OriginalUri(uri.clone());
    let is_head = verb == "head";
    let method = match verb {
        "get" | "head" => http::Method::GET,
        "post" => http::Method::POST,
        "put" => http::Method::PUT,
        "delete" => http::Method::DELETE,
        "patch" => http::Method::PATCH,
        "options" => http::Method::OPTIONS,
        _ => http::Method::from_bytes(verb.to_ascii_uppercase().as_bytes()).ok()?,
    };
    let mut req = Request::builder().method(method).uri(uri).body(Body::empty()).ok()?;
    let h = req.headers_mut();
    if let Some(given) = &headers {
        for (k, v) in given {
            // `HeaderName::from_bytes` lower-cases the name.
            let (Ok(name), Some(text)) = (HeaderName::from_bytes(k.as_bytes()), header_value_text(v)) else {
                continue;
            };
            if let Ok(val) = HeaderValue::from_str(&text) {
                h.insert(name, val);
            }
        }
    }
    // `_.defaults({cookie: handshake cookie, nosession: …}, msg.headers)`: handshake values win.
    if let Some(cookie) = sctx.0.cookie.lock().ok().and_then(|c| c.clone()) {
        h.insert(header::COOKIE, cookie);
    }
    if sctx.0.nosession_header {
        h.insert("nosession", HeaderValue::from_static("true"));
    }
    // origin is always the handshake's
    h.remove(header::ORIGIN);
    if let Some(o) = &sctx.0.origin {
        h.insert(header::ORIGIN, o.clone());
    }
    let body = if data.is_array() {
        data
    } else {
        let mut out = Map::new();
        if let Some(p) = params.filter(truthy) {
            spread_into(&mut out, p);
        }
        if truthy(&data) {
            spread_into(&mut out, data);
        }
        Value::Object(out)
    };
    let ext = req.extensions_mut();
    ext.insert(original_uri);
    ext.insert(SocketRequest { socket: s.clone() });
    ext.insert(VirtualBody(body));
    ext.insert(VirtualUrl(url));
    if is_head {
        ext.insert(VirtualHead);
    }
    Some(req)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A JSON value as text: the kinds a message's keys may hold.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("0".to_owned()),
            Just("-1.5".to_owned()),
            "[/a-z\"é\\\\]{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("[a-z-]{1,3}", inner), 0..3).prop_map(|entries| {
                    let members: Vec<String> =
                        entries.iter().map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap())).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    /// A request event's text: a verb, then a message (usually an object with keys a message can have,
    /// repeats included), sometimes a third argument.
    fn event_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![Just("url"), Just("headers"), Just("data"), Just("params"), Just("method"), Just("x")];
        // Half of them start with a string `url`, so that the usual reading has much to take.
        let url = proptest::option::of("/[a-z]{0,3}".prop_map(|u| format!("\"url\":\"{u}\"")));
        let object = (url, proptest::collection::vec((key, value()), 0..6)).prop_map(|(url, entries)| {
            let members: Vec<String> =
                url.into_iter().chain(entries.iter().map(|(k, v)| format!("\"{k}\":{v}"))).collect();
            format!("{{{}}}", members.join(","))
        });
        let message = prop_oneof![4 => object, 1 => value()];
        (message, proptest::option::of(value())).prop_map(|(message, third)| match third {
            Some(third) => format!("[\"get\",{message},{third}]"),
            None => format!("[\"get\",{message}]"),
        })
    }

    proptest! {
        /// What the usual reading takes, the general path reads the same: a two-element event whose
        /// message is an object with a non-empty string `url`, and the same parts of it.
        #[test]
        fn the_usual_reading_agrees_with_the_general_path(text in event_text()) {
            let ev = RawEvent { text: text.clone(), bins: Vec::new(), ack_id: Some(1) };
            if let Some(UsualEvent(verb, fast)) = UsualEvent::read(&ev) {
                let Ok(Value::Array(mut arr)) = serde_json::from_str::<Value>(&text) else {
                    panic!("the general path cannot read {text}");
                };
                prop_assert_eq!(arr.len(), 2);
                let msg = arr.pop().unwrap();
                prop_assert_eq!(arr[0].as_str(), Some(verb.as_str()));
                prop_assert!(matches!(msg.get("url"), Some(Value::String(u)) if !u.is_empty()), "{}", text);
                let general = Message::from_value(msg).unwrap();
                prop_assert_eq!(fast, general);
            }
        }
    }

    /// A response's body text: JSON of any kind (strings included), or text that is not JSON, with or
    /// without surrounding whitespace.
    fn response_text() -> impl Strategy<Value = String> {
        let body = prop_oneof![4 => value(), 1 => Just("{".to_owned()), 1 => Just("nul".to_owned()), 1 => Just("1 2".to_owned())];
        ("[ \n]{0,2}", body, "[ \n]{0,2}").prop_map(|(before, body, after)| format!("{before}{body}{after}"))
    }

    proptest! {
        /// A JSON response reaches the client as the value the action's text holds, whether the JWR
        /// carries the text as is or a value parsed from it: a string is double-encoded (the text itself
        /// as a string, the content type reported), and text that is not JSON arrives as a string.
        #[test]
        fn a_json_response_reaches_the_client_as_the_value_of_its_text(text in response_text()) {
            let res = Response::builder()
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Body::from(text.clone()))
                .unwrap();
            let (jwr, _) = response_to_jwr(res, &Config::default()).now_or_never().expect("a full body is ready");
            let sent: Value = serde_json::from_str(&serde_json::to_string(&jwr).unwrap()).unwrap();
            let (expected, reports_type) = match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(_)) => (Value::String(text.clone()), true),
                Ok(v) => (v, false),
                Err(_) => (Value::String(text.clone()), false),
            };
            prop_assert_eq!(&sent["body"], &expected, "{}", text);
            prop_assert_eq!(sent["headers"].get("content-type").is_some(), reports_type, "{}", text);
        }
    }

    /// Found by the property above: `"params":null` read as no params by the usual reading.
    #[test]
    fn the_usual_reading_keeps_null_params() {
        let ev = RawEvent { text: r#"["get",{"url":"/","params":null}]"#.into(), bins: Vec::new(), ack_id: Some(1) };
        let UsualEvent(_, msg) = UsualEvent::read(&ev).expect("the usual shape");
        assert_eq!(msg.params, Some(Value::Null));
    }

    #[test]
    fn the_usual_reading_takes_the_usual_request() {
        let ev = RawEvent {
            text: r#"["get",{"method":"get","headers":{"x-a":"1"},"data":{},"url":"/hello"}]"#.into(),
            bins: Vec::new(),
            ack_id: Some(3),
        };
        let UsualEvent(verb, msg) = UsualEvent::read(&ev).expect("the usual shape");
        assert_eq!((verb.as_str(), msg.url.as_str()), ("get", "/hello"));
        let with_attachment = RawEvent { bins: vec![Bytes::from_static(b"x")], ..ev };
        assert!(UsualEvent::read(&with_attachment).is_none());
    }
}
