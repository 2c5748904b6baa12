//! Reading a journal back: header checks and record replay.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::format::{self, Header, HeaderError, Record, BITS_PER_RECORD, HEADER_LEN, RECORD_LEN};
use super::FileStamp;
use crate::{Bitfield, StoreError};

/// The state a replay ends in.
pub(super) struct Replay {
    /// Pieces vouched for by a barrier.
    pub durable: Bitfield,
    /// Pieces recorded after the last barrier.
    pub pending: Bitfield,
    /// Pieces marked for recheck (never promoted by a barrier).
    pub suspect: Bitfield,
    /// Stamps committed by a barrier.
    pub stamps: BTreeMap<usize, FileStamp>,
    /// Files announced as being written after the last barrier.
    pub dirty: BTreeSet<usize>,
    /// The last record read was `CleanShutdown`.
    pub clean: bool,
    /// Bytes after the last good record.
    pub ignored: u64,
}

impl Replay {
    pub(super) fn empty(piece_count: u32) -> Replay {
        Replay {
            durable: Bitfield::new(piece_count),
            pending: Bitfield::new(piece_count),
            suspect: Bitfield::new(piece_count),
            stamps: BTreeMap::new(),
            dirty: BTreeSet::new(),
            clean: false,
            ignored: 0,
        }
    }
}

/// The indexes (0..160) of the set bits of a bits payload.
pub(super) fn set_bits(bits: &[u8; 20]) -> impl Iterator<Item = u32> + '_ {
    (0..BITS_PER_RECORD).filter(|j| bits[(j / 8) as usize] & (0x80 >> (j % 8)) != 0)
}

/// Checks the header of `bytes` against `want` and replays the records.
pub(super) fn replay(path: &Path, want: &Header, bytes: &[u8]) -> Result<Replay, StoreError> {
    let header = check_header(path, want, bytes)?;
    let count = header.piece_count;
    let mut r = Replay::empty(count);
    let mut pending_stamps = BTreeMap::new();
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let mut used = 0usize;
    for chunk in body.chunks(RECORD_LEN) {
        let Some(rec) = Record::decode(chunk) else {
            break;
        };
        if !in_range(&rec, &header) {
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
            Record::RecheckBits { first, bits } => {
                for j in set_bits(&bits) {
                    r.suspect.set(first + j, true);
                }
            }
            Record::Forget { piece } => {
                r.durable.set(piece, false);
                r.pending.set(piece, false);
                r.suspect.set(piece, false);
            }
            Record::FileStamp { file, stamp } => {
                pending_stamps.insert(file as usize, stamp);
            }
            Record::Dirty { file } => {
                r.dirty.insert(file as usize);
            }
            Record::Barrier => {
                for p in r.pending.iter_ones() {
                    r.suspect.set(p, false);
                }
                r.durable.union_with(&r.pending);
                r.pending = Bitfield::new(count);
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

/// Whether every piece and file a record names exists.
fn in_range(rec: &Record, header: &Header) -> bool {
    let piece_ok = |p: u32| p < header.piece_count;
    match *rec {
        Record::Verified { piece } | Record::Forget { piece } => piece_ok(piece),
        Record::HaveBits { first, ref bits } | Record::RecheckBits { first, ref bits } => {
            first % BITS_PER_RECORD == 0
                && set_bits(bits).all(|j| first.checked_add(j).is_some_and(piece_ok))
        }
        Record::FileStamp { file, .. } | Record::Dirty { file } => file < header.file_count,
        Record::Barrier | Record::CleanShutdown => true,
    }
}

fn check_header(path: &Path, want: &Header, bytes: &[u8]) -> Result<Header, StoreError> {
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
    Ok(header)
}
