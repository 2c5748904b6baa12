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
use btl_metainfo::torrent::Torrent;
use btl_registry::verdict::{check, TorrentRoots, VerdictInput};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest `.prov` read.
pub const MAX_PROV_BYTES: u64 = 1 << 20;
/// A computed status is recomputed after this long.
const FRESH: Duration = Duration::from_secs(120);

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
            .map(|m| m.get(id).is_none_or(|(t, _)| t.elapsed() > FRESH))
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

/// Where a torrent's manifest may be.
pub(crate) fn prov_paths(data: &DataDir, id: &str, save_dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut v = vec![data.root().join("prov").join(format!("{id}.prov"))];
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

/// Whether the ledger has the torrent: `Some(height)` registered,
/// `None` not registered; an error when the ledger does not answer.
async fn registered(ledger: &LedgerHandle, t: &Torrent) -> Result<Option<u64>, String> {
    let ih = t.info_hashes();
    let key = match (ih.v2(), ih.v1()) {
        (Some(v2), _) => v2.to_hex(),
        (None, Some(v1)) => v1.to_hex(),
        (None, None) => return Ok(None),
    };
    match ledger
        .query(&crate::ledger::LedgerQuery::Torrent { id: key })
        .await
    {
        Ok(v) => Ok(Some(
            v.get("torrent")
                .and_then(|r| r.get("height").or_else(|| r.get("registered_height")))
                .and_then(serde_json::Value::as_u64)
                .or_else(|| v.get("height").and_then(serde_json::Value::as_u64))
                .unwrap_or(0),
        )),
        Err(crate::ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Computes a torrent's status.
pub(crate) async fn compute(
    t: &Torrent,
    prov: &[PathBuf],
    ledger: Option<&LedgerHandle>,
) -> Provenance {
    let manifest = match read_prov(prov) {
        Ok(m) => m,
        Err(reason) => return Provenance::Mismatch { reason },
    };
    let reg = match ledger {
        Some(l) => Some(registered(l, t).await),
        None => None,
    };
    match (manifest, reg) {
        (Some(m), reg) => {
            let roots = TorrentRoots::from_torrent(t);
            let v = check(&VerdictInput {
                manifest: &m,
                torrent: Some(&roots),
                ..Default::default()
            });
            let p = Provenance::from_verdict(&v);
            match (p, reg) {
                // A valid manifest the ledger does not have: not anchored.
                (Provenance::Verified { .. }, Some(Ok(None))) => Provenance::Unregistered,
                (p, _) => p,
            }
        }
        (None, Some(Ok(None))) => Provenance::Unregistered,
        (None, Some(Ok(Some(h)))) => Provenance::Unknown {
            reason: format!(
                "registered on the ledger (height {h}), but its signed manifest is not on this node"
            ),
        },
        (None, Some(Err(e))) => Provenance::Unknown {
            reason: format!("the ledger does not answer: {e}"),
        },
        (None, None) => Provenance::Unknown {
            reason: "no signed manifest, and this node has no ledger to ask".into(),
        },
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
        let p = prov_paths(&data, "ab", Path::new("/srv"), "album");
        assert_eq!(p[1], Path::new("/srv/album.prov"));
        assert_eq!(prov_paths(&data, "ab", Path::new("/srv"), "../x").len(), 1);
        assert_eq!(prov_paths(&data, "ab", Path::new("/srv"), "..").len(), 1);
        let big = tmp.path().join("big.prov");
        std::fs::write(&big, vec![b' '; (MAX_PROV_BYTES + 1) as usize]).unwrap();
        assert!(read_prov(&[big]).unwrap_err().contains("limit"));
        assert_eq!(read_prov(&[tmp.path().join("none")]).unwrap(), None);
    }
}
