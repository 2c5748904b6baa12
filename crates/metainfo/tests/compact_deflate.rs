//! Tests of `.btl` body codec 1 (raw DEFLATE): golden vector, the writer's
//! codec choice, round trips, and refusal of decompression bombs, corrupted
//! and truncated compressed bodies.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use btl_bencode::Owned;
use btl_metainfo::compact::{
    btl_to_torrent, btl_to_torrent_with, fuzz_btl, torrent_to_btl, BtlHeader, BtlLimits,
    CompactError, CODEC_DEFLATE, CODEC_PLAIN, DEFLATE_LEVEL, FLAG_ENCRYPTED_TRANSPORT, MAGIC,
};
use btl_types::Sha256Hash;
use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec;
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};

/// Deterministic pseudo-random (incompressible) bytes, like real hashes.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(i.to_le_bytes());
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(len);
    out
}

fn s(x: &str) -> Owned {
    Owned::bytes(x)
}

/// A v1 torrent of `files` (path, length), with random `pieces`.
fn v1_torrent(name: &str, files: &[(Vec<String>, i64)], piece_len: i64) -> Vec<u8> {
    let total: i64 = files.iter().map(|f| f.1).sum();
    let pieces = ((total + piece_len - 1) / piece_len) as usize;
    let mut info = Owned::dict();
    info.insert("name", s(name));
    info.insert("piece length", Owned::Int(piece_len));
    info.insert("pieces", Owned::Bytes(noise(name, pieces * 20)));
    if files.len() == 1 && files[0].0.is_empty() {
        info.insert("length", Owned::Int(total));
    } else {
        let list = files
            .iter()
            .map(|(path, len)| {
                let mut f = Owned::dict();
                f.insert("length", Owned::Int(*len));
                f.insert("path", Owned::List(path.iter().map(|p| s(p)).collect()));
                f
            })
            .collect();
        info.insert("files", Owned::List(list));
    }
    let mut top = Owned::dict();
    top.insert("announce", s("udp://tracker.example.org:1337/announce"));
    top.insert("created by", s("btl test"));
    top.insert("creation date", Owned::Int(1_700_000_000));
    top.insert("info", info);
    top.encode()
}

/// The many-file golden torrent: 3 discs of 14 similarly named tracks with
/// similar lengths, 16 MiB pieces (so the hashes stay a small part).
fn album_torrent() -> Vec<u8> {
    let mut files = Vec::new();
    for disc in 1..=3 {
        for track in 1..=14 {
            files.push((
                vec![
                    format!("Disc {disc}"),
                    format!("{disc}-{track:02} - Nocturne in Blue, Part {track}.flac"),
                ],
                25_000_000 + i64::from(disc * 1_000_003 + track * 77_777),
            ));
        }
        files.push((vec![format!("Disc {disc}"), "cover.jpg".into()], 412_345));
    }
    v1_torrent("The Nocturne Sessions (2024) [FLAC]", &files, 16 << 20)
}

fn single_file_torrent() -> Vec<u8> {
    v1_torrent("disk-image.iso", &[(vec![], 1_500_000_000)], 1 << 20)
}

fn golden_header() -> BtlHeader {
    BtlHeader {
        flags: FLAG_ENCRYPTED_TRANSPORT,
        ledger_ref: Some(Sha256Hash(noise("ledger", 32).try_into().unwrap())),
        ..BtlHeader::default()
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The bytes of a `.btl` file before its codec byte, written by hand from
/// the documented layout.
fn header_bytes(header: &BtlHeader) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(header.version);
    out.extend_from_slice(&header.flags.to_le_bytes());
    match &header.ledger_ref {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.0);
        }
    }
    put_varint(&mut out, header.extensions.len() as u64);
    for (ty, data) in &header.extensions {
        put_varint(&mut out, u64::from(*ty));
        put_varint(&mut out, data.len() as u64);
        out.extend_from_slice(data);
    }
    out
}

/// Offset of the codec byte in a `.btl` file with this header.
fn codec_offset(header: &BtlHeader) -> usize {
    header_bytes(header).len()
}

/// The codec byte and the stored body of a `.btl` file.
fn split(btl: &[u8], header: &BtlHeader) -> (u8, Vec<u8>) {
    let at = codec_offset(header);
    (btl[at], btl[at + 1..btl.len() - 4].to_vec())
}

/// The tagged-tree (codec 0) body the writer builds for `torrent`.
fn tagged_body(torrent: &[u8], header: &BtlHeader) -> Vec<u8> {
    let (codec, stored) = split(&torrent_to_btl(torrent, header).unwrap(), header);
    if codec == CODEC_DEFLATE {
        decompress_to_vec(&stored).unwrap()
    } else {
        stored
    }
}

/// A `.btl` file with `header`, the given codec byte and stored body, and
/// a correct checksum.
fn build(header: &BtlHeader, codec: u8, stored: &[u8]) -> Vec<u8> {
    let mut out = header_bytes(header);
    out.push(codec);
    out.extend_from_slice(stored);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..4]);
    out
}

const GOLDEN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/compact_v1_deflate.btl.hex"
);
const GOLDEN_TORRENT_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/compact_v1_deflate.torrent.hex"
);

/// Pins the codec 1 encoding of a many-file torrent: fails if the tagged
/// tree, the codec choice, the DEFLATE level or the `miniz_oxide` output
/// changes. Regenerate (only for a deliberate change) with `BTL_BLESS=1`.
#[test]
fn golden_vector_many_files() {
    let torrent = album_torrent();
    let header = golden_header();
    let btl = torrent_to_btl(&torrent, &header).unwrap();
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
    let (codec, stored) = split(&want, &header);
    assert_eq!(codec, CODEC_DEFLATE);
    let plain = tagged_body(&torrent, &header);
    assert!(
        stored.len() * 10 < plain.len() * 7,
        "DEFLATE should save at least 30% here: {} of {}",
        stored.len(),
        plain.len()
    );
    let (h, back) = btl_to_torrent(&want).unwrap();
    assert_eq!(h, header);
    assert_eq!(back, want_torrent);
    // The same file stored plain decodes to the same torrent.
    let as_plain = build(&header, CODEC_PLAIN, &plain);
    assert_eq!(btl_to_torrent(&as_plain).unwrap(), (header, torrent));
}

/// Hashes do not compress: a single-file torrent keeps codec 0.
#[test]
fn single_file_stays_plain() {
    let torrent = single_file_torrent();
    let header = BtlHeader::default();
    let btl = torrent_to_btl(&torrent, &header).unwrap();
    let (codec, stored) = split(&btl, &header);
    assert_eq!(codec, CODEC_PLAIN);
    assert!(compress_to_vec(&stored, DEFLATE_LEVEL).len() >= stored.len());
    assert_eq!(btl_to_torrent(&btl).unwrap().1, torrent);
}

#[test]
fn round_trip_through_codec_1() {
    let header = golden_header();
    let torrent = album_torrent();
    let btl = torrent_to_btl(&torrent, &header).unwrap();
    assert_eq!(split(&btl, &header).0, CODEC_DEFLATE);
    assert_eq!(btl_to_torrent(&btl).unwrap(), (header.clone(), torrent));
    // Readers accept any valid raw DEFLATE stream, even one the writer
    // would not have chosen: other levels, stored blocks, a body that grew.
    for torrent in [album_torrent(), single_file_torrent()] {
        let plain = tagged_body(&torrent, &header);
        for level in [0, 1, 6, 10] {
            let file = build(&header, CODEC_DEFLATE, &compress_to_vec(&plain, level));
            assert_eq!(
                btl_to_torrent(&file).unwrap(),
                (header.clone(), torrent.clone()),
                "level {level}"
            );
        }
    }
}

/// A small file that inflates past the output limit is refused before
/// anything past the limit is allocated.
#[test]
fn decompression_bomb_is_refused() {
    let header = BtlHeader::default();
    // 80 MiB of zeros: about 80 KB compressed, past the default 64 MiB.
    let zeros = vec![0u8; 80 << 20];
    let bomb = build(&header, CODEC_DEFLATE, &compress_to_vec(&zeros, 10));
    assert!(bomb.len() < 100 << 10, "{}", bomb.len());
    let max = BtlLimits::default().max_output;
    assert_eq!(
        btl_to_torrent(&bomb),
        Err(CompactError::CompressedBodyTooLarge { max })
    );

    // With a small limit, a small bomb: refused at exactly that limit.
    let limits = BtlLimits {
        max_output: 1 << 20,
        ..BtlLimits::default()
    };
    let small = build(
        &header,
        CODEC_DEFLATE,
        &compress_to_vec(&zeros[..(1 << 20) + 1], 9),
    );
    assert_eq!(
        btl_to_torrent_with(&small, limits),
        Err(CompactError::CompressedBodyTooLarge { max: 1 << 20 })
    );

    // A body within the limit that decodes past it (back-references
    // amplify) is refused by the tagged-tree decoder as before.
    let mut body = vec![0x81, 1, 0x81, 2, 0x7f];
    let n = 20_000u64;
    let mut v = n + 1 - 31;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            body.push(b);
            break;
        }
        body.push(b | 0x80);
    }
    body.extend_from_slice(&[0x3f, 64 - 31]);
    body.extend_from_slice(&[b'q'; 64]);
    body.extend(std::iter::repeat_n(0x40u8, n as usize));
    let amplified = build(&header, CODEC_DEFLATE, &compress_to_vec(&body, 9));
    assert!(btl_to_torrent(&amplified).is_ok());
    assert_eq!(
        btl_to_torrent_with(&amplified, limits),
        Err(CompactError::OutputTooLarge { max: 1 << 20 })
    );
}

#[test]
fn corrupted_compressed_data_is_refused() {
    let header = golden_header();
    let (codec, stored) = split(&torrent_to_btl(&album_torrent(), &header).unwrap(), &header);
    assert_eq!(codec, CODEC_DEFLATE);

    // Block type 3 is reserved in DEFLATE.
    let mut reserved = stored.clone();
    reserved[0] |= 0b110;
    assert_eq!(
        btl_to_torrent(&build(&header, CODEC_DEFLATE, &reserved)),
        Err(CompactError::BadCompressedBody)
    );
    // Not DEFLATE at all.
    assert!(btl_to_torrent(&build(&header, CODEC_DEFLATE, &[0xff; 64])).is_err());
    // A plain body labelled as compressed.
    let plain = tagged_body(&album_torrent(), &header);
    assert!(btl_to_torrent(&build(&header, CODEC_DEFLATE, &plain)).is_err());
    // A compressed body labelled as plain.
    assert!(btl_to_torrent(&build(&header, CODEC_PLAIN, &stored)).is_err());

    // Every single-bit flip in the compressed body (checksum fixed up):
    // never a panic, and what decodes must be canonical (checked by
    // fuzz_btl). Many flips still decode, to another torrent: a flipped
    // literal inside the `pieces` hashes is valid DEFLATE and a valid tree.
    // Accidental damage is the checksum's job, tested in compact.rs.
    let at = codec_offset(&header) + 1;
    let mut refused = 0;
    let flips = stored.len() * 8;
    for bit in 0..flips {
        let mut bad = stored.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let file = build(&header, CODEC_DEFLATE, &bad);
        fuzz_btl(&file[..file.len() - 4]);
        if btl_to_torrent(&file).is_err() {
            refused += 1;
        }
        assert_eq!(file.len(), at + stored.len() + 4);
    }
    assert!(refused > flips / 10, "{refused} of {flips} flips refused");

    // A stream that inflates to a damaged tagged tree: the body decoder's
    // errors, with offsets into the inflated body.
    assert!(matches!(
        btl_to_torrent(&build(&header, CODEC_DEFLATE, &compress_to_vec(&[0xe0], 9))),
        Err(CompactError::BadTag { at: 0, tag: 0xe0 })
    ));
    assert!(matches!(
        btl_to_torrent(&build(
            &header,
            CODEC_DEFLATE,
            &compress_to_vec(&[0x81, 1, 0x80, 0x00], 9)
        )),
        Err(CompactError::TrailingData { at: 3 })
    ));
}

#[test]
fn truncated_compressed_data_is_refused() {
    let header = BtlHeader::default();
    let (_, stored) = split(&torrent_to_btl(&album_torrent(), &header).unwrap(), &header);
    for n in 0..stored.len() {
        assert_eq!(
            btl_to_torrent(&build(&header, CODEC_DEFLATE, &stored[..n])),
            Err(CompactError::Truncated {
                what: "compressed body"
            }),
            "prefix {n} of {}",
            stored.len()
        );
    }
    // Bytes after the end of the DEFLATE stream.
    let mut long = stored.clone();
    long.push(0);
    let at = codec_offset(&header) + 1 + stored.len();
    assert_eq!(
        btl_to_torrent(&build(&header, CODEC_DEFLATE, &long)),
        Err(CompactError::TrailingData { at })
    );
    // And a truncated file is still caught by the checksum first.
    let btl = torrent_to_btl(&album_torrent(), &header).unwrap();
    for n in 0..btl.len() {
        assert!(btl_to_torrent(&btl[..n]).is_err(), "prefix {n} accepted");
    }
}

#[test]
fn other_codecs_are_still_refused() {
    let header = BtlHeader::default();
    for codec in [2u8, 3, 0x80, 0xff] {
        assert_eq!(
            btl_to_torrent(&build(&header, codec, &[0x81, 1, 0x80])),
            Err(CompactError::UnsupportedCodec(codec))
        );
    }
}

/// Many-file torrents drawn from a small vocabulary, so that DEFLATE tends
/// to win; the hash count varies so that it sometimes does not.
fn arb_many_file_torrent() -> impl Strategy<Value = Vec<u8>> {
    let word = prop::sample::select(vec!["alpha", "beta", "gamma", "delta", "photo", "track"]);
    let file = (
        prop::collection::vec(word, 1..4),
        0u32..1000,
        1_000i64..5_000_000,
    )
        .prop_map(|(dirs, n, len)| {
            let mut path: Vec<String> = dirs.into_iter().map(str::to_string).collect();
            path.push(format!("file_{n:04}.dat"));
            (path, len)
        });
    (prop::collection::vec(file, 1..60), 15u32..24)
        .prop_map(|(files, shift)| v1_torrent("many", &files, 1i64 << shift))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn many_file_round_trip_is_exact_and_deterministic(torrent in arb_many_file_torrent()) {
        let header = BtlHeader::default();
        let btl = torrent_to_btl(&torrent, &header).unwrap();
        let (codec, stored) = split(&btl, &header);
        let plain = tagged_body(&torrent, &header);
        // The writer's choice: codec 1 exactly when it is strictly shorter.
        let packed = compress_to_vec(&plain, DEFLATE_LEVEL);
        if packed.len() < plain.len() {
            prop_assert_eq!(codec, CODEC_DEFLATE);
            prop_assert_eq!(&stored, &packed);
        } else {
            prop_assert_eq!(codec, CODEC_PLAIN);
            prop_assert_eq!(&stored, &plain);
        }
        let (_, back) = btl_to_torrent(&btl).unwrap();
        prop_assert_eq!(&back, &torrent);
        prop_assert_eq!(torrent_to_btl(&back, &header).unwrap(), btl);
    }

    #[test]
    fn mutated_codec_1_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let header = BtlHeader::default();
        let btl = torrent_to_btl(&album_torrent(), &header).unwrap();
        let mut body = btl[..btl.len() - 4].to_vec();
        let first = codec_offset(&header) + 1;
        for (i, b) in edits {
            let i = first + i.index(body.len() - first);
            body[i] = b;
        }
        fuzz_btl(&body);
        body.truncate(first + cut.index(body.len() - first));
        fuzz_btl(&body);
    }

    #[test]
    fn random_codec_1_bodies_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[1, 0, 0, 0, 0, CODEC_DEFLATE]);
        file.extend_from_slice(&data);
        fuzz_btl(&file);
        // The same bytes as a valid stream of stored blocks.
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[1, 0, 0, 0, 0, CODEC_DEFLATE]);
        file.extend_from_slice(&compress_to_vec(&data, 0));
        fuzz_btl(&file);
    }
}
