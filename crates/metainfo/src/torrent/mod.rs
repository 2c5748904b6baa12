//! Parsed, strictly validated `.torrent` files: v1 (BEP 3), v2 (BEP 52)
//! and hybrid, with BEP 47 pad files and attributes, BEP 12 tracker tiers
//! and BEP 19 web seeds.
//!
//! # What is accepted
//!
//! A [`Torrent`] is only ever built from input that passed every check
//! below, so code that uses one can rely on them:
//!
//! - **Names and paths** (`name`, `path`, file-tree keys, `symlink path`):
//!   every component is UTF-8 (the `name.utf-8` / `path.utf-8` variants are
//!   preferred when present), non-empty, at most [`MAX_COMPONENT_LEN`]
//!   bytes, not `.` or `..`, and free of `/`, `\` and NUL. A path has at
//!   most [`MAX_PATH_DEPTH`] components. So joining a file's path to a
//!   download directory can never leave it, and absolute paths cannot be
//!   expressed.
//! - **No collisions**: no two files have the same path, and no file's path
//!   is also a directory of another file. (Pad files are exempt: they are
//!   never written to disk.) Case-insensitive collisions are not checked.
//! - **Lengths** are non-negative and every sum and offset is computed with
//!   checked arithmetic; at most [`MAX_FILES`] files and [`MAX_PIECES`]
//!   pieces.
//! - **v1**: exactly one of `length` and `files`; `piece length` in
//!   `1..=`[`MAX_PIECE_LENGTH`]; `pieces` holds exactly one 20-byte hash per
//!   piece of the whole piece space, pad files included.
//! - **v2**: `meta version` is 2; `piece length` is a power of two, at
//!   least 16 KiB and at most [`MAX_PIECE_LENGTH`]; every non-empty file has
//!   a 32-byte `pieces root` and empty files have none; a file's dictionary
//!   (`{"": {...}}`) has no siblings; no empty directories; no pad files in
//!   the tree. When a `.torrent` carries `piece layers`, it has exactly one
//!   entry per distinct pieces root of a file larger than one piece, each
//!   of `32 * ceil(length / piece length)` bytes, whose Merkle root is that
//!   pieces root.
//! - **Hybrid** (both halves present): the v1 list with its pad files
//!   removed and the v2 tree list the same files, in the same order, with
//!   the same paths, lengths and attributes; every non-pad file starts in
//!   the v1 piece space exactly where the v2 layout puts it (on a piece
//!   boundary, the gap filled by pad files); and both halves imply the same
//!   number of pieces. The single-file / multi-file layouts agree.
//! - **Outside the info dictionary**: `announce-list` is a list of lists of
//!   UTF-8 strings and `announce` a UTF-8 string (empty URLs and tiers are
//!   dropped; `announce` is used only if `announce-list` yields nothing);
//!   `url-list` is a string or a list of strings. `comment`, `created by`
//!   and `encoding` are informational: their `.utf-8` variants are
//!   preferred and invalid UTF-8 is replaced, not refused.
//!
//! Unknown keys are allowed everywhere. They are ignored by the typed view
//! but kept in [`Torrent::info_bytes`], so the infohash is unaffected.
//!
//! # Bounds
//!
//! The input is decoded by the strict bencode decoder with its default
//! limits (64 MiB, depth 128, 4 M values). On top of that this module caps
//! the counts it allocates for ([`MAX_FILES`], [`MAX_PATH_DEPTH`],
//! [`MAX_URLS`]) and the piece count ([`MAX_PIECES`]), which callers use to
//! size bitfields. Nothing here panics on any input; see [`fuzz_torrent`].

mod error;
mod fields;
mod meta;
mod path;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use btl_bencode::{Dict, Value};
use btl_types::{InfoHashes, Sha1Hash, Sha256Hash};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

pub use error::{Problem, TorrentError};

use fields::{missing, opt_int, wrong};

/// Most files in one torrent (pad files included).
pub const MAX_FILES: usize = 1_000_000;
/// Most components in one path (directories plus the file name).
pub const MAX_PATH_DEPTH: usize = 100;
/// Longest path component (and torrent name), in bytes: the usual file
/// system limit.
pub const MAX_COMPONENT_LEN: usize = 255;
/// Largest piece length: 512 MiB. Real torrents stay far below (libtorrent
/// creates at most 16 MiB pieces); larger pieces make a single bad byte cost
/// too much and overflow some peers' 32-bit arithmetic.
pub const MAX_PIECE_LENGTH: u64 = 512 << 20;
/// Most pieces in one torrent: 2^24 (a 2 MiB bitfield). For v1 this is far
/// above what a 64 MiB `.torrent` can hold; for v2 it bounds the piece
/// count, which the info dictionary does not spell out piece by piece.
pub const MAX_PIECES: u64 = 1 << 24;
/// Most tracker URLs (all tiers together) and most web seed URLs.
pub const MAX_URLS: usize = 10_000;

/// The BitTorrent protocol version(s) a torrent is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// v1 only (BEP 3): SHA-1 pieces over one concatenated piece space.
    V1,
    /// v2 only (BEP 52): per-file SHA-256 Merkle trees.
    V2,
    /// Both (BEP 52 hybrid): v1 and v2 peers can share the swarm.
    Hybrid,
}

impl Version {
    /// Whether the torrent has v1 metadata (`pieces`).
    pub fn has_v1(self) -> bool {
        matches!(self, Version::V1 | Version::Hybrid)
    }

    /// Whether the torrent has v2 metadata (`file tree`).
    pub fn has_v2(self) -> bool {
        matches!(self, Version::V2 | Version::Hybrid)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::Hybrid => "hybrid",
        })
    }
}

/// BEP 47 file attributes (the `attr` string). Unknown letters are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileAttr {
    /// `p`: a pad file. Its bytes are zeros, it exists only to align the
    /// next file to a piece boundary, and it is not written to disk.
    pub pad: bool,
    /// `x`: executable.
    pub executable: bool,
    /// `h`: hidden.
    pub hidden: bool,
    /// `l`: a symbolic link; its target is [`FileEntry::symlink_path`].
    pub symlink: bool,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components, checked safe (see the module docs). For a
    /// multi-file torrent the torrent name (the top directory) is not
    /// included; for a single-file torrent this is the one file name.
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// Byte offset where the file starts: in the v1 piece space for v1 and
    /// hybrid torrents (pad files included), and the piece-aligned v2
    /// offset (sum of the previous files' lengths, each rounded up to whole
    /// pieces) for v2-only torrents. For hybrids the two agree for every
    /// non-pad file.
    pub offset: u64,
    /// BEP 47 attributes.
    pub attr: FileAttr,
    /// The v2 Merkle root of the file; `None` for v1-only torrents, empty
    /// files and pad files.
    pub pieces_root: Option<Sha256Hash>,
    /// Target of a symlink, relative to the torrent root (checked safe like
    /// a path); `Some` exactly when `attr.symlink`.
    pub symlink_path: Option<Vec<String>>,
    /// The optional BEP 47 `sha1` of the whole file.
    pub sha1: Option<Sha1Hash>,
}

impl FileEntry {
    /// Whether this is a pad file.
    pub fn is_pad(&self) -> bool {
        self.attr.pad
    }

    /// The path joined with `/`, for display.
    pub fn display_path(&self) -> String {
        path::display(&self.path)
    }
}

/// A parsed, validated torrent. Owned; keeps the exact info-dictionary
/// bytes, so the infohash is always the hash of what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    info_bytes: Vec<u8>,
    info_hashes: InfoHashes,
    version: Version,
    name: String,
    multi_file: bool,
    piece_length: u64,
    piece_count: u64,
    total_length: u64,
    files: Vec<FileEntry>,
    v1_pieces: Vec<Sha1Hash>,
    piece_layers: BTreeMap<Sha256Hash, Vec<Sha256Hash>>,
    private: bool,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    encoding: Option<String>,
}

impl Torrent {
    /// Parses and validates a whole `.torrent` file.
    ///
    /// `piece layers`, when present, are checked against every file's
    /// pieces root; when absent, [`Torrent::has_piece_layers`] tells whether
    /// any are needed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Torrent, TorrentError> {
        let root = btl_bencode::decode(bytes)
            .map_err(|e| TorrentError::new("torrent", Problem::Bencode(e)))?;
        let Value::Dict(top) = &root else {
            return Err(wrong("torrent", "dictionary", &root));
        };
        let info = match top.get(b"info") {
            None => return Err(missing("info")),
            Some(Value::Dict(d)) => d,
            Some(other) => return Err(wrong("info", "dictionary", other)),
        };
        let mut t = parse_info(info)?;
        let m = meta::parse(top)?;
        t.trackers = m.trackers;
        t.web_seeds = m.web_seeds;
        t.comment = m.comment;
        t.created_by = m.created_by;
        t.creation_date = m.creation_date;
        t.encoding = m.encoding;
        if let Some(layers) = top.get(b"piece layers") {
            if !t.version.has_v2() {
                return Err(TorrentError::new(
                    "piece layers",
                    Problem::NotAllowed("v2 and hybrid"),
                ));
            }
            t.piece_layers = v2::parse_piece_layers(layers, &t.files, t.piece_length)?;
        }
        Ok(t)
    }

    /// Parses and validates a bare info dictionary, as received through
    /// the BEP 9 metadata exchange. There are no trackers, web seeds or
    /// piece layers; errors still name fields as `info.…`.
    pub fn from_info_bytes(info: &[u8]) -> Result<Torrent, TorrentError> {
        let root = btl_bencode::decode(info)
            .map_err(|e| TorrentError::new("info", Problem::Bencode(e)))?;
        let Value::Dict(d) = &root else {
            return Err(wrong("info", "dictionary", &root));
        };
        parse_info(d)
    }

    /// The info dictionary exactly as it appeared in the input.
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// The infohash(es): SHA-1 of [`Torrent::info_bytes`] for v1, SHA-256
    /// for v2, both for hybrids.
    pub fn info_hashes(&self) -> InfoHashes {
        self.info_hashes
    }

    /// Which protocol version(s) the torrent is valid for.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The torrent name (checked like a path component): the file name of a
    /// single-file torrent, the top directory of a multi-file one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether files live under a directory named [`Torrent::name`] (v1
    /// `files`, or a v2 tree that is not a single top-level file).
    pub fn is_multi_file(&self) -> bool {
        self.multi_file
    }

    /// Bytes per piece (the last piece of the v1 piece space, or of each v2
    /// file, may be shorter).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// Number of pieces: `pieces / 20` for v1 and hybrid; for v2-only the
    /// sum over files of `ceil(length / piece length)`.
    pub fn piece_count(&self) -> u64 {
        self.piece_count
    }

    /// Payload bytes: the sum of file lengths, pad files excluded.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// The files in storage order, pad files included: v1 list order for v1
    /// and hybrid torrents, file-tree order (keys sorted bytewise, depth
    /// first) for v2-only ones.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Tracker tiers (BEP 12), or one tier holding `announce`; empty when
    /// the torrent names no tracker.
    pub fn trackers(&self) -> &[Vec<String>] {
        &self.trackers
    }

    /// Web seed URLs (BEP 19 `url-list`).
    pub fn web_seeds(&self) -> &[String] {
        &self.web_seeds
    }

    /// Whether `info.private` is 1 (BEP 27): no DHT, PEX or LSD.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The free-text comment, if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The creating program, if given.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// Creation time in seconds since the Unix epoch, if given.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }

    /// The `encoding` key (a legacy hint about string encodings), if given.
    pub fn encoding(&self) -> Option<&str> {
        self.encoding.as_deref()
    }

    /// The SHA-1 hash of v1 piece `index`; `None` for v2-only torrents or
    /// an index out of range.
    pub fn v1_piece_hash(&self, index: u64) -> Option<Sha1Hash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.v1_pieces.get(i))
            .copied()
    }

    /// All v1 piece hashes, in order (empty for v2-only torrents).
    pub fn v1_piece_hashes(&self) -> &[Sha1Hash] {
        &self.v1_pieces
    }

    /// The verified piece layer of the file with this pieces root, if
    /// known. Files of at most one piece have none: their root is their
    /// only piece hash.
    pub fn piece_layer(&self, pieces_root: &Sha256Hash) -> Option<&[Sha256Hash]> {
        self.piece_layers.get(pieces_root).map(Vec::as_slice)
    }

    /// Every known piece layer, by pieces root.
    pub fn piece_layers(&self) -> impl Iterator<Item = (&Sha256Hash, &[Sha256Hash])> + '_ {
        self.piece_layers.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// Whether every file larger than one piece has its piece layer, so
    /// each v2 piece can be checked without asking peers for hashes.
    /// Always false for v1-only torrents; true for a v2 torrent whose
    /// files are all at most one piece long.
    pub fn has_piece_layers(&self) -> bool {
        self.version.has_v2() && self.missing_piece_layer().is_none()
    }

    /// The first file (in storage order) larger than one piece whose layer
    /// is not known.
    fn missing_piece_layer(&self) -> Option<&FileEntry> {
        self.files.iter().find(|f| {
            f.length > self.piece_length
                && f.pieces_root
                    .is_some_and(|r| !self.piece_layers.contains_key(&r))
        })
    }

    /// Adds the piece layer of the file with `pieces_root` (obtained, for
    /// example, from peers after a BEP 9 metadata exchange), after checking
    /// that it has one hash per piece and hashes up to the root.
    ///
    /// The error names the field `piece layers[<root>]`.
    pub fn insert_piece_layer(
        &mut self,
        pieces_root: Sha256Hash,
        layer: &[Sha256Hash],
    ) -> Result<(), TorrentError> {
        let field = format!("piece layers[{pieces_root}]");
        let Some(f) = self
            .files
            .iter()
            .find(|f| f.pieces_root == Some(pieces_root) && f.length > self.piece_length)
        else {
            return Err(TorrentError::new(field, Problem::UnexpectedPieceLayer));
        };
        let bytes: Vec<u8> = layer.iter().flat_map(|h| h.0).collect();
        let checked = v2::check_layer(f, &bytes, self.piece_length)
            .map_err(|p| TorrentError::new(field, p))?;
        self.piece_layers.insert(pieces_root, checked);
        Ok(())
    }
}

/// Parses and checks an info dictionary.
fn parse_info(info: &Dict<'_>) -> Result<Torrent, TorrentError> {
    let name = path::name(info)?;
    let private = match opt_int(info, "info", "private")? {
        None | Some(0) => false,
        Some(1) => true,
        Some(v) => return Err(TorrentError::new("info.private", Problem::NotZeroOrOne(v))),
    };
    let is_v2 = match opt_int(info, "info", "meta version")? {
        None => false,
        Some(2) => true,
        Some(v) => {
            return Err(TorrentError::new(
                "info.meta version",
                Problem::UnsupportedMetaVersion(v),
            ))
        }
    };
    if !is_v2 && info.get(b"file tree").is_some() {
        return Err(missing("info.meta version"));
    }
    let has_v1 = ["pieces", "length", "files"]
        .iter()
        .any(|k| info.get(k.as_bytes()).is_some());
    let version = match (has_v1, is_v2) {
        (_, false) => Version::V1,
        (false, true) => Version::V2,
        (true, true) => Version::Hybrid,
    };
    let piece_length = piece_length(info, version)?;

    let v1 = if version.has_v1() {
        Some(v1::parse(info, &name, piece_length)?)
    } else {
        None
    };
    let v2 = if version.has_v2() {
        let has_files_list = info.get(b"files").is_some();
        Some(v2::parse_tree(info, piece_length, has_files_list)?)
    } else {
        None
    };
    let (files, v1_pieces, multi_file, piece_count) = match (v1, v2) {
        (Some(v1), None) => {
            let count = v1.pieces.len() as u64;
            (v1.files, v1.pieces, v1.multi, count)
        }
        (None, Some(v2)) => (v2.files, Vec::new(), v2.multi, v2.piece_count),
        (Some(v1), Some(v2)) => {
            let count = v1.pieces.len() as u64;
            let multi = v1.multi;
            let files = merge_hybrid(v1.files, multi, v2, count)?;
            (files, v1.pieces, multi, count)
        }
        (None, None) => return Err(missing("info.pieces")),
    };
    // Cannot overflow: the offsets including these lengths were checked.
    let total_length = files.iter().filter(|f| !f.is_pad()).map(|f| f.length).sum();

    let info_bytes = info.raw().to_vec();
    let sha1 = || Sha1Hash(Sha1::digest(&info_bytes).into());
    let sha256 = || Sha256Hash(Sha256::digest(&info_bytes).into());
    let info_hashes = match version {
        Version::V1 => InfoHashes::V1(sha1()),
        Version::V2 => InfoHashes::V2(sha256()),
        Version::Hybrid => InfoHashes::Hybrid(sha1(), sha256()),
    };
    Ok(Torrent {
        info_bytes,
        info_hashes,
        version,
        name,
        multi_file,
        piece_length,
        piece_count,
        total_length,
        files,
        v1_pieces,
        piece_layers: BTreeMap::new(),
        private,
        trackers: Vec::new(),
        web_seeds: Vec::new(),
        comment: None,
        created_by: None,
        creation_date: None,
        encoding: None,
    })
}

/// `info.piece length`, checked for the torrent's version.
fn piece_length(info: &Dict<'_>, version: Version) -> Result<u64, TorrentError> {
    const FIELD: &str = "info.piece length";
    let got = opt_int(info, "info", "piece length")?.ok_or_else(|| missing(FIELD))?;
    let bad = |rule| Err(TorrentError::new(FIELD, Problem::PieceLength { rule, got }));
    let Ok(pl) = u64::try_from(got) else {
        return bad("positive");
    };
    if version.has_v2() {
        if pl < crate::merkle::BLOCK_SIZE as u64 || !pl.is_power_of_two() {
            return bad("a power of two >= 16384 for v2");
        }
    } else if pl == 0 {
        return bad("positive");
    }
    if pl > MAX_PIECE_LENGTH {
        return bad("at most 536870912 (512 MiB)");
    }
    Ok(pl)
}

/// Describes a file for a hybrid mismatch message.
fn describe(f: &FileEntry) -> String {
    let mut attr = String::new();
    for (on, c) in [
        (f.attr.executable, 'x'),
        (f.attr.hidden, 'h'),
        (f.attr.symlink, 'l'),
    ] {
        if on {
            attr.push(c);
        }
    }
    let mut s = format!("`{}` ({} bytes", f.display_path(), f.length);
    if !attr.is_empty() {
        s.push_str(", attr ");
        s.push_str(&attr);
    }
    if let Some(t) = &f.symlink_path {
        s.push_str(", -> ");
        s.push_str(&path::display(t));
    }
    s.push(')');
    s
}

/// Checks that the v1 list and the v2 tree of a hybrid describe the same
/// files at the same offsets, and returns the v1 list with pieces roots
/// filled in.
fn merge_hybrid(
    mut files: Vec<FileEntry>,
    v1_multi: bool,
    v2: v2::V2,
    v1_piece_count: u64,
) -> Result<Vec<FileEntry>, TorrentError> {
    let layout = |multi| if multi { "multi-file" } else { "single-file" };
    if v1_multi != v2.multi {
        return Err(TorrentError::new(
            "info.file tree",
            Problem::HybridLayout {
                v1: layout(v1_multi),
                v2: layout(v2.multi),
            },
        ));
    }
    let non_pad = files.iter().filter(|f| !f.is_pad()).count();
    if non_pad != v2.files.len() {
        return Err(TorrentError::new(
            if v1_multi { "info.files" } else { "info" },
            Problem::HybridFileCount {
                v1: non_pad as u64,
                v2: v2.files.len() as u64,
            },
        ));
    }
    let mut tree = v2.files.into_iter();
    for (i, f) in files.iter_mut().enumerate() {
        if f.is_pad() {
            continue;
        }
        let Some(t) = tree.next() else { break };
        let field = if v1_multi {
            format!("info.files[{i}]")
        } else {
            "info".to_owned()
        };
        if f.path != t.path
            || f.length != t.length
            || f.attr != t.attr
            || f.symlink_path != t.symlink_path
        {
            return Err(TorrentError::new(
                field,
                Problem::HybridMismatch {
                    v1: describe(f),
                    v2: describe(&t),
                },
            ));
        }
        if f.offset != t.offset {
            return Err(TorrentError::new(
                field,
                Problem::Misaligned {
                    offset: f.offset,
                    expected: t.offset,
                },
            ));
        }
        f.pieces_root = t.pieces_root;
    }
    if v1_piece_count != v2.piece_count {
        return Err(TorrentError::new(
            "info.pieces",
            Problem::HybridPieceCount {
                v1: v1_piece_count,
                v2: v2.piece_count,
            },
        ));
    }
    Ok(files)
}

/// Fuzz entry point: parses `data` as a whole `.torrent` and as a bare info
/// dictionary, and when either parses, exercises every accessor and checks
/// the invariants this module promises (it panics if one is broken, which
/// is what a fuzzer looks for). Never panics on invalid input.
pub fn fuzz_torrent(data: &[u8]) {
    for parsed in [Torrent::from_bytes(data), Torrent::from_info_bytes(data)] {
        let Ok(mut t) = parsed else { continue };
        // The info bytes re-parse to the same torrent (minus outer keys).
        let again = Torrent::from_info_bytes(t.info_bytes());
        assert!(again
            .as_ref()
            .is_ok_and(|a| a.info_hashes() == t.info_hashes()));
        let _ = (t.name(), t.version(), t.is_private(), t.is_multi_file());
        let _ = (t.comment(), t.created_by(), t.creation_date(), t.encoding());
        let _ = (
            t.trackers().len(),
            t.web_seeds().len(),
            t.has_piece_layers(),
        );
        let mut payload: u64 = 0;
        let mut end: u64 = 0;
        for f in t.files() {
            assert!(f.offset >= end || f.length == 0 || f.is_pad() || t.version() == Version::V2);
            end = f.offset.saturating_add(f.length);
            if !f.is_pad() {
                payload += f.length;
            }
            assert!(f.path.iter().all(|c| !c.is_empty() && !c.contains('/')));
            assert_eq!(f.attr.symlink, f.symlink_path.is_some());
            if let Some(root) = f.pieces_root {
                let _ = t.piece_layer(&root);
            }
        }
        assert_eq!(payload, t.total_length());
        if t.version().has_v1() {
            assert_eq!(t.v1_piece_hashes().len() as u64, t.piece_count());
            assert!(t.v1_piece_hash(t.piece_count()).is_none());
        }
        let _ = t.v1_piece_hash(0);
        let layers: Vec<(Sha256Hash, Vec<Sha256Hash>)> =
            t.piece_layers().map(|(r, l)| (*r, l.to_vec())).collect();
        for (root, layer) in layers {
            assert!(t.insert_piece_layer(root, &layer).is_ok());
        }
    }
}
