//! Provenance for `btl get`: find the torrent's signed manifest (the
//! ledger's registry, a `.prov` given on the command line or beside the
//! .torrent, or peers through the `btl_prov` extension), verify it with
//! [`btl_registry::verdict`], and decide whether to download.
//!
//! Verified means every check of the verdict that ran holds: the manifest
//! is well formed, its eddsa-jcs-2022 signature verifies and was made by
//! its creator, the torrent's infohashes, files and BEP 52 pieces roots are
//! exactly the manifest's, and — when the ledger is reachable — the
//! receipt verifies against the validators' keys, the ledger's record
//! agrees, and the creator key is not revoked. Since the engine checks
//! every piece against the torrent's piece layers, and those against the
//! pieces roots, a torrent that passes is checked piece by piece against
//! the roots the creator signed (and the ledger anchored).

use anyhow::{bail, Context, Result};
use btl_manifest::prov::{self, ProvFile};
use btl_metainfo::torrent::Torrent;
use btl_registry::api::{KeyStatusView, TorrentView};
use btl_registry::verdict::{self, LedgerInput, ReceiptInput, TorrentRoots, Verdict, VerdictInput};
use btl_registry::RegistryClient;
use btl_tlog::VerifierSet;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the ledger says, fetched once before verifying.
pub struct LedgerCtx {
    /// The node's URL.
    pub url: String,
    /// The chain id (receipts must be for it).
    pub chain_id: String,
    /// The validators' note keys.
    pub verifiers: VerifierSet,
    /// The registry's record of the torrent, if registered (its
    /// `creator_key` is the status of the key that signed its manifest).
    pub view: Option<TorrentView>,
    client: RegistryClient,
}

impl LedgerCtx {
    /// Asks the ledger at `url` for its chain, validators and the record of
    /// the torrent with v2 infohash `v2_hex`.
    pub async fn fetch(url: &str, v2_hex: &str) -> Result<LedgerCtx, String> {
        let client = RegistryClient::new(url)
            .map_err(|e| e.to_string())?
            .with_timeout(Duration::from_secs(5));
        let verifiers = client.verifiers(None).await.map_err(|e| e.to_string())?;
        let set = verifiers.verifier_set()?;
        let view = client.torrent(v2_hex).await.map_err(|e| e.to_string())?;
        Ok(LedgerCtx {
            url: url.to_string(),
            chain_id: verifiers.chain_id.clone(),
            verifiers: set,
            view,
            client,
        })
    }

    /// The status of the key `signer` (64 hex): the registry record's
    /// `creator_key` when it is about that key (the key that signed the
    /// stored manifest), else asked of the ledger; `None` if it does not
    /// answer (the verdict then reports the check as not run).
    pub async fn key_status(&self, signer: &str) -> Option<KeyStatusView> {
        let known = self
            .view
            .as_ref()
            .and_then(|v| v.creator_key.as_ref())
            .filter(|k| {
                k.public_key
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(signer))
            });
        match known {
            Some(k) => Some(k.clone()),
            None => self.client.key_status(signer).await.ok(),
        }
    }
}

/// The signing key (64 hex) a manifest names as its creator, if readable
/// (an unreadable one fails the verdict anyway).
fn signer_hex(manifest: &btl_manifest::json::Value) -> Option<String> {
    let did: btl_manifest::DidKey = manifest.get("creator")?.as_str()?.parse().ok()?;
    Some(hex::encode(did.public_bytes()))
}

/// A manifest that verified against the torrent.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Where it came from (a path, `peer ADDR`, or `ledger URL`).
    pub source: String,
    /// The `.prov` bytes (served on to other peers).
    pub doc: Vec<u8>,
    /// The verdict (ok).
    pub verdict: Verdict,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a valid `.prov`, a bad signature, a changed field, a bad receipt.
    Invalid(String),
    /// The manifest describes another torrent.
    OtherTorrent(String),
    /// The manifest is for this torrent but its files or roots differ.
    Mismatch(String),
    /// The creator key is revoked (or was rotated out before).
    Revoked(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(e) => write!(f, "invalid provenance: {e}"),
            Refusal::OtherTorrent(e) => write!(f, "manifest for a different torrent: {e}"),
            Refusal::Mismatch(e) => write!(f, "the torrent does not match its manifest: {e}"),
            Refusal::Revoked(e) => write!(f, "revoked: {e}"),
        }
    }
}

/// Runs the verdict on a manifest (JSON bytes) and optional receipt, with
/// the signing key's status from the ledger (if any).
pub fn verify_parts(
    manifest: &[u8],
    receipt: Option<&str>,
    torrent: &Torrent,
    ledger: Option<&LedgerCtx>,
    key_status: Option<&KeyStatusView>,
) -> Result<Verdict, Refusal> {
    let roots = TorrentRoots::from_torrent(torrent);
    let input = VerdictInput {
        manifest,
        torrent: Some(&roots),
        receipt: receipt.zip(ledger).map(|(text, l)| ReceiptInput {
            text,
            chain_id: &l.chain_id,
            verifiers: &l.verifiers,
        }),
        key_status,
        ledger: ledger.and_then(|l| l.view.as_ref()).map(|v| LedgerInput {
            record: &v.torrent,
            history: &v.history,
        }),
    };
    let v = verdict::check(&input);
    if v.ok {
        return Ok(v);
    }
    let failed = |name: &str| {
        v.failures()
            .find(|c| c.name == name)
            .map(|c| c.detail.clone())
    };
    if let Some(d) = failed("torrent") {
        return Err(if d.contains("another torrent") {
            Refusal::OtherTorrent(d)
        } else {
            Refusal::Mismatch(d)
        });
    }
    if let Some(d) = failed("creator_key") {
        return Err(Refusal::Revoked(d));
    }
    Err(Refusal::Invalid(v.reasons()))
}

/// Verifies a `.prov` document against `torrent` and, with a ledger, its
/// receipt, record and signing key's status (asked first, so the verdict
/// runs once).
pub async fn verify_doc(
    doc: &[u8],
    torrent: &Torrent,
    ledger: Option<&LedgerCtx>,
) -> Result<Verdict, Refusal> {
    let file = ProvFile::parse(doc).map_err(|e| Refusal::Invalid(e.to_string()))?;
    let manifest = file.manifest_value();
    let key_status = match (ledger, signer_hex(manifest)) {
        (Some(l), Some(signer)) => l.key_status(&signer).await,
        _ => None,
    };
    verify_parts(
        manifest.to_string().as_bytes(),
        file.receipt.as_deref(),
        torrent,
        ledger,
        key_status.as_ref(),
    )
}

/// Reads and verifies a `.prov` file (bounded by the format's size limit).
pub async fn from_file(
    path: &Path,
    torrent: &Torrent,
    ledger: Option<&LedgerCtx>,
) -> Result<Verified> {
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
    let verdict = verify_doc(&doc, torrent, ledger)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Verified {
        source: path.display().to_string(),
        doc,
        verdict,
    })
}

/// The registry's manifest for the torrent, verified, as a `.prov`.
pub async fn from_ledger(l: &LedgerCtx, torrent: &Torrent) -> Option<Result<Verified, Refusal>> {
    let view = l.view.as_ref()?;
    let manifest = view.manifest.as_ref()?;
    let mut doc = json!({"type": prov::PROV_TYPE, "version": 1, "manifest": manifest});
    if let Some(r) = &view.receipt {
        doc["receipt"] = json!(r);
    }
    let doc = serde_json::to_vec_pretty(&doc).ok()?;
    let r = verify_doc(&doc, torrent, Some(l))
        .await
        .map(|verdict| Verified {
            source: format!("ledger {}", l.url),
            doc,
            verdict,
        });
    Some(r)
}

/// The `.prov` beside a torrent file, if the torrent is v2 and it exists.
pub fn beside(input: &str, torrent: &Torrent) -> Option<PathBuf> {
    let v2 = torrent.info_hashes().v2()?;
    let path = Path::new(input);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let p = dir.join(prov::file_name(&v2));
    p.is_file().then_some(p)
}

/// Verifies a document fetched from a peer (once, with the ledger's
/// answers when there is a ledger).
pub async fn verify_peer_doc(
    doc: Vec<u8>,
    torrent: &Torrent,
    ledger: Option<&LedgerCtx>,
) -> Result<Verified, String> {
    let verdict = verify_doc(&doc, torrent, ledger)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Verified {
        source: String::new(),
        doc,
        verdict,
    })
}

/// The verdict as JSON: creator, license, terms, payment, checks.
pub fn to_json(v: &Verified) -> Value {
    let mut j = serde_json::to_value(&v.verdict).unwrap_or(Value::Null);
    j["verified"] = json!(true);
    j["source"] = json!(v.source);
    j
}

/// The verdict for people: a few lines on stderr.
pub fn print(v: &Verified) {
    let d = &v.verdict;
    let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
    eprintln!("provenance verified ({}):", v.source);
    eprintln!("  creator:  {} ({})", s(&d.creator), s(&d.creator_account));
    let mut license = s(&d.license);
    if let Some(t) = &d.terms {
        license.push_str(&format!("; terms {t}"));
    }
    eprintln!("  license:  {license}");
    match &d.pay_to {
        Some(p) if !d.splits.is_empty() => {
            let sp: Vec<String> = d
                .splits
                .iter()
                .map(|x| format!("{} {}.{:02}%", x.account, x.bps / 100, x.bps % 100))
                .collect();
            eprintln!("  payment:  {p} (splits: {})", sp.join(", "));
        }
        Some(p) => eprintln!("  payment:  {p}"),
        None => eprintln!("  payment:  none suggested"),
    }
    for c in &d.checks {
        eprintln!("  {:<12} {:?}: {}", c.name, c.status, c.detail);
    }
    if !d.registered {
        eprintln!("  ledger:   NOT registered (signed only)");
    }
}
