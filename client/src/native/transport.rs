//! The transports under a [`Connection`](crate::Connection): a WebSocket (tokio-tungstenite) or HTTP
//! long-polling (reqwest). Both carry the same Engine.IO frames, so the connection cannot tell them apart,
//! and a polling transport may upgrade itself to a WebSocket under it (`engine_io::upgrade`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, COOKIE};
use reqwest::cookie::CookieStore;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::proxy::{connect_through, NetStream, Proxy};
use crate::error::Error;
use crate::protocol::engine_io::{self, upgrade, EioVersion, Frame, Packet, PacketData, PacketType};

type Ws = WebSocketStream<MaybeTlsStream<NetStream>>;

/// Everything needed to open a transport.
#[derive(Debug)]
pub(crate) struct TransportOptions {
    /// The WebSocket handshake URL (`ws[s]://…/socket.io/?…&transport=websocket`).
    pub handshake_url: Url,
    /// The server's HTTP base URL (for cookies and `/__getcookie`).
    pub http_url: Url,
    /// The protocol generation (framing of polling payloads).
    pub eio: EioVersion,
    /// Use HTTP long-polling instead of a WebSocket.
    pub polling: bool,
    /// With `polling`: upgrade to a WebSocket when the server offers it (engine.io-client's `upgrade`).
    pub upgrade: bool,
    /// Headers sent with the handshake (and, for polling, with every request).
    pub initial_headers: Vec<(HeaderName, HeaderValue)>,
    /// Cookies shared with reqwest.
    pub jar: Option<Arc<reqwest::cookie::Jar>>,
    /// The path to GET before each connection to obtain the session cookie.
    pub getcookie: Option<String>,
    /// Largest incoming WebSocket message.
    pub max_message_size: usize,
    /// Initial capacity of the WebSocket read buffer.
    pub read_buffer_size: usize,
    /// Timeout of the `/__getcookie` request and of the polling handshake.
    pub http_timeout: std::time::Duration,
    /// TLS settings when extra root certificates are trusted (`None`: the webpki roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The extra root certificates (DER), for the HTTP requests.
    pub root_certificates: Vec<Vec<u8>>,
    /// A proxy for every connection ([`SailsSocketBuilder::proxy`](super::SailsSocketBuilder::proxy)).
    pub proxy: Option<Proxy>,
}

/// What reading a transport gave.
pub(crate) enum Incoming {
    /// A frame for the connection.
    Frame(Frame),
    /// The transport closed, cleanly (`None`) or not.
    Closed(Option<Error>),
    /// Nothing for the connection (a WebSocket ping, pong or raw frame).
    Nothing,
}

/// An open transport.
pub(crate) enum Transport {
    /// One Engine.IO packet per WebSocket message.
    WebSocket { sink: SplitSink<Ws, Message>, stream: SplitStream<Ws> },
    /// HTTP long-polling.
    Polling(Polling),
}

impl Transport {
    /// Opens the transport the options ask for: optional `/__getcookie`, then the handshake with cookies
    /// and initial headers.
    pub(crate) async fn open(options: Arc<TransportOptions>) -> Result<Transport, Error> {
        // Through a proxy, the proxy resolves the server's name.
        let addrs = match options.proxy {
            Some(_) => Vec::new(),
            None => resolve(&options.http_url).await?,
        };
        if let Some(path) = &options.getcookie {
            fetch_cookie(&options, &addrs, path).await?;
        }
        if options.polling {
            return Polling::open(&options, &addrs).await.map(Transport::Polling);
        }
        let ws = open_websocket(&options, &addrs, &options.handshake_url).await?;
        let (sink, stream) = ws.split();
        Ok(Transport::WebSocket { sink, stream })
    }

    /// Which kind of transport this is now.
    pub(crate) fn kind(&self) -> super::socket::Transport {
        match self {
            Transport::WebSocket { .. } => super::socket::Transport::Websocket,
            Transport::Polling(_) => super::socket::Transport::Polling,
        }
    }

    /// Completes an upgrade whose probe was answered and whose polling has paused: sends the upgrade
    /// packet and the writes held meanwhile on the WebSocket, which becomes this transport. True if it
    /// did. Not cancel-safe: the driver awaits it outside `select!`.
    pub(crate) async fn finish_upgrade(&mut self) -> Result<bool, Error> {
        let Transport::Polling(polling) = self else { return Ok(false) };
        if !matches!(polling.upgrade, Upgrade::Ready(_)) {
            return Ok(false);
        }
        let Upgrade::Ready(ws) = std::mem::replace(&mut polling.upgrade, Upgrade::Off) else {
            unreachable!("checked above")
        };
        let (mut sink, stream) = (*ws).split();
        let held = std::mem::take(&mut polling.outgoing);
        tracing::debug!(held = held.len(), "polling paused: upgrading to the WebSocket");
        for packet in std::iter::once(upgrade::complete()).chain(held) {
            let message = match engine_io::encode_frame_owned(packet, polling.eio)? {
                Frame::Text(t) => Message::text(t),
                Frame::Binary(b) => Message::binary(b),
            };
            sink.feed(message).await.map_err(|e| Error::Transport(format!("upgrade: {e}")))?;
        }
        sink.flush().await.map_err(|e| Error::Transport(format!("upgrade: {e}")))?;
        *self = Transport::WebSocket { sink, stream };
        Ok(true)
    }

    /// The next thing the peer sent.
    pub(crate) async fn next(&mut self) -> Incoming {
        match self {
            Transport::WebSocket { stream, .. } => match stream.next().await {
                Some(Ok(Message::Text(text))) => Incoming::Frame(Frame::Text(text.as_str().to_owned())),
                Some(Ok(Message::Binary(bytes))) => Incoming::Frame(Frame::Binary(bytes.to_vec())),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Incoming::Nothing,
                Some(Ok(Message::Close(_))) | None => Incoming::Closed(None),
                // A TCP close without a WebSocket close frame is what a crashed or restarting server
                // does; engine.io-client reports it as "transport close", like a clean close.
                Some(Err(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)))
                | Some(Err(tungstenite::Error::ConnectionClosed)) => Incoming::Closed(None),
                Some(Err(e)) => Incoming::Closed(Some(Error::Transport(e.to_string()))),
            },
            Transport::Polling(polling) => polling.next().await,
        }
    }

    /// Queues a frame; [`flush`](Self::flush) sends what is queued.
    pub(crate) async fn feed(&mut self, frame: Frame) -> Result<(), Error> {
        match self {
            Transport::WebSocket { sink, .. } => {
                let message = match frame {
                    Frame::Text(t) => Message::text(t),
                    Frame::Binary(b) => Message::binary(b),
                };
                sink.feed(message).await.map_err(|e| Error::Transport(e.to_string()))
            }
            Transport::Polling(polling) => {
                let packet = engine_io::decode_frame(&frame, polling.eio)?;
                polling.outgoing.push(packet);
                Ok(())
            }
        }
    }

    /// Sends everything fed so far.
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        match self {
            Transport::WebSocket { sink, .. } => sink.flush().await.map_err(|e| Error::Transport(e.to_string())),
            Transport::Polling(polling) => polling.post().await,
        }
    }

    /// Closes the transport (best effort: the peer may already be gone).
    pub(crate) async fn close(self) {
        match self {
            Transport::WebSocket { mut sink, .. } => {
                let _ = sink.send(Message::Close(None)).await;
            }
            Transport::Polling(mut polling) => {
                // An upgrade under way is abandoned: the close goes out on polling, now.
                polling.cancel_upgrade();
                polling.outgoing.push(Packet::empty(PacketType::Close));
                let _ = polling.post().await;
            }
        }
    }
}

/// Opens a WebSocket to `url` (the handshake URL, with `sid` for an upgrade) with the handshake headers,
/// the message limits and the TLS settings of `options`.
async fn open_websocket(options: &TransportOptions, addrs: &[SocketAddr], url: &Url) -> Result<Ws, Error> {
    let mut request =
        url.as_str().into_client_request().map_err(|e| Error::InvalidRequest(format!("handshake request: {e}")))?;
    for (name, value) in handshake_headers(options) {
        request.headers_mut().append(name, value);
    }
    tracing::debug!(%url, "opening WebSocket");
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.max_message_size))
        .max_frame_size(Some(options.max_message_size))
        .read_buffer_size(options.read_buffer_size);
    let connector = options.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    let tcp = match &options.proxy {
        Some(proxy) => connect_through(proxy, url).await?,
        None => NetStream::Tcp(connect_tcp(addrs).await?),
    };
    match tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(config), connector).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(Error::Handshake {
            status: response.status().as_u16(),
            body: response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned(),
        }),
        Err(tungstenite::Error::Tls(e)) => Err(Error::Tls(e.to_string())),
        Err(e) => Err(classify(&e).unwrap_or_else(|| Error::Transport(e.to_string()))),
    }
}

/// The upgrade's probe: opens a WebSocket for session `sid`, sends `2probe` and waits for `3probe`,
/// within the connect timeout.
async fn probe_websocket(options: Arc<TransportOptions>, addrs: Vec<SocketAddr>, sid: String) -> Result<Ws, Error> {
    let probe = async {
        let mut url = options.handshake_url.clone();
        url.query_pairs_mut().append_pair("sid", &sid);
        let mut ws = open_websocket(&options, &addrs, &url).await?;
        let Frame::Text(probe) = engine_io::encode_frame_owned(upgrade::probe(), options.eio)? else {
            unreachable!("a text packet")
        };
        ws.send(Message::text(probe)).await.map_err(|e| Error::Transport(e.to_string()))?;
        loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(other)) => {
                    return Err(Error::Protocol(crate::error::ProtocolError::eio(format!(
                        "upgrade probe answered with a {} message",
                        if other.is_binary() { "binary" } else { "close" }
                    ))))
                }
                Some(Err(e)) => return Err(Error::Transport(e.to_string())),
                None => return Err(Error::Transport("the WebSocket closed during the upgrade probe".into())),
            };
            let packet = engine_io::decode_frame(&Frame::Text(text.as_str().to_owned()), options.eio)?;
            if upgrade::is_probe_answer(&packet) {
                return Ok(ws);
            }
            return Err(Error::Protocol(crate::error::ProtocolError::eio(format!(
                "upgrade probe answered with {}",
                crate::protocol::json::quoted(text.as_str())
            ))));
        }
    };
    tokio::time::timeout(options.http_timeout, probe).await.map_err(|_| Error::Timeout("WebSocket upgrade probe"))?
}

/// The initial headers plus, unless they set one, the jar's cookie for the server.
fn handshake_headers(options: &TransportOptions) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = options.initial_headers.clone();
    if !headers.iter().any(|(name, _)| name == COOKIE) {
        if let Some(cookie) = options.jar.as_ref().and_then(|jar| jar.cookies(&options.http_url)) {
            headers.push((COOKIE, cookie));
        }
    }
    headers
}

/// The HTTP client of `/__getcookie` and long-polling: the shared cookie jar, the extra roots, and the
/// addresses [`resolve`] found for the server's host (no second DNS lookup).
fn http_client(
    options: &TransportOptions,
    addrs: &[SocketAddr],
    timeout: Option<std::time::Duration>,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder();
    if let Some(jar) = options.jar.clone() {
        builder = builder.cookie_provider(jar);
    }
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(proxy) = &options.proxy {
        let proxy = reqwest::Proxy::all(proxy.url.as_str())
            .map_err(|e| Error::InvalidRequest(format!("proxy {}: {e}", proxy.authority())))?;
        builder = builder.proxy(proxy);
    } else {
        // Direct, as the WebSocket: not reqwest's default of reading proxies from the environment.
        builder = builder.no_proxy();
        if let Some(url::Host::Domain(host)) = options.http_url.host() {
            builder = builder.resolve_to_addrs(host, addrs);
        }
    }
    for der in &options.root_certificates {
        let cert = reqwest::Certificate::from_der(der)
            .map_err(|e| Error::InvalidRequest(format!("invalid root certificate: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| Error::Transport(format!("HTTP client: {e}")))
}

/// Resolves the server's host once per connection attempt, so that a DNS failure is [`Error::Dns`] and the
/// WebSocket and HTTP requests that follow use the same addresses.
pub(crate) async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, Error> {
    let port = url.port_or_known_default().ok_or_else(|| Error::InvalidRequest(format!("{url}: no port")))?;
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(vec![SocketAddr::from((ip, port))]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![SocketAddr::from((ip, port))]),
        Some(url::Host::Domain(host)) => {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host, port)).await.map_err(|e| Error::Dns(format!("{host}: {e}")))?.collect();
            if addrs.is_empty() {
                return Err(Error::Dns(format!("{host}: no address")));
            }
            Ok(addrs)
        }
        None => Err(Error::InvalidRequest(format!("{url}: no host"))),
    }
}

/// A TCP connection to the first of `addrs` that accepts one, with Nagle's algorithm off (one small frame
/// per request must not wait for the previous one's ACK).
pub(crate) async fn connect_tcp(addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(|e| Error::Transport(format!("set TCP_NODELAY: {e}")))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(format!("connect to {addr}: {e}")),
        }
    }
    Err(Error::Transport(last.unwrap_or_else(|| "no address to connect to".into())))
}

/// The typed error hidden in an error's source chain: a rustls error is [`Error::Tls`]. tokio-rustls and
/// hyper-rustls wrap it in an `io::Error`, sometimes inside another one, and `io::Error::source` skips the
/// wrapped error itself, so the wrapped errors are followed with `get_ref`.
pub(crate) fn classify(error: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut pending = vec![error];
    while let Some(e) = pending.pop() {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(Error::Tls(tls.to_string()));
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            pending.push(inner);
        }
        pending.extend(e.source());
    }
    None
}

/// `GET <server><path>` with the shared cookie jar (the builder always has one when `/__getcookie` is
/// on), so the session cookie it sets goes on the handshake.
async fn fetch_cookie(options: &TransportOptions, addrs: &[SocketAddr], path: &str) -> Result<(), Error> {
    let client = http_client(options, addrs, Some(options.http_timeout))?;
    let url = options.http_url.join(path).map_err(|e| Error::InvalidRequest(format!("cookie path {path:?}: {e}")))?;
    tracing::debug!(%url, "fetching the session cookie");
    let response = client.get(url).send().await.map_err(|e| proxied_http_error(options, e, "GET /__getcookie"))?;
    success(response, |status, body| Error::Handshake { status, body }).await.map(drop)
}

/// The response if its status is a success, else the error `reject` makes of the status and body.
async fn success(
    response: reqwest::Response,
    reject: impl FnOnce(u16, String) -> Error,
) -> Result<reqwest::Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(reject(status.as_u16(), body))
}

/// A failed HTTP request as the crate's error. reqwest's own message ("error sending request for url
/// …") hides why; the innermost cause (e.g. "Connection refused") is added to it.
fn http_error(e: reqwest::Error, what: &'static str) -> Error {
    if e.is_timeout() {
        return Error::Timeout(what);
    }
    classify(&e).unwrap_or_else(|| {
        let mut cause = std::error::Error::source(&e);
        while let Some(deeper) = cause.and_then(std::error::Error::source) {
            cause = Some(deeper);
        }
        match cause.map(ToString::to_string).filter(|c| !c.is_empty()) {
            Some(cause) => Error::Transport(format!("{what}: {e}: {cause}")),
            None => Error::Transport(format!("{what}: {e}")),
        }
    })
}

/// [`http_error`] for a request that went through the proxy: says which, since the message names the
/// server.
fn proxied_http_error(options: &TransportOptions, e: reqwest::Error, what: &'static str) -> Error {
    match (http_error(e, what), &options.proxy) {
        (Error::Transport(why), Some(proxy)) => {
            Error::Transport(format!("{why} (through proxy {})", proxy.authority()))
        }
        (other, _) => other,
    }
}

/// HTTP long-polling: a task keeps one GET open and hands the packets it returns to the connection; the
/// connection's frames go out as one POST per flush.
pub(crate) struct Polling {
    client: reqwest::Client,
    /// The polling URL with `sid`, without the cache-busting `t`.
    url: String,
    headers: HeaderMap,
    eio: EioVersion,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    outgoing: Vec<Packet>,
    poller: tokio::task::JoinHandle<()>,
    /// Tells the poller to send no further GET (the upgrade's pause).
    pause: Arc<AtomicBool>,
    upgrade: Upgrade,
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.poller.abort();
        self.cancel_upgrade();
    }
}

/// Where the upgrade to a WebSocket stands.
enum Upgrade {
    /// None wanted or offered, or the probe failed: the socket stays on polling.
    Off,
    /// A task opens the WebSocket for this session and probes it ([`probe_websocket`]).
    Probing(tokio::task::JoinHandle<Result<Ws, Error>>),
    /// The probe was answered: no new GET goes out and writes are held until the current GET returns.
    Pausing(Box<Ws>),
    /// Polling has paused: [`Transport::finish_upgrade`] moves the session to the WebSocket.
    Ready(Box<Ws>),
}

/// The polling URL for the handshake: the WebSocket one with an HTTP scheme and `transport=polling`.
fn polling_url(options: &TransportOptions) -> Result<String, Error> {
    let ws = options.handshake_url.as_str();
    let (scheme, rest) = ws.split_once("://").ok_or_else(|| Error::InvalidRequest(format!("bad URL {ws}")))?;
    let scheme = if scheme == "wss" { "https" } else { "http" };
    let rest = rest
        .strip_suffix("transport=websocket")
        .ok_or_else(|| Error::InvalidRequest(format!("unexpected handshake URL {ws}")))?;
    Ok(format!("{scheme}://{rest}transport=polling"))
}

impl Polling {
    async fn open(options: &Arc<TransportOptions>, addrs: &[SocketAddr]) -> Result<Polling, Error> {
        let eio = options.eio;
        let mut headers = HeaderMap::new();
        for (name, value) in handshake_headers(options) {
            headers.append(name, value);
        }
        // The long poll waits up to pingInterval for data: no overall timeout on the requests.
        let client = http_client(options, addrs, None)?;
        let base = polling_url(options)?;
        tracing::debug!(url = %base, "opening long-polling");
        let response = tokio::time::timeout(
            options.http_timeout,
            client.get(format!("{base}&t={}", cache_buster())).headers(headers.clone()).send(),
        )
        .await
        .map_err(|_| Error::Timeout("polling handshake"))?
        .map_err(|e| proxied_http_error(options, e, "polling handshake"))?;
        let response = success(response, |status, body| Error::Handshake { status, body }).await?;
        let packets = read_payload(response, eio).await?;
        let open = match packets.first() {
            Some(Packet { kind: PacketType::Open, data: PacketData::Text(json) }) => {
                engine_io::OpenPacket::parse(json)?
            }
            _ => {
                return Err(Error::Protocol(crate::error::ProtocolError::eio("polling handshake without open packet")))
            }
        };
        let url = format!("{base}&sid={}", open.sid);
        let (tx, incoming) = mpsc::unbounded_channel();
        for packet in packets {
            let _ = tx.send(Incoming::Frame(engine_io::encode_frame(&packet, eio)?));
        }
        let pause = Arc::new(AtomicBool::new(false));
        let poller = tokio::spawn(poll_loop(client.clone(), url.clone(), headers.clone(), eio, tx, pause.clone()));
        // As engine.io-client: the probe starts right after the handshake, while polling goes on.
        let upgrade = if options.upgrade && upgrade::offered(&open) {
            Upgrade::Probing(tokio::spawn(probe_websocket(options.clone(), addrs.to_vec(), open.sid)))
        } else {
            Upgrade::Off
        };
        Ok(Polling { client, url, headers, eio, incoming, outgoing: Vec::new(), poller, pause, upgrade })
    }

    /// Abandons the upgrade, closing its WebSocket.
    fn cancel_upgrade(&mut self) {
        if let Upgrade::Probing(task) = std::mem::replace(&mut self.upgrade, Upgrade::Off) {
            task.abort();
        }
    }

    /// The next thing the poller got, while the upgrade (if any) advances. Cancel-safe.
    async fn next(&mut self) -> Incoming {
        loop {
            match &mut self.upgrade {
                Upgrade::Off => return self.incoming.recv().await.unwrap_or(Incoming::Closed(None)),
                Upgrade::Probing(task) => {
                    let probed = tokio::select! {
                        biased;
                        incoming = self.incoming.recv() => return incoming.unwrap_or(Incoming::Closed(None)),
                        probed = task => probed,
                    };
                    // A probe task that panicked or was aborted fails the probe like any other error.
                    self.upgrade = match probed.unwrap_or_else(|join| Err(Error::Transport(join.to_string()))) {
                        Ok(ws) => {
                            tracing::debug!("upgrade probe answered: pausing polling");
                            self.pause.store(true, Ordering::Release);
                            Upgrade::Pausing(Box::new(ws))
                        }
                        Err(e) => {
                            tracing::debug!("no upgrade, staying on polling: {e}");
                            Upgrade::Off
                        }
                    };
                }
                Upgrade::Pausing(_) => match self.incoming.recv().await {
                    Some(incoming) => return incoming,
                    // The poller has stopped: everything it received has been handed out.
                    None => {
                        let Upgrade::Pausing(ws) = std::mem::replace(&mut self.upgrade, Upgrade::Off) else {
                            unreachable!("matched above")
                        };
                        self.upgrade = Upgrade::Ready(ws);
                        return Incoming::Nothing;
                    }
                },
                // Nothing more comes from polling; the driver finishes the upgrade at its next flush.
                Upgrade::Ready(_) => std::future::pending::<()>().await,
            }
        }
    }

    /// POSTs the queued packets as one payload (or holds them while an upgrade pauses polling).
    async fn post(&mut self) -> Result<(), Error> {
        if self.outgoing.is_empty() || matches!(self.upgrade, Upgrade::Pausing(_) | Upgrade::Ready(_)) {
            return Ok(());
        }
        let packets = std::mem::take(&mut self.outgoing);
        let has_binary = packets.iter().any(|p| matches!(p.data, PacketData::Binary(_)));
        let (body, content_type) = if self.eio == EioVersion::V3 && has_binary {
            (engine_io::encode_payload_v3_binary(&packets), "application/octet-stream")
        } else {
            (engine_io::encode_payload(&packets, self.eio)?.into_bytes(), "text/plain;charset=UTF-8")
        };
        let response = self
            .client
            .post(format!("{}&t={}", self.url, cache_buster()))
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| http_error(e, "polling POST"))?;
        success(response, |status, body| Error::Transport(format!("polling POST answered HTTP {status}: {body}")))
            .await
            .map(drop)
    }
}

/// Keeps one GET open at a time and forwards what each returns, until an error, the receiver is gone, or
/// `pause` is set (checked before each GET; the channel then closes after the last GET's packets).
async fn poll_loop(
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    eio: EioVersion,
    tx: mpsc::UnboundedSender<Incoming>,
    pause: Arc<AtomicBool>,
) {
    while !pause.load(Ordering::Acquire) {
        let result = async {
            let response = client
                .get(format!("{url}&t={}", cache_buster()))
                .headers(headers.clone())
                .send()
                .await
                .map_err(|e| http_error(e, "poll"))?;
            let response =
                success(response, |status, body| Error::Transport(format!("poll answered HTTP {status}: {body}")))
                    .await?;
            read_payload(response, eio).await
        }
        .await;
        match result {
            Ok(packets) => {
                let closing = packets.iter().any(|p| p.kind == PacketType::Close);
                for packet in packets {
                    let frame = match engine_io::encode_frame(&packet, eio) {
                        Ok(frame) => Incoming::Frame(frame),
                        Err(e) => Incoming::Closed(Some(e.into())),
                    };
                    if tx.send(frame).is_err() {
                        return;
                    }
                }
                if closing {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Incoming::Closed(Some(e)));
                return;
            }
        }
    }
}

/// Decodes a polling response body: the v3 binary payload when the server says `application/octet-stream`,
/// the text payload otherwise.
async fn read_payload(response: reqwest::Response, eio: EioVersion) -> Result<Vec<Packet>, Error> {
    let binary = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    let body = response.bytes().await.map_err(|e| http_error(e, "poll body"))?;
    if binary && eio == EioVersion::V3 {
        return Ok(engine_io::decode_payload_v3_binary(&body)?);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| Error::Protocol(crate::error::ProtocolError::eio("polling payload is not UTF-8")))?;
    Ok(engine_io::decode_payload(text, eio)?)
}

/// A value for the `t` query parameter, which keeps caches from answering a poll.
fn cache_buster() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
