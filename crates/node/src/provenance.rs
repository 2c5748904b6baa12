//! Each torrent's provenance status (the web UI's badge), computed in the
//! background and cached by torrent id.
//!
//! For a torrent whose metadata is known: its signed manifest (`.prov`)
//! is looked for in `DATA/prov/ID.prov`, then beside its data
//! (`SAVE_DIR/NAME.prov`); the ledger (when the node has one) says whether
//! the torrent is registered. A manifest goes through
//! [`btl_registry::verdict::check`] against the torrent's roots; the
//! verdict becomes the [`Provenance`]. Without a manifest, a torrent the
//! ledger does not know is `unregistered`; one it knows is `unknown`
//! (registered, but no manifest here to check).

use crate::ledger::LedgerHandle;
use crate::persist::DataDir;
use crate::types::Provenance;
use btl_manifest::{ProvFile, SignedManifest};
use btl_metainfo::torrent::Torrent;
use btl_registry::api::{KeyStatusView, TorrentView};
use btl_registry::verdict::{check, LedgerInput, ReceiptInput, TorrentRoots, VerdictInput};
use btl_registry::RegistryClient;
use btl_tlog::VerifierSet;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest `.prov` read.
pub const MAX_PROV_BYTES: u64 = 1 << 20;
/// A settled status (verified, revoked, mismatch) is recomputed after
/// this long.
const FRESH: Duration = Duration::from_secs(120);
/// An open one (unregistered, unknown) sooner: the torrent may be
/// published any moment.
const FRESH_OPEN: Duration = Duration::from_secs(10);

/// The cache: torrent id → (when computed, status).
#[derive(Default)]
pub(crate) struct Cache(Mutex<HashMap<String, (Instant, Provenance)>>);

impl Cache {
    /// The cached status of a torrent.
    pub fn get(&self, id: &str) -> Option<Provenance> {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|(_, p)| p.clone()))
    }

    /// Whether the torrent's status is missing or stale.
    pub fn stale(&self, id: &str) -> bool {
        self.0
            .lock()
            .map(|m| {
                m.get(id).is_none_or(|(t, p)| {
                    let fresh = match p {
                        Provenance::Unregistered | Provenance::Unknown { .. } => FRESH_OPEN,
                        _ => FRESH,
                    };
                    t.elapsed() > fresh
                })
            })
            .unwrap_or(false)
    }

    /// Stores a status.
    pub fn put(&self, id: &str, p: Provenance) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), (Instant::now(), p));
        }
    }

    /// Forgets torrents no longer on the node.
    pub fn retain(&self, ids: &[String]) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| ids.contains(k));
        }
    }
}

/// Where a torrent's manifest may be: the node's own copy, then beside
/// the data as `btl publish` names it (`<v2 infohash>.prov`) or by the
/// torrent's name.
pub(crate) fn prov_paths(
    data: &DataDir,
    id: &str,
    save_dir: &Path,
    name: &str,
    v2: Option<&str>,
) -> Vec<PathBuf> {
    let mut v = vec![data.root().join("prov").join(format!("{id}.prov"))];
    if let Some(h) = v2 {
        v.push(save_dir.join(format!("{h}.prov")));
    }
    // A name with a path separator (or "..") never leaves save_dir.
    if !name.is_empty() && !name.contains(['/', '\\']) && name != ".." && name != "." {
        v.push(save_dir.join(format!("{name}.prov")));
    }
    v
}

/// Reads the first manifest found (bounded).
fn read_prov(paths: &[PathBuf]) -> Result<Option<Vec<u8>>, String> {
    for p in paths {
        let Ok(meta) = std::fs::metadata(p) else {
            continue;
        };
        if meta.len() > MAX_PROV_BYTES {
            return Err(format!(
                "{} is over the {MAX_PROV_BYTES} byte limit",
                p.display()
            ));
        }
        return std::fs::read(p)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display()));
    }
    Ok(None)
}

/// What the ledger says about a torrent (its registry view), with the
/// validators' keys to check a receipt against.
struct Online {
    view: Option<TorrentView>,
    key: Option<KeyStatusView>,
    verifiers: Option<(String, VerifierSet)>,
}

/// The torrent's key on the ledger: its v2 infohash, else its v1.
fn ledger_key(t: &Torrent) -> Option<String> {
    let ih = t.info_hashes();
    match (ih.v2(), ih.v1()) {
        (Some(v2), _) => Some(v2.to_hex()),
        (None, Some(v1)) => Some(v1.to_hex()),
        (None, None) => None,
    }
}

/// Asks the ledger's registry about the torrent; `signer` is the key of
/// a manifest already in hand (the registry's own manifest is used
/// otherwise). An error when the ledger does not answer.
async fn ask(ledger: &LedgerHandle, t: &Torrent, signer: Option<String>) -> Result<Online, String> {
    let client = RegistryClient::new(ledger.url()).map_err(|e| e.to_string())?;
    let Some(ih) = ledger_key(t) else {
        return Ok(Online {
            view: None,
            key: None,
            verifiers: None,
        });
    };
    let view = client.torrent(&ih).await.map_err(|e| e.to_string())?;
    let Some(view) = view else {
        return Ok(Online {
            view: None,
            key: None,
            verifiers: None,
        });
    };
    // The status that matters is the signing key's.
    let signer = signer.or_else(|| {
        view.manifest
            .as_ref()
            .and_then(|m| serde_json::to_vec(m).ok())
            .and_then(|b| SignedManifest::parse_unverified(&b).ok())
            .map(|(s, _)| hex::encode(s.manifest().creator.public_bytes()))
    });
    let key = match signer {
        Some(k) => client.key_status(&k).await.ok(),
        None => None,
    };
    let verifiers = client
        .verifiers(None)
        .await
        .ok()
        .and_then(|v| v.verifier_set().ok().map(|s| (v.chain_id.clone(), s)));
    Ok(Online {
        view: Some(view),
        key,
        verifiers,
    })
}

/// A manifest and its receipt from a `.prov` file (or a bare signed
/// manifest).
fn parse_local(bytes: &[u8]) -> Result<(Vec<u8>, Option<String>, String), String> {
    let (signed, receipt) = match ProvFile::parse(bytes) {
        Ok(p) => {
            let (s, _) = p.manifest_unverified().map_err(|e| e.to_string())?;
            (s, p.receipt)
        }
        Err(prov_err) => match SignedManifest::parse_unverified(bytes) {
            Ok((s, _)) => (s, None),
            Err(_) => return Err(prov_err.to_string()),
        },
    };
    let signer = hex::encode(signed.manifest().creator.public_bytes());
    Ok((signed.canonical_bytes(), receipt, signer))
}

/// Computes a torrent's status.
pub(crate) async fn compute(
    t: &Torrent,
    prov: &[PathBuf],
    ledger: Option<&LedgerHandle>,
) -> Provenance {
    let local = match read_prov(prov) {
        Ok(Some(b)) => match parse_local(&b) {
            Ok(x) => Some(x),
            Err(reason) => return Provenance::Mismatch { reason },
        },
        Ok(None) => None,
        Err(reason) => return Provenance::Mismatch { reason },
    };
    let online = match ledger {
        Some(l) => Some(ask(l, t, local.as_ref().map(|(_, _, k)| k.clone())).await),
        None => None,
    };
    let from_registry = online
        .as_ref()
        .and_then(|o| o.as_ref().ok())
        .and_then(|o| o.view.as_ref())
        .and_then(|v| {
            let bytes = serde_json::to_vec(v.manifest.as_ref()?).ok()?;
            let (s, _) = SignedManifest::parse_unverified(&bytes).ok()?;
            Some((s.canonical_bytes(), v.receipt.clone()))
        });
    let (manifest, receipt) = match (local, from_registry) {
        (Some((m, r, _)), _) => (m, r),
        (None, Some((m, r))) => (m, r),
        (None, None) => {
            return match online {
                Some(Ok(Online { view: None, .. })) => Provenance::Unregistered,
                Some(Ok(Online { view: Some(v), .. })) => Provenance::Unknown {
                    reason: format!(
                        "registered on the ledger (height {}), but neither this node nor the \
                         registry has its signed manifest",
                        v.torrent.height
                    ),
                },
                Some(Err(e)) => Provenance::Unknown {
                    reason: format!("the ledger does not answer: {e}"),
                },
                None => Provenance::Unknown {
                    reason: "no signed manifest, and this node has no ledger to ask".into(),
                },
            };
        }
    };
    let roots = TorrentRoots::from_torrent(t);
    let o = online.as_ref().and_then(|o| o.as_ref().ok());
    let view = o.and_then(|o| o.view.as_ref());
    let receipt_input = match (receipt.as_deref(), o.and_then(|o| o.verifiers.as_ref())) {
        (Some(text), Some((chain, set))) => Some(ReceiptInput {
            text,
            chain_id: chain,
            verifiers: set,
        }),
        _ => None,
    };
    let v = check(&VerdictInput {
        manifest: &manifest,
        torrent: Some(&roots),
        receipt: receipt_input,
        key_status: o.and_then(|o| o.key.as_ref()),
        ledger: view.map(|v| LedgerInput {
            record: &v.torrent,
            history: &v.history,
        }),
    });
    match (Provenance::from_verdict(&v), &online) {
        // A valid manifest the ledger does not have: not anchored.
        (Provenance::Verified { .. }, Some(Ok(Online { view: None, .. }))) => {
            Provenance::Unregistered
        }
        (Provenance::Verified { .. }, Some(Err(e))) => Provenance::Unknown {
            reason: format!("signed, but the ledger does not answer: {e}"),
        },
        (p, _) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use btl_registry::verdict::{Check, CheckStatus, Verdict};

    fn verdict(ok: bool, checks: Vec<(&str, CheckStatus, &str)>) -> Verdict {
        Verdict {
            ok,
            registered: false,
            manifest_id: None,
            creator: Some("did:key:z6Mk".into()),
            creator_account: Some("btl1abc".into()),
            name: None,
            infohash_v2: None,
            license: Some("CC-BY-4.0".into()),
            terms: None,
            pay_to: None,
            splits: Vec::new(),
            registered_height: None,
            checks: checks
                .into_iter()
                .map(|(n, s, d)| Check {
                    name: n.into(),
                    status: s,
                    detail: d.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn verdicts_become_badges() {
        let v = verdict(true, vec![("signature", CheckStatus::Pass, "ok")]);
        assert_eq!(
            Provenance::from_verdict(&v),
            Provenance::Verified {
                creator: "did:key:z6Mk (btl1abc)".into(),
                license: Some("CC-BY-4.0".into()),
                pay_to: None,
            }
        );
        let v = verdict(
            false,
            vec![(
                "creator_key",
                CheckStatus::Fail,
                "the key was revoked at height 9",
            )],
        );
        assert!(
            matches!(Provenance::from_verdict(&v), Provenance::Revoked { reason } if reason.contains("height 9"))
        );
        let v = verdict(
            false,
            vec![("torrent", CheckStatus::Fail, "pieces root differs")],
        );
        assert!(
            matches!(Provenance::from_verdict(&v), Provenance::Mismatch { reason } if reason.contains("pieces root"))
        );
        let json = serde_json::to_value(Provenance::Unregistered).unwrap();
        assert_eq!(json, serde_json::json!({"status": "unregistered"}));
    }

    #[test]
    fn manifest_paths_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::open(tmp.path()).unwrap();
        let p = prov_paths(&data, "ab", Path::new("/srv"), "album", None);
        assert_eq!(p[1], Path::new("/srv/album.prov"));
        let p = prov_paths(&data, "ab", Path::new("/srv"), "album", Some("cd"));
        assert_eq!(p[1], Path::new("/srv/cd.prov"));
        assert_eq!(p[2], Path::new("/srv/album.prov"));
        assert_eq!(
            prov_paths(&data, "ab", Path::new("/srv"), "../x", None).len(),
            1
        );
        assert_eq!(
            prov_paths(&data, "ab", Path::new("/srv"), "..", None).len(),
            1
        );
        let big = tmp.path().join("big.prov");
        std::fs::write(&big, vec![b' '; (MAX_PROV_BYTES + 1) as usize]).unwrap();
        assert!(read_prov(&[big]).unwrap_err().contains("limit"));
        assert_eq!(read_prov(&[tmp.path().join("none")]).unwrap(), None);
    }
}
