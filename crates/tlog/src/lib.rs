//! Transparency-log building blocks for bitorrent, all pure (no I/O).
//!
//! - [`merkle`]: RFC 6962 Merkle trees — leaf and node hashing, an
//!   append-only [`Frontier`], inclusion and consistency proofs (generated
//!   from stored nodes, verified as in RFC 9162).
//! - [`note`]: C2SP `signed-note` with Ed25519 keys, in the key formats of the
//!   Go reference implementation, with weighted multi-signer verification.
//! - [`checkpoint`]: C2SP `tlog-checkpoint` note bodies.
//! - [`proof`]: C2SP `tlog-proof` receipts that verify offline.
//!
//! ```
//! use btl_tlog::{leaf_hash, Checkpoint, MemoryLog, Note, NoteSigner, TlogProof, VerifierSet};
//! use btl_tlog::ed25519_dalek::SigningKey;
//!
//! let mut log = MemoryLog::new();
//! for i in 0..5u8 {
//!     log.append(&[i]);
//! }
//! // The log operator (or each of several cosigners) signs the checkpoint.
//! let signer = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[7; 32])).unwrap();
//! let cp = Checkpoint::new("example.com/log", log.size(), log.root());
//! let note = Note::sign(&cp.to_text(), &signer).unwrap();
//! // A receipt for leaf 3.
//! let proof = TlogProof {
//!     extra: None,
//!     index: 3,
//!     path: btl_tlog::inclusion_proof(&log, 3, log.size()).unwrap(),
//!     checkpoint: note,
//! };
//! let text = proof.to_text();
//! // Anyone holding the verifier key checks it offline.
//! let set = VerifierSet::new([signer.verifier()], 1);
//! let parsed = TlogProof::parse(text.as_bytes()).unwrap();
//! let checked = parsed.verify(&leaf_hash(&[3]), "example.com/log", &set).unwrap();
//! assert_eq!(checked.size, 5);
//! ```

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod proof;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root_from_nodes,
    verify_consistency, verify_inclusion, Frontier, Hash, MemoryLog, NodeSource, ProofError,
};
pub use note::{key_id, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, VerifierSet};
pub use proof::{TlogProof, TlogProofError};

/// The Ed25519 implementation used for keys and signatures (re-exported so
/// callers use the same version).
pub use ed25519_dalek;
