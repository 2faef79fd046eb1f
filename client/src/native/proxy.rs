//! Proxies: the kinds the client goes through (HTTP `CONNECT`, SOCKS5), checking a proxy URL, and opening
//! the WebSocket's TCP connection through one. The HTTP requests (`/__getcookie`, long-polling) use
//! reqwest's own support of the same proxies.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use http::header::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use url::Url;

use super::transport::{classify, connect_tcp, resolve};
use crate::error::Error;

/// A proxy: the WebSocket goes through it with HTTP's `CONNECT` or SOCKS5's, the HTTP requests with
/// reqwest's proxy support (which speaks both).
#[derive(Debug)]
pub(crate) struct Proxy {
    /// `http://`, `https://`, `socks5://` or `socks5h://`, `[user:password@]host[:port]`.
    pub url: Url,
    /// How the WebSocket's connection goes through it.
    pub kind: ProxyKind,
}

/// The kinds of [`Proxy`].
#[derive(Debug)]
pub(crate) enum ProxyKind {
    /// An HTTP proxy: a `CONNECT` tunnel, with `Proxy-Authorization: Basic …` from the URL's user and
    /// password if it has them. `tls` (`https://`): the proxy is reached over TLS, with this configuration.
    Http { authorization: Option<HeaderValue>, tls: Option<Arc<rustls::ClientConfig>> },
    /// A SOCKS5 proxy, with the URL's user and password if it has them. `remote_dns` (`socks5h://`): the
    /// proxy resolves the server's name; otherwise (`socks5://`) this side does, as curl.
    Socks5 { credentials: Option<(String, String)>, remote_dns: bool },
}

impl Proxy {
    /// `host:port` of the proxy, for messages (never the credentials).
    pub(crate) fn authority(&self) -> String {
        let default = match self.kind {
            ProxyKind::Http { tls: None, .. } => 80,
            ProxyKind::Http { tls: Some(_), .. } => 443,
            ProxyKind::Socks5 { .. } => 1080,
        };
        format!("{}:{}", self.url.host_str().unwrap_or_default(), self.url.port().unwrap_or(default))
    }
}

/// Checks a proxy URL (`http://`, `https://`, `socks5://` or `socks5h://`, `[user:password@]host[:port]`)
/// and prepares how the WebSocket goes through it; `what` names the URL in errors (which never show it: it
/// may hold a password); `tls` gives the TLS configuration an `https://` proxy is reached with.
pub(crate) fn parse_proxy(
    url: &str,
    what: &str,
    tls: impl FnOnce() -> Arc<rustls::ClientConfig>,
) -> Result<Proxy, Error> {
    let invalid = |why: &str| Error::InvalidRequest(format!("{what}: {why}"));
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let credentials = (!parsed.username().is_empty() || parsed.password().is_some())
        .then(|| (decode(parsed.username()), decode(parsed.password().unwrap_or_default())));
    let kind = match parsed.scheme() {
        "http" | "https" => {
            let authorization = match &credentials {
                None => None,
                Some((user, password)) => {
                    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                    Some(
                        HeaderValue::from_str(&format!("Basic {basic}"))
                            .map_err(|_| invalid("the credentials cannot be a header"))?,
                    )
                }
            };
            ProxyKind::Http { authorization, tls: (parsed.scheme() == "https").then(tls) }
        }
        "socks5" | "socks5h" => {
            if credentials.as_ref().is_some_and(|(user, password)| user.len() > 255 || password.len() > 255) {
                return Err(invalid("SOCKS5 user names and passwords are at most 255 bytes"));
            }
            ProxyKind::Socks5 { credentials, remote_dns: parsed.scheme() == "socks5h" }
        }
        other => {
            return Err(invalid(&format!(
                "only http://, https://, socks5:// and socks5h:// proxies are supported, not {other}://"
            )))
        }
    };
    Ok(Proxy { url: parsed, kind })
}

/// Longest proxy answer to `CONNECT` read before giving up.
const MAX_PROXY_RESPONSE: usize = 8 * 1024;

/// A connection to `url`'s host and port through `proxy`, on which the WebSocket (and TLS for `wss://`)
/// handshake then runs end to end.
pub(crate) async fn connect_through(proxy: &Proxy, url: &Url) -> Result<NetStream, Error> {
    let host = url.host_str().ok_or_else(|| Error::InvalidRequest(format!("{url}: no host")))?;
    let port = url.port_or_known_default().ok_or_else(|| Error::InvalidRequest(format!("{url}: no port")))?;
    let failed = |what: String| Error::Transport(format!("proxy {}: {what}", proxy.authority()));
    let mut proxy_url = proxy.url.clone();
    if proxy_url.port_or_known_default().is_none() {
        // SOCKS5's 1080, which the url crate does not know.
        let _ = proxy_url.set_port(Some(1080));
    }
    let tcp = connect_tcp(&resolve(&proxy_url).await?).await.map_err(|e| match e {
        Error::Transport(why) => failed(why),
        other => other,
    })?;
    match &proxy.kind {
        ProxyKind::Http { authorization, tls: None } => {
            connect_tunnel(tcp, proxy, authorization.as_ref(), host, port).await.map(NetStream::Tcp)
        }
        ProxyKind::Http { authorization, tls: Some(config) } => {
            let proxy_host = proxy.url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(proxy_host.to_owned())
                .map_err(|e| Error::InvalidRequest(format!("proxy {}: {e}", proxy.authority())))?;
            let tls =
                tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp).await.map_err(
                    |e| match classify(&e) {
                        Some(Error::Tls(why)) => Error::Tls(format!("proxy {}: {why}", proxy.authority())),
                        _ => failed(format!("TLS: {e}")),
                    },
                )?;
            connect_tunnel(tls, proxy, authorization.as_ref(), host, port).await.map(|s| NetStream::Tls(Box::new(s)))
        }
        ProxyKind::Socks5 { credentials, remote_dns } => {
            // socks5://: the name is resolved here (a failure is Error::Dns), and the proxy gets the address.
            let host = match (remote_dns, url.host()) {
                (false, Some(url::Host::Domain(name))) => match resolve(url).await?.first() {
                    Some(addr) => addr.ip().to_string(),
                    None => return Err(Error::Dns(format!("{name}: no address"))),
                },
                _ => host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            };
            socks5_connect(tcp, credentials.as_ref(), &host, port).await.map(NetStream::Tcp).map_err(failed)
        }
    }
}

/// The SOCKS5 handshake (RFC 1928, user/password auth of RFC 1929) over `tcp`, already connected to the
/// proxy, asking it to connect to `host:port`; hyper-util's connector, the one reqwest uses for its own
/// SOCKS proxies, given this connection instead of opening one.
async fn socks5_connect(
    tcp: TcpStream,
    credentials: Option<&(String, String)>,
    host: &str,
    port: u16,
) -> Result<TcpStream, String> {
    use hyper_util::client::legacy::connect::proxy::SocksV5;
    use hyper_util::rt::TokioIo;
    use tower_service::Service as _;

    /// A connector that hands over the one connection it holds.
    struct Connected(Option<TokioIo<TcpStream>>);
    impl tower_service::Service<http::Uri> for Connected {
        type Response = TokioIo<TcpStream>;
        type Error = io::Error;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Uri) -> Self::Future {
            std::future::ready(self.0.take().ok_or_else(|| io::Error::other("connection already used")))
        }
    }

    let uri = |host: &str| format!("http://{host}:{port}").parse::<http::Uri>();
    // An IPv6 address goes into the URI in brackets; hyper-util takes them off again.
    let target = if host.contains(':') { uri(&format!("[{host}]")) } else { uri(host) };
    let target = target.map_err(|e| format!("invalid target {host}:{port}: {e}"))?;
    let mut socks = SocksV5::new(target.clone(), Connected(Some(TokioIo::new(tcp))));
    if let Some((user, password)) = credentials {
        socks = socks.with_auth(user.clone(), password.clone());
    }
    match socks.call(target).await {
        Ok(io) => Ok(io.into_inner()),
        Err(e) => Err(format!("SOCKS5 CONNECT {host}:{port}: {e}")),
    }
}

/// An HTTP `CONNECT host:port` tunnel over `tcp`, already connected to the proxy (over TLS for an
/// `https://` proxy).
async fn connect_tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    mut tcp: S,
    proxy: &Proxy,
    authorization: Option<&HeaderValue>,
    host: &str,
    port: u16,
) -> Result<S, Error> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let target = format!("{host}:{port}");
    let failed = |what: String| Error::Transport(format!("proxy {}: {what}", proxy.authority()));
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(authorization) = authorization.and_then(|v| v.to_str().ok()) {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.map_err(|e| failed(e.to_string()))?;
    // The answer's head, read one byte at a time so nothing of the tunnel is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_RESPONSE {
            return Err(failed("answer to CONNECT too long".into()));
        }
        match tcp.read_u8().await {
            Ok(byte) => head.push(byte),
            Err(e) => return Err(failed(format!("no answer to CONNECT: {e}"))),
        }
    }
    let status_line = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default()).into_owned();
    let status = status_line.split_whitespace().nth(1).and_then(|code| code.parse::<u16>().ok());
    // A refusal is the handshake's rejection, as the same status from the proxy is on the HTTP path.
    match status {
        Some(200..=299) => Ok(tcp),
        Some(status) => Err(Error::Handshake {
            status,
            body: format!("proxy {}: CONNECT {target} answered {status_line}", proxy.authority()),
        }),
        None => Err(failed(format!("CONNECT {target} answered {status_line}"))),
    }
}

/// The WebSocket's connection: TCP (direct, or through an HTTP or SOCKS5 proxy), or TLS to an `https://`
/// proxy around the tunnel (with `wss://`, TLS inside TLS).
pub(crate) enum NetStream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// TLS to the proxy.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for NetStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            NetStream::Tcp(s) => s.is_write_vectored(),
            NetStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
