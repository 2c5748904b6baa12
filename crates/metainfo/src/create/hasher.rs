//! Parallel piece hashing.
//!
//! N scoped threads each take the next piece from an atomic counter, read it
//! with positional reads into their own buffer ([`CHUNK`] bytes, reused),
//! and hash it:
//!
//! - v1 ([`Mode::Stream`]): SHA-1 over the piece, which may span files.
//! - v2 / hybrid ([`Mode::Aligned`]): the piece lies in one file. Each
//!   16 KiB block is fed to SHA-1 (hybrid) and hashed into a SHA-256 leaf
//!   while it is hot in the cache; the leaves are then reduced to the
//!   piece's node in the file's piece layer. In hybrid torrents with pad
//!   files, the SHA-1 of a file's last piece continues over the pad zeros.
//!
//! Results are collected per thread and merged by piece index at the end.

use super::layout::{Layout, Mode};
use super::walk::FileEntry;
use super::CreateError;
use crate::merkle::BLOCK_SIZE;
use btl_types::{Sha1Hash, Sha256Hash};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Bytes read per positional read: a multiple of [`BLOCK_SIZE`].
///
/// Measured on the 1 GiB benchmark (2-core AMD EPYC VM, warm page cache):
/// the kernel's copy out of the page cache costs 0.10-0.18 s of CPU per GiB
/// with 32-128 KiB reads but 0.42-0.55 s with 256 KiB to 4 MiB reads, while
/// the hashing cost does not change. Syscall overhead at 64 KiB is
/// negligible.
const CHUNK: usize = 64 << 10;

/// Progress is reported when the hashed byte count crosses a multiple of
/// this.
const PROGRESS_STEP: u64 = 4 << 20;

/// Zero bytes fed to SHA-1 for pad files.
static ZEROS: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];

/// The hashes of every piece.
#[derive(Debug, Default)]
pub(crate) struct Hashes {
    /// v1 piece hashes, in piece order (empty for v2-only torrents).
    pub v1: Vec<Sha1Hash>,
    /// v2 piece-layer nodes, one per piece in [`Mode::Aligned`] order (empty
    /// for v1-only torrents). For a file of a single piece, this is the
    /// file's `pieces root` (its leaves padded only to the next power of
    /// two, as BEP 52 builds the tree of a small file).
    pub v2: Vec<Sha256Hash>,
}

/// Serializes progress calls and keeps them increasing.
struct Reporter<'a> {
    done: AtomicU64,
    last: Mutex<u64>,
    total: u64,
    callback: &'a (dyn Fn(u64, u64) + Sync),
}

impl Reporter<'_> {
    fn add(&self, n: u64) {
        let before = self.done.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        if before / PROGRESS_STEP != after / PROGRESS_STEP {
            self.report(after);
        }
    }

    fn report(&self, done: u64) {
        // A poisoned lock only means another callback panicked; the thread
        // that did so propagates that panic.
        if let Ok(mut last) = self.last.lock() {
            if done > *last {
                *last = done;
                (self.callback)(done, self.total);
            }
        }
    }
}

/// Hashes every piece of `layout` on `threads` threads.
pub(crate) fn hash(
    layout: &Layout,
    threads: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Hashes, CreateError> {
    let next = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let reporter = Reporter {
        done: AtomicU64::new(0),
        last: Mutex::new(0),
        total: layout.total_length,
        callback: progress,
    };
    let threads = threads.clamp(
        1,
        usize::try_from(layout.pieces).unwrap_or(usize::MAX).max(1),
    );
    let results: Vec<Result<Output, CreateError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut w = Worker::new(layout);
                    let r = w.run(&next, &failed, &reporter);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    r.map(|()| w.out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });

    let n = usize::try_from(layout.pieces).unwrap_or(usize::MAX);
    let mut hashes = Hashes {
        v1: if layout.version.has_v1() {
            vec![Sha1Hash::default(); n]
        } else {
            Vec::new()
        },
        v2: if layout.version.has_v2() {
            vec![Sha256Hash::default(); n]
        } else {
            Vec::new()
        },
    };
    for r in results {
        let out = r?;
        for (i, h) in out.v1 {
            hashes.v1[i as usize] = h;
        }
        for (i, h) in out.v2 {
            hashes.v2[i as usize] = h;
        }
    }
    reporter.report(layout.total_length);
    Ok(hashes)
}

/// What one thread computed: `(piece index, hash)`.
#[derive(Default)]
struct Output {
    v1: Vec<(u32, Sha1Hash)>,
    v2: Vec<(u32, Sha256Hash)>,
}

struct Worker<'a> {
    layout: &'a Layout,
    buf: Vec<u8>,
    /// The file opened last, by index.
    open: Option<(usize, File)>,
    /// The current piece's leaves, reused.
    leaves: Vec<[u8; 32]>,
    out: Output,
}

impl<'a> Worker<'a> {
    fn new(layout: &'a Layout) -> Self {
        let chunk = usize::try_from(layout.piece_length)
            .unwrap_or(CHUNK)
            .min(CHUNK);
        Worker {
            layout,
            buf: vec![0; chunk],
            open: None,
            leaves: Vec::new(),
            out: Output::default(),
        }
    }

    fn run(
        &mut self,
        next: &AtomicU64,
        failed: &AtomicBool,
        reporter: &Reporter<'_>,
    ) -> Result<(), CreateError> {
        loop {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let piece = next.fetch_add(1, Ordering::Relaxed);
            if piece >= self.layout.pieces {
                return Ok(());
            }
            let bytes = match self.layout.mode {
                Mode::Stream => self.stream_piece(piece)?,
                Mode::Aligned => self.aligned_piece(piece)?,
            };
            reporter.add(bytes);
        }
    }

    /// Fills `self.buf[..len]` from file `i` at `offset`.
    fn read(&mut self, i: usize, offset: u64, len: usize) -> Result<(), CreateError> {
        let entry = &self.layout.files[i];
        let f = open_file(&mut self.open, i, entry)?;
        read_exact_at(f, &mut self.buf[..len], offset, entry)
    }

    /// v1: SHA-1 of stream bytes `[piece * pl, min((piece + 1) * pl, total))`.
    fn stream_piece(&mut self, piece: u64) -> Result<u64, CreateError> {
        let layout = self.layout;
        let start = piece * layout.piece_length;
        let end = (start + layout.piece_length).min(layout.total_length);
        let mut sha1 = Sha1::new();
        let mut pos = start;
        while pos < end {
            let i = layout.file_at(pos);
            let file_end = layout.starts[i + 1];
            let n = (end.min(file_end) - pos).min(self.buf.len() as u64) as usize;
            self.read(i, pos - layout.starts[i], n)?;
            sha1.update(&self.buf[..n]);
            pos += n as u64;
        }
        self.out
            .v1
            .push((piece as u32, Sha1Hash(sha1.finalize().into())));
        Ok(end - start)
    }

    /// v2 / hybrid: one piece of one file.
    fn aligned_piece(&mut self, piece: u64) -> Result<u64, CreateError> {
        let layout = self.layout;
        let i = layout.file_at(piece);
        let file_len = layout.files[i].len;
        let index_in_file = piece - layout.starts[i];
        let offset = index_in_file * layout.piece_length;
        let len = (file_len - offset).min(layout.piece_length);
        let v1 = layout.version.has_v1();
        let v2 = layout.version.has_v2();

        let mut sha1 = v1.then(Sha1::new);
        self.leaves.clear();
        let mut pos = 0u64;
        while pos < len {
            let n = (len - pos).min(self.buf.len() as u64) as usize;
            self.read(i, offset + pos, n)?;
            for block in self.buf[..n].chunks(BLOCK_SIZE) {
                if let Some(h) = sha1.as_mut() {
                    h.update(block);
                }
                if v2 {
                    self.leaves.push(Sha256::digest(block).into());
                }
            }
            pos += n as u64;
        }
        if let Some(mut h) = sha1 {
            if layout.pad_files {
                let mut pad = layout.piece_length - len;
                while pad > 0 {
                    let n = pad.min(BLOCK_SIZE as u64) as usize;
                    h.update(&ZEROS[..n]);
                    pad -= n as u64;
                }
            }
            self.out
                .v1
                .push((piece as u32, Sha1Hash(h.finalize().into())));
        }
        if v2 {
            let width = if layout.file_pieces(i) == 1 {
                // A one-piece file's root: leaves padded to a power of two.
                self.leaves.len().next_power_of_two()
            } else {
                layout.blocks_per_piece() as usize
            };
            let node = reduce(&mut self.leaves, width, [0; 32]);
            self.out.v2.push((piece as u32, Sha256Hash(node)));
        }
        Ok(len)
    }
}

/// Opens file `i` unless it is the one already open, and checks that its
/// length is still the one the walk found.
fn open_file<'f>(
    open: &'f mut Option<(usize, File)>,
    i: usize,
    entry: &FileEntry,
) -> Result<&'f File, CreateError> {
    let f = match open.take() {
        Some((j, f)) if j == i => f,
        _ => {
            let err = |source| CreateError::Io {
                path: entry.abs.clone(),
                source,
            };
            let f = File::open(&entry.abs).map_err(err)?;
            let found = f.metadata().map_err(err)?.len();
            if found != entry.len {
                return Err(CreateError::FileChanged {
                    path: entry.abs.clone(),
                    expected: entry.len,
                    found,
                });
            }
            f
        }
    };
    Ok(&open.insert((i, f)).1)
}

/// Fills `buf` from `f` at `offset`; hitting the end of the file first means
/// the file shrank.
fn read_exact_at(
    f: &File,
    buf: &mut [u8],
    offset: u64,
    entry: &FileEntry,
) -> Result<(), CreateError> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(CreateError::FileChanged {
                    path: entry.abs.clone(),
                    expected: entry.len,
                    found: f.metadata().map_or(0, |m| m.len()),
                })
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(CreateError::Io {
                    path: entry.abs.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// The root over `nodes` padded to `width` entries (a power of two,
/// `>= nodes.len()`) with `pad`, the hash of a missing node at that layer.
/// `nodes` is used as scratch space.
pub(crate) fn reduce(nodes: &mut Vec<[u8; 32]>, width: usize, mut pad: [u8; 32]) -> [u8; 32] {
    let mut w = width;
    while w > 1 {
        let pairs = nodes.len().div_ceil(2);
        for k in 0..pairs {
            let left = nodes[2 * k];
            let right = nodes.get(2 * k + 1).copied().unwrap_or(pad);
            let mut h = Sha256::new();
            h.update(left);
            h.update(right);
            nodes[k] = h.finalize().into();
        }
        nodes.truncate(pairs);
        let mut h = Sha256::new();
        h.update(pad);
        h.update(pad);
        pad = h.finalize().into();
        w /= 2;
    }
    nodes.first().copied().unwrap_or(pad)
}
