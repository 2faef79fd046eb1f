//! `sails-io`: curl for Sails sockets.
//!
//! ```text
//! sails-io request GET http://127.0.0.1:1337/hello
//! sails-io request POST http://127.0.0.1:1337/echo?x=1 --data '{"a":1}' -H 'x-test: yes'
//! sails-io request POST http://127.0.0.1:1337/upload --data @meta.json -F file=@photo.jpg -F kind=photo
//! sails-io listen http://127.0.0.1:1337 --event said --request 'POST /rooms/lobby/join' --count 1
//! ```
//! `request` prints the JWR as one JSON line and exits 0 whenever a response arrived, whatever its
//! status; `listen` prints one JSON line per matching event. Failures go to stderr with exit code 1
//! (2 for bad arguments). `-v` logs every frame.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use sails_io::{EioVersion, Error, Method, Payload, Request, SailsSocket, SailsSocketBuilder, SocketEvent, Transport};
use serde_json::{json, Value};
use url::Url;

#[derive(Parser)]
#[command(
    name = "sails-io",
    version,
    about = "curl for Sails sockets: virtual requests and server events over Socket.IO"
)]
struct Cli {
    /// Log every frame and connection step to stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Connection {
    /// Engine.IO version: 3 (what sails.io.js speaks) or 4.
    #[arg(long, default_value = "3", value_parser = ["3", "4"])]
    eio: String,
    /// A Cookie header for the WebSocket handshake (e.g. `sails.sid=s%3A…`).
    #[arg(long)]
    cookie: Option<String>,
    /// GET /__getcookie first and use the session cookie it sets.
    #[arg(long)]
    getcookie: bool,
    /// Seconds to wait for the connection and for each response.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Transports in order, comma separated: `websocket`, `polling`, or `polling,websocket` (open with
    /// long-polling, then upgrade to a WebSocket if the server offers one).
    #[arg(long, default_value = "websocket", value_delimiter = ',', value_parser = ["websocket", "polling"])]
    transports: Vec<String>,
    /// A proxy: `http://[user:password@]host:port` (the WebSocket goes through it with CONNECT),
    /// `https://…` (the same over TLS; --cacert applies), `socks5h://…` (SOCKS5, the proxy resolves names)
    /// or `socks5://…` (names resolved here).
    /// Without it, the proxy the environment names is used, as curl does: `https_proxy` or `HTTPS_PROXY`
    /// for https:// servers, `http_proxy` for http:// ones, then `all_proxy`, except for the hosts
    /// `no_proxy` lists.
    #[arg(long)]
    proxy: Option<String>,
    /// Hosts that do not use the environment's proxy, comma separated (replaces `no_proxy`; names match
    /// the domains below them, addresses and CIDR ranges work too); `*` ignores the environment, as
    /// curl's --noproxy.
    #[arg(long, value_name = "LIST")]
    noproxy: Option<String>,
    /// Also trust the certificates in FILE for `https://` servers: PEM (every CERTIFICATE block) or one
    /// DER certificate, e.g. a development server's self-signed certificate. Repeatable. Unlike curl's
    /// --cacert, the usual roots stay trusted.
    #[arg(long = "cacert", value_name = "FILE")]
    cacerts: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Sends one virtual request and prints the JWR as one JSON line.
    Request {
        /// get, post, put, patch, delete, options or head (any case).
        method: String,
        /// The full URL, e.g. http://127.0.0.1:1337/echo?x=1 (the server part and the path are split as curl does).
        url: String,
        /// The JSON body (an object or an array); `@FILE` reads it from a file, `@-` from stdin.
        #[arg(short = 'd', long)]
        data: Option<String>,
        /// A field of the body object, `NAME=VALUE` (a string) or `NAME=@FILE` (the file's bytes, sent as
        /// a binary attachment as sails.io.js sends a Buffer; `@-` reads stdin). Repeatable; a field
        /// replaces a key of the same name from --data.
        #[arg(short = 'F', long = "field")]
        fields: Vec<String>,
        /// A request header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Connects, performs the given requests in order, then prints matching server events as JSON lines.
    Listen {
        /// The server URL, e.g. http://127.0.0.1:1337.
        url: String,
        /// An event name to print (repeatable).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// A request to make after connecting: 'METHOD PATH [JSON]' (repeatable).
        #[arg(long = "request")]
        requests: Vec<String>,
        /// Stop after this many events; fewer within --timeout is a failure (exit 1). Without it, listen
        /// prints events until --timeout and exits 0.
        #[arg(long)]
        count: Option<usize>,
        #[command(flatten)]
        connection: Connection,
    },
}

/// A failure with its exit code.
struct Failure(u8, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(1, e.to_string())
    }
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure(2, msg.into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new("sails_io=debug"))
            .init();
    }
    let result = match cli.command {
        Command::Request { method, url, data, fields, headers, connection } => {
            request(&method, &url, data.as_deref(), &fields, &headers, &connection).await
        }
        Command::Listen { url, events, requests, count, connection } => {
            listen(&url, &events, &requests, count, &connection).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("sails-io: {message}");
            ExitCode::from(code)
        }
    }
}

/// Splits `http://host:port/path?query` into the server URL and the request path with its query.
fn split_url(url: &str) -> Result<(String, String), Failure> {
    let parsed = Url::parse(url).map_err(|e| usage(format!("invalid URL {url:?}: {e}")))?;
    let mut server = parsed.clone();
    server.set_path("/");
    server.set_query(None);
    server.set_fragment(None);
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok((server.as_str().trim_end_matches('/').to_owned(), path))
}

/// The builder the flags describe, and the environment variable its proxy comes from, if it does.
fn builder(server: &str, c: &Connection) -> Result<(SailsSocketBuilder, Option<&'static str>), Failure> {
    if !c.timeout.is_finite() || c.timeout <= 0.0 {
        return Err(usage("--timeout must be a positive number of seconds"));
    }
    let timeout = Duration::from_secs_f64(c.timeout);
    let eio = if c.eio == "4" { EioVersion::V4 } else { EioVersion::V3 };
    let transports: Vec<Transport> =
        c.transports.iter().map(|t| if t == "polling" { Transport::Polling } else { Transport::Websocket }).collect();
    let mut b = SailsSocket::builder(server)
        .protocol(eio)
        .transports(&transports)
        .timeout(timeout)
        .request_timeout(Some(timeout));
    if let Some(cookie) = &c.cookie {
        b = b.initial_connection_header("cookie", cookie.clone());
    }
    if c.getcookie {
        b = b.get_cookie(true);
    }
    let mut proxy_variable = None;
    if let Some(proxy) = &c.proxy {
        b = b.proxy(proxy);
    } else {
        let url = Url::parse(server).map_err(|e| usage(format!("invalid URL {server:?}: {e}")))?;
        let lookup = |name: &str| match (name, &c.noproxy) {
            ("no_proxy" | "NO_PROXY", Some(list)) => Some(list.clone()),
            _ => std::env::var(name).ok(),
        };
        if let Some(found) = sails_io::env_proxy(&url, lookup) {
            b = b.proxy(found.url);
            proxy_variable = Some(found.variable);
        }
    }
    for path in &c.cacerts {
        for der in certificates(path)? {
            b = b.add_root_certificate(der);
        }
    }
    Ok((b, proxy_variable))
}

/// The DER certificates of a `--cacert` file: each CERTIFICATE block of a PEM file, or the file itself
/// (DER, checked when the socket is built).
fn certificates(path: &str) -> Result<Vec<Vec<u8>>, Failure> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let bytes = std::fs::read(path).map_err(|e| usage(format!("--cacert: cannot read {path:?}: {e}")))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Ok(vec![bytes]);
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|cert| cert.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(format!("--cacert: {path:?} is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(usage(format!("--cacert: no CERTIFICATE in {path:?}")));
    }
    Ok(certs)
}

/// The socket the flags describe, not connected yet; a setting the client refuses (e.g. a proxy URL it
/// cannot use) is a bad argument.
fn socket(server: &str, c: &Connection) -> Result<SailsSocket, Failure> {
    let (builder, proxy_variable) = builder(server, c)?;
    builder.build().map_err(|e| match proxy_variable {
        Some(variable) => usage(format!("{e} (the proxy URL comes from ${variable}; --noproxy '*' ignores it)")),
        None => usage(e.to_string()),
    })
}

fn parse_data(data: Option<&str>) -> Result<Value, Failure> {
    match data {
        None => Ok(json!({})),
        Some(text) => serde_json::from_str(text).map_err(|e| usage(format!("--data is not valid JSON: {e}"))),
    }
}

/// The bytes of `@FILE` (`@-`: stdin), as curl reads them.
fn read_source(path: &str, flag: &str) -> Result<Vec<u8>, Failure> {
    let read = if path == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    read.map_err(|e| usage(format!("{flag}: cannot read {path:?}: {e}")))
}

/// The request data of `request`: `--data` (text, `@FILE` or `@-`) with the `--field`s set on it.
fn request_data(data: Option<&str>, fields: &[String]) -> Result<Payload, Failure> {
    let text = match data.map(|d| (d, d.strip_prefix('@'))) {
        Some((_, Some(path))) => {
            let bytes = read_source(path, "--data")?;
            Some(String::from_utf8(bytes).map_err(|_| usage(format!("--data: {path:?} is not UTF-8 text")))?)
        }
        Some((text, None)) => Some(text.to_owned()),
        None => None,
    };
    let json = parse_data(text.as_deref())?;
    if fields.is_empty() {
        return Ok(Payload::Json(json));
    }
    let Value::Object(object) = json else {
        return Err(usage("--field sets keys of an object: --data must be a JSON object"));
    };
    let mut entries: Vec<(String, Payload)> = object.into_iter().map(|(k, v)| (k, Payload::Json(v))).collect();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| usage(format!("--field {field:?} is not `NAME=VALUE` or `NAME=@FILE`")))?;
        let value = match value.strip_prefix('@') {
            Some(path) => Payload::Binary(read_source(path, "--field")?),
            None => Payload::Json(Value::String(value.to_owned())),
        };
        match entries.iter_mut().find(|(key, _)| key == name) {
            Some(entry) => entry.1 = value,
            None => entries.push((name.to_owned(), value)),
        }
    }
    // Without binary data the body stays plain JSON.
    Ok(Payload::object(entries))
}

async fn request(
    method: &str,
    url: &str,
    data: Option<&str>,
    fields: &[String],
    headers: &[String],
    c: &Connection,
) -> Result<(), Failure> {
    let method: Method = method.parse().map_err(|e: Error| usage(e.to_string()))?;
    let (server, path) = split_url(url)?;
    let mut req = Request::new(method, path).data(request_data(data, fields)?);
    for h in headers {
        let (name, value) = h.split_once(':').ok_or_else(|| usage(format!("header {h:?} is not `Name: value`")))?;
        req = req.header(name.trim(), value.trim());
    }
    req.validate().map_err(|e| usage(e.to_string()))?;
    let socket = socket(&server, c)?;
    socket.connect().await?;
    let jwr = socket.request(req).await?;
    println!("{}", jwr.to_json());
    let _ = socket.disconnect().await;
    Ok(())
}

fn parse_request_spec(spec: &str) -> Result<Request, Failure> {
    let spec = spec.trim();
    let (method, rest) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
    let rest = rest.trim_start();
    let (path, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(usage(format!("--request {spec:?} must be 'METHOD PATH [JSON]'")));
    }
    let method: Method = method.parse().map_err(|e: Error| usage(e.to_string()))?;
    let json = json.trim();
    let req = Request::new(method, path).data(parse_data((!json.is_empty()).then_some(json))?);
    req.validate().map_err(|e| usage(e.to_string()))?;
    Ok(req)
}

async fn listen(
    url: &str,
    names: &[String],
    specs: &[String],
    count: Option<usize>,
    c: &Connection,
) -> Result<(), Failure> {
    let requests = specs.iter().map(|s| parse_request_spec(s)).collect::<Result<Vec<_>, _>>()?;
    let (server, _) = split_url(url)?;
    let socket = socket(&server, c)?;
    let mut events = socket.events();
    socket.connect().await?;
    for req in requests {
        let jwr = socket.request(req).await?;
        tracing::debug!("request answered: {}", jwr.to_json());
        if jwr.is_error() {
            eprintln!("sails-io: warning: request answered {}", jwr.to_json());
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(c.timeout);
    let mut printed = 0usize;
    while count.is_none_or(|n| printed < n) {
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => break, // the timeout: done
            Ok(None) => return Err(Failure(1, "the socket closed".into())),
            Ok(Some(e)) => e,
        };
        match event {
            SocketEvent::Server(e) if names.iter().any(|n| n == &e.name) => {
                println!("{}", json!({"event": e.name, "data": e.json_value()}));
                printed += 1;
            }
            SocketEvent::Disconnected { reason } => {
                return Err(Failure(1, format!("disconnected: {reason}")));
            }
            _ => {}
        }
    }
    let _ = socket.disconnect().await;
    match count {
        Some(n) if printed < n => Err(Failure(1, format!("{printed} of {n} events within {} s", c.timeout))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls_like_curl() {
        let (server, path) = split_url("http://127.0.0.1:1337/echo?x=1&y=2").ok().unwrap();
        assert_eq!((server.as_str(), path.as_str()), ("http://127.0.0.1:1337", "/echo?x=1&y=2"));
        let (server, path) = split_url("https://example.com").ok().unwrap();
        assert_eq!((server.as_str(), path.as_str()), ("https://example.com", "/"));
        assert!(split_url("nope").is_err());
    }

    #[test]
    fn parses_request_specs() {
        let r = parse_request_spec("post /rooms/a/say {\"text\": \"hi there\"}").ok().unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "/rooms/a/say");
        assert_eq!(r.data, sails_io::Payload::Json(json!({"text": "hi there"})));
        assert_eq!(parse_request_spec("GET /x").ok().unwrap().data, sails_io::Payload::Json(json!({})));
        assert!(parse_request_spec("GET").is_err());
        assert!(parse_request_spec("TRACE /x").is_err());
        assert!(parse_request_spec("POST /x 5").is_err(), "data must be an object or array");
    }

    #[test]
    fn fields_set_keys_of_the_data_object() {
        let data = |d: Option<&str>, f: &[&str]| {
            request_data(d, &f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(|Failure(code, m)| (code, m))
        };
        assert_eq!(data(None, &[]).unwrap(), Payload::Json(json!({})));
        assert_eq!(data(Some("[1]"), &[]).unwrap(), Payload::Json(json!([1])));
        // Strings only: still plain JSON, the field replacing the key in place.
        assert_eq!(
            data(Some(r#"{"a":1,"b":2}"#), &["a=x", "c="]).unwrap(),
            Payload::Json(json!({"a": "x", "b": 2, "c": ""}))
        );
        let file = std::env::temp_dir().join(format!("sails-io-cli-unit-{}", std::process::id()));
        std::fs::write(&file, [1u8, 2, 3]).unwrap();
        let at_file = format!("f=@{}", file.display());
        assert_eq!(
            data(Some(r#"{"a":1}"#), &[&at_file, "a=2"]).unwrap(),
            Payload::Object(vec![
                ("a".into(), Payload::Json(json!("2"))),
                ("f".into(), Payload::Binary(vec![1, 2, 3])),
            ])
        );
        let _ = std::fs::remove_file(&file);
        assert_eq!(data(Some("[1]"), &["a=b"]).unwrap_err().0, 2);
        assert_eq!(data(None, &["novalue"]).unwrap_err().0, 2);
        assert_eq!(data(None, &["f=@/nonexistent/sails-io-cli-unit"]).unwrap_err().0, 2);
        assert_eq!(data(Some("@/nonexistent/sails-io-cli-unit"), &[]).unwrap_err().0, 2);
    }
}
