//! The one error type of the crate.

use std::fmt;

use crate::protocol::sails::ParseError;

/// Everything that can go wrong when talking to a Sails server.
///
/// Every request ends either with a [`Jwr`](crate::Jwr) (whatever its status code) or with one of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket disconnected before the request completed (sails.io.js reports this as status code 0).
    #[error("the socket disconnected before the request completed")]
    Disconnected,
    /// The request, the connection attempt or the `/__getcookie` handshake did not finish in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The server refused the WebSocket handshake at the HTTP level (e.g. `beforeConnect` or `onlyAllowOrigins`).
    #[error("the server rejected the handshake with HTTP {status}: {body}")]
    Handshake {
        /// The HTTP status code of the rejection.
        status: u16,
        /// The response body (engine.io sends the reason as text or JSON).
        body: String,
    },
    /// The server could not parse the virtual request (`SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ`).
    #[error("the server could not parse the request: {0}")]
    Server(ParseError),
    /// The peer sent something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// [`Jwr::error_for_status`](crate::Jwr::error_for_status) found an error status (below 200 or from 400 up).
    #[error("the server answered with status {}", .0.status_code)]
    Status(Box<crate::protocol::sails::Jwr>),
    /// The server refused the Socket.IO connection to the namespace (a CONNECT_ERROR packet).
    #[error("the server refused the connection: {0}")]
    Refused(String),
    /// The request was refused before it was sent (bad method, url, headers or body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The transport failed (I/O such as a refused or reset TCP connection, WebSocket, HTTP).
    #[error("transport error: {0}")]
    Transport(String),
    /// The server's host name could not be resolved.
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    /// The TLS handshake failed (an untrusted or expired certificate, a name mismatch, no common protocol).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The socket was closed for good (the client was dropped or the connection task ended).
    #[error("the socket is closed")]
    Closed,
    /// The request was cancelled ([`Connection::cancel`](crate::Connection::cancel); the native client
    /// cancels a request whose future is dropped).
    #[error("the request was cancelled")]
    Cancelled,
}

/// A frame or packet that could not be decoded or that breaks the protocol's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An Engine.IO frame or payload was malformed.
    #[error("engine.io: {0}")]
    EngineIo(String),
    /// A Socket.IO packet was malformed.
    #[error("socket.io: {0}")]
    SocketIo(String),
    /// An ack id was not a valid integer or was larger than 2^53 - 1 (the largest id a JavaScript peer can hold).
    #[error("invalid ack id {}", crate::protocol::json::quoted(.0))]
    InvalidAckId(String),
    /// A binary packet announced a number of attachments outside 1..=max.
    #[error("invalid attachment count {count} (allowed 1..={max})")]
    InvalidAttachments {
        /// The announced count.
        count: String,
        /// The largest allowed count.
        max: usize,
    },
    /// The JSON part of a packet was invalid.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A packet arrived that is not allowed in the current state (e.g. an event before connect).
    #[error("unexpected packet: {0}")]
    Unexpected(String),
    /// The server's answer to a request was not a JWR object.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

impl ProtocolError {
    pub(crate) fn eio(msg: impl fmt::Display) -> Self {
        ProtocolError::EngineIo(msg.to_string())
    }
    pub(crate) fn sio(msg: impl fmt::Display) -> Self {
        ProtocolError::SocketIo(msg.to_string())
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Server(e)
    }
}
