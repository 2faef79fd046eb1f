//! The tokio task that drives one [`Connection`]: it only moves frames and timers.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};
use web_time::Instant;

use super::events::{AckResponder, ServerEvent, SocketEvent};
use super::socket::Shared;
pub(crate) use super::transport::TransportOptions;
use super::transport::{Incoming, Transport};
use crate::connection::{Connection, Event, RequestId, Transmit};
use crate::error::Error;
use crate::protocol::engine_io::Frame;
use crate::protocol::payload::Payload;
use crate::protocol::sails::{Jwr, Request};

/// At most this many already-waiting inputs are taken per wake-up before writing (see
/// [`Driver::take_ready_inputs`]).
const MAX_READY_INPUTS: usize = 256;

/// What the handles ask of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Request(Request, oneshot::Sender<Result<Jwr, Error>>),
    Connect(oneshot::Sender<Result<(), Error>>),
    Disconnect(oneshot::Sender<()>),
    Ack(u64, Vec<Payload>),
    Emit(String, Vec<Payload>, oneshot::Sender<bool>),
    /// A caller dropped a request's future before its answer.
    Abandoned,
}

pub(crate) struct Driver {
    conn: Connection,
    commands: mpsc::UnboundedReceiver<Command>,
    weak_tx: mpsc::WeakUnboundedSender<Command>,
    shared: Arc<Shared>,
    options: Arc<TransportOptions>,
    pending: HashMap<RequestId, oneshot::Sender<Result<Jwr, Error>>>,
    connect_waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    transport: Option<Transport>,
    opening: Option<tokio::task::JoinHandle<Result<Transport, Error>>>,
    /// One timer for the connection's next deadline, moved with `reset` rather than made anew on every
    /// turn of the loop (a new `Sleep` registers with tokio's timer wheel and leaves it again each time).
    /// Made on the first deadline (inside the runtime).
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// The deadline `timer` is set to; `None` once it fired.
    timer_at: Option<tokio::time::Instant>,
}

impl Driver {
    pub(crate) fn new(
        conn: Connection,
        commands: mpsc::UnboundedReceiver<Command>,
        weak_tx: mpsc::WeakUnboundedSender<Command>,
        shared: Arc<Shared>,
        options: Arc<TransportOptions>,
    ) -> Self {
        Driver {
            conn,
            commands,
            weak_tx,
            shared,
            options,
            pending: HashMap::new(),
            connect_waiters: Vec::new(),
            transport: None,
            opening: None,
            timer: None,
            timer_at: None,
        }
    }

    /// Runs until every handle is dropped, then closes the connection.
    pub(crate) async fn run(mut self) {
        loop {
            self.flush().await;
            let deadline = self.conn.poll_timeout().map(tokio::time::Instant::from_std);
            if let Some(at) = deadline.filter(|&at| self.timer_at != Some(at)) {
                match self.timer.as_mut() {
                    Some(timer) => timer.as_mut().reset(at),
                    None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                self.timer_at = Some(at);
            }
            // Whether the transport may have more input right away: not after a wake-up by a command or
            // the timer (`select!` polled it a moment ago), so take_ready_inputs need not poll it then.
            let mut transport_active = true;
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.handle_command(command);
                        transport_active = false;
                    }
                    None => break,
                },
                opened = async { self.opening.as_mut().expect("guarded").await }, if self.opening.is_some() => {
                    self.opening = None;
                    match opened {
                        Ok(Ok(transport)) => {
                            tracing::debug!("transport open");
                            self.shared.set_transport(Some(transport.kind()));
                            self.transport = Some(transport);
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("transport failed to open: {e}");
                            self.conn.transport_closed(Some(e), Instant::now());
                        }
                        Err(join) => self.conn.transport_closed(Some(Error::Transport(join.to_string())), Instant::now()),
                    }
                }
                incoming = async { self.transport.as_mut().expect("guarded").next().await }, if self.transport.is_some() => {
                    self.handle_incoming(incoming);
                }
                () = async { self.timer.as_mut().expect("set with the deadline").await }, if deadline.is_some() => {
                    self.timer_at = None;
                    self.conn.handle_timeout(Instant::now());
                    transport_active = false;
                }
            }
            self.take_ready_inputs(transport_active);
        }
        tracing::debug!("last handle dropped: closing the socket");
        self.conn.close();
        self.flush().await;
    }

    /// Takes the commands and frames that are already waiting, without blocking, so that one write and
    /// one flush carry many requests when the user pipelines them and many responses are processed per
    /// wake-up. Bounded, so that timers and a busy peer cannot starve each other. The transport is polled
    /// only when it was what woke the driver and requests are still waiting for answers (a poll costs a
    /// read attempt, which after the answer to a lone request finds nothing; the `select!` of the next
    /// turn polls it anyway, so frames that come without a request, such as server events, are only read
    /// one per turn instead of in a batch).
    fn take_ready_inputs(&mut self, poll_transport: bool) {
        for _ in 0..MAX_READY_INPUTS {
            let poll_transport = poll_transport && self.conn.in_flight_len() > 0;
            let mut progressed = false;
            if let Ok(command) = self.commands.try_recv() {
                self.handle_command(command);
                progressed = true;
            }
            // Both futures are cancel-safe (a stream's next() and an mpsc recv()), so polling once and
            // dropping a pending one loses nothing.
            if poll_transport {
                if let Some(incoming) = self.transport.as_mut().and_then(|t| t.next().now_or_never()) {
                    self.handle_incoming(incoming);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Request(request, reply) => match self.conn.request(request, now) {
                Ok(id) => {
                    self.pending.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Connect(reply) => {
                if self.conn.is_connected() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.connect_waiters.push(reply);
                    self.conn.connect(now);
                }
            }
            Command::Disconnect(reply) => {
                self.conn.disconnect();
                // Publish the new status before the caller wakes up: `is_connected()` right after
                // `disconnect().await` must be false (the Disconnected event is dispatched later).
                self.shared.update_status(&self.conn);
                let _ = reply.send(());
            }
            Command::Ack(id, args) => self.conn.ack(id, args),
            Command::Emit(name, args, reply) => {
                let _ = reply.send(self.conn.emit(&name, args));
            }
            Command::Abandoned => {
                // Cancel every request nobody waits for any more: a queued one is then never sent.
                let conn = &mut self.conn;
                self.pending.retain(|&id, reply| {
                    let waiting = !reply.is_closed();
                    if !waiting {
                        conn.cancel(id);
                    }
                    waiting
                });
            }
        }
    }

    fn handle_incoming(&mut self, incoming: Incoming) {
        let now = Instant::now();
        let frame = match incoming {
            Incoming::Frame(frame) => frame,
            Incoming::Nothing => return,
            Incoming::Closed(error) => {
                tracing::debug!("transport closed: {error:?}");
                self.drop_transport();
                return self.conn.transport_closed(error, now);
            }
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            match &frame {
                Frame::Text(t) => tracing::debug!("<- {t}"),
                Frame::Binary(b) => tracing::debug!("<- <{} bytes>", b.len()),
            }
        }
        self.conn.handle_frame(frame, now);
    }

    fn drop_transport(&mut self) {
        self.transport = None;
        self.shared.set_transport(None);
        if let Some(task) = self.opening.take() {
            task.abort();
        }
    }

    /// Carries out the connection's transmits and hands its events out, until neither is left (handling
    /// an event can produce output, e.g. stopping a reconnection).
    async fn flush(&mut self) {
        self.finish_upgrade().await;
        loop {
            let mut progressed = self.write_transmits().await;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                self.dispatch(event);
            }
            if !progressed {
                break;
            }
        }
    }

    /// Moves a polling transport whose upgrade is ready to its WebSocket (see `engine_io::upgrade`).
    async fn finish_upgrade(&mut self) {
        let Some(transport) = self.transport.as_mut() else { return };
        match transport.finish_upgrade().await {
            Ok(false) => {}
            Ok(true) => {
                tracing::debug!("upgraded to the WebSocket");
                self.shared.set_transport(Some(transport.kind()));
            }
            Err(e) => self.write_failed(e),
        }
    }

    /// Writes every pending transmit; true if there was any.
    async fn write_transmits(&mut self) -> bool {
        let mut any = false;
        let mut wrote = false;
        while let Some(transmit) = self.conn.poll_transmit() {
            any = true;
            match transmit {
                Transmit::Open => {
                    self.drop_transport();
                    self.opening = Some(tokio::spawn(Transport::open(self.options.clone())));
                }
                Transmit::Frame(frame) => {
                    let Some(transport) = self.transport.as_mut() else { continue };
                    match &frame {
                        Frame::Text(t) => tracing::debug!("-> {t}"),
                        Frame::Binary(b) => tracing::debug!("-> <{} bytes>", b.len()),
                    }
                    match transport.feed(frame).await {
                        Ok(()) => wrote = true,
                        Err(e) => self.write_failed(e),
                    }
                }
                Transmit::Close => {
                    if let Some(transport) = self.transport.take() {
                        transport.close().await;
                    }
                    self.drop_transport();
                }
            }
        }
        if wrote {
            if let Some(Err(e)) = match self.transport.as_mut() {
                Some(transport) => Some(transport.flush().await),
                None => None,
            } {
                self.write_failed(e);
            }
        }
        any
    }

    fn write_failed(&mut self, e: Error) {
        tracing::debug!("write failed: {e}");
        self.drop_transport();
        self.conn.transport_closed(Some(e), Instant::now());
    }

    fn dispatch(&mut self, event: Event) {
        self.shared.update_status(&self.conn);
        let socket_event = match event {
            Event::Response { id, result } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(result);
                }
                return;
            }
            Event::Connected { sid } => {
                for w in self.connect_waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
                SocketEvent::Connected { sid }
            }
            Event::ConnectError { error } => {
                if !self.connect_waiters.is_empty() {
                    // An explicit connect() fails fast and stops retrying.
                    for w in self.connect_waiters.drain(..) {
                        let _ = w.send(Err(error.clone()));
                    }
                    self.conn.stop_reconnecting(error.clone());
                }
                SocketEvent::ConnectError { error }
            }
            Event::Disconnected { reason } => SocketEvent::Disconnected { reason },
            Event::Reconnecting { attempt } => SocketEvent::Reconnecting { attempt },
            Event::Reconnected { attempt } => SocketEvent::Reconnected { attempt },
            Event::ReconnectFailed => SocketEvent::ReconnectFailed,
            Event::ServerEvent { name, args, ack } => {
                let responder =
                    ack.map(|id| AckResponder { id, tx: self.weak_tx.clone(), used: Arc::new(AtomicBool::new(false)) });
                SocketEvent::Server(ServerEvent::new(name, args, responder))
            }
        };
        self.shared.emit(&socket_event);
    }
}
