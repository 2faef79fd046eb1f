//! # sails-io
//!
//! A client for the [Sails.js](https://sailsjs.com) socket protocol: what `sails.io.js` does in the
//! browser, for Rust. Virtual requests (`GET /users` over a WebSocket, answered with a JSON WebSocket
//! Response), server events (room broadcasts, model pubsub), request queueing, heartbeats and
//! reconnection, on Engine.IO 3 (what every `sails.io.js` speaks) or Engine.IO 4.
//!
//! The crate is layered:
//! - [`protocol`]: the wire codecs (Engine.IO v3/v4, Socket.IO v4/v5, the Sails request/JWR layer),
//!   pure functions with no I/O;
//! - [`connection`]: [`Connection`], the sans-IO state machine of one socket
//!   (handshakes, heartbeats, the request queue, the ack table, deadlines, reconnection), driven with
//!   frames and time passed in, so it runs the same natively and in the browser;
//! - [`SailsSocket`] (native targets): the async client, a tokio task driving a `Connection` over
//!   tokio-tungstenite (rustls for `wss://`), with a cookie jar shared with reqwest.
//!
//! Features: `serde_json` (default) makes JSON values [`serde_json::Value`]s ([`Payload`], [`Request::data`],
//! [`Jwr`] bodies and headers, [`Jwr::json`]) and, with `polling`, enables the native client. Without it the core holds
//! JSON as validated text ([`protocol::json::RawJson`]) and links neither serde nor serde_json: that is
//! how the WebAssembly package uses it. `polling` (default) adds Engine.IO's long-polling forms (polling
//! payloads, base64 packets); the native client needs it, the WebAssembly package (WebSockets only) leaves
//! it out. `cli` builds the `sails-io` command-line tool.

#![warn(missing_docs)]

pub mod connection;
mod error;
pub mod protocol;
mod text;

// The one place that decides native vs wasm: the browser build uses the `sails-io-wasm` crate instead.
// The native client works with `serde_json::Value`s and speaks long-polling too, so it needs the
// `serde_json` and `polling` features (both default).
#[cfg(all(not(target_arch = "wasm32"), feature = "serde_json", feature = "polling"))]
mod native;
#[cfg(all(not(target_arch = "wasm32"), feature = "serde_json", feature = "polling"))]
pub use native::{
    env_proxy, CookieJar, EnvProxy, EventStream, ListenerId, ModelEvent, SailsSocket, SailsSocketBuilder, ServerEvent,
    SocketEvent, Transport,
};

pub use connection::{Config, Connection, DisconnectReason, Event, Reconnection, RequestId, Transmit};
pub use error::{Error, ProtocolError};
pub use protocol::engine_io::EioVersion;
pub use protocol::payload::Payload;
pub use protocol::sails::{Jwr, Method, ParseError, Request, SdkInfo};
