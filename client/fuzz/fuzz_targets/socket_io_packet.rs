//! The Socket.IO decoder, fed a sequence of text and binary messages, must never panic; every packet it
//! produces must encode and decode back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sails_io::protocol::socket_io::{encode, Decoder};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::default();
    for chunk in data.split(|&b| b == 0xFF) {
        let Some((&kind, body)) = chunk.split_first() else { continue };
        let result = if kind & 1 == 0 {
            match std::str::from_utf8(body) {
                Ok(text) => decoder.decode_text(text),
                Err(_) => continue,
            }
        } else {
            decoder.decode_binary(body.to_vec())
        };
        if let Ok(Some(packet)) = result {
            let encoded = encode(&packet);
            let mut check = Decoder::default();
            let mut out = check.decode_text(&encoded.text).expect("encoded packet decodes");
            for attachment in encoded.attachments {
                out = check.decode_binary(attachment).expect("attachment decodes");
            }
            assert_eq!(out.as_ref(), Some(&packet));
        }
    }
});
