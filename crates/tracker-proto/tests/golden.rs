//! Golden vectors: the UDP packet layouts of BEP 15 and the HTTP reply
//! encodings, byte for byte. A failure here means a wire format changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_tracker_proto::http::{self, AnnounceResponse, PeerEntry, ScrapeResponse};
use btl_tracker_proto::udp::{AnnounceRequest, Peers, Request, Response};
use btl_tracker_proto::{Event, Limits, ScrapeStats};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn round_trip_request(r: &Request, golden: &str) {
    let mut out = Vec::new();
    r.encode(&mut out);
    assert_eq!(out, hex(golden));
    assert_eq!(&Request::decode(&out, &Limits::default()).unwrap(), r);
}

fn round_trip_response(r: &Response, v6: bool, golden: &str) {
    let mut out = Vec::new();
    r.encode(&mut out);
    assert_eq!(out, hex(golden));
    assert_eq!(&Response::decode(&out, v6, &Limits::default()).unwrap(), r);
}

#[test]
fn udp_connect() {
    round_trip_request(
        &Request::Connect {
            transaction_id: 0xdead_beef,
        },
        "00000417 27101980 00000000 deadbeef",
    );
    round_trip_response(
        &Response::Connect {
            transaction_id: 0xdead_beef,
            connection_id: 0x0102_0304_0506_0708,
        },
        false,
        "00000000 deadbeef 01020304 05060708",
    );
}

#[test]
fn udp_announce() {
    let req = Request::Announce(AnnounceRequest {
        connection_id: 0x0102_0304_0506_0708,
        transaction_id: 7,
        info_hash: [0xaa; 20],
        peer_id: *b"-BT0001-abcdefghijkl",
        downloaded: 1,
        left: 2,
        uploaded: 3,
        event: Event::Started,
        ip: 0,
        key: 0x1234_5678,
        num_want: -1,
        port: 6881,
    });
    round_trip_request(
        &req,
        "0102030405060708 00000001 00000007
         aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
         2d4254303030312d6162636465666768696a6b6c
         0000000000000001 0000000000000002 0000000000000003
         00000002 00000000 12345678 ffffffff 1ae1",
    );
    // BEP 41 options after the 98 bytes are ignored.
    let mut with_opts = Vec::new();
    req.encode(&mut with_opts);
    with_opts.extend_from_slice(&[2, 9, b'/', b'a', b'n', b'n', b'o', b'u', b'n', b'c', b'e']);
    assert_eq!(
        Request::decode(&with_opts, &Limits::default()).unwrap(),
        req
    );
    assert!(Request::decode(&with_opts[..97], &Limits::default()).is_err());

    round_trip_response(
        &Response::Announce {
            transaction_id: 7,
            interval: 1800,
            leechers: 2,
            seeders: 3,
            peers: Peers::V4(vec![SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6881)]),
        },
        false,
        "00000001 00000007 00000708 00000002 00000003 0a000001 1ae1",
    );
    round_trip_response(
        &Response::Announce {
            transaction_id: 7,
            interval: 1800,
            leechers: 0,
            seeders: 1,
            peers: Peers::V6(vec![SocketAddrV6::new(Ipv6Addr::LOCALHOST, 51413, 0, 0)]),
        },
        true,
        "00000001 00000007 00000708 00000000 00000001
         00000000000000000000000000000001 c8d5",
    );
}

#[test]
fn udp_scrape_and_error() {
    round_trip_request(
        &Request::Scrape {
            connection_id: 1,
            transaction_id: 2,
            info_hashes: vec![[0x11; 20], [0x22; 20]],
        },
        "0000000000000001 00000002 00000002
         1111111111111111111111111111111111111111
         2222222222222222222222222222222222222222",
    );
    round_trip_response(
        &Response::Scrape {
            transaction_id: 2,
            stats: vec![ScrapeStats {
                complete: 5,
                downloaded: 6,
                incomplete: 7,
            }],
        },
        false,
        "00000002 00000002 00000005 00000006 00000007",
    );
    round_trip_response(
        &Response::Error {
            transaction_id: 9,
            message: b"bad connection id".to_vec(),
        },
        false,
        "00000003 00000009 62616420636f6e6e656374696f6e206964",
    );
}

#[test]
fn http_replies() {
    let r = AnnounceResponse {
        interval: 1800,
        min_interval: Some(60),
        complete: 1,
        incomplete: 2,
        peers: vec![
            PeerEntry {
                addr: "10.0.0.1:6881".parse().unwrap(),
                id: Some(*b"-BT0001-abcdefghijkl"),
            },
            PeerEntry {
                addr: "[::1]:51413".parse().unwrap(),
                id: None,
            },
        ],
        warning: None,
    };
    let mut compact = Vec::new();
    r.encode(&mut compact, true);
    let mut golden = b"d8:completei1e10:incompletei2e8:intervali1800e12:min intervali60e5:peers6:\x0a\x00\x00\x01\x1a\xe16:peers618:".to_vec();
    golden.extend_from_slice(&hex("00000000000000000000000000000001 c8d5"));
    golden.push(b'e');
    assert_eq!(compact, golden);
    let mut dict = Vec::new();
    r.encode(&mut dict, false);
    assert_eq!(
        dict,
        b"d8:completei1e10:incompletei2e8:intervali1800e12:min intervali60e5:peersld2:ip8:10.0.0.17:peer id20:-BT0001-abcdefghijkl4:porti6881eed2:ip3:::14:porti51413eeee".to_vec()
    );
    // Both decode to the same peers (the compact form has no ids).
    let back = AnnounceResponse::decode(&dict, &Limits::default()).unwrap();
    assert_eq!(back, r);
    let back = AnnounceResponse::decode(&compact, &Limits::default()).unwrap();
    assert_eq!(back.peers.len(), 2);
    assert_eq!(
        back.peers[1].addr,
        "[::1]:51413".parse::<SocketAddr>().unwrap()
    );

    let mut low = Vec::new();
    http::encode_compact_reply(
        &mut low,
        1800,
        Some(60),
        ScrapeStats {
            complete: 1,
            downloaded: 0,
            incomplete: 2,
        },
        &["10.0.0.1:6881".parse().unwrap()],
        &["[::1]:51413".parse().unwrap()],
    );
    assert_eq!(low, compact);

    let mut fail = Vec::new();
    http::encode_failure(&mut fail, "unregistered torrent");
    assert_eq!(fail, b"d14:failure reason20:unregistered torrente".to_vec());
    assert_eq!(
        AnnounceResponse::decode(&fail, &Limits::default()),
        Err(http::ResponseError::Failure("unregistered torrent".into()))
    );

    let s = ScrapeResponse {
        files: vec![(
            [0x41; 20],
            ScrapeStats {
                complete: 1,
                downloaded: 2,
                incomplete: 3,
            },
        )],
    };
    let mut out = Vec::new();
    s.encode(&mut out);
    assert_eq!(
        out,
        b"d5:filesd20:AAAAAAAAAAAAAAAAAAAAd8:completei1e10:downloadedi2e10:incompletei3eeee"
            .to_vec()
    );
    assert_eq!(ScrapeResponse::decode(&out, &Limits::default()).unwrap(), s);
}
