//! Real `.torrent` files made by mktorrent, transmission-create and
//! libtorrent (`scripts/gen-torrent-fixtures.py`), checked against what
//! libtorrent itself reported about them (`fixtures/torrent/expected.tsv`):
//! infohashes, piece counts, file offsets, sizes, attributes and pieces
//! roots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use btl_metainfo::torrent::{fuzz_torrent, Problem, Torrent, Version};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torrent")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> Torrent {
    Torrent::from_bytes(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One `torrent` line of expected.tsv and its `file` lines.
struct Expected {
    fixture: String,
    version: String,
    v1: String,
    v2: String,
    pieces: u64,
    piece_length: u64,
    total: u64,
    files: usize,
    piece0: String,
    name: String,
    /// (offset, size, attr, pieces root, path)
    file_rows: Vec<(u64, u64, String, String, String)>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(dir().join("expected.tsv")).unwrap();
    let mut out: Vec<Expected> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let c: Vec<&str> = line.split('\t').collect();
        match c[0] {
            "torrent" => out.push(Expected {
                fixture: c[1].into(),
                version: c[2].into(),
                v1: c[3].into(),
                v2: c[4].into(),
                pieces: c[5].parse().unwrap(),
                piece_length: c[6].parse().unwrap(),
                total: c[7].parse().unwrap(),
                files: c[8].parse().unwrap(),
                piece0: c[9].into(),
                name: c[10].into(),
                file_rows: Vec::new(),
            }),
            "file" => {
                let e = out.last_mut().unwrap();
                assert_eq!(e.fixture, c[1]);
                e.file_rows.push((
                    c[2].parse().unwrap(),
                    c[3].parse().unwrap(),
                    c[4].into(),
                    c[5].into(),
                    c[6].into(),
                ));
            }
            other => panic!("unknown row kind {other}"),
        }
    }
    assert_eq!(out.len(), 7, "expected.tsv lists every fixture");
    out
}

#[test]
fn agrees_with_libtorrent() {
    for e in expected() {
        let t = load(&e.fixture);
        let ctx = &e.fixture;
        let version = match t.version() {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::Hybrid => "hybrid",
        };
        assert_eq!(version, e.version, "{ctx}");
        let hex1 = t.info_hashes().v1().map_or("-".into(), |h| h.to_hex());
        let hex2 = t.info_hashes().v2().map_or("-".into(), |h| h.to_hex());
        assert_eq!(hex1, e.v1, "{ctx}: v1 infohash");
        assert_eq!(hex2, e.v2, "{ctx}: v2 infohash");
        assert_eq!(t.piece_count(), e.pieces, "{ctx}: pieces");
        assert_eq!(t.piece_length(), e.piece_length, "{ctx}");
        assert_eq!(t.total_length(), e.total, "{ctx}: total");
        assert_eq!(t.name(), e.name, "{ctx}");
        let piece0 = t.v1_piece_hash(0).map_or("-".into(), |h| h.to_hex());
        assert_eq!(piece0, e.piece0, "{ctx}: first piece hash");

        let ours: Vec<_> = t.files().iter().filter(|f| !f.is_pad()).collect();
        assert_eq!(ours.len(), e.files, "{ctx}: non-pad files");
        for (f, (offset, size, attr, root, path)) in ours.iter().zip(&e.file_rows) {
            assert_eq!(f.display_path(), *path, "{ctx}");
            assert_eq!(f.offset, *offset, "{ctx}: {path}");
            assert_eq!(f.length, *size, "{ctx}: {path}");
            let mut a = String::new();
            for (on, ch) in [
                (f.attr.executable, 'x'),
                (f.attr.hidden, 'h'),
                (f.attr.symlink, 'l'),
            ] {
                if on {
                    a.push(ch);
                }
            }
            assert_eq!(if a.is_empty() { "-" } else { &a }, attr, "{ctx}: {path}");
            let r = f.pieces_root.map_or("-".into(), |h| h.to_hex());
            assert_eq!(r, *root, "{ctx}: {path}");
        }

        // v2 parts: every layer present and verified.
        assert_eq!(t.has_piece_layers(), t.version().has_v2(), "{ctx}");
        for f in t.files() {
            if let (Some(root), true) = (f.pieces_root, f.length > t.piece_length()) {
                let layer = t.piece_layer(&root).unwrap();
                assert_eq!(layer.len() as u64, f.length.div_ceil(t.piece_length()));
            }
        }

        // The info dictionary alone gives the same torrent.
        let info = Torrent::from_info_bytes(t.info_bytes()).unwrap();
        assert_eq!(info.info_hashes(), t.info_hashes(), "{ctx}");
        assert_eq!(info.files(), t.files(), "{ctx}");
        fuzz_torrent(&read(ctx));
    }
}

#[test]
fn metadata_of_fixtures() {
    let t = load("v1-single-mktorrent.torrent");
    assert_eq!(
        t.trackers(),
        &[
            vec!["http://tracker.example/announce".to_owned()],
            vec!["udp://backup.example:6969/announce".to_owned()]
        ]
    );
    assert_eq!(
        t.web_seeds(),
        &["http://seed.example/single.bin".to_owned()]
    );
    assert_eq!(t.comment(), Some("single file, mktorrent"));
    assert_eq!(t.creation_date(), None);
    assert!(!t.is_private() && !t.is_multi_file());

    let t = load("v1-multi-mktorrent.torrent");
    assert!(t.is_private() && t.is_multi_file());

    let t = load("v1-multi-transmission.torrent");
    assert_eq!(t.comment(), Some("multi-file, transmission"));
    assert!(t.created_by().is_some_and(|c| c.contains("Transmission")));
    assert!(t.creation_date().is_some());

    let t = load("hybrid-libtorrent.torrent");
    assert_eq!(t.web_seeds(), &["http://seed.example/files/".to_owned()]);
    assert_eq!(t.trackers().len(), 2);
    // libtorrent 2.0 aligns every file with a BEP 47 pad file, the last
    // one included (tail padding).
    let pads: Vec<_> = t.files().iter().filter(|f| f.is_pad()).collect();
    assert!(!pads.is_empty());
    for f in t.files().iter().filter(|f| !f.is_pad()) {
        assert_eq!(f.offset % t.piece_length(), 0, "{}", f.display_path());
    }
    let last = t.files().last().unwrap();
    assert!(last.is_pad());
    assert_eq!((last.offset + last.length) % t.piece_length(), 0);
    assert_eq!(
        t.files()[4].display_path(),
        "empty.dat",
        "no pad file before an empty file's successor"
    );
}

/// Flipping a bit inside a real piece layer is caught and names the file.
#[test]
fn tampered_piece_layer_is_refused() {
    for name in ["hybrid-libtorrent.torrent", "v2-libtorrent.torrent"] {
        let bytes = read(name);
        let t = Torrent::from_bytes(&bytes).unwrap();
        let f = t
            .files()
            .iter()
            .find(|f| f.length > t.piece_length())
            .unwrap();
        let layer: Vec<u8> = t
            .piece_layer(&f.pieces_root.unwrap())
            .unwrap()
            .iter()
            .flat_map(|h| h.0)
            .collect();
        let at = bytes
            .windows(layer.len())
            .position(|w| w == layer.as_slice())
            .unwrap();
        let mut bad = bytes.clone();
        bad[at + 5] ^= 0x80;
        let e = Torrent::from_bytes(&bad).unwrap_err();
        assert_eq!(
            e.problem(),
            &Problem::PieceLayerMismatch {
                file: f.display_path()
            },
            "{name}: {e}"
        );
        assert!(e.field().starts_with("piece layers["), "{e}");
    }
}

/// Any change inside the info dictionary changes the infohash or is
/// refused; truncations never panic.
#[test]
fn fixture_mutations_never_panic() {
    for e in expected() {
        let bytes = read(&e.fixture);
        for cut in (0..bytes.len()).step_by(7) {
            fuzz_torrent(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            let mut m = bytes.clone();
            m[i] ^= 0x01;
            fuzz_torrent(&m);
        }
    }
}
