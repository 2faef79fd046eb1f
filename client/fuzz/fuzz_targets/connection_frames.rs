//! The whole `Connection` state machine fed arbitrary frames, closes, clock jumps and cancellations must
//! never panic, and every request must end exactly once after the connection is shut down.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sails_io::protocol::engine_io::Frame;
use sails_io::{Config, Connection, EioVersion, Event, Method, Reconnection, Request};
use std::collections::HashSet;
use web_time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let eio = if selector & 1 == 0 { EioVersion::V3 } else { EioVersion::V4 };
    let reconnection = Reconnection { enabled: selector & 2 != 0, ..Reconnection::default() };
    let mut conn = Connection::new(Config { eio, reconnection, ..Config::default() });
    let mut now = Instant::now();
    let mut open = HashSet::new();
    let mut made = Vec::new();
    conn.connect(now);
    for chunk in rest.split(|&b| b == 0xFF) {
        let Some((&op, body)) = chunk.split_first() else { continue };
        match op % 7 {
            0 => conn.handle_frame(Frame::Text(String::from_utf8_lossy(body).into_owned()), now),
            1 => conn.handle_frame(Frame::Binary(body.to_vec()), now),
            2 => {
                now += Duration::from_millis(u64::from(body.first().copied().unwrap_or(0)) * 1000);
                conn.handle_timeout(now);
            }
            3 => {
                let id = conn.request(Request::new(Method::Get, "/x"), now).expect("valid request");
                open.insert(id);
                made.push(id);
            }
            4 => conn.transport_closed(None, now),
            5 => conn.connect(now),
            // Any request made so far, ended or not (cancelling an ended one must change nothing).
            _ => {
                if !made.is_empty() {
                    conn.cancel(made[usize::from(body.first().copied().unwrap_or(0)) % made.len()]);
                }
            }
        }
        while conn.poll_transmit().is_some() {}
        while let Some(event) = conn.poll_event() {
            if let Event::Response { id, .. } = event {
                assert!(open.remove(&id), "a request ended twice");
            }
        }
    }
    conn.close();
    while let Some(event) = conn.poll_event() {
        if let Event::Response { id, .. } = event {
            assert!(open.remove(&id), "a request ended twice");
        }
    }
    assert!(open.is_empty(), "requests never ended: {open:?}");
});
