//! Provenance for `btl get`: find the torrent's signed manifest (a `.prov`
//! given on the command line, one beside the .torrent, or from peers through
//! the `btl_prov` extension), verify it, and decide whether to download.
//!
//! Verified means: the `.prov` is well formed and bounded, the manifest's
//! eddsa-jcs-2022 signature verifies and was made by its creator, and the
//! torrent's infohashes, files and BEP 52 pieces roots are exactly the
//! manifest's. Since the engine checks every piece against the torrent's
//! piece layers, and those against the pieces roots, a torrent that passes
//! is checked piece by piece against the roots the creator signed.

use anyhow::{bail, Context, Result};
use btl_manifest::prov::{self, ProvFile};
use btl_manifest::{Account, SignedManifest};
use btl_metainfo::torrent::Torrent;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A manifest that verified against the torrent.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Where it came from (a path, or `peer ADDR`).
    pub source: String,
    /// The `.prov` bytes as received (served on to other peers).
    pub doc: Vec<u8>,
    /// The verified manifest.
    pub signed: SignedManifest,
    /// Whether the `.prov` carries a ledger receipt.
    pub has_receipt: bool,
}

/// Why a `.prov` document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a valid `.prov`, a bad signature, a changed field.
    Invalid(String),
    /// The manifest describes another torrent.
    OtherTorrent(String),
    /// The manifest is for this torrent but its files or roots differ.
    Mismatch(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(e) => write!(f, "invalid provenance: {e}"),
            Refusal::OtherTorrent(e) => write!(f, "manifest for a different torrent: {e}"),
            Refusal::Mismatch(e) => write!(f, "the torrent does not match its manifest: {e}"),
        }
    }
}

/// Verifies a `.prov` document against `torrent`.
pub fn verify_doc(doc: &[u8], torrent: &Torrent) -> Result<SignedManifest, Refusal> {
    let file = ProvFile::parse(doc).map_err(|e| Refusal::Invalid(e.to_string()))?;
    let signed = file
        .manifest()
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    if let Err(m) = signed.manifest().check_torrent(torrent) {
        return Err(if m.other_torrent() {
            Refusal::OtherTorrent(m.to_string())
        } else {
            Refusal::Mismatch(m.to_string())
        });
    }
    Ok(signed)
}

fn has_receipt(doc: &[u8]) -> bool {
    ProvFile::parse(doc).is_ok_and(|f| f.receipt.is_some())
}

/// Reads and verifies a `.prov` file (bounded by the format's size limit).
pub fn from_file(path: &Path, torrent: &Torrent) -> Result<Verified> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > prov::MAX_PROV_BYTES as u64 {
        bail!(
            "{} is {len} bytes, over the .prov limit of {} bytes",
            path.display(),
            prov::MAX_PROV_BYTES
        );
    }
    let doc = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let signed =
        verify_doc(&doc, torrent).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Verified {
        source: path.display().to_string(),
        has_receipt: has_receipt(&doc),
        doc,
        signed,
    })
}

/// The `.prov` beside a torrent file, if the torrent is v2 and it exists.
pub fn beside(input: &str, torrent: &Torrent) -> Option<PathBuf> {
    let v2 = torrent.info_hashes().v2()?;
    let path = Path::new(input);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let p = dir.join(prov::file_name(&v2));
    p.is_file().then_some(p)
}

/// The verifier used for documents fetched from peers.
pub fn peer_verifier(torrent: &Torrent) -> impl FnMut(&[u8]) -> Result<Verified, String> + '_ {
    move |doc| {
        let signed = verify_doc(doc, torrent).map_err(|e| e.to_string())?;
        Ok(Verified {
            source: String::new(),
            has_receipt: has_receipt(doc),
            doc: doc.to_vec(),
            signed,
        })
    }
}

/// The verdict as JSON: creator, license, terms, payment.
pub fn to_json(v: &Verified) -> Value {
    let m = v.signed.manifest();
    let terms = m.license.terms.as_ref().map(|t| {
        json!({
            "regions": t.regions,
            "commercial_use": t.commercial_use,
            "distribution_limit": t.distribution_limit.map(|n| n.to_string()),
        })
    });
    json!({
        "verified": true,
        "source": v.source,
        "manifest_id": v.signed.id().to_hex(),
        "creator": m.creator.to_string(),
        "creator_account": Account::of(&m.creator).to_string(),
        "license": m.license.spdx,
        "terms": terms,
        "pay_to": m.payment.as_ref().map(|p| p.address.to_string()),
        "splits": m.payment.as_ref().map(|p| p.splits.iter().map(|s| json!({
            "account": s.account.to_string(), "bps": s.bps})).collect::<Vec<_>>()),
        "receipt": if v.has_receipt { "present, not checked in this build" } else { "none (not registered on the ledger)" },
        "checks": ["prov format", "signature by the creator", "infohashes", "files and pieces roots"],
    })
}

/// The verdict for people: a few lines on stderr.
pub fn print(v: &Verified) {
    let m = v.signed.manifest();
    eprintln!("provenance verified ({}):", v.source);
    eprintln!("  creator:  {} ({})", m.creator, Account::of(&m.creator));
    let mut license = m.license.spdx.clone();
    if let Some(t) = &m.license.terms {
        if let Some(r) = &t.regions {
            license.push_str(&format!("; regions {}", r.join(",")));
        }
        if let Some(c) = t.commercial_use {
            license.push_str(if c {
                "; commercial use allowed"
            } else {
                "; no commercial use"
            });
        }
        if let Some(n) = t.distribution_limit {
            license.push_str(&format!("; at most {n} copies"));
        }
    }
    eprintln!("  license:  {license}");
    match &m.payment {
        Some(p) if !p.splits.is_empty() => {
            let s: Vec<String> = p
                .splits
                .iter()
                .map(|s| format!("{} {}.{:02}%", s.account, s.bps / 100, s.bps % 100))
                .collect();
            eprintln!("  payment:  {} (splits: {})", p.address, s.join(", "));
        }
        Some(p) => eprintln!("  payment:  {}", p.address),
        None => eprintln!("  payment:  none suggested"),
    }
    eprintln!(
        "  checked:  signature by the creator, infohashes, every file's pieces root; pieces are verified against them"
    );
    if !v.has_receipt {
        eprintln!("  ledger:   no receipt (signed, not registered on the ledger)");
    } else {
        eprintln!("  ledger:   receipt present (not checked by this build)");
    }
}
