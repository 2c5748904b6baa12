//! Interop: our torrents must have byte-for-byte the info dictionary (and
//! the `piece layers`) that libtorrent 2.0.8 writes for the same files and
//! piece length, for v1, v2 and hybrid torrents.
//!
//! libtorrent is driven through `scripts/lt_create.py` with the Debian
//! interpreter `/usr/bin/python3`, which needs the package
//! `python3-libtorrent`. Without it this test fails; it never skips.

#![allow(clippy::unwrap_used)]

use btl_bencode::decode;
use btl_metainfo::create::{create, CreateOptions, TorrentVersion};
use std::path::{Path, PathBuf};
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

/// A deterministic byte generator (xorshift64*), so payloads are the same
/// on every run without a random-number dependency.
struct Bytes(u64);

impl Bytes {
    fn fill(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            out.extend_from_slice(&self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "btl-create-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The payload: one ~3 MiB file, 50 small files of assorted sizes in nested
/// directories, an empty file, an empty directory, non-ASCII and
/// space-containing names (which sort differently component-wise and as
/// whole strings), a hidden file, an executable file and symbolic links.
fn make_payload(root: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut rng = Bytes(0x9e37_79b9_7f4a_7c15);
    let write = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    write("big.bin", &rng.fill(3 * 1024 * 1024 + 12_345));
    let dirs = [
        "docs",
        "docs/deep/er/still",
        "ünïcödé",
        "ünïcödé/日本語",
        "a b",
        "a",
        "a/b",
        ".hidden",
    ];
    for i in 0..50usize {
        let dir = dirs[i % dirs.len()];
        // Sizes around block and piece boundaries, and odd ones.
        let len = match i % 7 {
            0 => 16 * 1024,
            1 => 32 * 1024 - 1,
            2 => 1,
            3 => 100_000 + i * 37,
            4 => 64 * 1024 + 1,
            5 => 5_000 + i,
            _ => 300_000 - i * 101,
        };
        write(&format!("{dir}/file-{i:02}-é.dat"), &rng.fill(len));
    }
    write("a/empty", b"");
    write("zz-exec.sh", b"#!/bin/sh\necho hi\n");
    let exec = root.join("zz-exec.sh");
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("empty-dir/inner")).unwrap();
    // Symbolic links: to a plain file (libtorrent marks it executable: it
    // reads the link's own mode) and to a directory (walked).
    std::os::unix::fs::symlink("big.bin", root.join("link-to-big")).unwrap();
    std::os::unix::fs::symlink("docs/deep", root.join("link-to-dir")).unwrap();
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lt_create.py")
}

/// Runs libtorrent; returns the `.torrent` bytes it wrote.
fn libtorrent(payload: &Path, version: &str, piece_length: u64, out: &Path) -> Vec<u8> {
    let missing = "libtorrent is required for this test: install the Debian package \
                   python3-libtorrent (apt-get install python3-libtorrent) so that \
                   `/usr/bin/python3 -c 'import libtorrent'` works";
    let output = Command::new(PYTHON)
        .arg(script())
        .arg(payload)
        .arg(version)
        .arg(piece_length.to_string())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}. {missing}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) || stderr.contains("No module named") {
        panic!("{missing}\n{stderr}");
    }
    assert!(
        output.status.success(),
        "lt_create.py failed ({}): {stderr}",
        output.status
    );
    std::fs::read(out).unwrap()
}

/// The raw bytes of a top-level key of a torrent.
fn raw_key(torrent: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let v = decode(torrent).unwrap();
    let d = v.as_dict().unwrap();
    d.get(key).map(|v| {
        let mut out = Vec::new();
        v.encode_to(&mut out);
        out
    })
}

fn compare(payload: &Path, scratch: &Path, version: TorrentVersion, piece_length: u64) {
    let name = match version {
        TorrentVersion::V1 => "v1",
        TorrentVersion::V2 => "v2",
        TorrentVersion::Hybrid => "hybrid",
    };
    let opts = CreateOptions {
        version,
        piece_length: Some(piece_length),
        ..CreateOptions::default()
    };
    let ours = create(payload, &opts, &|_, _| {}).unwrap();
    let out = scratch.join(format!("lt-{name}-{piece_length}.torrent"));
    let theirs = libtorrent(payload, name, piece_length, &out);
    let what = format!(
        "{name}, piece length {piece_length}, payload {}",
        payload.display()
    );

    let our_info = raw_key(&ours.torrent, b"info").unwrap();
    let their_info = raw_key(&theirs, b"info").unwrap();
    if our_info != their_info {
        let o = String::from_utf8_lossy(&our_info);
        let t = String::from_utf8_lossy(&their_info);
        let at = our_info
            .iter()
            .zip(&their_info)
            .position(|(a, b)| a != b)
            .unwrap_or(our_info.len().min(their_info.len()));
        panic!(
            "info dictionaries differ ({what}) at byte {at}:\n ours: {}\n lt:   {}",
            o.get(at.saturating_sub(80)..(at + 80).min(o.len()))
                .unwrap_or(""),
            t.get(at.saturating_sub(80)..(at + 80).min(t.len()))
                .unwrap_or(""),
        );
    }
    assert_eq!(
        raw_key(&ours.torrent, b"piece layers"),
        raw_key(&theirs, b"piece layers"),
        "piece layers differ ({what})"
    );

    // The reported infohashes are the hashes of those bytes.
    use sha1::Digest as _;
    let v1 = sha1::Sha1::digest(&our_info);
    let v2 = sha2::Sha256::digest(&our_info);
    assert_eq!(
        ours.info_hashes.v1().map(|h| h.0.to_vec()),
        version.has_v1().then(|| v1.to_vec()),
        "{what}"
    );
    assert_eq!(
        ours.info_hashes.v2().map(|h| h.0.to_vec()),
        version.has_v2().then(|| v2.to_vec()),
        "{what}"
    );
}

#[test]
fn directory_matches_libtorrent() {
    let scratch = Scratch::new("dir");
    let payload = scratch.0.join("payload ünï");
    make_payload(&payload);
    for version in [
        TorrentVersion::V1,
        TorrentVersion::V2,
        TorrentVersion::Hybrid,
    ] {
        for piece_length in [32 * 1024, 256 * 1024] {
            compare(&payload, &scratch.0, version, piece_length);
        }
    }
}

#[test]
fn single_file_and_small_directories_match_libtorrent() {
    let scratch = Scratch::new("single");
    let dir = scratch.0.join("one");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("only file.bin");
    std::fs::write(&file, Bytes(7).fill(1024 * 1024 + 777)).unwrap();
    let small = scratch.0.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let tiny = small.join("tiny");
    std::fs::write(&tiny, Bytes(8).fill(40_000)).unwrap();
    // Two files, one of them empty: enough for hybrid pad files.
    std::fs::write(small.join("zero"), b"").unwrap();
    for version in [
        TorrentVersion::V1,
        TorrentVersion::V2,
        TorrentVersion::Hybrid,
    ] {
        for piece_length in [16 * 1024, 64 * 1024] {
            compare(&file, &scratch.0, version, piece_length);
            compare(&dir, &scratch.0, version, piece_length);
            compare(&tiny, &scratch.0, version, piece_length);
            compare(&small, &scratch.0, version, piece_length);
        }
    }
}
