//! `sails-io-stub`: run the conformance app on a Sails-compatible socket server.

use std::io::Write as _;
use std::time::Duration;

use clap::Parser;
use sails_io_stub::{Builder, Transport};

/// Command-line flags (Sails `config/sockets.js` equivalents).
#[derive(Parser, Debug)]
#[command(name = "sails-io-stub", version, about)]
struct Cli {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 = pick a free one).
    #[arg(long, default_value_t = 1337)]
    port: u16,
    /// Socket.IO path.
    #[arg(long, default_value = "/socket.io")]
    path: String,
    /// Ping interval in ms.
    #[arg(long, default_value_t = 25_000)]
    ping_interval: u64,
    /// Ping timeout in ms.
    #[arg(long, default_value_t = 60_000)]
    ping_timeout: u64,
    /// maxHttpBufferSize in bytes.
    #[arg(long, default_value_t = 100_000_000)]
    max_payload: u64,
    /// Transports, comma separated: websocket, polling.
    #[arg(long, default_value = "websocket", value_delimiter = ',')]
    transports: Vec<String>,
    /// onlyAllowOrigins, comma separated.
    #[arg(long, value_delimiter = ',')]
    only_allow_origins: Option<Vec<String>>,
    /// With --only-allow-origins, also reject handshakes that send no Origin (as real Sails does).
    #[arg(long)]
    reject_missing_origin: bool,
    /// sendStatusCode.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    send_status_code: bool,
    /// sendResponseHeaders.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    send_response_headers: bool,
    /// Session cookie secret.
    #[arg(long)]
    session_secret: Option<String>,
    /// Worker threads: 1 serves everything on one thread, as a Node process does (the lowest latency
    /// per request and the most requests per socket); 0 uses one per CPU core.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() {
    let cli = Cli::parse();
    match sails_io_stub::runtime(cli.threads) {
        Ok(runtime) => runtime.block_on(serve(cli)),
        Err(e) => {
            eprintln!("sails-io-stub: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn serve(cli: Cli) {
    let mut transports = Vec::new();
    for t in &cli.transports {
        match t.trim() {
            "websocket" => transports.push(Transport::Websocket),
            "polling" => transports.push(Transport::Polling),
            other => {
                eprintln!("sails-io-stub: unknown transport `{other}` (websocket, polling)");
                std::process::exit(2);
            }
        }
    }
    let mut b = Builder::new()
        .host(cli.host.clone())
        .port(cli.port)
        .path(cli.path)
        .ping_interval(Duration::from_millis(cli.ping_interval))
        .ping_timeout(Duration::from_millis(cli.ping_timeout))
        .max_payload(cli.max_payload)
        .transports(&transports)
        .reject_missing_origin(cli.reject_missing_origin)
        .send_status_code(cli.send_status_code)
        .send_response_headers(cli.send_response_headers)
        .app(sails_io_stub::demo::router());
    if let Some(o) = cli.only_allow_origins {
        b = b.only_allow_origins(o);
    }
    if let Some(s) = cli.session_secret {
        b = b.session_secret(s);
    }
    let server = match b.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sails-io-stub: cannot listen on {}:{}: {e}", cli.host, cli.port);
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{}:{}", cli.host, server.addr().port());
    let _ = out.flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => server.shutdown().await,
    }
}
