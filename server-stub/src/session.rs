//! Signed `sails.sid` cookie sessions (express-session + cookie-signature compatible format).
//!
//! The cookie is `sails.sid=s%3A<id>.<sig>` where `<sig>` is the unpadded base64 HMAC-SHA256 of `<id>`
//! under the app secret, URL-encoded like `cookie.serialize` does. Sessions live in memory. Like Sails'
//! express-session setup (`saveUninitialized`), a request without a valid session cookie gets a new
//! session and a `Set-Cookie: sails.sid=…; Path=/; HttpOnly`. A request with a `nosession` header gets
//! no session at all (`req.session` is undefined in Sails) and no cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{header, HeaderValue};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng as _;
use serde_json::{Map, Value};
use sha2::Sha256;

/// The session cookie name (`sails.config.session.name` default).
pub const COOKIE_NAME: &str = "sails.sid";

/// Characters `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// In-memory session store plus the signing secret.
#[derive(Clone)]
pub struct SessionStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    secret: Vec<u8>,
    sessions: Mutex<HashMap<String, Map<String, Value>>>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore").finish_non_exhaustive()
    }
}

impl SessionStore {
    /// A store signing with `secret`.
    pub fn new(secret: &str) -> Self {
        SessionStore {
            inner: Arc::new(StoreInner { secret: secret.as_bytes().to_vec(), sessions: Mutex::new(HashMap::new()) }),
        }
    }

    /// cookie-signature `sign`: `<val>.<base64 hmac without padding>`.
    pub fn sign(&self, val: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.secret).expect("hmac takes any key");
        mac.update(val.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{val}.{sig}")
    }

    /// cookie-signature `unsign`: the value if the signature matches.
    pub fn unsign(&self, signed: &str) -> Option<String> {
        let (val, _) = signed.rsplit_once('.')?;
        let expected = self.sign(val);
        // constant-time enough for a test server: compare full strings via HMAC check
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.secret).expect("hmac takes any key");
        mac.update(expected.as_bytes());
        let a = mac.finalize().into_bytes();
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.secret).expect("hmac takes any key");
        mac.update(signed.as_bytes());
        (mac.verify_slice(&a).is_ok()).then(|| val.to_owned())
    }

    /// The cookie pair `sails.sid=s%3A<id>.<sig>` for a session id.
    pub fn cookie_pair(&self, id: &str) -> String {
        let value = format!("s:{}", self.sign(id));
        format!("{COOKIE_NAME}={}", utf8_percent_encode(&value, URI_COMPONENT))
    }

    /// The `Set-Cookie` value for a session id.
    pub fn set_cookie(&self, id: &str) -> String {
        format!("{}; Path=/; HttpOnly", self.cookie_pair(id))
    }

    /// Create and persist a new empty session; returns its id (24 random url-safe chars, like `uid-safe`).
    pub fn create(&self) -> String {
        let id = new_session_id();
        self.save(&id, Map::new());
        id
    }

    /// The session id carried by a `Cookie` header, if its `sails.sid` is present and correctly signed.
    pub fn sid_from_cookie_header(&self, cookie: &str) -> Option<String> {
        let raw = cookie.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == COOKIE_NAME).then(|| v.trim().trim_matches('"'))
        })?;
        let decoded = percent_decode_str(raw).decode_utf8().ok()?;
        let signed = decoded.strip_prefix("s:")?;
        self.unsign(signed)
    }

    /// The stored data of a session, if it exists.
    pub fn load(&self, id: &str) -> Option<Map<String, Value>> {
        self.inner.sessions.lock().ok()?.get(id).cloned()
    }

    /// Store the data of a session.
    pub fn save(&self, id: &str, data: Map<String, Value>) {
        if let Ok(mut map) = self.inner.sessions.lock() {
            map.insert(id.to_owned(), data);
        }
    }
}

/// 24 characters of url-safe base64 from 18 random bytes (what `uid-safe`'s `uid.sync(24)` yields).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `req.session`: a handle to the current request's session data, saved when the response is built.
#[derive(Clone, Debug)]
pub struct Session {
    data: Arc<Mutex<Map<String, Value>>>,
    id: Option<String>,
}

impl Session {
    /// The session id (always `Some` behind the session middleware).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Read a session key.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.data.lock().ok()?.get(key).cloned()
    }

    /// Set a session key.
    pub fn insert(&self, key: &str, value: Value) {
        if let Ok(mut d) = self.data.lock() {
            d.insert(key.to_owned(), value);
        }
    }

    fn snapshot(&self) -> Map<String, Value> {
        self.data.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// The session middleware, run for HTTP and virtual requests alike.
pub(crate) async fn middleware(State(store): State<SessionStore>, mut req: Request, next: Next) -> Response {
    // `nosession`: Sails skips `loadSession`, so `req.session` is `undefined` (NOTES.md 4).
    if req.headers().contains_key("nosession") {
        return next.run(req).await;
    }
    let existing = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| store.sid_from_cookie_header(c))
        .and_then(|id| store.load(&id).map(|d| (id, d)));
    let (id, data, is_new) = match existing {
        Some((id, data)) => (id, data, false),
        None => (new_session_id(), Map::new(), true),
    };
    let session = Session { data: Arc::new(Mutex::new(data)), id: Some(id.clone()) };
    req.extensions_mut().insert(session.clone());
    let mut res = next.run(req).await;
    store.save(&id, session.snapshot());
    if is_new {
        if let Ok(v) = HeaderValue::from_str(&store.set_cookie(&id)) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_roundtrip_and_format() {
        let store = SessionStore::new("secret");
        let signed = store.sign("abc");
        assert!(signed.starts_with("abc."));
        assert_eq!(store.unsign(&signed).as_deref(), Some("abc"));
        assert_eq!(store.unsign("abc.nope"), None);
        let pair = store.cookie_pair("abc");
        assert!(pair.starts_with("sails.sid=s%3Aabc."), "{pair}");
        let header = format!("foo=bar; {pair}");
        assert_eq!(store.sid_from_cookie_header(&header).as_deref(), Some("abc"));
        let other = SessionStore::new("other");
        assert_eq!(other.sid_from_cookie_header(&header), None);
    }

    #[test]
    fn known_cookie_signature_vector() {
        // cookie-signature's README example: sign('hello', 'tobiiscool')
        let store = SessionStore::new("tobiiscool");
        assert_eq!(store.sign("hello"), "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI");
    }
}
