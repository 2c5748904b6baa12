//! The verdict refuses each kind of bad input with a message naming it.
#![allow(clippy::unwrap_used)]

use btl_ledger::registry::{log_origin, validator_key_name, RegistryEntry};
use btl_ledger::{Address, PublicKey, RegisterTorrent, TxId};
use btl_manifest::{DidKey, License, Manifest, ManifestFile, SignedManifest, SigningKey};
use btl_registry::api::{HistoryEntry, KeyStatusView, RecordView, RegistrationView, VerifierKey};
use btl_registry::verdict::{
    check, CheckStatus, LedgerInput, ReceiptInput, TorrentRoots, VerdictInput,
};
use btl_registry::Verifiers;
use btl_tlog::{leaf_hash, Checkpoint, Note, NoteSigner, TlogProof};
use btl_types::{Sha1Hash, Sha256Hash};

const CHAIN: &str = "btl-test";

fn creator() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn validator() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn manifest_of(key: &SigningKey, ih: u8, license: &str) -> SignedManifest {
    let m = Manifest {
        creator: DidKey::of(key),
        created: 1_700_000_000,
        name: "album".into(),
        infohash_v2: Sha256Hash([ih; 32]),
        infohash_v1: Some(Sha1Hash([2; 20])),
        piece_length: 16384,
        files: vec![ManifestFile {
            path: vec!["track.flac".into()],
            length: 100_000,
            pieces_root: Some(Sha256Hash([3; 32])),
        }],
        license: License {
            spdx: license.into(),
            terms: None,
        },
        payment: None,
    };
    m.sign(key, 1_700_000_001).unwrap()
}

fn roots(ih: u8) -> TorrentRoots {
    TorrentRoots {
        infohash_v2: Some([ih; 32]),
        infohash_v1: Some([2; 20]),
        name: "album".into(),
        files: vec![(vec!["track.flac".into()], 100_000, Some([3; 32]))],
    }
}

fn registration(m: &SignedManifest) -> RegisterTorrent {
    let mm = m.manifest();
    RegisterTorrent {
        manifest_hash: m.id().0,
        infohash_v2: mm.infohash_v2.0,
        infohash_v1: mm.infohash_v1.map(|h| h.0),
        creator: Address(DidKey::of(&creator()).public_bytes()),
        file_roots: vec![[3; 32]],
        name: mm.name.clone(),
        size: 100_000,
        license: mm.license.spdx.clone(),
    }
}

/// A one-leaf registry log's receipt, cosigned by `signer` for `chain`.
fn receipt(chain: &str, reg: RegisterTorrent, signer: &SigningKey) -> String {
    let entry = RegistryEntry {
        chain_id: chain.into(),
        tx_id: TxId([5; 32]),
        height: 4,
        registration: reg,
    };
    let data = entry.encode();
    let cp = Checkpoint::new(&log_origin(chain), 1, leaf_hash(&data));
    let addr = PublicKey(signer.verifying_key().to_bytes()).address();
    let ns = NoteSigner::new(&validator_key_name(chain, &addr), signer.clone()).unwrap();
    let note = Note::sign(&cp.to_text(), &ns).unwrap();
    TlogProof {
        extra: Some(data),
        index: 0,
        path: vec![],
        checkpoint: note,
    }
    .to_text()
}

fn verifiers() -> Verifiers {
    Verifiers {
        chain_id: CHAIN.into(),
        origin: Some(log_origin(CHAIN)),
        height: Some(1),
        validators: vec![VerifierKey {
            public_key: hex::encode(validator().verifying_key().to_bytes()),
            power: 10,
            vkey: None,
        }],
    }
}

fn key(status: &str, since: Option<u64>) -> KeyStatusView {
    KeyStatusView {
        public_key: None,
        account: None,
        status: status.into(),
        since_height: since,
        replaced_by: None,
        reason: (status == "revoked").then(|| "compromised".into()),
    }
}

fn record(m: &SignedManifest) -> RecordView {
    RecordView {
        registration: RegistrationView::from(&registration(m)),
        tx_id: TxId([5; 32]),
        height: 4,
        log_index: Some(0),
    }
}

fn status_of(v: &btl_registry::Verdict, name: &str) -> CheckStatus {
    v.get(name).unwrap().status
}

#[test]
fn everything_holds() {
    let m = manifest_of(&creator(), 1, "CC-BY-4.0");
    let bytes = m.canonical_bytes();
    let r = roots(1);
    let text = receipt(CHAIN, registration(&m), &validator());
    let set = verifiers().verifier_set().unwrap();
    let k = key("current", None);
    let rec = record(&m);
    let v = check(&VerdictInput {
        manifest: &bytes,
        torrent: Some(&r),
        receipt: Some(ReceiptInput {
            text: &text,
            chain_id: CHAIN,
            verifiers: &set,
        }),
        key_status: Some(&k),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &[],
        }),
    });
    assert!(v.ok, "{v:#?}");
    assert!(v.registered);
    assert_eq!(v.registered_height, Some(4));
    assert_eq!(v.license.as_deref(), Some("CC-BY-4.0"));
    assert!(
        v.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{v:#?}"
    );
    // Serializable for --json.
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["checks"][0]["status"], "pass");
}

#[test]
fn only_a_manifest_is_ok_but_unregistered() {
    let m = manifest_of(&creator(), 1, "MIT");
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        ..Default::default()
    });
    assert!(v.ok);
    assert!(!v.registered);
    assert_eq!(status_of(&v, "receipt"), CheckStatus::Skipped);
}

#[test]
fn forged_signature() {
    let m = manifest_of(&creator(), 1, "MIT");
    let mut doc: serde_json::Value = serde_json::from_slice(&m.canonical_bytes()).unwrap();
    let pv = doc["proof"]["proofValue"].as_str().unwrap().to_string();
    // Another valid base58 character in the middle of the signature.
    let mut chars: Vec<char> = pv.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == '2' { '3' } else { '2' };
    doc["proof"]["proofValue"] = chars.into_iter().collect::<String>().into();
    let v = check(&VerdictInput {
        manifest: doc.to_string().as_bytes(),
        ..Default::default()
    });
    assert!(!v.ok);
    assert_eq!(status_of(&v, "signature"), CheckStatus::Fail, "{v:#?}");
    assert!(
        v.reasons().contains("signature does not verify"),
        "{}",
        v.reasons()
    );
}

#[test]
fn changed_field() {
    let m = manifest_of(&creator(), 1, "CC-BY-NC-4.0");
    let mut doc: serde_json::Value = serde_json::from_slice(&m.canonical_bytes()).unwrap();
    doc["license"]["spdx"] = "CC0-1.0".into();
    let v = check(&VerdictInput {
        manifest: doc.to_string().as_bytes(),
        ..Default::default()
    });
    assert!(!v.ok);
    assert_eq!(status_of(&v, "signature"), CheckStatus::Fail, "{v:#?}");
    assert!(v.reasons().contains("changed"), "{}", v.reasons());
}

#[test]
fn not_a_manifest() {
    let v = check(&VerdictInput {
        manifest: b"{\"hello\": 1}",
        ..Default::default()
    });
    assert!(!v.ok);
    assert_eq!(status_of(&v, "manifest"), CheckStatus::Fail);
    assert_eq!(status_of(&v, "signature"), CheckStatus::Skipped);
}

#[test]
fn manifest_for_another_torrent() {
    let m = manifest_of(&creator(), 1, "MIT");
    let other = roots(8);
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        torrent: Some(&other),
        ..Default::default()
    });
    assert!(!v.ok);
    assert!(
        v.reasons().contains("for another torrent"),
        "{}",
        v.reasons()
    );
}

#[test]
fn roots_mismatch() {
    let m = manifest_of(&creator(), 1, "MIT");
    let mut r = roots(1);
    r.files[0].2 = Some([4; 32]);
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        torrent: Some(&r),
        ..Default::default()
    });
    assert!(!v.ok);
    assert!(
        v.reasons().contains("pieces root differs"),
        "{}",
        v.reasons()
    );
}

#[test]
fn v1_only_torrent() {
    let m = manifest_of(&creator(), 1, "MIT");
    let mut r = roots(1);
    r.infohash_v2 = None;
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        torrent: Some(&r),
        ..Default::default()
    });
    assert!(v.reasons().contains("v1-only"), "{}", v.reasons());
}

#[test]
fn revoked_key() {
    let m = manifest_of(&creator(), 1, "MIT");
    let k = key("revoked", Some(9));
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        key_status: Some(&k),
        ..Default::default()
    });
    assert!(!v.ok);
    assert!(
        v.reasons().contains("revoked since height 9"),
        "{}",
        v.reasons()
    );
}

#[test]
fn a_status_about_another_key_does_not_count() {
    // After a rotation the account's current key is "current", but the
    // manifest was signed by the old one: that status says nothing of it.
    let m = manifest_of(&creator(), 1, "MIT");
    let mut other = key("current", Some(3));
    other.public_key = Some("ab".repeat(32));
    let v = check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        key_status: Some(&other),
        ..Default::default()
    });
    let c = v.checks.iter().find(|c| c.name == "creator_key").unwrap();
    assert_eq!(c.status, CheckStatus::Skipped, "{c:?}");
    assert!(c.detail.contains("not the key that signed"), "{c:?}");
}

#[test]
fn rotated_key_keeps_history_valid() {
    let m = manifest_of(&creator(), 1, "MIT");
    let bytes = m.canonical_bytes();
    let rec = record(&m); // registered at height 4
    let before = key("rotated", Some(10));
    let v = check(&VerdictInput {
        manifest: &bytes,
        key_status: Some(&before),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &[],
        }),
        ..Default::default()
    });
    assert!(v.ok, "{v:#?}");
    // Registered after the key was rotated out: refused.
    let after = key("rotated", Some(2));
    let v = check(&VerdictInput {
        manifest: &bytes,
        key_status: Some(&after),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &[],
        }),
        ..Default::default()
    });
    assert!(!v.ok);
    assert!(
        v.reasons().contains("rotated out at height 2"),
        "{}",
        v.reasons()
    );
}

fn with_receipt(m: &SignedManifest, text: &str, chain: &str) -> btl_registry::Verdict {
    let set = verifiers().verifier_set().unwrap();
    check(&VerdictInput {
        manifest: &m.canonical_bytes(),
        receipt: Some(ReceiptInput {
            text,
            chain_id: chain,
            verifiers: &set,
        }),
        ..Default::default()
    })
}

#[test]
fn receipt_from_another_chain() {
    let m = manifest_of(&creator(), 1, "MIT");
    let text = receipt("btl-other", registration(&m), &validator());
    let v = with_receipt(&m, &text, CHAIN);
    assert!(!v.ok);
    assert!(v.reasons().contains("btl-other"), "{}", v.reasons());
}

#[test]
fn receipt_cosigned_by_strangers() {
    let m = manifest_of(&creator(), 1, "MIT");
    let stranger = SigningKey::from_bytes(&[11; 32]);
    let text = receipt(CHAIN, registration(&m), &stranger);
    let v = with_receipt(&m, &text, CHAIN);
    assert!(!v.ok);
    assert_eq!(status_of(&v, "receipt"), CheckStatus::Fail);
    assert!(v.reasons().contains("does not verify"), "{}", v.reasons());
}

#[test]
fn receipt_with_a_tampered_checkpoint() {
    let m = manifest_of(&creator(), 1, "MIT");
    let text = receipt(CHAIN, registration(&m), &validator());
    // Another log size in the checkpoint: the cosignature no longer holds.
    let bad = text.replacen("\n1\n", "\n2\n", 1);
    assert_ne!(bad, text);
    let v = with_receipt(&m, &bad, CHAIN);
    assert!(!v.ok);
    assert_eq!(status_of(&v, "receipt"), CheckStatus::Fail);
}

#[test]
fn receipt_of_another_manifest() {
    let m = manifest_of(&creator(), 1, "MIT");
    let other = manifest_of(&creator(), 1, "CC0-1.0");
    let text = receipt(CHAIN, registration(&other), &validator());
    let v = with_receipt(&m, &text, CHAIN);
    assert!(!v.ok);
    assert!(v.reasons().contains("not this one"), "{}", v.reasons());
}

#[test]
fn ledger_record_of_another_manifest_and_history() {
    let old = manifest_of(&creator(), 1, "MIT");
    let new = manifest_of(&creator(), 1, "CC0-1.0");
    let mut rec = record(&new);
    rec.registration.license = "CC0-1.0".into();
    // Without history, the old manifest is refused.
    let v = check(&VerdictInput {
        manifest: &old.canonical_bytes(),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &[],
        }),
        ..Default::default()
    });
    assert!(!v.ok);
    assert!(v.reasons().contains("not this one"), "{}", v.reasons());
    // With the history, it is a superseded record.
    let history = vec![
        HistoryEntry {
            height: 4,
            tx_id: hex::encode([5; 32]),
            manifest_hash: old.id().to_hex(),
            license: "MIT".into(),
            kind: "register".into(),
        },
        HistoryEntry {
            height: 6,
            tx_id: hex::encode([6; 32]),
            manifest_hash: new.id().to_hex(),
            license: "CC0-1.0".into(),
            kind: "amend".into(),
        },
    ];
    let v = check(&VerdictInput {
        manifest: &old.canonical_bytes(),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &history,
        }),
        ..Default::default()
    });
    assert!(v.ok, "{v:#?}");
    assert!(v.get("ledger").unwrap().detail.contains("superseded"));
    let v = check(&VerdictInput {
        manifest: &new.canonical_bytes(),
        ledger: Some(LedgerInput {
            record: &rec,
            history: &history,
        }),
        ..Default::default()
    });
    assert!(v.ok, "{v:#?}");
    assert_eq!(v.registered_height, Some(6));
}

#[test]
fn verifiers_parse_and_bounds() {
    let j = serde_json::to_vec(&verifiers()).unwrap();
    let v = Verifiers::parse(&j).unwrap();
    assert_eq!(v.verifier_set().unwrap().keys().len(), 1);
    assert!(Verifiers::parse(b"[]").is_err());
    let mut bad = verifiers();
    bad.validators[0].public_key = "zz".into();
    assert!(bad.verifier_set().is_err());
    let mut wrong_vkey = verifiers();
    let other = SigningKey::from_bytes(&[12; 32]);
    let ns = NoteSigner::new("x", other).unwrap();
    wrong_vkey.validators[0].vkey = Some(ns.verifier().to_vkey());
    assert!(wrong_vkey.verifier_set().is_err());
}
