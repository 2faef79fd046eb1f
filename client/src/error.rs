//! The one error type of the crate.
//!
//! The messages are written piece by piece with [`fmt::Formatter::write_str`], and the core builds the
//! texts its errors carry by joining pieces (`[a, b].concat()`, integers with `text::decimal`), never
//! with `format!`/`write!` and arguments: that keeps the argument lists and `core::fmt`'s integer
//! formatting and padding out of the WebAssembly build (1 KB of its gzipped size).
//! `scripts/check-wasm-fmt.sh` checks it.

use std::fmt;

use crate::protocol::json;
use crate::protocol::sails::ParseError;
use crate::text::decimal;

/// Everything that can go wrong when talking to a Sails server.
///
/// Every request ends either with a [`Jwr`](crate::Jwr) (whatever its status code) or with one of these.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The socket disconnected before the request completed (sails.io.js reports this as status code 0).
    Disconnected,
    /// The request, the connection attempt or the `/__getcookie` handshake did not finish in time.
    Timeout(&'static str),
    /// The server refused the WebSocket handshake at the HTTP level (e.g. `beforeConnect` or `onlyAllowOrigins`).
    Handshake {
        /// The HTTP status code of the rejection.
        status: u16,
        /// The response body (engine.io sends the reason as text or JSON).
        body: String,
    },
    /// The server could not parse the virtual request (`SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ`).
    Server(ParseError),
    /// The peer sent something the protocol does not allow.
    Protocol(ProtocolError),
    /// [`Jwr::error_for_status`](crate::Jwr::error_for_status) found an error status (below 200 or from 400 up).
    Status(Box<crate::protocol::sails::Jwr>),
    /// The server refused the Socket.IO connection to the namespace (a CONNECT_ERROR packet).
    Refused(String),
    /// The request was refused before it was sent (bad method, url, headers or body).
    InvalidRequest(String),
    /// The transport failed (I/O such as a refused or reset TCP connection, WebSocket, HTTP).
    Transport(String),
    /// The server's host name could not be resolved.
    Dns(String),
    /// The TLS handshake failed (an untrusted or expired certificate, a name mismatch, no common protocol).
    Tls(String),
    /// The socket was closed for good (the client was dropped or the connection task ended).
    Closed,
    /// The request was cancelled ([`Connection::cancel`](crate::Connection::cancel); the native client
    /// cancels a request whose future is dropped).
    Cancelled,
}

/// A frame or packet that could not be decoded or that breaks the protocol's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An Engine.IO frame or payload was malformed.
    EngineIo(String),
    /// A Socket.IO packet was malformed.
    SocketIo(String),
    /// An ack id was not a valid integer or was larger than 2^53 - 1 (the largest id a JavaScript peer can hold).
    InvalidAckId(String),
    /// A binary packet announced a number of attachments outside 1..=max.
    InvalidAttachments {
        /// The announced count.
        count: String,
        /// The largest allowed count.
        max: usize,
    },
    /// The JSON part of a packet was invalid.
    Json(String),
    /// A packet arrived that is not allowed in the current state (e.g. an event before connect).
    Unexpected(String),
    /// The server's answer to a request was not a JWR object.
    InvalidResponse(String),
}

impl ProtocolError {
    pub(crate) fn eio(msg: impl Into<String>) -> Self {
        ProtocolError::EngineIo(msg.into())
    }
    pub(crate) fn sio(msg: impl Into<String>) -> Self {
        ProtocolError::SocketIo(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Disconnected => f.write_str("the socket disconnected before the request completed"),
            Error::Timeout(what) => write_pieces(f, &["timed out: ", what]),
            Error::Handshake { status, body } => {
                // An empty body (a proxy's or load balancer's bare 404, say) leaves no dangling ": ".
                let colon = if body.is_empty() { "" } else { ": " };
                write_pieces(f, &["the server rejected the handshake with HTTP ", &decimal(*status), colon, body])
            }
            Error::Server(e) => {
                f.write_str("the server could not parse the request: ")?;
                fmt::Display::fmt(e, f)
            }
            Error::Protocol(e) => {
                f.write_str("protocol error: ")?;
                fmt::Display::fmt(e, f)
            }
            Error::Status(jwr) => write_pieces(f, &["the server answered with status ", &decimal(jwr.status_code)]),
            Error::Refused(m) => write_pieces(f, &["the server refused the connection: ", m]),
            Error::InvalidRequest(m) => write_pieces(f, &["invalid request: ", m]),
            Error::Transport(m) => write_pieces(f, &["transport error: ", m]),
            Error::Dns(m) => write_pieces(f, &["DNS lookup failed: ", m]),
            Error::Tls(m) => write_pieces(f, &["TLS error: ", m]),
            Error::Closed => f.write_str("the socket is closed"),
            Error::Cancelled => f.write_str("the request was cancelled"),
        }
    }
}

/// Writes each piece as it is (no padding or precision: a message is not a formatted value).
pub(crate) fn write_pieces(f: &mut fmt::Formatter<'_>, pieces: &[&str]) -> fmt::Result {
    pieces.iter().try_for_each(|piece| f.write_str(piece))
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::EngineIo(m) => write_pieces(f, &["engine.io: ", m]),
            ProtocolError::SocketIo(m) => write_pieces(f, &["socket.io: ", m]),
            ProtocolError::InvalidAckId(id) => write_pieces(f, &["invalid ack id ", &json::quoted(id)]),
            ProtocolError::InvalidAttachments { count, max } => {
                write_pieces(f, &["invalid attachment count ", count, " (allowed 1..=", &decimal(*max as u64), ")"])
            }
            ProtocolError::Json(m) => write_pieces(f, &["invalid JSON: ", m]),
            ProtocolError::Unexpected(m) => write_pieces(f, &["unexpected packet: ", m]),
            ProtocolError::InvalidResponse(m) => write_pieces(f, &["invalid response: ", m]),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Server(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::json::empty_map;
    use crate::protocol::sails::Jwr;

    #[test]
    fn messages() {
        let parse_error = |message: &str, details: &str| ParseError {
            details: details.into(),
            message: message.into(),
            status: Some(400),
            stack: None,
        };
        let jwr = Jwr { body: None, headers: empty_map(), status_code: 404 };
        let cases: Vec<(Error, &str)> = vec![
            (Error::Disconnected, "the socket disconnected before the request completed"),
            (Error::Timeout("no response"), "timed out: no response"),
            (
                Error::Handshake { status: 403, body: "forbidden".into() },
                "the server rejected the handshake with HTTP 403: forbidden",
            ),
            (Error::Handshake { status: 404, body: String::new() }, "the server rejected the handshake with HTTP 404"),
            (
                Error::Server(parse_error("Failed.", "No url.")),
                "the server could not parse the request: Failed. No url.",
            ),
            (Error::Server(parse_error("", "No url.")), "the server could not parse the request: No url."),
            (Error::Server(parse_error("Failed.", "")), "the server could not parse the request: Failed."),
            (Error::Protocol(ProtocolError::eio("empty packet")), "protocol error: engine.io: empty packet"),
            (Error::Protocol(ProtocolError::sio("bad")), "protocol error: socket.io: bad"),
            (Error::Protocol(ProtocolError::InvalidAckId("1\"".into())), r#"protocol error: invalid ack id "1\"""#),
            (
                Error::Protocol(ProtocolError::InvalidAttachments { count: "11".into(), max: 10 }),
                "protocol error: invalid attachment count 11 (allowed 1..=10)",
            ),
            (Error::Protocol(ProtocolError::Json("x".into())), "protocol error: invalid JSON: x"),
            (Error::Protocol(ProtocolError::Unexpected("x".into())), "protocol error: unexpected packet: x"),
            (Error::Protocol(ProtocolError::InvalidResponse("x".into())), "protocol error: invalid response: x"),
            (Error::Status(Box::new(jwr)), "the server answered with status 404"),
            (Error::Refused("no".into()), "the server refused the connection: no"),
            (Error::InvalidRequest("bad url".into()), "invalid request: bad url"),
            (Error::Transport("reset".into()), "transport error: reset"),
            (Error::Dns("no such host".into()), "DNS lookup failed: no such host"),
            (Error::Tls("expired".into()), "TLS error: expired"),
            (Error::Closed, "the socket is closed"),
            (Error::Cancelled, "the request was cancelled"),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
        let source = Error::Protocol(ProtocolError::Json("x".into()));
        assert_eq!(std::error::Error::source(&source).map(ToString::to_string).as_deref(), Some("invalid JSON: x"));
        assert!(std::error::Error::source(&Error::Closed).is_none());
    }
}
