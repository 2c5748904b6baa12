//! Golden vectors: the exact bytes of every message. A failure here means an
//! encoding changed, which would break interoperability.

#![allow(clippy::unwrap_used)]

use btl_types::Sha256Hash;
use btl_wire::*;
use bytes::{Bytes, BytesMut};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn message_vectors() {
    let r = BlockRequest {
        index: 1,
        begin: 0x4000,
        length: 0x4000,
    };
    let hr = HashRequest {
        pieces_root: Sha256Hash([0x11; 32]),
        base_layer: 0,
        index: 4,
        length: 2,
        proof_layers: 3,
    };
    let hr_hex = format!("{}00000000000000040000000200000003", "11".repeat(32));
    let cases: Vec<(Message, String)> = vec![
        (Message::KeepAlive, "00000000".into()),
        (Message::Choke, "0000000100".into()),
        (Message::Unchoke, "0000000101".into()),
        (Message::Interested, "0000000102".into()),
        (Message::NotInterested, "0000000103".into()),
        (Message::Have(0x0102_0304), "000000050401020304".into()),
        (
            Message::Bitfield(Bytes::from_static(&[0xf0, 0x80])),
            "0000000305f080".into(),
        ),
        (
            Message::Request(r),
            "0000000d06000000010000400000004000".into(),
        ),
        (
            Message::Piece(Block {
                index: 1,
                begin: 0x4000,
                data: Bytes::from_static(b"ab"),
            }),
            "0000000b0700000001000040006162".into(),
        ),
        (
            Message::Cancel(r),
            "0000000d08000000010000400000004000".into(),
        ),
        (Message::Port(6881), "00000003091ae1".into()),
        (Message::Suggest(7), "000000050d00000007".into()),
        (Message::HaveAll, "000000010e".into()),
        (Message::HaveNone, "000000010f".into()),
        (
            Message::Reject(r),
            "0000000d10000000010000400000004000".into(),
        ),
        (Message::AllowedFast(9), "000000051100000009".into()),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            "0000000414006465".into(),
        ),
        (Message::HashRequest(hr), format!("0000003115{hr_hex}")),
        (Message::HashReject(hr), format!("0000003117{hr_hex}")),
        (
            Message::Hashes(Hashes {
                request: hr,
                hashes: vec![Sha256Hash([0x22; 32])],
            }),
            format!("0000005116{hr_hex}{}", "22".repeat(32)),
        ),
    ];
    for (msg, expected) in cases {
        let got = msg.to_bytes();
        assert_eq!(hex(&got), expected, "{msg:?}");
        let mut buf = BytesMut::from(&got[..]);
        assert_eq!(
            FrameDecoder::default().decode(&mut buf),
            Ok(Some(msg.clone()))
        );
    }
}

#[test]
fn extension_vectors() {
    let mut hs = ExtendedHandshake::default();
    hs.m.insert("ut_metadata".into(), 1);
    hs.m.insert("ut_pex".into(), 2);
    hs.port = Some(6881);
    hs.client = Some("btl 0.1".into());
    hs.reqq = Some(250);
    hs.metadata_size = Some(12345);
    assert_eq!(
        hs.encode(),
        b"d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei12345e1:pi6881e4:reqqi250e1:v7:btl 0.1e"
    );
    assert_eq!(
        &MetadataMessage::Request { piece: 3 }.to_bytes()[..],
        b"d8:msg_typei0e5:piecei3ee"
    );
    assert_eq!(
        &MetadataMessage::Reject { piece: 3 }.to_bytes()[..],
        b"d8:msg_typei2e5:piecei3ee"
    );
    assert_eq!(
        &MetadataMessage::Data {
            piece: 0,
            total_size: 3,
            data: Bytes::from_static(b"abc"),
        }
        .to_bytes()[..],
        b"d8:msg_typei1e5:piecei0e10:total_sizei3eeabc"
    );
    assert_eq!(
        PexMessage::default().encode(),
        b"d5:added0:7:added.f0:7:dropped0:e"
    );
}
