//! The registry API of a real ledger node: manifests stored after
//! verification, torrent resolution with history (AmendLicense) and
//! receipts, creator listings, key status, and clear 4xx for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ledger_common;

use std::net::SocketAddr;
use std::time::Duration;

use btl_ledger as l;
use btl_manifest as m;
use ledger_common::{get, http, wait_for, Cluster};
use serde_json::Value;

fn node_key(c: &Cluster) -> l::ed25519_dalek::SigningKey {
    let key_file: Value =
        serde_json::from_str(&ledger_common::read(&c.dir(0).join("node_key.json"))).unwrap();
    let secret: [u8; 32] = ledger_common::unhex(key_file["secret_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    l::ed25519_dalek::SigningKey::from_bytes(&secret)
}

fn manifest(sk: &l::ed25519_dalek::SigningKey, ih: [u8; 32], spdx: &str) -> m::SignedManifest {
    let sk = m::SigningKey::from_bytes(&sk.to_bytes());
    m::Manifest {
        creator: m::DidKey::of(&sk),
        created: 1_700_000_000,
        name: "registry-test".into(),
        infohash_v2: btl_types::Sha256Hash(ih),
        infohash_v1: None,
        piece_length: 16384,
        files: vec![m::ManifestFile {
            path: vec!["a.bin".into()],
            length: 1000,
            pieces_root: Some(btl_types::Sha256Hash([1; 32])),
        }],
        license: m::License {
            spdx: spdx.into(),
            terms: None,
        },
        payment: None,
    }
    .sign(&sk, 1_700_000_000)
    .unwrap()
}

/// Submits a transaction body from `sk`'s account; waits for its commit.
fn submit(a: SocketAddr, sk: &l::ed25519_dalek::SigningKey, body: l::TxBody) -> (String, u64) {
    let me = l::PublicKey::from_signing_key(sk);
    let (_, acct) = get(a, &format!("/account/{}", me.address()));
    let nonce = acct["account"]["nonce"].as_u64().unwrap();
    let tx = l::Tx {
        from: me.address(),
        nonce,
        fee: 1,
        body,
    }
    .sign("btl-local", sk);
    let body = format!("{{\"tx\":\"{}\"}}", ledger_common::hex(&tx.encode()));
    let (code, v) = http(a, "POST", "/tx", Some(&body)).unwrap();
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let h = wait_for("the transaction to commit", Duration::from_secs(30), || {
        let (_, v) = get(a, &format!("/tx/{id}"));
        assert_ne!(v["status"], "rejected", "{v}");
        (v["status"] == "committed").then(|| v["height"].as_u64().unwrap())
    });
    (id, h)
}

#[test]
fn registry_routes_on_a_real_node() {
    let mut c = Cluster::init(1, &[]);
    c.start(0);
    c.wait_height(0, 1, Duration::from_secs(30));
    let a = c.http[0];
    let sk = node_key(&c);
    let me = l::PublicKey::from_signing_key(&sk);
    let ih = [0x5a; 32];

    // Upload the signed manifest; its id is what the registration anchors.
    let sm = manifest(&sk, ih, "CC-BY-4.0");
    let doc = String::from_utf8(sm.canonical_bytes()).unwrap();
    let (code, v) = http(a, "POST", "/registry/manifest", Some(&doc)).unwrap();
    assert_eq!(code, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id, hex::encode(sm.id().0));
    let (code, back) = get(a, &format!("/registry/manifest/{id}"));
    assert_eq!(code, 200, "{back}");
    assert_eq!(
        back,
        serde_json::from_slice::<Value>(&sm.canonical_bytes()).unwrap()
    );

    // A forged manifest (license changed after signing): refused.
    let forged = doc.replace("CC-BY-4.0", "CC0-1.0");
    let (code, v) = http(a, "POST", "/registry/manifest", Some(&forged)).unwrap();
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("manifest"), "{v}");
    let (code, _) = http(a, "POST", "/registry/manifest", Some("{not json")).unwrap();
    assert_eq!(code, 422);
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(1 << 21));
    let (code, _) = http(a, "POST", "/registry/manifest", Some(&huge)).unwrap();
    assert_eq!(code, 413);

    // Register, then amend the license with a new manifest.
    let reg = l::RegisterTorrent {
        manifest_hash: sm.id().0,
        infohash_v2: ih,
        infohash_v1: None,
        creator: me.address(),
        file_roots: vec![[1; 32]],
        name: "registry-test".into(),
        size: 1000,
        license: "CC-BY-4.0".into(),
    };
    let (reg_id, _) = submit(a, &sk, l::TxBody::RegisterTorrent(reg));
    let sm2 = manifest(&sk, ih, "CC-BY-SA-4.0");
    let doc2 = String::from_utf8(sm2.canonical_bytes()).unwrap();
    let (code, _) = http(a, "POST", "/registry/manifest", Some(&doc2)).unwrap();
    assert_eq!(code, 200);
    let (amend_id, _) = submit(
        a,
        &sk,
        l::TxBody::AmendLicense {
            infohash_v2: ih,
            manifest_hash: sm2.id().0,
            license: "CC-BY-SA-4.0".into(),
        },
    );
    let t = wait_for("the amendment's receipt", Duration::from_secs(30), || {
        let (code, t) = get(a, &format!("/registry/torrent/{}", hex::encode(ih)));
        assert_eq!(code, 200, "{t}");
        t["receipt"].is_string().then_some(t)
    });
    assert_eq!(t["tx_id"], amend_id.as_str());
    assert_eq!(t["torrent"]["license"], "CC-BY-SA-4.0");
    assert_eq!(
        t["manifest"],
        serde_json::from_slice::<Value>(&sm2.canonical_bytes()).unwrap()
    );
    let hist = t["history"].as_array().unwrap();
    assert_eq!(hist.len(), 2, "{t}");
    assert_eq!(hist[0]["kind"], "register");
    assert_eq!(hist[0]["tx_id"], reg_id.as_str());
    assert_eq!(hist[0]["license"], "CC-BY-4.0");
    assert_eq!(hist[1]["kind"], "amend");
    assert_eq!(t["creator_key"]["status"], "current");
    assert_eq!(t["creator_key"]["public_key"], hex::encode(me.0));
    // Both registry transactions have receipts that verify.
    let (_, vs) = get(a, "/registry/verifiers");
    let set = btl_consensus::ledger_receipts::verifier_set_from_json(&vs).unwrap();
    for id in [&reg_id, &amend_id] {
        let (code, r) = get(a, &format!("/receipt/{id}"));
        assert_eq!(code, 200, "{r}");
        let (entry, _) = l::registry::verify_receipt(
            r["receipt"].as_str().unwrap().as_bytes(),
            "btl-local",
            &set,
        )
        .unwrap();
        assert_eq!(hex::encode(entry.tx_id.0), **id);
    }

    // Someone else may not amend it.
    let other = l::ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let op = l::PublicKey::from_signing_key(&other);
    let tx = l::Tx {
        from: op.address(),
        nonce: 0,
        fee: 1,
        body: l::TxBody::AmendLicense {
            infohash_v2: ih,
            manifest_hash: [0; 32],
            license: "MIT".into(),
        },
    }
    .sign("btl-local", &other);
    let body = format!("{{\"tx\":\"{}\"}}", ledger_common::hex(&tx.encode()));
    let (code, v) = http(a, "POST", "/tx", Some(&body)).unwrap();
    assert_eq!(code, 422, "{v}");

    // Creator listing and key status.
    let (code, v) = get(a, &format!("/registry/creator/{}", me.address()));
    assert_eq!(code, 200, "{v}");
    let ts = v["torrents"].as_array().unwrap();
    assert_eq!(ts.len(), 1, "{v}");
    assert_eq!(ts[0]["infohash"], hex::encode(ih));
    let (code, v) = get(
        a,
        &format!(
            "/registry/creator/{}?after={}",
            me.address(),
            hex::encode(ih)
        ),
    );
    assert_eq!(code, 200);
    assert!(v["torrents"].as_array().unwrap().is_empty());
    let (code, v) = get(a, &format!("/registry/key/{}", hex::encode(me.0)));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "current");
    assert_eq!(v["account"], me.address().to_string());
    let did = m::DidKey::of(&m::SigningKey::from_bytes(&sk.to_bytes())).to_string();
    let (code, v) = get(a, &format!("/registry/key/{did}"));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "current");
    let (_, v) = get(a, &format!("/registry/key/{}", hex::encode([3; 32])));
    assert_eq!(v["status"], "unknown");

    // Bad input: clear 4xx.
    for (path, want) in [
        ("/registry/torrent/xyz", 400),
        ("/registry/torrent/zz".to_string().leak() as &str, 400),
        (format!("/registry/torrent/{}", "ab".repeat(32)).leak(), 404),
        ("/registry/key/nothex", 400),
        ("/registry/creator/nobody", 400),
        (
            format!("/registry/creator/{}?limit=1000", me.address()).leak(),
            400,
        ),
        ("/registry/manifest/00", 400),
        (
            format!("/registry/manifest/{}", "00".repeat(32)).leak(),
            404,
        ),
    ] {
        let (code, v) = get(a, path);
        assert_eq!(code, want, "{path}: {v}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    let (_, doc) = get(a, "/openapi.json");
    for p in [
        "/registry/torrent/{infohash}",
        "/registry/creator/{account}",
        "/registry/key/{key}",
        "/registry/manifest",
        "/registry/manifest/{id}",
    ] {
        assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
    }
    let schema = &doc["components"]["schemas"]["RegistryTorrent"];
    assert!(
        schema["properties"]["creator_key"]["description"]
            .as_str()
            .unwrap()
            .contains("signed"),
        "{schema}"
    );

    // The account rotates to a new key and revokes the old one: the
    // torrent's creator_key is still the status of the key that signed
    // its manifest (now revoked), not the account's new current key.
    let new_sk = l::ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let new_pk = l::PublicKey::from_signing_key(&new_sk);
    let (_, rot_h) = submit(
        a,
        &sk,
        l::TxBody::RotateKey {
            new_key: new_pk,
            revoke_old: true,
        },
    );
    let (code, t) = get(a, &format!("/registry/torrent/{}", hex::encode(ih)));
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["creator_key"]["public_key"], hex::encode(me.0), "{t}");
    assert_eq!(t["creator_key"]["status"], "revoked", "{t}");
    assert_eq!(t["creator_key"]["since_height"], rot_h, "{t}");
    assert_eq!(t["creator_key"]["account"], me.address().to_string());
    let (_, v) = get(a, &format!("/registry/key/{}", hex::encode(new_pk.0)));
    assert_eq!(v["status"], "current", "{v}");
}
