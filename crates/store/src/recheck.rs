//! Parallel re-hashing of pieces already on disk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::verify::{PieceCheck, PieceHashes};
use crate::{Bitfield, Storage};

/// Bytes read per `pread` (a multiple of 16 KiB, so v2 leaves are never
/// split across reads more than needed).
const READ_CHUNK: usize = 1 << 20;

/// Hashes `pieces` from `storage` on `threads` threads and returns the set
/// of those that verify against `hashes`.
///
/// Each thread claims the next piece from a shared counter and reads it
/// with positional reads of at most 1 MiB into one reusable buffer, hashing
/// as it goes ([`PieceCheck`]), so memory stays at about `threads` MiB
/// whatever the piece length. A piece that cannot be read (missing file,
/// I/O error), that is out of range, or that has no known hash counts as
/// not had.
///
/// `progress` receives `(bytes hashed, total bytes)` after every piece,
/// one call at a time with increasing values, and a last time with
/// `(total, total)`.
pub fn recheck(
    storage: &Storage,
    hashes: &PieceHashes,
    pieces: impl Iterator<Item = u32>,
    threads: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Bitfield {
    let layout = storage.layout();
    let list: Vec<u32> = pieces.filter(|&p| layout.piece_len(p).is_some()).collect();
    let total: u64 = list
        .iter()
        .filter_map(|&p| layout.piece_len(p))
        .map(u64::from)
        .sum();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(0u64);
    let threads = threads.clamp(1, list.len().max(1));
    let mut good = Bitfield::new(layout.piece_count());
    let found: Vec<Vec<u32>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; READ_CHUNK.min(layout.piece_length() as usize)];
                    let mut ok = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&piece) = list.get(i) else { break };
                        let len = layout.piece_len(piece).unwrap_or(0);
                        if check_piece(storage, hashes, piece, len, &mut buf) {
                            ok.push(piece);
                        }
                        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                        *d += u64::from(len);
                        progress(*d, total);
                    }
                    ok
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for p in found.into_iter().flatten() {
        good.set(p, true);
    }
    progress(total, total);
    good
}

/// Reads piece `piece` (of `len` bytes) in chunks through `buf` and checks
/// it.
fn check_piece(
    storage: &Storage,
    hashes: &PieceHashes,
    piece: u32,
    len: u32,
    buf: &mut [u8],
) -> bool {
    if !hashes.can_verify(piece) || buf.is_empty() {
        return false;
    }
    let mut check = PieceCheck::new(hashes, piece);
    let mut at = 0u32;
    while at < len {
        let n = (len - at).min(buf.len() as u32);
        let Some(chunk) = buf.get_mut(..n as usize) else {
            return false;
        };
        if storage.read(piece, at, chunk).is_err() {
            return false;
        }
        check.update(chunk);
        at += n;
    }
    check.finish()
}
