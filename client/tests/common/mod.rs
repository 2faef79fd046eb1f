//! Helpers shared by the integration tests that need them (`mod common;`).

use std::sync::Arc;

use tokio_rustls::rustls;

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
