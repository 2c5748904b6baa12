//! How the piece space maps onto files.
//!
//! Pieces are numbered over one *piece space*; piece `i` starts at byte
//! `i * piece_length` of it. Files sit in the space at their
//! [`FileEntry::offset`](btl_metainfo::torrent::FileEntry::offset):
//!
//! ```text
//! v1 / hybrid (one contiguous space, pad files included):
//!   |--- a (real) ---|pad|--- b (real) ------|pad|-- c --|
//!   |  piece 0  |  piece 1  |  piece 2  |  piece 3  |p 4|   <- last piece short
//!
//! v2 only (each file starts on a piece boundary; no pad files, the gaps
//! are not part of any piece):
//!   |--- a -----|..|--- b ---------|...|-- c --|
//!   |  piece 0  |p1|  piece 2  |p 3|   |p 4|     <- each file's last piece short
//! ```
//!
//! In a v1 or hybrid torrent a piece is `piece_length` bytes except the last
//! one of the space; pad files (BEP 47) count in the space, read as zeros,
//! and are never stored. In a v2-only torrent pieces belong to one file
//! each, and the last piece of every file stops at the file's end.
//!
//! File indexes everywhere in this crate are indexes into
//! [`Torrent::files`] (storage order, pad files included), so they mean the
//! same thing as in the metainfo crate and in the resume journal.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use btl_metainfo::torrent::{Torrent, Version};

use crate::StoreError;

/// One file of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// Path relative to the download root: the torrent name for a
    /// single-file torrent, `name/dir/…/file` for a multi-file one. Every
    /// component is a plain name (checked).
    pub path: PathBuf,
    /// Length in bytes.
    pub length: u64,
    /// Byte offset of the file's start in the piece space.
    pub offset: u64,
    /// A BEP 47 pad file: zeros, never created, read or written.
    pub pad: bool,
    /// A BEP 47 symbolic link entry. It has no data; the store does not
    /// create it (materialising links is left to a later layer).
    pub symlink: bool,
    /// The pieces that hold at least one byte of this file (empty for an
    /// empty file).
    pub pieces: Range<u32>,
}

impl FileInfo {
    /// Whether the file has bytes on disk: not a pad file, not a symlink.
    pub fn is_stored(&self) -> bool {
        !self.pad && !self.symlink
    }
}

/// One contiguous run of a piece range inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Index of the file (into [`Layout::files`]).
    pub file: usize,
    /// Offset of the run inside the file.
    pub file_offset: u64,
    /// Length of the run in bytes.
    pub len: u32,
    /// Whether the file is a pad file (the run reads as zeros and is never
    /// written).
    pub pad: bool,
}

/// The piece-to-file map of a torrent. Cheap to query; build it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    piece_length: u32,
    piece_count: u32,
    /// v2-only: pieces never cross a file end.
    per_file: bool,
    /// End of the piece space (v1/hybrid: the sum of all lengths, pads
    /// included; v2: the end of the last file).
    space_len: u64,
    files: Vec<FileInfo>,
    /// v2-only: `(first piece, file index)` of every non-empty file, sorted.
    piece_files: Vec<(u32, usize)>,
}

impl Layout {
    /// Builds the layout of a parsed torrent.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsafePath`] if a file path is not made of plain
    /// components (the parser already refuses those; this is a second
    /// line), [`StoreError::Unsupported`] if the piece count or length does
    /// not fit in 32 bits or the files do not fill the piece space.
    pub fn from_torrent(torrent: &Torrent) -> Result<Layout, StoreError> {
        let piece_length = u32::try_from(torrent.piece_length())
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                StoreError::Unsupported(format!("piece length {}", torrent.piece_length()))
            })?;
        let piece_count = u32::try_from(torrent.piece_count())
            .map_err(|_| StoreError::Unsupported(format!("{} pieces", torrent.piece_count())))?;
        let pl = u64::from(piece_length);
        let per_file = torrent.version() == Version::V2;
        let mut files = Vec::with_capacity(torrent.files().len());
        let mut space_len = 0u64;
        let mut piece_files = Vec::new();
        for (index, f) in torrent.files().iter().enumerate() {
            let end = f
                .offset
                .checked_add(f.length)
                .ok_or_else(|| StoreError::Unsupported(format!("file {index} overflows")))?;
            space_len = space_len.max(end);
            let first = f.offset / pl;
            let last = if f.length == 0 {
                first
            } else {
                end.div_ceil(pl)
            };
            let pieces = to_u32(first)?..to_u32(last)?;
            let mut path = PathBuf::new();
            if torrent.is_multi_file() {
                push_component(&mut path, torrent.name())?;
            }
            if f.is_pad() {
                // Never touches the disk; keep the name for display only.
                path.push(f.path.join("/"));
            } else {
                for c in &f.path {
                    push_component(&mut path, c)?;
                }
            }
            if per_file && f.length > 0 {
                piece_files.push((pieces.start, index));
            }
            files.push(FileInfo {
                path,
                length: f.length,
                offset: f.offset,
                pad: f.is_pad(),
                symlink: f.attr.symlink,
                pieces,
            });
        }
        let implied = if per_file {
            files.iter().map(|f| f.length.div_ceil(pl)).sum::<u64>()
        } else {
            space_len.div_ceil(pl)
        };
        if implied != u64::from(piece_count) {
            return Err(StoreError::Unsupported(format!(
                "files fill {implied} pieces, the torrent has {piece_count}"
            )));
        }
        Ok(Layout {
            piece_length,
            piece_count,
            per_file,
            space_len,
            files,
            piece_files,
        })
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// The nominal piece length (every piece but the last of the space, or
    /// of each file for v2-only torrents).
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Whether pieces are per file (a v2-only torrent) rather than cut from
    /// one contiguous space.
    pub fn is_per_file(&self) -> bool {
        self.per_file
    }

    /// Byte offset of piece `piece` in the piece space.
    pub fn piece_offset(&self, piece: u32) -> u64 {
        u64::from(piece) * u64::from(self.piece_length)
    }

    /// Length of piece `piece`; `None` when out of range.
    pub fn piece_len(&self, piece: u32) -> Option<u32> {
        if piece >= self.piece_count {
            return None;
        }
        let start = self.piece_offset(piece);
        let end = if self.per_file {
            let i = self
                .piece_files
                .partition_point(|&(first, _)| first <= piece);
            let (_, file) = *self.piece_files.get(i.checked_sub(1)?)?;
            let f = self.files.get(file)?;
            f.offset + f.length
        } else {
            self.space_len
        };
        let len = end.checked_sub(start)?.min(u64::from(self.piece_length));
        u32::try_from(len).ok()
    }

    /// The file runs that bytes `begin..begin + len` of piece `piece` map
    /// to, in order. Pad runs are included and flagged; empty files never
    /// appear.
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] if the piece does not exist or the range
    /// passes its end.
    pub fn extents(&self, piece: u32, begin: u32, len: u32) -> Result<Extents<'_>, StoreError> {
        let out_of_range = || StoreError::OutOfRange {
            piece,
            begin: u64::from(begin),
            len: u64::from(len),
        };
        let piece_len = self.piece_len(piece).ok_or_else(out_of_range)?;
        if u64::from(begin) + u64::from(len) > u64::from(piece_len) {
            return Err(out_of_range());
        }
        let pos = self.piece_offset(piece) + u64::from(begin);
        let end = pos + u64::from(len);
        let next = self.files.partition_point(|f| f.offset + f.length <= pos);
        Ok(Extents {
            files: &self.files,
            next,
            pos,
            end,
        })
    }

    /// All files in storage order, pad files included.
    pub fn files(&self) -> &[FileInfo] {
        &self.files
    }

    /// File `index`, if it exists.
    pub fn file(&self, index: usize) -> Option<&FileInfo> {
        self.files.get(index)
    }

    /// Number of files, pad files included.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The files that are stored on disk (not pad files, not symlinks),
    /// with their indexes.
    pub fn real_files(&self) -> impl Iterator<Item = (usize, &FileInfo)> + '_ {
        self.files.iter().enumerate().filter(|(_, f)| f.is_stored())
    }

    /// The pieces holding at least one byte of file `file` (empty for an
    /// empty file or an index out of range). Use it for selective download
    /// and for "which pieces must be rechecked when this file changed".
    pub fn file_pieces(&self, file: usize) -> Range<u32> {
        self.files.get(file).map_or(0..0, |f| f.pieces.clone())
    }

    /// The stored files (not pads, not symlinks) that piece `piece` touches,
    /// in order.
    pub fn piece_files(&self, piece: u32) -> impl Iterator<Item = usize> + '_ {
        let len = self.piece_len(piece).unwrap_or(0);
        self.extents(piece, 0, len)
            .into_iter()
            .flatten()
            .filter(|e| self.files.get(e.file).is_some_and(FileInfo::is_stored))
            .map(|e| e.file)
    }
}

/// Iterator over the [`Extent`]s of a piece range; see [`Layout::extents`].
#[derive(Debug, Clone)]
pub struct Extents<'a> {
    files: &'a [FileInfo],
    next: usize,
    pos: u64,
    end: u64,
}

impl Iterator for Extents<'_> {
    type Item = Extent;

    fn next(&mut self) -> Option<Extent> {
        while self.pos < self.end {
            let f = self.files.get(self.next)?;
            let file_end = f.offset + f.length;
            if f.length == 0 || file_end <= self.pos {
                self.next += 1;
                continue;
            }
            if f.offset > self.pos {
                // A gap between files: only possible between v2 files, and
                // never inside a piece. Stop rather than invent bytes.
                return None;
            }
            let stop = file_end.min(self.end);
            let len = u32::try_from(stop - self.pos).ok()?;
            let extent = Extent {
                file: self.next,
                file_offset: self.pos - f.offset,
                len,
                pad: f.pad,
            };
            self.pos = stop;
            if stop == file_end {
                self.next += 1;
            }
            return Some(extent);
        }
        None
    }
}

fn to_u32(n: u64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Unsupported(format!("piece index {n}")))
}

/// Appends `c` to `path` if it is one plain path component.
fn push_component(path: &mut PathBuf, c: &str) -> Result<(), StoreError> {
    if !is_plain_component(c) {
        let mut bad = path.clone();
        bad.push(c);
        return Err(StoreError::UnsafePath {
            path: bad,
            reason: "not a plain file name",
        });
    }
    path.push(c);
    Ok(())
}

/// Whether `c` is exactly one normal path component (not empty, `.`,
/// `..`, absolute, and without separators or NUL).
pub(crate) fn is_plain_component(c: &str) -> bool {
    if c.is_empty() || c.contains(['/', '\\', '\0']) {
        return false;
    }
    let mut comps = Path::new(c).components();
    matches!(
        (comps.next(), comps.next()),
        (Some(Component::Normal(n)), None) if n == c
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_components() {
        for ok in ["a", "a b", ".hidden", "..x", "x..", "ü"] {
            assert!(is_plain_component(ok), "{ok}");
        }
        for bad in ["", ".", "..", "/", "/etc", "a/b", "a\\b", "a\0", "./a"] {
            assert!(!is_plain_component(bad), "{bad:?}");
        }
    }
}
