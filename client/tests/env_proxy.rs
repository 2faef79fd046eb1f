//! `SailsSocketBuilder::proxy_from_env` against the real process environment. One test in its own
//! binary: it sets environment variables, which no other test may read at the same time.

mod common;

use std::time::Duration;

use sails_io::{Error, SailsSocket};

/// Sets exactly these proxy variables.
fn set_env(vars: &[(&str, &str)]) {
    for name in common::PROXY_VARIABLES {
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

#[tokio::test]
async fn proxy_from_env_reads_the_environment_and_the_default_ignores_it() {
    let server = sails_io_stub::Builder::new().port(0).app(sails_io_stub::demo::router()).start().await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let absent = format!("http://127.0.0.1:{closed}");
    let connect = |from_env: bool| {
        // /__getcookie first: the HTTP request must follow the same rule as the WebSocket.
        let builder = SailsSocket::builder(server.url()).get_cookie(true).timeout(Duration::from_secs(5));
        if from_env { builder.proxy_from_env() } else { builder }.connect()
    };

    set_env(&[("all_proxy", &absent)]);
    // By default the environment is not read: a direct connection, /__getcookie included.
    let socket = connect(false).await.unwrap();
    assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
    socket.disconnect().await.unwrap();
    // With proxy_from_env the proxy is used (and is not there), by /__getcookie first.
    match connect(true).await {
        Err(Error::Transport(why)) => {
            assert!(
                why.starts_with("GET /__getcookie") && why.contains(&format!("through proxy 127.0.0.1:{closed}")),
                "{why}"
            )
        }
        other => panic!("expected a transport error through the proxy, got {other:?}"),
    }
    // no_proxy lists the server's host: direct again.
    set_env(&[("all_proxy", &absent), ("no_proxy", "127.0.0.1")]);
    let socket = connect(true).await.unwrap();
    assert_eq!(socket.get("/hello").await.unwrap().status_code, 200);
    socket.disconnect().await.unwrap();
    // A proxy the client cannot use: build() refuses it, naming the variable.
    set_env(&[("http_proxy", "socks4://127.0.0.1:1080")]);
    match SailsSocket::builder(server.url()).proxy_from_env().build() {
        Err(Error::InvalidRequest(why)) => {
            assert!(why.contains("http_proxy") && why.contains("not socks4://"), "{why}")
        }
        Err(e) => panic!("expected InvalidRequest, got {e:?}"),
        Ok(_) => panic!("expected InvalidRequest, got a socket"),
    }
    set_env(&[]);
}
