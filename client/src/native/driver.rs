//! The tokio task that drives one [`Connection`]: it only moves frames and timers.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use http::header::{HeaderName, HeaderValue, COOKIE};
use reqwest::cookie::CookieStore;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;
use web_time::Instant;

use super::events::{AckResponder, ServerEvent, SocketEvent};
use super::socket::Shared;
use crate::connection::{Connection, Event, RequestId, Transmit};
use crate::error::Error;
use crate::protocol::engine_io::Frame;
use crate::protocol::payload::Payload;
use crate::protocol::sails::{Jwr, Request};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the handles ask of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Request(Request, oneshot::Sender<Result<Jwr, Error>>),
    Connect(oneshot::Sender<Result<(), Error>>),
    Disconnect(oneshot::Sender<()>),
    Ack(u64, Vec<Payload>),
    Emit(String, Vec<Payload>, oneshot::Sender<bool>),
}

/// Everything needed to open a transport.
#[derive(Debug)]
pub(crate) struct TransportOptions {
    /// The WebSocket handshake URL.
    pub handshake_url: Url,
    /// The server's HTTP base URL (for cookies and `/__getcookie`).
    pub http_url: Url,
    /// Headers sent with the WebSocket handshake.
    pub initial_headers: Vec<(HeaderName, HeaderValue)>,
    /// Cookies shared with reqwest.
    pub jar: Option<Arc<reqwest::cookie::Jar>>,
    /// The path to GET before each connection to obtain the session cookie.
    pub getcookie: Option<String>,
    /// Largest incoming WebSocket message.
    pub max_message_size: usize,
    /// Timeout of the `/__getcookie` request.
    pub getcookie_timeout: std::time::Duration,
    /// TLS settings when extra root certificates are trusted (`None`: the webpki roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The extra root certificates (DER), for the `/__getcookie` client.
    pub root_certificates: Vec<Vec<u8>>,
}

pub(crate) struct Driver {
    conn: Connection,
    commands: mpsc::UnboundedReceiver<Command>,
    weak_tx: mpsc::WeakUnboundedSender<Command>,
    shared: Arc<Shared>,
    options: Arc<TransportOptions>,
    pending: HashMap<RequestId, oneshot::Sender<Result<Jwr, Error>>>,
    connect_waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    sink: Option<SplitSink<Ws, Message>>,
    stream: Option<SplitStream<Ws>>,
    opening: Option<tokio::task::JoinHandle<Result<Ws, Error>>>,
}

impl Driver {
    pub(crate) fn new(
        conn: Connection,
        commands: mpsc::UnboundedReceiver<Command>,
        weak_tx: mpsc::WeakUnboundedSender<Command>,
        shared: Arc<Shared>,
        options: Arc<TransportOptions>,
    ) -> Self {
        Driver {
            conn,
            commands,
            weak_tx,
            shared,
            options,
            pending: HashMap::new(),
            connect_waiters: Vec::new(),
            sink: None,
            stream: None,
            opening: None,
        }
    }

    /// Runs until every handle is dropped, then closes the connection.
    pub(crate) async fn run(mut self) {
        loop {
            self.flush().await;
            let deadline = self.conn.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                opened = async { self.opening.as_mut().expect("guarded").await }, if self.opening.is_some() => {
                    self.opening = None;
                    match opened {
                        Ok(Ok(ws)) => {
                            tracing::debug!("transport open");
                            let (sink, stream) = ws.split();
                            self.sink = Some(sink);
                            self.stream = Some(stream);
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("transport failed to open: {e}");
                            self.conn.transport_closed(Some(e), Instant::now());
                        }
                        Err(join) => self.conn.transport_closed(Some(Error::Transport(join.to_string())), Instant::now()),
                    }
                }
                message = async { self.stream.as_mut().expect("guarded").next().await }, if self.stream.is_some() => {
                    self.handle_message(message);
                }
                () = sleep_until(deadline), if deadline.is_some() => self.conn.handle_timeout(Instant::now()),
            }
        }
        tracing::debug!("last handle dropped: closing the socket");
        self.conn.close();
        self.flush().await;
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Request(request, reply) => match self.conn.request(request, now) {
                Ok(id) => {
                    self.pending.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Connect(reply) => {
                if self.conn.is_connected() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.connect_waiters.push(reply);
                    self.conn.connect(now);
                }
            }
            Command::Disconnect(reply) => {
                self.conn.disconnect();
                // Publish the new status before the caller wakes up: `is_connected()` right after
                // `disconnect().await` must be false (the Disconnected event is dispatched later).
                self.shared.update_status(&self.conn);
                let _ = reply.send(());
            }
            Command::Ack(id, args) => self.conn.ack(id, args),
            Command::Emit(name, args, reply) => {
                let _ = reply.send(self.conn.emit(&name, args));
            }
        }
    }

    fn handle_message(&mut self, message: Option<Result<Message, tungstenite::Error>>) {
        let now = Instant::now();
        let frame = match message {
            Some(Ok(Message::Text(text))) => Frame::Text(text.as_str().to_owned()),
            Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(_))) | None => {
                self.drop_transport();
                return self.conn.transport_closed(None, now);
            }
            // A TCP close without a WebSocket close frame is what a crashed or restarting server does;
            // engine.io-client reports it as "transport close", like a clean close.
            Some(Err(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)))
            | Some(Err(tungstenite::Error::ConnectionClosed)) => {
                self.drop_transport();
                return self.conn.transport_closed(None, now);
            }
            Some(Err(e)) => {
                self.drop_transport();
                return self.conn.transport_closed(Some(Error::Transport(e.to_string())), now);
            }
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            match &frame {
                Frame::Text(t) => tracing::debug!("<- {t}"),
                Frame::Binary(b) => tracing::debug!("<- <{} bytes>", b.len()),
            }
        }
        self.conn.handle_frame(frame, now);
    }

    fn drop_transport(&mut self) {
        self.sink = None;
        self.stream = None;
        if let Some(task) = self.opening.take() {
            task.abort();
        }
    }

    /// Carries out the connection's transmits and hands its events out, until neither is left (handling
    /// an event can produce output, e.g. stopping a reconnection).
    async fn flush(&mut self) {
        loop {
            let mut progressed = self.write_transmits().await;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                self.dispatch(event);
            }
            if !progressed {
                break;
            }
        }
    }

    /// Writes every pending transmit; true if there was any.
    async fn write_transmits(&mut self) -> bool {
        let mut any = false;
        let mut wrote = false;
        while let Some(transmit) = self.conn.poll_transmit() {
            any = true;
            match transmit {
                Transmit::Open => {
                    self.drop_transport();
                    let options = self.options.clone();
                    self.opening = Some(tokio::spawn(open_transport(options)));
                }
                Transmit::Frame(frame) => {
                    let Some(sink) = self.sink.as_mut() else { continue };
                    let message = match frame {
                        Frame::Text(t) => {
                            tracing::debug!("-> {t}");
                            Message::text(t)
                        }
                        Frame::Binary(b) => {
                            tracing::debug!("-> <{} bytes>", b.len());
                            Message::binary(b)
                        }
                    };
                    match sink.feed(message).await {
                        Ok(()) => wrote = true,
                        Err(e) => self.write_failed(e),
                    }
                }
                Transmit::Close => {
                    if let Some(mut sink) = self.sink.take() {
                        let _ = sink.send(Message::Close(None)).await;
                    }
                    self.drop_transport();
                }
            }
        }
        if wrote {
            if let Some(Err(e)) = match self.sink.as_mut() {
                Some(sink) => Some(sink.flush().await),
                None => None,
            } {
                self.write_failed(e);
            }
        }
        any
    }

    fn write_failed(&mut self, e: tungstenite::Error) {
        tracing::debug!("write failed: {e}");
        self.drop_transport();
        self.conn.transport_closed(Some(Error::Transport(e.to_string())), Instant::now());
    }

    fn dispatch(&mut self, event: Event) {
        self.shared.update_status(&self.conn);
        let socket_event = match event {
            Event::Response { id, result } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(result);
                }
                return;
            }
            Event::Connected { sid } => {
                for w in self.connect_waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
                SocketEvent::Connected { sid }
            }
            Event::ConnectError { error } => {
                if !self.connect_waiters.is_empty() {
                    // An explicit connect() fails fast and stops retrying.
                    for w in self.connect_waiters.drain(..) {
                        let _ = w.send(Err(error.clone()));
                    }
                    if self.conn.is_reconnect_pending() {
                        self.conn.disconnect();
                    }
                }
                SocketEvent::ConnectError { error }
            }
            Event::Disconnected { reason } => SocketEvent::Disconnected { reason },
            Event::Reconnecting { attempt } => SocketEvent::Reconnecting { attempt },
            Event::Reconnected { attempt } => SocketEvent::Reconnected { attempt },
            Event::ReconnectFailed => SocketEvent::ReconnectFailed,
            Event::ServerEvent { name, args, ack } => {
                let responder =
                    ack.map(|id| AckResponder { id, tx: self.weak_tx.clone(), used: Arc::new(AtomicBool::new(false)) });
                SocketEvent::Server(ServerEvent::new(name, args, responder))
            }
        };
        self.shared.emit(&socket_event);
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Opens the WebSocket: optional `/__getcookie`, then the handshake with cookies and initial headers.
async fn open_transport(options: Arc<TransportOptions>) -> Result<Ws, Error> {
    if let Some(path) = &options.getcookie {
        fetch_cookie(&options, path).await?;
    }
    let mut request = options
        .handshake_url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::InvalidRequest(format!("handshake request: {e}")))?;
    for (name, value) in &options.initial_headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    if !request.headers().contains_key(COOKIE) {
        if let Some(cookie) = options.jar.as_ref().and_then(|jar| jar.cookies(&options.http_url)) {
            request.headers_mut().insert(COOKIE, cookie);
        }
    }
    tracing::debug!(url = %options.handshake_url, "opening WebSocket");
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.max_message_size))
        .max_frame_size(Some(options.max_message_size));
    let connector = options.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    match tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(Error::Handshake {
            status: response.status().as_u16(),
            body: response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned(),
        }),
        Err(e) => Err(Error::Transport(e.to_string())),
    }
}

/// `GET <server><path>` with the shared cookie jar, so the session cookie it sets goes on the handshake.
async fn fetch_cookie(options: &TransportOptions, path: &str) -> Result<(), Error> {
    let jar = options.jar.clone().unwrap_or_default();
    let mut client = reqwest::Client::builder().cookie_provider(jar).timeout(options.getcookie_timeout);
    for der in &options.root_certificates {
        let cert = reqwest::Certificate::from_der(der)
            .map_err(|e| Error::InvalidRequest(format!("invalid root certificate: {e}")))?;
        client = client.add_root_certificate(cert);
    }
    let client = client.build().map_err(|e| Error::Transport(format!("HTTP client: {e}")))?;
    let url = options.http_url.join(path).map_err(|e| Error::InvalidRequest(format!("cookie path {path:?}: {e}")))?;
    tracing::debug!(%url, "fetching the session cookie");
    let response = client.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            Error::Timeout("GET /__getcookie")
        } else {
            Error::Transport(format!("GET {path}: {e}"))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(Error::Handshake { status: status.as_u16(), body });
    }
    Ok(())
}
