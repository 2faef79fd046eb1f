//! The native client through a proxy (`SailsSocketBuilder::proxy`): through an HTTP proxy (also one
//! reached over TLS, `https://`) the WebSocket goes through a `CONNECT` tunnel, `/__getcookie` and
//! long-polling as proxied HTTP requests; through a
//! SOCKS5 proxy everything goes through its CONNECT command, the server's name resolved by the proxy
//! (`socks5h://`) or here (`socks5://`). Proxy credentials, and the typed errors of a proxy that refuses
//! (`Error::Handshake` with its status, as from the server) or a proxy URL that cannot work
//! (`Error::InvalidRequest`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sails_io::{EioVersion, Error, SailsSocket, SailsSocketBuilder, Transport};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

// The client tests' helpers (the stub serving long-polling too, a fresh self-signed certificate for
// `localhost`), shared by path.
#[path = "../../client/tests/common/mod.rs"]
mod common;

const GENERATIONS: [EioVersion; 2] = [EioVersion::V3, EioVersion::V4];

/// What the test proxy saw: the first line of each request it forwarded or refused.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A minimal forward proxy: `CONNECT host:port` opens a tunnel, an absolute-form request
/// (`GET http://host:port/…`) is passed to that host with the rest of the connection. With `credentials`,
/// requests without `Proxy-Authorization: Basic <credentials>` get 407. Returns `http://127.0.0.1:PORT`.
async fn proxy(credentials: Option<&'static str>) -> (String, Arc<Seen>) {
    let (port, seen) = spawn_server(move |client, log| serve(client, credentials, log)).await;
    (format!("http://127.0.0.1:{port}"), seen)
}

/// Accepts connections on a free loopback port, each handled by `handle` on its own task with the
/// server's log. Returns the port and the log.
async fn spawn_server<F, Fut>(handle: F) -> (u16, Arc<Seen>)
where
    F: Fn(TcpStream, Arc<Seen>) -> Fut + Send + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(handle(client, log.clone()));
        }
    });
    (port, seen)
}

async fn serve<S>(mut client: S, credentials: Option<&'static str>, seen: Arc<Seen>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match client.read_u8().await {
            Ok(b) if head.len() < 64 * 1024 => head.push(b),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let first = text.lines().next().unwrap_or_default().to_owned();
    seen.0.lock().unwrap().push(first.clone());
    if let Some(credentials) = credentials {
        let want = format!("proxy-authorization: basic {}", credentials.to_ascii_lowercase());
        if !text.to_ascii_lowercase().lines().any(|l| l == want) {
            let _ = client
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        }
    }
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let authority = match method {
        "CONNECT" => target.to_owned(),
        _ => target.strip_prefix("http://").and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned(),
    };
    let Ok(mut server) = TcpStream::connect(&authority).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        return;
    };
    if method == "CONNECT" {
        if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
            return;
        }
    } else if server.write_all(&head).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// The same proxy behind TLS (an `https://` proxy), with a fresh self-signed certificate for
/// `localhost`. Returns `https://localhost:PORT`, its log and the certificate (DER).
async fn https_proxy() -> (String, Arc<Seen>, Vec<u8>) {
    let (acceptor, _, der) = common::self_signed_localhost();
    let (port, seen) = spawn_server(move |tcp, log| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                serve(tls, None, log).await;
            }
        }
    })
    .await;
    (format!("https://localhost:{port}"), seen, der)
}

/// A minimal SOCKS5 server (RFC 1928, user/password of RFC 1929 when `credentials` is given) that
/// records each CONNECT's target as `ipv4 A:P`, `ipv6 [A]:P` or `domain NAME:P`, and connects every one
/// of them to `upstream` (so a name that resolves to an address the test server does not listen on still
/// reaches it). Returns `socks5://127.0.0.1:PORT`.
async fn socks5_proxy(upstream: String, credentials: Option<(&'static str, &'static str)>) -> (String, Arc<Seen>) {
    let (port, seen) = spawn_server(move |client, log| serve_socks5(client, upstream.clone(), credentials, log)).await;
    (format!("socks5://127.0.0.1:{port}"), seen)
}

async fn serve_socks5(
    mut client: TcpStream,
    upstream: String,
    credentials: Option<(&'static str, &'static str)>,
    seen: Arc<Seen>,
) -> std::io::Result<()> {
    // Greeting: version 5, the methods the client offers.
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods).await?;
    let wanted = if credentials.is_some() { 2 } else { 0 };
    if head[0] != 5 || !methods.contains(&wanted) {
        return client.write_all(&[5, 0xff]).await;
    }
    client.write_all(&[5, wanted]).await?;
    if let Some((user, password)) = credentials {
        let read_field = |len: u8| vec![0u8; len as usize];
        let mut version_and_len = [0u8; 2];
        client.read_exact(&mut version_and_len).await?;
        let mut got_user = read_field(version_and_len[1]);
        client.read_exact(&mut got_user).await?;
        let mut got_password = read_field(client.read_u8().await?);
        client.read_exact(&mut got_password).await?;
        let ok = got_user == user.as_bytes() && got_password == password.as_bytes();
        client.write_all(&[1, if ok { 0 } else { 1 }]).await?;
        if !ok {
            seen.0.lock().unwrap().push("refused credentials".into());
            return Ok(());
        }
    }
    // Request: version, CONNECT, reserved, the address type and address, the port.
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let target = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            format!("ipv4 {}", std::net::Ipv4Addr::from(ip))
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            format!("ipv6 [{}]", std::net::Ipv6Addr::from(ip))
        }
        3 => {
            let mut name = vec![0u8; client.read_u8().await? as usize];
            client.read_exact(&mut name).await?;
            format!("domain {}", String::from_utf8_lossy(&name))
        }
        _ => return Ok(()),
    };
    let port = client.read_u16().await?;
    seen.0.lock().unwrap().push(format!("{target}:{port}"));
    let mut server = TcpStream::connect(&upstream).await?;
    // Succeeded, bound to 0.0.0.0:0.
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await.map(drop)
}

/// Connects `builder` with `/__getcookie` first, long-polling and the upgrade, and checks that a request
/// carries the session cookie.
async fn session_over_polling(builder: SailsSocketBuilder, what: &str) {
    let socket = builder
        .get_cookie(true)
        .transports(&[Transport::Polling, Transport::Websocket])
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let echoed = socket.post("/echo", &json!({ "via": what })).await.unwrap();
    assert_eq!(echoed.body_json().unwrap()["headers"]["hasCookie"], json!(true), "{what}");
    socket.disconnect().await.unwrap();
}

#[tokio::test]
async fn websocket_through_a_connect_tunnel() {
    let server = common::polling_stub().await;
    let (proxy_url, seen) = proxy(None).await;
    for eio in GENERATIONS {
        let socket = SailsSocket::builder(server.url()).protocol(eio).proxy(&proxy_url).connect().await.unwrap();
        assert_eq!(socket.get("/hello").await.unwrap().body_json(), Some(&json!({"hello": "world"})), "{eio:?}");
        socket.disconnect().await.unwrap();
    }
    let authority = server.url().trim_start_matches("http://").to_owned();
    assert_eq!(seen.lines(), vec![format!("CONNECT {authority} HTTP/1.1"); 2]);
    server.shutdown().await;
}

#[tokio::test]
async fn getcookie_polling_and_the_upgrade_through_the_proxy() {
    let server = common::polling_stub().await;
    let (proxy_url, seen) = proxy(None).await;
    for eio in GENERATIONS {
        let socket = SailsSocket::builder(server.url())
            .protocol(eio)
            .proxy(&proxy_url)
            .get_cookie(true)
            .transports(&[Transport::Polling, Transport::Websocket])
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{eio:?}: {e}"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while socket.transport() != Some(Transport::Websocket) {
            assert!(tokio::time::Instant::now() < deadline, "{eio:?}: not upgraded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let echoed = socket.post("/echo", &json!({"via": "proxy"})).await.unwrap();
        assert_eq!(echoed.body_json().unwrap()["body"], json!({"via": "proxy"}), "{eio:?}");
        assert_eq!(echoed.body_json().unwrap()["headers"]["hasCookie"], json!(true), "{eio:?}: the session cookie");
        socket.disconnect().await.unwrap();
    }
    let lines = seen.lines();
    let base = server.url();
    assert!(lines.iter().any(|l| l.starts_with(&format!("GET {base}/__getcookie "))), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with(&format!("GET {base}/socket.io/?"))), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("CONNECT ")), "{lines:?}: the upgrade's WebSocket");
    server.shutdown().await;
}

#[tokio::test]
async fn proxy_credentials() {
    let server = common::polling_stub().await;
    // "user:p@ss word" in Basic form; the URL carries it percent-encoded.
    let (proxy_url, _) = proxy(Some("dXNlcjpwQHNzIHdvcmQ=")).await;
    let with_credentials = proxy_url.replace("http://", "http://user:p%40ss%20word@");
    let socket = SailsSocket::builder(server.url()).proxy(&with_credentials).connect().await.unwrap();
    assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
    socket.disconnect().await.unwrap();

    // Without them: the proxy's 407, as a handshake rejection, over either transport.
    let err = SailsSocket::builder(server.url()).proxy(&proxy_url).connect().await.unwrap_err();
    match &err {
        Error::Handshake { status: 407, body } => assert!(body.contains("proxy 127.0.0.1:"), "{body}"),
        other => panic!("{other:?}"),
    }
    let err = SailsSocket::builder(server.url()).proxy(with_credentials.replace("word@", "wrong@")).connect().await;
    let shown = format!("{err:?}");
    assert!(shown.contains("407") && !shown.contains("p%40ss") && !shown.contains("user:"), "{shown}");
    let polling = SailsSocket::builder(server.url()).proxy(&proxy_url).transports(&[Transport::Polling]);
    assert!(matches!(polling.connect().await, Err(Error::Handshake { status: 407, .. })));
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_polling_and_getcookie_through_a_socks5_proxy() {
    let server = common::polling_stub().await;
    let authority = server.url().trim_start_matches("http://").to_owned();
    let port = authority.rsplit(':').next().unwrap().to_owned();
    let (proxy_url, seen) = socks5_proxy(authority.clone(), None).await;
    // socks5h://: the proxy gets the name; socks5://: the address this side resolved it to.
    let by_name = format!("http://localhost:{port}");
    for (scheme, expected) in [("socks5h", vec![format!("domain localhost:{port}")]), ("socks5", vec![])] {
        let url = proxy_url.replace("socks5", scheme);
        for eio in GENERATIONS {
            let socket = SailsSocket::builder(&by_name).protocol(eio).proxy(&url).connect().await.unwrap();
            assert_eq!(socket.get("/hello").await.unwrap().status_code, 200, "{scheme} {eio:?}");
            socket.disconnect().await.unwrap();
        }
        let lines = std::mem::take(&mut *seen.0.lock().unwrap());
        match scheme {
            "socks5h" => assert_eq!(lines, [expected[0].clone(), expected[0].clone()]),
            _ => assert!(
                lines.len() == 2
                    && lines
                        .iter()
                        .all(|l| l == &format!("ipv4 127.0.0.1:{port}") || l == &format!("ipv6 [::1]:{port}")),
                "{lines:?}"
            ),
        }
    }
    // /__getcookie and long-polling go through it too (reqwest's SOCKS support), then the upgrade.
    session_over_polling(SailsSocket::builder(server.url()).proxy(proxy_url.replace("socks5", "socks5h")), "socks")
        .await;
    let lines = seen.lines();
    assert!(lines.len() >= 3 && lines.iter().all(|l| l == &format!("ipv4 {authority}")), "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn socks5_credentials() {
    let server = common::polling_stub().await;
    let authority = server.url().trim_start_matches("http://").to_owned();
    let (proxy_url, seen) = socks5_proxy(authority, Some(("user", "p@ss word"))).await;
    let with = |credentials: &str| proxy_url.replace("socks5://", &format!("socks5://{credentials}@"));
    for transports in [&[Transport::Websocket][..], &[Transport::Polling]] {
        let socket = SailsSocket::builder(server.url())
            .proxy(with("user:p%40ss%20word"))
            .transports(transports)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{transports:?}: {e}"));
        assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
        socket.disconnect().await.unwrap();
    }
    // Wrong or missing credentials: a transport error that names the proxy and never the password.
    for url in [with("user:wrong"), proxy_url.clone()] {
        let err = SailsSocket::builder(server.url()).proxy(&url).timeout(Duration::from_secs(5)).connect().await;
        let shown = format!("{err:?}");
        assert!(matches!(err, Err(Error::Transport(_))) && shown.contains("proxy 127.0.0.1:"), "{shown}");
        assert!(!shown.contains("wrong") && !shown.contains("p%40ss"), "{shown}");
    }
    assert!(seen.lines().contains(&"refused credentials".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn through_an_https_proxy() {
    let server = common::polling_stub().await;
    let (proxy_url, seen, der) = https_proxy().await;
    // The WebSocket (TLS to the proxy, the tunnel inside), then /__getcookie, polling and the upgrade.
    for eio in GENERATIONS {
        let socket =
            SailsSocket::builder(server.url()).protocol(eio).proxy(&proxy_url).add_root_certificate(der.clone());
        let socket = socket.connect().await.unwrap_or_else(|e| panic!("{eio:?}: {e}"));
        assert_eq!(socket.get("/hello").await.unwrap().status_code, 200, "{eio:?}");
        socket.disconnect().await.unwrap();
    }
    session_over_polling(
        SailsSocket::builder(server.url()).proxy(&proxy_url).add_root_certificate(der.clone()),
        "https",
    )
    .await;
    let lines = seen.lines();
    let authority = server.url().trim_start_matches("http://").to_owned();
    assert!(lines.iter().filter(|l| **l == format!("CONNECT {authority} HTTP/1.1")).count() >= 3, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("/__getcookie")), "{lines:?}");
    // A proxy certificate nobody trusts: a TLS error that names the proxy, over both transports.
    for transports in [&[Transport::Websocket][..], &[Transport::Polling]] {
        let err = SailsSocket::builder(server.url()).proxy(&proxy_url).transports(transports).connect().await;
        match err {
            Err(Error::Tls(why)) => assert!(why.to_lowercase().contains("certificate"), "{transports:?}: {why}"),
            other => panic!("{transports:?}: expected a TLS error, got {:?}", other.map(|_| ())),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unusable_proxies_are_typed_errors() {
    for url in ["ftp://127.0.0.1:3128", "socks4://127.0.0.1:1080", "not a url", "http://"] {
        match SailsSocket::builder("http://127.0.0.1:1").proxy(url).build() {
            Err(Error::InvalidRequest(message)) => assert!(message.starts_with("proxy URL: "), "{url}: {message}"),
            other => panic!("{url}: {:?}", other.map(|_| ())),
        }
    }
    // A proxy that is not there: a transport error, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = SailsSocket::builder("http://127.0.0.1:1")
        .proxy(format!("http://{closed}"))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}
