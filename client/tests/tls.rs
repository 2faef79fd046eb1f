//! `wss://` through rustls: a WebSocket server with a self-signed certificate for `localhost`, trusted
//! with `add_root_certificate`, refused (the typed `Error::Tls`) without it, over the WebSocket and over
//! the HTTP requests (`/__getcookie`, long-polling).

mod common;

use futures_util::{SinkExt, StreamExt};
use sails_io::{Error, SailsSocket, Transport};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Serves EIO 3 over TLS: the handshake, then one JWR per request.
async fn tls_server() -> (String, Vec<u8>) {
    let (acceptor, _, cert_der) = common::self_signed_localhost();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else { return };
                let open = r#"0{"sid":"TLS","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
                ws.send(Message::text(open)).await.unwrap();
                ws.send(Message::text("40")).await.unwrap();
                while let Some(Ok(Message::Text(t))) = ws.next().await {
                    if let Some(rest) = t.as_str().strip_prefix("420") {
                        assert!(rest.contains(r#""url":"/hello""#), "{rest}");
                        ws.send(Message::text(r#"430[{"body":{"secure":true},"headers":{},"statusCode":200}]"#))
                            .await
                            .unwrap();
                    }
                }
            });
        }
    });
    (format!("https://localhost:{port}"), cert_der)
}

#[tokio::test]
async fn wss_with_a_trusted_private_root() {
    let (url, cert) = tls_server().await;
    let socket = SailsSocket::builder(&url).add_root_certificate(cert).connect().await.unwrap();
    assert_eq!(socket.id().as_deref(), Some("TLS"));
    let jwr = socket.get("/hello").await.unwrap();
    assert_eq!(jwr.body_json(), Some(&serde_json::json!({"secure": true})));
}

#[tokio::test]
async fn wss_refuses_an_untrusted_certificate() {
    let (url, _) = tls_server().await;
    match SailsSocket::connect_to(&url).await {
        Err(Error::Tls(message)) => assert!(message.to_lowercase().contains("certificate"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn https_requests_refuse_an_untrusted_certificate_with_a_tls_error() {
    let (url, _) = tls_server().await;
    let getcookie = SailsSocket::builder(&url).get_cookie(true).connect().await;
    assert!(matches!(&getcookie, Err(Error::Tls(m)) if m.to_lowercase().contains("certificate")), "{getcookie:?}");
    let polling = SailsSocket::builder(&url).transports(&[Transport::Polling]).connect().await;
    assert!(matches!(&polling, Err(Error::Tls(m)) if m.to_lowercase().contains("certificate")), "{polling:?}");
}

#[tokio::test]
async fn invalid_root_certificates_are_refused_at_build_time() {
    let err = SailsSocket::builder("https://localhost:1").add_root_certificate(vec![1, 2, 3]).build().unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}
