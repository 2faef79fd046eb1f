//! Polling payload decoding (v3 text, v3 binary, v4) must never panic; decoded payloads round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sails_io::protocol::engine_io::{
    decode_payload, decode_payload_v3_binary, encode_payload, encode_payload_v3_binary, EioVersion,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 3 {
        0 => {
            if let Ok(packets) = decode_payload_v3_binary(rest) {
                let again = encode_payload_v3_binary(&packets);
                assert_eq!(decode_payload_v3_binary(&again).expect("round trip"), packets);
            }
        }
        n => {
            let version = if n == 1 { EioVersion::V3 } else { EioVersion::V4 };
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(packets) = decode_payload(text, version) {
                let again = encode_payload(&packets, version).expect("decoded packets encode");
                assert_eq!(decode_payload(&again, version).expect("round trip"), packets);
            }
        }
    }
});
