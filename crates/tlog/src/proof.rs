//! C2SP `tlog-proof` (<https://c2sp.org/tlog-proof>): an offline-verifiable
//! receipt that an entry is in a log whose checkpoint was (co)signed.
//!
//! ```text
//! c2sp.org/tlog-proof@v1\n
//! [extra <base64 opaque data>\n]
//! index <leaf index, decimal>\n
//! <base64 inclusion proof hash, leaf's sibling first>\n   (zero or more)
//! \n
//! <signed checkpoint note, verbatim>
//! ```
//!
//! The extra data is not authenticated by the proof itself. Applications
//! that put the logged entry there (as the ledger does) must recompute the
//! leaf hash from it, which [`TlogProof::verify`] does through the caller's
//! leaf hash.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::checkpoint::{parse_decimal, Checkpoint, CheckpointError};
use crate::merkle::{verify_inclusion, Hash, ProofError, MAX_PROOF_HASHES};
use crate::note::{Note, VerifierSet, MAX_NOTE_BYTES};

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest extra data accepted, in bytes (decoded).
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;
/// Largest proof text accepted, in bytes.
pub const MAX_PROOF_BYTES: usize = MAX_NOTE_BYTES + MAX_EXTRA_BYTES * 2;

/// Errors from parsing or verifying a tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The proof is larger than [`MAX_PROOF_BYTES`].
    #[error("proof is larger than {MAX_PROOF_BYTES} bytes")]
    TooLarge,
    /// The proof is not UTF-8.
    #[error("proof is not valid UTF-8")]
    NotUtf8,
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("not a c2sp.org/tlog-proof@v1 proof")]
    BadHeader,
    /// The `extra` line is malformed or too large.
    #[error("malformed extra line")]
    BadExtra,
    /// The `index` line is missing or malformed.
    #[error("malformed index line")]
    BadIndex,
    /// A proof hash line is not the base64 of 32 bytes, or there are too many.
    #[error("malformed inclusion proof line {line}")]
    BadHash {
        /// 1-based number of the hash line.
        line: usize,
    },
    /// The empty line before the checkpoint is missing.
    #[error("proof has no checkpoint")]
    NoCheckpoint,
    /// The checkpoint is malformed, from another log, or not signed enough.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not match the checkpoint.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data (unauthenticated by the proof).
    pub extra: Option<Vec<u8>>,
    /// Zero-based leaf index.
    pub index: u64,
    /// Inclusion proof, leaf's sibling first.
    pub path: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: Note,
}

impl TlogProof {
    /// The proof text.
    pub fn to_text(&self) -> String {
        let mut s = String::from(HEADER);
        s.push('\n');
        if let Some(extra) = &self.extra {
            s.push_str("extra ");
            s.push_str(&B64.encode(extra));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.path {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint.to_text());
        s
    }

    /// Parses proof text (bounded by [`MAX_PROOF_BYTES`]). Nothing is
    /// verified here; see [`verify`](Self::verify).
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(TlogProofError::TooLarge);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| TlogProofError::NotUtf8)?;
        let mut rest = s;
        let mut next_line = || -> Option<&str> {
            let (line, tail) = rest.split_once('\n')?;
            rest = tail;
            Some(line)
        };
        if next_line() != Some(HEADER) {
            return Err(TlogProofError::BadHeader);
        }
        let mut line = next_line().ok_or(TlogProofError::BadIndex)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            if b64.len() > MAX_EXTRA_BYTES * 4 / 3 + 4 {
                return Err(TlogProofError::BadExtra);
            }
            extra = Some(B64.decode(b64).map_err(|_| TlogProofError::BadExtra)?);
            line = next_line().ok_or(TlogProofError::BadIndex)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(TlogProofError::BadIndex)?;
        let mut path = Vec::new();
        loop {
            let line = next_line().ok_or(TlogProofError::NoCheckpoint)?;
            if line.is_empty() {
                break;
            }
            let n = path.len() + 1;
            if n > MAX_PROOF_HASHES {
                return Err(TlogProofError::BadHash { line: n });
            }
            let h: Hash = B64
                .decode(line)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or(TlogProofError::BadHash { line: n })?;
            path.push(h);
        }
        let checkpoint =
            Note::parse(rest.as_bytes()).map_err(|e| TlogProofError::Checkpoint(e.into()))?;
        Ok(Self {
            extra,
            index,
            path,
            checkpoint,
        })
    }

    /// Verifies offline that the leaf with hash `leaf` is at
    /// [`index`](Self::index) in the log `origin`, whose checkpoint is
    /// signed by keys of `set` reaching its threshold. Returns the checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        set: &VerifierSet,
    ) -> Result<Checkpoint, TlogProofError> {
        let cp = Checkpoint::parse(self.checkpoint.text())?;
        if cp.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.to_owned(),
                found: cp.origin,
            }
            .into());
        }
        self.checkpoint.verify(set).map_err(CheckpointError::from)?;
        verify_inclusion(leaf, self.index, cp.size, &self.path, &cp.root)?;
        Ok(cp)
    }
}
