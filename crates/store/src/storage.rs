//! Piece reads and writes on the files of one torrent.
//!
//! [`Storage`] is synchronous and uses positional I/O only
//! (`pread`/`pwrite` through [`FileExt`]); there is no mmap, so an I/O
//! error is a `Result`, never a `SIGBUS`. All methods take `&self`: the
//! handle cache and the set of files to sync sit behind short mutexes that
//! are never held during I/O, so recheck threads can read in parallel.
//!
//! # Files on disk
//!
//! - Every path is the layout's relative path joined to the root, one plain
//!   component at a time; a component that is not a plain name, or an
//!   existing symbolic link anywhere between the root and the file, is
//!   refused with [`StoreError::UnsafePath`]. (The check and the open are
//!   not atomic; the root itself may be a link.)
//! - [`Storage::open`] creates the directories and every wanted file, empty
//!   files included, and preallocates them ([`Preallocate`]). Existing data
//!   is kept; a file longer than the torrent says is not truncated.
//! - Pad files are never created, read or written: pad ranges read as
//!   zeros, and written pad bytes are dropped.
//! - Symlink entries (BEP 47 `l`) are not materialised.
//! - **File selection**: files marked not wanted in
//!   [`StorageOptions::wanted`] are not created at open. A write that
//!   touches one (a piece shared with a wanted file, in a v1 torrent)
//!   creates it then, preallocated like the others. Reading a file that was
//!   never created fails with a `NotFound` [`StoreError::Io`].
//! - Reads past the end of a file that is shorter than the torrent says
//!   (not preallocated, or truncated) return zeros for the missing bytes.
//!
//! # Durability
//!
//! [`Storage::sync`] `fdatasync`s every file written since the previous
//! sync (it reopens files whose handle was evicted from the cache: on Linux
//! `fdatasync` flushes the file, not the descriptor) and `fsync`s the
//! directories in which files were created, so their names are durable too.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::layout::{Extent, Layout};
use crate::StoreError;

/// How files are allocated when they are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Preallocate {
    /// Set each file's length up front (`ftruncate`): a sparse file whose
    /// unwritten ranges read as zeros and take no space. The default.
    #[default]
    Sparse,
    /// Write zeros over the whole file up front, so the space is really
    /// reserved (no `ENOSPC` half way). Slow for large torrents: every byte
    /// is written once at open. Existing bytes are never overwritten.
    Full,
    /// Create empty files; they grow as pieces are written.
    None,
}

/// Options for [`Storage::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// How to allocate files.
    pub preallocate: Preallocate,
    /// Most file handles kept open at once (least recently used ones are
    /// closed first). At least 1.
    pub max_open_files: usize,
    /// Which files to create at open, indexed like [`Layout::files`];
    /// `None` means all. See the module docs for what "not wanted" means.
    pub wanted: Option<Vec<bool>>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            preallocate: Preallocate::Sparse,
            max_open_files: 128,
            wanted: None,
        }
    }
}

/// The files of one torrent under one download directory.
#[derive(Debug)]
pub struct Storage {
    root: PathBuf,
    layout: Layout,
    preallocate: Preallocate,
    max_open: usize,
    handles: Mutex<Handles>,
    pending: Mutex<Pending>,
}

/// The bounded cache of open files.
#[derive(Debug, Default)]
struct Handles {
    map: HashMap<usize, Handle>,
    tick: u64,
}

#[derive(Debug)]
struct Handle {
    file: Arc<File>,
    writable: bool,
    used: u64,
}

/// What the next [`Storage::sync`] must flush.
#[derive(Debug, Default)]
struct Pending {
    files: BTreeSet<usize>,
    dirs: BTreeSet<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Storage {
    /// Opens (creating as needed) the files of `layout` under `root`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] naming the path that could not be created,
    /// [`StoreError::UnsafePath`] for a path that would leave `root`, and
    /// [`StoreError::InvalidArgument`] for a `wanted` list of the wrong
    /// length.
    pub fn open(root: &Path, layout: Layout, opts: StorageOptions) -> Result<Storage, StoreError> {
        if let Some(w) = &opts.wanted {
            if w.len() != layout.file_count() {
                return Err(StoreError::InvalidArgument(format!(
                    "file selection has {} entries, the torrent has {} files",
                    w.len(),
                    layout.file_count()
                )));
            }
        }
        let root_existed = root.exists();
        fs::create_dir_all(root).map_err(StoreError::io_with(root, "create directory"))?;
        let storage = Storage {
            root: root.to_path_buf(),
            layout,
            preallocate: opts.preallocate,
            max_open: opts.max_open_files.max(1),
            handles: Mutex::new(Handles::default()),
            pending: Mutex::new(Pending::default()),
        };
        if !root_existed {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                lock(&storage.pending).dirs.insert(parent.to_path_buf());
            }
        }
        for (index, _) in storage.layout.real_files() {
            let wanted = opts
                .wanted
                .as_ref()
                .is_none_or(|w| w.get(index).copied().unwrap_or(true));
            if wanted {
                storage.open_file(index, true)?;
            }
        }
        Ok(storage)
    }

    /// The layout the storage was opened with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The download root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of file `file` (pad files have none).
    pub fn file_path(&self, file: usize) -> Option<PathBuf> {
        let f = self.layout.file(file)?;
        f.is_stored().then(|| self.root.join(&f.path))
    }

    /// Writes `data` at offset `begin` of piece `piece`. Pad ranges are
    /// skipped. Not durable until [`Storage::sync`].
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] if the range passes the end of the piece,
    /// [`StoreError::Io`] if a file cannot be opened, created or written.
    pub fn write(&self, piece: u32, begin: u32, data: &[u8]) -> Result<(), StoreError> {
        let len = self.range_len(piece, begin, data.len())?;
        let mut at = 0usize;
        for e in self.layout.extents(piece, begin, len)? {
            let chunk = data.get(at..at + e.len as usize).unwrap_or_default();
            at += e.len as usize;
            if e.pad {
                continue;
            }
            let file = self.handle(e.file, true)?;
            file.write_all_at(chunk, e.file_offset)
                .map_err(|err| self.file_error(e.file, "write", err))?;
            lock(&self.pending).files.insert(e.file);
        }
        self.check_covered(piece, begin, len, at)
    }

    /// Reads `buf.len()` bytes at offset `begin` of piece `piece`. Pad
    /// ranges, and ranges past the end of a short file, read as zeros.
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] if the range passes the end of the piece,
    /// [`StoreError::Io`] if a file is missing or cannot be read.
    pub fn read(&self, piece: u32, begin: u32, buf: &mut [u8]) -> Result<(), StoreError> {
        let len = self.range_len(piece, begin, buf.len())?;
        let mut at = 0usize;
        for e in self.layout.extents(piece, begin, len)? {
            let Some(chunk) = buf.get_mut(at..at + e.len as usize) else {
                break;
            };
            at += e.len as usize;
            if e.pad {
                chunk.fill(0);
                continue;
            }
            self.read_extent(&e, chunk)?;
        }
        self.check_covered(piece, begin, len, at)
    }

    /// Reads the whole of piece `piece` into `buf`, resizing it to the
    /// piece's length (so one buffer can be reused across pieces).
    ///
    /// # Errors
    ///
    /// As [`Storage::read`].
    pub fn read_piece(&self, piece: u32, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        let len = self.piece_len(piece)?;
        buf.resize(len as usize, 0);
        self.read(piece, 0, buf)
    }

    /// Writes the whole of piece `piece`.
    ///
    /// # Errors
    ///
    /// [`StoreError::PieceLength`] if `data` is not exactly the piece's
    /// length; otherwise as [`Storage::write`].
    pub fn write_piece(&self, piece: u32, data: &[u8]) -> Result<(), StoreError> {
        let len = self.piece_len(piece)?;
        if data.len() != len as usize {
            return Err(StoreError::PieceLength {
                piece,
                expected: u64::from(len),
                found: data.len() as u64,
            });
        }
        self.write(piece, 0, data)
    }

    /// Makes every write so far durable: `fdatasync` on each file written
    /// since the last sync, `fsync` on directories that gained entries.
    /// Returns the indexes of the files that were synced.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] naming the file that failed; files not yet synced
    /// stay pending for the next call.
    pub fn sync(&self) -> Result<Vec<usize>, StoreError> {
        let (files, dirs) = {
            let mut p = lock(&self.pending);
            (std::mem::take(&mut p.files), std::mem::take(&mut p.dirs))
        };
        let mut done = Vec::with_capacity(files.len());
        let mut result = Ok(());
        for &index in &files {
            let r = self.handle(index, false).and_then(|f| {
                f.sync_data()
                    .map_err(|e| self.file_error(index, "fdatasync", e))
            });
            if let Err(e) = r {
                result = Err(e);
                break;
            }
            done.push(index);
        }
        let mut dirs_left = dirs.clone();
        if result.is_ok() {
            for dir in &dirs {
                let r = File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(StoreError::io_with(dir, "fsync directory"));
                if let Err(e) = r {
                    result = Err(e);
                    break;
                }
                dirs_left.remove(dir);
            }
        }
        if let Err(e) = result {
            let mut p = lock(&self.pending);
            p.files.extend(files.iter().filter(|f| !done.contains(f)));
            p.dirs.extend(dirs_left);
            return Err(e);
        }
        Ok(done)
    }

    /// Number of file handles currently open (at most
    /// [`StorageOptions::max_open_files`]).
    pub fn open_handles(&self) -> usize {
        lock(&self.handles).map.len()
    }

    fn piece_len(&self, piece: u32) -> Result<u32, StoreError> {
        self.layout.piece_len(piece).ok_or(StoreError::OutOfRange {
            piece,
            begin: 0,
            len: 0,
        })
    }

    /// Checks that a buffer length fits in a piece range.
    fn range_len(&self, piece: u32, begin: u32, len: usize) -> Result<u32, StoreError> {
        u32::try_from(len).map_err(|_| StoreError::OutOfRange {
            piece,
            begin: u64::from(begin),
            len: len as u64,
        })
    }

    /// The extents must cover the whole range (they always do for a valid
    /// layout; this guards against a gap ever being silently skipped).
    fn check_covered(
        &self,
        piece: u32,
        begin: u32,
        len: u32,
        got: usize,
    ) -> Result<(), StoreError> {
        if got == len as usize {
            Ok(())
        } else {
            Err(StoreError::OutOfRange {
                piece,
                begin: u64::from(begin),
                len: u64::from(len),
            })
        }
    }

    fn read_extent(&self, e: &Extent, buf: &mut [u8]) -> Result<(), StoreError> {
        let file = self.handle(e.file, false)?;
        let mut done = 0usize;
        while done < buf.len() {
            let Some(rest) = buf.get_mut(done..) else {
                break;
            };
            match file.read_at(rest, e.file_offset + done as u64) {
                Ok(0) => {
                    // Past the end of a short file: zeros.
                    rest.fill(0);
                    break;
                }
                Ok(n) => done += n,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(self.file_error(e.file, "read", err)),
            }
        }
        Ok(())
    }

    fn file_error(&self, file: usize, op: &'static str, source: std::io::Error) -> StoreError {
        let path = self.file_path(file).unwrap_or_else(|| self.root.clone());
        StoreError::io(path, op, source)
    }

    /// A cached handle to `file`, opening (and for writes, creating) it on
    /// a miss.
    fn handle(&self, file: usize, write: bool) -> Result<Arc<File>, StoreError> {
        {
            let mut h = lock(&self.handles);
            h.tick += 1;
            let tick = h.tick;
            if let Some(entry) = h.map.get_mut(&file) {
                if entry.writable || !write {
                    entry.used = tick;
                    return Ok(Arc::clone(&entry.file));
                }
            }
        }
        let (f, writable) = self.open_file(file, write)?;
        let f = Arc::new(f);
        let mut h = lock(&self.handles);
        h.tick += 1;
        let used = h.tick;
        if !h.map.contains_key(&file) && h.map.len() >= self.max_open {
            let oldest = h.map.iter().min_by_key(|(_, e)| e.used).map(|(&k, _)| k);
            if let Some(k) = oldest {
                h.map.remove(&k);
            }
        }
        h.map.insert(
            file,
            Handle {
                file: Arc::clone(&f),
                writable,
                used,
            },
        );
        Ok(f)
    }

    /// Opens file `index`. With `create`, creates it (and its directories)
    /// if missing and preallocates it; without, opens read-write when
    /// allowed and read-only otherwise. Returns the file and whether it is
    /// writable.
    fn open_file(&self, index: usize, create: bool) -> Result<(File, bool), StoreError> {
        let info = self.layout.file(index).ok_or(StoreError::NoSuchFile {
            file: index,
            count: self.layout.file_count(),
        })?;
        if !info.is_stored() {
            return Err(StoreError::UnsafePath {
                path: info.path.clone(),
                reason: "pad files and symlinks are not stored",
            });
        }
        let path = safe_join(&self.root, &info.path)?;
        let existed = check_no_links(&self.root, &info.path)?;
        if !create {
            let rw = OpenOptions::new().read(true).write(true).open(&path);
            return match rw {
                Ok(f) => Ok((f, true)),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => File::open(&path)
                    .map(|f| (f, false))
                    .map_err(StoreError::io_with(&path, "open")),
                Err(e) => Err(StoreError::io(&path, "open", e)),
            };
        }
        if !existed {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .map_err(StoreError::io_with(parent, "create directory"))?;
                let mut p = lock(&self.pending);
                let mut dir = Some(parent);
                while let Some(d) = dir {
                    p.dirs.insert(d.to_path_buf());
                    if d == self.root {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::io_with(&path, "open for writing"))?;
        self.preallocate(&f, &path, index, info.length)?;
        Ok((f, true))
    }

    fn preallocate(
        &self,
        f: &File,
        path: &Path,
        index: usize,
        length: u64,
    ) -> Result<(), StoreError> {
        if self.preallocate == Preallocate::None {
            return Ok(());
        }
        let current = f
            .metadata()
            .map_err(StoreError::io_with(path, "stat"))?
            .len();
        if current >= length {
            return Ok(());
        }
        match self.preallocate {
            Preallocate::Sparse => f
                .set_len(length)
                .map_err(StoreError::io_with(path, "set length")),
            Preallocate::Full => {
                const CHUNK: u64 = 1 << 20;
                let zeros = vec![0u8; CHUNK as usize];
                let mut at = current;
                while at < length {
                    let n = (length - at).min(CHUNK) as usize;
                    f.write_all_at(zeros.get(..n).unwrap_or_default(), at)
                        .map_err(StoreError::io_with(path, "preallocate"))?;
                    at += n as u64;
                }
                lock(&self.pending).files.insert(index);
                Ok(())
            }
            Preallocate::None => Ok(()),
        }
    }
}

/// Joins a relative path made of plain components to `root`, refusing
/// anything else (absolute paths, `..`, `.`, prefixes).
pub(crate) fn safe_join(root: &Path, rel: &Path) -> Result<PathBuf, StoreError> {
    let mut out = root.to_path_buf();
    let mut any = false;
    for c in rel.components() {
        match c {
            Component::Normal(n) => {
                out.push(n);
                any = true;
            }
            _ => {
                return Err(StoreError::UnsafePath {
                    path: rel.to_path_buf(),
                    reason: "not a plain relative path",
                })
            }
        }
    }
    if !any {
        return Err(StoreError::UnsafePath {
            path: rel.to_path_buf(),
            reason: "empty path",
        });
    }
    Ok(out)
}

/// Refuses a symbolic link at any level of `rel` below `root`. Returns
/// whether the file itself exists.
fn check_no_links(root: &Path, rel: &Path) -> Result<bool, StoreError> {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StoreError::UnsafePath {
                    path: at,
                    reason: "is a symbolic link",
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io(&at, "stat", e)),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_join_refuses_escapes() {
        let root = Path::new("/data");
        assert_eq!(
            safe_join(root, Path::new("a/b")).ok(),
            Some(PathBuf::from("/data/a/b"))
        );
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "./a"] {
            assert!(
                matches!(
                    safe_join(root, Path::new(bad)),
                    Err(StoreError::UnsafePath { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn symlinks_below_root_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("t")).unwrap();
        let err = check_no_links(dir.path(), Path::new("t/file")).unwrap_err();
        assert!(matches!(err, StoreError::UnsafePath { .. }), "{err}");
        assert!(!check_no_links(dir.path(), Path::new("u/file")).unwrap());
    }
}
