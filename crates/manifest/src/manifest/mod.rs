//! The provenance manifest: what a creator signs about a torrent.
//!
//! # Format (version 1)
//!
//! A manifest is a JSON object secured with a W3C Data Integrity proof
//! (`eddsa-jcs-2022`, see [`crate::di`]). Member names are camelCase, like
//! the proof's. Sizes and counts are **decimal strings** (a JSON number is
//! a binary64 and cannot hold every 64-bit size exactly).
//!
//! ```json
//! {
//!   "type": "BtlManifest",
//!   "version": 1,
//!   "creator": "did:key:z6Mk…",                  // the signer; must equal the proof's key
//!   "created": "2025-01-01T00:00:00Z",           // UTC, exactly this form
//!   "name": "My Album",                          // the torrent's name
//!   "infohashV2": "1220…",                       // see below
//!   "infohashV1": "…",                           // hybrids only: 40 lowercase hex
//!   "pieceLength": "262144",
//!   "files": [                                   // the torrent's files, in torrent order,
//!     { "path": "cd1/01.flac",                   //   pad files left out; path relative to
//!       "length": "31337",                       //   the torrent's top directory, "/"-joined
//!       "piecesRoot": "…" },                     //   BEP 52 root, 64 lowercase hex; absent
//!     { "path": "empty.txt", "length": "0" }     //   exactly for empty files
//!   ],
//!   "license": {
//!     "spdx": "CC-BY-NC-4.0",                    // an SPDX license expression
//!     "terms": {                                 // optional, each member optional:
//!       "regions": ["DE", "FR"],                 //   allowed regions, ISO 3166-1 alpha-2
//!       "commercialUse": false,
//!       "distributionLimit": "1000"              //   most copies the licensee may distribute
//!     }
//!   },
//!   "payment": {                                 // optional
//!     "address": "btl1…",                        // the account that receives payments
//!     "splits": [                                // optional; basis points summing to 10000
//!       { "account": "btl1…", "bps": 7000 },
//!       { "account": "btl1…", "bps": 3000 }
//!     ]
//!   },
//!   "proof": { "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
//!              "created": "…", "verificationMethod": "did:key:z6Mk…#z6Mk…",
//!              "proofPurpose": "assertionMethod", "proofValue": "z…" }
//! }
//! ```
//!
//! **Infohash text encoding.** `infohashV2` is a
//! [multihash](https://multiformats.io/multihash/) of the BEP 52 infohash:
//! the bytes `0x12` (sha2-256) `0x20` (32 bytes) followed by the SHA-256 of
//! the info dictionary, written as lowercase hex — so always `"1220"` and 64
//! hex digits, exactly the text that follows `urn:btmh:` in a BEP 9/52
//! magnet link.
//!
//! **Rules** (each refusal names its field): unknown members are refused
//! at every level; `type` is `BtlManifest` and `version` is 1; decimal
//! strings have no sign, no leading zeros and fit in 64 bits; hex is
//! lowercase; `pieceLength` is a power of two of at least 16 KiB; 1 to
//! [`MAX_FILES`] files with unique paths of plain names (no `.`, `..`,
//! empty components or backslashes); a split's `bps` is 1 to 10000, each
//! account appears once and the splits sum to 10000.
//!
//! **Bounds.** A manifest is parsed from at most [`MAX_MANIFEST_BYTES`]
//! bytes, nesting at most [`MAX_DEPTH`] deep.
//!
//! **Identity.** [`SignedManifest::id`] is the SHA-256 of the canonical
//! (JCS) form of the whole signed document, proof included: the hash the
//! ledger registers.

mod torrent;
mod validate;
mod wire;

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use btl_types::{Sha1Hash, Sha256Hash};

use crate::account::Account;
use crate::di::{self, DiError, Prepared, ProofOptions};
use crate::did::DidKey;
use crate::jcs;
use crate::json::{self, JsonError, Limits, Value};

pub use torrent::{Difference, TorrentMismatch};

/// The manifest's `type`.
pub const DOC_TYPE: &str = "BtlManifest";
/// The manifest format version this crate reads and writes.
pub const VERSION: u64 = 1;
/// Largest manifest document, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 32 << 20;
/// Deepest JSON nesting in a manifest (it needs 4).
pub const MAX_DEPTH: usize = 8;
/// Most files in a manifest.
pub const MAX_FILES: usize = 200_000;
/// Longest torrent name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Longest SPDX expression, in bytes.
pub const MAX_SPDX_LEN: usize = 256;
/// Most regions in `license.terms.regions`.
pub const MAX_REGIONS: usize = 300;
/// Most revenue splits.
pub const MAX_SPLITS: usize = 100;
/// What the splits' basis points add up to.
pub const TOTAL_BPS: u16 = 10_000;
/// Multihash header of a SHA-256 digest, in hex (`0x12 0x20`).
pub const MULTIHASH_SHA256_PREFIX: &str = "1220";

/// The JSON limits for parsing a manifest.
pub fn limits() -> Limits {
    Limits {
        max_bytes: MAX_MANIFEST_BYTES,
        max_depth: MAX_DEPTH,
        // Each file is at most 4 values; the rest is small.
        max_values: MAX_FILES * 4 + 2 * MAX_REGIONS + 3 * MAX_SPLITS + 100,
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON, or beyond the bounds.
    #[error("manifest is not valid JSON: {0}")]
    Json(#[from] JsonError),
    /// The JSON does not have the manifest's shape (a missing or unknown
    /// member, a wrong type); the message starts with the field's path.
    #[error("manifest field {0}")]
    Shape(String),
    /// A field has a value the format does not allow.
    #[error("manifest field {field}: {problem}")]
    Field {
        /// The field's JSON path, like `files[2].piecesRoot`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The proof is missing, malformed, or its signature does not verify.
    #[error("manifest signature: {0}")]
    Proof(#[from] DiError),
    /// The proof was made by a key other than the manifest's `creator`.
    #[error("manifest was signed by {signer}, not by its creator {creator}")]
    SignerNotCreator {
        /// The `creator` field.
        creator: String,
        /// The key that made the proof.
        signer: String,
    },
    /// The torrent cannot be described by a manifest.
    #[error("{0}")]
    Torrent(String),
}

/// One file of the torrent, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Path components relative to the torrent's top directory (the file
    /// name alone for a single-file torrent).
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// BEP 52 pieces root; `None` exactly for empty files.
    pub pieces_root: Option<Sha256Hash>,
}

/// Optional license terms beyond the SPDX identifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    /// Regions (ISO 3166-1 alpha-2) where use is allowed; `None` = anywhere.
    pub regions: Option<Vec<String>>,
    /// Whether commercial use is allowed; `None` = as the license says.
    pub commercial_use: Option<bool>,
    /// Most copies a licensee may distribute; `None` = no limit.
    pub distribution_limit: Option<u64>,
}

/// The license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// An SPDX license expression, e.g. `CC-BY-4.0`.
    pub spdx: String,
    /// Optional terms.
    pub terms: Option<Terms>,
}

/// One revenue split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Who receives the share.
    pub account: Account,
    /// The share, in basis points (1/10000).
    pub bps: u16,
}

/// Where payments go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The account that receives payments.
    pub address: Account,
    /// How revenue is split (summing to 10000 bps); empty = all to
    /// `address`.
    pub splits: Vec<Split>,
}

/// A validated manifest (without its proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The creator, who signs.
    pub creator: DidKey,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// The torrent's name.
    pub name: String,
    /// BEP 52 infohash.
    pub infohash_v2: Sha256Hash,
    /// BEP 3 infohash, for hybrid torrents.
    pub infohash_v1: Option<Sha1Hash>,
    /// The torrent's piece length.
    pub piece_length: u64,
    /// The files, in torrent order, pad files left out.
    pub files: Vec<ManifestFile>,
    /// The license.
    pub license: License,
    /// Payment address and splits.
    pub payment: Option<Payment>,
}

impl Manifest {
    /// The unsigned JSON document, members in the documented order.
    pub fn to_value(&self) -> Value {
        let doc = validate::to_doc(self);
        // Serializing plain strings, integers and options cannot fail, and
        // serde writes struct fields in declaration order, which parsing
        // keeps.
        serde_json::to_vec(&doc)
            .ok()
            .and_then(|b| json::parse(&b, limits()).ok())
            .unwrap_or(Value::Null)
    }

    /// Checks the manifest's own rules (as parsing does); useful after
    /// building one by hand.
    ///
    /// # Errors
    ///
    /// A [`ManifestError::Field`] naming the field.
    pub fn validate(&self) -> Result<(), ManifestError> {
        validate::from_doc(&validate::to_doc(self), None).map(|_| ())
    }

    /// Signs the manifest with `key` at `created` (Unix seconds, the proof's
    /// `created`). The key must be the creator's.
    ///
    /// # Errors
    ///
    /// [`ManifestError::SignerNotCreator`] for another key, or a field
    /// error if the manifest breaks a rule.
    pub fn sign(&self, key: &SigningKey, created: i64) -> Result<SignedManifest, ManifestError> {
        let signer = DidKey::of(key);
        if signer != self.creator {
            return Err(ManifestError::SignerNotCreator {
                creator: self.creator.to_string(),
                signer: signer.to_string(),
            });
        }
        self.validate()?;
        let mut document = self.to_value();
        di::sign(&mut document, &ProofOptions::assertion(created), key)?;
        Ok(SignedManifest {
            manifest: self.clone(),
            document,
        })
    }
}

/// A manifest with its proof, as stored and exchanged. Holding one does
/// not mean the signature was checked: [`SignedManifest::parse`] checks
/// it, [`SignedManifest::parse_unverified`] does not (for batches).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedManifest {
    manifest: Manifest,
    document: Value,
}

impl SignedManifest {
    /// Parses and fully verifies a signed manifest: bounds, shape, every
    /// field, the proof, and that the creator signed it.
    ///
    /// # Errors
    ///
    /// A [`ManifestError`] naming the first problem.
    pub fn parse(bytes: &[u8]) -> Result<SignedManifest, ManifestError> {
        let (m, p) = SignedManifest::parse_unverified(bytes)?;
        di::verify_prepared(&p)?;
        Ok(m)
    }

    /// Like [`parse`](Self::parse) from an already parsed JSON value.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn from_value(document: Value) -> Result<SignedManifest, ManifestError> {
        let (m, p) = SignedManifest::from_value_unverified(document)?;
        di::verify_prepared(&p)?;
        Ok(m)
    }

    /// Everything [`parse`](Self::parse) does except the signature
    /// itself, which the returned [`Prepared`] lets the caller check,
    /// alone ([`di::verify_prepared`]) or in a batch
    /// ([`di::verify_prepared_batch`]).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), except a bad signature.
    pub fn parse_unverified(bytes: &[u8]) -> Result<(SignedManifest, Prepared), ManifestError> {
        SignedManifest::from_value_unverified(json::parse(bytes, limits())?)
    }

    /// [`parse_unverified`](Self::parse_unverified) from a JSON value.
    ///
    /// # Errors
    ///
    /// As [`parse_unverified`](Self::parse_unverified).
    pub fn from_value_unverified(
        document: Value,
    ) -> Result<(SignedManifest, Prepared), ManifestError> {
        let doc: wire::Doc<'_> =
            serde_path_to_error::deserialize(crate::json_de::ValueDe(&document))
                .map_err(|e| ManifestError::Shape(shape_message(&e)))?;
        if doc.proof.is_none() {
            return Err(ManifestError::Proof(DiError::NoProof));
        }
        // The proof first: its key, already decoded, is usually the
        // creator's (then the creator's text need not be decoded again).
        let prepared = di::prepare(&document, di::ASSERTION_METHOD);
        let known = prepared.as_ref().ok().map(|p| p.signer);
        let manifest = validate::from_doc(&doc, known)?;
        let prepared = prepared?;
        if prepared.signer != manifest.creator {
            return Err(ManifestError::SignerNotCreator {
                creator: manifest.creator.to_string(),
                signer: prepared.signer.to_string(),
            });
        }
        Ok((SignedManifest { manifest, document }, prepared))
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The whole signed JSON document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The canonical (JCS) bytes of the signed document.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // The document came from the parser or from `to_value`: all numbers
        // are finite, so canonicalization cannot fail.
        jcs::canonicalize(&self.document).unwrap_or_default()
    }

    /// The manifest's id: SHA-256 of [`canonical_bytes`](Self::canonical_bytes).
    pub fn id(&self) -> Sha256Hash {
        Sha256Hash(Sha256::digest(self.canonical_bytes()).into())
    }

    /// The proof's `created`, as Unix seconds (our manifests always have
    /// it; Data Integrity makes it optional).
    pub fn signed_at(&self) -> Option<i64> {
        self.document
            .get("proof")
            .and_then(|p| p.get("created"))
            .and_then(Value::as_str)
            .and_then(|s| crate::time::parse_datetime(s).ok())
    }

    /// The signed document as indented JSON (members in manifest order),
    /// for files meant to be read by people too.
    pub fn to_json_pretty(&self) -> String {
        json::to_pretty(&self.document).unwrap_or_default()
    }
}

/// The `serde_path_to_error` message as `path: problem`.
fn shape_message(e: &serde_path_to_error::Error<serde::de::value::Error>) -> String {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    if path == "." {
        inner
    } else {
        format!("{path}: {inner}")
    }
}
