//! The provenance verdict: every check of a signed manifest, in one place.
//!
//! **Pure**: no I/O, no clock. The caller gathers what it has — the
//! manifest's bytes, the torrent's roots, a receipt and the validators'
//! keys, the creator key's status, the ledger's record — and [`check`]
//! returns a [`Verdict`]: one [`Check`] per question, each `pass`, `fail`
//! or `skipped` (not asked: no input for it), and `ok` when nothing
//! failed and the manifest's signature holds.
//!
//! | check | fails when |
//! |---|---|
//! | `manifest` | the document is not a valid manifest (shape, fields, bounds) |
//! | `signature` | the eddsa-jcs-2022 proof does not verify (forged, or a field changed after signing) |
//! | `torrent` | the torrent's infohashes, files or pieces roots differ from the manifest's (a manifest for another torrent, or a changed torrent) |
//! | `receipt` | the receipt does not verify against the validators' keys, is for another chain or log, or registers another manifest/torrent/creator |
//! | `creator_key` | the creator key is revoked, or was rotated away before the registration |
//! | `ledger` | the ledger's record names another manifest, torrent, creator, roots or license |
//!
//! `registered` tells whether a receipt or the ledger record anchors the
//! manifest; a caller that requires registration (`btl verify` unless told
//! otherwise, `btl get`) refuses when it is false.

use btl_ledger::registry::verify_receipt;
use btl_manifest::{Account, SignedManifest};
use btl_metainfo::torrent::Torrent;
use btl_tlog::VerifierSet;
use serde::{Deserialize, Serialize};

use crate::api::{HistoryEntry, KeyStatusView, RecordView};

/// The torrent side: what the metainfo commits to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TorrentRoots {
    /// v2 infohash (`None` for a v1-only torrent).
    pub infohash_v2: Option<[u8; 32]>,
    /// v1 infohash (v1 or hybrid).
    pub infohash_v1: Option<[u8; 20]>,
    /// Name.
    pub name: String,
    /// Files (pad files left out): path, length, pieces root.
    pub files: Vec<(Vec<String>, u64, Option<[u8; 32]>)>,
}

impl TorrentRoots {
    /// The roots of a parsed torrent.
    pub fn from_torrent(t: &Torrent) -> TorrentRoots {
        let ih = t.info_hashes();
        TorrentRoots {
            infohash_v2: ih.v2().map(|h| h.0),
            infohash_v1: ih.v1().map(|h| h.0),
            name: t.name().to_string(),
            files: t
                .files()
                .iter()
                .filter(|f| !f.is_pad())
                .map(|f| (f.path.clone(), f.length, f.pieces_root.map(|r| r.0)))
                .collect(),
        }
    }
}

/// A receipt and what it must verify against.
#[derive(Debug)]
pub struct ReceiptInput<'a> {
    /// The C2SP `tlog-proof` text.
    pub text: &'a str,
    /// The chain the receipt must belong to.
    pub chain_id: &'a str,
    /// The validators' note keys and threshold.
    pub verifiers: &'a VerifierSet,
}

/// The ledger's view of the torrent.
#[derive(Debug, Clone, Copy)]
pub struct LedgerInput<'a> {
    /// The current record.
    pub record: &'a RecordView,
    /// Its license history (register then amends); may be empty.
    pub history: &'a [HistoryEntry],
}

/// Everything [`check`] looks at; only `manifest` is required.
#[derive(Debug, Default)]
pub struct VerdictInput<'a> {
    /// The signed manifest's bytes (JSON).
    pub manifest: &'a [u8],
    /// The torrent it should describe.
    pub torrent: Option<&'a TorrentRoots>,
    /// Its receipt.
    pub receipt: Option<ReceiptInput<'a>>,
    /// The creator key's status on the ledger.
    pub key_status: Option<&'a KeyStatusView>,
    /// The ledger's record.
    pub ledger: Option<LedgerInput<'a>>,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It holds.
    Pass,
    /// It does not: the verdict is a refusal.
    Fail,
    /// Not checked (no input for it).
    Skipped,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `manifest`, `signature`, `torrent`, `receipt`, `creator_key`, `ledger`.
    pub name: String,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found, in words.
    pub detail: String,
}

/// A payment split, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitView {
    /// Account (`btl1…`).
    pub account: String,
    /// Basis points.
    pub bps: u16,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// No check failed and the signature holds.
    pub ok: bool,
    /// A receipt or the ledger record anchors this manifest.
    pub registered: bool,
    /// The manifest id (SHA-256 of its JCS form, hex), when it parsed.
    pub manifest_id: Option<String>,
    /// The creator's `did:key`.
    pub creator: Option<String>,
    /// The creator's account (`btl1…`).
    pub creator_account: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// v2 infohash (hex).
    pub infohash_v2: Option<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// License terms (regions, commercial use, distribution limit), as JSON.
    pub terms: Option<serde_json::Value>,
    /// Payment address.
    pub pay_to: Option<String>,
    /// Revenue splits.
    pub splits: Vec<SplitView>,
    /// Ledger height of the registration (from the receipt or the record).
    pub registered_height: Option<u64>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }

    /// The check named `name`.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// One line per failure, for error messages.
    pub fn reasons(&self) -> String {
        self.failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, name: &str, status: CheckStatus, detail: impl Into<String>) {
        self.0.push(Check {
            name: name.into(),
            status,
            detail: detail.into(),
        });
    }
    fn pass(&mut self, name: &str, d: impl Into<String>) {
        self.push(name, CheckStatus::Pass, d)
    }
    fn fail(&mut self, name: &str, d: impl Into<String>) {
        self.push(name, CheckStatus::Fail, d)
    }
    fn skip(&mut self, name: &str, d: impl Into<String>) {
        self.push(name, CheckStatus::Skipped, d)
    }
}

const NAMES: [&str; 6] = [
    "manifest",
    "signature",
    "torrent",
    "receipt",
    "creator_key",
    "ledger",
];

/// Runs every check the input allows.
pub fn check(input: &VerdictInput<'_>) -> Verdict {
    let mut c = Checks(Vec::new());
    let mut v = Verdict {
        ok: false,
        registered: false,
        manifest_id: None,
        creator: None,
        creator_account: None,
        name: None,
        infohash_v2: None,
        license: None,
        terms: None,
        pay_to: None,
        splits: Vec::new(),
        registered_height: None,
        checks: Vec::new(),
    };
    // Shape first, then the signature on its own, so a forged signature
    // and a malformed document are told apart.
    let (signed, prepared) = match SignedManifest::parse_unverified(input.manifest) {
        Ok(x) => x,
        Err(e) => {
            c.fail("manifest", e.to_string());
            for n in &NAMES[1..] {
                c.skip(n, "no valid manifest");
            }
            v.checks = c.0;
            return v;
        }
    };
    let m = signed.manifest();
    let id = signed.id();
    let account = Account::of(&m.creator);
    v.manifest_id = Some(id.to_hex());
    v.creator = Some(m.creator.to_string());
    v.creator_account = Some(account.to_string());
    v.name = Some(m.name.clone());
    v.infohash_v2 = Some(m.infohash_v2.to_hex());
    v.license = Some(m.license.spdx.clone());
    v.terms = m.license.terms.as_ref().map(|t| {
        serde_json::json!({
            "regions": t.regions,
            "commercial_use": t.commercial_use,
            "distribution_limit": t.distribution_limit.map(|d| d.to_string()),
        })
    });
    if let Some(p) = &m.payment {
        v.pay_to = Some(p.address.to_string());
        v.splits = p
            .splits
            .iter()
            .map(|s| SplitView {
                account: s.account.to_string(),
                bps: s.bps,
            })
            .collect();
    }
    c.pass(
        "manifest",
        format!("{} by {}, license {}", m.name, m.creator, m.license.spdx),
    );
    let sig_ok = match btl_manifest::di::verify_prepared(&prepared) {
        Ok(()) => {
            c.pass(
                "signature",
                format!("eddsa-jcs-2022 proof by {}", prepared.signer),
            );
            true
        }
        Err(e) => {
            c.fail(
                "signature",
                format!("the manifest's signature does not verify ({e}): forged, or a field was changed after signing"),
            );
            false
        }
    };

    // The torrent.
    match input.torrent {
        None => c.skip("torrent", "no torrent given"),
        Some(t) => torrent_check(&mut c, &signed, t),
    }

    // The receipt.
    let mut receipt_height = None;
    match &input.receipt {
        None => c.skip("receipt", "no receipt"),
        Some(r) => match verify_receipt(r.text.as_bytes(), r.chain_id, r.verifiers) {
            Err(e) => c.fail(
                "receipt",
                format!(
                    "the receipt does not verify against the validators of {:?}: {e}",
                    r.chain_id
                ),
            ),
            Ok((entry, cp)) => {
                let reg = &entry.registration;
                let mut bad = Vec::new();
                if reg.manifest_hash != id.0 {
                    bad.push(format!(
                        "it registers manifest {}, not this one ({})",
                        hex::encode(reg.manifest_hash),
                        id.to_hex()
                    ));
                }
                if reg.infohash_v2 != m.infohash_v2.0 {
                    bad.push(format!(
                        "it registers torrent {}, not {}",
                        hex::encode(reg.infohash_v2),
                        m.infohash_v2.to_hex()
                    ));
                }
                if reg.creator.0 != account.0 {
                    bad.push(format!(
                        "it registers creator {}, not {}",
                        reg.creator, account
                    ));
                }
                if bad.is_empty() {
                    receipt_height = Some(entry.height);
                    c.pass(
                        "receipt",
                        format!(
                            "registered at height {}, in a registry checkpoint of size {} cosigned by the validators of {:?}",
                            entry.height,
                            cp.size,
                            r.chain_id
                        ),
                    );
                } else {
                    c.fail("receipt", bad.join("; "));
                }
            }
        },
    }

    // The ledger record.
    let mut ledger_height = None;
    match &input.ledger {
        None => c.skip("ledger", "ledger not consulted"),
        Some(l) => match ledger_check(&signed, l) {
            Ok((h, detail)) => {
                ledger_height = Some(h);
                c.pass("ledger", detail);
            }
            Err(e) => c.fail("ledger", e),
        },
    }
    let reg_height = receipt_height.or(ledger_height);

    // The creator key: only a status about the signing key itself counts
    // (after a rotation, the account's current key is another key).
    let signer = hex::encode(signed.manifest().creator.public_bytes());
    let about_signer = |k: &&KeyStatusView| {
        k.public_key
            .as_deref()
            .is_none_or(|p| p.eq_ignore_ascii_case(&signer))
    };
    match input.key_status.filter(about_signer) {
        None if input.key_status.is_some() => c.skip(
            "creator_key",
            "the ledger described the account's current key, not the key that signed",
        ),
        None => c.skip("creator_key", "key status not consulted"),
        Some(k) => match k.status.as_str() {
            "current" | "active" => c.pass("creator_key", "the creator's current key"),
            "rotated" => match (k.since_height, reg_height) {
                (Some(rot), Some(reg)) if reg > rot => c.fail(
                    "creator_key",
                    format!("the creator key was rotated out at height {rot}, before this registration at height {reg}"),
                ),
                (rot, _) => c.pass(
                    "creator_key",
                    format!(
                        "rotated{} (signatures made before the rotation stand)",
                        rot.map(|h| format!(" at height {h}")).unwrap_or_default()
                    ),
                ),
            },
            "revoked" => c.fail(
                "creator_key",
                format!(
                    "the creator key is revoked{}{}: nothing it signed is trusted",
                    k.since_height.map(|h| format!(" since height {h}")).unwrap_or_default(),
                    k.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            ),
            "unknown" => c.skip("creator_key", "the ledger has no record of this key"),
            other => c.fail("creator_key", format!("unknown key status {other:?}")),
        },
    }

    v.registered = receipt_height.is_some() || ledger_height.is_some();
    v.registered_height = reg_height;
    v.ok = sig_ok && c.0.iter().all(|x| x.status != CheckStatus::Fail);
    v.checks = c.0;
    v
}

fn torrent_check(c: &mut Checks, signed: &SignedManifest, t: &TorrentRoots) {
    let m = signed.manifest();
    let mut d = Vec::new();
    match t.infohash_v2 {
        None => {
            c.fail(
                "torrent",
                "the torrent is v1-only: a manifest anchors a v2 infohash (recreate it with btl create --hybrid or --v2)",
            );
            return;
        }
        Some(h) if h != m.infohash_v2.0 => {
            c.fail(
                "torrent",
                format!(
                    "the manifest is for another torrent: it names {}, the torrent is {}",
                    m.infohash_v2.to_hex(),
                    hex::encode(h)
                ),
            );
            return;
        }
        Some(_) => {}
    }
    if t.infohash_v1 != m.infohash_v1.map(|h| h.0) {
        d.push(format!(
            "v1 infohash {} in the manifest, {} in the torrent",
            m.infohash_v1
                .map(|h| h.to_hex())
                .unwrap_or_else(|| "none".into()),
            t.infohash_v1
                .map(hex::encode)
                .unwrap_or_else(|| "none".into())
        ));
    }
    if t.name != m.name {
        d.push(format!(
            "name {:?} in the manifest, {:?} in the torrent",
            m.name, t.name
        ));
    }
    if t.files.len() != m.files.len() {
        d.push(format!(
            "{} files in the manifest, {} in the torrent",
            m.files.len(),
            t.files.len()
        ));
    }
    for (mf, (path, len, root)) in m.files.iter().zip(&t.files) {
        let p = mf.path.join("/");
        if &mf.path != path {
            d.push(format!("file {p:?} is {:?} in the torrent", path.join("/")));
        }
        if mf.length != *len {
            d.push(format!(
                "{p}: length {} in the manifest, {len} in the torrent",
                mf.length
            ));
        }
        if mf.pieces_root.map(|r| r.0) != *root {
            d.push(format!("{p}: pieces root differs"));
        }
    }
    if d.is_empty() {
        c.pass(
            "torrent",
            format!(
                "infohash {} and {} file roots match",
                m.infohash_v2,
                m.files.len()
            ),
        );
    } else {
        c.fail(
            "torrent",
            format!("the torrent does not match the manifest: {}", d.join("; ")),
        );
    }
}

fn ledger_check(signed: &SignedManifest, l: &LedgerInput<'_>) -> Result<(u64, String), String> {
    let m = signed.manifest();
    let id = signed.id().to_hex();
    let r = &l.record.registration;
    let mut bad = Vec::new();
    if !r.infohash_v2.eq_ignore_ascii_case(&m.infohash_v2.to_hex()) {
        bad.push(format!(
            "the ledger record is for torrent {}, the manifest for {}",
            r.infohash_v2,
            m.infohash_v2.to_hex()
        ));
    }
    if r.creator.0 != Account::of(&m.creator).0 {
        bad.push(format!(
            "the ledger names creator {}, the manifest {}",
            r.creator,
            Account::of(&m.creator)
        ));
    }
    let roots: Vec<String> = m
        .files
        .iter()
        .filter_map(|f| f.pieces_root.map(|h| h.to_hex()))
        .collect();
    if !r.file_roots.is_empty() && r.file_roots != roots {
        bad.push("the ledger's file roots differ from the manifest's".into());
    }
    // The manifest is the current record, or an earlier one of the history.
    let current = r.manifest_hash.eq_ignore_ascii_case(&id);
    let in_history = l
        .history
        .iter()
        .find(|h| h.manifest_hash.eq_ignore_ascii_case(&id));
    if !current && in_history.is_none() {
        bad.push(format!(
            "the ledger registers manifest {}, not this one ({id})",
            r.manifest_hash
        ));
    }
    if current && r.license != m.license.spdx {
        bad.push(format!(
            "the ledger records license {:?}, the manifest {:?}",
            r.license, m.license.spdx
        ));
    }
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    let latest = l.history.last();
    let superseded = latest.filter(|h| !h.manifest_hash.eq_ignore_ascii_case(&id));
    Ok(match (current, in_history, superseded) {
        (_, Some(h), Some(last)) => (
            h.height,
            format!(
                "recorded at height {} ({}); superseded by the {} at height {} (license {})",
                h.height, h.kind, last.kind, last.height, last.license
            ),
        ),
        (_, Some(h), None) => (
            h.height,
            format!("the current record, height {} ({})", h.height, h.kind),
        ),
        _ => (
            l.record.height,
            format!("the current record, height {}", l.record.height),
        ),
    })
}
