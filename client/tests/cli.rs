//! The `sails-io` command-line tool, run as a process against the in-process server-stub: its output
//! lines and exit codes are a public interface (README, "The `sails-io` command-line tool").

mod common;

use std::path::PathBuf;
use std::process::Output;

use serde_json::{json, Value};
use tokio::process::Command;

/// A stub with the conformance app on a free port; stops when dropped.
async fn stub() -> sails_io_stub::RunningServer {
    sails_io_stub::Builder::new().port(0).app(sails_io_stub::demo::router()).start().await.unwrap()
}

/// Runs `sails-io ARGS` with `stdin` on its standard input, with no proxy in its environment.
async fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_env(args, stdin, &[]).await
}

/// The same with these proxy variables (the others removed, whatever this process has).
async fn run_env(args: &[impl AsRef<std::ffi::OsStr>], stdin: &[u8], vars: &[(&str, &str)]) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_sails-io"));
    for name in common::PROXY_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .envs(vars.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap()
}

/// The one JSON line `request` prints; panics unless the run printed exactly one line and exited 0.
fn jwr_line(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout {stdout}, stderr {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(stdout.trim_end()).unwrap()
}

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("sails-io-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    /// `@PATH`, as the CLI takes a file.
    fn at(&self) -> String {
        format!("@{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_prints_the_jwr_as_one_line() {
    let server = stub().await;
    let url = format!("{}/hello", server.url());
    for eio in ["3", "4"] {
        let jwr = jwr_line(&run(&["request", "GET", &url, "--eio", eio], b"").await);
        assert_eq!(jwr["body"], json!({"hello": "world"}), "EIO {eio}");
        assert_eq!(jwr["statusCode"], 200);
        assert!(jwr["headers"].is_object());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_over_polling_and_with_the_upgrade() {
    let server = common::polling_stub().await;
    let url = format!("{}/hello", server.url());
    for transports in ["polling", "polling,websocket", "websocket"] {
        let jwr = jwr_line(&run(&["request", "GET", &url, "--transports", transports], b"").await);
        assert_eq!(jwr["body"], json!({"hello": "world"}), "--transports {transports}");
    }
    // A WebSocket-only server refuses polling: a handshake error, exit 1.
    let ws_only = stub().await;
    let out = run(&["request", "GET", &format!("{}/hello", ws_only.url()), "--transports", "polling"], b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_sends_data_headers_and_query() {
    let server = stub().await;
    let url = format!("{}/echo?x=1", server.url());
    let out = run(&["request", "post", &url, "--data", r#"{"a":1}"#, "-H", "x-test: yes"], b"").await;
    let body = &jwr_line(&out)["body"];
    assert_eq!(body["method"], "POST");
    assert_eq!(body["url"], "/echo?x=1");
    assert_eq!(body["body"], json!({"a": 1}));
    assert_eq!(body["headers"]["x-test"], "yes");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_reads_data_from_a_file_or_stdin() {
    let server = stub().await;
    let url = format!("{}/echo", server.url());
    let file = TempFile::new("data.json", br#"{"from":"file"}"#);
    let at_file = file.at();
    let out = run(&["request", "POST", &url, "--data", &at_file], b"").await;
    assert_eq!(jwr_line(&out)["body"]["body"], json!({"from": "file"}));
    let out = run(&["request", "POST", &url, "-d", "@-"], br#"{"from":"stdin"}"#).await;
    assert_eq!(jwr_line(&out)["body"]["body"], json!({"from": "stdin"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_send_strings_and_files_as_binary_attachments() {
    let server = stub().await;
    let url = format!("{}/echo", server.url());
    let file = TempFile::new("bytes.bin", &[0, 1, 2, 255]);
    let at_file = format!("file={}", file.at());
    let out =
        run(&["request", "POST", &url, "--data", r#"{"a":1,"kind":"x"}"#, "-F", &at_file, "-F", "kind=photo"], b"")
            .await;
    // Sails hands an action each attachment as an array of its byte values.
    assert_eq!(jwr_line(&out)["body"]["body"], json!({"a": 1, "kind": "photo", "file": [0, 1, 2, 255]}));
    let out = run(&["request", "POST", &url, "--field", "raw=@-"], &[7, 8]).await;
    assert_eq!(jwr_line(&out)["body"]["body"], json!({"raw": [7, 8]}));
}

#[tokio::test(flavor = "multi_thread")]
async fn any_status_exits_zero_and_failures_do_not() {
    let server = stub().await;
    let missing = jwr_line(&run(&["request", "GET", &format!("{}/nope", server.url())], b"").await);
    assert_eq!(missing["statusCode"], 404);

    // Bad arguments: exit 2 with a message, before connecting.
    let url = format!("{}/echo", server.url());
    for args in [
        vec!["request", "TRACE", url.as_str()],
        vec!["request", "POST", url.as_str(), "--data", "{oops"],
        vec!["request", "POST", url.as_str(), "--data", "[1]", "-F", "a=b"],
        vec!["request", "POST", url.as_str(), "-F", "no-equals-sign"],
        vec!["request", "POST", url.as_str(), "-F", "f=@/nonexistent/sails-io-cli-test"],
        vec!["request", "GET", "not a url"],
        vec!["request", "GET", url.as_str(), "--transports", "carrier-pigeon"],
        vec!["request", "GET", url.as_str(), "--proxy", "socks4://127.0.0.1:1080"],
    ] {
        let out = run(&args, b"").await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        // Ours say `sails-io: …`; clap's (an unknown flag value) `error: …`.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("sails-io: ") || stderr.starts_with("error: "), "{args:?}: {stderr}");
    }

    // Nothing listening: a transport error, exit 1.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = run(&["request", "GET", &format!("http://127.0.0.1:{closed}/hello"), "--timeout", "5"], b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
    // A server that answers, behind a proxy that is not there: the proxy is used, and fails.
    let via = format!("http://127.0.0.1:{closed}");
    let out =
        run(&["request", "GET", &format!("{}/hello", server.url()), "--proxy", &via, "--timeout", "5"], b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("proxy 127.0.0.1:{closed}")));
}

#[tokio::test]
async fn proxies_from_the_environment_as_curl_reads_them() {
    let server = common::polling_stub().await;
    let hello = format!("{}/hello", server.url());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let absent = format!("http://127.0.0.1:{closed}");
    let request = |extra: &[&'static str]| {
        let mut args = vec!["request".to_owned(), "GET".into(), hello.clone(), "--timeout".into(), "5".into()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    let through_absent_proxy = |out: &Output| {
        out.status.code() == Some(1)
            && String::from_utf8_lossy(&out.stderr).contains(&format!("proxy 127.0.0.1:{closed}"))
    };
    // http_proxy names a proxy that is not there: the WebSocket goes to it (and fails), and so does
    // long-polling's HTTP (which would succeed directly); all_proxy is the fallback.
    for var in ["http_proxy", "all_proxy", "ALL_PROXY"] {
        let out = run_env(&request(&[]), b"", &[(var, &absent)]).await;
        assert!(through_absent_proxy(&out), "{var}: {out:?}");
    }
    let out = run_env(&request(&["--transports", "polling"]), b"", &[("http_proxy", &absent)]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Not for an http:// server: HTTPS_PROXY, and an upper-case HTTP_PROXY (curl ignores it too).
    for var in ["https_proxy", "HTTPS_PROXY", "HTTP_PROXY"] {
        let out = run_env(&request(&["--transports", "polling"]), b"", &[(var, &absent)]).await;
        assert_eq!(jwr_line(&out)["statusCode"], 200, "{var}");
    }
    // no_proxy (or NO_PROXY) lists the host: direct, over both transports.
    for no_proxy in ["no_proxy", "NO_PROXY"] {
        for transports in ["websocket", "polling"] {
            let args = ["request", "GET", hello.as_str(), "--timeout", "5", "--transports", transports];
            let out = run_env(&args, b"", &[("http_proxy", &absent), (no_proxy, "localhost,127.0.0.0/8")]).await;
            assert_eq!(jwr_line(&out)["statusCode"], 200, "{no_proxy} {transports}");
        }
    }
    // --noproxy replaces no_proxy: `*` ignores the environment, another list does not name this host.
    let out = run_env(&request(&["--noproxy", "*"]), b"", &[("http_proxy", &absent)]).await;
    assert_eq!(jwr_line(&out)["statusCode"], 200);
    let out =
        run_env(&request(&["--noproxy", "other.example"]), b"", &[("http_proxy", &absent), ("no_proxy", "127.0.0.1")])
            .await;
    assert!(through_absent_proxy(&out), "{out:?}");
    // --proxy wins over the environment, no_proxy included.
    let mut args = request(&[]);
    args.extend(["--proxy".to_owned(), absent.clone()]);
    let out = run_env(&args, b"", &[("no_proxy", "*")]).await;
    assert!(through_absent_proxy(&out), "{out:?}");
    // A proxy the client cannot use is a bad argument that names the variable.
    let out = run_env(&request(&[]), b"", &[("all_proxy", "socks4://127.0.0.1:1080")]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not socks4://") && stderr.contains("$all_proxy"), "{stderr}");
    // A SOCKS5 proxy from the environment is used (and is not there).
    let socks = format!("socks5h://127.0.0.1:{closed}");
    let out = run_env(&request(&[]), b"", &[("all_proxy", &socks)]).await;
    assert!(through_absent_proxy(&out), "{out:?}");
}

/// TLS in front of `server` with a fresh self-signed certificate for `localhost`: the `https://` URL,
/// and the certificate as PEM and as DER.
async fn tls_front(server: &sails_io_stub::RunningServer) -> (String, String, Vec<u8>) {
    let (acceptor, pem, der) = common::self_signed_localhost();
    let backend = server.url().trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (format!("https://localhost:{port}"), pem, der)
}

#[tokio::test(flavor = "multi_thread")]
async fn cacert_trusts_a_self_signed_server() {
    let server = common::polling_stub().await;
    let (url, pem, der) = tls_front(&server).await;
    let hello = format!("{url}/hello");
    // Not trusted by default: a TLS error, exit 1.
    let out = run(&["request", "GET", &hello, "--timeout", "5"], b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).to_lowercase().contains("certificate"), "{out:?}");
    // PEM (with another block before it) or DER, over the WebSocket, /__getcookie and long-polling.
    let pem = TempFile::new("ca.pem", format!("a comment\n{pem}").as_bytes());
    let der = TempFile::new("ca.der", &der);
    for file in [&pem, &der] {
        let path = file.0.to_str().unwrap();
        for extra in [&[][..], &["--getcookie"], &["--transports", "polling"]] {
            let mut args = vec!["request", "GET", &hello, "--cacert", path];
            args.extend_from_slice(extra);
            let jwr = jwr_line(&run(&args, b"").await);
            assert_eq!(jwr["body"], json!({"hello": "world"}), "{args:?}");
        }
    }
    // Files that hold no usable certificate are bad arguments.
    let key_only = TempFile::new("key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let broken = TempFile::new("broken.pem", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
    let not_der = TempFile::new("not.der", b"not a certificate");
    for path in
        [key_only.0.to_str().unwrap(), broken.0.to_str().unwrap(), not_der.0.to_str().unwrap(), "/nonexistent/ca.pem"]
    {
        let out = run(&["request", "GET", &hello, "--cacert", path], b"").await;
        assert_eq!(out.status.code(), Some(2), "{path}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("sails-io: --cacert") || path.ends_with(".der"),
            "{path}: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_prints_matching_events() {
    let server = stub().await;
    let out = run(
        &["listen", &server.url(), "--event", "announcement", "--request", r#"POST /blast {"n":1}"#, "--count", "1"],
        b"",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, vec![json!({"event": "announcement", "data": {"n": 1}})]);
    // Fewer events than --count within --timeout: what came is printed, and the exit code says so.
    let url = server.url();
    let args = ["listen", url.as_str(), "--event", "announcement", "--request", r#"POST /blast {"n":2}"#];
    let out = run(&[&args[..], &["--count", "2", "--timeout", "1"]].concat(), b"").await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 events within 1 s"), "{out:?}");
    // Without --count the timeout is the normal end.
    let out = run(&[&args[..], &["--timeout", "1"]].concat(), b"").await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
