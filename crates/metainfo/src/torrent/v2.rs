//! The v2 (BEP 52) half: the `file tree` inside the info dictionary and the
//! `piece layers` outside it.

use std::collections::BTreeMap;

use btl_bencode::{Dict, Value};
use btl_types::Sha256Hash;

use super::error::{Problem, TorrentError};
use super::fields::{join, missing, non_negative, opt_bytes, opt_dict, opt_int, wrong};
use super::path::{component, display};
use super::v1::{file_extras, Extras};
use super::{FileEntry, MAX_FILES, MAX_PATH_DEPTH, MAX_PIECES};
use crate::merkle;

/// What the file tree describes.
pub(super) struct V2 {
    /// Files in tree order (keys sorted bytewise at every level), with
    /// piece-aligned offsets. Never contains pad files.
    pub files: Vec<FileEntry>,
    /// Whether the tree is a multi-file layout (files under the torrent
    /// name) rather than one file at the top.
    pub multi: bool,
    /// Sum over files of `ceil(length / piece length)`.
    pub piece_count: u64,
}

/// The field name of a node of the file tree.
fn tree_field(path: &[String], key: Option<&[u8]>) -> String {
    let mut s = display(path);
    if let Some(k) = key {
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(&String::from_utf8_lossy(k));
    }
    format!("info.file tree[{s}]")
}

/// Parses and checks `info.file tree`.
///
/// `has_files_list` says whether a v1 `files` list is present: as in
/// libtorrent, the tree is single-file when it has exactly one entry, that
/// entry is a file, and there is no v1 `files` list.
pub(super) fn parse_tree(
    info: &Dict<'_>,
    piece_length: u64,
    has_files_list: bool,
) -> Result<V2, TorrentError> {
    let tree = opt_dict(info, "info", "file tree")?.ok_or_else(|| missing("info.file tree"))?;
    if tree.is_empty() {
        return Err(TorrentError::new("info.file tree", Problem::NoFiles));
    }
    let mut files = Vec::new();
    walk(tree, &mut Vec::new(), &mut files)?;

    let mut offset: u64 = 0;
    let mut piece_count: u64 = 0;
    for f in &mut files {
        f.offset = offset;
        let pieces = f.length.div_ceil(piece_length);
        let overflow = || TorrentError::new(tree_field(&f.path, None), Problem::Overflow);
        offset = pieces
            .checked_mul(piece_length)
            .and_then(|span| offset.checked_add(span))
            .ok_or_else(overflow)?;
        piece_count += pieces; // <= offset / piece_length, cannot overflow
    }
    if piece_count > MAX_PIECES {
        return Err(TorrentError::new(
            "info.file tree",
            Problem::TooMany {
                what: "pieces",
                max: MAX_PIECES,
            },
        ));
    }
    let single = !has_files_list && files.len() == 1 && files.iter().all(|f| f.path.len() == 1);
    Ok(V2 {
        files,
        multi: !single,
        piece_count,
    })
}

/// Depth-first walk in key order, appending files to `out`.
fn walk(
    dir: &Dict<'_>,
    path: &mut Vec<String>,
    out: &mut Vec<FileEntry>,
) -> Result<(), TorrentError> {
    for (key, value) in dir.iter() {
        let field = tree_field(path, Some(key));
        if key.is_empty() {
            // Only valid as the sole key of a file's dictionary, which the
            // caller handles; here it would be a file with no name.
            return Err(TorrentError::new(
                tree_field(path, None),
                Problem::UnsafePath("a file with an empty name"),
            ));
        }
        if path.len() >= MAX_PATH_DEPTH {
            return Err(TorrentError::new(
                field,
                Problem::TooMany {
                    what: "path components",
                    max: MAX_PATH_DEPTH as u64,
                },
            ));
        }
        let name = component(key, &field)?;
        let Value::Dict(node) = value else {
            return Err(wrong(field, "dictionary", value));
        };
        path.push(name);
        if let Some(leaf) = node.get(b"") {
            if node.len() != 1 {
                return Err(TorrentError::new(
                    field,
                    Problem::FileAndDirectory(display(path)),
                ));
            }
            let Value::Dict(leaf) = leaf else {
                return Err(wrong(format!("{field}[\"\"]"), "dictionary", leaf));
            };
            if out.len() >= MAX_FILES {
                return Err(TorrentError::new(
                    "info.file tree",
                    Problem::TooMany {
                        what: "files",
                        max: MAX_FILES as u64,
                    },
                ));
            }
            out.push(file(leaf, path, &field)?);
        } else if node.is_empty() {
            return Err(TorrentError::new(field, Problem::EmptyDirectory));
        } else {
            walk(node, path, out)?;
        }
        path.pop();
    }
    Ok(())
}

/// One file's dictionary (the value of the empty key).
fn file(leaf: &Dict<'_>, path: &[String], base: &str) -> Result<FileEntry, TorrentError> {
    let len_field = join(base, "length");
    let length = opt_int(leaf, base, "length")?.ok_or_else(|| missing(len_field.clone()))?;
    let length = non_negative(length, &len_field)?;
    let root_field = join(base, "pieces root");
    let pieces_root = match (opt_bytes(leaf, base, "pieces root")?, length) {
        (None, 0) => None,
        (Some(_), 0) => return Err(TorrentError::new(root_field, Problem::RootOnEmptyFile)),
        (None, _) => return Err(missing(root_field)),
        (Some(b), _) => Some(Sha256Hash::from_slice(b).ok_or_else(|| {
            TorrentError::new(
                root_field,
                Problem::HashLength {
                    expected: 32,
                    got: b.len() as u64,
                },
            )
        })?),
    };
    let Extras {
        attr,
        symlink_path,
        sha1,
    } = file_extras(leaf, base)?;
    if attr.pad {
        return Err(TorrentError::new(
            join(base, "attr"),
            Problem::PadInFileTree,
        ));
    }
    Ok(FileEntry {
        path: path.to_vec(),
        length,
        offset: 0,
        attr,
        pieces_root,
        symlink_path,
        sha1,
    })
}

/// Parses the top-level `piece layers` against `files`.
///
/// Exactly one entry per distinct pieces root of a file larger than one
/// piece; each entry holds `ceil(length / piece_length)` hashes that hash
/// up to the root.
pub(super) fn parse_piece_layers(
    v: &Value<'_>,
    files: &[FileEntry],
    piece_length: u64,
) -> Result<BTreeMap<Sha256Hash, Vec<Sha256Hash>>, TorrentError> {
    let Value::Dict(d) = v else {
        return Err(wrong("piece layers", "dictionary", v));
    };
    // Roots that need a layer, and the first file with each.
    let mut needed: BTreeMap<Sha256Hash, &FileEntry> = BTreeMap::new();
    for f in files {
        if let (Some(root), true) = (f.pieces_root, f.length > piece_length) {
            needed.entry(root).or_insert(f);
        }
    }
    let mut layers = BTreeMap::new();
    for (i, (k, value)) in d.iter().enumerate() {
        let Some(root) = Sha256Hash::from_slice(k) else {
            return Err(TorrentError::new(
                format!("piece layers[#{i}]"),
                Problem::HashLength {
                    expected: 32,
                    got: k.len() as u64,
                },
            ));
        };
        let field = format!("piece layers[{root}]");
        let Value::Bytes(b) = value else {
            return Err(wrong(field, "byte string", value));
        };
        let Some(f) = needed.get(&root) else {
            return Err(TorrentError::new(field, Problem::UnexpectedPieceLayer));
        };
        let layer = check_layer(f, b, piece_length).map_err(|p| TorrentError::new(field, p))?;
        layers.insert(root, layer);
    }
    if let Some((root, f)) = needed.iter().find(|(r, _)| !layers.contains_key(*r)) {
        return Err(TorrentError::new(
            "piece layers",
            Problem::MissingPieceLayer {
                file: display(&f.path),
                root: root.to_string(),
            },
        ));
    }
    Ok(layers)
}

/// Checks one piece layer (concatenated hashes) against its file and
/// returns the hashes.
pub(super) fn check_layer(
    f: &FileEntry,
    bytes: &[u8],
    piece_length: u64,
) -> Result<Vec<Sha256Hash>, Problem> {
    let expected = f.length.div_ceil(piece_length);
    if bytes.len() as u64 != expected.saturating_mul(32) {
        return Err(Problem::PieceLayerLength {
            file: display(&f.path),
            expected,
            got_bytes: bytes.len() as u64,
        });
    }
    let layer: Vec<Sha256Hash> = bytes
        .chunks_exact(32)
        .filter_map(Sha256Hash::from_slice)
        .collect();
    let root = merkle::root_from_piece_layer(&layer, f.length, piece_length);
    if root.is_none() || root != f.pieces_root {
        return Err(Problem::PieceLayerMismatch {
            file: display(&f.path),
        });
    }
    Ok(layer)
}
