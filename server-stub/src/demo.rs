//! The conformance app (issue 4): the routes the real Sails app in `tests/interop/` also serves.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde_json::{json, Map, Value};
use socketioxide::AckError;

use crate::mixed::Mixed;
use crate::pubsub::ModelPubSub;
use crate::res::{self, Res, SailsReq, ServerError};
use crate::sockets::Sockets;

/// The model identity of `Pet`.
pub const PET: &str = "pet";

/// The in-memory `Pet` table: `name` (string, required), `species` (string, default `dog`), plus `id`,
/// `createdAt`, `updatedAt` (numbers, as Sails 1's default model config).
#[derive(Debug, Default)]
pub struct PetDb {
    next_id: u64,
    rows: Vec<Map<String, Value>>,
}

type Pets = Arc<Mutex<PetDb>>;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// JS truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The conformance router (without `/__getcookie` and the fallback, which the server adds).
pub fn router() -> Router {
    let pets: Pets = Arc::default();
    Router::new()
        .route("/hello", get(hello))
        .route("/echo", any(echo))
        .route("/status/{code}", get(status))
        .route("/text", get(text))
        .route("/bytes", get(bytes))
        .route("/redirect", get(redirect))
        .route("/error", get(error))
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/secret", get(secret))
        .route("/rooms/{room}/join", post(join))
        .route("/rooms/{room}/leave", post(leave))
        .route("/rooms/{room}/say", post(say))
        .route("/blast", post(blast))
        .route("/me/id", get(me_id))
        .route("/ask", post(ask))
        .route("/pet", get(pet_find).post(pet_create))
        .route("/pet/{id}", get(pet_find_one).patch(pet_update).put(pet_update).delete(pet_destroy))
        .layer(Extension(pets))
}

async fn hello() -> Response {
    res::ok(&json!({"hello": "world"}))
}

async fn echo(req: SailsReq) -> Response {
    let h = |n: &str| req.header(n).map_or(Value::Null, |v| Value::String(v.into()));
    res::ok(&json!({
        "method": req.method,
        "url": req.url,
        "path": req.path,
        "query": req.query,
        "body": req.body.clone().unwrap_or(Value::Null),
        "params": req.all_params(),
        "headers": {
            "x-test": h("x-test"),
            "content-type": h("content-type"),
            "hasCookie": req.header("cookie").is_some_and(|c| !c.is_empty()),
        },
        "isSocket": req.is_socket(),
        "wantsJSON": req.wants_json(),
    }))
}

async fn status(req: SailsReq) -> Result<Response, ServerError> {
    let code = req.params.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone()).unwrap_or_default();
    // `parseInt(req.param('code'), 10)`
    let digits: String = code.chars().take_while(char::is_ascii_digit).collect();
    let n: u16 = digits
        .parse()
        .ok()
        .filter(|n| (100..=999).contains(n))
        .ok_or_else(|| ServerError(format!("Invalid status code: {code}")))?;
    Ok(Res::new().status(n).json(&json!({ "code": n })))
}

async fn text() -> Response {
    Res::new().set("content-type", "text/plain; charset=utf-8").send("plain text")
}

/// `res.send(buffer)`: a binary body (a BINARY_ACK attachment over a socket).
async fn bytes() -> Response {
    Res::new().send_bytes(&[0u8, 1, 2, 254, 255][..])
}

async fn redirect(req: SailsReq) -> Response {
    res::redirect(req.is_socket(), "/hello")
}

async fn error() -> Result<Response, ServerError> {
    Err(ServerError("Intentional conformance error".into()))
}

async fn login(req: SailsReq) -> Response {
    let user_id = req.param("userId").unwrap_or(Value::Null);
    // `req.session.userId = …`: with `nosession` there is no `req.session` and the action throws.
    let Some(session) = &req.session else {
        return res::server_error("TypeError: Cannot set properties of undefined (setting 'userId')");
    };
    session.insert("userId", user_id.clone());
    res::ok(&json!({"ok": true, "userId": user_id}))
}

fn session_user(req: &SailsReq) -> Value {
    req.session.as_ref().and_then(|s| s.get("userId")).unwrap_or(Value::Null)
}

async fn whoami(req: SailsReq) -> Response {
    res::ok(&json!({"userId": session_user(&req)}))
}

async fn secret(req: SailsReq) -> Response {
    // policy `isLoggedIn`
    let user = session_user(&req);
    if !truthy(&user) {
        return res::forbidden();
    }
    res::ok(&json!({"secret": "the cake is a lie", "userId": user}))
}

fn socket_only() -> Response {
    res::bad_request(&json!({"error": "socket requests only"}))
}

fn room_param(req: &SailsReq) -> String {
    req.params.iter().find(|(k, _)| k == "room").map(|(_, v)| v.clone()).unwrap_or_default()
}

async fn join(req: SailsReq) -> Response {
    let Some(sock) = &req.socket else {
        return socket_only();
    };
    let room = room_param(&req);
    sock.socket.join(room.clone());
    res::ok(&json!({ "joined": room }))
}

async fn leave(req: SailsReq) -> Response {
    let Some(sock) = &req.socket else {
        return socket_only();
    };
    let room = room_param(&req);
    sock.socket.leave(room.clone());
    res::ok(&json!({ "left": room }))
}

async fn say(Extension(sockets): Extension<Sockets>, req: SailsReq) -> Response {
    let room = room_param(&req);
    let mut data = Map::new();
    data.insert("room".into(), Value::String(room.clone()));
    if let Some(t) = req.param("text") {
        data.insert("text".into(), t);
    }
    let omit = req.socket.as_ref().map(|s| s.id());
    sockets.broadcast(&[&room], Some("said"), &Value::Object(data), omit.as_deref()).await;
    res::ok(&json!({"ok": true}))
}

async fn blast(Extension(sockets): Extension<Sockets>, req: SailsReq) -> Response {
    let body = req.body.clone().unwrap_or(Value::Null);
    sockets.blast(Some("announcement"), &body, None).await;
    res::ok(&json!({"ok": true}))
}

async fn me_id(req: SailsReq) -> Response {
    match &req.socket {
        Some(s) => res::ok(&json!({"id": Sockets::get_id(s)})),
        None => socket_only(),
    }
}

/// `POST /ask`: sends the requesting socket a `question` event carrying the request body and asking for
/// an ack, and answers `{answer: [the ack's arguments]}` (504 `{error: "no answer"}` after 2 s).
async fn ask(req: SailsReq) -> Response {
    let Some(sock) = &req.socket else {
        return socket_only();
    };
    let question = req.body.clone().unwrap_or(Value::Null);
    let no_answer = || Res::new().status(504).json(&json!({"error": "no answer"}));
    let Ok(ack) = sock.socket.timeout(Duration::from_secs(2)).emit_with_ack::<_, AckArgs>("question", &question) else {
        return no_answer();
    };
    match ack.await {
        // Buffers in the answer go back as binary, as Sails' virtual `res.json` hands them to socket.io.
        Ok(AckArgs(answer)) => Res::new().json_mixed(Mixed::object(vec![("answer".into(), Mixed::array(answer))])),
        Err(AckError::Timeout) => no_answer(),
        Err(e) => ServerError(format!("the answer could not be read: {e}")).into_response(),
    }
}

/// Every argument of an ack, binary ones included. socketioxide gives a type that does not deserialize as
/// a tuple only the first argument; this one asks for a tuple of any length, so it gets the whole list.
struct AckArgs(Vec<Mixed>);

impl<'de> Deserialize<'de> for AckArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Args;
        impl<'de> Visitor<'de> for Args {
            type Value = AckArgs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the arguments of an ack")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<AckArgs, S::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element()? {
                    args.push(arg);
                }
                Ok(AckArgs(args))
            }
        }
        deserializer.deserialize_tuple(usize::MAX, Args)
    }
}

// ---- Pet blueprints -------------------------------------------------------------------------

const ATTRS: [&str; 2] = ["name", "species"];

fn usage_error(req: &SailsReq, code: &str, details: &str) -> Response {
    res::bad_request(&json!({
        "code": code,
        "details": details,
        "message": format!(
            "The server could not fulfill this request (`{} {}`) due to a problem with the parameters that were sent.  See the `details` for more info.  **The following additional tip will not be shown in production**:  Tip: Check your client-side code to make sure that the request data it sends matches the expectations of the corresponding attributes in your model.  Also check that your client-side code sends data for every required attribute.",
            req.method, req.path
        ),
    }))
}

/// The columns Sails adds or the model declares, in the order records show them (after any extra keys:
/// the model has no `schema: true`, so unknown attributes are stored and come first).
const COLUMNS: [&str; 5] = ["createdAt", "updatedAt", "id", "name", "species"];

/// A record as Waterline returns it: extra keys in insertion order, then [`COLUMNS`].
fn ordered(row: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> =
        row.iter().filter(|(k, _)| !COLUMNS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    for c in COLUMNS {
        if let Some(v) = row.get(c) {
            out.insert(c.into(), v.clone());
        }
    }
    out
}

/// Waterline's validation of a `string` attribute (`name` required, `species` optional): strings pass
/// (but not `""` for a required one), numbers and booleans are coerced, anything else is an error whose
/// details text is returned. `creating` picks the prefix of the real texts.
fn check_string_attr(attr: &str, v: &Value, creating: bool) -> Result<Value, String> {
    let required = attr == "name";
    let wrong_type = |what: &str| {
        if creating {
            format!("New record contains the wrong type of data for property `{attr}`.  {what}")
        } else {
            format!("Could not use specified `{attr}`.  {what}")
        }
    };
    match v {
        Value::String(s) if s.is_empty() && required => {
            Err(format!("Could not use specified `{attr}`.  Cannot set \"\" (empty string) for a required attribute."))
        }
        Value::String(_) => Ok(v.clone()),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        Value::Null if !required => Err(wrong_type(&format!(
            "Specified value (`null`) is not a valid `{attr}`.  Even though this attribute is optional, it still does \
             not allow `null` to be explicitly set, because `null` is not valid vs. the expected type: 'string'.  \
             Instead, to indicate \"voidness\", please set the value for this attribute to the base value for its \
             type, `''` (empty string).  Or, if you specifically need to save `null`, then change this attribute to \
             either `type: 'json'` or `type: 'ref'`.  "
        ))),
        _ => {
            let kind = match v {
                Value::Null => "null",
                Value::Array(_) => "array",
                _ => "dictionary",
            };
            Err(wrong_type(&format!(
                "Specified value is not a valid `{attr}`.  1 error validating value: \n • Specified value (a {kind}: \
                 {}) doesn't match the expected type: 'string'",
                crate::inspect::inspect(v, 0)
            )))
        }
    }
}

/// The `:id` route parameter. `Err` is the blueprint's answer for an id that is not a number
/// (`E_INVALID_CRITERIA`); a number that is not a whole one matches no record.
fn pet_id_param(req: &SailsReq) -> Result<Option<u64>, Box<Response>> {
    let raw = req.params.iter().find(|(k, _)| k == "id").map(|(_, v)| v.as_str()).unwrap_or("");
    match raw.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n >= 0.0 && n.fract() == 0.0).then_some(n as u64)),
        _ => Err(Box::new(usage_error(
            req,
            "E_INVALID_CRITERIA",
            &format!(
                "Could not use the provided `where` clause.  Could not filter by `id`: Does not match the declared \
                 data type of the corresponding attribute.  1 error validating value: \n • Specified value (a \
                 string: {}) doesn't match the expected type: 'number'",
                crate::inspect::inspect(&Value::String(raw.to_owned()), 0)
            ),
        ))),
    }
}

/// Resolve the `:id` parameter or return the answer (400 for a non-number, 404 for no such record).
macro_rules! pet_id_or_return {
    ($req:expr) => {
        match pet_id_param(&$req) {
            Ok(Some(id)) => id,
            Ok(None) => return res::not_found(),
            Err(res) => return *res,
        }
    };
}

async fn pet_find(Extension(pets): Extension<Pets>, Extension(sockets): Extension<Sockets>, req: SailsReq) -> Response {
    let params = req.all_params();
    let num = |k: &str| {
        params.get(k).and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    };
    if params.get("limit").is_some() && num("limit").is_none() {
        return usage_error(
            &req,
            "E_INVALID_CRITERIA",
            "The `limit` clause in the provided criteria is invalid.  If provided, it should be a safe, natural \
             number.  But instead, got: NaN",
        );
    }
    let limit = num("limit").unwrap_or(30) as usize;
    let skip = num("skip").unwrap_or(0) as usize;
    let filters: Vec<(&String, &Value)> =
        params.iter().filter(|(k, _)| ATTRS.contains(&k.as_str()) || k.as_str() == "id").collect();
    // `sort=<attr> ASC|DESC`
    let sort = params.get("sort").and_then(Value::as_str).map(|s| {
        let mut it = s.split_whitespace();
        let attr = it.next().unwrap_or("id").to_owned();
        let desc = it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        (attr, desc)
    });
    let found: Vec<Value> = {
        let db = pets.lock().expect("pet table lock");
        let mut rows: Vec<&Map<String, Value>> = db.rows.iter().collect();
        if let Some((attr, desc)) = &sort {
            rows.sort_by(|a, b| {
                let key = |r: &Map<String, Value>| r.get(attr).cloned().unwrap_or(Value::Null);
                let ord = match (key(a), key(b)) {
                    (Value::Number(x), Value::Number(y)) => {
                        x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
                    }
                    (x, y) => x.to_string().cmp(&y.to_string()),
                };
                if *desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
        rows.into_iter()
            .filter(|r| {
                filters.iter().all(|(k, v)| match (r.get(*k), v) {
                    (Some(a), Value::String(s)) => a == *v || a.as_u64().map(|n| n.to_string()).as_deref() == Some(s),
                    (Some(a), b) => a == *b,
                    (None, _) => false,
                })
            })
            .skip(skip)
            .take(limit)
            .map(|r| Value::Object(ordered(r)))
            .collect()
    };
    if let Some(sock) = &req.socket {
        let ps = ModelPubSub::new(PET, sockets);
        let ids: Vec<Value> = found.iter().filter_map(|r| r.get("id").cloned()).collect();
        ps.subscribe(&sock.id(), &ids);
        ps.watch(&sock.id());
    }
    res::ok(&Value::Array(found))
}

async fn pet_find_one(
    Extension(pets): Extension<Pets>,
    Extension(sockets): Extension<Sockets>,
    req: SailsReq,
) -> Response {
    let id = pet_id_or_return!(req);
    let rec = {
        let db = pets.lock().expect("pet table lock");
        db.rows.iter().find(|r| r.get("id").and_then(Value::as_u64) == Some(id)).cloned()
    };
    let Some(rec) = rec else {
        return res::not_found();
    };
    if let Some(sock) = &req.socket {
        ModelPubSub::new(PET, sockets).subscribe(&sock.id(), &[json!(id)]);
    }
    res::ok(&Value::Object(ordered(&rec)))
}

async fn pet_create(
    Extension(pets): Extension<Pets>,
    Extension(sockets): Extension<Sockets>,
    req: SailsReq,
) -> Response {
    let params = req.all_params();
    // Values of the wrong type are reported first (in attribute order), then a missing `name`.
    let mut values = Map::new();
    for attr in ATTRS {
        if let Some(v) = params.get(attr) {
            match check_string_attr(attr, v, true) {
                Ok(v) => {
                    values.insert(attr.into(), v);
                }
                Err(details) => return usage_error(&req, "E_INVALID_NEW_RECORD", &details),
            }
        }
    }
    if params.get("name").is_none() {
        return usage_error(
            &req,
            "E_INVALID_NEW_RECORD",
            "Missing value for required attribute `name`.  Expected a string, but instead, got: undefined",
        );
    }
    let record = {
        let mut db = pets.lock().expect("pet table lock");
        db.next_id += 1;
        let now = now_ms();
        let mut r: Map<String, Value> = params
            .iter()
            .filter(|(k, _)| !COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        r.insert("createdAt".into(), json!(now));
        r.insert("updatedAt".into(), json!(now));
        r.insert("id".into(), json!(db.next_id));
        r.insert("name".into(), values.remove("name").unwrap_or(Value::Null));
        r.insert("species".into(), values.remove("species").unwrap_or_else(|| Value::String("dog".into())));
        db.rows.push(r.clone());
        Value::Object(ordered(&r))
    };
    let id = record["id"].clone();
    let ps = ModelPubSub::new(PET, sockets);
    let omit = req.socket.as_ref().map(|s| s.id());
    if let Some(sock) = &req.socket {
        ps.subscribe(&sock.id(), std::slice::from_ref(&id));
        ps.introduce(&id);
    }
    ps.publish_create(&id, &record, omit.as_deref()).await;
    res::ok(&record)
}

async fn pet_update(
    Extension(pets): Extension<Pets>,
    Extension(sockets): Extension<Sockets>,
    req: SailsReq,
) -> Response {
    let id = pet_id_or_return!(req);
    // The values to set, in the order given (the route's `id` and the automatic columns excluded).
    let mut changes = Map::new();
    for (k, v) in req.all_params() {
        if matches!(k.as_str(), "id" | "createdAt" | "updatedAt") {
            continue;
        }
        let v = if ATTRS.contains(&k.as_str()) {
            match check_string_attr(&k, &v, false) {
                Ok(v) => v,
                Err(details) => return usage_error(&req, "E_INVALID_VALUES_TO_SET", &details),
            }
        } else {
            v
        };
        changes.insert(k, v);
    }
    let now = now_ms();
    let (previous, updated) = {
        let mut db = pets.lock().expect("pet table lock");
        let Some(row) = db.rows.iter_mut().find(|r| r.get("id").and_then(Value::as_u64) == Some(id)) else {
            return res::not_found();
        };
        let previous = ordered(row);
        for (k, v) in &changes {
            row.insert(k.clone(), v.clone());
        }
        row.insert("updatedAt".into(), json!(now));
        (previous, ordered(row))
    };
    // the `updated` message's `data`: the values set, then `id`, then `updatedAt`
    changes.insert("id".into(), json!(id));
    changes.insert("updatedAt".into(), json!(now));
    let ps = ModelPubSub::new(PET, sockets);
    let omit = req.socket.as_ref().map(|s| s.id());
    if let Some(sock) = &req.socket {
        ps.subscribe(&sock.id(), &[json!(id)]);
    }
    ps.publish_update(&json!(id), &Value::Object(changes), Some(&Value::Object(previous)), omit.as_deref()).await;
    res::ok(&Value::Object(updated))
}

async fn pet_destroy(
    Extension(pets): Extension<Pets>,
    Extension(sockets): Extension<Sockets>,
    req: SailsReq,
) -> Response {
    let id = pet_id_or_return!(req);
    let removed = {
        let mut db = pets.lock().expect("pet table lock");
        let pos = db.rows.iter().position(|r| r.get("id").and_then(Value::as_u64) == Some(id));
        pos.map(|p| db.rows.remove(p))
    };
    let Some(removed) = removed else {
        return res::not_found();
    };
    let ps = ModelPubSub::new(PET, sockets);
    let omit = req.socket.as_ref().map(|s| s.id());
    let removed = Value::Object(ordered(&removed));
    ps.publish_destroy(&json!(id), Some(&removed), omit.as_deref()).await;
    ps.retire(&json!(id));
    res::ok(&removed)
}
