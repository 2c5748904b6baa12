//! Provenance manifests for bitorrent: who made a torrent, under which
//! license, and where payments go — signed so that anyone can check it
//! offline.
//!
//! Pure: no I/O, no clock, no randomness (times and keys are passed in).
//!
//! | module | what |
//! |---|---|
//! | [`json`] | strict, bounded I-JSON parser ([`json::Value`]) |
//! | [`jcs`] | RFC 8785 JSON Canonicalization Scheme |
//! | [`base58`] | base58btc and its multibase form (`z…`) |
//! | [`did`] | `did:key` and Multikey forms of Ed25519 keys |
//! | [`account`] | ledger account addresses (`btl1…`) |
//! | [`di`] | W3C Data Integrity proofs, cryptosuite `eddsa-jcs-2022` (single and batch verification) |
//! | [`time`] | XML Schema date-times |
//! | [`manifest`] | the manifest format, validation, torrent matching ([`Manifest`], [`SignedManifest`]) |
//! | [`prov`] | `.prov` files: a signed manifest plus its ledger receipt ([`ProvFile`]) |
//!
//! # A manifest's life
//!
//! ```text
//! creator:  m = Manifest::from_torrent(&torrent, DidKey::of(&key), now, license, payment)?
//!           signed = m.sign(&key, now)?                      // eddsa-jcs-2022 proof
//!           write ProvFile::new(&signed).to_json_pretty() to <infohash>.prov
//! anyone:   prov = ProvFile::parse(&bytes)?                  // bounded
//!           signed = prov.manifest()?                        // shape, fields, proof, signer == creator
//!           signed.manifest().check_torrent(&torrent)?       // infohashes, files, pieces roots
//! ```
//!
//! The test vectors of the W3C Recommendation (Appendix B.3) and of RFC
//! 8785 pass (see `tests/`), and golden vectors pin our own documents.

pub mod account;
pub mod base58;
pub mod di;
pub mod did;
pub mod jcs;
pub mod json;
mod json_de;
pub mod manifest;
pub mod prov;
pub mod time;

pub use account::Account;
pub use did::DidKey;
pub use manifest::{
    Difference, License, Manifest, ManifestError, ManifestFile, Payment, SignedManifest, Split,
    Terms, TorrentMismatch,
};
pub use prov::{fuzz_prov, ProvFile};

/// Re-exported so callers need not depend on `ed25519-dalek` to hold keys.
pub use ed25519_dalek::SigningKey;
