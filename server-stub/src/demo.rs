//! The conformance app (issue 4): the routes the real Sails app in `tests/interop/` also serves.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Response;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

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

/// Waterline's loose `string` validation: strings pass, numbers and booleans are coerced.
fn as_string_attr(v: &Value) -> Option<Value> {
    match v {
        Value::String(_) => Some(v.clone()),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    }
}

fn type_error_details(attr: &str, v: &Value) -> String {
    format!("Could not use specified `{attr}`.  Expected a string, but instead, got: {}", crate::inspect::inspect(v, 0))
}

fn pet_id_param(req: &SailsReq) -> Option<u64> {
    req.params.iter().find(|(k, _)| k == "id").and_then(|(_, v)| v.parse().ok())
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
            .map(|r| Value::Object((*r).clone()))
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
    let Some(id) = pet_id_param(&req) else {
        return res::not_found();
    };
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
    res::ok(&Value::Object(rec))
}

async fn pet_create(
    Extension(pets): Extension<Pets>,
    Extension(sockets): Extension<Sockets>,
    req: SailsReq,
) -> Response {
    let params = req.all_params();
    let name = match params.get("name") {
        None => {
            return usage_error(
                &req,
                "E_INVALID_NEW_RECORD",
                "Missing value for required attribute `name`.  Expected a string, but instead, got: undefined",
            )
        }
        Some(v) => match as_string_attr(v) {
            Some(s) => s,
            None => return usage_error(&req, "E_INVALID_NEW_RECORD", &type_error_details("name", v)),
        },
    };
    let species = match params.get("species") {
        None => Value::String("dog".into()),
        Some(v) => match as_string_attr(v) {
            Some(s) => s,
            None => return usage_error(&req, "E_INVALID_NEW_RECORD", &type_error_details("species", v)),
        },
    };
    let record = {
        let mut db = pets.lock().expect("pet table lock");
        db.next_id += 1;
        let now = now_ms();
        let mut r = Map::new();
        r.insert("createdAt".into(), json!(now));
        r.insert("updatedAt".into(), json!(now));
        r.insert("id".into(), json!(db.next_id));
        r.insert("name".into(), name);
        r.insert("species".into(), species);
        db.rows.push(r.clone());
        Value::Object(r)
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
    let Some(id) = pet_id_param(&req) else {
        return res::not_found();
    };
    let params = req.all_params();
    let mut changes = Map::new();
    for attr in ATTRS {
        if let Some(v) = params.get(attr) {
            match as_string_attr(v) {
                Some(s) => {
                    changes.insert(attr.into(), s);
                }
                None => return usage_error(&req, "E_INVALID_VALUES_TO_SET", &type_error_details(attr, v)),
            }
        }
    }
    let (previous, updated) = {
        let mut db = pets.lock().expect("pet table lock");
        let Some(row) = db.rows.iter_mut().find(|r| r.get("id").and_then(Value::as_u64) == Some(id)) else {
            return res::not_found();
        };
        let previous = row.clone();
        changes.insert("updatedAt".into(), json!(now_ms()));
        for (k, v) in &changes {
            row.insert(k.clone(), v.clone());
        }
        (previous, row.clone())
    };
    changes.insert("id".into(), json!(id));
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
    let Some(id) = pet_id_param(&req) else {
        return res::not_found();
    };
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
    let removed = Value::Object(removed);
    ps.publish_destroy(&json!(id), Some(&removed), omit.as_deref()).await;
    ps.retire(&json!(id));
    res::ok(&removed)
}
