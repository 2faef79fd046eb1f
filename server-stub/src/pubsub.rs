//! Resourceful pubsub (`sails/lib/hooks/pubsub`): model rooms and the `created/updated/destroyed/
//! addedTo/removedFrom` messages, with the event name = model identity.

use serde_json::{Map, Value};

use crate::sockets::Sockets;

/// Pubsub for one model identity (e.g. `pet`).
#[derive(Clone, Debug)]
pub struct ModelPubSub {
    identity: String,
    sockets: Sockets,
}

/// A record id as it appears in room names and payloads.
pub type Id = Value;

fn id_text(id: &Id) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ModelPubSub {
    /// Pubsub for `identity` (lower-case model identity).
    pub fn new(identity: &str, sockets: Sockets) -> Self {
        ModelPubSub { identity: identity.to_owned(), sockets }
    }

    /// `Model.getRoomName(id)`: `sails_model_<identity>_<id>:<identity>`.
    pub fn room(&self, id: &Id) -> String {
        format!("sails_model_{}_{}:{}", self.identity, id_text(id), self.identity)
    }

    /// The class room that watchers join: `sails_model_create_<identity>`.
    pub fn class_room(&self) -> String {
        format!("sails_model_create_{}", self.identity)
    }

    /// `Model.subscribe(req, ids)`: the socket joins each record's room.
    pub fn subscribe(&self, socket_id: &str, ids: &[Id]) {
        for id in ids {
            self.sockets.join(socket_id, &self.room(id));
        }
    }

    /// `Model.unsubscribe(req, ids)`.
    pub fn unsubscribe(&self, socket_id: &str, ids: &[Id]) {
        for id in ids {
            self.sockets.leave(socket_id, &self.room(id));
        }
    }

    /// `Model._watch(req)`: join the class room to hear about created records.
    pub fn watch(&self, socket_id: &str) {
        self.sockets.join(socket_id, &self.class_room());
    }

    /// `Model._unwatch(req)`.
    pub fn unwatch(&self, socket_id: &str) {
        self.sockets.leave(socket_id, &self.class_room());
    }

    /// `Model._introduce(record)`: class-room members join the new record's room.
    pub fn introduce(&self, id: &Id) {
        self.sockets.add_room_members_to_rooms(&self.class_room(), &[&self.room(id)]);
    }

    /// `Model._retire(record)`: everybody leaves the record's room.
    pub fn retire(&self, id: &Id) {
        let room = self.room(id);
        self.sockets.remove_room_members_from_rooms(&room, &[&room]);
    }

    /// `Model.publish(ids, data, req)`: the raw data, no verb wrapper.
    pub async fn publish(&self, ids: &[Id], data: &Value, omit: Option<&str>) {
        for id in ids {
            self.sockets.broadcast(&[&self.room(id)], Some(&self.identity), data, omit).await;
        }
    }

    /// `_publishCreate(record, req)`: `{"verb":"created","data":record,"id":id}` to the class room.
    pub async fn publish_create(&self, id: &Id, record: &Value, omit: Option<&str>) {
        let mut msg = Map::new();
        msg.insert("verb".into(), "created".into());
        msg.insert("data".into(), record.clone());
        msg.insert("id".into(), id.clone());
        self.sockets.broadcast(&[&self.class_room()], Some(&self.identity), &Value::Object(msg), omit).await;
    }

    /// `_publishUpdate(id, changes, req, {previous})`:
    /// `{"verb":"updated","data":changes,"id":id[,"previous":old]}` to the record room.
    pub async fn publish_update(&self, id: &Id, changes: &Value, previous: Option<&Value>, omit: Option<&str>) {
        let mut msg = Map::new();
        msg.insert("verb".into(), "updated".into());
        msg.insert("data".into(), changes.clone());
        msg.insert("id".into(), id.clone());
        if let Some(p) = previous {
            msg.insert("previous".into(), p.clone());
        }
        self.publish(std::slice::from_ref(id), &Value::Object(msg), omit).await;
    }

    /// `_publishDestroy(id, req, {previous})`: `{"verb":"destroyed","id":id[,"previous":old]}`.
    pub async fn publish_destroy(&self, id: &Id, previous: Option<&Value>, omit: Option<&str>) {
        let mut msg = Map::new();
        msg.insert("verb".into(), "destroyed".into());
        msg.insert("id".into(), id.clone());
        if let Some(p) = previous {
            msg.insert("previous".into(), p.clone());
        }
        self.publish(std::slice::from_ref(id), &Value::Object(msg), omit).await;
    }

    /// `_publishAdd(id, alias, addedId, req, {added})`:
    /// `{"id":id,"verb":"addedTo","attribute":alias,"addedId":addedId[,"added":record]}`.
    pub async fn publish_add(
        &self,
        id: &Id,
        attribute: &str,
        added_id: &Id,
        added: Option<&Value>,
        omit: Option<&str>,
    ) {
        let mut msg = Map::new();
        msg.insert("id".into(), id.clone());
        msg.insert("verb".into(), "addedTo".into());
        msg.insert("attribute".into(), attribute.into());
        msg.insert("addedId".into(), added_id.clone());
        if let Some(a) = added {
            msg.insert("added".into(), a.clone());
        }
        self.publish(std::slice::from_ref(id), &Value::Object(msg), omit).await;
    }

    /// `_publishRemove(id, alias, removedId, req)`:
    /// `{"id":id,"verb":"removedFrom","attribute":alias,"removedId":removedId}`.
    pub async fn publish_remove(&self, id: &Id, attribute: &str, removed_id: &Id, omit: Option<&str>) {
        let mut msg = Map::new();
        msg.insert("id".into(), id.clone());
        msg.insert("verb".into(), "removedFrom".into());
        msg.insert("attribute".into(), attribute.into());
        msg.insert("removedId".into(), removed_id.clone());
        self.publish(std::slice::from_ref(id), &Value::Object(msg), omit).await;
    }
}
