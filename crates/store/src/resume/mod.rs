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
//!   caller to hash again, rather than being trusted or dropped; they keep
//!   coming back until the caller settles them.
//! - A torn tail (power loss mid-append) is detected by a CRC in every
//!   record and ignored; a header that is corrupt or belongs to another
//!   torrent is a typed error, never a panic.
//! - Files changed behind our back (size or mtime differs from the stamp
//!   taken at a barrier) are reported, and their pieces rechecked.
//!
//! Non-goals: detecting changes that keep both size and mtime (the
//! kernel's mtime clock ticks every few milliseconds); surviving a disk
//! that lies about flushes.
//!
//! # Byte layout
//!
//! All integers little-endian. CRC-32 is CRC-32/ISO-HDLC (zlib's).
//!
//! ```text
//! header (48 bytes)
//! +0           +8          +12      +16      +20                 +40          +44                 +48
//! | "BTLRSUME" | version=1 | pieces | files  | torrent id (20 B) | reserved=0 | CRC-32 of +0..+44 |
//!
//! record (32 bytes), repeated to the end of the file
//! +0     +1      +4                                  +28                 +32
//! | kind | 0 0 0 | payload (24 B, unused bytes zero) | CRC-32 of +0..+28 |
//!
//! kind  name           payload
//!  1    Verified       +4 piece u32
//!  2    Barrier        -
//!  3    FileStamp      +4 file u32, +8 size u64, +16 mtime secs i64, +24 mtime nanos u32
//!  4    CleanShutdown  -
//!  5    Dirty          +4 file u32
//!  6    HaveBits       +4 first piece u32 (a multiple of 160), +8 160 bits, BEP 3 order
//!  7    RecheckBits    as HaveBits
//!  8    Forget         +4 piece u32
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
//! fails its CRC, has an unknown kind, or names a piece or file out of
//! range; everything from there on is ignored.
//!
//! - `Verified(p)`, `HaveBits`: the pieces were written and verified.
//!   They count as had once a `Barrier` follows.
//! - `RecheckBits`: the pieces were had or recorded once but must be hashed
//!   again before they are trusted. A barrier does not change that; a
//!   `Verified` followed by a barrier, or a `Forget`, does.
//! - `Forget(p)`: piece `p` is not had (found bad, or dropped). Effective at
//!   once, barrier or not: forgetting is always safe.
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
//! then writes a snapshot of what it recovered (header, `HaveBits` for
//! `have`, `RecheckBits` for `recheck`, `FileStamp`s, `Barrier`) to
//! `<path>.tmp`, `fsync`s it, renames it over the journal and `fsync`s the
//! directory. The caller hashes the `recheck` pieces and settles each one
//! with [`Resume::record`] (good) or [`Resume::forget`] (bad); until then
//! they are reported again at every open. The same rewrite compacts the
//! journal when a barrier finds it larger than twice its last snapshot
//! (and than [`DEFAULT_COMPACT_MIN`]).

mod format;
mod replay;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use btl_types::Sha1Hash;

pub use format::FileStamp;
use format::{Header, Record, BITS_PER_RECORD, RECORD_LEN};
use replay::{replay, Replay};

use crate::{Bitfield, Storage, StoreError};

/// The journal is compacted at a barrier once it is larger than this and
/// than twice its last snapshot.
pub const DEFAULT_COMPACT_MIN: u64 = 1 << 20;

/// What [`Resume::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// Pieces that are durably on disk and whose files did not change.
    pub have: Bitfield,
    /// Pieces that must be hashed again before they are trusted, in
    /// increasing order: those recorded after the last barrier (the session
    /// did not end cleanly), those previously had that touch a changed
    /// file, and those of an earlier `recheck` list never settled. Settle
    /// each with [`Resume::record`] or [`Resume::forget`].
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

/// An open resume journal. One owner (the disk actor) drives it; see the
/// [module docs](self).
#[derive(Debug)]
pub struct Resume {
    path: PathBuf,
    file: File,
    header: Header,
    /// Pieces recorded before the last barrier.
    durable: Bitfield,
    /// Pieces recorded since the last barrier, in order.
    pending: Vec<u32>,
    /// Pieces to recheck that are not settled yet.
    suspect: Bitfield,
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
    /// (another torrent): delete the file and open again to start over
    /// (with a full recheck if data is already there). The file is left
    /// untouched. [`StoreError::Io`] for file system errors.
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
        let replayed = match fs::read(path) {
            Ok(bytes) => Some(replay(path, &header, &bytes)?),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(path, "read", e)),
        };
        let fresh = replayed.is_none();
        let r = replayed.unwrap_or_else(|| Replay::empty(header.piece_count));

        let mut have = r.durable;
        let mut recheck = r.suspect;
        recheck.union_with(&r.pending);
        for p in have.iter_ones() {
            recheck.set(p, false);
        }
        let mut changed_files = Vec::new();
        let mut stamps = BTreeMap::new();
        for (index, _) in layout.real_files() {
            let pieces = layout.file_pieces(index);
            if !pieces.clone().any(|p| have.get(p)) {
                continue;
            }
            let disk = stamp_of(storage, index)?;
            let ours = r.dirty.contains(&index) && disk.is_some();
            let same = disk.is_some() && disk.as_ref() == r.stamps.get(&index);
            if same || ours {
                if let Some(d) = disk {
                    stamps.insert(index, d);
                }
                continue;
            }
            changed_files.push(index);
            for p in pieces {
                if have.set(p, false) {
                    recheck.set(p, true);
                }
            }
        }
        // Keep only stamps of files that still hold pieces (a neighbour's
        // change may have taken a shared piece away).
        stamps.retain(|&i, _| layout.file_pieces(i).any(|p| have.get(p)));

        let recovered = Recovered {
            have: have.clone(),
            recheck: recheck.iter_ones().collect(),
            changed_files,
            clean_shutdown: r.clean,
            fresh,
            ignored_bytes: r.ignored,
        };
        let (bytes, snapshot_len) =
            snapshot(&header, &have, &recheck, &stamps, &BTreeSet::new(), &[]);
        let file = install(path, &bytes)?;
        let resume = Resume {
            path: path.to_path_buf(),
            file,
            header,
            durable: have,
            pending: Vec::new(),
            suspect: recheck,
            dirty: BTreeSet::new(),
            stamps,
            len: bytes.len() as u64,
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
        self.check_piece(piece)?;
        self.append(&Record::Verified { piece }.encode())?;
        self.pending.push(piece);
        Ok(())
    }

    /// Records that piece `piece` is not had: it failed a recheck, or was
    /// found corrupt, or is being dropped. Effective at once (one
    /// `write()`; after power loss before the next barrier the piece may
    /// come back, in [`Recovered::recheck`] at worst if it was never
    /// durable).
    ///
    /// # Errors
    ///
    /// As [`Resume::record`].
    pub fn forget(&mut self, piece: u32) -> Result<(), StoreError> {
        self.check_piece(piece)?;
        self.append(&Record::Forget { piece }.encode())?;
        self.durable.set(piece, false);
        self.suspect.set(piece, false);
        self.pending.retain(|&p| p != piece);
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
        self.check_piece(piece)?;
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
        if synced.is_empty() && self.pending.is_empty() && self.dirty.is_empty() {
            // Nothing new since the last barrier: keep an idle journal
            // from growing.
            return Ok(());
        }
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
                let file = f as u32;
                buf.extend_from_slice(&Record::FileStamp { file, stamp }.encode());
                new_stamps.push((f, stamp));
            }
        }
        buf.extend_from_slice(&Record::Barrier.encode());
        self.append(&buf)?;
        self.fsync()?;
        for p in self.pending.drain(..) {
            self.durable.set(p, true);
            self.suspect.set(p, false);
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
    /// what awaits a recheck, the stamps, then the records still pending),
    /// through a temporary file and an atomic rename. Runs by itself from
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

    fn check_piece(&self, piece: u32) -> Result<(), StoreError> {
        if piece < self.header.piece_count {
            Ok(())
        } else {
            Err(StoreError::OutOfRange {
                piece,
                begin: 0,
                len: 0,
            })
        }
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
        let (bytes, snapshot_len) = snapshot(
            &self.header,
            &self.durable,
            &self.suspect,
            &self.stamps,
            &self.dirty,
            &self.pending,
        );
        self.file = install(&self.path, &bytes)?;
        self.len = bytes.len() as u64;
        self.snapshot_len = snapshot_len;
        self.poisoned = false;
        Ok(())
    }
}

/// The journal bytes for a state, and the length of the part up to and
/// including the snapshot's barrier (what follows is still pending).
fn snapshot(
    header: &Header,
    durable: &Bitfield,
    suspect: &Bitfield,
    stamps: &BTreeMap<usize, FileStamp>,
    dirty: &BTreeSet<usize>,
    pending: &[u32],
) -> (Vec<u8>, u64) {
    let mut buf = Vec::new();
    buf.extend_from_slice(&header.encode());
    let mut suspect = suspect.clone();
    for p in durable.iter_ones() {
        suspect.set(p, false);
    }
    for (first, bits) in bit_chunks(durable) {
        buf.extend_from_slice(&Record::HaveBits { first, bits }.encode());
    }
    for (first, bits) in bit_chunks(&suspect) {
        buf.extend_from_slice(&Record::RecheckBits { first, bits }.encode());
    }
    for (&file, &stamp) in stamps {
        let file = file as u32;
        buf.extend_from_slice(&Record::FileStamp { file, stamp }.encode());
    }
    buf.extend_from_slice(&Record::Barrier.encode());
    let snapshot_len = buf.len() as u64;
    for &f in dirty {
        buf.extend_from_slice(&Record::Dirty { file: f as u32 }.encode());
    }
    for &piece in pending {
        buf.extend_from_slice(&Record::Verified { piece }.encode());
    }
    (buf, snapshot_len)
}

/// Writes `bytes` to `<path>.tmp`, syncs it, renames it over `path`,
/// syncs the directory, and opens the result for appending.
fn install(path: &Path, bytes: &[u8]) -> Result<File, StoreError> {
    let tmp = tmp_path(path);
    let write_tmp = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write_tmp().map_err(StoreError::io_with(&tmp, "write snapshot"))?;
    fs::rename(&tmp, path).map_err(StoreError::io_with(path, "rename snapshot"))?;
    sync_dir(path)?;
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(StoreError::io_with(path, "open"))
}

/// The non-empty 160-piece chunks of `b`, as `(first piece, bits)`.
fn bit_chunks(b: &Bitfield) -> impl Iterator<Item = (u32, [u8; 20])> + '_ {
    let chunk_bytes = (BITS_PER_RECORD / 8) as usize;
    b.as_bytes()
        .chunks(chunk_bytes)
        .enumerate()
        .filter(|(_, c)| c.iter().any(|&x| x != 0))
        .map(|(i, c)| {
            let mut bits = [0u8; 20];
            for (dst, src) in bits.iter_mut().zip(c) {
                *dst = *src;
            }
            (i as u32 * BITS_PER_RECORD, bits)
        })
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

/// Fuzz entry point: replays arbitrary bytes as a journal.
///
/// The expected header is read from the input itself (piece and file counts
/// capped at 2^16 so the fuzzer explores records rather than allocations),
/// so that inputs with a valid CRC reach the record decoder. Never panics.
pub fn fuzz_journal(data: &[u8]) {
    let word = |at: usize| {
        data.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    };
    let mut id = [0u8; 20];
    if let Some(b) = data.get(20..40) {
        id.copy_from_slice(b);
    }
    let want = Header {
        piece_count: word(12).min(1 << 16),
        file_count: word(16).min(1 << 16),
        id: Sha1Hash(id),
    };
    let _ = replay(Path::new("fuzz"), &want, data);
}
