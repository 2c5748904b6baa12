//! Finding the files to hash.
//!
//! Rules (chosen to match libtorrent 2.0.8's `add_files` with default
//! flags, except where noted):
//!
//! - A regular file given as the path makes a single-file torrent named
//!   after it.
//! - A directory is walked recursively. Hidden files (names starting with
//!   `.`) are included. Empty directories contribute nothing.
//! - Symbolic links are followed: a link to a file is hashed as that file
//!   (with the target's executable bit), a link to a directory is walked.
//!   Broken links are skipped. A link back to a directory that is already
//!   being walked (a loop) is skipped; libtorrent would recurse forever.
//! - Anything that is neither a regular file nor a directory (FIFOs,
//!   sockets, devices) is skipped; libtorrent would add it as an empty file.
//! - A file is executable (BEP 47 `attr` "x") when its owner-execute bit
//!   (`0o100`) is set. For a symbolic link that is the *link's* own mode,
//!   as libtorrent reads it (`lstat`), not the target's; on Linux a link's
//!   mode is `0o777`, so a linked file is always marked executable.
//! - Files are sorted by their path components compared byte-wise, one
//!   component at a time (so `a/x` sorts before `a b`, because `a` < `a b`).
//!   This is the order of keys in the BEP 52 `file tree` and the order
//!   libtorrent's `file_storage::canonicalize` gives v2 and hybrid torrents.

use super::CreateError;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// One file to hash.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    /// Where to read it.
    pub abs: PathBuf,
    /// Path components below the torrent's root directory (empty for a
    /// single-file torrent).
    pub components: Vec<Vec<u8>>,
    /// Length when it was found.
    pub len: u64,
    /// Owner-execute bit set.
    pub executable: bool,
}

/// What was found at the path.
#[derive(Debug)]
pub(crate) struct Walked {
    /// The torrent's `name`: the last component of the path.
    pub name: Vec<u8>,
    /// Whether the path was a directory (a multi-file layout even with one
    /// file).
    pub is_dir: bool,
    /// The files, sorted.
    pub files: Vec<FileEntry>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.permissions().mode() & 0o100 != 0
}

/// The executable bit as libtorrent sees it: from the link itself when
/// `path` is a symbolic link (`lstat`), else from `followed`, the file's
/// own metadata.
fn executable_bit(path: &Path, is_link: bool, followed: &std::fs::Metadata) -> bool {
    if is_link {
        std::fs::symlink_metadata(path)
            .map_or_else(|_| is_executable(followed), |m| is_executable(&m))
    } else {
        is_executable(followed)
    }
}

/// The torrent name for `path`: its last component, resolving `.` and `..`
/// through the file system when the path does not end in a plain name.
fn torrent_name(path: &Path) -> Result<Vec<u8>, CreateError> {
    let name = match path.file_name() {
        Some(n) => n.to_os_string(),
        None => path
            .canonicalize()
            .map_err(io_err(path))?
            .file_name()
            .map(OsStr::to_os_string)
            .ok_or_else(|| CreateError::NoName {
                path: path.to_path_buf(),
            })?,
    };
    Ok(name.as_bytes().to_vec())
}

/// Walks `path` (following symbolic links) and returns the sorted files.
pub(crate) fn walk(path: &Path) -> Result<Walked, CreateError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let name = torrent_name(path)?;
    if meta.is_file() {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        return Ok(Walked {
            name,
            is_dir: false,
            files: vec![FileEntry {
                abs: path.to_path_buf(),
                components: Vec::new(),
                len: meta.len(),
                executable: executable_bit(path, is_link, &meta),
            }],
        });
    }
    if !meta.is_dir() {
        return Err(CreateError::NotAFileOrDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let mut ancestors = vec![(meta.dev(), meta.ino())];
    walk_dir(path, &mut Vec::new(), &mut ancestors, &mut files)?;
    files.sort_by(|a, b| a.components.cmp(&b.components));
    Ok(Walked {
        name,
        is_dir: true,
        files,
    })
}

fn walk_dir(
    dir: &Path,
    prefix: &mut Vec<Vec<u8>>,
    ancestors: &mut Vec<(u64, u64)>,
    out: &mut Vec<FileEntry>,
) -> Result<(), CreateError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let abs = entry.path();
        // Follow links; a broken one has no metadata and is skipped.
        let meta = match std::fs::metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&abs)(e)),
        };
        let name = entry.file_name().as_bytes().to_vec();
        if meta.is_file() {
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            let mut components = prefix.clone();
            components.push(name);
            out.push(FileEntry {
                executable: executable_bit(&abs, is_link, &meta),
                abs,
                components,
                len: meta.len(),
            });
        } else if meta.is_dir() {
            let id = (meta.dev(), meta.ino());
            if ancestors.contains(&id) {
                continue; // a symlink loop
            }
            ancestors.push(id);
            prefix.push(name);
            walk_dir(&abs, prefix, ancestors, out)?;
            prefix.pop();
            ancestors.pop();
        }
    }
    Ok(())
}
