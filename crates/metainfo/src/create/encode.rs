//! Building the info dictionary and the `.torrent` file.

use super::hasher::{reduce, Hashes};
use super::layout::Layout;
use super::{CreateOptions, Created};
use crate::merkle::{leaf_count, pad_hash};
use btl_bencode::{Encoder, Owned};
use btl_types::{InfoHashes, Sha1Hash, Sha256Hash};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Encodes the torrent for `layout` with its piece `hashes`.
pub(crate) fn encode(layout: &Layout, hashes: &Hashes, opts: &CreateOptions) -> Created {
    let roots = if layout.version.has_v2() {
        file_roots(layout, hashes)
    } else {
        Vec::new()
    };
    let info = info_dict(layout, hashes, &roots, opts.private).encode();
    let info_hashes = match (layout.version.has_v1(), layout.version.has_v2()) {
        (true, false) => InfoHashes::V1(sha1_of(&info)),
        (false, _) => InfoHashes::V2(sha256_of(&info)),
        (true, true) => InfoHashes::Hybrid(sha1_of(&info), sha256_of(&info)),
    };

    // The outer dictionary, keys in byte order.
    let mut e = Encoder::new();
    e.begin_dict();
    let urls: Vec<Vec<&str>> = opts
        .trackers
        .iter()
        .map(|tier| {
            tier.iter()
                .map(String::as_str)
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|tier| !tier.is_empty())
        .collect();
    if let Some(first) = urls.first().and_then(|t| t.first()) {
        e.bytes(b"announce").bytes(first.as_bytes());
    }
    if urls.iter().map(Vec::len).sum::<usize>() > 1 {
        e.bytes(b"announce-list").begin_list();
        for tier in &urls {
            e.begin_list();
            for u in tier {
                e.bytes(u.as_bytes());
            }
            e.end();
        }
        e.end();
    }
    if let Some(c) = &opts.comment {
        e.bytes(b"comment").bytes(c.as_bytes());
    }
    if let Some(c) = &opts.created_by {
        e.bytes(b"created by").bytes(c.as_bytes());
    }
    if let Some(d) = opts.creation_date {
        e.bytes(b"creation date").int(d);
    }
    e.bytes(b"info").raw(&info);
    if layout.version.has_v2() {
        // Files longer than one piece, keyed (and so deduplicated) by root.
        let mut layers: BTreeMap<&[u8], &[Sha256Hash]> = BTreeMap::new();
        for (i, root) in roots.iter().enumerate() {
            if let Some(root) = root {
                if layout.file_pieces(i) > 1 {
                    let first = layout.starts[i] as usize;
                    let last = layout.starts[i + 1] as usize;
                    layers.insert(root.as_bytes(), &hashes.v2[first..last]);
                }
            }
        }
        e.bytes(b"piece layers").begin_dict();
        for (root, layer) in layers {
            e.bytes(root);
            let bytes: Vec<u8> = layer.iter().flat_map(|h| h.0).collect();
            e.bytes(&bytes);
        }
        e.end();
    }
    let seeds: Vec<&String> = opts.web_seeds.iter().filter(|u| !u.is_empty()).collect();
    if !seeds.is_empty() {
        e.bytes(b"url-list").begin_list();
        for u in seeds {
            e.bytes(u.as_bytes());
        }
        e.end();
    }
    e.end();

    Created {
        torrent: e.finish(),
        info_hashes,
        total_length: layout.total_length,
        piece_length: layout.piece_length,
        files: layout.files.len(),
    }
}

fn sha1_of(b: &[u8]) -> Sha1Hash {
    Sha1Hash(Sha1::digest(b).into())
}

fn sha256_of(b: &[u8]) -> Sha256Hash {
    Sha256Hash(Sha256::digest(b).into())
}

/// Each file's `pieces root` (`None` for empty files).
fn file_roots(layout: &Layout, hashes: &Hashes) -> Vec<Option<Sha256Hash>> {
    let bpp = layout.blocks_per_piece();
    (0..layout.files.len())
        .map(|i| {
            let first = layout.starts[i] as usize;
            let last = layout.starts[i + 1] as usize;
            match last - first {
                0 => None,
                // The hasher already padded a one-piece file's leaves to
                // the file's own tree width.
                1 => Some(hashes.v2[first]),
                _ => {
                    let width = leaf_count(layout.files[i].len).next_power_of_two() / bpp;
                    let mut nodes: Vec<[u8; 32]> =
                        hashes.v2[first..last].iter().map(|h| h.0).collect();
                    let pad = pad_hash(bpp.trailing_zeros()).0;
                    Some(Sha256Hash(reduce(&mut nodes, width as usize, pad)))
                }
            }
        })
        .collect()
}

fn s(b: &[u8]) -> Owned {
    Owned::Bytes(b.to_vec())
}

fn int(n: u64) -> Owned {
    Owned::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The info dictionary.
fn info_dict(
    layout: &Layout,
    hashes: &Hashes,
    roots: &[Option<Sha256Hash>],
    private: bool,
) -> Owned {
    let mut info = Owned::dict();
    info.insert("name", s(&layout.name));
    info.insert("piece length", int(layout.piece_length));
    if private {
        info.insert("private", Owned::Int(1));
    }
    if layout.version.has_v1() {
        let pieces: Vec<u8> = hashes.v1.iter().flat_map(|h| h.0).collect();
        info.insert("pieces", Owned::Bytes(pieces));
        if layout.is_dir {
            info.insert("files", v1_files(layout));
        } else {
            info.insert("length", int(layout.total_length));
        }
    }
    if layout.version.has_v2() {
        info.insert("meta version", Owned::Int(2));
        info.insert("file tree", file_tree(layout, roots));
    }
    info
}

/// The v1 `files` list, with pad files when the layout has them.
fn v1_files(layout: &Layout) -> Owned {
    let pl = layout.piece_length;
    let mut list = Vec::with_capacity(layout.files.len() * 2);
    for f in &layout.files {
        let mut d = Owned::dict();
        if f.executable {
            d.insert("attr", s(b"x"));
        }
        d.insert("length", int(f.len));
        d.insert(
            "path",
            Owned::List(f.components.iter().map(|c| s(c)).collect()),
        );
        list.push(d);
        let tail = f.len % pl;
        if layout.pad_files && tail != 0 {
            let pad = pl - tail;
            let mut d = Owned::dict();
            d.insert("attr", s(b"p"));
            d.insert("length", int(pad));
            d.insert(
                "path",
                Owned::List(vec![s(b".pad"), s(pad.to_string().as_bytes())]),
            );
            list.push(d);
        }
    }
    Owned::List(list)
}

/// The v2 `file tree`.
fn file_tree(layout: &Layout, roots: &[Option<Sha256Hash>]) -> Owned {
    let mut tree = BTreeMap::new();
    for (f, root) in layout.files.iter().zip(roots) {
        let mut leaf = Owned::dict();
        if f.executable {
            leaf.insert("attr", s(b"x"));
        }
        leaf.insert("length", int(f.len));
        if let Some(r) = root {
            leaf.insert("pieces root", s(r.as_bytes()));
        }
        let mut file = Owned::dict();
        file.insert("", leaf);
        // A single-file torrent's tree is `{name: {"": ...}}`.
        let single = [layout.name.clone()];
        let path: &[Vec<u8>] = if layout.is_dir {
            &f.components
        } else {
            &single
        };
        insert_path(&mut tree, path, file);
    }
    Owned::Dict(tree)
}

fn insert_path(dir: &mut BTreeMap<Vec<u8>, Owned>, path: &[Vec<u8>], file: Owned) {
    match path {
        [] => {}
        [last] => {
            dir.insert(last.clone(), file);
        }
        [first, rest @ ..] => {
            let child = dir
                .entry(first.clone())
                .or_insert_with(|| Owned::Dict(BTreeMap::new()));
            if let Owned::Dict(d) = child {
                insert_path(d, rest, file);
            }
        }
    }
}
