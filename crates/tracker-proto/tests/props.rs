//! Property tests: requests survive an encode/decode round trip, and no
//! input makes a decoder panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_tracker_proto::http::{self, AnnounceRequest, ScrapeRequest, TrackerRequest};
use btl_tracker_proto::udp::{self, Request};
use btl_tracker_proto::{Event, Limits};
use proptest::prelude::*;

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::None),
        Just(Event::Started),
        Just(Event::Completed),
        Just(Event::Stopped),
        Just(Event::Paused),
    ]
}

prop_compose! {
    fn announce()(
        info_hash in any::<[u8; 20]>(),
        peer_id in any::<[u8; 20]>(),
        port in any::<u16>(),
        uploaded in any::<u64>(),
        downloaded in any::<u64>(),
        left in proptest::option::of(any::<u64>()),
        event in event(),
        compact in any::<bool>(),
        no_peer_id in any::<bool>(),
        numwant in proptest::option::of(any::<u32>()),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        ip in proptest::option::of(any::<std::net::IpAddr>()),
    ) -> AnnounceRequest {
        AnnounceRequest { info_hash, peer_id, port, uploaded, downloaded, left, event, compact, no_peer_id, numwant, key, ip }
    }
}

proptest! {
    #[test]
    fn http_announce_round_trips(a in announce()) {
        let url = a.url("/announce");
        let parsed = TrackerRequest::parse(url.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(parsed, TrackerRequest::Announce(a));
    }

    #[test]
    fn http_scrape_round_trips(hashes in proptest::collection::vec(any::<[u8; 20]>(), 0..74)) {
        let s = ScrapeRequest { info_hashes: hashes };
        let url = s.url("http://t.example/x/announce").unwrap();
        let target = url.strip_prefix("http://t.example").unwrap();
        let parsed = TrackerRequest::parse(target.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(parsed, TrackerRequest::Scrape(s));
    }

    #[test]
    fn udp_announce_round_trips(
        connection_id in any::<u64>(), transaction_id in any::<u32>(),
        info_hash in any::<[u8; 20]>(), peer_id in any::<[u8; 20]>(),
        downloaded in any::<u64>(), left in any::<u64>(), uploaded in any::<u64>(),
        event in prop_oneof![Just(Event::None), Just(Event::Started), Just(Event::Completed), Just(Event::Stopped)],
        ip in any::<u32>(), key in any::<u32>(), num_want in any::<i32>(), port in any::<u16>(),
    ) {
        let r = Request::Announce(udp::AnnounceRequest {
            connection_id, transaction_id, info_hash, peer_id, downloaded, left, uploaded,
            event, ip, key, num_want, port,
        });
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(out.len(), udp::ANNOUNCE_REQUEST_LEN);
        prop_assert_eq!(Request::decode(&out, &Limits::default()).unwrap(), r);
    }

    #[test]
    fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        btl_tracker_proto::fuzz_udp_packet(&data);
        btl_tracker_proto::fuzz_http_request(&data);
        btl_tracker_proto::fuzz_http_response(&data);
    }

    #[test]
    fn query_noise_never_panics(q in "[a-z_=&%0-9A-F]{0,200}") {
        let _ = TrackerRequest::parse(format!("/announce?{q}").as_bytes(), &Limits::default());
        let _ = TrackerRequest::parse(format!("/scrape?{q}").as_bytes(), &Limits::default());
    }
}

#[test]
fn malformed_announces_say_why() {
    let l = Limits::default();
    let ok_ih = "info_hash=%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA";
    let pid = "peer_id=-BT0001-abcdefghijkl";
    let cases = [
        (
            format!("/announce?{pid}&port=1"),
            "missing parameter info_hash",
        ),
        (
            format!("/announce?{ok_ih}&port=1"),
            "missing parameter peer_id",
        ),
        (format!("/announce?{ok_ih}&{pid}"), "missing parameter port"),
        (
            format!("/announce?{ok_ih}&{pid}&port=65536"),
            "invalid parameter port",
        ),
        (
            format!("/announce?info_hash=short&{pid}&port=1"),
            "invalid parameter info_hash",
        ),
        (
            format!("/announce?{ok_ih}&{pid}&port=1&event=bogus"),
            "invalid parameter event",
        ),
        (
            format!("/announce?{ok_ih}&{pid}&port=1&left=-1"),
            "invalid parameter left",
        ),
        (
            "/favicon.ico".to_string(),
            "unknown path: use /announce or /scrape",
        ),
    ];
    for (target, why) in cases {
        let e = TrackerRequest::parse(target.as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), why, "{target}");
    }
    let many: String = (0..75).map(|_| format!("{ok_ih}&")).collect();
    assert_eq!(
        TrackerRequest::parse(format!("/scrape?{many}").as_bytes(), &l),
        Err(http::RequestError::TooManyInfoHashes)
    );
}

#[test]
fn request_heads() {
    let l = Limits::default();
    let h = http::parse_request_head(b"GET /announce?x HTTP/1.1\r\nHost: a\r\n\r\nGET", &l)
        .unwrap()
        .unwrap();
    assert_eq!(h.target, b"/announce?x");
    assert!(h.keep_alive);
    assert_eq!(h.len, 37);
    let h = http::parse_request_head(b"GET / HTTP/1.0\r\n\r\n", &l)
        .unwrap()
        .unwrap();
    assert!(!h.keep_alive);
    let h = http::parse_request_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &l)
        .unwrap()
        .unwrap();
    assert!(!h.keep_alive);
    assert_eq!(
        http::parse_request_head(b"GET / HTTP/1.1\r\n", &l),
        Ok(None)
    );
    assert!(http::parse_request_head(b"\x16\x03\x01 junk\r\n\r\n", &l).is_err());
    assert!(http::parse_request_head(&vec![b'a'; 9000], &l).is_err());
    assert!(http::parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &l).is_err());
    let many: String = (0..65).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        http::parse_request_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), &l),
        Err(http::HeadError::TooManyHeaders)
    );
}
