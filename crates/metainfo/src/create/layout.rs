//! Piece length rules and the mapping from pieces to file ranges.

use super::walk::{FileEntry, Walked};
use super::{CreateError, TorrentVersion};
use crate::merkle::BLOCK_SIZE;

/// The smallest piece length accepted: one 16 KiB block.
pub const MIN_PIECE_LENGTH: u64 = BLOCK_SIZE as u64;

/// The largest piece length accepted: 256 MiB.
pub const MAX_PIECE_LENGTH: u64 = 256 << 20;

/// The piece length [`default_piece_length`] starts from: 512 KiB.
const DEFAULT_BASE: u64 = 512 << 10;

/// The largest piece length [`default_piece_length`] picks: 16 MiB.
const DEFAULT_CAP: u64 = 16 << 20;

/// The piece count [`default_piece_length`] tries to stay under.
const DEFAULT_MAX_PIECES: u64 = 8192;

/// The piece length used when none is given, for a payload of
/// `total_payload` bytes.
///
/// The rule: start at 512 KiB and double while the payload would need more
/// than 8,192 pieces, up to 16 MiB. So everything up to 4 GiB gets 512 KiB
/// pieces, 8 GiB gets 1 MiB, 64 GiB gets 8 MiB, and from 128 GiB on the
/// pieces are 16 MiB (and their number grows past 8,192).
///
/// Why: 512 KiB pieces are small enough that a new peer has something to
/// share within seconds and a corrupt piece costs little to fetch again,
/// and they are the unit a seeder is paid per. 8,192 pieces bound the
/// metadata a peer must fetch before it can start (BEP 9): 160 KiB of v1
/// hashes in the info dictionary and 256 KiB of v2 piece layers, and the
/// bitfield stays at 1 KiB. Beyond 16 MiB a single piece takes too long to
/// download from one peer and to re-fetch after a hash failure, so we let
/// the count grow instead. The result is always a power of two, valid for
/// v1, v2 and hybrid torrents.
pub fn default_piece_length(total_payload: u64) -> u64 {
    let mut pl = DEFAULT_BASE;
    while pl < DEFAULT_CAP && total_payload.div_ceil(pl) > DEFAULT_MAX_PIECES {
        pl *= 2;
    }
    pl
}

/// Checks a caller-chosen piece length.
pub(crate) fn check_piece_length(pl: u64, version: TorrentVersion) -> Result<(), CreateError> {
    let reason = if pl < MIN_PIECE_LENGTH {
        Some("must be at least 16 KiB (16384)")
    } else if pl > MAX_PIECE_LENGTH {
        Some("must be at most 256 MiB")
    } else if version.has_v2() && !pl.is_power_of_two() {
        Some("v2 and hybrid torrents need a power of two (BEP 52)")
    } else if pl & (MIN_PIECE_LENGTH - 1) != 0 {
        Some("must be a multiple of 16 KiB (16384)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CreateError::InvalidPieceLength {
            piece_length: pl,
            reason,
        }),
        None => Ok(()),
    }
}

/// How hashing work is cut up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// v1 only: the files are one stream and a piece may span several files.
    /// `starts[i]` is the stream offset of file `i`.
    Stream,
    /// v2 and hybrid: every file starts a new piece. `starts[i]` is the index
    /// of file `i`'s first piece; a piece is one job.
    Aligned,
}

/// The files, the piece length and the pieces.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The torrent's `name`.
    pub name: Vec<u8>,
    /// Multi-file layout (the path was a directory).
    pub is_dir: bool,
    /// The files, in torrent order.
    pub files: Vec<FileEntry>,
    /// v1, v2 or hybrid.
    pub version: TorrentVersion,
    /// Bytes per piece.
    pub piece_length: u64,
    /// How pieces map to files.
    pub mode: Mode,
    /// Per file, then one sentinel: stream offsets ([`Mode::Stream`]) or
    /// first piece indices ([`Mode::Aligned`]).
    pub starts: Vec<u64>,
    /// Number of pieces (jobs). In hybrid mode this is also the number of
    /// v1 pieces.
    pub pieces: u64,
    /// Sum of the file lengths.
    pub total_length: u64,
    /// Whether the v1 file list gets BEP 47 pad files (hybrid with more than
    /// one file).
    pub pad_files: bool,
}

impl Layout {
    /// Lays out `walked` for `version` with pieces of `piece_length`.
    pub(crate) fn new(
        walked: Walked,
        version: TorrentVersion,
        piece_length: u64,
    ) -> Result<Self, CreateError> {
        let Walked {
            name,
            is_dir,
            files,
        } = walked;
        let total_length: u64 = files.iter().map(|f| f.len).sum();
        let mut starts = Vec::with_capacity(files.len() + 1);
        let (mode, pieces) = match version {
            TorrentVersion::V1 => {
                let mut off = 0u64;
                for f in &files {
                    starts.push(off);
                    off += f.len;
                }
                starts.push(off);
                (Mode::Stream, total_length.div_ceil(piece_length))
            }
            TorrentVersion::V2 | TorrentVersion::Hybrid => {
                let mut first = 0u64;
                for f in &files {
                    starts.push(first);
                    first += f.len.div_ceil(piece_length);
                }
                starts.push(first);
                (Mode::Aligned, first)
            }
        };
        if pieces > u64::from(u32::MAX) {
            return Err(CreateError::TooManyPieces { pieces });
        }
        let pad_files = version == TorrentVersion::Hybrid && files.len() > 1;
        Ok(Layout {
            name,
            is_dir,
            files,
            version,
            piece_length,
            mode,
            starts,
            pieces,
            total_length,
            pad_files,
        })
    }

    /// The file that holds stream offset `off` ([`Mode::Stream`]) or piece
    /// `piece` ([`Mode::Aligned`]): the last file whose start is `<= at`,
    /// which skips empty files.
    pub(crate) fn file_at(&self, at: u64) -> usize {
        self.starts.partition_point(|&s| s <= at).saturating_sub(1)
    }

    /// Number of pieces of file `i` ([`Mode::Aligned`]).
    pub(crate) fn file_pieces(&self, i: usize) -> u64 {
        self.starts[i + 1] - self.starts[i]
    }

    /// Blocks (16 KiB leaves) per piece.
    pub(crate) fn blocks_per_piece(&self) -> u64 {
        self.piece_length / BLOCK_SIZE as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_piece_length_rule() {
        const KIB: u64 = 1 << 10;
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        assert_eq!(default_piece_length(1), 512 * KIB);
        assert_eq!(default_piece_length(GIB), 512 * KIB);
        assert_eq!(default_piece_length(4 * GIB), 512 * KIB);
        assert_eq!(default_piece_length(4 * GIB + 1), MIB);
        assert_eq!(default_piece_length(64 * GIB), 8 * MIB);
        assert_eq!(default_piece_length(128 * GIB), 16 * MIB);
        assert_eq!(default_piece_length(10_000 * GIB), 16 * MIB);
    }

    #[test]
    fn piece_length_checks() {
        use TorrentVersion::*;
        assert!(check_piece_length(16384, V2).is_ok());
        assert!(check_piece_length(8192, V1).is_err());
        assert!(check_piece_length(3 * 16384, V1).is_ok());
        assert!(check_piece_length(3 * 16384, Hybrid).is_err());
        assert!(check_piece_length(3 * 16384 + 1, V1).is_err());
        assert!(check_piece_length(512 << 20, V1).is_err());
    }
}
