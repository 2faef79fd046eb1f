//! Signed `sails.sid` cookie sessions (express-session + cookie-signature compatible format).
//!
//! The cookie is `sails.sid=s%3A<id>.<sig>` where `<sig>` is the unpadded base64 HMAC-SHA256 of `<id>`
//! under the app secret, URL-encoded like `cookie.serialize` does. Sessions live in memory. Like Sails'
//! express-session setup (`saveUninitialized`), a request without a valid session cookie gets a new
//! session and a `Set-Cookie: sails.sid=…; Path=/; HttpOnly`. A request with a `nosession` header gets
//! no session at all (`req.session` is undefined in Sails) and no cookie.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
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

/// Length of an unpadded base64 HMAC-SHA256 (32 bytes).
const SIG_LEN: usize = 43;

/// In-memory session store plus the signing secret.
#[derive(Clone)]
pub struct SessionStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    /// The HMAC keyed with the secret, cloned for each signature (the key schedule is computed once).
    mac: Hmac<Sha256>,
    sessions: Mutex<HashMap<String, Map<String, Value>>>,
    /// `Cookie` header values already checked by [`SessionStore::sid_from_cookie_header`], with their
    /// result. The result depends only on the header text and the secret, so an entry never goes stale;
    /// the map is emptied when it reaches [`VERIFIED_CAP`] entries, and headers longer than
    /// [`VERIFIED_MAX_LEN`] are checked every time (so the map holds at most about 4 MiB of them).
    verified: Mutex<HashMap<String, Option<String>>>,
}

/// Most `Cookie` header values [`SessionStore::sid_from_cookie_header`] remembers at once.
const VERIFIED_CAP: usize = 4096;

/// The longest `Cookie` header value [`SessionStore::sid_from_cookie_header`] remembers (a `sails.sid`
/// cookie alone is about 100 bytes).
const VERIFIED_MAX_LEN: usize = 1024;

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore").finish_non_exhaustive()
    }
}

impl SessionStore {
    /// A store signing with `secret`.
    pub fn new(secret: &str) -> Self {
        SessionStore {
            inner: Arc::new(StoreInner {
                mac: Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes any key"),
                sessions: Mutex::new(HashMap::new()),
                verified: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// cookie-signature `sign`: `<val>.<base64 hmac without padding>`.
    pub fn sign(&self, val: &str) -> String {
        let mut out = String::with_capacity(val.len() + 1 + SIG_LEN);
        out.push_str(val);
        out.push('.');
        base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(self.mac(val), &mut out);
        out
    }

    /// The raw HMAC-SHA256 of `val` under the secret.
    fn mac(&self, val: &str) -> [u8; 32] {
        let mut mac = self.inner.mac.clone();
        mac.update(val.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// cookie-signature `unsign`: the value if the signature matches.
    pub fn unsign(&self, signed: &str) -> Option<String> {
        let (val, sig) = signed.rsplit_once('.')?;
        // `signed == sign(val)` exactly when `sig` is the unpadded base64 text of the MAC; comparing the
        // text (not decoded bytes) rejects the non-canonical spellings cookie-signature rejects too.
        let mut expected = [0u8; SIG_LEN];
        let n = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode_slice(self.mac(val), &mut expected)
            .expect("a 32-byte MAC is 43 base64 characters");
        let expected = &expected[..n];
        // Constant time over the signature text, like cookie-signature's comparison of digests.
        let same = sig.len() == expected.len() && sig.bytes().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same.then(|| val.to_owned())
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
    ///
    /// Results are remembered per header value (a client sends the same `Cookie` with every request), so
    /// the signature of a given cookie is checked once.
    pub fn sid_from_cookie_header(&self, cookie: &str) -> Option<String> {
        if let Some(hit) = self.inner.verified.lock().ok().and_then(|m| m.get(cookie).cloned()) {
            return hit;
        }
        let sid = self.check_cookie_header(cookie);
        if cookie.len() > VERIFIED_MAX_LEN {
            return sid;
        }
        if let Ok(mut m) = self.inner.verified.lock() {
            if m.len() >= VERIFIED_CAP {
                m.clear();
            }
            m.insert(cookie.to_owned(), sid.clone());
        }
        sid
    }

    fn check_cookie_header(&self, cookie: &str) -> Option<String> {
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
            match map.get_mut(id) {
                Some(slot) => *slot = data,
                None => {
                    map.insert(id.to_owned(), data);
                }
            }
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

/// The session middleware, run for HTTP and virtual requests alike: `run` is the rest of the stack.
pub(crate) async fn with_session<F, Fut>(store: &SessionStore, mut req: Request, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    // `nosession`: Sails skips `loadSession`, so `req.session` is `undefined` (NOTES.md 4).
    if req.headers().contains_key("nosession") {
        return run(req).await;
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
    let session = Session { data: Arc::new(Mutex::new(data)), id: Some(id) };
    req.extensions_mut().insert(session.clone());
    let mut res = run(req).await;
    let id = session.id.as_deref().unwrap_or_default();
    store.save(id, session.snapshot());
    if is_new {
        if let Ok(v) = HeaderValue::from_str(&store.set_cookie(id)) {
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
    fn unsign_rejects_any_other_signature_text() {
        let store = SessionStore::new("tobiiscool");
        let good = "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI";
        assert_eq!(store.unsign(good).as_deref(), Some("hello"));
        // Same 32 bytes, non-canonical last character (its unused low bits set), padded, truncated, longer.
        for bad in [
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QJ",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI=",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5Q",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QIA",
            "hellO.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI",
            "hello",
        ] {
            assert_eq!(store.unsign(bad), None, "{bad}");
        }
    }

    #[test]
    fn remembered_cookie_checks_give_the_same_answers() {
        let store = SessionStore::new("secret");
        let good = store.cookie_pair("abc");
        let bad = good.replace("abc", "abd");
        for _ in 0..3 {
            assert_eq!(store.sid_from_cookie_header(&good).as_deref(), Some("abc"));
            assert_eq!(store.sid_from_cookie_header(&bad), None);
        }
        // Past the cap the memory is emptied and answers stay the same.
        for i in 0..VERIFIED_CAP + 10 {
            let pair = store.cookie_pair(&format!("id{i}"));
            assert_eq!(store.sid_from_cookie_header(&pair), Some(format!("id{i}")));
        }
        assert!(store.inner.verified.lock().unwrap().len() <= VERIFIED_CAP);
        assert_eq!(store.sid_from_cookie_header(&good).as_deref(), Some("abc"));
        assert_eq!(store.sid_from_cookie_header(&bad), None);
        // A long header is checked but not remembered.
        let long = format!("{good}; other={}", "x".repeat(VERIFIED_MAX_LEN));
        store.inner.verified.lock().unwrap().clear();
        assert_eq!(store.sid_from_cookie_header(&long).as_deref(), Some("abc"));
        assert!(store.inner.verified.lock().unwrap().is_empty());
    }

    #[test]
    fn known_cookie_signature_vector() {
        // cookie-signature's README example: sign('hello', 'tobiiscool')
        let store = SessionStore::new("tobiiscool");
        assert_eq!(store.sign("hello"), "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI");
    }
}
