//! [`SailsSocket`]: the async, cloneable handle Rust programs use, and its builder.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::Stream;
use http::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// Default initial WebSocket read buffer per connection (see [`SailsSocketBuilder::read_buffer_size`]).
const DEFAULT_READ_BUFFER_SIZE: usize = 4 * 1024;
use url::Url;
use web_time::Duration;

use super::driver::{Command, Driver, TransportOptions};
use super::events::SocketEvent;
use super::proxy::parse_proxy;
use crate::connection::{Config, Connection, Reconnection};
use crate::error::Error;
use crate::protocol::engine_io::EioVersion;
use crate::protocol::payload::Payload;
use crate::protocol::sails::{handshake_url, Jwr, Method, Request, SdkInfo};

/// Identifies a handler registered with [`SailsSocket::on`], for [`SailsSocket::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Handler = Arc<dyn Fn(&SocketEvent) + Send + Sync>;

#[derive(Default)]
struct Listeners {
    next: u64,
    by_name: HashMap<String, Vec<(ListenerId, Handler)>>,
}

#[derive(Debug, Default, Clone)]
struct Status {
    connected: bool,
    connecting: bool,
    sid: Option<String>,
    transport: Option<Transport>,
}

/// State shared between the handles and the driver task.
#[derive(Default)]
pub(crate) struct Shared {
    listeners: Mutex<Listeners>,
    streams: Mutex<Vec<mpsc::UnboundedSender<SocketEvent>>>,
    status: Mutex<Status>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn update_status(&self, conn: &Connection) {
        let mut status = lock(&self.status);
        status.connected = conn.is_connected();
        status.connecting = conn.is_connecting() || conn.is_reconnect_pending();
        status.sid = conn.socket_id().map(str::to_owned);
    }

    /// Records the transport now open (`None`: none is).
    pub(crate) fn set_transport(&self, transport: Option<Transport>) {
        lock(&self.status).transport = transport;
    }

    /// Calls the handlers for the event's name (outside the lock, so handlers may add or remove
    /// handlers) and feeds every open stream.
    pub(crate) fn emit(&self, event: &SocketEvent) {
        let handlers: Vec<Handler> = lock(&self.listeners)
            .by_name
            .get(event.name())
            .map(|hs| hs.iter().map(|(_, h)| h.clone()).collect())
            .unwrap_or_default();
        for handler in handlers {
            handler(event);
        }
        lock(&self.streams).retain(|tx| tx.send(event.clone()).is_ok());
    }
}

/// The last handle going away closes the connection and ends the driver task.
struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

/// A connection to a Sails server: virtual requests, server events, reconnection.
///
/// Cheap to clone (`Clone + Send + Sync`); every clone drives the same connection, and many requests may
/// be in flight at once. When the last clone is dropped the socket disconnects and its task ends.
///
/// ```no_run
/// # async fn run() -> Result<(), sails_io::Error> {
/// use sails_io::SailsSocket;
/// use serde_json::json;
///
/// let socket = SailsSocket::builder("http://127.0.0.1:1337").connect().await?;
/// let hello = socket.get("/hello").await?;
/// assert_eq!(hello.status_code, 200);
/// let created = socket.post("/pet", &json!({"name": "Rex"})).await?.error_for_status()?;
/// socket.on("pet", |event| println!("pubsub: {:?}", event.as_server().map(|e| e.json_value())));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SailsSocket {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for SailsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = lock(&self.handle.shared.status).clone();
        f.debug_struct("SailsSocket").field("connected", &status.connected).field("sid", &status.sid).finish()
    }
}

impl SailsSocket {
    /// Starts configuring a socket for the server at `url` (`http://host:port`, `https://…`, `ws://…`).
    pub fn builder(url: impl AsRef<str>) -> SailsSocketBuilder {
        SailsSocketBuilder::new(url.as_ref())
    }

    /// Connects with the default settings (EIO 3, as sails.io.js).
    pub async fn connect_to(url: impl AsRef<str>) -> Result<SailsSocket, Error> {
        SailsSocket::builder(url).connect().await
    }

    /// Connects (or reconnects after a disconnect); resolves once the Socket.IO connection is up. Already
    /// connected: returns at once. A failed attempt returns its error and does not retry.
    pub async fn connect(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Connect(tx))?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Drops the current connection (if any) and connects again with a new session.
    pub async fn reconnect(&self) -> Result<(), Error> {
        self.disconnect().await?;
        self.connect().await
    }

    /// Sends the Socket.IO disconnect, closes the transport and stops reconnecting. Requests in flight or
    /// queued end with [`Error::Disconnected`].
    pub async fn disconnect(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Disconnect(tx))?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// True while connected at the Socket.IO level.
    pub fn is_connected(&self) -> bool {
        lock(&self.handle.shared.status).connected
    }

    /// True while a connection attempt (or an automatic reconnection) is under way.
    pub fn is_connecting(&self) -> bool {
        lock(&self.handle.shared.status).connecting
    }

    /// The socket id as the server sees it (`sails.sockets.getId(req)`), while connected.
    pub fn id(&self) -> Option<String> {
        lock(&self.handle.shared.status).sid.clone()
    }

    /// The transport open now (socket.io-client's `engine.transport.name`): [`Transport::Polling`] until
    /// an upgrade moves a polling connection to [`Transport::Websocket`]; `None` while no transport is open.
    pub fn transport(&self) -> Option<Transport> {
        lock(&self.handle.shared.status).transport
    }

    /// Sends a virtual request and waits for its response. Requests made while not connected are queued
    /// and sent in order after the connection comes up.
    ///
    /// Dropping the returned future cancels the request (e.g. under `tokio::time::timeout` or in a
    /// `select!`): one still queued is never sent; one already sent is forgotten, and its answer dropped.
    pub async fn request(&self, request: Request) -> Result<Jwr, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Request(request, tx))?;
        let abandoned = CancelOnDrop(Some(&self.handle.commands));
        let result = rx.await;
        abandoned.disarm();
        result.map_err(|_| Error::Closed)?
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Get, url)).await
    }

    /// `POST url` with a JSON body.
    pub async fn post<B: Serialize + ?Sized>(&self, url: &str, body: &B) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Post, url).data(to_json(body)?)).await
    }

    /// `PUT url` with a JSON body.
    pub async fn put<B: Serialize + ?Sized>(&self, url: &str, body: &B) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Put, url).data(to_json(body)?)).await
    }

    /// `PATCH url` with a JSON body.
    pub async fn patch<B: Serialize + ?Sized>(&self, url: &str, body: &B) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Patch, url).data(to_json(body)?)).await
    }

    /// `DELETE url`.
    pub async fn delete(&self, url: &str) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Delete, url)).await
    }

    /// `HEAD url`.
    pub async fn head(&self, url: &str) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Head, url)).await
    }

    /// `OPTIONS url`.
    pub async fn options(&self, url: &str) -> Result<Jwr, Error> {
        self.request(Request::new(Method::Options, url)).await
    }

    /// Emits a custom Socket.IO event (not a Sails request). Errors when not connected.
    pub async fn emit(&self, event: &str, args: Vec<Payload>) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Emit(event.to_owned(), args, tx))?;
        if rx.await.map_err(|_| Error::Closed)? {
            Ok(())
        } else {
            Err(Error::Disconnected)
        }
    }

    /// Calls `handler` for every event named `name`: a server event name (`message`, `pet`,
    /// `sails:parseError`, …) or a lifecycle name (`connect`, `disconnect`, `connect_error`,
    /// `reconnecting`, `reconnect`, `reconnect_failed`). Handlers run on the socket's task: keep them
    /// short, and use [`events`](Self::events) for async work. A handler that captures a clone of this
    /// socket keeps the connection alive until [`off`](Self::off).
    pub fn on(&self, name: &str, handler: impl Fn(&SocketEvent) + Send + Sync + 'static) -> ListenerId {
        let mut listeners = lock(&self.handle.shared.listeners);
        let id = ListenerId(listeners.next);
        listeners.next += 1;
        listeners.by_name.entry(name.to_owned()).or_default().push((id, Arc::new(handler)));
        id
    }

    /// Like [`on`](Self::on) for server events, with the first argument deserialized as `T`; events whose
    /// data does not deserialize are passed to `handler` as the error.
    pub fn on_json<T: DeserializeOwned>(
        &self,
        name: &str,
        handler: impl Fn(Result<T, Error>) + Send + Sync + 'static,
    ) -> ListenerId {
        self.on(name, move |event| {
            if let Some(server) = event.as_server() {
                handler(server.json::<T>());
            }
        })
    }

    /// Removes a handler; true if it was registered.
    pub fn off(&self, id: ListenerId) -> bool {
        let mut listeners = lock(&self.handle.shared.listeners);
        let mut found = false;
        for handlers in listeners.by_name.values_mut() {
            let before = handlers.len();
            handlers.retain(|(h, _)| *h != id);
            found |= handlers.len() != before;
        }
        listeners.by_name.retain(|_, hs| !hs.is_empty());
        found
    }

    /// Removes every handler of `name`.
    pub fn off_all(&self, name: &str) {
        lock(&self.handle.shared.listeners).by_name.remove(name);
    }

    /// A stream of every event from now on (lifecycle and server events); nothing is dropped, so keep
    /// polling it or drop it.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.handle.shared.streams).push(tx);
        EventStream { rx }
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        self.handle.commands.send(command).map_err(|_| Error::Closed)
    }
}

/// Tells the driver, when a request's future is dropped before its answer, that a caller stopped
/// waiting (the driver then cancels every request whose caller is gone).
struct CancelOnDrop<'a>(Option<&'a mpsc::UnboundedSender<Command>>);

impl CancelOnDrop<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(commands) = self.0 {
            let _ = commands.send(Command::Abandoned);
        }
    }
}

fn to_json<B: Serialize + ?Sized>(body: &B) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::InvalidRequest(format!("body does not serialize to JSON: {e}")))
}

/// The stream returned by [`SailsSocket::events`]. Ends when the socket's task ends.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<SocketEvent>,
}

impl Stream for EventStream {
    type Item = SocketEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SocketEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// The transports sails.io.js knows (its `transports` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket: Sails' default and only transport unless `sails.config.sockets.transports` says otherwise.
    Websocket,
    /// HTTP long-polling, for servers configured with `transports: ['polling', …]` (e.g. behind proxies
    /// that block WebSockets).
    Polling,
}

/// Configures a [`SailsSocket`]. Every option of sails.io.js is here, plus protocol choice, request
/// timeouts, TLS (rustls) and a cookie jar shared with reqwest.
#[derive(Debug, Clone)]
pub struct SailsSocketBuilder {
    url: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    initial_headers: Vec<(String, String)>,
    transports: Vec<Transport>,
    eio: EioVersion,
    reconnection: Reconnection,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    jar: Option<Arc<reqwest::cookie::Jar>>,
    getcookie: Option<String>,
    sdk: SdkInfo,
    auth: Option<Value>,
    max_message_size: usize,
    read_buffer_size: usize,
    rng_seed: Option<u64>,
    root_certificates: Vec<Vec<u8>>,
    proxy: Option<String>,
    proxy_from_env: bool,
}

impl SailsSocketBuilder {
    fn new(url: &str) -> Self {
        SailsSocketBuilder {
            url: url.to_owned(),
            path: "/socket.io".into(),
            query: None,
            headers: Vec::new(),
            initial_headers: Vec::new(),
            transports: vec![Transport::Websocket],
            eio: EioVersion::V3,
            reconnection: Reconnection::default(),
            connect_timeout: Duration::from_secs(20),
            request_timeout: Some(Duration::from_secs(30)),
            jar: None,
            getcookie: None,
            sdk: SdkInfo::rust("native"),
            auth: None,
            max_message_size: 100_000_000,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            rng_seed: None,
            root_certificates: Vec::new(),
            proxy: None,
            proxy_from_env: false,
        }
    }

    /// The engine path (`/socket.io`, as `sails.config.sockets.path`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Extra handshake query, e.g. `nosession=true` (sent before the SDK parameters).
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// A header added to every request that does not set it (sails.io.js `headers`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header sent on the WebSocket handshake (sails.io.js `initialConnectionHeaders`), e.g. `cookie`.
    pub fn initial_connection_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.initial_headers.push((name.into(), value.into()));
        self
    }

    /// The transports to use (sails.io.js `transports`, default `[Websocket]`), as engine.io-client uses
    /// them: the connection opens with the first; if that is [`Transport::Polling`] and the list also has
    /// [`Transport::Websocket`], it upgrades to a WebSocket once the server offers one (`upgrades` in
    /// its handshake), and stays on polling if the server offers none or the WebSocket probe fails.
    /// [`SailsSocket::transport`] tells which one is in use.
    pub fn transports(mut self, transports: &[Transport]) -> Self {
        self.transports = transports.to_vec();
        self
    }

    /// The protocol generation: [`EioVersion::V3`] (default, what sails.io.js speaks) or
    /// [`EioVersion::V4`].
    pub fn protocol(mut self, eio: EioVersion) -> Self {
        self.eio = eio;
        self
    }

    /// Turns automatic reconnection on or off (off by default, as in sails.io.js).
    pub fn reconnection(mut self, enabled: bool) -> Self {
        self.reconnection.enabled = enabled;
        self
    }

    /// The whole reconnection policy (attempts, delay, delay_max, randomization).
    pub fn reconnection_policy(mut self, policy: Reconnection) -> Self {
        self.reconnection = policy;
        self
    }

    /// Seeds the reconnection jitter (for reproducible tests).
    pub fn reconnection_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// How long a connection attempt may take (20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The default deadline of every request (30 s); `None` lets requests wait as long as the connection
    /// lives, as sails.io.js does.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Shares cookies with reqwest: a session cookie from an HTTP login goes on the WebSocket handshake,
    /// and `/__getcookie` stores its cookie here.
    pub fn cookie_jar(mut self, jar: Arc<reqwest::cookie::Jar>) -> Self {
        self.jar = Some(jar);
        self
    }

    /// GETs `/__getcookie` before each connection to obtain the session cookie (as sails.io.js does
    /// cross-origin).
    pub fn get_cookie(mut self, enabled: bool) -> Self {
        self.getcookie = enabled.then(|| "/__getcookie".to_owned());
        self
    }

    /// Like [`get_cookie`](Self::get_cookie) with a custom route (sails.io.js `useCORSRouteToGetCookie`).
    pub fn get_cookie_path(mut self, path: impl Into<String>) -> Self {
        self.getcookie = Some(path.into());
        self
    }

    /// What the handshake query says about the client (default: version 1.2.1, platform `native`,
    /// language `rust`).
    pub fn sdk(mut self, sdk: SdkInfo) -> Self {
        self.sdk = sdk;
        self
    }

    /// The auth object of the EIO 4 CONNECT packet.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Largest incoming message in bytes (100 MB, as Sails' `maxHttpBufferSize`).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Size of the WebSocket read buffer each connection allocates (4 KiB by default, so that ten thousand
    /// sockets fit in well under 200 MB). Larger messages still arrive whole: the buffer grows to fit them.
    /// A larger buffer (e.g. 128 KiB, tungstenite's default) reads big bursts with fewer system calls.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1);
        self
    }

    /// Trusts this CA certificate (DER) for `wss://` and `https://`, besides the Mozilla roots
    /// (webpki-roots) trusted by default: for servers with a private or self-signed certificate.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(der.into());
        self
    }

    /// Connects through a proxy (what socket.io-client in node does with a proxy `agent`): an HTTP proxy,
    /// `http://[user:password@]host[:port]`, or one reached over TLS, `https://…` (trusting the same roots
    /// as the server, [`add_root_certificate`](Self::add_root_certificate) included), or a SOCKS5 proxy,
    /// `socks5h://[user:password@]host[:port]` (the proxy resolves the server's name) or `socks5://…`
    /// (this side resolves it), port 1080 by default. The WebSocket goes through it with `CONNECT` (HTTP's
    /// or SOCKS5's), so `wss://` stays TLS from end to end; `/__getcookie` and long-polling use reqwest's
    /// proxy support. The user and password, if any, are sent as `Proxy-Authorization: Basic` (HTTP) or
    /// with SOCKS5's user/password authentication, and never appear in errors. Without this (or
    /// [`proxy_from_env`](Self::proxy_from_env)) every connection is direct, whatever the environment says.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Uses the proxy the environment names for this server, as curl does ([`env_proxy`](crate::env_proxy):
    /// `https_proxy`/`HTTPS_PROXY` for `https://` servers, `http_proxy` for `http://` ones, `all_proxy`,
    /// and `no_proxy`), read when the socket is built. A [`proxy`](Self::proxy) set explicitly wins. The
    /// same kinds of proxy as for `proxy` work; another scheme (e.g. `socks4://`) is an
    /// [`Error::InvalidRequest`] from `build()` that names the variable.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy_from_env = true;
        self
    }

    /// Builds the socket without connecting: requests queue until [`SailsSocket::connect`]. Needs a tokio
    /// runtime.
    pub fn build(self) -> Result<SailsSocket, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Transport("a SailsSocket needs a tokio runtime".into()))?;
        if self.transports.is_empty() {
            return Err(Error::InvalidRequest("no transport: give Websocket, Polling or both".into()));
        }
        let polling = self.transports[0] == Transport::Polling;
        let upgrade = polling && self.transports.contains(&Transport::Websocket);
        let base =
            Url::parse(&self.url).map_err(|e| Error::InvalidRequest(format!("invalid URL {:?}: {e}", self.url)))?;
        let handshake = handshake_url(&base, &self.path, self.query.as_deref(), &self.sdk, self.eio)?;
        let mut http_url = base.clone();
        let http_scheme = if matches!(base.scheme(), "https" | "wss") { "https" } else { "http" };
        http_url
            .set_scheme(http_scheme)
            .map_err(|()| Error::InvalidRequest(format!("cannot derive an HTTP URL from {base}")))?;
        let initial_headers = self
            .initial_headers
            .iter()
            .map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| Error::InvalidRequest(format!("invalid header name {k:?}: {e}")))?;
                let value = HeaderValue::from_str(v)
                    .map_err(|e| Error::InvalidRequest(format!("invalid value for header {k:?}: {e}")))?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = tls_config(&self.root_certificates)?;
        // An https:// proxy is reached with the same trusted roots as the server.
        let proxy_tls = || tls.clone().unwrap_or_else(|| Arc::new(client_tls(rustls::RootCertStore::empty())));
        let proxy = match (&self.proxy, self.proxy_from_env) {
            (Some(url), _) => Some(parse_proxy(url, "proxy URL", proxy_tls)?),
            (None, true) => match crate::env_proxy(&base, |name| std::env::var(name).ok()) {
                Some(found) => Some(parse_proxy(&found.url, &format!("proxy URL from {}", found.variable), proxy_tls)?),
                None => None,
            },
            (None, false) => None,
        };
        let mut config = Config {
            eio: self.eio,
            reconnection: self.reconnection,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            headers: self.headers,
            auth: self.auth,
            ..Config::default()
        };
        if let Some(seed) = self.rng_seed {
            config.rng_seed = seed;
        } else {
            config.rng_seed = seed_from_time();
        }
        // The cookie /__getcookie sets must reach the handshake: keep it in a jar even if none was given.
        let jar = match (self.jar, &self.getcookie) {
            (None, Some(_)) => Some(Arc::default()),
            (jar, _) => jar,
        };
        let options = TransportOptions {
            handshake_url: handshake,
            http_url,
            eio: self.eio,
            polling,
            upgrade,
            initial_headers,
            jar,
            getcookie: self.getcookie,
            max_message_size: self.max_message_size,
            read_buffer_size: self.read_buffer_size,
            http_timeout: self.connect_timeout,
            tls,
            root_certificates: self.root_certificates,
            proxy,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let driver = Driver::new(Connection::new(config), rx, tx.downgrade(), shared.clone(), Arc::new(options));
        runtime.spawn(driver.run());
        Ok(SailsSocket { handle: Arc::new(Handle { commands: tx, shared }) })
    }

    /// Builds the socket and connects; resolves once the Socket.IO connection is up.
    pub async fn connect(self) -> Result<SailsSocket, Error> {
        let socket = self.build()?;
        socket.connect().await?;
        Ok(socket)
    }
}

/// The rustls configuration for extra root certificates (`None`: tokio-tungstenite's default, the
/// webpki roots).
fn tls_config(extra_roots: &[Vec<u8>]) -> Result<Option<Arc<rustls::ClientConfig>>, Error> {
    if extra_roots.is_empty() {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in extra_roots {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| Error::InvalidRequest(format!("invalid root certificate: {e}")))?;
    }
    Ok(Some(Arc::new(client_tls(roots))))
}

/// A rustls client configuration trusting the webpki roots and `extra`.
fn client_tls(mut extra: rustls::RootCertStore) -> rustls::ClientConfig {
    extra.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder().with_root_certificates(extra).with_no_client_auth()
}

fn seed_from_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}
