//! The wasm driver: one [`Connection`] moved along by a WebSocket and a timer. It holds no protocol
//! logic: frames go in and out, `poll_timeout` becomes a `setTimeout`, events become calls of a JS
//! function.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array, JSON};
use sails_io::connection::{Connection, Event, RequestId, Transmit};
use sails_io::protocol::engine_io::Frame;
use sails_io::protocol::json::{Json, JsonExt};
use sails_io::{Error, Jwr, Payload};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, MessageEvent, WebSocket};
use web_time::Instant;

use crate::options;

/// A WebSocket event handler. All three handlers take a plain `Event` (the message handler casts it), so
/// wasm-bindgen generates the glue of one closure type instead of three.
type Handler = Closure<dyn FnMut(web_sys::Event)>;

/// The open WebSocket and the handlers attached to it.
struct Transport {
    ws: WebSocket,
    _on_message: Handler,
    _on_error: Handler,
    _on_close: Handler,
}

impl Transport {
    /// Detaches the handlers (so this close is not reported back) and closes the socket.
    fn close(self) {
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

struct Inner {
    conn: Connection,
    url: String,
    /// `(url) => WebSocket`: the JS layer decides the constructor and the handshake headers.
    open: Function,
    /// `(kind, a, b, c)`: how events reach the JS layer.
    on_event: Function,
    transport: Option<Transport>,
    /// Counts transports, so handlers of a transport we already dropped do nothing.
    generation: u64,
    timer: Option<(Instant, Timeout)>,
    events: VecDeque<Event>,
    dispatching: bool,
}

/// One socket, driven in the JS event loop. The JS layer (`SailsSocket`) wraps it.
#[wasm_bindgen]
pub struct Driver {
    inner: Rc<RefCell<Inner>>,
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Driver {
    /// `settings`: an object with the fields of [`options::Settings`] in camelCase (`url`, `path`,
    /// `query`, `eio`, `platform`, `reconnection`, `reconnectionAttempts`, `reconnectionDelay`,
    /// `reconnectionDelayMax`, `randomizationFactor`, `timeout`, `requestTimeout`, `headers` as JSON
    /// text, `seed`); `open(url)` returns a WebSocket; `on_event(kind, a, b, c)` receives every event.
    #[wasm_bindgen(constructor)]
    pub fn new(settings: &JsValue, open: Function, on_event: Function) -> Result<Driver, JsError> {
        let prepared = options::prepare(read_settings(settings)).map_err(js_err)?;
        let inner = Inner {
            conn: Connection::new(prepared.config),
            url: prepared.handshake_url,
            open,
            on_event,
            transport: None,
            generation: 0,
            timer: None,
            events: VecDeque::new(),
            dispatching: false,
        };
        Ok(Driver { inner: Rc::new(RefCell::new(inner)) })
    }

    /// The WebSocket URL this socket opens.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.inner.borrow().url.clone()
    }

    /// Starts connecting (no-op while connecting or connected).
    pub fn connect(&self) {
        self.inner.borrow_mut().conn.connect(Instant::now());
        pump(&self.inner);
    }

    /// Disconnects; pending requests end as disconnected.
    pub fn disconnect(&self) {
        self.inner.borrow_mut().conn.disconnect();
        pump(&self.inner);
    }

    /// Shuts down for good; pending requests end as disconnected.
    pub fn close(&self) {
        self.inner.borrow_mut().conn.close();
        pump(&self.inner);
    }

    /// Sends (or queues) a request; returns its id, which the `response` event carries. The data's
    /// placeholders refer to the attachments, passed end to end in `bytes` with their `lengths`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &str,
        data: &str,
        timeout_ms: f64,
        bytes: &[u8],
        lengths: &[u32],
    ) -> Result<f64, JsError> {
        let attachments = options::split_attachments(bytes, lengths).map_err(js_err)?;
        let request = options::request(method, url, headers, data, timeout_ms, &attachments).map_err(js_err)?;
        let id = self.inner.borrow_mut().conn.request(request, Instant::now()).map_err(js_err)?;
        pump(&self.inner);
        Ok(id.0 as f64)
    }

    /// Cancels a request (the JS layer's `AbortSignal`): one still queued is never sent, one in flight is
    /// forgotten (its late answer is dropped). It ends at once with a `response` event of kind
    /// `cancelled`; an id that already ended is ignored.
    pub fn cancel(&self, id: f64) {
        self.inner.borrow_mut().conn.cancel(RequestId(id as u64));
        pump(&self.inner);
    }

    /// Answers a server event that asked for an ack; `args` is a JSON array whose placeholders refer to
    /// attachments passed as for [`request`](Self::request).
    pub fn ack(&self, ack_id: f64, args: &str, bytes: &[u8], lengths: &[u32]) -> Result<(), JsError> {
        let attachments = options::split_attachments(bytes, lengths).map_err(js_err)?;
        let args = json_args(args, &attachments)?;
        self.inner.borrow_mut().conn.ack(ack_id as u64, args);
        pump(&self.inner);
        Ok(())
    }

    /// Emits a custom event (not a Sails request); false when not connected.
    pub fn emit(&self, name: &str, args: &str) -> Result<bool, JsError> {
        let args = json_args(args, &[])?;
        let sent = self.inner.borrow_mut().conn.emit(name, args);
        pump(&self.inner);
        Ok(sent)
    }

    /// Connected at the Socket.IO level.
    #[wasm_bindgen(js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.inner.borrow().conn.is_connected()
    }

    /// A connection attempt is under way.
    #[wasm_bindgen(js_name = isConnecting)]
    pub fn is_connecting(&self) -> bool {
        self.inner.borrow().conn.is_connecting()
    }

    /// Waiting for the next automatic reconnection attempt.
    #[wasm_bindgen(js_name = isReconnectPending)]
    pub fn is_reconnect_pending(&self) -> bool {
        self.inner.borrow().conn.is_reconnect_pending()
    }

    /// The socket id as the server sees it, while connected.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> Option<String> {
        self.inner.borrow().conn.socket_id().map(str::to_owned)
    }
}

/// The settings object's fields; a field of the wrong type counts as unset.
fn read_settings(o: &JsValue) -> options::Settings {
    let field = |key: &str| Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    let text = |key: &str| field(key).as_string();
    let num = |key: &str| field(key).as_f64();
    options::Settings {
        url: text("url").unwrap_or_default(),
        path: text("path"),
        query: text("query"),
        eio: text("eio"),
        platform: text("platform"),
        reconnection: field("reconnection").is_truthy(),
        reconnection_attempts: num("reconnectionAttempts"),
        reconnection_delay: num("reconnectionDelay"),
        reconnection_delay_max: num("reconnectionDelayMax"),
        randomization_factor: num("randomizationFactor"),
        timeout: num("timeout"),
        request_timeout: num("requestTimeout"),
        headers: text("headers"),
        seed: num("seed"),
    }
}

fn json_args(args: &str, attachments: &[Vec<u8>]) -> Result<Vec<Payload>, JsError> {
    match Json::parse(args).map(|v| v.items()) {
        Ok(Some(items)) => items
            .into_iter()
            .map(|item| options::with_attachments(item, attachments).map_err(|e| JsError::new(&e.to_string())))
            .collect(),
        Ok(None) => Err(JsError::new("arguments must be a JSON array")),
        Err(e) => Err(JsError::new(&e)),
    }
}

/// Carries out the connection's output: transmits at once, events one at a time (a JS handler may call
/// back into the socket, which only queues more output for this loop), then re-arms the timer.
fn pump(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        inner.collect(rc);
        if inner.dispatching {
            return;
        }
        inner.dispatching = true;
    }
    loop {
        let next = {
            let mut inner = rc.borrow_mut();
            inner.collect(rc);
            match inner.events.pop_front() {
                Some(event) => Some((event, inner.on_event.clone())),
                None => {
                    inner.dispatching = false;
                    inner.arm_timer(rc);
                    None
                }
            }
        };
        match next {
            Some((event, on_event)) => dispatch(&on_event, event),
            None => return,
        }
    }
}

impl Inner {
    fn collect(&mut self, rc: &Rc<RefCell<Inner>>) {
        while let Some(t) = self.conn.poll_transmit() {
            match t {
                Transmit::Open => self.open_transport(rc),
                Transmit::Frame(frame) => {
                    if let Some(tr) = &self.transport {
                        let _ = match &frame {
                            Frame::Text(text) => tr.ws.send_with_str(text),
                            Frame::Binary(bytes) => tr.ws.send_with_u8_array(bytes),
                        };
                    }
                }
                Transmit::Close => self.drop_transport(),
            }
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push_back(e);
        }
    }

    fn drop_transport(&mut self) {
        self.generation += 1;
        if let Some(t) = self.transport.take() {
            t.close();
        }
    }

    fn open_transport(&mut self, rc: &Rc<RefCell<Inner>>) {
        self.drop_transport();
        let ws = match self.open.call1(&JsValue::NULL, &JsValue::from_str(&self.url)) {
            Ok(ws) if ws.is_object() => ws.unchecked_into::<WebSocket>(),
            Ok(_) => {
                return self.conn.transport_closed(
                    Some(Error::Transport("the WebSocket factory returned no socket".into())),
                    Instant::now(),
                )
            }
            Err(e) => return self.conn.transport_closed(Some(Error::Transport(describe(&e))), Instant::now()),
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let generation = self.generation;
        let weak = Rc::downgrade(rc);
        let on_message = {
            let weak = weak.clone();
            Handler::new(move |ev: web_sys::Event| {
                let data = ev.unchecked_into::<MessageEvent>().data();
                let frame = if let Some(text) = data.as_string() {
                    Frame::Text(text)
                } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                    Frame::Binary(Uint8Array::new(buf).to_vec())
                } else {
                    return;
                };
                with_live(&weak, generation, |inner| inner.conn.handle_frame(frame, Instant::now()));
            })
        };
        let on_error = {
            let weak = weak.clone();
            Handler::new(move |ev: web_sys::Event| {
                // Browsers pass a plain Event, node an ErrorEvent-like object: read `message` if there is one.
                let message = Reflect::get(&ev, &JsValue::from_str("message"))
                    .ok()
                    .and_then(|m| m.as_string())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "websocket error".into());
                // An error ends the transport. Browsers fire `close` next, but node 20's WebSocket does not
                // when the connection cannot be opened, so report it now (the handlers are detached).
                with_live(&weak, generation, |inner| {
                    inner.drop_transport();
                    inner.conn.transport_closed(Some(Error::Transport(message)), Instant::now());
                });
            })
        };
        let on_close = Handler::new(move |_ev: web_sys::Event| {
            with_live(&weak, generation, |inner| {
                inner.drop_transport();
                inner.conn.transport_closed(None, Instant::now());
            });
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.transport = Some(Transport { ws, _on_message: on_message, _on_error: on_error, _on_close: on_close });
    }

    /// Keeps one `setTimeout` pending for the connection's next deadline.
    fn arm_timer(&mut self, rc: &Rc<RefCell<Inner>>) {
        let due = self.conn.poll_timeout();
        if self.timer.as_ref().map(|(at, _)| *at) == due {
            return;
        }
        self.timer = None; // dropping a gloo Timeout cancels it
        let Some(at) = due else { return };
        let ms = at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0;
        let weak = Rc::downgrade(rc);
        let timeout = Timeout::new(ms.ceil().min(u32::MAX as f64) as u32, move || {
            if let Some(rc) = weak.upgrade() {
                {
                    let mut inner = rc.borrow_mut();
                    inner.timer = None;
                    inner.conn.handle_timeout(Instant::now());
                }
                pump(&rc);
            }
        });
        self.timer = Some((at, timeout));
    }
}

/// Runs `f` if the socket still exists and `generation` is still its current transport, then pumps.
fn with_live(weak: &Weak<RefCell<Inner>>, generation: u64, f: impl FnOnce(&mut Inner)) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let mut inner = rc.borrow_mut();
        if inner.generation != generation {
            return;
        }
        f(&mut inner);
    }
    pump(&rc);
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| Reflect::get(e, &JsValue::from_str("message")).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "failed to create the WebSocket".into())
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The core's JSON text, parsed by JS (object key order is then exactly sails.io.js's).
fn json_to_js(v: &Json) -> JsValue {
    JSON::parse(&v.text()).unwrap_or(JsValue::UNDEFINED)
}

/// JSON as JS values; binary parts become `ArrayBuffer`s.
fn payload_to_js(p: &Payload) -> JsValue {
    match p {
        Payload::Json(v) => json_to_js(v),
        Payload::Binary(bytes) => Uint8Array::from(bytes.as_slice()).buffer().into(),
        Payload::Array(items) => items.iter().map(payload_to_js).collect::<Array>().into(),
        Payload::Object(entries) => {
            let obj = Object::new();
            for (k, v) in entries {
                set(&obj, k, &payload_to_js(v));
            }
            obj.into()
        }
    }
}

/// `{body, headers, statusCode, binary?}` for a JWR; `{kind, message, details?, status?}` for a
/// request that ended without one.
fn result_to_js(result: &Result<Jwr, Error>) -> JsValue {
    let obj = Object::new();
    match result {
        Ok(jwr) => {
            if let Some(body) = &jwr.body {
                set(&obj, "body", &payload_to_js(body));
                if body.has_binary() {
                    set(&obj, "binary", &JsValue::TRUE);
                }
            }
            set(&obj, "headers", &json_to_js(&jwr.headers_json()));
            // The JS layer's JWR builds sails.io.js's error for an error status itself.
            set(&obj, "statusCode", &JsValue::from(jwr.status_code));
        }
        Err(e) => {
            set(&obj, "kind", &JsValue::from_str(options::error_kind(e)));
            set(&obj, "message", &JsValue::from_str(&e.to_string()));
            if let Error::Server(parse) = e {
                set(&obj, "details", &JsValue::from_str(&parse.details));
                set(&obj, "status", &JsValue::from(parse.status.unwrap_or(400)));
            }
        }
    }
    obj.into()
}

fn dispatch(on_event: &Function, event: Event) {
    let s = |v: &str| JsValue::from_str(v);
    let args: [JsValue; 4] = match event {
        Event::Connected { sid } => [s("connect"), s(&sid), JsValue::UNDEFINED, JsValue::UNDEFINED],
        Event::Reconnected { attempt } => [s("reconnect"), attempt.into(), JsValue::UNDEFINED, JsValue::UNDEFINED],
        Event::Disconnected { reason } => {
            [s("disconnect"), s(reason.as_str()), s(&reason.to_string()), JsValue::UNDEFINED]
        }
        Event::ConnectError { error } => {
            let kind = if matches!(error, Error::Timeout(_)) { "timeout" } else { "error" };
            [s("connect_error"), s(&error.to_string()), s(kind), JsValue::UNDEFINED]
        }
        Event::Reconnecting { attempt } => [s("reconnecting"), attempt.into(), JsValue::UNDEFINED, JsValue::UNDEFINED],
        Event::ReconnectFailed => [s("reconnect_failed"), JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED],
        Event::Response { id, result } => {
            [s("response"), (id.0 as f64).into(), result_to_js(&result), JsValue::UNDEFINED]
        }
        Event::ServerEvent { name, args, ack } => {
            let list: Array = args.iter().map(payload_to_js).collect();
            let ack = ack.map_or(JsValue::UNDEFINED, |a| JsValue::from(a as f64));
            [s("event"), s(&name), list.into(), ack]
        }
    };
    // A throwing handler must not break the driver; the JS layer reports handler errors itself.
    let _ = on_event.apply(&JsValue::NULL, &args.into_iter().collect::<Array>());
}
