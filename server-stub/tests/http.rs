//! The same routes over plain HTTP, the engine.io handshake gate, and the CLI.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

async fn get(server: &sails_io_stub::RunningServer, path: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{}{}", server.url(), path)).send().await.unwrap()
}

/// Real Sails over HTTP: OPTIONS on any path without an OPTIONS handler is the Express 4 router's answer,
/// whatever verbs the path is bound to (Sails' catch-all routes cover every CRUD verb).
#[tokio::test]
async fn automatic_options_over_http() {
    let server = start().await;
    let client = reqwest::Client::new();
    for path in ["/hello", "/pet", "/pet/1", "/login", "/does/not/exist", "/", "/hello/"] {
        let res = client.request(reqwest::Method::OPTIONS, format!("{}{}", server.url(), path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["allow"], "GET,HEAD,PUT,POST,DELETE,PATCH", "{path}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        assert!(res.headers().get("set-cookie").is_some(), "{path}");
        assert_eq!(res.text().await.unwrap(), "GET,HEAD,PUT,POST,DELETE,PATCH", "{path}");
    }
    let echo: Value = client
        .request(reqwest::Method::OPTIONS, format!("{}/echo", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["method"], "OPTIONS");
}

#[tokio::test]
async fn routes_over_http() {
    let server = start().await;
    let res = get(&server, "/hello").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json; charset=utf-8");
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("sails.sid=s%3A") && set_cookie.ends_with("; Path=/; HttpOnly"));
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"hello": "world"}));

    let echo: Value = reqwest::Client::new()
        .post(format!("{}/echo?via=http", server.url()))
        .header("x-test", "over-http")
        .json(&json!({"via": "http", "list": [1, 2]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        echo,
        json!({
            "method": "POST", "url": "/echo?via=http", "path": "/echo",
            "query": {"via": "http"}, "body": {"via": "http", "list": [1, 2]},
            "params": {"via": "http", "list": [1, 2]},
            "headers": {"x-test": "over-http", "content-type": "application/json", "hasCookie": false},
            "isSocket": false, "wantsJSON": true
        })
    );

    let text = get(&server, "/text").await;
    assert_eq!(text.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(text.text().await.unwrap(), "plain text");

    let status = get(&server, "/status/201").await;
    assert_eq!(status.status(), 201);
    assert_eq!(status.json::<Value>().await.unwrap(), json!({"code": 201}));
    // Express strips the body and the entity headers of a 204/304 over HTTP (the session cookie stays)
    for code in [204, 304] {
        let no_content = get(&server, &format!("/status/{code}")).await;
        assert_eq!(no_content.status(), code);
        assert!(no_content.headers().get("content-type").is_none(), "{code}");
        assert!(no_content.headers().get("set-cookie").is_some(), "{code}");
        assert_eq!(no_content.text().await.unwrap(), "");
    }

    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redir = no_redirect.get(format!("{}/redirect", server.url())).send().await.unwrap();
    assert_eq!(redir.status(), 302);
    assert_eq!(redir.headers()["location"], "/hello");

    let err = get(&server, "/error").await;
    assert_eq!(err.status(), 500);
    assert!(err.text().await.unwrap().starts_with("Error: Intentional conformance error"));

    let nf = get(&server, "/does/not/exist").await;
    assert_eq!(nf.status(), 404);
    assert_eq!(nf.text().await.unwrap(), "Not Found");
    // the bare path without trailing slash is an app route, hence 404
    assert_eq!(get(&server, "/socket.io?EIO=3&transport=websocket").await.status(), 404);

    let me = get(&server, "/me/id").await;
    assert_eq!(me.status(), 400);
    assert_eq!(me.json::<Value>().await.unwrap(), json!({"error": "socket requests only"}));
    let join = reqwest::Client::new().post(format!("{}/rooms/lobby/join", server.url())).send().await.unwrap();
    assert_eq!(join.status(), 400);
    assert_eq!(join.json::<Value>().await.unwrap(), json!({"error": "socket requests only"}));

    let gc = get(&server, "/__getcookie").await;
    assert_eq!(gc.status(), 200);
    assert_eq!(gc.headers()["content-type"], "application/javascript; charset=utf-8");
    assert!(gc.headers().contains_key("set-cookie"));
    assert_eq!(gc.text().await.unwrap(), "_sailsIoJSConnect();");
}

#[tokio::test]
async fn sessions_over_http() {
    let server = start().await;
    let http = reqwest::Client::new();
    let forbidden = get(&server, "/secret").await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(forbidden.text().await.unwrap(), "Forbidden");
    let login = http
        .post(format!("{}/login", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("userId=alice")
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(login.json::<Value>().await.unwrap(), json!({"ok": true, "userId": "alice"}));
    let secret = http.get(format!("{}/secret", server.url())).header("cookie", &cookie).send().await.unwrap();
    // a known session cookie gets no new Set-Cookie
    assert!(!secret.headers().contains_key("set-cookie"));
    assert_eq!(secret.json::<Value>().await.unwrap(), json!({"secret": "the cake is a lie", "userId": "alice"}));
    // a forged signature is not accepted
    let forged = cookie[..cookie.len() - 3].to_owned() + "abc";
    let who: Value = http
        .get(format!("{}/whoami", server.url()))
        .header("cookie", forged)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who, json!({"userId": null}));
}

#[tokio::test]
async fn pet_over_http_publishes_to_watchers() {
    let server = start().await;
    let mut w = Client::connect(&server, "3").await;
    w.request(0, "get", "/pet", json!({})).await;
    let http = reqwest::Client::new();
    let bad = http.post(format!("{}/pet", server.url())).json(&json!({"species": "cat"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["code"], "E_INVALID_NEW_RECORD");
    let created: Value = http
        .post(format!("{}/pet", server.url()))
        .json(&json!({"name": "Webby", "species": "cat"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["name"], "Webby");
    let ev = w.collect_events(std::time::Duration::from_millis(300)).await;
    assert_eq!(ev, vec![json!(["pet", {"verb": "created", "data": created, "id": created["id"]}])]);
    let found: Value = get(&server, "/pet").await.json().await.unwrap();
    assert_eq!(found, json!([created]));
    assert_eq!(get(&server, "/pet/999").await.status(), 404);
}

#[tokio::test]
async fn polling_is_refused_by_default_with_engineio_error() {
    let server = start().await;
    let res = get(&server, "/socket.io/?EIO=3&transport=polling").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), r#"{"code":0,"message":"Transport unknown"}"#);
    let res = get(&server, "/socket.io/?EIO=4&transport=websocket").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), r#"{"code":3,"message":"Bad request"}"#);
}

#[tokio::test]
async fn polling_when_enabled() {
    let server = start_with(
        sails_io_stub::Builder::new()
            .transports(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket]),
    )
    .await;
    let res = get(&server, &format!("/socket.io/?{SDK_QUERY}&EIO=4&transport=polling")).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.starts_with("0{"), "{body}");
    let open: Value = serde_json::from_str(&body[1..]).unwrap();
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingTimeout"], 60000);
    let res = get(&server, "/socket.io/?EIO=4&transport=polling&sid=nope").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.unwrap(), r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test]
async fn before_connect_rejections_have_engineio_shapes() {
    let server = start_with(
        sails_io_stub::Builder::new()
            .transports(&[sails_io_stub::Transport::Polling, sails_io_stub::Transport::Websocket])
            .before_connect(|parts| match parts.headers.get("x-auth").and_then(|v| v.to_str().ok()) {
                Some("ok") => Ok(()),
                Some("custom") => Err(Some("go away".into())),
                _ => Err(None),
            }),
    )
    .await;
    // polling: 403 JSON
    let res = get(&server, "/socket.io/?EIO=3&transport=polling").await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.text().await.unwrap(), r#"{"code":4,"message":"Forbidden"}"#);
    // websocket upgrade: raw 400 text/html with the message
    let err = raw_ws(&ws_url(&server, "3", SDK_QUERY), &[("x-auth", "custom")]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => {
            assert_eq!(res.status(), 400);
            assert_eq!(res.headers()["content-type"], "text/html");
            assert_eq!(res.body().as_deref(), Some(&b"go away"[..]));
        }
        other => panic!("expected an HTTP rejection, got {other:?}"),
    }
    let mut ok = Client::connect_with(&server, "3", SDK_QUERY, &[("x-auth", "ok")]).await;
    assert_eq!(ok.request(0, "get", "/hello", json!({})).await["statusCode"], 200);
}

#[tokio::test]
async fn only_allow_origins() {
    let server = start_with(sails_io_stub::Builder::new().only_allow_origins(vec!["http://good.example".into()])).await;
    let err = raw_ws(&ws_url(&server, "3", SDK_QUERY), &[("origin", "http://evil.example")]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => {
            assert_eq!(res.status(), 400);
            assert_eq!(res.body().as_deref(), Some(&b"Bad request"[..]));
        }
        other => panic!("{other:?}"),
    }
    let mut good = Client::connect_with(&server, "3", SDK_QUERY, &[("origin", "http://good.example")]).await;
    assert_eq!(good.request(0, "get", "/hello", json!({})).await["statusCode"], 200);
    // no Origin: allowed unless asked otherwise
    let mut native = Client::connect(&server, "3").await;
    assert_eq!(native.request(0, "get", "/hello", json!({})).await["statusCode"], 200);

    let strict = start_with(
        sails_io_stub::Builder::new()
            .only_allow_origins(vec!["http://good.example".into()])
            .reject_missing_origin(true),
    )
    .await;
    assert!(raw_ws(&ws_url(&strict, "3", SDK_QUERY), &[]).await.is_err());
}

/// Starts the binary with `extra` flags, reads its `listening on` line and GETs `/hello` over HTTP.
/// Returns the response and the process's thread count (Linux `/proc`; 0 elsewhere).
fn cli_hello(extra: &[&str]) -> (String, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sails-io-stub"))
        .args(["--port", "0", "--host", "127.0.0.1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line
        .trim_end()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    let body = std::net::TcpStream::connect(("127.0.0.1", port)).map(|mut s| {
        use std::io::{Read, Write};
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    let threads = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim().parse().unwrap())))
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (body.unwrap(), threads)
}

#[test]
fn cli_prints_listening_line_with_real_port() {
    assert!(cli_hello(&[]).0.ends_with(r#"{"hello":"world"}"#));
}

#[test]
fn cli_serves_on_one_thread_or_on_several() {
    for (flag, expected) in [("1", 1..=1), ("3", 4..=4), ("0", 2..=usize::MAX)] {
        let (body, threads) = cli_hello(&["--threads", flag]);
        assert!(body.ends_with(r#"{"hello":"world"}"#), "--threads {flag}: {body}");
        if cfg!(target_os = "linux") {
            // The main thread, plus the workers of a multi-thread runtime.
            assert!(expected.contains(&threads), "--threads {flag}: {threads} threads");
        }
    }
}
