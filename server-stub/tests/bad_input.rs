//! Every malformed-frame class: the offending connection gets the real server's answer or a contained
//! one (parse error / that connection closed), the server stays up, and another socket is unaffected.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const SHORT: Duration = Duration::from_millis(400);

/// A bystander connected before the bad frame must still be served afterwards.
async fn bystander_ok(by: &mut Client, id: u64) {
    let jwr = by.request(id, "get", "/hello", json!({})).await;
    assert_eq!(jwr, json!({"body": {"hello": "world"}, "headers": {}, "statusCode": 200}));
}

async fn closes_connection(eio: &str, frame: &str) {
    let server = start().await;
    let mut by = Client::connect(&server, "3").await;
    let mut bad = Client::connect(&server, eio).await;
    bad.send(frame).await;
    bad.expect_closed(T).await;
    bystander_ok(&mut by, 0).await;
    // and new connections are accepted
    let mut fresh = Client::connect(&server, eio).await;
    bystander_ok(&mut fresh, 0).await;
}

#[tokio::test]
async fn invalid_json_closes_that_connection() {
    closes_connection("3", "42[").await;
    closes_connection("4", r#"421["get",{"url":"/hello"}"#).await;
}

#[tokio::test]
async fn unknown_socketio_packet_type_closes() {
    closes_connection("3", "49").await;
    closes_connection("4", "49[]").await;
}

#[tokio::test]
async fn unknown_engineio_packet_type_closes() {
    closes_connection("3", "9").await;
    closes_connection("4", "9hello").await;
}

#[tokio::test]
async fn event_payload_not_an_array_closes() {
    closes_connection("3", r#"42{"a":1}"#).await;
}

#[tokio::test]
async fn binary_frame_where_text_is_expected_closes() {
    for eio in ["3", "4"] {
        let server = start().await;
        let mut by = Client::connect(&server, "4").await;
        let mut bad = Client::connect(&server, eio).await;
        bad.send_binary(vec![0xde, 0xad, 0xbe, 0xef]).await;
        bad.expect_closed(T).await;
        bystander_ok(&mut by, 0).await;
    }
}

#[tokio::test]
async fn event_before_connect_closes_eio4() {
    let server = start().await;
    let mut by = Client::connect(&server, "3").await;
    let mut ws = raw_ws(&ws_url(&server, "4", SDK_QUERY), &[]).await.unwrap();
    match next_frame(&mut ws, T).await {
        Some(Frame::Text(t)) => assert!(t.starts_with("0{")),
        other => panic!("{other:?}"),
    }
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(r#"420["get",{"url":"/hello"}]"#)).await.unwrap();
    loop {
        match next_frame(&mut ws, T).await {
            Some(Frame::Closed) => break,
            Some(Frame::Text(t)) if t == "2" || t == "1" => continue,
            other => panic!("expected close, got {other:?}"),
        }
    }
    bystander_ok(&mut by, 0).await;
}

#[tokio::test]
async fn wrong_heartbeat_direction_is_contained() {
    // Real engine.io closes on a wrong-direction heartbeat; socketioxide ignores it (README). Either way
    // the offender may not disturb anyone else, and it must not get an answer to a wrong-way pong.
    let server = start().await;
    let mut by = Client::connect(&server, "4").await;
    let mut v3 = Client::connect(&server, "3").await;
    v3.send("3").await;
    let mut v4 = Client::connect(&server, "4").await;
    v4.send("2").await;
    bystander_ok(&mut by, 0).await;
    // whatever the offenders got, the server is still up for new clients
    let mut fresh = Client::connect(&server, "3").await;
    bystander_ok(&mut fresh, 0).await;
}

#[tokio::test]
async fn absurd_ack_ids_do_not_hurt() {
    let server = start().await;
    let mut by = Client::connect(&server, "3").await;
    let mut bad = Client::connect(&server, "3").await;
    // 25 digits overflow socketioxide's i64 ack id: no ack comes back (real socket.io acks with a
    // float id); the request is still routed without harm.
    bad.send(r#"421234567890123456789012345["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#).await;
    let mut seen = Vec::new();
    while let Some(f) = bad.next(SHORT).await {
        if f == Frame::Closed {
            break;
        }
        seen.push(f);
    }
    assert!(seen.iter().all(|f| !matches!(f, Frame::Text(t) if t.starts_with("43"))), "{seen:?}");
    // the largest id that fits is acked verbatim
    bystander_ok(&mut by, 0).await;
    let jwr = by.request(9_007_199_254_740_991, "get", "/hello", json!({})).await;
    assert_eq!(jwr["statusCode"], 200);
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let server = start_with(sails_io_stub::Builder::new().max_payload(10_000)).await;
    assert_eq!(Client::connect(&server, "3").await.open["maxPayload"], 10_000);
    let mut by = Client::connect(&server, "3").await;
    let mut bad = Client::connect(&server, "3").await;
    let big = "x".repeat(20_000);
    bad.send(&format!(r#"421["post",{{"method":"post","headers":{{}},"data":{{"big":"{big}"}},"url":"/echo"}}]"#))
        .await;
    bad.expect_closed(T).await;
    bystander_ok(&mut by, 0).await;
}

#[tokio::test]
async fn unknown_events_are_ignored() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    for ev in ["purge", "GET", "connect_foo"] {
        c.send(&format!(r#"421["{ev}",{{"method":"get","url":"/echo"}}]"#)).await;
    }
    assert_eq!(c.next(SHORT).await, None, "no answer to unknown events");
    bystander_ok(&mut c, 2).await;
}

#[tokio::test]
async fn non_object_payloads_get_parse_errors() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    // `421["get",null]` crashes real Sails; here: the parse error as the ack
    let err = c.emit_ack(1, r#"["get",null]"#).await;
    assert_eq!(err["details"], "No url provided in request: null");
    let err = c.emit_ack(2, r#"["get",5]"#).await;
    assert_eq!(err["details"], "No url provided in request: 5");
    let err = c.emit_ack(3, r#"["get","just a string"]"#).await;
    assert_eq!(err["details"], "No url provided in request: just a string");
    let err = c.emit_ack(4, r#"["get",[1,2]]"#).await;
    assert_eq!(err["details"], "No url provided in request: [ 1, 2 ]");
    let err = c.emit_ack(5, r#"["get",{"url":{"a":1}}]"#).await;
    assert_eq!(err["details"], "Invalid url provided: { a: 1 }");
    // `42["get"]`: no ack possible → sails:parseError event
    c.send(r#"42["get"]"#).await;
    // `426["get"]`: socket.io passes the ack function as the message, so there is no callback either
    c.send(r#"426["get"]"#).await;
    let ev = c.collect_events(SHORT).await;
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0][0], "sails:parseError");
    assert_eq!(ev[0][1]["details"], "No url provided in request: undefined");
    assert_eq!(ev[1][0], "sails:parseError");
    assert_eq!(ev[1][1]["details"], "No url provided in request: [Function (anonymous)]");
    bystander_ok(&mut c, 7).await;
}

/// Request messages that look almost like the usual `["get",{"url":…}]` and still follow the general
/// rules (the stub reads the usual shape without building a map, and must not take these for it).
#[tokio::test]
async fn near_usual_messages_follow_the_general_rules() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    // An array is not a message object, even with a URL in it.
    let err = c.emit_ack(1, r#"["get",["/hello"]]"#).await;
    assert_eq!(err["details"], "No url provided in request: [ '/hello' ]");
    // A repeated key takes its last value, as JSON.parse does.
    let err = c.emit_ack(2, r#"["get",{"url":"/hello","url":""}]"#).await;
    assert_eq!(err["details"], "No url provided in request: { url: '' }");
    let jwr = c.emit_ack(3, r#"["post",{"url":"/echo","data":{"a":1},"data":{"b":2},"headers":{"x-test":"1"},"headers":{"x-test":"2"}}]"#).await;
    assert_eq!((&jwr["body"]["body"], &jwr["body"]["headers"]["x-test"]), (&json!({"b":2}), &json!("2")));
    // `headers` that is not an object is left out; other keys are ignored.
    let jwr = c.emit_ack(4, r#"["post",{"url":"/echo","headers":"x","method":"put","data":{"n":1}}]"#).await;
    assert_eq!(
        (&jwr["statusCode"], &jwr["body"]["method"], &jwr["body"]["body"]),
        (&json!(200), &json!("POST"), &json!({"n":1}))
    );
    // A third argument that is not the callback.
    c.send(r#"425["get",{"url":"/hello"},{"x":1}]"#).await;
    let ev = c.collect_events(SHORT).await;
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0][0], "sails:parseError");
    bystander_ok(&mut c, 6).await;
}

#[tokio::test]
async fn binary_attachment_in_request_becomes_an_array_of_bytes() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    c.send(
        r#"451-1["post",{"method":"post","headers":{},"data":{"buf":{"_placeholder":true,"num":0}},"url":"/echo"}]"#,
    )
    .await;
    c.send_binary(vec![4, 1, 2, 3]).await; // EIO3 binary message: 0x04 prefix
    let jwr = c.wait_ack(1).await;
    // As real Sails gives it (checked with sails.io.js posting a `Buffer` to the conformance app).
    assert_eq!(jwr["body"]["body"]["buf"], json!([1, 2, 3]));
}

#[tokio::test]
async fn a_panicking_action_is_a_500_and_the_socket_lives_on() {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("boom");
            }
            "unreachable"
        }),
    );
    let server = sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(app).start().await.unwrap();
    let mut c = Client::connect(&server, "3").await;
    let jwr = c.request(0, "get", "/boom", json!({})).await;
    assert_eq!(jwr["statusCode"], 500);
    assert!(jwr["body"].as_str().unwrap().starts_with("Error: "));
    assert_eq!(c.request(1, "get", "/nope", json!({})).await["statusCode"], 404);
}
