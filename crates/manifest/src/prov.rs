//! `.prov` files: a signed manifest and, once the torrent is registered on
//! the ledger, its receipt.
//!
//! # Format (version 1)
//!
//! A UTF-8 JSON object, written indented for people to read (nothing in it
//! depends on the layout: the manifest's signature covers its canonical
//! form):
//!
//! ```json
//! {
//!   "type": "BtlProvenance",
//!   "version": 1,
//!   "manifest": { …the signed manifest, see btl_manifest::manifest… },
//!   "receipt": "c2sp.org/tlog-proof@v1\n…"     // optional
//! }
//! ```
//!
//! `receipt`, when present, is a C2SP `tlog-proof` (an RFC 6962 inclusion
//! proof and the validators' cosigned checkpoint) showing that the ledger
//! registered this manifest; it is absent until the torrent is published.
//! Unknown members are refused. The file is named `<infohash>.prov`, with
//! the v2 infohash as 64 lowercase hex digits ([`file_name`]), and lives
//! beside the `.torrent`.
//!
//! **Bounds**: at most [`MAX_PROV_BYTES`]; the receipt at most
//! [`MAX_RECEIPT_BYTES`].

use btl_types::Sha256Hash;

use crate::di::Prepared;
use crate::json::{self, JsonError, Limits, Value};
use crate::manifest::{self, ManifestError, SignedManifest};

/// The `.prov` document's `type`.
pub const PROV_TYPE: &str = "BtlProvenance";
/// The `.prov` format version.
pub const PROV_VERSION: f64 = 1.0;
/// Largest `.prov` file.
pub const MAX_PROV_BYTES: usize = manifest::MAX_MANIFEST_BYTES + (1 << 20);
/// Largest receipt.
pub const MAX_RECEIPT_BYTES: usize = 64 << 10;
/// How a receipt starts (the C2SP `tlog-proof` header line).
pub const RECEIPT_HEADER: &str = "c2sp.org/tlog-proof@v1\n";

/// Why a `.prov` file was refused (before looking into the manifest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProvError {
    /// Not JSON, or beyond the bounds.
    #[error("not a valid .prov file: {0}")]
    Json(#[from] JsonError),
    /// A member is missing, unknown or of the wrong kind.
    #[error("not a valid .prov file: {0}")]
    Shape(String),
}

/// A parsed `.prov` file. The manifest inside is not verified yet: see
/// [`ProvFile::manifest`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProvFile {
    manifest: Value,
    /// The receipt (C2SP `tlog-proof` text), if the torrent is registered.
    pub receipt: Option<String>,
}

/// The file name of the `.prov` for a torrent: `<v2 infohash hex>.prov`.
pub fn file_name(infohash_v2: &Sha256Hash) -> String {
    format!("{}.prov", infohash_v2.to_hex())
}

impl ProvFile {
    /// A `.prov` for a signed manifest, with no receipt yet.
    pub fn new(manifest: &SignedManifest) -> ProvFile {
        ProvFile {
            manifest: manifest.document().clone(),
            receipt: None,
        }
    }

    /// Parses a `.prov` file's envelope (bounded).
    ///
    /// # Errors
    ///
    /// A [`ProvError`] naming the member at fault.
    pub fn parse(bytes: &[u8]) -> Result<ProvFile, ProvError> {
        let limits = Limits {
            max_bytes: MAX_PROV_BYTES,
            max_depth: manifest::MAX_DEPTH + 1,
            max_values: manifest::limits().max_values + 10,
        };
        let v = json::parse(bytes, limits)?;
        let Value::Object(members) = v else {
            return Err(ProvError::Shape(format!(
                "the top level is {}, not an object",
                v.kind()
            )));
        };
        let mut kind = None;
        let mut version = None;
        let mut manifest = None;
        let mut receipt = None;
        for (k, v) in members {
            match k.as_str() {
                "type" => kind = Some(v),
                "version" => version = Some(v),
                "manifest" => manifest = Some(v),
                "receipt" => receipt = Some(v),
                other => {
                    return Err(ProvError::Shape(format!(
                        "unknown member {:?} (expected type, version, manifest, receipt)",
                        crate::did::truncate(other)
                    )))
                }
            }
        }
        match kind {
            Some(Value::String(s)) if s == PROV_TYPE => {}
            Some(other) => {
                return Err(ProvError::Shape(format!(
                    "type must be {PROV_TYPE:?}, found {}",
                    short(&other)
                )))
            }
            None => return Err(ProvError::Shape("type is missing".into())),
        }
        match version {
            Some(Value::Number(n)) if n == PROV_VERSION => {}
            Some(other) => {
                return Err(ProvError::Shape(format!(
                    "version {} is not supported (this is version 1)",
                    short(&other)
                )))
            }
            None => return Err(ProvError::Shape("version is missing".into())),
        }
        let manifest = match manifest {
            Some(m @ Value::Object(_)) => m,
            Some(other) => {
                return Err(ProvError::Shape(format!(
                    "manifest must be an object, found {}",
                    other.kind()
                )))
            }
            None => return Err(ProvError::Shape("manifest is missing".into())),
        };
        let receipt = match receipt {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s.len() > MAX_RECEIPT_BYTES {
                    return Err(ProvError::Shape(format!(
                        "receipt is longer than {MAX_RECEIPT_BYTES} bytes"
                    )));
                }
                if !s.starts_with(RECEIPT_HEADER) {
                    return Err(ProvError::Shape(
                        "receipt is not a C2SP tlog-proof (it must start with \"c2sp.org/tlog-proof@v1\")"
                            .into(),
                    ));
                }
                Some(s)
            }
            Some(other) => {
                return Err(ProvError::Shape(format!(
                    "receipt must be a string, found {}",
                    other.kind()
                )))
            }
        };
        Ok(ProvFile { manifest, receipt })
    }

    /// The manifest, fully verified (see [`SignedManifest::from_value`]).
    ///
    /// # Errors
    ///
    /// A [`ManifestError`] naming the problem.
    pub fn manifest(&self) -> Result<SignedManifest, ManifestError> {
        SignedManifest::from_value(self.manifest.clone())
    }

    /// The manifest with every check but the signature, which the caller
    /// checks with the returned [`Prepared`].
    ///
    /// # Errors
    ///
    /// A [`ManifestError`] naming the problem.
    pub fn manifest_unverified(&self) -> Result<(SignedManifest, Prepared), ManifestError> {
        SignedManifest::from_value_unverified(self.manifest.clone())
    }

    /// The raw manifest JSON.
    pub fn manifest_value(&self) -> &Value {
        &self.manifest
    }

    /// The file's text: indented JSON with a final newline.
    pub fn to_json_pretty(&self) -> String {
        let mut m = vec![
            ("type".to_string(), Value::String(PROV_TYPE.into())),
            ("version".to_string(), Value::Number(PROV_VERSION)),
            ("manifest".to_string(), self.manifest.clone()),
        ];
        if let Some(r) = &self.receipt {
            m.push(("receipt".to_string(), Value::String(r.clone())));
        }
        let mut s = json::to_pretty(&Value::Object(m)).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// A value for an error message: its canonical form, cut to 40 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(40).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Runs every parser of this crate on `data`; for the fuzz target. Never
/// panics.
pub fn fuzz_prov(data: &[u8]) {
    if let Ok(p) = ProvFile::parse(data) {
        let _ = p.manifest_unverified();
        let _ = p.to_json_pretty();
    }
    let _ = SignedManifest::parse_unverified(data);
    if let Ok(v) = json::parse(data, Limits::default()) {
        // Canonicalization is a fixed point of itself.
        if let Ok(c) = crate::jcs::canonicalize(&v) {
            let again = json::parse(
                &c,
                Limits {
                    max_bytes: c.len(),
                    ..Limits::default()
                },
            )
            .ok()
            .and_then(|v2| crate::jcs::canonicalize(&v2).ok());
            assert_eq!(again.as_deref(), Some(&c[..]), "JCS is not idempotent");
        }
    }
}
