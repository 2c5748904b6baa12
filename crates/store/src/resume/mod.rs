//! Resume data that survives `kill -9` and power loss.
//!
//! # Goals
//!
//! - A piece reported as had after a restart is really on disk: its data
//!   was `fdatasync`ed before the record that vouches for it was made
//!   durable.
//! - Nothing recorded is forgotten after `kill -9` (the page cache
//!   survives): a record is one `write()` syscall. Records that are not yet
//!   vouched for by a barrier come back as [`Recovered::recheck`], for the
//!   caller to hash again, rather than being trusted or dropped.
//! - A torn tail (power loss mid-append) is detected by a CRC in every
//!   record and ignored; a header that is corrupt or belongs to another
//!   torrent is a typed error, never a panic.
//! - Files changed behind our back (size or mtime differs from the stamp
//!   taken at a barrier) are reported, and their pieces rechecked.
//!
//! Non-goals: detecting changes that keep both size and mtime; surviving
//! a disk that lies about flushes.
//!
//! # Byte layout
//!
//! All integers little-endian. CRC-32 is CRC-32/ISO-HDLC (zlib's).
//!
//! ```text
//! header (48 bytes)
//! +0        +8        +12       +16       +20                   +40       +44       +48
//! | "BTLRSUME" | version=1 | pieces  |  files  | torrent id (20 B)   | reserved=0 | CRC-32 of +0..+44 |
//!
//! record (32 bytes), repeated to the end of the file
//! +0     +1        +4                                   +28       +32
//! | kind | 0 0 0   | payload (24 B, unused bytes zero)  | CRC-32 of +0..+28 |
//!
//! kind  name           payload
//!  1    Verified       +4 piece u32
//!  2    Barrier        -
//!  3    FileStamp      +4 file u32, +8 size u64, +16 mtime secs i64, +24 mtime nanos u32
//!  4    CleanShutdown  -
//!  5    Dirty          +4 file u32
//!  6    HaveBits       +4 first piece u32 (a multiple of 160), +8 160 bits in BEP 3 order
//! ```
//!
//! `pieces` is the torrent's piece count, `files` its file count (pad
//! files included; file indexes are [`Layout::files`](crate::Layout::files)
//! indexes), and the torrent id its 20-byte wire id
//! ([`InfoHashes::wire_id`](btl_types::InfoHashes::wire_id)). The golden
//! vectors in `format.rs` pin every byte.
//!
//! # Meaning
//!
//! Replay reads records in order and stops at the first one that is torn,
//! fails its CRC, or names a piece or file out of range; everything from
//! there on is ignored.
//!
//! - `Verified(p)` / `HaveBits`: the pieces were written and verified.
//! - `Dirty(f)`: written *before* the first write to file `f` after a
//!   barrier ([`Resume::before_write`]), so that after a crash the file's
//!   new mtime is known to be ours and not taken for an outside change.
//! - `FileStamp(f, …)`: the file's size and mtime just after the data sync
//!   of the barrier that follows. Stamps count only once their barrier is
//!   read.
//! - `Barrier`: written after [`Storage::sync`] returned, then the journal
//!   is `fdatasync`ed. Every record before a barrier that is read back is
//!   durable, and so is the data it speaks of.
//! - `CleanShutdown`: the last record of a session closed with
//!   [`Resume::close`].
//!
//! # Lifecycle
//!
//! [`Resume::open`] replays the journal, compares stamps with the files,
//! then writes a fresh snapshot of what it recovered (header, `HaveBits`,
//! `FileStamp`s, `Barrier`) to `<path>.tmp`, `fsync`s it, renames it over
//! the journal and `fsync`s the directory. So pieces returned for recheck
//! are not vouched for by any later barrier unless the caller records them
//! again. The same rewrite compacts the journal when it grows past twice
//! its last snapshot (and at least [`DEFAULT_COMPACT_MIN`] bytes).

mod format;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use btl_types::Sha1Hash;

pub use format::FileStamp;
use format::{Header, HeaderError, Record, BITS_PER_RECORD, HEADER_LEN, RECORD_LEN};

use crate::{Bitfield, Storage, StoreError};

/// The journal is compacted once it is larger than this and than twice its
/// last snapshot.
pub const DEFAULT_COMPACT_MIN: u64 = 1 << 20;

/// What [`Resume::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// Pieces that are durably on disk and whose files did not change.
    pub have: Bitfield,
    /// Pieces that must be hashed again before they are trusted, in
    /// increasing order: those recorded after the last barrier (the session
    /// did not end cleanly), and those previously had that touch a changed
    /// file.
    pub recheck: Vec<u32>,
    /// Stored files whose size or mtime differ from their last stamp (or
    /// that are missing) and that held pieces. Their had pieces are in
    /// `recheck`; the caller may also want to hash their other pieces, in
    /// case the data was put there by hand.
    pub changed_files: Vec<usize>,
    /// Whether the last session ended with [`Resume::close`].
    pub clean_shutdown: bool,
    /// Whether there was no journal (a new download).
    pub fresh: bool,
    /// Bytes at the end of the journal that were ignored (a torn or corrupt
    /// tail).
    pub ignored_bytes: u64,
}

/// An open resume journal. One owner (the disk actor) drives it.
#[derive(Debug)]
pub struct Resume {
    path: PathBuf,
    file: File,
    header: Header,
    /// Pieces recorded before the last barrier.
    durable: Bitfield,
    /// Pieces recorded since the last barrier, in order (may repeat).
    pending: Vec<u32>,
    /// Files announced with `Dirty` since the last barrier.
    dirty: BTreeSet<usize>,
    /// Last stamp of each file.
    stamps: BTreeMap<usize, FileStamp>,
    /// Current journal length.
    len: u64,
    /// Length of the last snapshot.
    snapshot_len: u64,
    compact_min: u64,
    /// An append failed and could not be undone: rewrite before appending.
    poisoned: bool,
}

impl Resume {
    /// Opens (or creates) the journal at `path` for the torrent with wire
    /// id `id` stored in `storage`, and returns what it recovered.
    ///
    /// Open `storage` first: its layout gives the piece and file counts,
    /// and its files are compared with their stamps.
    ///
    /// # Errors
    ///
    /// [`StoreError::JournalCorrupt`] (bad magic, torn or corrupt header),
    /// [`StoreError::JournalVersion`], [`StoreError::JournalMismatch`]
    /// (another torrent): delete the file and open again to start over.
    /// [`StoreError::Io`] for file system errors.
    pub fn open(
        path: &Path,
        id: Sha1Hash,
        storage: &Storage,
    ) -> Result<(Resume, Recovered), StoreError> {
        let layout = storage.layout();
        let file_count = u32::try_from(layout.file_count())
            .map_err(|_| StoreError::Unsupported(format!("{} files", layout.file_count())))?;
        let header = Header {
            piece_count: layout.piece_count(),
            file_count,
            id,
        };
        let replay = match fs::read(path) {
            Ok(bytes) => Some(replay(path, &header, &bytes)?),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(path, "read", e)),
        };
        let fresh = replay.is_none();
        let r = replay.unwrap_or_else(|| Replay::empty(header.piece_count));

        let mut have = r.durable;
        let mut recheck: BTreeSet<u32> = r.pending.iter_ones().filter(|&p| !have.get(p)).collect();
        let mut changed_files = Vec::new();
        let mut stamps = BTreeMap::new();
        for (index, _) in layout.real_files() {
            let pieces = layout.file_pieces(index);
            if !pieces.clone().any(|p| have.get(p)) {
                continue;
            }
            let disk = stamp_of(storage, index)?;
            let expected = r.stamps.get(&index);
            let ours = r.dirty.contains(&index) && disk.is_some();
            let same = disk.is_some() && disk.as_ref() == expected;
            if !same && !ours {
                changed_files.push(index);
                for p in pieces {
                    if have.set(p, false) {
                        recheck.insert(p);
                    }
                }
            } else if let Some(d) = disk {
                stamps.insert(index, d);
            }
        }
        // Stamps of files that lost all their pieces to a changed
        // neighbour are useless; keep only files that still hold pieces.
        stamps.retain(|&i, _| layout.file_pieces(i).any(|p| have.get(p)));

        let recovered = Recovered {
            have: have.clone(),
            recheck: recheck.into_iter().collect(),
            changed_files,
            clean_shutdown: r.clean,
            fresh,
            ignored_bytes: r.ignored,
        };
        let snap = Snapshot {
            header: &header,
            durable: &have,
            stamps: &stamps,
            dirty: &BTreeSet::new(),
            pending: &[],
        };
        let (file, len, snapshot_len) = snap.write(path)?;
        let resume = Resume {
            path: path.to_path_buf(),
            file,
            header,
            durable: have,
            pending: Vec::new(),
            dirty: BTreeSet::new(),
            stamps,
            len,
            snapshot_len,
            compact_min: DEFAULT_COMPACT_MIN,
            poisoned: false,
        };
        Ok((resume, recovered))
    }

    /// Records that piece `piece` was written and verified: one `write()`
    /// of 32 bytes, no `fsync`. It survives `kill -9` at once and power
    /// loss after the next [`Resume::barrier`].
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] for a piece index past the end,
    /// [`StoreError::Io`] if the append fails (nothing is recorded then).
    pub fn record(&mut self, piece: u32) -> Result<(), StoreError> {
        if piece >= self.header.piece_count {
            return Err(StoreError::OutOfRange {
                piece,
                begin: 0,
                len: 0,
            });
        }
        self.append(&Record::Verified { piece }.encode())?;
        self.pending.push(piece);
        Ok(())
    }

    /// Call before writing any block of piece `piece`: for each file the
    /// piece touches that has not been announced since the last barrier,
    /// appends a `Dirty` record (one `write()`, no `fsync`). After a crash,
    /// those files' new mtimes are then known to be ours, and their pieces
    /// recorded before the last barrier are still trusted. Skipping the
    /// call is safe but costs a recheck of the file's pieces after a crash.
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] for a piece past the end,
    /// [`StoreError::Io`] if the append fails.
    pub fn before_write(&mut self, storage: &Storage, piece: u32) -> Result<(), StoreError> {
        if piece >= self.header.piece_count {
            return Err(StoreError::OutOfRange {
                piece,
                begin: 0,
                len: 0,
            });
        }
        let new: Vec<usize> = storage
            .layout()
            .piece_files(piece)
            .filter(|f| !self.dirty.contains(f))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(new.len() * RECORD_LEN);
        for &f in &new {
            buf.extend_from_slice(&Record::Dirty { file: f as u32 }.encode());
        }
        self.append(&buf)?;
        self.dirty.extend(new);
        Ok(())
    }

    /// Makes everything recorded so far durable: syncs `storage`'s data,
    /// appends the stamps of the files written or touched since the last
    /// barrier and a `Barrier`, and `fdatasync`s the journal. Compacts the
    /// journal afterwards if it has grown too large.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] naming the data file or the journal that failed;
    /// the records since the last barrier then stay pending.
    pub fn barrier(&mut self, storage: &Storage) -> Result<(), StoreError> {
        let synced = storage.sync()?;
        let layout = storage.layout();
        let mut touched: BTreeSet<usize> = synced.into_iter().collect();
        touched.extend(self.dirty.iter().copied());
        for &p in &self.pending {
            touched.extend(layout.piece_files(p));
        }
        let mut new_stamps = Vec::new();
        let mut buf = Vec::with_capacity((touched.len() + 1) * RECORD_LEN);
        for f in touched {
            if let Some(stamp) = stamp_of(storage, f)? {
                buf.extend_from_slice(
                    &Record::FileStamp {
                        file: f as u32,
                        stamp,
                    }
                    .encode(),
                );
                new_stamps.push((f, stamp));
            }
        }
        buf.extend_from_slice(&Record::Barrier.encode());
        self.append(&buf)?;
        self.fsync()?;
        for p in self.pending.drain(..) {
            self.durable.set(p, true);
        }
        self.dirty.clear();
        self.stamps.extend(new_stamps);
        if self.len > self.compact_min.max(self.snapshot_len.saturating_mul(2)) {
            self.compact()?;
        }
        Ok(())
    }

    /// Ends the session: a [`Resume::barrier`], then a `CleanShutdown`
    /// record, `fdatasync`ed.
    ///
    /// # Errors
    ///
    /// As [`Resume::barrier`]. On error the journal is still valid; the
    /// next open just reports an unclean shutdown.
    pub fn close(mut self, storage: &Storage) -> Result<(), StoreError> {
        self.barrier(storage)?;
        self.append(&Record::CleanShutdown.encode())?;
        self.fsync()
    }

    /// Rewrites the journal as a snapshot of its state (what is durable,
    /// the stamps, then the records still pending), through a temporary
    /// file and an atomic rename. Runs by itself from
    /// [`Resume::barrier`] when the journal grows too large.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`]; the old journal is then left as it was.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.rewrite()
    }

    /// Sets the size past which [`Resume::barrier`] compacts the journal
    /// (it also waits for twice the last snapshot's size).
    pub fn set_compact_min(&mut self, bytes: u64) {
        self.compact_min = bytes;
    }

    /// Every piece recorded so far, durable or not.
    pub fn have(&self) -> Bitfield {
        let mut h = self.durable.clone();
        for &p in &self.pending {
            h.set(p, true);
        }
        h
    }

    /// The current journal length in bytes.
    pub fn journal_len(&self) -> u64 {
        self.len
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.poisoned {
            self.rewrite()?;
        }
        match (&self.file).write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut off a partial record so later appends stay readable.
                if self.file.set_len(self.len).is_err() {
                    self.poisoned = true;
                }
                Err(StoreError::io(&self.path, "append", e))
            }
        }
    }

    fn fsync(&self) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(StoreError::io_with(&self.path, "fdatasync"))
    }

    /// Rewrites the journal as a snapshot of the current state.
    fn rewrite(&mut self) -> Result<(), StoreError> {
        let snap = Snapshot {
            header: &self.header,
            durable: &self.durable,
            stamps: &self.stamps,
            dirty: &self.dirty,
            pending: &self.pending,
        };
        let (file, len, snapshot_len) = snap.write(&self.path)?;
        self.file = file;
        self.len = len;
        self.snapshot_len = snapshot_len;
        self.poisoned = false;
        Ok(())
    }
}

/// The state a journal is rewritten from.
struct Snapshot<'a> {
    header: &'a Header,
    durable: &'a Bitfield,
    stamps: &'a BTreeMap<usize, FileStamp>,
    dirty: &'a BTreeSet<usize>,
    pending: &'a [u32],
}

impl Snapshot<'_> {
    /// The journal bytes, and the length of the part up to and including
    /// the snapshot's barrier.
    fn encode(&self) -> (Vec<u8>, u64) {
        let mut buf = Vec::new();
        buf.extend_from_slice(&self.header.encode());
        let chunk_bytes = (BITS_PER_RECORD / 8) as usize;
        for (i, chunk) in self.durable.as_bytes().chunks(chunk_bytes).enumerate() {
            if chunk.iter().all(|&b| b == 0) {
                continue;
            }
            let mut bits = [0u8; 20];
            bits.get_mut(..chunk.len())
                .unwrap_or_default()
                .copy_from_slice(chunk);
            let first = i as u32 * BITS_PER_RECORD;
            buf.extend_from_slice(&Record::HaveBits { first, bits }.encode());
        }
        for (&file, &stamp) in self.stamps {
            let file = file as u32;
            buf.extend_from_slice(&Record::FileStamp { file, stamp }.encode());
        }
        buf.extend_from_slice(&Record::Barrier.encode());
        let snapshot_len = buf.len() as u64;
        for &f in self.dirty {
            buf.extend_from_slice(&Record::Dirty { file: f as u32 }.encode());
        }
        for &piece in self.pending {
            buf.extend_from_slice(&Record::Verified { piece }.encode());
        }
        (buf, snapshot_len)
    }

    /// Writes the snapshot to `<path>.tmp`, syncs it, renames it over
    /// `path`, syncs the directory, and opens the result for appending.
    /// Returns the handle, the journal length and the snapshot length.
    fn write(&self, path: &Path) -> Result<(File, u64, u64), StoreError> {
        let (buf, snapshot_len) = self.encode();
        let tmp = tmp_path(path);
        let write_tmp = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()
        };
        write_tmp().map_err(StoreError::io_with(&tmp, "write snapshot"))?;
        fs::rename(&tmp, path).map_err(StoreError::io_with(path, "rename snapshot"))?;
        sync_dir(path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(StoreError::io_with(path, "open"))?;
        Ok((file, buf.len() as u64, snapshot_len))
    }
}

/// The state a replay ends in.
struct Replay {
    durable: Bitfield,
    pending: Bitfield,
    stamps: BTreeMap<usize, FileStamp>,
    dirty: BTreeSet<usize>,
    clean: bool,
    ignored: u64,
}

impl Replay {
    fn empty(piece_count: u32) -> Replay {
        Replay {
            durable: Bitfield::new(piece_count),
            pending: Bitfield::new(piece_count),
            stamps: BTreeMap::new(),
            dirty: BTreeSet::new(),
            clean: false,
            ignored: 0,
        }
    }
}

/// Checks the header against `want` and replays the records.
fn replay(path: &Path, want: &Header, bytes: &[u8]) -> Result<Replay, StoreError> {
    let corrupt = |reason: &str| StoreError::JournalCorrupt {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let header = Header::decode(bytes).map_err(|e| match e {
        HeaderError::Short => corrupt("shorter than its header"),
        HeaderError::Magic => corrupt("not a resume journal (bad magic)"),
        HeaderError::Version(v) => StoreError::JournalVersion {
            path: path.to_path_buf(),
            found: v,
            supported: format::FORMAT_VERSION,
        },
        HeaderError::Crc => corrupt("header checksum mismatch"),
        HeaderError::Reserved => corrupt("reserved header bytes are not zero"),
    })?;
    let mismatch = |what, expected: String, found: String| StoreError::JournalMismatch {
        path: path.to_path_buf(),
        what,
        expected,
        found,
    };
    if header.id != want.id {
        return Err(mismatch(
            "torrent id",
            want.id.to_string(),
            header.id.to_string(),
        ));
    }
    if header.piece_count != want.piece_count {
        return Err(mismatch(
            "piece count",
            want.piece_count.to_string(),
            header.piece_count.to_string(),
        ));
    }
    if header.file_count != want.file_count {
        return Err(mismatch(
            "file count",
            want.file_count.to_string(),
            header.file_count.to_string(),
        ));
    }

    let mut r = Replay::empty(header.piece_count);
    let mut pending_stamps = BTreeMap::new();
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let mut used = 0usize;
    for chunk in body.chunks(RECORD_LEN) {
        let Some(rec) = Record::decode(chunk) else {
            break;
        };
        let ok = match rec {
            Record::Verified { piece } => piece < header.piece_count,
            Record::HaveBits { first, bits } => {
                first % BITS_PER_RECORD == 0
                    && set_bits(&bits)
                        .all(|j| first.checked_add(j).is_some_and(|p| p < header.piece_count))
            }
            Record::FileStamp { file, .. } | Record::Dirty { file } => file < header.file_count,
            Record::Barrier | Record::CleanShutdown => true,
        };
        if !ok {
            break;
        }
        match rec {
            Record::Verified { piece } => {
                r.pending.set(piece, true);
            }
            Record::HaveBits { first, bits } => {
                for j in set_bits(&bits) {
                    r.pending.set(first + j, true);
                }
            }
            Record::FileStamp { file, stamp } => {
                pending_stamps.insert(file as usize, stamp);
            }
            Record::Dirty { file } => {
                r.dirty.insert(file as usize);
            }
            Record::Barrier => {
                r.durable.union_with(&r.pending);
                r.pending = Bitfield::new(header.piece_count);
                r.stamps.append(&mut pending_stamps);
                r.dirty.clear();
            }
            Record::CleanShutdown => {}
        }
        r.clean = rec == Record::CleanShutdown;
        used += RECORD_LEN;
    }
    r.ignored = (body.len() - used) as u64;
    Ok(r)
}

/// The indexes (0..160) of the set bits of a `HaveBits` payload.
fn set_bits(bits: &[u8; 20]) -> impl Iterator<Item = u32> + '_ {
    (0..BITS_PER_RECORD).filter(|j| bits[(j / 8) as usize] & (0x80 >> (j % 8)) != 0)
}

/// The stamp of file `index` on disk; `None` if it does not exist.
fn stamp_of(storage: &Storage, index: usize) -> Result<Option<FileStamp>, StoreError> {
    let Some(path) = storage.file_path(index) else {
        return Ok(None);
    };
    match fs::metadata(&path) {
        Ok(m) => Ok(Some(FileStamp {
            size: m.len(),
            mtime_secs: m.mtime(),
            mtime_nanos: u32::try_from(m.mtime_nsec()).unwrap_or(0),
        })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&path, "stat", e)),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io_with(dir, "fsync directory"))
}
