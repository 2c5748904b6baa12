//! Helpers shared by the integration tests: payloads on disk, torrents
//! created from them, and a storage view of the source files.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use btl_bencode::Owned;
use btl_metainfo::create::{create, CreateOptions, TorrentVersion};
use btl_metainfo::torrent::Torrent;
use btl_store::{Layout, Preallocate, Storage, StorageOptions};
use sha1::{Digest, Sha1};
use tempfile::TempDir;

pub use btl_metainfo::create::TorrentVersion as Version;

/// Deterministic pseudo-random bytes.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A payload on disk and the torrent made from it.
pub struct Fixture {
    /// Holds the payload (`src/`) and anything else the test wants.
    pub dir: TempDir,
    /// The download root the payload lives under (its parent directory).
    pub src_root: PathBuf,
    pub torrent: Torrent,
    pub torrent_bytes: Vec<u8>,
}

impl Fixture {
    pub fn layout(&self) -> Layout {
        Layout::from_torrent(&self.torrent).unwrap()
    }

    /// A storage over the source files (read only in practice).
    pub fn source(&self) -> Storage {
        Storage::open(
            &self.src_root,
            self.layout(),
            StorageOptions {
                preallocate: Preallocate::None,
                ..StorageOptions::default()
            },
        )
        .unwrap()
    }

    /// A fresh, empty download root inside the fixture's directory.
    pub fn dest(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every piece of the torrent, read from the source.
    pub fn pieces(&self) -> Vec<Vec<u8>> {
        let src = self.source();
        (0..src.layout().piece_count())
            .map(|p| {
                let mut buf = Vec::new();
                src.read_piece(p, &mut buf).unwrap();
                buf
            })
            .collect()
    }
}

/// Writes `files` (path with `/`, length) under `<tmp>/src/payload` and
/// creates a multi-file torrent of the directory.
pub fn multi(files: &[(&str, usize)], version: TorrentVersion, piece_length: u64) -> Fixture {
    let dir = TempDir::new().unwrap();
    let src_root = dir.path().join("src");
    let payload = src_root.join("payload");
    for (i, (path, len)) in files.iter().enumerate() {
        let p = payload.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content(i as u64 + 1, *len)).unwrap();
    }
    make(dir, src_root, &payload, version, piece_length)
}

/// Writes one file `<tmp>/src/single.bin` and creates a single-file
/// torrent of it.
pub fn single(len: usize, version: TorrentVersion, piece_length: u64) -> Fixture {
    let dir = TempDir::new().unwrap();
    let src_root = dir.path().join("src");
    fs::create_dir_all(&src_root).unwrap();
    let file = src_root.join("single.bin");
    fs::write(&file, content(99, len)).unwrap();
    make(dir, src_root, &file, version, piece_length)
}

fn make(
    dir: TempDir,
    src_root: PathBuf,
    path: &Path,
    version: TorrentVersion,
    piece_length: u64,
) -> Fixture {
    let opts = CreateOptions {
        version,
        piece_length: Some(piece_length),
        threads: Some(1),
        ..CreateOptions::default()
    };
    let created = create(path, &opts, &|_, _| {}).unwrap();
    let torrent = Torrent::from_bytes(&created.torrent).unwrap();
    Fixture {
        dir,
        src_root,
        torrent,
        torrent_bytes: created.torrent,
    }
}

/// A v1 torrent with any piece length (the creator only makes multiples
/// of 16 KiB), built directly as bencode, with its payload written under
/// `<tmp>/src/<name>`. Empty `files` paths are not allowed; lengths may be
/// zero.
pub fn v1_odd(name: &str, files: &[(&str, usize)], piece_length: u64) -> Fixture {
    let dir = TempDir::new().unwrap();
    let src_root = dir.path().join("src");
    let mut all = Vec::new();
    let mut list = Vec::new();
    for (i, (path, len)) in files.iter().enumerate() {
        let data = content(i as u64 + 7, *len);
        let p = src_root.join(name).join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, &data).unwrap();
        all.extend_from_slice(&data);
        let comps = path.split('/').map(|c| Owned::Bytes(c.into())).collect();
        list.push(dict(vec![
            ("length", Owned::Int(*len as i64)),
            ("path", Owned::List(comps)),
        ]));
    }
    let pieces: Vec<u8> = all
        .chunks(piece_length as usize)
        .flat_map(|c| Sha1::digest(c).to_vec())
        .collect();
    let info = dict(vec![
        ("files", Owned::List(list)),
        ("name", Owned::Bytes(name.into())),
        ("piece length", Owned::Int(piece_length as i64)),
        ("pieces", Owned::Bytes(pieces)),
    ]);
    let bytes = dict(vec![("info", info)]).encode();
    let torrent = Torrent::from_bytes(&bytes).unwrap();
    Fixture {
        dir,
        src_root,
        torrent,
        torrent_bytes: bytes,
    }
}

fn dict(pairs: Vec<(&str, Owned)>) -> Owned {
    Owned::Dict(
        pairs
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Reads every regular file under `root`, by relative path.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Opens a storage for the fixture's torrent at `root` with `preallocate`.
pub fn open_dest(fx: &Fixture, root: &Path, preallocate: Preallocate) -> Storage {
    Storage::open(
        root,
        fx.layout(),
        StorageOptions {
            preallocate,
            ..StorageOptions::default()
        },
    )
    .unwrap()
}
