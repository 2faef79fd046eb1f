//! # sails-io-wasm
//!
//! The engine of the npm package `sails-io-wasm`, a drop-in for `sails.io.js`: the `sails-io` sans-IO
//! core driven by a WebSocket (`web_sys::WebSocket`, or any object with the same interface that the JS
//! layer creates, e.g. npm `ws` in node) and `setTimeout`.
//!
//! The crate has one boundary: [`options`] (turning the JS layer's settings and request arguments into the
//! core's types) builds everywhere; the driver exported to JS exists only on `wasm32`. The sails.io.js API
//! itself (`io.sails`, `io.socket`, `SailsSocket`, JWR objects) is the hand-written JS in `js/`.

pub mod options;

#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
pub use driver::Driver;

/// talc instead of std's dlmalloc: smaller code for the same job (this module is single-threaded).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
