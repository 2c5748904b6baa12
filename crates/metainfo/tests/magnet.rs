//! Tests of magnet link parsing and output.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use btl_metainfo::magnet::{fuzz_magnet, Magnet, MagnetError, PeerAddr, MAX_PARAMS, MAX_URI_LEN};
use btl_types::{InfoHashes, Sha1Hash, Sha256Hash};
use proptest::prelude::*;

const V1: &str = "0123456789abcdef0123456789abcdef01234567";
const V2: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn v1() -> Sha1Hash {
    V1.parse().unwrap()
}

fn v2() -> Sha256Hash {
    V2.parse().unwrap()
}

fn parse(s: &str) -> Result<Magnet, MagnetError> {
    s.parse()
}

#[test]
fn v1_hex_and_base32() {
    let m = parse(&format!("magnet:?xt=urn:btih:{V1}")).unwrap();
    assert_eq!(m.infohashes(), Some(InfoHashes::V1(v1())));
    let upper = parse(&format!("MAGNET:?xt=URN:BTIH:{}", V1.to_uppercase())).unwrap();
    assert_eq!(upper, m);
    // RFC 4648 base32 of the same 20 bytes.
    let b32 = "AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH";
    assert_eq!(parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap(), m);
    assert_eq!(
        parse(&format!("magnet:?xt=urn:btih:{}", b32.to_lowercase())).unwrap(),
        m
    );
    assert_eq!(m.to_string(), format!("magnet:?xt=urn:btih:{V1}"));
}

#[test]
fn v2_and_hybrid() {
    let m = parse(&format!("magnet:?xt=urn:btmh:1220{V2}")).unwrap();
    assert_eq!(m.infohashes(), Some(InfoHashes::V2(v2())));
    let h = parse(&format!(
        "magnet:?xt=urn:btmh:1220{V2}&dn=x&xt=urn:btih:{V1}"
    ))
    .unwrap();
    assert_eq!(h.infohashes(), Some(InfoHashes::Hybrid(v1(), v2())));
    // libtorrent order: btih, btmh, dn.
    assert_eq!(
        h.to_string(),
        format!("magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=x")
    );
    let numbered = parse(&format!(
        "magnet:?xt.1=urn:btih:{V1}&xt.2=urn:btmh:1220{V2}"
    ))
    .unwrap();
    assert_eq!(numbered.infohashes(), h.infohashes());
    assert_eq!(
        Magnet::new(InfoHashes::Hybrid(v1(), v2())).infohashes(),
        h.infohashes()
    );
}

#[test]
fn full_link_round_trips_in_canonical_order() {
    let ledger = "ab".repeat(32);
    let input = format!(
        "magnet:?so=0,2,4-6&x.btl={ledger}&tr=udp%3A%2F%2Ft1.example%3A6969\
         &dn=My+Film%20%282024%29&xt=urn:btih:{V1}&ws=http%3A%2F%2Fseed.example%2Fa%20b\
         &tr.1=http://t2.example/announce?k=v%26w&x.pe=1.2.3.4:6881&x.pe=%5B2001:db8::1%5D:51413\
         &x.pe=peer.example:80&xl=12345&kt=a+b"
    );
    let m = parse(&input).unwrap();
    assert_eq!(m.name.as_deref(), Some("My Film (2024)"));
    assert_eq!(
        m.trackers,
        ["udp://t1.example:6969", "http://t2.example/announce?k=v&w"]
    );
    assert_eq!(m.web_seeds, ["http://seed.example/a b"]);
    assert_eq!(
        m.peers,
        [
            PeerAddr::Ip("1.2.3.4:6881".parse::<SocketAddr>().unwrap()),
            PeerAddr::Ip("[2001:db8::1]:51413".parse::<SocketAddr>().unwrap()),
            PeerAddr::Host {
                host: "peer.example".into(),
                port: 80
            },
        ]
    );
    assert_eq!(m.select_only, [0..=0, 2..=2, 4..=6]);
    assert!(m.selects(5) && !m.selects(3));
    assert_eq!(m.ledger_ref, Some(ledger.parse().unwrap()));
    assert_eq!(
        m.extra,
        [
            ("xl".to_owned(), "12345".to_owned()),
            ("kt".into(), "a+b".into())
        ]
    );
    let out = m.to_string();
    assert_eq!(
        out,
        format!(
            "magnet:?xt=urn:btih:{V1}&dn=My%20Film%20(2024)\
             &tr=udp://t1.example:6969&tr=http://t2.example/announce?k%3Dv%26w\
             &ws=http://seed.example/a%20b\
             &x.pe=1.2.3.4:6881&x.pe=[2001:db8::1]:51413&x.pe=peer.example:80\
             &so=0,2,4-6&x.btl={ledger}&xl=12345&kt=a+b"
        )
    );
    assert_eq!(parse(&out).unwrap(), m);
}

#[test]
fn unknown_params_survive_verbatim() {
    let m = parse(&format!(
        "magnet:?xt=urn:btih:{V1}&xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0&x.foo=a%2Fb&flag&as=x"
    ))
    .unwrap();
    assert_eq!(
        m.extra,
        [
            (
                "xt".to_owned(),
                "urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0".to_owned()
            ),
            ("x.foo".into(), "a%2Fb".into()),
            ("flag".into(), "".into()),
            ("as".into(), "x".into()),
        ]
    );
    let again = parse(&m.to_string()).unwrap();
    assert_eq!(again, m);
    // Non-ASCII and stray `%` in unknown values are escaped once, then stable.
    let m = parse("magnet:?x.a=caf\u{e9}%zz&x.b=%41").unwrap();
    assert_eq!(m.extra[0].1, "caf%C3%A9%25zz");
    assert_eq!(m.extra[1].1, "%41");
    assert_eq!(parse(&m.to_string()).unwrap(), m);
}

#[test]
fn no_infohash_is_allowed() {
    let m = parse("magnet:?dn=only+a+name").unwrap();
    assert_eq!(m.infohashes(), None);
    assert_eq!(m.to_string(), "magnet:?dn=only%20a%20name");
    assert_eq!(parse("magnet:?").unwrap(), Magnet::default());
    assert_eq!(Magnet::default().to_string(), "magnet:?");
}

#[test]
fn fragment_and_empty_segments_are_ignored() {
    let m = parse(&format!("magnet:?&&xt=urn:btih:{V1}&&#frag&tr=x")).unwrap();
    assert_eq!(m, Magnet::new(InfoHashes::V1(v1())));
}

#[test]
fn errors_name_the_parameter() {
    use MagnetError as E;
    assert_eq!(parse("http://x"), Err(E::NotMagnet));
    assert_eq!(parse("magnet:"), Err(E::NotMagnet));
    assert!(matches!(
        parse("magnet:?xt=urn:btih:abc"),
        Err(E::BadBtih { ref param, .. }) if param == "xt"
    ));
    assert!(matches!(
        parse(&format!("magnet:?xt.3=urn:btih:{}", "g".repeat(40))),
        Err(E::BadBtih { ref param, .. }) if param == "xt.3"
    ));
    assert!(matches!(
        parse("magnet:?xt=urn:btih:AERUKZ4JVPG66AJDIVTYTK6N54ASGRL1"),
        Err(E::BadBtih { .. })
    ));
    // sha1 multihash (0x11) is not a v2 infohash.
    assert!(matches!(
        parse(&format!("magnet:?xt=urn:btmh:1114{V1}")),
        Err(E::BadBtmh { .. })
    ));
    assert!(matches!(
        parse(&format!("magnet:?xt=urn:btmh:1220{}", &V2[..62])),
        Err(E::BadBtmh { .. })
    ));
    assert!(matches!(
        parse(&format!(
            "magnet:?xt=urn:btih:{V1}&xt=urn:btih:{}",
            "f".repeat(40)
        )),
        Err(E::Conflict { ref param }) if param == "xt"
    ));
    // The same hash twice is fine.
    assert!(parse(&format!("magnet:?xt=urn:btih:{V1}&xt=urn:btih:{V1}")).is_ok());
    assert!(matches!(
        parse("magnet:?dn=a&dn=b"),
        Err(E::Conflict { .. })
    ));
    assert!(
        matches!(parse("magnet:?dn=%4"), Err(E::BadPercentEncoding { ref param }) if param == "dn")
    );
    assert!(matches!(parse("magnet:?dn=%ff"), Err(E::NotUtf8 { ref param }) if param == "dn"));
    assert!(matches!(parse("magnet:?tr"), Err(E::MissingValue { ref param }) if param == "tr"));
    for bad in [
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:70000",
        "[::1]",
        "a b:1",
        ":80",
        "[::1]:x",
    ] {
        assert!(
            matches!(
                parse(&format!("magnet:?x.pe={bad}")),
                Err(E::BadPeer { .. })
            ),
            "{bad}"
        );
    }
    for bad in ["", "1,", "a", "3-1", "1-", "4294967296", "1--2"] {
        assert!(
            matches!(
                parse(&format!("magnet:?so={bad}")),
                Err(E::BadSelection { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        parse("magnet:?so=1&so=2"),
        Err(E::Conflict { .. })
    ));
    assert!(matches!(
        parse("magnet:?x.btl=12"),
        Err(E::BadLedgerRef { .. })
    ));
}

#[test]
fn bounds() {
    let long = format!("magnet:?dn={}", "a".repeat(MAX_URI_LEN));
    assert!(matches!(parse(&long), Err(MagnetError::TooLong { .. })));
    let many = format!("magnet:?{}", "x=1&".repeat(MAX_PARAMS + 1));
    assert_eq!(
        parse(&many),
        Err(MagnetError::TooManyParams { max: MAX_PARAMS })
    );
    let ok = format!("magnet:?{}", "tr=u&".repeat(MAX_PARAMS));
    assert_eq!(parse(&ok).unwrap().trackers.len(), MAX_PARAMS);
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,24}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn arb_peer() -> impl Strategy<Value = PeerAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| PeerAddr::Ip(SocketAddr::from((ip, port)))),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, port)| {
            PeerAddr::Ip(SocketAddr::from((std::net::Ipv6Addr::from(ip), port)))
        }),
        ("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}", any::<u16>())
            .prop_map(|(host, port)| PeerAddr::Host { host, port }),
    ]
}

fn arb_magnet() -> impl Strategy<Value = Magnet> {
    (
        (
            prop::option::of(any::<[u8; 20]>()),
            prop::option::of(any::<[u8; 32]>()),
            prop::option::of(arb_text()),
            prop::collection::vec(arb_text(), 0..4),
            prop::collection::vec(arb_text(), 0..3),
        ),
        (
            prop::collection::vec(arb_peer(), 0..4),
            prop::collection::vec((0u32..1000, 0u32..5), 0..5),
            prop::option::of(any::<[u8; 32]>()),
            prop::collection::vec(
                ("x\\.[a-z]{1,5}", "([a-zA-Z0-9.:/~]|%[0-9A-F]{2}){0,12}"),
                0..3,
            ),
        ),
    )
        .prop_map(
            |((v1, v2, name, trackers, web_seeds), (peers, so, l, extra))| Magnet {
                v1: v1.map(Sha1Hash),
                v2: v2.map(Sha256Hash),
                name,
                trackers,
                web_seeds,
                peers,
                select_only: so.into_iter().map(|(a, n)| a..=a + n).collect(),
                ledger_ref: l.map(Sha256Hash),
                extra: extra
                    .into_iter()
                    .filter(|(k, _)| k != "x.pe" && k != "x.btl")
                    .collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_then_parse_is_identity(m in arb_magnet()) {
        let text = m.to_string();
        let back: Magnet = text.parse().unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn fuzz_entry_never_panics(s in "magnet:\\?([a-z.0-9]{0,5}(=[ -~]{0,30})?&?){0,6}") {
        fuzz_magnet(s.as_bytes());
    }

    #[test]
    fn fuzz_entry_never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..120)) {
        let mut data = b"magnet:?".to_vec();
        data.extend_from_slice(&b);
        fuzz_magnet(&data);
        fuzz_magnet(&b);
    }
}

#[test]
fn ipv6_scope_and_plus_handling() {
    // A scope id survives (escaped as %25), brackets stay literal.
    {
        let m = parse("magnet:?x.pe=[fe80::1%251]:80").unwrap();
        assert_eq!(m.to_string(), "magnet:?x.pe=[fe80::1%251]:80");
        assert_eq!(parse(&m.to_string()).unwrap(), m);
    }
    // `+` is a space only in `dn`; elsewhere it is literal, and always
    // written escaped.
    let m = parse("magnet:?dn=a+b&tr=http://t/a+b").unwrap();
    assert_eq!(m.name.as_deref(), Some("a b"));
    assert_eq!(m.trackers, ["http://t/a+b"]);
    assert_eq!(m.to_string(), "magnet:?dn=a%20b&tr=http://t/a%2Bb");
}
