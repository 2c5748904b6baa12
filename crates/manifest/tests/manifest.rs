//! Manifests end to end in the library: built from real torrents, signed,
//! parsed back, checked against torrents; and every kind of tampering
//! refused with an error that names the problem.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use btl_manifest::di::{self, DiError};
use btl_manifest::json::{parse, Value};
use btl_manifest::manifest::{self, Difference};
use btl_manifest::{
    Account, DidKey, License, Manifest, ManifestError, Payment, ProvFile, SignedManifest,
    SigningKey, Split, Terms,
};
use btl_metainfo::create::{create, CreateOptions, TorrentVersion};
use btl_metainfo::torrent::Torrent;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn write_files(root: &Path, files: &[(&str, Vec<u8>)]) {
    for (p, data) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

fn torrent_of(root: &Path, version: TorrentVersion) -> Torrent {
    let opts = CreateOptions {
        version,
        piece_length: Some(16 * 1024),
        ..CreateOptions::default()
    };
    let created = create(root, &opts, &|_, _| {}).unwrap();
    Torrent::from_bytes(&created.torrent).unwrap()
}

fn album(dir: &Path, name: &str, seed: u8) -> Torrent {
    let root = dir.join(name);
    write_files(
        &root,
        &[
            ("cd1/01.flac", vec![seed; 40_000]),
            ("cd1/02.flac", vec![seed.wrapping_add(1); 70_000]),
            ("cover.jpg", vec![seed.wrapping_add(2); 1234]),
            ("empty.txt", vec![]),
        ],
    );
    torrent_of(&root, TorrentVersion::Hybrid)
}

fn license() -> License {
    License {
        spdx: "CC-BY-4.0".into(),
        terms: None,
    }
}

fn sign(t: &Torrent, k: &SigningKey) -> SignedManifest {
    Manifest::from_torrent(t, DidKey::of(k), 1_700_000_000, license(), None)
        .unwrap()
        .sign(k, 1_700_000_100)
        .unwrap()
}

fn value(m: &SignedManifest) -> Value {
    parse(&m.canonical_bytes(), manifest::limits()).unwrap()
}

/// Sets a member by a path like `["files", "0", "length"]`.
fn set(v: &mut Value, path: &[&str], new: Value) {
    match (v, path) {
        (v, [last]) => match v {
            Value::Array(a) => a[last.parse::<usize>().unwrap()] = new,
            other => other.insert(last, new),
        },
        (Value::Array(a), [first, rest @ ..]) => {
            set(&mut a[first.parse::<usize>().unwrap()], rest, new)
        }
        (Value::Object(m), [first, rest @ ..]) => {
            let slot = m.iter_mut().find(|(k, _)| k == first).unwrap();
            set(&mut slot.1, rest, new)
        }
        _ => panic!("bad path"),
    }
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

#[test]
fn from_torrent_sign_parse_check() {
    let dir = tempfile::tempdir().unwrap();
    let t = album(dir.path(), "Album", 1);
    let k = key(1);
    let signed = sign(&t, &k);
    let m = signed.manifest();
    assert_eq!(m.name, "Album");
    assert_eq!(m.infohash_v2, t.info_hashes().v2().unwrap());
    assert_eq!(m.infohash_v1, t.info_hashes().v1());
    // Pad files are left out; the empty file has no root.
    let paths: Vec<String> = m.files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(
        paths,
        ["cd1/01.flac", "cd1/02.flac", "cover.jpg", "empty.txt"]
    );
    assert_eq!(m.files[3].pieces_root, None);
    assert!(m.files[0].pieces_root.is_some());

    // Through a .prov file and back.
    let prov = ProvFile::new(&signed).to_json_pretty();
    let back = ProvFile::parse(prov.as_bytes())
        .unwrap()
        .manifest()
        .unwrap();
    assert_eq!(back.manifest(), m);
    assert_eq!(back.id(), signed.id());
    back.manifest().check_torrent(&t).unwrap();
    assert_eq!(back.signed_at(), Some(1_700_000_100));
}

#[test]
fn v1_only_torrents_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("v1");
    write_files(&root, &[("a.bin", vec![5; 20_000])]);
    let t = torrent_of(&root, TorrentVersion::V1);
    let e = Manifest::from_torrent(&t, DidKey::of(&key(1)), 0, license(), None).unwrap_err();
    assert!(e.to_string().contains("v1-only"), "{e}");
}

#[test]
fn a_changed_field_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signed = sign(&album(dir.path(), "Album", 1), &key(1));
    for (path, new) in [
        (&["name"][..], s("Album (remastered)")),
        (&["license", "spdx"][..], s("CC0-1.0")),
        (&["files", "2", "length"][..], s("1235")),
        (&["created"][..], s("2023-11-14T22:13:21Z")),
        (&["proof", "created"][..], s("2023-11-14T22:15:01Z")),
    ] {
        let mut v = value(&signed);
        set(&mut v, path, new);
        let e = SignedManifest::from_value(v).unwrap_err();
        assert_eq!(e, ManifestError::Proof(DiError::BadSignature), "{path:?}");
        assert!(e.to_string().contains("signature does not verify"), "{e}");
    }
    // Adding a member is refused before the signature is even looked at.
    let mut v = value(&signed);
    v.insert("comment", s("free download!"));
    let e = SignedManifest::from_value(v).unwrap_err();
    assert!(e.to_string().contains("unknown field `comment`"), "{e}");
}

#[test]
fn a_forged_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = album(dir.path(), "Album", 1);
    let signed = sign(&t, &key(1));

    // The proof value replaced by another key's signature over the same
    // document, the verification method still naming the creator.
    let other = sign(&t, &key(2));
    let mut v = value(&signed);
    let forged = other
        .document()
        .get("proof")
        .unwrap()
        .get("proofValue")
        .unwrap()
        .clone();
    set(&mut v, &["proof", "proofValue"], forged);
    assert_eq!(
        SignedManifest::from_value(v).unwrap_err(),
        ManifestError::Proof(DiError::BadSignature)
    );

    // A valid proof by another key over a manifest that names the
    // creator: the signer is not the creator.
    let mut m = signed.manifest().clone();
    let mut v = m.to_value();
    di::sign(&mut v, &di::ProofOptions::assertion(1), &key(2)).unwrap();
    let e = SignedManifest::from_value(v).unwrap_err();
    assert!(matches!(e, ManifestError::SignerNotCreator { .. }), "{e}");
    assert!(e.to_string().contains("not by its creator"), "{e}");

    // Signing someone else's manifest is refused up front.
    m.creator = DidKey::of(&key(3));
    assert!(matches!(
        m.sign(&key(2), 1),
        Err(ManifestError::SignerNotCreator { .. })
    ));

    // A flipped bit in the signature.
    let mut v = value(&signed);
    let pv = v
        .get("proof")
        .unwrap()
        .get("proofValue")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let mut sig = btl_manifest::base58::multibase_decode(&pv, 100).unwrap();
    sig[5] ^= 1;
    set(
        &mut v,
        &["proof", "proofValue"],
        s(&btl_manifest::base58::multibase_encode(&sig)),
    );
    assert_eq!(
        SignedManifest::from_value(v).unwrap_err(),
        ManifestError::Proof(DiError::BadSignature)
    );
}

#[test]
fn torrent_mismatches_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let t = album(dir.path(), "Album", 1);
    let signed = sign(&t, &key(1));
    let m = signed.manifest();

    // Another torrent altogether.
    let other = album(dir.path(), "Other", 9);
    let e = m.check_torrent(&other).unwrap_err();
    assert!(e.other_torrent());
    assert!(
        e.to_string()
            .contains("the manifest is for another torrent"),
        "{e}"
    );

    // Same names, one file's content changed: its root differs.
    let d2 = tempfile::tempdir().unwrap();
    let root = d2.path().join("Album");
    write_files(
        &root,
        &[
            ("cd1/01.flac", vec![1; 40_000]),
            ("cd1/02.flac", vec![7; 70_000]),
            ("cover.jpg", vec![3; 1234]),
            ("empty.txt", vec![]),
        ],
    );
    let changed = torrent_of(&root, TorrentVersion::Hybrid);
    let e = m.check_torrent(&changed).unwrap_err();
    let roots: Vec<&Difference> =
        e.0.iter()
            .filter(|d| matches!(d, Difference::PiecesRoot { .. }))
            .collect();
    assert_eq!(roots.len(), 1, "{e}");
    assert!(
        e.to_string()
            .contains("cd1/02.flac: pieces root does not match"),
        "{e}"
    );

    // A manifest that misdescribes its own torrent (right infohash, wrong
    // root) is caught too.
    let mut lying = m.clone();
    lying.files[0].pieces_root = Some(btl_types::Sha256Hash([0; 32]));
    let e = lying.check_torrent(&t).unwrap_err();
    assert!(!e.other_torrent());
    assert!(
        e.to_string()
            .contains("cd1/01.flac: pieces root does not match"),
        "{e}"
    );
}

#[test]
fn field_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let signed = sign(&album(dir.path(), "Album", 1), &k);
    let acct = Account::of(&DidKey::of(&k)).to_string();
    let cases: Vec<(Vec<&str>, Value, &str)> = vec![
        (vec!["type"], s("Manifest"), "type"),
        (vec!["version"], Value::Number(2.0), "version"),
        (vec!["version"], s("1"), "version: invalid type"),
        (vec!["creator"], s("did:web:example.com"), "creator"),
        (vec!["created"], s("2025-01-01T00:00:00+00:00"), "created"),
        (vec!["name"], s(""), "name"),
        (vec!["infohashV2"], s("abcd"), "infohashV2"),
        (vec!["infohashV1"], s("ABCD"), "infohashV1"),
        (vec!["pieceLength"], s("1000"), "pieceLength"),
        (vec!["files", "0", "path"], s("../etc/passwd"), "files[0].path"),
        (vec!["files", "1", "path"], s("cd1/01.flac"), "files[1].path"),
        (vec!["files", "1", "length"], Value::Number(5.0), "files[1].length: invalid type"),
        (vec!["files", "1", "length"], s("007"), "files[1].length"),
        (vec!["files", "2", "piecesRoot"], s("xyz"), "files[2].piecesRoot"),
        (vec!["files", "3", "piecesRoot"], s(&"ab".repeat(32)), "files[3].piecesRoot"),
        (vec!["files", "0", "size"], s("1"), "files[0].size: unknown field `size`"),
        (vec!["license", "spdx"], s("MIT OR"), "license.spdx"),
        (
            vec!["license", "terms"],
            parse(br#"{"regions":["de"]}"#, Default::default()).unwrap(),
            "license.terms.regions[0]",
        ),
        (
            vec!["license", "terms"],
            parse(br#"{"distributionLimit":"0"}"#, Default::default()).unwrap(),
            "license.terms.distributionLimit",
        ),
        (
            vec!["payment"],
            parse(format!(r#"{{"address":"{acct}x"}}"#).as_bytes(), Default::default()).unwrap(),
            "payment.address",
        ),
        (
            vec!["payment"],
            parse(
                format!(r#"{{"address":"{acct}","splits":[{{"account":"{acct}","bps":9000}}]}}"#)
                    .as_bytes(),
                Default::default(),
            )
            .unwrap(),
            "payment.splits: the basis points add up to 9000",
        ),
        (
            vec!["payment"],
            parse(
                format!(r#"{{"address":"{acct}","splits":[{{"account":"{acct}","bps":5000}},{{"account":"{acct}","bps":5000}}]}}"#)
                    .as_bytes(),
                Default::default(),
            )
            .unwrap(),
            "payment.splits[1].account",
        ),
    ];
    for (path, new, want) in cases {
        let mut v = value(&signed);
        set(&mut v, &path, new);
        // Re-sign, so that only the field check can refuse it.
        v.remove("proof");
        di::sign(&mut v, &di::ProofOptions::assertion(1), &k).unwrap();
        let e = SignedManifest::from_value(v).unwrap_err().to_string();
        assert!(e.contains(want), "{path:?}: {e:?} should contain {want:?}");
    }
}

#[test]
fn terms_and_splits_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let t = album(dir.path(), "Album", 1);
    let k = key(1);
    let me = Account::of(&DidKey::of(&k));
    let payment = Payment {
        address: me,
        splits: vec![
            Split {
                account: me,
                bps: 2500,
            },
            Split {
                account: Account([9; 32]),
                bps: 7500,
            },
        ],
    };
    let lic = License {
        spdx: "CC-BY-NC-4.0 OR LicenseRef-commercial".into(),
        terms: Some(Terms {
            regions: Some(vec!["US".into(), "CA".into()]),
            commercial_use: Some(true),
            distribution_limit: Some(50),
        }),
    };
    let m = Manifest::from_torrent(&t, DidKey::of(&k), 5, lic, Some(payment)).unwrap();
    let signed = m.sign(&k, 6).unwrap();
    let back = SignedManifest::parse(&signed.canonical_bytes()).unwrap();
    assert_eq!(back.manifest(), &m);

    // Splits that do not add up are refused when building, too.
    let mut bad = m.clone();
    bad.payment.as_mut().unwrap().splits[0].bps = 2000;
    assert!(bad
        .sign(&k, 6)
        .unwrap_err()
        .to_string()
        .contains("payment.splits"));
}

#[test]
fn batch_verification_finds_the_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let t = album(dir.path(), "Album", 1);
    let mut prepared = Vec::new();
    for i in 0..40u8 {
        let k = key(i + 10);
        let signed = sign(&t, &k);
        let mut v = value(&signed);
        if i == 17 {
            set(&mut v, &["name"], s("Album!"));
            // Keep the shape valid: the name must match nothing here.
        }
        let (_, p) = SignedManifest::from_value_unverified(v).unwrap();
        prepared.push(p);
    }
    let verdicts = di::verify_prepared_batch(&prepared);
    for (i, ok) in verdicts.iter().enumerate() {
        assert_eq!(*ok, i != 17, "manifest {i}");
    }
    assert!(di::verify_prepared_batch(&prepared[..17])
        .iter()
        .all(|&b| b));
}

#[test]
fn bounds_hold() {
    // Too deep, too big, duplicate members: refused before any work.
    let deep = format!("{}{}", "[".repeat(20), "]".repeat(20));
    assert!(matches!(
        SignedManifest::parse(deep.as_bytes()),
        Err(ManifestError::Json(_))
    ));
    assert!(matches!(
        SignedManifest::parse(br#"{"name":"a","name":"b"}"#),
        Err(ManifestError::Json(_))
    ));
    let huge = vec![b' '; manifest::MAX_MANIFEST_BYTES + 1];
    assert!(matches!(
        SignedManifest::parse(&huge),
        Err(ManifestError::Json(_))
    ));
    // .prov envelope errors name the member.
    for (text, want) in [
        (
            r#"{"type":"BtlProvenance","version":1}"#,
            "manifest is missing",
        ),
        (r#"{"type":"X","version":1,"manifest":{}}"#, "type must be"),
        (
            r#"{"type":"BtlProvenance","version":2,"manifest":{}}"#,
            "version 2",
        ),
        (
            r#"{"type":"BtlProvenance","version":1,"manifest":{},"extra":1}"#,
            "unknown member \"extra\"",
        ),
        (
            r#"{"type":"BtlProvenance","version":1,"manifest":{},"receipt":"hello"}"#,
            "receipt is not a C2SP tlog-proof",
        ),
        ("[]", "not an object"),
    ] {
        let e = ProvFile::parse(text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
}
