//! The error type: which field was wrong, and how.

use btl_bencode::DecodeError;

/// Why a `.torrent` file (or an info dictionary) was refused.
///
/// It names the offending field as a dotted path from the top of the file,
/// for example `info.files[3].path[1]`, `info.piece length` or
/// `piece layers[<hex root>]`, and says what was wrong with it. Its
/// `Display` form is `<field>: <problem>`, e.g.
/// `info.piece length: must be a power of two >= 16384 for v2, got 1000`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct TorrentError {
    field: String,
    problem: Problem,
}

impl TorrentError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        TorrentError {
            field: field.into(),
            problem,
        }
    }

    /// The offending field, as a dotted path (`info.files[3].length`).
    /// `torrent` names the file as a whole.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong with the field.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

/// What was wrong with a field of a torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The input is not strict, canonical bencode.
    #[error("not valid bencode: {0}")]
    Bencode(DecodeError),
    /// A required field is absent.
    #[error("is missing")]
    Missing,
    /// The field has the wrong bencode type.
    #[error("must be of type {expected}, got {found}")]
    WrongType {
        /// The type the field must have.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },
    /// A text field is not valid UTF-8.
    #[error("is not valid UTF-8")]
    NotUtf8,
    /// A string or list that must not be empty is empty.
    #[error("must not be empty")]
    Empty,
    /// A file or directory name that could escape the download directory
    /// or is otherwise unusable as a path component.
    #[error("is not a safe path component: {0}")]
    UnsafePath(&'static str),
    /// A string is longer than allowed.
    #[error("is {got} bytes long, the limit is {max}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The actual length.
        got: usize,
    },
    /// A count (files, path components, URLs, pieces) is above its cap.
    #[error("has more than {max} {what}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// The cap.
        max: u64,
    },
    /// An integer that must be non-negative is negative.
    #[error("must not be negative, got {0}")]
    Negative(i64),
    /// Adding up lengths or offsets overflows 64 bits.
    #[error("the sum of lengths overflows 64 bits")]
    Overflow,
    /// The piece length breaks a rule.
    #[error("must be {rule}, got {got}")]
    PieceLength {
        /// The rule that was broken.
        rule: &'static str,
        /// The value found.
        got: i64,
    },
    /// A flag that must be 0 or 1 has another value.
    #[error("must be 0 or 1, got {0}")]
    NotZeroOrOne(i64),
    /// `meta version` is not 2.
    #[error("unsupported meta version {0} (only 2 is defined)")]
    UnsupportedMetaVersion(i64),
    /// A hash (or a string of concatenated hashes) has the wrong length.
    #[error("must be {expected} bytes, got {got}")]
    HashLength {
        /// The required length in bytes.
        expected: u64,
        /// The actual length.
        got: u64,
    },
    /// The v1 `pieces` string does not hold one hash per piece.
    #[error("must hold {expected} SHA-1 hashes ({pieces_len} bytes) for {total} bytes in pieces of {piece_length}, got {got_len} bytes")]
    PieceCount {
        /// Pieces implied by the total length.
        expected: u64,
        /// `20 * expected`.
        pieces_len: u64,
        /// Total length, pad files included.
        total: u64,
        /// The piece length.
        piece_length: u64,
        /// The length of `pieces` found.
        got_len: u64,
    },
    /// The info dictionary has both or neither of `length` and `files`.
    #[error("must have exactly one of `length` (single file) and `files` (multi-file)")]
    LengthOrFiles,
    /// A v2 key appears in a torrent that is not v2 (or the reverse).
    #[error("is only allowed in {0} torrents")]
    NotAllowed(&'static str),
    /// The torrent has no files.
    #[error("must describe at least one file")]
    NoFiles,
    /// A path is both a file and a directory (or a prefix of another file).
    #[error("`{0}` is both a file and a directory")]
    FileAndDirectory(String),
    /// Two files have the same path.
    #[error("`{0}` appears more than once")]
    DuplicatePath(String),
    /// A directory of the v2 file tree has no entries.
    #[error("is an empty directory")]
    EmptyDirectory,
    /// A pad file (`attr` containing `p`) appears in the v2 file tree.
    #[error("pad files must not appear in the file tree")]
    PadInFileTree,
    /// An empty file has a `pieces root`.
    #[error("must be absent for an empty file")]
    RootOnEmptyFile,
    /// A symlink has no `symlink path`.
    #[error("a symlink (attr `l`) needs a `symlink path`")]
    SymlinkWithoutTarget,
    /// A file of a v2 torrent larger than one piece has no piece layer.
    #[error("has no entry for file `{file}` (pieces root {root})")]
    MissingPieceLayer {
        /// The file's path.
        file: String,
        /// The file's pieces root.
        root: String,
    },
    /// A piece layer has the wrong length for its file.
    #[error("must hold {expected} hashes ({} bytes) for file `{file}`, got {got_bytes} bytes", expected.saturating_mul(32))]
    PieceLayerLength {
        /// The file's path.
        file: String,
        /// `ceil(length / piece length)`.
        expected: u64,
        /// Length of the layer string, in bytes.
        got_bytes: u64,
    },
    /// A piece layer does not hash up to its file's pieces root.
    #[error("does not hash to the pieces root of file `{file}`")]
    PieceLayerMismatch {
        /// The file's path.
        file: String,
    },
    /// A piece layer matches no file larger than one piece.
    #[error("matches no file larger than one piece")]
    UnexpectedPieceLayer,
    /// Hybrid: the v1 file list and the v2 file tree have different
    /// numbers of (non-pad) files.
    #[error("lists {v1} files (pad files excluded) but the file tree has {v2}")]
    HybridFileCount {
        /// Non-pad files in the v1 list.
        v1: u64,
        /// Files in the v2 tree.
        v2: u64,
    },
    /// Hybrid: a v1 file differs from the file at the same position in the
    /// v2 file tree.
    #[error("does not match the file tree: v1 has {v1}, the file tree has {v2}")]
    HybridMismatch {
        /// Description of the v1 file.
        v1: String,
        /// Description of the v2 file.
        v2: String,
    },
    /// Hybrid: a file does not start on a piece boundary.
    #[error("starts at byte {offset}, which is not where the file tree puts it ({expected}); pad files must align every file to a piece boundary")]
    Misaligned {
        /// Offset in the v1 piece space.
        offset: u64,
        /// Offset implied by the v2 layout.
        expected: u64,
    },
    /// Hybrid: the single-file/multi-file layouts of v1 and v2 disagree.
    #[error("the v1 part is a {v1} torrent but the file tree describes a {v2} torrent")]
    HybridLayout {
        /// `single-file` or `multi-file`.
        v1: &'static str,
        /// `single-file` or `multi-file`.
        v2: &'static str,
    },
    /// Hybrid: v1 and v2 imply different piece counts.
    #[error("v1 has {v1} pieces but the v2 files need {v2}")]
    HybridPieceCount {
        /// Pieces in the v1 `pieces` string.
        v1: u64,
        /// Sum over files of `ceil(length / piece length)`.
        v2: u64,
    },
}
