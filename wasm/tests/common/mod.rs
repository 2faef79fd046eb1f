//! The driver tests shared by the node suite (`tests/node.rs`) and the Chromium suite
//! (`tests/browser.rs`). They need the server-stub: `wasm/test.sh` starts it and passes its address in
//! `SAILS_IO_STUB_URL` at compile time.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, JSON};
use sails_io_wasm::Driver;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32);
}

async fn sleep(ms: i32) {
    JsFuture::from(Promise::new(&mut |resolve, _| set_timeout(&resolve, ms))).await.unwrap();
}

pub fn stub_url() -> &'static str {
    env!("SAILS_IO_STUB_URL", "build with SAILS_IO_STUB_URL=http://host:port (wasm/test.sh does)")
}

#[derive(Debug, Clone)]
pub struct Ev {
    pub kind: String,
    pub a: JsValue,
    pub b: JsValue,
    pub c: JsValue,
}

/// A driver whose events are recorded.
pub struct Harness {
    pub driver: Driver,
    pub events: Rc<RefCell<Vec<Ev>>>,
    _on_event: Closure<dyn FnMut(JsValue, JsValue, JsValue, JsValue)>,
}

pub fn open_ws() -> Function {
    Function::new_with_args("url", "return new WebSocket(url)")
}

/// A driver built from `settings`, the JSON of the settings object the JS layer passes.
pub fn harness(settings: &str) -> Harness {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let on_event = Closure::<dyn FnMut(JsValue, JsValue, JsValue, JsValue)>::new(move |kind: JsValue, a, b, c| {
        sink.borrow_mut().push(Ev { kind: kind.as_string().unwrap(), a, b, c });
    });
    let settings = JSON::parse(settings).unwrap();
    let driver = Driver::new(&settings, open_ws(), on_event.as_ref().clone().unchecked_into()).unwrap();
    Harness { driver, events, _on_event: on_event }
}

impl Harness {
    /// Waits (up to 5 s) for the first event matching `pred` and returns it.
    pub async fn wait(&self, what: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
        for _ in 0..500 {
            if let Some(e) = self.events.borrow().iter().find(|e| pred(e)) {
                return e.clone();
            }
            sleep(10).await;
        }
        panic!("timed out waiting for {what}; events: {:?}", self.events.borrow());
    }

    pub async fn response(&self, id: f64) -> JsValue {
        self.wait("a response", |e| e.kind == "response" && e.a.as_f64() == Some(id)).await.b
    }
}

pub fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn json(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

fn connected(platform: &str) -> Harness {
    let h = harness(&format!(r#"{{"url":"{}","platform":"{platform}"}}"#, stub_url()));
    h.driver.connect();
    h
}

pub async fn request_and_response(platform: &str) {
    let h = connected(platform);
    // Sent before the connection is up: queued by the core, then sent.
    let id = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    let r = h.response(id).await;
    assert_eq!(get(&r, "statusCode").as_f64(), Some(200.0));
    assert_eq!(json(&get(&r, "body")), r#"{"hello":"world"}"#);
    assert!(get(&r, "error").is_undefined());
    assert!(h.driver.is_connected());
    assert!(h.driver.id().is_some());
    let connect = h.wait("connect", |e| e.kind == "connect").await;
    assert_eq!(connect.a.as_string(), h.driver.id());

    let id = h.driver.request("POST", "/echo", r#"{"x-test":"yes"}"#, r#"{"n":1}"#, -1.0, &[], &[]).unwrap();
    let r = h.response(id).await;
    let body = get(&r, "body");
    assert_eq!(get(&body, "method").as_string().as_deref(), Some("POST"));
    assert_eq!(json(&get(&body, "body")), r#"{"n":1}"#);
    assert_eq!(get(&get(&body, "headers"), "x-test").as_string().as_deref(), Some("yes"));

    // Binary values: the data refers to them by placeholder, they travel as attachments.
    let data = r#"{"file":{"_placeholder":true,"num":0},"n":2,"e":{"_placeholder":true,"num":1}}"#;
    let id = h.driver.request("post", "/echo", "", data, -1.0, &[0x89, 0x50], &[2, 0]).unwrap();
    let r = h.response(id).await;
    assert_eq!(json(&get(&get(&r, "body"), "body")), r#"{"file":[137,80],"n":2,"e":[]}"#);

    let id = h.driver.request("get", "/nope", "", "", -1.0, &[], &[]).unwrap();
    let r = h.response(id).await;
    assert_eq!(get(&r, "statusCode").as_f64(), Some(404.0));
    assert_eq!(get(&r, "body").as_string().as_deref(), Some("Not Found"));
    // The JS layer's JWR builds sails.io.js's error message from the status (test/compare.test.js).
    assert!(get(&r, "error").is_undefined());
    h.driver.close();
}

pub async fn server_events(platform: &str) {
    let h = connected(platform);
    let id = h.driver.request("post", "/blast", "", r#"{"n":42}"#, -1.0, &[], &[]).unwrap();
    let ev = h.wait("announcement", |e| e.kind == "event" && e.a.as_string().as_deref() == Some("announcement")).await;
    let args: js_sys::Array = ev.b.clone().unchecked_into();
    assert_eq!(json(&args.get(0)), r#"{"n":42}"#);
    assert!(ev.c.is_undefined(), "no ack asked");
    assert_eq!(get(&h.response(id).await, "statusCode").as_f64(), Some(200.0));
    h.driver.close();
}

pub async fn disconnect_fails_requests_in_flight(platform: &str) {
    let h = connected(platform);
    h.wait("connect", |e| e.kind == "connect").await;
    let id = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    h.driver.disconnect();
    assert!(!h.driver.is_connected());
    let r = h.response(id).await;
    assert_eq!(get(&r, "kind").as_string().as_deref(), Some("disconnected"));
    let d = h.wait("disconnect", |e| e.kind == "disconnect").await;
    assert_eq!(d.a.as_string().as_deref(), Some("io client disconnect"));
    // A new session after a disconnect.
    h.driver.connect();
    let id = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    assert_eq!(get(&h.response(id).await, "statusCode").as_f64(), Some(200.0));
    assert_eq!(h.events.borrow().iter().filter(|e| e.kind == "connect").count(), 2);
    h.driver.close();
}

pub async fn request_timeout() {
    // Never connected: the request waits in the queue until its own deadline.
    let h = harness(r#"{"url":"http://127.0.0.1:9"}"#);
    let id = h.driver.request("get", "/hello", "", "", 30.0, &[], &[]).unwrap();
    let r = h.response(id).await;
    assert_eq!(get(&r, "kind").as_string().as_deref(), Some("timeout"));
    // The default timeout from the options applies too.
    let h = harness(r#"{"url":"http://127.0.0.1:9","requestTimeout":20}"#);
    let id = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    assert_eq!(get(&h.response(id).await, "kind").as_string().as_deref(), Some("timeout"));
}

pub async fn connect_error_on_closed_port() {
    let h = harness(r#"{"url":"http://127.0.0.1:65531"}"#);
    let queued = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    h.driver.connect();
    assert!(h.driver.is_connecting());
    let e = h.wait("connect_error", |e| e.kind == "connect_error").await;
    assert!(e.a.as_string().unwrap().starts_with("transport error"), "{:?}", e.a);
    assert!(!h.driver.is_connecting());
    assert!(!h.driver.is_connected());
    // No reconnection follows, so the queued request ends with the same error.
    let r = h.response(queued).await;
    assert_eq!(get(&r, "kind").as_string().as_deref(), Some("error"));
    assert_eq!(get(&r, "message").as_string(), e.a.as_string());
}

pub async fn reconnects_after_failed_attempts() {
    // Reconnection on: a closed port is retried until the attempts are used up.
    let h = harness(
        r#"{"url":"http://127.0.0.1:65531","reconnection":true,"reconnectionAttempts":2,"reconnectionDelay":10,"reconnectionDelayMax":20}"#,
    );
    let queued = h.driver.request("get", "/hello", "", "", -1.0, &[], &[]).unwrap();
    h.driver.connect();
    h.wait("reconnect_failed", |e| e.kind == "reconnect_failed").await;
    let kinds: Vec<String> = h.events.borrow().iter().map(|e| e.kind.clone()).collect();
    // The queued request waits through the attempts and ends when they are used up.
    assert_eq!(
        kinds,
        [
            "connect_error",
            "reconnecting",
            "connect_error",
            "reconnecting",
            "connect_error",
            "reconnect_failed",
            "response"
        ]
    );
    assert_eq!(get(&h.response(queued).await, "kind").as_string().as_deref(), Some("error"));
}

pub fn invalid_options_and_requests() {
    let bad =
        |settings: &str| Driver::new(&JSON::parse(settings).unwrap(), open_ws(), Function::new_no_args("")).is_err();
    assert!(bad("{}"));
    assert!(bad(r#"{"url":"http://h/namespace"}"#));
    assert!(bad(r#"{"url":"ftp://h"}"#));
    assert!(bad(r#"{"url":"http://h","eio":"5"}"#));
    assert!(bad(r#"{"url":"http://h","headers":"[]"}"#));
    // Fields of the wrong type count as unset.
    assert!(!bad(r#"{"url":"http://h","timeout":"soon","eio":4,"reconnection":1}"#));
    let h = harness(r#"{"url":"http://127.0.0.1:9"}"#);
    assert!(h.driver.request("trace", "/", "", "", -1.0, &[], &[]).is_err());
    assert!(h.driver.request("get", "/", "", "\"text\"", -1.0, &[], &[]).is_err());
    assert_eq!(
        h.driver.url(),
        "ws://127.0.0.1:9/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=browser&__sails_io_sdk_language=javascript&EIO=3&transport=websocket"
    );
}
