//! C2SP `tlog-checkpoint` (<https://c2sp.org/tlog-checkpoint>): the note text
//! that commits to a log's size and root.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 root hash>\n
//! [<extension line>\n ...]
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::Hash;
use crate::note::{Note, NoteError, VerifierSet};

/// Most extension lines accepted.
pub const MAX_EXTENSIONS: usize = 16;

/// Errors from parsing checkpoint text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The text has fewer than three lines or does not end in a newline.
    #[error("checkpoint needs origin, size and root lines")]
    Truncated,
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The size line is not a canonical decimal number.
    #[error("checkpoint size is not a canonical decimal number")]
    BadSize,
    /// The root line is not the base64 of 32 bytes.
    #[error("checkpoint root is not a base64 SHA-256 hash")]
    BadRoot,
    /// An extension line is empty, or there are too many.
    #[error("bad checkpoint extension lines")]
    BadExtension,
    /// The checkpoint's origin is not the expected one.
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    WrongOrigin {
        /// The origin expected by the caller.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// The enclosing note failed to parse or verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log checkpoint: origin, tree size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity, e.g. `example.com/log`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extension lines (non-empty each, without newline).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses checkpoint note text (the text of a note, not the signed note).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Truncated)?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or(CheckpointError::Truncated)?;
        let size = lines.next().ok_or(CheckpointError::Truncated)?;
        let root = lines.next().ok_or(CheckpointError::Truncated)?;
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal(size).ok_or(CheckpointError::BadSize)?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(CheckpointError::BadRoot)?;
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() || extensions.len() >= MAX_EXTENSIONS {
                return Err(CheckpointError::BadExtension);
            }
            extensions.push(l.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Parses a signed checkpoint note, verifies its signatures against
    /// `set` and checks its origin. Returns the checkpoint and the note.
    pub fn open(
        signed_note: &[u8],
        origin: &str,
        set: &VerifierSet,
    ) -> Result<(Self, Note), CheckpointError> {
        let note = Note::parse(signed_note)?;
        let cp = Self::parse(note.text())?;
        if cp.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.to_owned(),
                found: cp.origin,
            });
        }
        note.verify(set)?;
        Ok((cp, note))
    }
}

/// Parses an ASCII decimal with no sign and no leading zeros (except `0`).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}
