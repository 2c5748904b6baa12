//! Registry receipts from real ledger nodes: checkpoints cosigned through
//! Malachite vote extensions, receipts that verify offline with the
//! validators' keys, and refuse tampering or another chain's validators.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ledger_common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use btl_ledger as l;
use ledger_common::{get, http, wait_for, Cluster};
use serde_json::Value;

/// The validator key of a node directory (funded in the default genesis).
fn node_key(dir: &Path) -> l::ed25519_dalek::SigningKey {
    let key_file: Value =
        serde_json::from_str(&ledger_common::read(&dir.join("node_key.json"))).unwrap();
    let secret: [u8; 32] = ledger_common::unhex(key_file["secret_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    l::ed25519_dalek::SigningKey::from_bytes(&secret)
}

/// Registers a torrent named `name` from `sk`'s account; returns the tx id.
fn register(a: SocketAddr, sk: &l::ed25519_dalek::SigningKey, name: &str) -> String {
    let (_, st) = get(a, "/status");
    let chain = st["chain_id"].as_str().unwrap().to_string();
    let me = l::PublicKey::from_signing_key(sk);
    let (code, acct) = get(a, &format!("/account/{}", me.address()));
    assert_eq!(code, 200, "{acct}");
    let nonce = acct["account"]["nonce"].as_u64().unwrap();
    let mut ih = [0u8; 32];
    ih[..name.len().min(32)].copy_from_slice(&name.as_bytes()[..name.len().min(32)]);
    let tx = l::Tx {
        from: me.address(),
        nonce,
        fee: 1,
        body: l::TxBody::RegisterTorrent(l::RegisterTorrent {
            manifest_hash: [7; 32],
            infohash_v2: ih,
            infohash_v1: None,
            creator: me.address(),
            file_roots: vec![[1; 32]],
            name: name.into(),
            size: 1 << 20,
            license: "CC-BY-4.0".into(),
        }),
    }
    .sign(&chain, sk);
    let body = format!("{{\"tx\":\"{}\"}}", ledger_common::hex(&tx.encode()));
    let (code, v) = http(a, "POST", "/tx", Some(&body)).unwrap();
    assert_eq!(code, 202, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// Waits for the receipt of `id` (503 until a cosigned checkpoint covers it).
fn receipt(a: SocketAddr, id: &str) -> Value {
    wait_for("a receipt", Duration::from_secs(60), || {
        let (code, v) = get(a, &format!("/receipt/{id}"));
        match code {
            200 => Some(v),
            503 | 404 => None,
            c => panic!("receipt: {c} {v}"),
        }
    })
}

/// Checks a receipt offline against a verifiers document; returns the
/// entry's transaction id (hex).
fn verify(receipt: &str, chain: &str, verifiers: &Value) -> Result<String, String> {
    let set = btl_consensus::ledger_receipts::verifier_set_from_json(verifiers)?;
    let (entry, _) =
        l::registry::verify_receipt(receipt.as_bytes(), chain, &set).map_err(|e| e.to_string())?;
    Ok(hex::encode(entry.tx_id.0))
}

#[test]
fn single_validator_serves_verifiable_receipts() {
    let mut c = Cluster::init(1, &[]);
    c.start(0);
    c.wait_height(0, 1, Duration::from_secs(30));
    let a = c.http[0];
    let sk = node_key(&c.dir(0));
    let id = register(a, &sk, "receipt-one");
    let r = receipt(a, &id);
    assert_eq!(r["tx_id"], id.as_str());
    let text = r["receipt"].as_str().unwrap();
    let (code, vs) = get(a, "/registry/verifiers");
    assert_eq!(code, 200, "{vs}");
    let chain = vs["chain_id"].as_str().unwrap().to_string();
    assert_eq!(vs["origin"], format!("btl-ledger/{chain}/registry"));
    assert_eq!(verify(text, &chain, &vs).unwrap(), id);

    // The latest checkpoint is a cosigned note at least as large.
    let (code, cp) = get(a, "/checkpoint");
    assert_eq!(code, 200, "{cp}");
    assert!(cp["size"].as_u64().unwrap() >= r["checkpoint_size"].as_u64().unwrap());
    assert!(cp["note"]
        .as_str()
        .unwrap()
        .contains("\n\n\u{2014} btl-ledger/"));

    // One altered byte anywhere in the receipt: refused.
    let bytes = text.as_bytes();
    for pos in [0, bytes.len() / 3, bytes.len() / 2, bytes.len() - 3] {
        let mut bad = bytes.to_vec();
        bad[pos] = if bad[pos] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8_lossy(&bad).to_string();
        assert!(verify(&bad, &chain, &vs).is_err(), "altered at {pos}");
    }
    // Another chain: its own validators do not vouch for this receipt, and
    // the entry names this chain.
    let other = Cluster::init(1, &["--chain-id", "btl-other"]);
    let other_sk = node_key(&other.dir(0));
    let other_set = l::registry::validator_verifiers(
        &chain,
        &[l::Validator {
            address: l::PublicKey::from_signing_key(&other_sk).address(),
            pubkey: l::PublicKey::from_signing_key(&other_sk),
            power: 100,
        }],
    );
    assert!(l::registry::verify_receipt(text.as_bytes(), &chain, &other_set).is_err());
    assert!(verify(text, "btl-other", &vs).is_err());

    // Bad ids: 400; unknown: 404; a non-registry transaction: 404.
    let (code, _) = get(a, "/receipt/zz");
    assert_eq!(code, 400);
    let (code, _) = get(a, &format!("/receipt/{}", "00".repeat(32)));
    assert_eq!(code, 404);
    let (code, _) = get(a, "/registry/verifiers?height=abc");
    assert_eq!(code, 400);
    let (code, doc) = get(a, "/openapi.json");
    assert_eq!(code, 200);
    for p in ["/checkpoint", "/registry/verifiers", "/receipt/{id}"] {
        assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
    }
}

#[test]
fn four_validators_cosign_and_a_synced_validator_serves_receipts() {
    let mut c = Cluster::init(4, &[]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 1, Duration::from_secs(60));
    }
    let sk = node_key(&c.dir(0));
    let id = register(c.http[1], &sk, "receipt-four");
    let r = receipt(c.http[2], &id);
    let (_, vs) = get(c.http[3], "/registry/verifiers");
    let chain = vs["chain_id"].as_str().unwrap().to_string();
    assert_eq!(vs["validators"].as_array().unwrap().len(), 4);
    assert_eq!(
        verify(r["receipt"].as_str().unwrap(), &chain, &vs).unwrap(),
        id
    );
    // All four cosign (each precommit carries its extension).
    let (_, cp) = get(c.http[0], "/checkpoint");
    let sigs = cp["note"].as_str().unwrap().matches('\u{2014}').count();
    assert!(sigs >= 3, "{cp}");

    // Validator 3 misses blocks (and a registration), then catches up by
    // sync: it ends up with cosigned checkpoints of blocks it never voted on.
    c.kill(3);
    let id2 = register(c.http[0], &sk, "receipt-four-b");
    let r2 = receipt(c.http[0], &id2);
    let h2 = r2["height"].as_u64().unwrap();
    let now = c.height(0).unwrap();
    c.wait_height(0, now + 3, Duration::from_secs(60));
    c.start(3);
    c.wait_height(3, now + 3, Duration::from_secs(90));
    let r3 = receipt(c.http[3], &id2);
    assert_eq!(r3["height"].as_u64().unwrap(), h2);
    assert_eq!(
        verify(r3["receipt"].as_str().unwrap(), &chain, &vs).unwrap(),
        id2
    );
    c.assert_no_fork();
}
