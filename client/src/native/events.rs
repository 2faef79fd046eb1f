//! What a [`SailsSocket`](super::SailsSocket) tells its user: lifecycle changes and server events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::driver::Command;
use crate::connection::DisconnectReason;
use crate::error::{Error, ProtocolError};
use crate::protocol::payload::Payload;

/// An event of a socket, delivered to [`on`](super::SailsSocket::on) handlers and to
/// [`events`](super::SailsSocket::events) streams.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// Connected at the Socket.IO level (`connect`).
    Connected {
        /// The socket id as the server sees it.
        sid: String,
    },
    /// The connection was lost (`disconnect`).
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// A connection attempt failed (`connect_error`).
    ConnectError {
        /// Why.
        error: Error,
    },
    /// Reconnection attempt `attempt` starts (`reconnecting`).
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Reconnected after `attempt` attempts (`reconnect`), right before [`SocketEvent::Connected`].
    Reconnected {
        /// How many attempts it took.
        attempt: u32,
    },
    /// Reconnection gave up (`reconnect_failed`).
    ReconnectFailed,
    /// The server emitted an event: a broadcast (`message` or a custom name), a model pubsub message
    /// (named after the model identity), `sails:parseError`, …
    Server(ServerEvent),
}

impl SocketEvent {
    /// The name handlers subscribe with: socket.io-client's names for lifecycle events (`connect`,
    /// `disconnect`, `connect_error`, `reconnecting`, `reconnect`, `reconnect_failed`), the event name for
    /// server events.
    pub fn name(&self) -> &str {
        match self {
            SocketEvent::Connected { .. } => "connect",
            SocketEvent::Disconnected { .. } => "disconnect",
            SocketEvent::ConnectError { .. } => "connect_error",
            SocketEvent::Reconnecting { .. } => "reconnecting",
            SocketEvent::Reconnected { .. } => "reconnect",
            SocketEvent::ReconnectFailed => "reconnect_failed",
            SocketEvent::Server(e) => &e.name,
        }
    }

    /// The server event, if this is one.
    pub fn as_server(&self) -> Option<&ServerEvent> {
        match self {
            SocketEvent::Server(e) => Some(e),
            _ => None,
        }
    }
}

/// An event the server emitted.
#[derive(Debug, Clone)]
pub struct ServerEvent {
    /// The event name.
    pub name: String,
    /// Its arguments (Sails sends one).
    pub args: Vec<Payload>,
    responder: Option<AckResponder>,
}

impl ServerEvent {
    pub(crate) fn new(name: String, args: Vec<Payload>, responder: Option<AckResponder>) -> Self {
        ServerEvent { name, args, responder }
    }

    /// The first argument (what `sails.sockets.broadcast` sent).
    pub fn data(&self) -> Option<&Payload> {
        self.args.first()
    }

    /// The first argument as JSON (binary parts written as Node writes a `Buffer`).
    pub fn json_value(&self) -> Value {
        self.data().map(Payload::to_json_lossy).unwrap_or(Value::Null)
    }

    /// Deserializes the first argument.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.json_value()).map_err(|e| Error::Protocol(ProtocolError::Json(e.to_string())))
    }

    /// True if the server asked for an answer.
    pub fn wants_ack(&self) -> bool {
        self.responder.is_some()
    }

    /// Answers the server's ack request with `args`. Only the first answer is sent; answering an event
    /// that asked for none, or answering twice, is an error.
    pub fn ack(&self, args: Vec<Payload>) -> Result<(), Error> {
        let responder =
            self.responder.as_ref().ok_or_else(|| Error::InvalidRequest("this event did not ask for an ack".into()))?;
        if responder.used.swap(true, Ordering::SeqCst) {
            return Err(Error::InvalidRequest("this event was already acknowledged".into()));
        }
        let tx = responder.tx.upgrade().ok_or(Error::Closed)?;
        tx.send(Command::Ack(responder.id, args)).map_err(|_| Error::Closed)
    }
}

/// Sends one ack for one server event, without keeping the socket alive.
#[derive(Debug, Clone)]
pub(crate) struct AckResponder {
    pub(crate) id: u64,
    pub(crate) tx: mpsc::WeakUnboundedSender<Command>,
    pub(crate) used: Arc<AtomicBool>,
}

/// A model pubsub message as blueprints publish it (`{verb, id, data, previous}` and the association
/// forms), for [`on_json`](super::SailsSocket::on_json).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelEvent {
    /// `created`, `updated`, `destroyed`, `addedTo` or `removedFrom`.
    pub verb: String,
    /// The record's primary key.
    #[serde(default)]
    pub id: Option<Value>,
    /// The new record (`created`) or the changes (`updated`).
    #[serde(default)]
    pub data: Option<Value>,
    /// The record before the change (`updated`, `destroyed`).
    #[serde(default)]
    pub previous: Option<Value>,
    /// The association (`addedTo`, `removedFrom`).
    #[serde(default)]
    pub attribute: Option<String>,
    /// The child added (`addedTo`).
    #[serde(default)]
    pub added_id: Option<Value>,
    /// The child removed (`removedFrom`).
    #[serde(default)]
    pub removed_id: Option<Value>,
}
