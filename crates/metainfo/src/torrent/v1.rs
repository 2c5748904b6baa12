//! The v1 (BEP 3) half of an info dictionary: `length` or `files`, and
//! `pieces`. BEP 47 file attributes are parsed here too.

use btl_bencode::{Dict, Value};
use btl_types::Sha1Hash;

use super::error::{Problem, TorrentError};
use super::fields::{join, missing, non_negative, opt_bytes, opt_int, opt_list, wrong};
use super::path::{component_list, display};
use super::{FileAttr, FileEntry, MAX_FILES, MAX_PIECES};

/// What the v1 keys describe.
pub(super) struct V1 {
    /// Files in list order, pad files included, with v1 offsets.
    pub files: Vec<FileEntry>,
    /// `files` (true) or `length` (false).
    pub multi: bool,
    /// The piece hashes.
    pub pieces: Vec<Sha1Hash>,
}

/// The BEP 47 keys of a file dictionary.
pub(super) struct Extras {
    /// `attr`.
    pub attr: FileAttr,
    /// `symlink path`, read only for symlinks.
    pub symlink_path: Option<Vec<String>>,
    /// `sha1`.
    pub sha1: Option<Sha1Hash>,
}

/// BEP 47 `attr`, `symlink path` and `sha1` of a file dictionary (or of
/// the info dictionary of a single-file torrent).
pub(super) fn file_extras(d: &Dict<'_>, base: &str) -> Result<Extras, TorrentError> {
    let mut attr = FileAttr::default();
    if let Some(a) = opt_bytes(d, base, "attr")? {
        // Unknown attribute characters are ignored (BEP 47).
        for c in a {
            match c {
                b'p' => attr.pad = true,
                b'x' => attr.executable = true,
                b'h' => attr.hidden = true,
                b'l' => attr.symlink = true,
                _ => {}
            }
        }
    }
    let symlink_path = if attr.symlink {
        let field = join(base, "symlink path");
        let list = opt_list(d, base, "symlink path")?
            .ok_or_else(|| TorrentError::new(field.clone(), Problem::SymlinkWithoutTarget))?;
        Some(component_list(list, &field)?)
    } else {
        None
    };
    let sha1 = match opt_bytes(d, base, "sha1")? {
        None => None,
        Some(b) => Some(Sha1Hash::from_slice(b).ok_or_else(|| {
            TorrentError::new(
                join(base, "sha1"),
                Problem::HashLength {
                    expected: 20,
                    got: b.len() as u64,
                },
            )
        })?),
    };
    Ok(Extras {
        attr,
        symlink_path,
        sha1,
    })
}

/// A required, non-negative `length`.
fn length(d: &Dict<'_>, base: &str) -> Result<u64, TorrentError> {
    let field = join(base, "length");
    let l = opt_int(d, base, "length")?.ok_or_else(|| missing(field.clone()))?;
    non_negative(l, &field)
}

/// Parses the v1 keys of `info`. `name` is the checked torrent name.
pub(super) fn parse(info: &Dict<'_>, name: &str, piece_length: u64) -> Result<V1, TorrentError> {
    let pieces_raw = opt_bytes(info, "info", "pieces")?.ok_or_else(|| missing("info.pieces"))?;
    let (files, multi) = match (info.get(b"length"), info.get(b"files")) {
        (Some(_), None) => {
            let length = length(info, "info")?;
            let Extras {
                attr,
                symlink_path,
                sha1,
            } = file_extras(info, "info")?;
            let file = FileEntry {
                path: vec![name.to_owned()],
                length,
                offset: 0,
                attr,
                pieces_root: None,
                symlink_path,
                sha1,
            };
            (vec![file], false)
        }
        (None, Some(_)) => (file_list(info)?, true),
        _ => return Err(TorrentError::new("info", Problem::LengthOrFiles)),
    };

    // Every byte, pad files included, is in the v1 piece space.
    let total = match files.last() {
        Some(f) => f
            .offset
            .checked_add(f.length)
            .ok_or_else(|| TorrentError::new("info.files", Problem::Overflow))?,
        None => 0,
    };
    let expected = total.div_ceil(piece_length);
    if expected > MAX_PIECES {
        return Err(TorrentError::new(
            "info.pieces",
            Problem::TooMany {
                what: "pieces",
                max: MAX_PIECES,
            },
        ));
    }
    if pieces_raw.len() as u64 != expected * 20 {
        return Err(TorrentError::new(
            "info.pieces",
            Problem::PieceCount {
                expected,
                pieces_len: expected * 20,
                total,
                piece_length,
                got_len: pieces_raw.len() as u64,
            },
        ));
    }
    let pieces = pieces_raw
        .chunks_exact(20)
        .filter_map(Sha1Hash::from_slice)
        .collect();
    Ok(V1 {
        files,
        multi,
        pieces,
    })
}

/// Parses `info.files`, computing offsets and refusing colliding paths.
fn file_list(info: &Dict<'_>) -> Result<Vec<FileEntry>, TorrentError> {
    let list = opt_list(info, "info", "files")?.ok_or_else(|| missing("info.files"))?;
    if list.is_empty() {
        return Err(TorrentError::new("info.files", Problem::NoFiles));
    }
    if list.len() > MAX_FILES {
        return Err(TorrentError::new(
            "info.files",
            Problem::TooMany {
                what: "files",
                max: MAX_FILES as u64,
            },
        ));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, v) in list.iter().enumerate() {
        let base = format!("info.files[{i}]");
        let Value::Dict(d) = v else {
            return Err(wrong(base, "dictionary", v));
        };
        let length = length(d, &base)?;
        let (raw, field) = prefer_path(d, &base)?;
        let path = component_list(raw, &field)?;
        let Extras {
            attr,
            symlink_path,
            sha1,
        } = file_extras(d, &base)?;
        files.push(FileEntry {
            path,
            length,
            offset,
            attr,
            pieces_root: None,
            symlink_path,
            sha1,
        });
        offset = offset
            .checked_add(length)
            .ok_or_else(|| TorrentError::new(join(&base, "length"), Problem::Overflow))?;
    }
    check_collisions(&files)?;
    Ok(files)
}

/// `path.utf-8` if present, else `path`, with the field name that was read.
fn prefer_path<'d, 'a>(
    d: &'d Dict<'a>,
    base: &str,
) -> Result<(&'d btl_bencode::List<'a>, String), TorrentError> {
    if let Some(l) = opt_list(d, base, "path.utf-8")? {
        return Ok((l, join(base, "path.utf-8")));
    }
    let field = join(base, "path");
    let l = opt_list(d, base, "path")?.ok_or_else(|| missing(field.clone()))?;
    Ok((l, field))
}

/// Refuses duplicate paths and paths that are both a file and a directory
/// (one file's path a proper prefix of another's). Pad files are not
/// written to disk and are skipped: creators name them `.pad/<size>`, so
/// duplicates among them are normal.
fn check_collisions(files: &[FileEntry]) -> Result<(), TorrentError> {
    let mut order: Vec<usize> = (0..files.len()).filter(|&i| !files[i].attr.pad).collect();
    order.sort_by(|&a, &b| files[a].path.cmp(&files[b].path));
    // In component-wise order, a path is immediately followed by its
    // extensions, if any; so comparing neighbours finds every collision.
    for w in order.windows(2) {
        let (a, b) = (&files[w[0]], &files[w[1]]);
        let field = format!("info.files[{}].path", w[0].max(w[1]));
        if a.path == b.path {
            return Err(TorrentError::new(
                field,
                Problem::DuplicatePath(display(&a.path)),
            ));
        }
        if b.path.starts_with(&a.path) {
            return Err(TorrentError::new(
                field,
                Problem::FileAndDirectory(display(&a.path)),
            ));
        }
    }
    Ok(())
}
