//! Property tests: every message type encodes and decodes back to itself, and
//! the streaming decoder gives the same messages whatever the chunking.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use btl_bencode::Owned;
use btl_types::{Sha1Hash, Sha256Hash};
use btl_wire::extended::HANDSHAKE_ID;
use btl_wire::metadata::{metadata_piece_count, metadata_piece_len};
use btl_wire::*;
use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn arb_request() -> impl Strategy<Value = BlockRequest> {
    (any::<u32>(), 0u32..=u32::MAX - 16384, 1u32..=16384).prop_map(|(index, begin, length)| {
        BlockRequest {
            index,
            begin,
            length,
        }
    })
}

fn arb_hash_request() -> impl Strategy<Value = HashRequest> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(r, base_layer, index, length, proof_layers)| HashRequest {
            pieces_root: Sha256Hash(r),
            base_layer,
            index,
            length,
            proof_layers,
        })
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        any::<u32>().prop_map(Message::Have),
        any::<u32>().prop_map(Message::Suggest),
        any::<u32>().prop_map(Message::AllowedFast),
        arb_bytes(300).prop_map(Message::Bitfield),
        arb_request().prop_map(Message::Request),
        arb_request().prop_map(Message::Cancel),
        arb_request().prop_map(Message::Reject),
        (any::<u32>(), any::<u32>(), arb_bytes(16384))
            .prop_map(|(index, begin, data)| Message::Piece(Block { index, begin, data })),
        any::<u16>().prop_map(Message::Port),
        (any::<u8>(), arb_bytes(200)).prop_map(|(id, payload)| Message::Extended { id, payload }),
        arb_hash_request().prop_map(Message::HashRequest),
        arb_hash_request().prop_map(Message::HashReject),
        (arb_hash_request(), vec(any::<[u8; 32]>(), 0..40)).prop_map(|(request, hs)| {
            Message::Hashes(Hashes {
                request,
                hashes: hs.into_iter().map(Sha256Hash).collect(),
            })
        }),
    ]
}

fn arb_handshake() -> impl Strategy<Value = Handshake> {
    (any::<[u8; 8]>(), any::<[u8; 20]>(), any::<[u8; 20]>()).prop_map(|(r, h, p)| Handshake {
        reserved: Reserved(r),
        info_hash: Sha1Hash(h),
        peer_id: PeerId(p),
    })
}

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn arb_ext_handshake() -> impl Strategy<Value = ExtendedHandshake> {
    (
        btree_map("[a-z_]{1,12}", any::<u8>(), 0..6),
        proptest::option::of(1u16..),
        proptest::option::of("[ -~]{0,20}"),
        proptest::option::of(arb_ip()),
        proptest::option::of(any::<[u8; 4]>().prop_map(Ipv4Addr::from)),
        proptest::option::of(any::<[u8; 16]>().prop_map(Ipv6Addr::from)),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0u64..=i64::MAX as u64),
        proptest::option::of(any::<bool>()),
        btree_map("x-[a-z]{0,6}", any::<i64>(), 0..4),
        proptest::option::of(0u64..=i64::MAX as u64),
    )
        .prop_map(
            |(
                m,
                port,
                client,
                your_ip,
                ipv4,
                ipv6,
                reqq,
                metadata_size,
                upload_only,
                extra,
                btl_prov_size,
            )| {
                ExtendedHandshake {
                    m,
                    port,
                    client,
                    your_ip,
                    ipv4,
                    ipv6,
                    reqq,
                    metadata_size,
                    upload_only,
                    btl_prov_size,
                    extra: extra
                        .into_iter()
                        .map(|(k, v)| (k.into_bytes(), Owned::Int(v)))
                        .collect(),
                }
            },
        )
}

fn arb_metadata() -> impl Strategy<Value = MetadataMessage> {
    let data = (1u64..=100_000, any::<u32>()).prop_map(|(total_size, pick)| {
        let count = metadata_piece_count(total_size);
        let piece = (u64::from(pick) % count) as u32;
        let len = metadata_piece_len(total_size, piece).unwrap();
        MetadataMessage::Data {
            piece,
            total_size,
            data: Bytes::from(vec![piece as u8; len]),
        }
    });
    prop_oneof![
        any::<u32>().prop_map(|piece| MetadataMessage::Request { piece }),
        any::<u32>().prop_map(|piece| MetadataMessage::Reject { piece }),
        data,
    ]
}

fn arb_pex() -> impl Strategy<Value = PexMessage> {
    let v4 = (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| SocketAddrV4::new(a.into(), p));
    let v6 = (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(a, p)| SocketAddrV6::new(Ipv6Addr::from(a), p, 0, 0));
    let flags = any::<u8>().prop_map(PexFlags);
    (
        vec((v4.clone(), flags.clone()), 0..60),
        vec((v6.clone(), flags), 0..60),
        vec(v4, 0..60),
        vec(v6, 0..60),
    )
        .prop_map(|(added, added6, dropped, dropped6)| PexMessage {
            added,
            added6,
            dropped,
            dropped6,
        })
}

proptest! {
    #[test]
    fn message_round_trip(msg in arb_message()) {
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        let mut buf = BytesMut::from(&bytes[..]);
        let mut dec = FrameDecoder::default();
        prop_assert_eq!(dec.decode(&mut buf), Ok(Some(msg.clone())));
        prop_assert!(buf.is_empty());
        // Encoding into a Vec gives the same bytes.
        let mut v = Vec::new();
        msg.encode(&mut v);
        prop_assert_eq!(&v[..], &bytes[..]);
    }

    #[test]
    fn stream_in_any_chunks(
        msgs in vec(arb_message(), 0..12),
        cuts in vec(1usize..600, 1..40),
    ) {
        let mut wire = BytesMut::new();
        for m in &msgs {
            m.encode(&mut wire);
        }
        let wire = wire.freeze();
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < wire.len() {
            let n = cuts[i % cuts.len()].min(wire.len() - pos);
            i += 1;
            buf.extend_from_slice(&wire[pos..pos + n]);
            pos += n;
            while let Some(m) = dec.decode(&mut buf).unwrap() {
                out.push(m);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn handshake_round_trip(hs in arb_handshake(), tail in arb_bytes(10)) {
        let mut buf = BytesMut::new();
        hs.encode(&mut buf);
        buf.extend_from_slice(&tail);
        prop_assert_eq!(Handshake::decode_from(&mut buf), Ok(Some(hs)));
        prop_assert_eq!(&buf[..], &tail[..]);
    }

    #[test]
    fn ext_handshake_round_trip(hs in arb_ext_handshake()) {
        let msg = hs.to_message();
        let bytes = msg.to_bytes();
        let mut buf = BytesMut::from(&bytes[..]);
        let Some(Message::Extended { id, payload }) = FrameDecoder::default().decode(&mut buf).unwrap() else {
            panic!("not an extended message");
        };
        prop_assert_eq!(id, HANDSHAKE_ID);
        let cfg = ExtensionConfig::default();
        prop_assert_eq!(cfg.decode(id, payload.clone()), Ok(ExtendedMessage::Handshake(hs.clone())));
        // Canonical: re-encoding gives the same payload.
        prop_assert_eq!(&hs.encode()[..], &payload[..]);
    }

    #[test]
    fn metadata_round_trip(m in arb_metadata()) {
        let cfg = ExtensionConfig::default();
        let id = cfg.ut_metadata.unwrap();
        let Message::Extended { id: got_id, payload } = m.to_message(id) else {
            panic!("not an extended message");
        };
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(cfg.decode(id, payload), Ok(ExtendedMessage::Metadata(m)));
    }

    #[test]
    fn pex_round_trip(m in arb_pex()) {
        let cfg = ExtensionConfig::default();
        let id = cfg.ut_pex.unwrap();
        let Message::Extended { payload, .. } = m.to_message(id) else {
            panic!("not an extended message");
        };
        prop_assert_eq!(cfg.decode(id, payload), Ok(ExtendedMessage::Pex(m)));
    }

    #[test]
    fn bitfield_with_piece_count(count in 1u32..2000, seed in any::<u64>(), spare in any::<u8>()) {
        let len = bitfield_len(count);
        let mut bits: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8).collect();
        let used = count % 8;
        let spare_mask = if used == 0 { 0 } else { 0xffu8 >> used };
        if let Some(last) = bits.last_mut() {
            *last &= !spare_mask;
        }
        let limits = FrameLimits::with_piece_count(count);
        let mut dec = FrameDecoder::new(limits);
        let msg = Message::Bitfield(Bytes::from(bits.clone()));
        let mut buf = BytesMut::from(&msg.to_bytes()[..]);
        prop_assert_eq!(dec.decode(&mut buf), Ok(Some(msg)));
        // Setting any spare bit is refused (and the frame is consumed).
        if spare_mask != 0 && spare & spare_mask != 0 {
            if let Some(last) = bits.last_mut() {
                *last |= spare & spare_mask;
            }
            let msg = Message::Bitfield(Bytes::from(bits));
            let mut buf = BytesMut::from(&msg.to_bytes()[..]);
            prop_assert_eq!(dec.decode(&mut buf), Err(WireError::BitfieldSpareBits));
            prop_assert!(buf.is_empty());
        }
    }

    #[test]
    fn fuzz_entry_never_panics(data in vec(any::<u8>(), 0..400)) {
        fuzz_decode(&data);
    }

    #[test]
    fn fuzz_entry_on_mutated_streams(
        msgs in vec(arb_message(), 1..6),
        flips in vec((any::<usize>(), any::<u8>()), 0..4),
        with_handshake in any::<bool>(),
        hs in arb_handshake(),
    ) {
        let mut wire = BytesMut::new();
        if with_handshake {
            hs.encode(&mut wire);
        }
        for m in &msgs {
            m.encode(&mut wire);
        }
        let n = wire.len();
        for (at, x) in flips {
            wire[at % n] ^= x;
        }
        fuzz_decode(&wire);
    }
}
