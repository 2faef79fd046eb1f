//! A tour of the client against a running Sails server (or `sails-io-stub`):
//! requests, a room broadcast between two sockets, and model pubsub.
//!
//! Run: `cargo run -p sails-io --example quickstart -- http://127.0.0.1:1337` (the server must serve the
//! conformance app routes: `/hello`, `/echo`, `/rooms/:room/*`, `/pet`).

use std::time::Duration;

use futures_util::StreamExt;
use sails_io::{ModelEvent, SailsSocket, SocketEvent};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), sails_io::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:1337".into());

    // Two sockets, as two browser tabs would have.
    let alice = SailsSocket::builder(&url).header("x-test", "from-alice").connect().await?;
    let bob = SailsSocket::connect_to(&url).await?;
    println!("alice is {:?}, bob is {:?}", alice.id(), bob.id());

    let hello = alice.get("/hello").await?;
    println!("GET /hello -> {} {}", hello.status_code, hello.to_json());
    let echo = alice.post("/echo?lang=rust", &json!({"answer": 42})).await?;
    println!("POST /echo -> {}", echo.body_json().map(|b| b["params"].clone()).unwrap_or_default());
    let missing = alice.get("/no/such/route").await?;
    println!("GET /no/such/route -> {} (is_error: {})", missing.status_code, missing.is_error());

    // Room broadcast: bob joins, alice says something, bob hears it.
    let mut bob_events = bob.events();
    bob.post("/rooms/lobby/join", &json!({})).await?.error_for_status()?;
    alice.post("/rooms/lobby/say", &json!({"text": "hi bob"})).await?.error_for_status()?;
    // Model pubsub: bob watches pets (blueprint find subscribes), alice creates one.
    bob.on_json::<ModelEvent>("pet", |event| match event {
        Ok(e) => println!(
            "bob's handler: pet {} id {} name {}",
            e.verb,
            e.id.unwrap_or_default(),
            e.data.unwrap_or_default()["name"]
        ),
        Err(e) => println!("bob's handler: undecodable pet event: {e}"),
    });
    bob.get("/pet").await?.error_for_status()?;
    let created = alice.post("/pet", &json!({"name": "Rex"})).await?.error_for_status()?;
    println!("POST /pet -> {}", created.to_json());

    let mut seen = 0;
    while seen < 2 {
        match tokio::time::timeout(Duration::from_secs(5), bob_events.next()).await {
            Ok(Some(SocketEvent::Server(e))) if e.name == "said" || e.name == "pet" => {
                println!("bob's stream: {} {}", e.name, e.json_value());
                seen += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                eprintln!("expected events did not arrive");
                std::process::exit(1);
            }
        }
    }
    alice.disconnect().await?;
    bob.disconnect().await?;
    println!("done");
    Ok(())
}
