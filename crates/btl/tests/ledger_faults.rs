//! Ledger fault tests with real `btl ledger run` processes on loopback:
//! validators killed with SIGKILL and restarted, a quorum lost and
//! regained, a crash during heavy submission, a network partition.
//!
//! Every wait polls the HTTP status endpoint with a deadline.

mod common;
mod ledger_common;

use std::time::{Duration, Instant};

use ledger_common::{get, http, wait_for, Cluster};

/// Heights of the given nodes.
fn heights(c: &Cluster, nodes: &[usize]) -> Vec<Option<u64>> {
    nodes.iter().map(|i| c.height(*i)).collect()
}

#[test]
fn four_validators_survive_kills_and_quorum_loss() {
    let mut c = Cluster::init(4, &[]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 2, Duration::from_secs(60));
    }

    // One validator down: the other three keep finalizing.
    c.kill(3);
    let h = c.height(0).unwrap();
    for i in 0..3 {
        c.wait_height(i, h + 3, Duration::from_secs(30));
    }

    // Restarted, it catches up.
    c.start(3);
    let target = c.height(0).unwrap();
    c.wait_height(3, target, Duration::from_secs(30));
    c.assert_no_fork();

    // Two down: no quorum, no progress (a block already voted may still
    // land), and no fork.
    c.kill(2);
    c.kill(3);
    let at_kill = heights(&c, &[0, 1]).into_iter().flatten().max().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        for h in heights(&c, &[0, 1]).into_iter().flatten() {
            assert!(
                h <= at_kill + 1,
                "progress without a quorum: {h} > {at_kill} + 1"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stalled = c.assert_no_fork();

    // One back: 3 of 4 is a quorum again.
    c.start(2);
    for i in 0..3 {
        c.wait_height(i, stalled + 2, Duration::from_secs(60));
    }
    c.start(3);
    let target = c.height(0).unwrap();
    c.wait_height(3, target, Duration::from_secs(30));
    let common = c.assert_no_fork();
    assert!(common >= stalled + 2);
}

#[test]
fn kill9_during_heavy_submission_loses_nothing() {
    use ledger_common::demo_tx;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut c = Cluster::init(1, &["--app", "demo"]);
    c.start(0);
    c.wait_height(0, 1, Duration::from_secs(30));
    let a = c.http[0];

    // Submitters: 4 threads, each its own senders, batches of 200.
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..4u8 {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut ids = Vec::new();
            let mut nonce = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let txs: Vec<String> = (0..200u8)
                    .map(|k| demo_tx(t * 50 + k % 50, nonce + u64::from(k / 50), b"payload"))
                    .collect();
                nonce += 4;
                let body = serde_json::json!({ "txs": txs }).to_string();
                match http(a, "POST", "/txs", Some(&body)) {
                    Some((202, v)) => {
                        for r in v["results"].as_array().unwrap() {
                            if let Some(id) = r["id"].as_str() {
                                ids.push(id.to_string());
                            }
                        }
                    }
                    _ => break, // the node was killed
                }
            }
            ids
        }));
    }

    // Let blocks with transactions commit, then note what is committed.
    let start = c.height(0).unwrap();
    c.wait_height(0, start + 4, Duration::from_secs(30));
    let tip = c.height(0).unwrap();
    let hashes: Vec<String> = (1..=tip).map(|h| c.block_hash(0, h).unwrap()).collect();
    let mut committed_txs = 0;
    for h in 1..=tip {
        let (_, b) = get(a, &format!("/block/{h}"));
        committed_txs += b["header"]["tx_count"].as_u64().unwrap();
    }
    assert!(
        committed_txs > 0,
        "no transactions committed before the kill"
    );

    // kill -9 mid-stream.
    c.kill(0);
    stop.store(true, Ordering::Relaxed);
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();

    // Restart: every block we saw is still there, unchanged, and it goes on.
    c.start(0);
    c.wait_height(0, tip + 1, Duration::from_secs(30));
    for (i, h) in hashes.iter().enumerate() {
        assert_eq!(
            c.block_hash(0, i as u64 + 1).as_ref(),
            Some(h),
            "block {} changed",
            i + 1
        );
    }
    // Transactions reported committed are committed where they were.
    let mut seen = 0;
    for id in ids.iter().step_by(37) {
        let (code, v) = get(a, &format!("/tx/{id}"));
        if code == 200 && v["status"] == "committed" {
            assert!(v["height"].as_u64().unwrap() >= 1);
            seen += 1;
        }
    }
    assert!(seen > 0, "no sampled transaction committed");

    // Stop it and replay from genesis: the same state.
    let final_tip = c.height(0).unwrap();
    c.kill(0);
    let out = common::btl()
        .args(["ledger", "replay", "--json", "--dir"])
        .arg(c.dir(0))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["matches"], true, "{r}");
    assert!(r["height"].as_u64().unwrap() >= final_tip);
}

#[test]
fn power_change_takes_effect_at_its_height_without_restart() {
    use ledger_common::demo_tx;

    let mut c = Cluster::init(4, &["--app", "demo"]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 1, Duration::from_secs(60));
    }
    let (_, st) = get(c.http[0], "/status");
    let v0 = st["address"].as_str().unwrap().to_string();

    // Raise validator 0 from 100 to 400: 0 and 1 then hold 500 of 700,
    // more than two thirds.
    let mut payload = b"power".to_vec();
    payload.extend_from_slice(&ledger_common::unhex(&v0));
    payload.extend_from_slice(&400u64.to_be_bytes());
    let tx = demo_tx(9, 0, &payload);
    let (code, v) = http(
        c.http[1],
        "POST",
        "/tx",
        Some(&format!("{{\"tx\":\"{tx}\"}}")),
    )
    .unwrap();
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let h = wait_for(
        "the power change to commit",
        Duration::from_secs(30),
        || {
            let (_, v) = get(c.http[1], &format!("/tx/{id}"));
            (v["status"] == "committed").then(|| v["height"].as_u64().unwrap())
        },
    );

    // Not yet at h + 1, in force at h + 2 (the validator delay).
    let power_of_v0 = |height: u64| -> u64 {
        let (code, v) = get(c.http[0], &format!("/validators?height={height}"));
        assert_eq!(code, 200, "{v}");
        v["validators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["address"] == v0.as_str())
            .map(|x| x["power"].as_u64().unwrap())
            .unwrap_or(0)
    };
    c.wait_height(0, h + 2, Duration::from_secs(30));
    assert_eq!(power_of_v0(h + 1), 100);
    assert_eq!(power_of_v0(h + 2), 400);

    // With the new powers, two validators are a quorum: kill two, the
    // chain goes on.
    c.kill(2);
    c.kill(3);
    let now = c.height(0).unwrap();
    c.wait_height(0, now + 3, Duration::from_secs(60));
    c.wait_height(1, now + 3, Duration::from_secs(60));
    c.assert_no_fork();
}

#[test]
fn partition_into_pairs_stalls_without_fork_and_heals() {
    let mut c = Cluster::init(4, &[]);
    let relays = ledger_common::Relays::start(&c.p2p);
    c.use_relays(&relays);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 2, Duration::from_secs(60));
    }

    // {0,1} | {2,3}: neither side has two thirds.
    relays.partition(&[0, 1], &[2, 3]);
    let at_cut = heights(&c, &[0, 1, 2, 3])
        .into_iter()
        .flatten()
        .max()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        for h in heights(&c, &[0, 1, 2, 3]).into_iter().flatten() {
            assert!(
                h <= at_cut + 1,
                "progress in a minority partition: {h} > {at_cut} + 1"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stalled = c.assert_no_fork();

    // Healed: everyone moves on, on one chain.
    relays.heal();
    for i in 0..4 {
        c.wait_height(i, stalled + 2, Duration::from_secs(60));
    }
    assert!(c.assert_no_fork() >= stalled + 2);
}

#[test]
fn ledger_stake_moves_voting_power_at_its_height() {
    use btl_ledger as l;

    let mut c = Cluster::init(4, &[]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 1, Duration::from_secs(60));
    }
    // Validator 0 bonds 300 more (it has 100 staked and a funded balance).
    let key_file: serde_json::Value =
        serde_json::from_str(&ledger_common::read(&c.dir(0).join("node_key.json"))).unwrap();
    let secret: [u8; 32] = ledger_common::unhex(key_file["secret_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    let sk = l::ed25519_dalek::SigningKey::from_bytes(&secret);
    let me = l::PublicKey::from_signing_key(&sk);
    let (_, acct) = get(c.http[0], &format!("/account/{}", me.address()));
    let nonce = acct["account"]["nonce"].as_u64().unwrap();
    let tx = l::Tx {
        from: me.address(),
        nonce,
        fee: 1,
        body: l::TxBody::Stake { amount: 300 },
    }
    .sign("btl-local", &sk);
    let body = format!("{{\"tx\":\"{}\"}}", ledger_common::hex(&tx.encode()));
    let (code, v) = http(c.http[2], "POST", "/tx", Some(&body)).unwrap();
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let h = wait_for("the stake to commit", Duration::from_secs(30), || {
        let (_, v) = get(c.http[2], &format!("/tx/{id}"));
        (v["status"] == "committed").then(|| v["height"].as_u64().unwrap())
    });
    // The set of h + 2 (validator delay) has the new power; h + 1 not yet.
    let power = |height: u64| -> u64 {
        let (code, v) = get(c.http[1], &format!("/validators?height={height}"));
        assert_eq!(code, 200, "{v}");
        v["validators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["public_key"] == hex::encode(me.0))
            .map(|x| x["power"].as_u64().unwrap())
            .unwrap_or(0)
    };
    c.wait_height(1, h, Duration::from_secs(30));
    assert_eq!(power(h + 1), 100);
    assert_eq!(power(h + 2), 400);
    // In force: validators 0 and 1 (500 of 700) finalize alone.
    c.wait_height(0, h + 2, Duration::from_secs(30));
    c.kill(2);
    c.kill(3);
    let now = c.height(0).unwrap();
    c.wait_height(0, now + 3, Duration::from_secs(60));
    c.wait_height(1, now + 3, Duration::from_secs(60));
    c.assert_no_fork();
}
