//! Wire codecs, free of I/O: Engine.IO, Socket.IO and the Sails request/response layer.

pub mod engine_io;
pub mod json;
pub mod payload;
pub mod sails;
pub mod socket_io;
#[cfg(feature = "serde_json")]
mod usual_jwr;
