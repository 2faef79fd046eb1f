//! The native client through an HTTP proxy (`SailsSocketBuilder::proxy`): the WebSocket through a
//! `CONNECT` tunnel, `/__getcookie` and long-polling as proxied HTTP requests, proxy credentials, and the
//! typed errors of a proxy that refuses (`Error::Handshake` with its status, as from the server) or a proxy
//! URL that cannot work (`Error::InvalidRequest`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sails_io::{EioVersion, Error, SailsSocket, Transport};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, credentials, log.clone()));
        }
    });
    (url, seen)
}

async fn serve(mut client: TcpStream, credentials: Option<&'static str>, seen: Arc<Seen>) {
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

async fn stub() -> sails_io_stub::RunningServer {
    sails_io_stub::Builder::new()
        .host("127.0.0.1")
        .port(0)
        .transports(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket])
        .app(sails_io_stub::demo::router())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn websocket_through_a_connect_tunnel() {
    let server = stub().await;
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
    let server = stub().await;
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
    let server = stub().await;
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
async fn unusable_proxies_are_typed_errors() {
    for url in ["socks5://127.0.0.1:1080", "not a url", "http://"] {
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
