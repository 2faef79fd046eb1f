//! Socket-side conformance: handshakes, every route's exact JWR, parse errors, sessions, rooms, pubsub.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn eio3_handshake_open_packet_and_bare_40() {
    let server = start().await;
    let c = Client::connect(&server, "3").await;
    let open = &c.open;
    let keys: Vec<&str> = open.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]);
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 60000);
    assert_eq!(open["maxPayload"], 100000000);
    assert_eq!(c.id, c.sid);
}

#[tokio::test]
async fn eio4_handshake_replies_40_with_sid() {
    let server = start().await;
    let mut c = Client::connect(&server, "4").await;
    assert!(!c.id.is_empty());
    // the socket id is what /me/id reports
    let jwr = c.request(0, "get", "/me/id", json!({})).await;
    assert_eq!(jwr["body"]["id"], c.id.as_str());
}

#[tokio::test]
async fn any_eio_other_than_4_is_v3() {
    let server = start().await;
    for eio in ["5", "abc", ""] {
        let mut c = Client::connect(&server, eio).await; // asserts bare `40` unprompted
        let jwr = c.request(0, "get", "/hello", json!({})).await;
        assert_eq!(jwr["statusCode"], 200, "EIO={eio}");
    }
}

#[tokio::test]
async fn eio3_ping_pong_direction() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    c.send("2").await;
    assert_eq!(c.next(T).await, Some(Frame::Text("3".into())));
}

#[tokio::test]
async fn hello_exact_jwr_both_protocols() {
    let server = start().await;
    for eio in ["3", "4"] {
        let mut c = Client::connect(&server, eio).await;
        c.send(r#"420["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#).await;
        assert_eq!(
            c.next(T).await,
            Some(Frame::Text(r#"430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#.into()))
        );
    }
}

#[tokio::test]
async fn echo_every_verb() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    for (id, verb) in ["get", "post", "put", "patch", "delete", "options", "head"].into_iter().enumerate() {
        let jwr = c.request(id as u64, verb, "/echo?x=1&y[z]=2&list=a&list=b", json!({"d": "data", "n": 5})).await;
        assert_eq!(jwr["statusCode"], 200, "{verb}");
        assert_eq!(jwr["headers"], json!({}), "{verb}");
        assert_eq!(
            jwr["body"],
            json!({
                "method": verb.to_uppercase(),
                "url": "/echo?x=1&y[z]=2&list=a&list=b",
                "path": "/echo",
                "query": {"x": "1", "y[z]": "2", "list": ["a", "b"]},
                "body": {"d": "data", "n": 5},
                "params": {"x": "1", "y[z]": "2", "list": ["a", "b"], "d": "data", "n": 5},
                "headers": {"x-test": null, "content-type": null, "hasCookie": true},
                "isSocket": true,
                "wantsJSON": true
            }),
            "{verb}"
        );
    }
}

#[tokio::test]
async fn echo_request_headers_params_data_merge_and_arrays() {
    let server = start().await;
    let mut c = Client::connect(&server, "4").await;
    let jwr = c
        .emit_ack(
            1,
            r#"["post",{"method":"get","headers":{"x-test":"per-request","content-type":"application/json","X-Num":7},"params":{"p":1,"d":1},"data":{"d":2},"url":"/echo/"}]"#,
        )
        .await;
    let body = &jwr["body"];
    // the event name is the method, not the payload's `method`
    assert_eq!(body["method"], "POST");
    assert_eq!(body["url"], "/echo/");
    assert_eq!(body["body"], json!({"p": 1, "d": 2}));
    assert_eq!(body["headers"]["x-test"], "per-request");
    assert_eq!(body["headers"]["content-type"], "application/json");
    // array data stays an array; a string is spread into indices
    let jwr = c.request(2, "post", "/echo", json!([1, "two", null])).await;
    assert_eq!(jwr["body"]["body"], json!([1, "two", null]));
    let jwr = c.request(3, "post", "/echo", json!("str")).await;
    assert_eq!(jwr["body"]["body"], json!({"0": "s", "1": "t", "2": "r"}));
}

#[tokio::test]
async fn status_text_redirect_error_notfound_getcookie_jwrs() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    assert_eq!(
        c.request(0, "get", "/status/418", json!({})).await,
        json!({"body": {"code": 418}, "headers": {}, "statusCode": 418})
    );
    assert_eq!(
        c.request(1, "get", "/text", json!({})).await,
        json!({"body": "plain text", "headers": {"content-type": "text/plain; charset=utf-8"}, "statusCode": 200})
    );
    assert_eq!(
        c.request(2, "get", "/redirect", json!({})).await,
        json!({"body": "Redirecting to /hello",
               "headers": {"content-type": "text/html", "Location": "/hello", "location": "/hello"},
               "statusCode": 302})
    );
    let err = c.request(3, "get", "/error", json!({})).await;
    assert_eq!(err["statusCode"], 500);
    assert_eq!(err["headers"], json!({}));
    assert!(err["body"].as_str().unwrap().starts_with("Error: Intentional conformance error\n"));
    assert_eq!(
        c.request(4, "get", "/does/not/exist", json!({})).await,
        json!({"body": "Not Found", "headers": {}, "statusCode": 404})
    );
    assert_eq!(
        c.request(5, "post", "/hello", json!({"x": 1})).await,
        json!({"body": "Not Found", "headers": {}, "statusCode": 404})
    );
    assert_eq!(c.request(6, "get", "hello", json!({})).await["statusCode"], 404);
    assert_eq!(
        c.request(7, "get", "/__getcookie", json!({})).await,
        json!({"body": "_sailsIoJSConnect();",
               "headers": {"Content-Type": "application/javascript", "content-type": "application/javascript"},
               "statusCode": 200})
    );
}

/// Real Sails: OPTIONS on any path without an OPTIONS handler gets the virtual router's automatic
/// answer, whose JWR has `setHeader` headers (`content-length` a number) and no `body` key.
#[tokio::test]
async fn automatic_options_jwr_has_headers_and_no_body() {
    let server = start().await;
    for eio in ["3", "4"] {
        let mut c = Client::connect(&server, eio).await;
        for (i, url) in ["/hello", "/pet", "/pet/1", "/login", "/does/not/exist", "/", "/__getcookie", "/hello/"]
            .into_iter()
            .enumerate()
        {
            let opt = c.request(i as u64, "options", url, json!({})).await;
            assert_eq!(
                opt,
                json!({"headers": {"allow": "DELETE, GET, HEAD, PATCH, POST, PUT", "content-length": 35,
                                   "content-type": "text/plain", "x-content-type-options": "nosniff"},
                       "statusCode": 200}),
                "EIO={eio} options {url}"
            );
        }
        // a route with an OPTIONS handler (`ALL /echo`) is routed to it
        let echo = c.request(20, "options", "/echo", json!({})).await;
        assert_eq!(echo["statusCode"], 200);
        assert_eq!(echo["body"]["method"], "OPTIONS");
    }
}

/// Real Sails: `res.status(204).json(x)` over a socket keeps its body (only Node's HTTP layer strips it).
#[tokio::test]
async fn status_204_and_304_keep_their_json_body() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    c.send(r#"420["get",{"method":"get","headers":{},"data":{},"url":"/status/204"}]"#).await;
    assert_eq!(
        c.next(T).await,
        Some(Frame::Text(r#"430[{"body":{"code":204},"headers":{},"statusCode":204}]"#.into()))
    );
    let jwr = c.request(1, "get", "/status/304", json!({})).await;
    assert_eq!(jwr, json!({"body": {"code": 304}, "headers": {}, "statusCode": 304}));
    let jwr = c.request(2, "head", "/status/204", json!({})).await;
    assert_eq!(jwr, json!({"body": {"code": 204}, "headers": {}, "statusCode": 204}));
}

/// `res.status(204).send()` (an empty body) still has no `body` key.
#[tokio::test]
async fn empty_response_has_no_body_key() {
    use axum::routing::get;
    let app = axum::Router::new().route("/empty", get(|| async { sails_io_stub::Res::new().status(204).end() }));
    let server = sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(app).start().await.unwrap();
    let mut c = Client::connect(&server, "4").await;
    assert_eq!(c.request(0, "get", "/empty", json!({})).await, json!({"headers": {}, "statusCode": 204}));
}

#[tokio::test]
async fn send_status_code_and_headers_can_be_turned_off() {
    let server = start_with(sails_io_stub::Builder::new().send_status_code(false).send_response_headers(false)).await;
    let mut c = Client::connect(&server, "3").await;
    assert_eq!(c.request(0, "get", "/hello", json!({})).await, json!({"body": {"hello": "world"}}));
}

#[tokio::test]
async fn parse_errors_ack_or_event() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    let err = c.request(0, "get", "", json!({})).await;
    let keys: Vec<&str> = err.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["code", "name", "status", "message", "stack", "details"]);
    assert_eq!(err["code"], "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ");
    assert_eq!(err["name"], "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):");
    assert_eq!(err["status"], 400);
    assert_eq!(err["message"], "Failed to parse incoming socket.io request.");
    assert_eq!(err["details"], "No url provided in request: { method: 'get', headers: {}, data: {}, url: '' }");
    let err = c.emit_ack(1, r#"["get",{"url":5}]"#).await;
    assert_eq!(err["details"], "Invalid url provided: 5");
    // no ack id → sails:parseError event
    c.send(r#"42["get",{"method":"get","data":{}}]"#).await;
    let ev = c.collect_events(Duration::from_millis(300)).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0][0], "sails:parseError");
    assert_eq!(ev[0][1]["details"], "No url provided in request: { method: 'get', data: {} }");
    // a non-function "callback" argument: parse error event, never an ack
    c.send(r#"423["get",{"url":"/hello"},"extra"]"#).await;
    let ev = c.collect_events(Duration::from_millis(300)).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0][0], "sails:parseError");
    assert_eq!(
        ev[0][1]["details"],
        "Could not parse request- callback may be omitted... but if provided, it must be a function."
    );
}

#[tokio::test]
async fn sdk_version_gate_per_request() {
    let server = start().await;
    // missing version counts as 0.9.0
    let mut c = Client::connect_with(&server, "3", "", &[]).await;
    let err = c.request(0, "get", "/hello", json!({})).await;
    assert_eq!(err["code"], "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ");
    assert!(err["details"].as_str().unwrap().contains("SDK version you are using (0.9.0)"));
    // non-semver: a parse error, not a crash
    let mut c = Client::connect_with(&server, "3", "__sails_io_sdk_version=abc", &[]).await;
    let err = c.request(0, "get", "/hello", json!({})).await;
    assert!(err["details"].as_str().unwrap().contains("(abc)"));
    // prerelease passes; header form wins over the query
    let mut c = Client::connect_with(&server, "3", "__sails_io_sdk_version=1.0.0-rc.1", &[]).await;
    assert_eq!(c.request(0, "get", "/hello", json!({})).await["statusCode"], 200);
    let mut c =
        Client::connect_with(&server, "3", "__sails_io_sdk_version=0.10.0", &[("__sails_io_sdk_version", "1.2.1")])
            .await;
    assert_eq!(c.request(0, "get", "/hello", json!({})).await["statusCode"], 200);
    // the server is still serving
    let mut ok = Client::connect(&server, "4").await;
    assert_eq!(ok.request(0, "get", "/hello", json!({})).await["statusCode"], 200);
}

#[tokio::test]
async fn generated_session_lives_with_the_socket() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    assert_eq!(c.request(0, "get", "/whoami", json!({})).await["body"], json!({"userId": null}));
    assert_eq!(
        c.request(1, "get", "/secret", json!({})).await,
        json!({"body": "Forbidden", "headers": {}, "statusCode": 403})
    );
    let login = c.request(2, "post", "/login", json!({"userId": "carol"})).await;
    assert_eq!(login, json!({"body": {"ok": true, "userId": "carol"}, "headers": {}, "statusCode": 200}));
    assert_eq!(c.request(3, "get", "/whoami", json!({})).await["body"], json!({"userId": "carol"}));
    assert_eq!(
        c.request(4, "get", "/secret", json!({})).await["body"],
        json!({"secret": "the cake is a lie", "userId": "carol"})
    );
    // a new socket gets a fresh session
    let mut d = Client::connect(&server, "3").await;
    assert_eq!(d.request(0, "get", "/whoami", json!({})).await["body"], json!({"userId": null}));
}

#[tokio::test]
async fn http_cookie_session_is_shared_with_socket_and_back() {
    let server = start().await;
    let http = reqwest::Client::new();
    let res = http.post(format!("{}/login", server.url())).json(&json!({"userId": "alice"})).send().await.unwrap();
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("sails.sid=s%3A"), "{set_cookie}");
    assert!(set_cookie.ends_with("; Path=/; HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let mut c = Client::connect_with(&server, "3", SDK_QUERY, &[("cookie", &cookie)]).await;
    assert_eq!(c.request(0, "get", "/whoami", json!({})).await["body"], json!({"userId": "alice"}));
    // the handshake cookie beats a per-request cookie header
    let jwr = c
        .emit_ack(1, r#"["get",{"method":"get","headers":{"cookie":"sails.sid=bogus"},"data":{},"url":"/whoami"}]"#)
        .await;
    assert_eq!(jwr["body"], json!({"userId": "alice"}));
    // login over the socket, visible over HTTP
    c.request(2, "post", "/login", json!({"userId": "bob"})).await;
    let who: Value = http
        .get(format!("{}/whoami", server.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who, json!({"userId": "bob"}));
}

#[tokio::test]
async fn nosession_handshake_header() {
    let server = start().await;
    let mut c = Client::connect_with(&server, "3", SDK_QUERY, &[("nosession", "true")]).await;
    let echo = c.request(0, "get", "/echo", json!({})).await;
    assert_eq!(echo["body"]["headers"]["hasCookie"], false);
    // no `req.session` at all: the login action throws a TypeError (development-mode 500, stack as body)
    let login = c.request(1, "post", "/login", json!({"userId": "nobody"})).await;
    assert_eq!(login["statusCode"], 500);
    assert_eq!(login["headers"], json!({}));
    let body = login["body"].as_str().unwrap();
    assert!(body.starts_with("TypeError: Cannot set properties of undefined (setting 'userId')\n    at "), "{body}");
    assert_eq!(c.request(2, "get", "/whoami", json!({})).await["body"], json!({"userId": null}));
    assert_eq!(c.request(3, "get", "/secret", json!({})).await["statusCode"], 403);
}

#[tokio::test]
async fn nosession_query_adopts_first_set_cookie() {
    let server = start().await;
    let mut c = Client::connect_with(&server, "3", &format!("{SDK_QUERY}&nosession=true"), &[]).await;
    let first = c.request(0, "post", "/login", json!({"userId": "q"})).await;
    // set-cookie never reaches the JWR
    assert_eq!(first["headers"], json!({}));
    // ...but it was adopted as the socket's cookie
    assert_eq!(c.request(1, "get", "/whoami", json!({})).await["body"], json!({"userId": "q"}));
}

#[tokio::test]
async fn rooms_join_say_leave_with_sender_omitted() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let mut b = Client::connect(&server, "4").await;
    let mut c = Client::connect(&server, "3").await;
    assert_eq!(
        a.request(0, "post", "/rooms/lobby/join", json!({})).await,
        json!({"body": {"joined": "lobby"}, "headers": {}, "statusCode": 200})
    );
    b.request(0, "post", "/rooms/lobby/join", json!({})).await;
    let say = a.request(1, "post", "/rooms/lobby/say", json!({"text": "hi ✓"})).await;
    assert_eq!(say["body"], json!({"ok": true}));
    assert!(a.collect_events(Duration::from_millis(200)).await.is_empty());
    let got = b.collect_events(Duration::from_millis(300)).await;
    assert_eq!(got, vec![json!(["said", {"room": "lobby", "text": "hi ✓"}])]);
    assert!(c.collect_events(Duration::from_millis(100)).await.is_empty());
    // over HTTP nobody is omitted
    reqwest::Client::new()
        .post(format!("{}/rooms/lobby/say", server.url()))
        .json(&json!({"text": "http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(events_named(&a.collect_events(Duration::from_millis(300)).await, "said").len(), 1);
    assert_eq!(events_named(&b.collect_events(Duration::from_millis(100)).await, "said").len(), 1);
    assert_eq!(a.request(2, "post", "/rooms/lobby/leave", json!({})).await["body"], json!({"left": "lobby"}));
    b.request(1, "post", "/rooms/lobby/say", json!({})).await;
    assert!(a.collect_events(Duration::from_millis(300)).await.is_empty());
    // no text → no `text` key
    let mut b2 = Client::connect(&server, "3").await;
    b2.request(0, "post", "/rooms/lobby/join", json!({})).await;
    a.request(3, "post", "/rooms/lobby/say", json!({})).await;
    assert_eq!(b2.collect_events(Duration::from_millis(300)).await, vec![json!(["said", {"room": "lobby"}])]);
}

#[tokio::test]
async fn broadcast_event_precedes_ack() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    a.request(0, "post", "/rooms/r/join", json!({})).await;
    // an HTTP-less check: a socket saying to its own room while another member... the sender is
    // omitted, so use blast which reaches the sender too
    a.send(r#"421["post",{"method":"post","headers":{},"data":{"x":1},"url":"/blast"}]"#).await;
    let first = a.next(T).await;
    assert_eq!(first, Some(Frame::Text(r#"42["announcement",{"x":1}]"#.into())));
    let second = a.next(T).await;
    assert_eq!(second, Some(Frame::Text(r#"431[{"body":{"ok":true},"headers":{},"statusCode":200}]"#.into())));
}

#[tokio::test]
async fn blast_reaches_every_socket_on_both_protocols() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let mut b = Client::connect(&server, "4").await;
    reqwest::Client::new()
        .post(format!("{}/blast", server.url()))
        .json(&json!({"msg": "from http", "n": [1, 2]}))
        .send()
        .await
        .unwrap();
    for c in [&mut a, &mut b] {
        assert_eq!(
            c.collect_events(Duration::from_millis(300)).await,
            vec![json!(["announcement", {"msg": "from http", "n": [1, 2]}])]
        );
    }
}

#[tokio::test]
async fn sockets_api_rooms_and_per_room_emits() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let s = &server.sockets;
    // every socket is in its own id room
    assert!(s.socket_rooms(&a.id).unwrap().contains(&a.id));
    s.join(&a.id, "r1");
    s.join(&a.id, "r2");
    s.broadcast(&["r1", "r2"], None, &json!({"greeting": "hi"}), None).await;
    // one emit per room → two copies; default event `message`
    assert_eq!(
        a.collect_events(Duration::from_millis(300)).await,
        vec![json!(["message", {"greeting": "hi"}]), json!(["message", {"greeting": "hi"}])]
    );
    s.add_room_members_to_rooms("r1", &["r3"]);
    assert!(s.members("r3").contains(&a.id));
    s.remove_room_members_from_rooms("r1", &["r3"]);
    assert!(!s.members("r3").contains(&a.id));
    s.leave_all("r1", false);
    let rooms = s.socket_rooms(&a.id).unwrap();
    assert_eq!(rooms, vec![a.id.clone()]);
    s.broadcast(&[&a.id], Some("custom"), &json!(1), Some(&a.id)).await;
    assert!(a.collect_events(Duration::from_millis(200)).await.is_empty());
}

#[tokio::test]
async fn pet_blueprints_and_pubsub() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let mut b = Client::connect(&server, "4").await;
    let mut c = Client::connect(&server, "3").await;
    assert_eq!(b.request(0, "get", "/pet", json!({})).await["body"], json!([]));
    c.request(0, "get", "/pet", json!({})).await;
    // invalid: name is required
    let bad = a.request(0, "post", "/pet", json!({"species": "cat"})).await;
    assert_eq!(bad["statusCode"], 400);
    assert_eq!(bad["body"]["code"], "E_INVALID_NEW_RECORD");
    assert_eq!(
        bad["body"]["details"],
        "Missing value for required attribute `name`.  Expected a string, but instead, got: undefined"
    );
    assert_eq!(
        bad["body"]["message"],
        "The server could not fulfill this request (`POST /pet`) due to a problem with the parameters that were \
         sent.  See the `details` for more info.  **The following additional tip will not be shown in \
         production**:  Tip: Check your client-side code to make sure that the request data it sends matches the \
         expectations of the corresponding attributes in your model.  Also check that your client-side code sends \
         data for every required attribute."
    );
    assert_eq!(bad["headers"], json!({}));
    let created = a.request(1, "post", "/pet", json!({"name": "Rex"})).await;
    assert_eq!(created["statusCode"], 200);
    let rec = created["body"].clone();
    let keys: Vec<&str> = rec.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["createdAt", "updatedAt", "id", "name", "species"]);
    assert_eq!(rec["species"], "dog");
    let id = rec["id"].clone();
    assert!(a.collect_events(Duration::from_millis(200)).await.is_empty());
    for w in [&mut b, &mut c] {
        assert_eq!(
            w.collect_events(Duration::from_millis(300)).await,
            vec![json!(["pet", {"verb": "created", "data": rec, "id": id}])]
        );
    }
    // b updates: a (creator, subscribed) and c (introduced) hear it, b does not
    let upd = b.request(1, "patch", &format!("/pet/{id}"), json!({"species": "wolf"})).await;
    assert_eq!(upd["body"]["species"], "wolf");
    assert!(b.collect_events(Duration::from_millis(200)).await.is_empty());
    for w in [&mut a, &mut c] {
        let ev = w.collect_events(Duration::from_millis(300)).await;
        assert_eq!(ev.len(), 1);
        let p = &ev[0][1];
        assert_eq!(ev[0][0], "pet");
        assert_eq!(p["verb"], "updated");
        assert_eq!(p["id"], id);
        assert_eq!(p["data"]["species"], "wolf");
        assert_eq!(p["data"]["id"], id);
        assert_eq!(p["previous"], rec);
    }
    let one = a.request(2, "get", &format!("/pet/{id}"), json!({})).await;
    assert_eq!(one["body"]["species"], "wolf");
    let list = a.request(3, "get", "/pet?sort=id%20ASC", json!({})).await;
    assert_eq!(list["body"].as_array().unwrap().len(), 1);
    let del = c.request(1, "delete", &format!("/pet/{id}"), json!({})).await;
    assert_eq!(del["statusCode"], 200);
    for w in [&mut a, &mut b] {
        let ev = w.collect_events(Duration::from_millis(300)).await;
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0][1]["verb"], "destroyed");
        assert_eq!(ev[0][1]["id"], id);
        assert_eq!(ev[0][1]["previous"]["species"], "wolf");
    }
    assert_eq!(
        a.request(4, "get", &format!("/pet/{id}"), json!({})).await,
        json!({"body": "Not Found", "headers": {}, "statusCode": 404})
    );
}

#[tokio::test]
async fn pubsub_helpers_room_names_and_raw_publish() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let ps = sails_io_stub::pubsub::ModelPubSub::new("pet", server.sockets.clone());
    assert_eq!(ps.room(&json!(1)), "sails_model_pet_1:pet");
    assert_eq!(ps.class_room(), "sails_model_create_pet");
    ps.subscribe(&a.id, &[json!(1)]);
    ps.publish(&[json!(1)], &json!({"custom": true}), None).await;
    ps.publish_add(&json!(1), "toys", &json!(7), None, None).await;
    ps.publish_remove(&json!(1), "toys", &json!(7), None).await;
    assert_eq!(
        a.collect_events(Duration::from_millis(300)).await,
        vec![
            json!(["pet", {"custom": true}]),
            json!(["pet", {"id": 1, "verb": "addedTo", "attribute": "toys", "addedId": 7}]),
            json!(["pet", {"id": 1, "verb": "removedFrom", "attribute": "toys", "removedId": 7}]),
        ]
    );
}

#[tokio::test]
async fn binary_response_is_a_binary_ack() {
    use axum::routing::get;
    let app =
        axum::Router::new().route("/bin", get(|| async { sails_io_stub::Res::new().send_bytes(vec![1u8, 2, 3]) }));
    let server = sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(app).start().await.unwrap();
    for (eio, frame) in [("3", vec![4u8, 1, 2, 3]), ("4", vec![1u8, 2, 3])] {
        let mut c = Client::connect(&server, eio).await;
        c.send(r#"424["get",{"method":"get","headers":{},"data":{},"url":"/bin"}]"#).await;
        assert_eq!(
            c.next(T).await,
            Some(Frame::Text(r#"461-4[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]"#.into()))
        );
        assert_eq!(c.next(T).await, Some(Frame::Binary(frame)));
    }
}

#[tokio::test]
async fn one_megabyte_payload_round_trip() {
    let server = start().await;
    let mut c = Client::connect(&server, "3").await;
    let big = "x".repeat(1_000_000);
    let jwr = c.request(0, "post", "/echo", json!({"big": big})).await;
    assert_eq!(jwr["body"]["body"]["big"].as_str().unwrap().len(), 1_000_000);
}

/// sails.io.js sends its queued requests the moment it sees the connect packet. The verb listeners must
/// already be in place then: none of these requests may be lost (they were, now and then, when the
/// listeners were registered by the spawned connect handler instead of before the `40`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_sent_right_after_connect_are_never_lost() {
    let server = start().await;
    for round in 0..40 {
        for eio in ["3", "4"] {
            let mut c = Client::connect(&server, eio).await;
            c.send(r#"420["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]"#).await;
            assert_eq!(
                c.next(Duration::from_secs(2)).await,
                Some(Frame::Text(r#"430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]"#.into())),
                "round {round}, EIO={eio}"
            );
        }
    }
}

/// Waterline behaviour observed on the real app: type errors, `""` for a required attribute, `null` for an
/// optional one, non-numeric ids, a bad `limit`, unknown attributes kept (first in the record), and the
/// `updated` message's `data` order (values set, `id`, `updatedAt`).
#[tokio::test]
async fn pet_validation_texts_and_extra_attributes() {
    let server = start().await;
    let mut a = Client::connect(&server, "3").await;
    let mut b = Client::connect(&server, "4").await;
    let details =
        |jwr: &Value| (jwr["statusCode"].clone(), jwr["body"]["code"].clone(), jwr["body"]["details"].clone());
    assert_eq!(
        details(&a.request(0, "post", "/pet", json!({"name": {}, "species": {}})).await),
        (
            json!(400),
            json!("E_INVALID_NEW_RECORD"),
            json!(
                "New record contains the wrong type of data for property `name`.  Specified value is not a valid \
                   `name`.  1 error validating value: \n • Specified value (a dictionary: {}) doesn't match the \
                   expected type: 'string'"
            )
        )
    );
    // a type error is reported before the missing `name`
    assert_eq!(
        details(&a.request(1, "post", "/pet", json!({"species": [1]})).await).2,
        json!(
            "New record contains the wrong type of data for property `species`.  Specified value is not a valid \
               `species`.  1 error validating value: \n • Specified value (a array: [ 1 ]) doesn't match the \
               expected type: 'string'"
        )
    );
    assert_eq!(
        details(&a.request(2, "post", "/pet", json!({"name": ""})).await).2,
        json!("Could not use specified `name`.  Cannot set \"\" (empty string) for a required attribute.")
    );
    let species_null = a.request(3, "post", "/pet", json!({"name": "Zed", "species": null})).await;
    assert!(species_null["body"]["details"]
        .as_str()
        .unwrap()
        .starts_with("New record contains the wrong type of data for property `species`.  Specified value (`null`) is not a valid `species`.  Even though this attribute is optional,"));

    b.request(0, "get", "/pet", json!({})).await; // b watches the class room
    let rex = a.request(4, "post", "/pet", json!({"name": "Rex", "color": "brown", "species": ""})).await;
    let keys: Vec<&str> = rex["body"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["color", "createdAt", "updatedAt", "id", "name", "species"]);
    assert_eq!(rex["body"]["species"], "");
    let id = rex["body"]["id"].as_u64().unwrap();
    b.request(1, "get", &format!("/pet/{id}"), json!({})).await;
    b.collect_events(Duration::from_millis(200)).await;
    b.events.clear();

    assert_eq!(
        details(&a.request(5, "patch", &format!("/pet/{id}"), json!({"name": null})).await),
        (
            json!(400),
            json!("E_INVALID_VALUES_TO_SET"),
            json!(
                "Could not use specified `name`.  Specified value is not a valid `name`.  1 error validating \
                   value: \n • Specified value (a null: null) doesn't match the expected type: 'string'"
            )
        )
    );
    let patched = a.request(6, "patch", &format!("/pet/{id}"), json!({"zz": 1, "name": 7, "aa": 2})).await;
    let keys: Vec<&str> = patched["body"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["color", "zz", "aa", "createdAt", "updatedAt", "id", "name", "species"]);
    assert_eq!(patched["body"]["name"], "7");
    let ev = b.collect_events(Duration::from_millis(300)).await;
    let updated = ev.iter().find(|e| e[1]["verb"] == "updated").expect("updated event");
    let data_keys: Vec<&str> = updated[1]["data"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(data_keys, ["zz", "name", "aa", "id", "updatedAt"]);

    let bad_id = a.request(7, "get", "/pet/abc", json!({})).await;
    assert_eq!(
        details(&bad_id),
        (
            json!(400),
            json!("E_INVALID_CRITERIA"),
            json!(
                "Could not use the provided `where` clause.  Could not filter by `id`: Does not match the declared \
                   data type of the corresponding attribute.  1 error validating value: \n • Specified value (a \
                   string: 'abc') doesn't match the expected type: 'number'"
            )
        )
    );
    assert_eq!(a.request(8, "delete", "/pet/abc", json!({})).await["statusCode"], 400);
    assert_eq!(a.request(9, "get", "/pet/1.5", json!({})).await["body"], "Not Found");
    assert_eq!(a.request(10, "get", "/pet/-1", json!({})).await["body"], "Not Found");
    assert_eq!(a.request(11, "get", &format!("/pet/0{id}"), json!({})).await["body"]["id"], id);
    assert_eq!(
        details(&a.request(12, "get", "/pet", json!({"limit": "abc"})).await).2,
        json!(
            "The `limit` clause in the provided criteria is invalid.  If provided, it should be a safe, natural \
               number.  But instead, got: NaN"
        )
    );
}

/// Virtual requests run at once in the socket's task and are spawned only when the action has to wait:
/// one that waits neither holds up the socket's next request nor is lost, and answers once it can.
#[tokio::test]
async fn an_action_that_waits_answers_later_without_holding_up_the_socket() {
    use axum::routing::get;
    use std::sync::Arc;
    use tokio::sync::Notify;
    let gate = Arc::new(Notify::new());
    let (wait_gate, release_gate) = (gate.clone(), gate);
    let app = axum::Router::new()
        .route(
            "/wait",
            get(move || async move {
                wait_gate.notified().await;
                sails_io_stub::Res::new().send("waited")
            }),
        )
        .route(
            "/release",
            get(move || async move {
                release_gate.notify_one();
                sails_io_stub::Res::new().send("released")
            }),
        );
    let server = sails_io_stub::Builder::new().host("127.0.0.1").port(0).app(app).start().await.unwrap();
    for eio in ["3", "4"] {
        let mut c = Client::connect(&server, eio).await;
        c.send(r#"421["get",{"method":"get","headers":{},"data":{},"url":"/wait"}]"#).await;
        // Nothing comes back while the action waits.
        assert_eq!(c.next(Duration::from_millis(200)).await, None);
        c.send(r#"422["get",{"method":"get","headers":{},"data":{},"url":"/release"}]"#).await;
        let first = c.wait_ack(2).await;
        assert_eq!(first["body"], "released");
        let second = c.wait_ack(1).await;
        assert_eq!((second["body"].clone(), second["statusCode"].clone()), (json!("waited"), json!(200)));
    }
}
