//! `sails-io-stub`: a compact server that speaks the Sails socket protocol like Sails 1.5 with
//! `sails-hook-sockets` 3.0.2, for tests and development.
//!
//! Actions are written once as axum handlers in one [`axum::Router`]. HTTP requests reach them directly;
//! socket request events (`get`, `post`, … with `{method, headers, data, url}`) are turned into
//! `http::Request`s that go through the very same router (the *virtual request* pattern of Sails), and
//! the responses come back as JWRs (`{body, headers, statusCode}`) on the socket.io ack.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = sails_io_stub::Builder::new()
//!     .port(0)
//!     .app(sails_io_stub::demo::router())
//!     .start()
//!     .await?;
//! println!("listening on {}", server.url());
//! # Ok(()) }
//! ```

pub mod config;
pub mod demo;
mod gate;
pub mod inspect;
pub mod mixed;
pub mod pubsub;
pub mod res;
pub mod session;
pub mod sockets;
pub mod vreq;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::Router;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use socketioxide::handler::ConnectHandler as _;
use socketioxide::{SocketIo, TransportType};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Packets socketioxide may queue per connection before `emit`/ack fails. Its default (128) silently lost
/// replies when a client pipelined a few hundred requests on one socket; real Sails (socket.io 2) buffers
/// without a bound. The queue is a tokio channel that allocates as it fills, so a high bound costs nothing
/// until it is used.
const MAX_BUFFERED_PACKETS: usize = 1 << 16;

pub use config::{BeforeConnect, Config, Rejection, Transport};
pub use mixed::Mixed;
pub use res::{Res, SailsReq, ServerError, SocketRequest};
pub use session::{Session, SessionStore};
pub use sockets::Sockets;
pub use vreq::{Jwr, JwrBody};

/// The tokio runtime `sails-io-stub --threads N` serves on: everything on one thread for `1` (as a node
/// process serves Sails; the lowest latency per request), a worker per CPU core for `0`, else `N` workers.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
}

/// `GET /__getcookie` (sails-hook-sockets' shadow route with `grant3rdPartyCookie`).
async fn getcookie() -> Response {
    Res::new().set("Content-Type", "application/javascript").send("_sailsIoJSConnect();")
}

/// The layers every request goes through before the app's routes, HTTP and virtual alike, as one
/// service: the `Sockets` extension, the session middleware, a panicking action turned into a 500 (like
/// an uncaught error in a Sails action), then [`sails_routing`]. One service instead of a stack of
/// `from_fn` layers: each layer on a `Router` boxes and clones its inner service and boxes its future on
/// every request. Virtual requests call [`Stack::serve`] directly (see `vreq::build_request`).
#[derive(Clone)]
pub(crate) struct Stack {
    routes: Router,
    store: SessionStore,
    sockets: Sockets,
}

impl tower::Service<Request> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.serve(req).await) })
    }
}

impl Stack {
    /// Answer one request (what the outer `Router` does through its fallback, minus the `OriginalUri`
    /// extension, which the caller inserts).
    pub(crate) async fn serve(&self, mut req: Request) -> Response {
        req.extensions_mut().insert(self.sockets.clone());
        let routes = self.routes.clone();
        session::with_session(&self.store, req, |req| async move {
            match AssertUnwindSafe(sails_routing(req, routes)).catch_unwind().await {
                Ok(res) => res,
                Err(_) => ServerError("The action panicked".into()).into_response(),
            }
        })
        .await
    }
}

/// Express-router behaviour around axum's: non-strict trailing slash (`/echo/` matches `/echo`), an
/// unmatched method falls through to `404 Not Found`, and `OPTIONS` on any path without an `OPTIONS`
/// handler (known route or not: Sails' catch-all routes match every path) gets the automatic `200` with
/// `Allow` listing the CRUD verbs.
async fn sails_routing(mut req: Request, mut routes: Router) -> Response {
    if req.extensions().get::<res::VirtualUrl>().is_none() {
        let original = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        req.extensions_mut().insert(res::VirtualUrl(original));
    }
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    let is_options = req.method() == http::Method::OPTIONS;
    let is_socket = req.extensions().get::<SocketRequest>().is_some();
    let mut res = match tower::Service::call(&mut routes, req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    let unrouted = res.status() == http::StatusCode::METHOD_NOT_ALLOWED || res.extensions().get::<Unrouted>().is_some();
    if is_options && unrouted {
        return res::auto_options(is_socket);
    }
    if res.status() == http::StatusCode::METHOD_NOT_ALLOWED {
        return res::not_found();
    }
    // Express' `res.send` drops the body and the entity headers of a 204 or 304 over HTTP (a socket JWR
    // keeps the body the action gave).
    if !is_socket && matches!(res.status().as_u16(), 204 | 304) {
        for h in [http::header::CONTENT_TYPE, http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING] {
            res.headers_mut().remove(h);
        }
        *res.body_mut() = axum::body::Body::empty();
    }
    res
}

/// Marks the `404 Not Found` of the fallback (no route matched the path).
#[derive(Clone, Copy, Debug)]
struct Unrouted;

async fn unrouted() -> Response {
    let mut res = res::not_found();
    res.extensions_mut().insert(Unrouted);
    res
}

/// Builds a server from a [`Config`] and an app [`Router`].
#[derive(Default)]
pub struct Builder {
    config: Config,
    app: Option<Router>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with Sails defaults and an empty app (every route answers `404 Not Found`).
    pub fn new() -> Self {
        Builder::default()
    }

    /// Replace the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The app's actions. `GET /__getcookie` and the `Not Found` fallback are added by the server.
    pub fn app(mut self, app: Router) -> Self {
        self.app = Some(app);
        self
    }

    /// Bind address.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.config.host = host.into();
        self
    }

    /// Bind port (`0` = any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Socket.IO path (default `/socket.io`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// Engine.IO ping interval.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.config.ping_interval = d;
        self
    }

    /// Engine.IO ping timeout.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.config.ping_timeout = d;
        self
    }

    /// `maxHttpBufferSize` in bytes.
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// Accepted transports.
    pub fn transports(mut self, t: &[Transport]) -> Self {
        self.config.transports = t.to_vec();
        self
    }

    /// `onlyAllowOrigins`.
    pub fn only_allow_origins(mut self, origins: Vec<String>) -> Self {
        self.config.only_allow_origins = Some(origins);
        self
    }

    /// With `only_allow_origins`, reject handshakes without an `Origin` header (real Sails does).
    pub fn reject_missing_origin(mut self, yes: bool) -> Self {
        self.config.reject_missing_origin = yes;
        self
    }

    /// `beforeConnect`.
    pub fn before_connect(
        mut self,
        f: impl Fn(&http::request::Parts) -> Result<(), Rejection> + Send + Sync + 'static,
    ) -> Self {
        self.config.before_connect = Some(Arc::new(f));
        self
    }

    /// `sendStatusCode`.
    pub fn send_status_code(mut self, yes: bool) -> Self {
        self.config.send_status_code = yes;
        self
    }

    /// `sendResponseHeaders`.
    pub fn send_response_headers(mut self, yes: bool) -> Self {
        self.config.send_response_headers = yes;
        self
    }

    /// Session cookie signing secret.
    pub fn session_secret(mut self, secret: impl Into<String>) -> Self {
        self.config.session_secret = secret.into();
        self
    }

    /// Assemble the HTTP service (engine.io gate → socket.io layer → app) without binding.
    pub fn build(self) -> Built {
        let config = Arc::new(self.config);
        let store = SessionStore::new(&config.session_secret);
        let stack_cell: Arc<OnceLock<Stack>> = Arc::new(OnceLock::new());
        let ctx = vreq::Ctx { stack: stack_cell.clone(), config: config.clone(), store: store.clone() };
        let max = config.max_payload;
        let max_usize = usize::try_from(max).unwrap_or(usize::MAX);
        let ws = config.transports.contains(&Transport::Websocket);
        let polling = config.transports.contains(&Transport::Polling);
        let builder = SocketIo::builder()
            .req_path(config.engine_path())
            .ping_interval(config.ping_interval)
            .ping_timeout(config.ping_timeout)
            .max_payload(max)
            .max_buffer_size(MAX_BUFFERED_PACKETS)
            .ws_max_message_size(max_usize)
            .ws_max_frame_size(max_usize)
            .with_state(ctx);
        let builder = match (ws, polling) {
            (true, true) | (false, false) => builder.transports([TransportType::Polling, TransportType::Websocket]),
            (true, false) => builder.transports([TransportType::Websocket]),
            (false, true) => builder.transports([TransportType::Polling]),
        };
        let (layer, io) = builder.build_layer();
        io.ns("/", vreq::on_connect.with(vreq::setup_socket));
        let sockets = Sockets::new(io.clone());

        // `with_state(())` turns every handler into its route now; a `Router<()>` called as a service
        // without it converts (clones and boxes) the matched handler again on every request.
        let routes =
            self.app.unwrap_or_default().route("/__getcookie", get(getcookie)).fallback(unrouted).with_state(());
        let stack = Stack { routes, store: store.clone(), sockets: sockets.clone() };
        let _ = stack_cell.set(stack.clone());
        let app = Router::new().fallback_service(stack);
        let gate = gate::Gate { engine_path: config.engine_path(), config: config.clone() };
        let http = app.layer(layer).layer(middleware::from_fn_with_state(gate, gate::verify));
        Built { http, sockets, store, config }
    }

    /// Build, bind `host:port` and serve in a background task.
    pub async fn start(self) -> std::io::Result<RunningServer> {
        self.build().start().await
    }
}

/// An assembled server, not yet bound.
pub struct Built {
    /// The full HTTP service (mount it yourself or call [`Built::start`]).
    pub http: Router,
    /// `sails.sockets` for this server.
    pub sockets: Sockets,
    /// The session store.
    pub store: SessionStore,
    /// The configuration in force.
    pub config: Arc<Config>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Built {
    /// Bind and serve in a background task.
    pub async fn start(self) -> std::io::Result<RunningServer> {
        let listener = tokio::net::TcpListener::bind((self.config.host.as_str(), self.config.port)).await?;
        let addr = listener.local_addr()?;
        // Nagle's algorithm off on every connection, as the `ws` server under Sails does: a reply goes out
        // when it is written, not when the previous segment is acknowledged.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let (tx, rx) = oneshot::channel::<()>();
        let http = self.http;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, http)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningServer { addr, sockets: self.sockets, store: self.store, shutdown: Some(tx), task })
    }
}

/// A server serving in the background.
pub struct RunningServer {
    addr: SocketAddr,
    /// `sails.sockets` for this server.
    pub sockets: Sockets,
    /// The session store.
    pub store: SessionStore,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The bound address (with the real port when `0` was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections and close existing sockets.
    pub async fn shutdown(mut self) {
        self.sockets.io().close().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Wait until the server task ends (it runs until [`RunningServer::shutdown`] or an error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}
