//! Helpers shared by the integration tests that need them (`mod common;`; the conformance crate's proxy
//! tests include it by path). Not every test that includes it uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use tokio_rustls::rustls;

/// The variables a proxy is read from (`sails_io::env_proxy`, as curl reads them): tests clear them so
/// that the machine's own settings cannot change what they see.
pub const PROXY_VARIABLES: [&str; 8] =
    ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"];

/// A server-stub with the conformance app on a free loopback port, serving long-polling too (the stub's
/// default is WebSocket only, as Sails'); stops when dropped.
pub async fn polling_stub() -> sails_io_stub::RunningServer {
    sails_io_stub::Builder::new()
        .port(0)
        .transports(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket])
        .app(sails_io_stub::demo::router())
        .start()
        .await
        .unwrap()
}

/// A fresh self-signed certificate for `localhost`: a TLS acceptor serving it, and the certificate as
/// PEM and as DER (what a client is told to trust).
pub fn self_signed_localhost() -> (tokio_rustls::TlsAcceptor, String, Vec<u8>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = certified.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![rustls::pki_types::CertificateDer::from(der.clone())], key)
        .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), certified.cert.pem(), der)
}
