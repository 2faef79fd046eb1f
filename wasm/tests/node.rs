//! The driver in node (global WebSocket: node 22+, or node 20 with `--experimental-websocket`).
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn request_and_response() {
    common::request_and_response("node").await;
}

#[wasm_bindgen_test]
async fn server_events() {
    common::server_events("node").await;
}

#[wasm_bindgen_test]
async fn disconnect_fails_requests_in_flight() {
    common::disconnect_fails_requests_in_flight("node").await;
}

#[wasm_bindgen_test]
async fn request_timeout() {
    common::request_timeout().await;
}

#[wasm_bindgen_test]
async fn connect_error_on_closed_port() {
    common::connect_error_on_closed_port().await;
}

#[wasm_bindgen_test]
async fn reconnects_after_failed_attempts() {
    common::reconnects_after_failed_attempts().await;
}

#[wasm_bindgen_test]
fn invalid_options_and_requests() {
    common::invalid_options_and_requests();
}
