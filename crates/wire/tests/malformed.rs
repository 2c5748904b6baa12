//! Malformed and hostile input: every case gives a typed error or "need more
//! bytes", never a panic and never a large allocation.

#![allow(clippy::unwrap_used)]

use btl_types::Sha256Hash;
use btl_wire::*;
use bytes::{Bytes, BytesMut};

fn decode_one(limits: FrameLimits, bytes: &[u8]) -> (Result<Option<Message>, WireError>, usize) {
    let mut dec = FrameDecoder::new(limits);
    let mut buf = BytesMut::from(bytes);
    let r = dec.decode(&mut buf);
    (r, buf.len())
}

fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    v.push(id);
    v.extend_from_slice(payload);
    v
}

#[test]
fn truncated_frames_need_more_and_consume_nothing() {
    let msgs = [
        Message::Have(3),
        Message::Request(BlockRequest {
            index: 1,
            begin: 0,
            length: 16384,
        }),
        Message::Piece(Block {
            index: 0,
            begin: 0,
            data: Bytes::from_static(b"hello"),
        }),
        Message::Hashes(Hashes {
            request: HashRequest {
                pieces_root: Sha256Hash([9; 32]),
                base_layer: 0,
                index: 0,
                length: 2,
                proof_layers: 1,
            },
            hashes: vec![Sha256Hash([1; 32]); 3],
        }),
    ];
    for m in msgs {
        let b = m.to_bytes();
        for n in 0..b.len() {
            let (r, left) = decode_one(FrameLimits::default(), &b[..n]);
            assert_eq!(r, Ok(None), "{m:?} cut at {n}");
            assert_eq!(left, n);
        }
    }
}

#[test]
fn oversized_length_is_fatal_and_allocates_nothing() {
    let mut dec = FrameDecoder::default();
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 7, 0, 0][..]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert!(e.is_fatal());
    assert!(matches!(
        e,
        WireError::MessageTooLong {
            id: Some(7),
            len: u32::MAX,
            ..
        }
    ));
    assert_eq!(buf.len(), 7, "nothing consumed");
    assert!(buf.capacity() < 1024, "no reservation for a refused frame");

    // A piece one byte over the block cap.
    let big = frame(7, &vec![0u8; 8 + 16384 + 1]);
    let (r, _) = decode_one(FrameLimits::default(), &big);
    assert!(matches!(
        r,
        Err(WireError::MessageTooLong { id: Some(7), .. })
    ));

    // Extended messages may be bigger than a block, up to their own cap.
    let ext = frame(20, &vec![b'x'; 100_000]);
    assert!(matches!(
        decode_one(FrameLimits::default(), &ext).0,
        Ok(Some(Message::Extended { .. }))
    ));
    let limits = FrameLimits {
        max_extended_len: 1000,
        ..FrameLimits::default()
    };
    assert!(decode_one(limits, &ext).0.unwrap_err().is_fatal());
}

#[test]
fn accepted_length_reserves_only_the_frame() {
    let mut dec = FrameDecoder::default();
    let mut buf = BytesMut::from(&frame(7, &[0u8; 8])[..5]);
    // Announce a full 16 KiB block.
    buf[..4].copy_from_slice(&(9u32 + 16384).to_be_bytes());
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.capacity() >= 4 + 9 + 16384);
    assert!(buf.capacity() < 64 * 1024);
}

#[test]
fn unknown_id_is_skipped() {
    let mut wire = frame(99, b"abc");
    wire.extend_from_slice(&Message::Interested.to_bytes());
    let mut dec = FrameDecoder::default();
    let mut buf = BytesMut::from(&wire[..]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!(e, WireError::UnknownId { id: 99, len: 4 });
    assert!(!e.is_fatal());
    assert_eq!(dec.decode(&mut buf), Ok(Some(Message::Interested)));
    assert_eq!(dec.decode(&mut buf), Ok(None));
}

#[test]
fn wrong_fixed_lengths() {
    // Shorter than the fixed size: a non-fatal length error.
    let (r, left) = decode_one(FrameLimits::default(), &frame(4, &[0, 0, 1]));
    assert_eq!(r, Err(WireError::BadLength { id: 4, len: 4 }));
    assert_eq!(left, 0);
    let (r, _) = decode_one(FrameLimits::default(), &frame(9, &[1]));
    assert_eq!(r, Err(WireError::BadLength { id: 9, len: 2 }));
    let (r, _) = decode_one(FrameLimits::default(), &frame(6, &[0; 11]));
    assert_eq!(r, Err(WireError::BadLength { id: 6, len: 12 }));
    // Longer than the fixed size: over the cap, fatal.
    let (r, _) = decode_one(FrameLimits::default(), &frame(0, &[0]));
    assert!(r.unwrap_err().is_fatal());
    let (r, _) = decode_one(FrameLimits::default(), &frame(21, &[0; 49]));
    assert!(r.unwrap_err().is_fatal());
    // Piece without its header, extended without its id.
    let (r, _) = decode_one(FrameLimits::default(), &frame(7, &[0; 7]));
    assert_eq!(r, Err(WireError::BadLength { id: 7, len: 8 }));
    let (r, _) = decode_one(FrameLimits::default(), &frame(20, &[]));
    assert_eq!(r, Err(WireError::BadLength { id: 20, len: 1 }));
    // Hashes with a partial hash.
    let (r, _) = decode_one(FrameLimits::default(), &frame(22, &[0; 48 + 31]));
    assert_eq!(r, Err(WireError::BadLength { id: 22, len: 80 }));
}

#[test]
fn requests_over_the_cap_are_typed() {
    let req = |length| {
        let mut p = Vec::new();
        p.extend_from_slice(&5u32.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&u32::to_be_bytes(length));
        frame(6, &p)
    };
    let (r, left) = decode_one(FrameLimits::default(), &req(16385));
    let e = r.unwrap_err();
    assert!(!e.is_fatal());
    assert_eq!(left, 0);
    assert_eq!(
        e,
        WireError::RequestTooLong {
            request: BlockRequest {
                index: 5,
                begin: 0,
                length: 16385
            },
            max: 16384
        }
    );
    let limits = FrameLimits {
        max_request_len: 32768,
        ..FrameLimits::default()
    };
    assert!(decode_one(limits, &req(16385)).0.is_ok());
    assert!(matches!(
        decode_one(FrameLimits::default(), &req(0)).0,
        Err(WireError::EmptyRequest { .. })
    ));
    // begin + length must not overflow.
    let mut p = Vec::new();
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&u32::MAX.to_be_bytes());
    p.extend_from_slice(&2u32.to_be_bytes());
    assert!(matches!(
        decode_one(FrameLimits::default(), &frame(8, &p)).0,
        Err(WireError::InvalidPayload { .. })
    ));
}

#[test]
fn piece_indices_checked_when_count_known() {
    let limits = FrameLimits::with_piece_count(10);
    assert_eq!(
        decode_one(limits, &Message::Have(10).to_bytes()).0,
        Err(WireError::PieceOutOfRange {
            index: 10,
            count: 10
        })
    );
    assert_eq!(
        decode_one(limits, &Message::Have(9).to_bytes()).0,
        Ok(Some(Message::Have(9)))
    );
    assert!(decode_one(limits, &Message::AllowedFast(11).to_bytes())
        .0
        .is_err());
    let piece = Message::Piece(Block {
        index: 12,
        begin: 0,
        data: Bytes::new(),
    });
    assert!(decode_one(limits, &piece.to_bytes()).0.is_err());
    // Unknown count: anything goes.
    assert!(
        decode_one(FrameLimits::default(), &Message::Have(u32::MAX).to_bytes())
            .0
            .is_ok()
    );
}

#[test]
fn bitfield_checks() {
    let limits = FrameLimits::with_piece_count(10);
    // 10 pieces: 2 bytes, the low 6 bits of byte 1 are spare.
    assert!(decode_one(limits, &frame(5, &[0xff, 0xc0])).0.is_ok());
    assert_eq!(
        decode_one(limits, &frame(5, &[0xff, 0xc1])).0,
        Err(WireError::BitfieldSpareBits)
    );
    // Too long a bitfield for the piece count exceeds the cap: fatal.
    assert!(decode_one(limits, &frame(5, &[0xff, 0xc0, 0]))
        .0
        .unwrap_err()
        .is_fatal());
    assert_eq!(
        decode_one(limits, &frame(5, &[0xff])).0,
        Err(WireError::BitfieldLength {
            len: 1,
            expected: 2
        })
    );
    assert_eq!(validate_bitfield(&[], 0), Ok(()));
    assert_eq!(validate_bitfield(&[0xff], 8), Ok(()));
    // Unknown count: capped by max_bitfield_len.
    let limits = FrameLimits {
        max_bitfield_len: 4,
        ..FrameLimits::default()
    };
    assert!(decode_one(limits, &frame(5, &[0; 4])).0.is_ok());
    assert!(decode_one(limits, &frame(5, &[0; 5]))
        .0
        .unwrap_err()
        .is_fatal());
}

#[test]
fn piece_payload_is_zero_copy() {
    let msg = Message::Piece(Block {
        index: 1,
        begin: 16384,
        data: Bytes::from(vec![0xab; 16384]),
    });
    let mut buf = BytesMut::new();
    msg.encode(&mut buf);
    let base = buf.as_ptr() as usize;
    let got = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    let Message::Piece(b) = got else {
        panic!("not a piece")
    };
    assert_eq!(
        b.data.as_ptr() as usize,
        base + 13,
        "data points into the buffer"
    );
}

#[test]
fn extended_payloads_malformed() {
    let cfg = ExtensionConfig::default();
    for (id, payload) in [
        (0u8, &b""[..]),
        (0, b"le"),
        (0, b"d1:pi1e1:ai2ee"),            // unsorted keys: not canonical
        (1, b"d8:msg_typei1e5:piecei0ee"), // data without total_size
        (1, b"d8:msg_typei1e5:piecei0e10:total_sizei10eeabc"), // short data
        (2, b"d5:added3:abce"),
        (2, b"l5:addede"),
    ] {
        assert!(
            cfg.decode(id, Bytes::copy_from_slice(payload)).is_err(),
            "{id} {payload:?}"
        );
    }
    // Oversized metadata is refused by the configured cap.
    let small = ExtensionConfig {
        max_metadata_size: 1000,
        ..ExtensionConfig::default()
    };
    let mut data = b"d8:msg_typei1e5:piecei0e10:total_sizei1001ee".to_vec();
    data.extend_from_slice(&[0; 1001]);
    assert!(small.decode(1, Bytes::from(data.clone())).is_err());
    assert!(cfg.decode(1, Bytes::from(data)).is_ok());
}

#[test]
fn handshake_then_messages() {
    let hs = Handshake {
        reserved: Reserved::ours(false),
        info_hash: btl_types::Sha1Hash([3; 20]),
        peer_id: PeerId([4; 20]),
    };
    let mut buf = BytesMut::new();
    hs.encode(&mut buf);
    Message::HaveAll.encode(&mut buf);
    Message::KeepAlive.encode(&mut buf);
    assert_eq!(Handshake::decode_from(&mut buf), Ok(Some(hs)));
    let mut dec = FrameDecoder::default();
    assert_eq!(dec.decode(&mut buf), Ok(Some(Message::HaveAll)));
    assert_eq!(dec.decode(&mut buf), Ok(Some(Message::KeepAlive)));
    assert_eq!(dec.decode(&mut buf), Ok(None));
    // A TLS ClientHello is not a handshake.
    assert_eq!(
        Handshake::decode(&[0x16, 0x03, 0x01]),
        Err(WireError::BadProtocol)
    );
}

#[test]
fn fuzz_entry_smoke() {
    fuzz_decode(&[]);
    fuzz_decode(&[0xff; 100]);
    let mut v = Handshake {
        reserved: Reserved::default(),
        info_hash: btl_types::Sha1Hash([0; 20]),
        peer_id: PeerId([0; 20]),
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(&frame(20, b"\x00d1:md6:ut_pexi1eee"));
    v.extend_from_slice(&frame(20, b"\x01d8:msg_typei0e5:piecei0ee"));
    fuzz_decode(&v);
}
