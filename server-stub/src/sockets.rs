//! `sails.sockets`: rooms, broadcast and blast (sails-hook-sockets `lib/sails.sockets/index.js`).

use serde_json::Value;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;

use crate::res::SocketRequest;

/// The event name used when none is given (`DEFAULT_EVENT_NAME`).
pub const DEFAULT_EVENT_NAME: &str = "message";

/// The Rust equivalent of `sails.sockets`. Cheap to clone; available to actions as
/// `Extension<Sockets>`.
#[derive(Clone)]
pub struct Sockets {
    io: SocketIo,
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sockets").finish_non_exhaustive()
    }
}

impl Sockets {
    /// Wrap a socketioxide handle.
    pub fn new(io: SocketIo) -> Self {
        Sockets { io }
    }

    /// The underlying socketioxide handle.
    pub fn io(&self) -> &SocketIo {
        &self.io
    }

    /// A connected socket by id (`sails.sockets.get`), `None` if no such socket is connected here.
    pub fn get(&self, id: &str) -> Option<SocketRef> {
        let sid: Sid = id.parse().ok()?;
        self.io.get_socket(sid)
    }

    /// `sails.sockets.getId(req)`: the id of the requesting socket.
    pub fn get_id(req: &SocketRequest) -> String {
        req.id()
    }

    /// Ids of all sockets in a room.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.io.within(room.to_owned()).sockets().iter().map(|s| s.id.to_string()).collect()
    }

    /// The rooms a socket is in (including the room named by its own id), or `None` if not connected.
    pub fn socket_rooms(&self, id: &str) -> Option<Vec<String>> {
        Some(self.get(id)?.rooms().into_iter().map(|r| r.to_string()).collect())
    }

    /// `sails.sockets.join(id, room)`. A socket not connected here is treated as a room name and
    /// forwarded to [`Sockets::add_room_members_to_rooms`] (as Sails does). Returns `true`.
    pub fn join(&self, id: &str, room: &str) -> bool {
        match self.get(id) {
            Some(s) => s.join(room.to_owned()),
            None => self.add_room_members_to_rooms(id, &[room]),
        }
        true
    }

    /// `sails.sockets.leave(id, room)`; the counterpart of [`Sockets::join`].
    pub fn leave(&self, id: &str, room: &str) -> bool {
        match self.get(id) {
            Some(s) => s.leave(room.to_owned()),
            None => self.remove_room_members_from_rooms(id, &[room]),
        }
        true
    }

    /// `addRoomMembersToRooms(sourceRoom, destRooms)`: a socket id applies to that socket, otherwise
    /// every member of `sourceRoom` joins every room of `destRooms`.
    pub fn add_room_members_to_rooms(&self, source_room: &str, dest_rooms: &[&str]) {
        let rooms: Vec<String> = dest_rooms.iter().map(|r| (*r).to_owned()).collect();
        match self.get(source_room) {
            Some(s) => s.join(rooms),
            None => {
                for s in self.io.within(source_room.to_owned()).sockets() {
                    s.join(rooms.clone());
                }
            }
        }
    }

    /// `removeRoomMembersFromRooms(sourceRoom, destRooms)`.
    pub fn remove_room_members_from_rooms(&self, source_room: &str, dest_rooms: &[&str]) {
        let rooms: Vec<String> = dest_rooms.iter().map(|r| (*r).to_owned()).collect();
        match self.get(source_room) {
            Some(s) => s.leave(rooms),
            None => {
                for s in self.io.within(source_room.to_owned()).sockets() {
                    s.leave(rooms.clone());
                }
            }
        }
    }

    /// `leaveAll(sourceRoom, {includeSocketRooms})`: every member of `sourceRoom` leaves all its rooms,
    /// except the room named by its own id unless `include_socket_rooms`.
    pub fn leave_all(&self, source_room: &str, include_socket_rooms: bool) {
        let members = match self.get(source_room) {
            Some(s) => vec![s],
            None => self.io.within(source_room.to_owned()).sockets(),
        };
        for s in members {
            let own = s.id.to_string();
            let rooms: Vec<String> =
                s.rooms().into_iter().map(|r| r.to_string()).filter(|r| include_socket_rooms || *r != own).collect();
            s.leave(rooms);
        }
    }

    /// `broadcast(rooms, event, data, socketToOmit)`: one emit per room, so a socket in several of the
    /// rooms gets the event once per room (as sails-hook-sockets 3 does). `event` `None` → `message`.
    pub async fn broadcast(&self, rooms: &[&str], event: Option<&str>, data: &Value, omit: Option<&str>) {
        let event = event.filter(|e| !e.is_empty()).unwrap_or(DEFAULT_EVENT_NAME);
        for room in rooms {
            let mut op = self.io.to((*room).to_owned());
            if let Some(omit) = omit {
                op = op.except(omit.to_owned());
            }
            if let Err(e) = op.emit(event, data).await {
                tracing::debug!("broadcast to {room} failed: {e}");
            }
        }
    }

    /// `blast(event, data, socketToOmit)`: every connected socket.
    pub async fn blast(&self, event: Option<&str>, data: &Value, omit: Option<&str>) {
        let event = event.filter(|e| !e.is_empty()).unwrap_or(DEFAULT_EVENT_NAME);
        let res = match omit {
            Some(omit) => self.io.except(omit.to_owned()).emit(event, data).await,
            None => self.io.emit(event, data).await,
        };
        if let Err(e) = res {
            tracing::debug!("blast failed: {e}");
        }
    }
}
