//! Tests of the compact `.btl` format: golden vector, round trips, unknown
//! keys, and refusal of damaged or hostile input.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use btl_bencode::Owned;
use btl_metainfo::compact::{
    btl_to_torrent, btl_to_torrent_with, fuzz_btl, is_btl, read_header, torrent_to_btl, BtlHeader,
    BtlLimits, CompactError, CODEC_DEFLATE, CODEC_PLAIN, FLAG_ENCRYPTED_TRANSPORT,
    FLAG_PAYLOAD_ENCRYPTED, MAGIC,
};
use btl_types::Sha256Hash;
use proptest::prelude::*;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

fn dict(entries: Vec<(&str, Owned)>) -> Owned {
    Owned::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

fn s(x: &str) -> Owned {
    Owned::bytes(x)
}

fn fill(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(7))
        .collect()
}

/// A small fixed hybrid-shaped torrent with unknown keys at both levels.
fn golden_torrent() -> Vec<u8> {
    let root_a = fill(1, 32);
    let root_b = fill(2, 32);
    let leaf = |len: i64, root: &[u8]| {
        dict(vec![(
            "",
            dict(vec![
                ("length", Owned::Int(len)),
                ("pieces root", Owned::bytes(root)),
            ]),
        )])
    };
    let info = dict(vec![
        (
            "file tree",
            dict(vec![
                ("a.txt", leaf(40000, &root_a)),
                ("b.bin", leaf(70000, &root_b)),
            ]),
        ),
        (
            "files",
            Owned::List(vec![
                dict(vec![
                    ("length", Owned::Int(40000)),
                    ("path", Owned::List(vec![s("a.txt")])),
                ]),
                dict(vec![
                    ("attr", s("p")),
                    ("length", Owned::Int(25536)),
                    ("path", Owned::List(vec![s(".pad"), s("25536")])),
                ]),
                dict(vec![
                    ("length", Owned::Int(70000)),
                    ("path", Owned::List(vec![s("b.bin")])),
                ]),
            ]),
        ),
        ("meta version", Owned::Int(2)),
        ("name", s("golden")),
        ("piece length", Owned::Int(65536)),
        ("pieces", Owned::Bytes(fill(3, 60))),
        ("x-unknown-info", s("kept")),
    ]);
    let mut layers = BTreeMap::new();
    layers.insert(root_b.clone(), Owned::Bytes(fill(4, 64)));
    dict(vec![
        ("announce", s("http://tracker.example/announce")),
        (
            "announce-list",
            Owned::List(vec![
                Owned::List(vec![s("http://tracker.example/announce")]),
                Owned::List(vec![s("udp://tracker.example:6969")]),
            ]),
        ),
        ("comment", s("golden vector")),
        ("created by", s("btl test")),
        ("creation date", Owned::Int(1_700_000_000)),
        ("info", info),
        ("piece layers", Owned::Dict(layers)),
        ("zz-unknown-top", Owned::List(vec![Owned::Int(-5), s("")])),
    ])
    .encode()
}

fn golden_header() -> BtlHeader {
    BtlHeader {
        flags: FLAG_PAYLOAD_ENCRYPTED | FLAG_ENCRYPTED_TRANSPORT,
        extensions: vec![(7, b"ext".to_vec())],
        ledger_ref: Some(Sha256Hash(fill(9, 32).try_into().unwrap_or([0; 32]))),
        ..BtlHeader::default()
    }
}

const GOLDEN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/compact_v1.btl.hex"
);
const GOLDEN_TORRENT_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/compact_v1.torrent.hex"
);
/// The same torrent and header as written before codec 1 existed (body
/// codec 0): it must keep decoding, and its tagged body is what the codec 1
/// golden vector inflates to.
const GOLDEN_CODEC0_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/compact_v1_codec0.btl.hex"
);

/// Fails if the `.btl` encoding changes. Regenerate (only for a deliberate
/// format change, with a new format version) with `BTL_BLESS=1`.
///
/// The golden torrent's arithmetic fill patterns compress, so the writer
/// stores its body with DEFLATE (codec 1); the vector was regenerated when
/// codec 1 was introduced, and the earlier codec 0 file is kept beside it.
#[test]
fn golden_vector() {
    let torrent = golden_torrent();
    let btl = torrent_to_btl(&torrent, &golden_header()).unwrap();
    if std::env::var_os("BTL_BLESS").is_some() {
        std::fs::write(GOLDEN_PATH, hex::encode(&btl) + "\n").unwrap();
        std::fs::write(GOLDEN_TORRENT_PATH, hex::encode(&torrent) + "\n").unwrap();
    }
    let want_torrent =
        hex::decode(std::fs::read_to_string(GOLDEN_TORRENT_PATH).unwrap().trim()).unwrap();
    assert_eq!(torrent, want_torrent, "the golden torrent itself changed");
    let want = hex::decode(std::fs::read_to_string(GOLDEN_PATH).unwrap().trim()).unwrap();
    assert_eq!(
        hex::encode(&btl),
        hex::encode(&want),
        ".btl encoding changed"
    );
    // And the committed bytes decode to the committed torrent.
    let (h, back) = btl_to_torrent(&want).unwrap();
    assert_eq!(h, golden_header());
    assert_eq!(back, want_torrent);
    assert!(btl.len() < torrent.len());

    let old = hex::decode(std::fs::read_to_string(GOLDEN_CODEC0_PATH).unwrap().trim()).unwrap();
    assert_eq!(
        btl_to_torrent(&old).unwrap(),
        (golden_header(), want_torrent)
    );
    // Header and codec byte at the same offset in both; the plain body is
    // exactly what the compressed one inflates to.
    let codec_at = 46;
    assert_eq!(old[..codec_at], want[..codec_at]);
    assert_eq!(
        (old[codec_at], want[codec_at]),
        (CODEC_PLAIN, CODEC_DEFLATE)
    );
    let inflated =
        miniz_oxide::inflate::decompress_to_vec(&want[codec_at + 1..want.len() - 4]).unwrap();
    assert_eq!(inflated, old[codec_at + 1..old.len() - 4]);
}

fn info_hashes(torrent: &[u8]) -> ([u8; 20], [u8; 32]) {
    let v = btl_bencode::decode(torrent).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap()
        .raw();
    (Sha1::digest(info).into(), Sha256::digest(info).into())
}

#[test]
fn infohash_and_unknown_keys_survive() {
    let torrent = golden_torrent();
    let btl = torrent_to_btl(&torrent, &BtlHeader::default()).unwrap();
    assert!(is_btl(&btl));
    assert!(!is_btl(&torrent));
    let (header, back) = btl_to_torrent(&btl).unwrap();
    assert_eq!(header, BtlHeader::default());
    assert_eq!(back, torrent);
    assert_eq!(info_hashes(&back), info_hashes(&torrent));
    let v = btl_bencode::decode(&back).unwrap();
    let top = v.as_dict().unwrap();
    assert!(top.get(b"zz-unknown-top").is_some());
    let info = top.get(b"info").unwrap().as_dict().unwrap();
    assert_eq!(
        info.get(b"x-unknown-info").unwrap().as_bytes(),
        Some(&b"kept"[..])
    );
}

#[test]
fn header_fields_round_trip_and_read_alone() {
    let torrent = golden_torrent();
    let mut header = golden_header();
    header.flags = 0xffff;
    header.extensions = vec![
        (0, vec![]),
        (0xffff, vec![0xab; 70_000 / 2]),
        (7, b"x".to_vec()),
    ];
    let btl = torrent_to_btl(&torrent, &header).unwrap();
    assert_eq!(read_header(&btl).unwrap(), header);
    assert_eq!(btl_to_torrent(&btl).unwrap(), (header, torrent));
}

#[test]
fn refuses_bad_headers() {
    let torrent = golden_torrent();
    let bad_version = BtlHeader {
        version: 2,
        ..BtlHeader::default()
    };
    assert_eq!(
        torrent_to_btl(&torrent, &bad_version),
        Err(CompactError::UnsupportedVersion(2))
    );
    let too_many = BtlHeader {
        extensions: vec![(1, vec![]); 65],
        ..BtlHeader::default()
    };
    assert_eq!(
        torrent_to_btl(&torrent, &too_many),
        Err(CompactError::ExtensionTooLarge)
    );
    let too_big = BtlHeader {
        extensions: vec![(1, vec![0; (64 << 10) + 1])],
        ..BtlHeader::default()
    };
    assert_eq!(
        torrent_to_btl(&torrent, &too_big),
        Err(CompactError::ExtensionTooLarge)
    );
}

#[test]
fn refuses_non_torrents() {
    let h = BtlHeader::default();
    assert!(matches!(
        torrent_to_btl(b"le", &h),
        Err(CompactError::NotATorrent(_))
    ));
    assert!(matches!(
        torrent_to_btl(b"d4:infoi1ee", &h),
        Err(CompactError::NotATorrent(_))
    ));
    assert!(matches!(
        torrent_to_btl(b"d1:ai1ee", &h),
        Err(CompactError::NotATorrent(_))
    ));
    // Unsorted keys: not canonical bencode.
    assert!(matches!(
        torrent_to_btl(b"d4:infode1:ai1ee", &h),
        Err(CompactError::Bencode(_))
    ));
}

/// Builds a `.btl` file from a raw header-less body, with the checksum.
fn raw_btl(body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0, 0, 0, 0, 0]); // version, flags, no ref, 0 ext, codec 0
    out.extend_from_slice(body);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..4]);
    out
}

#[test]
fn hand_made_body_decodes() {
    // d 4:info d e e  ->  DICT(1) key#1 DICT(0)
    let btl = raw_btl(&[0x81, 1, 0x80]);
    assert_eq!(btl_to_torrent(&btl).unwrap().1, b"d4:infodee");
}

#[test]
fn refuses_damaged_or_hostile_input() {
    let good = torrent_to_btl(&golden_torrent(), &golden_header()).unwrap();

    assert_eq!(btl_to_torrent(b"d4:infodee"), Err(CompactError::NotBtl));
    assert_eq!(
        btl_to_torrent(&MAGIC),
        Err(CompactError::Truncated { what: "header" })
    );

    let mut v2 = good.clone();
    v2[4] = 2;
    assert_eq!(
        btl_to_torrent(&v2),
        Err(CompactError::UnsupportedVersion(2))
    );

    // Any single-bit flip past the version is caught (mostly by the checksum).
    for i in 5..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        assert!(btl_to_torrent(&bad).is_err(), "flip at {i} accepted");
    }
    // Every truncation is refused, never a panic.
    for n in 0..good.len() {
        assert!(btl_to_torrent(&good[..n]).is_err(), "prefix {n} accepted");
    }

    // Unknown codec.
    let mut c = MAGIC.to_vec();
    c.extend_from_slice(&[1, 0, 0, 0, 0, 9]);
    let sum = Sha256::digest(&c);
    c.extend_from_slice(&sum[..4]);
    assert_eq!(btl_to_torrent(&c), Err(CompactError::UnsupportedCodec(9)));

    // Reserved tag type.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0xe0])),
        Err(CompactError::BadTag { tag: 0xe0, .. })
    ));
    // A back-reference to an empty table.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x81, 1, 0x41])),
        Err(CompactError::BadReference { index: 1, .. })
    ));
    // Keys out of order: info (1) then name (2) is fine, name then info is not.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x82, 2, 0x00, 1, 0x80])),
        Err(CompactError::UnsortedKeys { .. })
    ));
    // Duplicate keys.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x82, 1, 0x80, 1, 0x80])),
        Err(CompactError::UnsortedKeys { .. })
    ));
    // A count far larger than the input.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x7f, 0xff, 0xff, 0xff, 0x0f])),
        Err(CompactError::Truncated { .. })
    ));
    // A string length far larger than the input.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x3f, 0xff, 0xff, 0xff, 0xff, 0x0f])),
        Err(CompactError::Truncated { .. })
    ));
    // Overlong varint.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x3f, 0x80, 0x00])),
        Err(CompactError::BadVarint { .. })
    ));
    // Trailing bytes after the body.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x81, 1, 0x80, 0x00])),
        Err(CompactError::TrailingData { .. })
    ));
    // Valid body, but not a torrent.
    assert!(matches!(
        btl_to_torrent(&raw_btl(&[0x60])),
        Err(CompactError::NotATorrent(_))
    ));
    // Bad ledger marker.
    let mut m = MAGIC.to_vec();
    m.extend_from_slice(&[1, 0, 0, 7, 0, 0, 0x81, 1, 0x80]);
    let sum = Sha256::digest(&m);
    m.extend_from_slice(&sum[..4]);
    assert_eq!(btl_to_torrent(&m), Err(CompactError::BadLedgerMarker(7)));
}

#[test]
fn depth_and_output_are_capped() {
    // 10,000 nested lists: refused by depth, without blowing the stack.
    let mut body = vec![0x81, 1];
    body.extend(std::iter::repeat_n(0x61u8, 10_000));
    body.push(0x60);
    assert_eq!(
        btl_to_torrent(&raw_btl(&body)),
        Err(CompactError::TooDeep { max: 128 })
    );

    // Back-references amplify: 64-byte string then many refs to it.
    let mut body = vec![0x81, 1, 0x81, 2, 0x7f];
    let n: usize = 100_000;
    let mut count = Vec::new();
    let mut v = (n + 1 - 31) as u64;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            count.push(b);
            break;
        }
        count.push(b | 0x80);
    }
    body.extend_from_slice(&count);
    body.push(0x3f);
    body.push(64 - 31);
    body.extend_from_slice(&[b'q'; 64]);
    body.extend(std::iter::repeat_n(0x40u8, n)); // ref #0
    let btl = raw_btl(&body);
    let ok = btl_to_torrent(&btl).unwrap().1;
    assert!(ok.len() > 60 * n);
    let limits = BtlLimits {
        max_output: 1 << 20,
        ..BtlLimits::default()
    };
    assert_eq!(
        btl_to_torrent_with(&btl, limits),
        Err(CompactError::OutputTooLarge { max: 1 << 20 })
    );
    let limits = BtlLimits {
        max_input: 100,
        ..BtlLimits::default()
    };
    assert!(matches!(
        btl_to_torrent_with(&btl, limits),
        Err(CompactError::InputTooLarge { .. })
    ));
}

/// The back-reference table stops growing at 65,536 entries on both sides.
#[test]
fn reference_table_overflow_round_trips() {
    let distinct: Vec<Owned> = (0u32..70_000)
        .map(|i| Owned::Bytes(i.to_be_bytes().to_vec()))
        .collect();
    let mut items = distinct.clone();
    items.extend(distinct.iter().rev().cloned());
    let mut info = Owned::dict();
    info.insert("x", Owned::List(items));
    let mut top = Owned::dict();
    top.insert("info", info);
    let torrent = top.encode();
    let btl = torrent_to_btl(&torrent, &BtlHeader::default()).unwrap();
    assert_eq!(btl_to_torrent(&btl).unwrap().1, torrent);
}

fn arb_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "info",
            "name",
            "length",
            "path",
            "pieces root",
            "x",
            "abc",
            "custom key",
        ])
        .prop_map(|k| k.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..70),
    ]
}

fn arb_value() -> impl Strategy<Value = Owned> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Owned::Int),
        (-40i64..40).prop_map(Owned::Int),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(Owned::Bytes),
        // Repeats exercise the back-reference table.
        prop::sample::select(vec!["ab", "abc", "name", "dir one", "0123456789abcdef"])
            .prop_map(Owned::bytes),
        (0u8..4, 60usize..70).prop_map(|(seed, len)| Owned::Bytes(fill(seed, len))),
    ];
    leaf.prop_recursive(5, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..10).prop_map(Owned::List),
            prop::collection::btree_map(arb_key(), inner, 0..10).prop_map(Owned::Dict),
        ]
    })
}

fn arb_torrent() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::btree_map(arb_key(), arb_value(), 0..6),
        prop::collection::btree_map(arb_key(), arb_value(), 0..8),
    )
        .prop_map(|(top, info)| {
            let mut top = top;
            top.insert(b"info".to_vec(), Owned::Dict(info));
            Owned::Dict(top).encode()
        })
}

fn arb_header() -> impl Strategy<Value = BtlHeader> {
    (
        any::<u16>(),
        prop::collection::vec(
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..40)),
            0..4,
        ),
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(|(flags, extensions, r)| BtlHeader {
            flags,
            extensions,
            ledger_ref: r.map(Sha256Hash),
            ..BtlHeader::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_is_exact(torrent in arb_torrent(), header in arb_header()) {
        let btl = torrent_to_btl(&torrent, &header).unwrap();
        let (h, back) = btl_to_torrent(&btl).unwrap();
        prop_assert_eq!(h, header.clone());
        prop_assert_eq!(&back, &torrent);
        // Deterministic: encoding again gives the same file.
        prop_assert_eq!(torrent_to_btl(&back, &header).unwrap(), btl);
    }

    #[test]
    fn fuzz_entry_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_btl(&data);
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&data);
        fuzz_btl(&d);
    }

    #[test]
    fn mutated_files_never_panic(
        torrent in arb_torrent(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let btl = torrent_to_btl(&torrent, &BtlHeader::default()).unwrap();
        let mut body = btl[..btl.len() - 4].to_vec();
        for (i, b) in edits {
            let i = i.index(body.len());
            body[i] = b;
        }
        fuzz_btl(&body);
    }
}
