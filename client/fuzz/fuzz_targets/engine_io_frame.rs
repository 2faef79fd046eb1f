//! Engine.IO frame decoding (text and binary, both revisions) must never panic, and whatever decodes must
//! encode back to a frame that decodes to the same packet.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sails_io::protocol::engine_io::{decode_frame, encode_frame, EioVersion, Frame};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let version = if selector & 1 == 0 { EioVersion::V3 } else { EioVersion::V4 };
    let frame = if selector & 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(s) => Frame::Text(s.to_owned()),
            Err(_) => return,
        }
    } else {
        Frame::Binary(rest.to_vec())
    };
    if let Ok(packet) = decode_frame(&frame, version) {
        let again = encode_frame(&packet, version).expect("a decoded packet encodes");
        assert_eq!(decode_frame(&again, version).expect("re-encoded frame decodes"), packet);
    }
});
