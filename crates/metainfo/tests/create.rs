//! Torrent creation: hashes, layout, options and errors, checked against
//! straightforward reference computations (no libtorrent needed; see
//! `create_libtorrent.rs` for the byte-for-byte interop test).

#![allow(clippy::unwrap_used)]

use btl_bencode::{decode, Value};
use btl_metainfo::create::{
    create, default_piece_length, CreateError, CreateOptions, Created, TorrentVersion,
};
use btl_metainfo::merkle::{hash_block, root_from_leaves, BLOCK_SIZE};
use sha1::{Digest as _, Sha1};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("btl-create-t-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A v1 `files` entry: path, length, attr.
type Listed = (Vec<Vec<u8>>, i64, Option<Vec<u8>>);

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[2] ^ seed)
        .collect()
}

fn opts(version: TorrentVersion, piece_length: u64) -> CreateOptions {
    CreateOptions {
        version,
        piece_length: Some(piece_length),
        ..CreateOptions::default()
    }
}

fn run(path: &Path, o: &CreateOptions) -> Created {
    create(path, o, &|_, _| {}).unwrap()
}

fn info<'a>(torrent: &'a Value<'a>) -> &'a btl_bencode::Dict<'a> {
    torrent
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap()
}

#[test]
fn v1_pieces_span_files_in_sorted_order() {
    let s = Scratch::new("v1span");
    let dir = s.0.join("d");
    let b = data(50_000, 1);
    let a = data(30_000, 2);
    s.write("d/b", &b);
    s.write("d/a", &a);
    let c = run(&dir, &opts(TorrentVersion::V1, 16384));
    let stream: Vec<u8> = a.iter().chain(&b).copied().collect();
    let want: Vec<u8> = stream
        .chunks(16384)
        .flat_map(|p| Sha1::digest(p).to_vec())
        .collect();
    let v = decode(&c.torrent).unwrap();
    let i = info(&v);
    assert_eq!(i.get(b"pieces").unwrap().as_bytes().unwrap(), &want[..]);
    let files = i.get(b"files").unwrap().as_list().unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| {
            let path = f
                .as_dict()
                .unwrap()
                .get(b"path")
                .unwrap()
                .as_list()
                .unwrap();
            path.items()[0].as_bytes().unwrap().to_vec()
        })
        .collect();
    assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(c.total_length, 80_000);
    assert_eq!(c.files, 2);
    assert!(i.get(b"file tree").is_none());
    assert!(c.info_hashes.v2().is_none());
}

#[test]
fn v2_roots_match_merkle_reference() {
    let s = Scratch::new("v2roots");
    // A multi-piece file with a partial last block, and a one-piece file
    // shorter than a piece (its tree is padded only to a power of two).
    let big = data(5 * BLOCK_SIZE + 123, 3);
    let small = data(3 * BLOCK_SIZE - 5, 4);
    s.write("d/big", &big);
    s.write("d/small", &small);
    let piece_length = 4 * BLOCK_SIZE as u64;
    let c = run(&s.0.join("d"), &opts(TorrentVersion::V2, piece_length));
    let v = decode(&c.torrent).unwrap();
    let tree = info(&v).get(b"file tree").unwrap().as_dict().unwrap();
    for (name, bytes) in [(&b"big"[..], &big), (&b"small"[..], &small)] {
        let leaves: Vec<_> = bytes.chunks(BLOCK_SIZE).map(hash_block).collect();
        let want = root_from_leaves(&leaves).unwrap();
        let node = tree.get(name).unwrap().as_dict().unwrap();
        let leaf = node.get(b"").unwrap().as_dict().unwrap();
        assert_eq!(
            leaf.get(b"pieces root").unwrap().as_bytes().unwrap(),
            want.as_bytes(),
            "{}",
            String::from_utf8_lossy(name)
        );
        assert_eq!(
            leaf.get(b"length").unwrap().as_int(),
            Some(bytes.len() as i64)
        );
    }
    // Only the file longer than a piece has a piece layer (2 pieces).
    let layers = v
        .as_dict()
        .unwrap()
        .get(b"piece layers")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers.iter().next().unwrap().1.as_bytes().unwrap().len(),
        64
    );
}

#[test]
fn hybrid_pads_and_hashes_zeros() {
    let s = Scratch::new("hybrid");
    let a = data(20_000, 5);
    let b = data(10_000, 6);
    s.write("d/a", &a);
    s.write("d/b", &b);
    s.write("d/e", b"");
    let c = run(&s.0.join("d"), &opts(TorrentVersion::Hybrid, 16384));
    let v = decode(&c.torrent).unwrap();
    let i = info(&v);
    // Pieces: a[0..16384], a[16384..] + zeros, b + zeros.
    let mut want = Vec::new();
    let mut padded = |bytes: &[u8]| {
        let mut p = bytes.to_vec();
        p.resize(16384, 0);
        want.extend_from_slice(&Sha1::digest(&p));
    };
    padded(&a[..16384]);
    padded(&a[16384..]);
    padded(&b);
    assert_eq!(i.get(b"pieces").unwrap().as_bytes().unwrap(), &want[..]);
    let files = i.get(b"files").unwrap().as_list().unwrap();
    let listed: Vec<Listed> = files
        .iter()
        .map(|f| {
            let d = f.as_dict().unwrap();
            (
                d.get(b"path")
                    .unwrap()
                    .as_list()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_bytes().unwrap().to_vec())
                    .collect(),
                d.get(b"length").unwrap().as_int().unwrap(),
                d.get(b"attr").map(|a| a.as_bytes().unwrap().to_vec()),
            )
        })
        .collect();
    let p = |n: i64| {
        (
            vec![b".pad".to_vec(), n.to_string().into_bytes()],
            n,
            Some(b"p".to_vec()),
        )
    };
    assert_eq!(
        listed,
        vec![
            (vec![b"a".to_vec()], 20_000, None),
            p(32768 - 20_000),
            (vec![b"b".to_vec()], 10_000, None),
            p(16384 - 10_000),
            (vec![b"e".to_vec()], 0, None),
        ]
    );
    // The empty file has no pieces root.
    let tree = i.get(b"file tree").unwrap().as_dict().unwrap();
    let e = tree.get(b"e").unwrap().as_dict().unwrap();
    let leaf = e.get(b"").unwrap().as_dict().unwrap();
    assert!(leaf.get(b"pieces root").is_none());
    assert_eq!(i.get(b"meta version").unwrap().as_int(), Some(2));
    assert!(c.info_hashes.v1().is_some() && c.info_hashes.v2().is_some());
}

#[test]
fn single_file_layout() {
    let s = Scratch::new("single");
    let f = s.write("movie.mkv", &data(40_000, 7));
    let c = run(&f, &opts(TorrentVersion::Hybrid, 16384));
    let v = decode(&c.torrent).unwrap();
    let i = info(&v);
    assert_eq!(i.get(b"name").unwrap().as_bytes(), Some(&b"movie.mkv"[..]));
    assert_eq!(i.get(b"length").unwrap().as_int(), Some(40_000));
    assert!(i.get(b"files").is_none());
    let tree = i.get(b"file tree").unwrap().as_dict().unwrap();
    assert!(tree.get(b"movie.mkv").is_some());
    // No pad: the last v1 piece is short.
    assert_eq!(i.get(b"pieces").unwrap().as_bytes().unwrap().len(), 3 * 20);
}

#[test]
fn thread_count_does_not_change_output() {
    let s = Scratch::new("threads");
    for k in 0..20 {
        s.write(
            &format!("d/sub{}/f{k}", k % 3),
            &data(7_000 * k + 1, k as u8),
        );
    }
    for version in [
        TorrentVersion::V1,
        TorrentVersion::V2,
        TorrentVersion::Hybrid,
    ] {
        let mut o = opts(version, 16384);
        o.threads = Some(1);
        let one = run(&s.0.join("d"), &o);
        o.threads = Some(7);
        let seven = run(&s.0.join("d"), &o);
        assert_eq!(one, seven, "{version:?}");
    }
}

#[test]
fn progress_is_increasing_and_ends_at_total() {
    let s = Scratch::new("progress");
    s.write("d/a", &data(9 << 20, 1));
    s.write("d/b", &data(3 << 20, 2));
    let seen = Mutex::new(Vec::new());
    let record = |done: u64, total: u64| seen.lock().unwrap().push((done, total));
    let c = create(
        &s.0.join("d"),
        &opts(TorrentVersion::Hybrid, 1 << 20),
        &record,
    )
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    assert!(seen.iter().all(|&(_, t)| t == c.total_length));
    assert_eq!(seen.last().unwrap().0, c.total_length);
}

#[test]
fn outer_keys_and_private() {
    let s = Scratch::new("outer");
    let f = s.write("x", &data(1000, 1));
    let o = CreateOptions {
        version: TorrentVersion::V1,
        piece_length: None,
        trackers: vec![
            vec!["http://a/announce".into(), "http://b/announce".into()],
            vec![],
            vec!["udp://c:80".into()],
        ],
        web_seeds: vec!["http://seed/".into()],
        private: true,
        comment: Some("hello".into()),
        created_by: Some("btl test".into()),
        creation_date: Some(1_700_000_000),
        threads: None,
    };
    let c = run(&f, &o);
    assert_eq!(c.piece_length, 512 * 1024);
    let v = decode(&c.torrent).unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(
        d.get(b"announce").unwrap().as_str(),
        Some("http://a/announce")
    );
    let tiers = d.get(b"announce-list").unwrap().as_list().unwrap();
    assert_eq!(tiers.len(), 2);
    assert_eq!(d.get(b"comment").unwrap().as_str(), Some("hello"));
    assert_eq!(d.get(b"created by").unwrap().as_str(), Some("btl test"));
    assert_eq!(
        d.get(b"creation date").unwrap().as_int(),
        Some(1_700_000_000)
    );
    let seeds = d.get(b"url-list").unwrap().as_list().unwrap();
    assert_eq!(seeds.items()[0].as_str(), Some("http://seed/"));
    assert_eq!(info(&v).get(b"private").unwrap().as_int(), Some(1));

    // One tracker only: `announce`, no `announce-list`.
    let o = CreateOptions {
        trackers: vec![vec!["http://a/announce".into()]],
        ..CreateOptions::default()
    };
    let c = run(&f, &o);
    let v = decode(&c.torrent).unwrap();
    assert!(v.as_dict().unwrap().get(b"announce-list").is_none());
    assert!(v.as_dict().unwrap().get(b"creation date").is_none());
}

#[test]
fn errors() {
    let s = Scratch::new("errors");
    std::fs::create_dir_all(s.0.join("empty/sub")).unwrap();
    s.write("zeros/a", b"");
    let f = s.write("f", &data(100, 1));

    let e = create(&s.0.join("empty"), &CreateOptions::default(), &|_, _| {}).unwrap_err();
    assert!(matches!(e, CreateError::NothingToHash { .. }), "{e}");
    let e = create(&s.0.join("zeros"), &CreateOptions::default(), &|_, _| {}).unwrap_err();
    assert!(matches!(e, CreateError::NothingToHash { .. }), "{e}");

    let missing = s.0.join("missing");
    match create(&missing, &CreateOptions::default(), &|_, _| {}).unwrap_err() {
        CreateError::Io { path, .. } => assert_eq!(path, missing),
        e => panic!("{e}"),
    }

    for (version, pl) in [
        (TorrentVersion::V2, 3 * 16384),
        (TorrentVersion::Hybrid, 8192),
        (TorrentVersion::V1, 1000),
    ] {
        let e = create(&f, &opts(version, pl), &|_, _| {}).unwrap_err();
        assert!(
            matches!(e, CreateError::InvalidPieceLength { piece_length, .. } if piece_length == pl),
            "{e}"
        );
    }
    // v1 accepts a multiple of 16 KiB that is not a power of two.
    assert!(create(&f, &opts(TorrentVersion::V1, 3 * 16384), &|_, _| {}).is_ok());
}

#[test]
fn symlinks_followed_loops_and_broken_links_skipped() {
    let s = Scratch::new("links");
    s.write("d/sub/f", &data(1000, 1));
    std::os::unix::fs::symlink("..", s.0.join("d/sub/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere", s.0.join("d/broken")).unwrap();
    std::os::unix::fs::symlink("sub", s.0.join("d/linked")).unwrap();
    let c = run(&s.0.join("d"), &opts(TorrentVersion::V2, 16384));
    assert_eq!(c.files, 2); // sub/f and linked/f
    assert_eq!(c.total_length, 2000);
}

#[test]
fn default_piece_length_examples() {
    assert_eq!(default_piece_length(0), 512 << 10);
    assert_eq!(default_piece_length(1 << 30), 512 << 10);
    assert_eq!(default_piece_length(8 << 30), 1 << 20);
    assert_eq!(default_piece_length(1 << 50), 16 << 20);
}
