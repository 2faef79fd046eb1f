//! Server configuration: the knobs of `sails.config.sockets` that matter on the wire.

use std::sync::Arc;
use std::time::Duration;

/// An engine.io transport the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket (`transport=websocket`), the Sails default.
    Websocket,
    /// HTTP long-polling (`transport=polling`), off by default like in Sails.
    Polling,
}

impl Transport {
    /// The value of the engine.io `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

/// Why a `before_connect` hook refused a connection.
///
/// `None` gives engine.io's default `Forbidden`; `Some(text)` sends that text as the message, like a
/// Sails `beforeConnect` calling `cb('text', false)`.
pub type Rejection = Option<String>;

/// The `beforeConnect` hook: sees the raw handshake request (method, URI with query, headers) and accepts
/// (`Ok(())`) or rejects it. It runs only on handshake requests (those without `sid`), as in Sails.
pub type BeforeConnect = Arc<dyn Fn(&http::request::Parts) -> Result<(), Rejection> + Send + Sync>;

/// Everything the stub server can be configured with. Defaults are Sails 1.5 / sails-hook-sockets 3.0.2
/// defaults (`lib/defaults.js`).
#[derive(Clone)]
pub struct Config {
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port to bind; `0` picks a free port (default `1337`, the Sails default).
    pub port: u16,
    /// Socket.IO path without trailing slash (default `/socket.io`); the server answers on `<path>/`.
    pub path: String,
    /// Engine.IO ping interval (default 25 000 ms).
    pub ping_interval: Duration,
    /// Engine.IO ping timeout (default 60 000 ms).
    pub ping_timeout: Duration,
    /// `maxHttpBufferSize`, sent as `maxPayload` (default 1e8 bytes); also applied to ws frames/messages.
    pub max_payload: u64,
    /// Accepted transports (default websocket only).
    pub transports: Vec<Transport>,
    /// `onlyAllowOrigins`: when set, a handshake's `Origin` must be exactly one of these.
    pub only_allow_origins: Option<Vec<String>>,
    /// With `only_allow_origins`, also reject handshakes that send no `Origin` (what real Sails does).
    /// Default `false`: native clients without an Origin header are let in.
    pub reject_missing_origin: bool,
    /// `beforeConnect` hook. When set, `only_allow_origins` is ignored (as Sails does).
    pub before_connect: Option<BeforeConnect>,
    /// `sendStatusCode` (default true): put `statusCode` into JWRs.
    pub send_status_code: bool,
    /// `sendResponseHeaders` (default true): put `headers` into JWRs.
    pub send_response_headers: bool,
    /// Secret used to sign `sails.sid` session cookies.
    pub session_secret: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("transports", &self.transports)
            .field("only_allow_origins", &self.only_allow_origins)
            .field("reject_missing_origin", &self.reject_missing_origin)
            .field("before_connect", &self.before_connect.is_some())
            .field("send_status_code", &self.send_status_code)
            .field("send_response_headers", &self.send_response_headers)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 1337,
            path: "/socket.io".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(60_000),
            max_payload: 100_000_000,
            transports: vec![Transport::Websocket],
            only_allow_origins: None,
            reject_missing_origin: false,
            before_connect: None,
            send_status_code: true,
            send_response_headers: true,
            session_secret: "sails-io-stub-development-secret".into(),
        }
    }
}

impl Config {
    /// The engine.io request path: the configured path with exactly one trailing slash.
    pub fn engine_path(&self) -> String {
        format!("{}/", self.path.trim_end_matches('/'))
    }
}
