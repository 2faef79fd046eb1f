//! Inputs found by the cargo-fuzz targets (`client/fuzz/run.sh`), kept as regression tests.

use sails_io::protocol::socket_io::{encode, Decoder, Packet, PacketKind};

/// `socket_io_packet`, crash-31e574045792a849aa2ef41712cb0d4881f6bf8e: a BINARY_ACK header without a
/// payload (`66-`) followed by its six attachments came out as an ack with the payload `null`, which encodes
/// to `3null`, which no decoder accepts. socket.io-parser accepts the header and leaves the ack's data
/// undefined; so does the decoder now (`data: None`), and that packet round-trips.
#[test]
fn binary_ack_without_payload_decodes_to_an_ack_without_data() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.decode_text("66-").unwrap(), None, "a header: six attachments follow");
    for _ in 0..5 {
        assert_eq!(decoder.decode_binary(vec![0x35]).unwrap(), None);
    }
    let packet = decoder.decode_binary(Vec::new()).unwrap().expect("complete after the sixth attachment");
    assert_eq!(packet, Packet { kind: PacketKind::Ack, nsp: "/".into(), id: None, data: None });
    let encoded = encode(&packet);
    assert_eq!(encoded.text, "3");
    assert_eq!(Decoder::default().decode_text(&encoded.text).unwrap(), Some(packet));

    // A binary event still needs its payload.
    assert!(Decoder::default().decode_text("51-").is_err());
    // With a payload, the binary ack keeps its attachment and round-trips.
    let mut decoder = Decoder::default();
    assert_eq!(decoder.decode_text(r#"61-7[{"_placeholder":true,"num":0}]"#).unwrap(), None);
    let packet = decoder.decode_binary(vec![0xde, 0xad]).unwrap().expect("complete");
    let encoded = encode(&packet);
    assert_eq!(encoded.attachments, vec![vec![0xde, 0xad]]);
    let mut check = Decoder::default();
    assert_eq!(check.decode_text(&encoded.text).unwrap(), None);
    assert_eq!(check.decode_binary(encoded.attachments[0].clone()).unwrap(), Some(packet));
}

/// The whole crashing input, replayed the way the fuzz target does: every packet the decoder produces
/// encodes to something that decodes back to it.
#[test]
fn socket_io_packet_crash_input_round_trips() {
    let data: &[u8] = &[
        0x2a, 0x36, 0x2d, 0xe2, 0x36, 0x05, 0x37, 0xff, 0x2a, 0x36, 0x36, 0x2d, 0xff, 0x35, 0xff, 0x35, 0xff, 0x31,
        0x0a, 0xc2, 0x0a, 0x0a, 0xff, 0xdf, 0x31, 0x2e, 0x0a, 0xc2, 0x0a, 0x0a, 0xff, 0xff, 0x7b, 0x35, 0x00, 0x3d,
        0xff, 0x49, 0x00, 0x08, 0x00, 0x4c,
    ];
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
}

/// `socket_io_packet`, crash-340bfea6922435ef27c7a70be677c1a7a7cca043: a 25-digit number in an event was
/// parsed one ulp off (serde_json's fast float path), so the decoded packet re-encoded to a different
/// number. JSON.parse rounds correctly; with `float_roundtrip` so does the native client.
#[test]
fn long_numbers_parse_like_json_parse_and_round_trip() {
    let mut decoder = Decoder::default();
    let packet = decoder.decode_text("258[1111055555105555555555555]").unwrap().expect("an event");
    let data = match &packet.data {
        Some(sails_io::Payload::Json(v)) => v.clone(),
        other => panic!("{other:?}"),
    };
    // What JSON.parse gives for 1111055555105555555555555 (the nearest f64).
    assert_eq!(data[0].as_f64(), Some(1.1110555551055555e24));
    let encoded = encode(&packet);
    assert_eq!(Decoder::default().decode_text(&encoded.text).unwrap(), Some(packet));
}
