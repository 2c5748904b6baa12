//! `btl ledger`: one validator on loopback, its HTTP API and bad input.

mod common;
mod ledger_common;

use std::time::Duration;

use ledger_common::{get, http, wait_for, Cluster};

#[test]
fn single_validator_commits_blocks_and_transactions() {
    let mut c = Cluster::init(1, &["--bench-accounts", "1"]);
    c.start(0);
    c.wait_height(0, 2, Duration::from_secs(30));
    let a = c.http[0];

    // A signed register-torrent transaction goes from pending to committed.
    let key = ledger_common::bench_key(0);
    let nonce = ledger_common::account_nonce(a, &ledger_common::address_of(&key)).unwrap();
    let (id, tx) = ledger_common::register_tx(&key, nonce, [7; 16]);
    let (code, v) = http(a, "POST", "/tx", Some(&format!("{{\"tx\":\"{tx}\"}}"))).unwrap();
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["id"], id.as_str());
    let h = wait_for("the transaction to commit", Duration::from_secs(20), || {
        let (_, v) = get(a, &format!("/tx/{id}"));
        (v["status"] == "committed").then(|| v["height"].as_u64().unwrap())
    });
    let (code, b) = get(a, &format!("/block/{h}"));
    assert_eq!(code, 200);
    assert_eq!(b["header"]["tx_count"], 1);
    assert_eq!(b["signers"].as_array().unwrap().len(), 1);
    // ?raw=true: the same block's bytes, without the JSON rendering.
    let (code, raw) = get(a, &format!("/block/{h}?raw=true"));
    assert_eq!(code, 200);
    assert_eq!(raw["block_hex"], b["block_hex"]);
    assert_eq!(raw["hash"], b["hash"]);
    assert!(raw.get("header").is_none(), "{raw}");
    let (code, _) = get(a, &format!("/block/{h}?raw=maybe"));
    assert_eq!(code, 400);

    // Bad input gets clear 4xx answers.
    let (code, v) = http(a, "POST", "/tx", Some("{\"tx\":\"zz\"}")).unwrap();
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("hex"));
    let (code, _) = http(a, "POST", "/tx", Some("not json")).unwrap();
    assert_eq!(code, 400);
    let (code, v) = http(a, "POST", "/tx", Some(&format!("{{\"tx\":\"{tx}\"}}"))).unwrap();
    assert_eq!(code, 422, "replayed nonce: {v}");
    let (code, _) = get(a, "/block/999999");
    assert_eq!(code, 404);
    let (code, _) = get(a, "/block/abc");
    assert_eq!(code, 400);
    let (code, _) = get(a, "/tx/00");
    assert_eq!(code, 400);
    let big = "00".repeat(100_000);
    let (code, _) = http(a, "POST", "/tx", Some(&format!("{{\"tx\":\"{big}\"}}"))).unwrap();
    assert_eq!(code, 413);

    // The API describes itself.
    let (code, doc) = get(a, "/openapi.json");
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/tx",
        "/txs",
        "/txs/relay",
        "/tx/{id}",
        "/block/{height}",
        "/account/{address}",
        "/torrent/{infohash}",
        "/receipt/{id}",
        "/validators",
        "/status",
    ] {
        assert!(doc["paths"][p].is_object(), "openapi lacks {p}");
    }
    let (_, vs) = get(a, "/validators");
    assert_eq!(vs["validators"].as_array().unwrap().len(), 1);
}

/// `POST /txs` checks a batch's signatures together: the bad ones among
/// good ones are each refused with the reason, the rest are admitted and
/// commit.
#[test]
fn a_batch_with_bad_signatures_admits_exactly_the_good_ones() {
    let mut c = Cluster::init(1, &["--bench-accounts", "16"]);
    c.start(0);
    c.wait_height(0, 2, Duration::from_secs(30));
    let a = c.http[0];
    let bad = [3usize, 9, 14];
    let mut good_ids = Vec::new();
    let txs: Vec<String> = (0..16u32)
        .map(|i| {
            let key = ledger_common::bench_key(i);
            let nonce = ledger_common::account_nonce(a, &ledger_common::address_of(&key)).unwrap();
            let mut tag = [0u8; 16];
            tag[..4].copy_from_slice(&(1000 + i).to_be_bytes());
            let (id, tx) = ledger_common::register_tx(&key, nonce, tag);
            if !bad.contains(&(i as usize)) {
                good_ids.push(id);
                return tx;
            }
            // Flip one bit of the signature's s half (the last 32 bytes).
            let mut raw = hex::decode(&tx).unwrap();
            let n = raw.len();
            raw[n - 10] ^= 0x40;
            hex::encode(raw)
        })
        .collect();
    let body = serde_json::json!({ "txs": txs }).to_string();
    let (code, v) = http(a, "POST", "/txs", Some(&body)).unwrap();
    assert_eq!(code, 202, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 16);
    for (i, r) in results.iter().enumerate() {
        if bad.contains(&i) {
            assert_eq!(r["status"], "rejected", "tx {i}: {r}");
            assert_eq!(r["code"], 422, "tx {i}: {r}");
            assert!(
                r["error"].as_str().unwrap().contains("signature"),
                "tx {i}: {r}"
            );
        } else {
            assert_eq!(r["status"], "pending", "tx {i}: {r}");
        }
    }
    for id in &good_ids {
        wait_for(
            "a good transaction to commit",
            Duration::from_secs(20),
            || {
                let (_, v) = get(a, &format!("/tx/{id}"));
                (v["status"] == "committed").then_some(())
            },
        );
    }
}
