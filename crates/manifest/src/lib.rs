//! Provenance manifests (placeholder).
pub mod base58;
pub mod di;
pub mod did;
pub mod jcs;
pub mod json;
pub mod time;
