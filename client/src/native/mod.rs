//! The tokio driver: [`SailsSocket`] moves frames between a WebSocket (tokio-tungstenite, rustls) and the
//! sans-IO [`Connection`](crate::Connection), and timers between tokio and the connection's deadlines.

mod driver;
mod env_proxy;
mod events;
mod proxy;
mod socket;
mod transport;

pub use env_proxy::{env_proxy, EnvProxy};
pub use events::{ModelEvent, ServerEvent, SocketEvent};
pub use socket::{EventStream, ListenerId, SailsSocket, SailsSocketBuilder, Transport};

/// The cookie store [`SailsSocketBuilder::cookie_jar`] takes: reqwest's, so one jar can serve a
/// `reqwest::Client` (e.g. an HTTP login) and the socket.
pub use reqwest::cookie::Jar as CookieJar;
