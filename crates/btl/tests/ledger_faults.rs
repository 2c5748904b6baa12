//! Ledger fault tests with real `btl ledger run` processes on loopback:
//! validators killed with SIGKILL and restarted, a quorum lost and
//! regained, a crash during heavy submission, a network partition.
//!
//! Every wait polls the HTTP status endpoint with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Submitter `t` signs register-torrent transactions from its own
/// benchmark accounts (`n` of them, one transaction each per round, nonces
/// kept inside the ledger's window) and posts them until the node stops
/// answering or `stop` is set. Returns the accepted ids, the rejections and
/// whether it ended because the node went away.
fn submit_until_killed(
    a: std::net::SocketAddr,
    t: u32,
    n: u32,
    stop: &std::sync::atomic::AtomicBool,
) -> (Vec<String>, Vec<serde_json::Value>, bool) {
    use std::sync::atomic::Ordering;
    let keys: Vec<_> = (t * n..(t + 1) * n).map(ledger_common::bench_key).collect();
    let first = ledger_common::address_of(&keys[0]);
    let mut ids = Vec::new();
    let mut rejected = Vec::new();
    let Some(mut nonce) = ledger_common::account_nonce(a, &first) else {
        return (ids, rejected, true);
    };
    let ahead = btl_ledger::MAX_NONCE_AHEAD - 8;
    loop {
        if stop.load(Ordering::Relaxed) {
            return (ids, rejected, false);
        }
        // Accounts move in step (one transaction each per round, blocks
        // keep arrival order): the first one's committed nonce says how
        // far ahead we are. Wait for commits while the window is full.
        match ledger_common::account_nonce(a, &first) {
            None => return (ids, rejected, true),
            Some(committed) if nonce >= committed + ahead => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Some(_) => {}
        }
        let txs: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                let mut tag = [0u8; 16];
                tag[..4].copy_from_slice(&(t * n + k as u32).to_be_bytes());
                tag[4..12].copy_from_slice(&nonce.to_be_bytes());
                ledger_common::register_tx(key, nonce, tag).1
            })
            .collect();
        nonce += 1;
        let body = serde_json::json!({ "txs": txs }).to_string();
        match http(a, "POST", "/txs", Some(&body)) {
            Some((202, v)) => {
                let Some(results) = v["results"].as_array() else {
                    panic!("POST /txs answered without results: {v}");
                };
                for r in results {
                    match r["id"].as_str() {
                        Some(id) if r["status"] == "pending" => ids.push(id.to_string()),
                        _ => rejected.push(r.clone()),
                    }
                }
            }
            Some((code, v)) => panic!("POST /txs answered {code}: {v}"),
            None => return (ids, rejected, true), // the node was killed
        }
    }
}

#[test]
fn kill9_during_heavy_submission_loses_nothing() {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    // Four submitters, 64 funded accounts each.
    const SUBMITTERS: u32 = 4;
    const ACCOUNTS: u32 = 64;
    // Committed transactions to see before the kill.
    const BEFORE_KILL: usize = 5_000;
    let mut c = Cluster::init(
        1,
        &["--bench-accounts", &(SUBMITTERS * ACCOUNTS).to_string()],
    );
    c.start(0);
    c.wait_height(0, 1, Duration::from_secs(30));
    let a = c.http[0];

    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..SUBMITTERS)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || submit_until_killed(a, t, ACCOUNTS, &stop))
        })
        .collect();

    // Follow the chain while it fills: what the node reports committed
    // (transaction id -> height) and every block hash.
    let mut committed: HashMap<String, u64> = HashMap::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut blocks_with_txs = 0;
    wait_for(
        "transactions to commit before the kill",
        Duration::from_secs(60),
        || {
            let tip = c.height(0)?;
            while (hashes.len() as u64) < tip {
                let h = hashes.len() as u64 + 1;
                let (code, b) = get(a, &format!("/block/{h}"));
                assert_eq!(code, 200, "block {h}: {b}");
                hashes.push(b["hash"].as_str().unwrap().to_string());
                let txs = b["header"]["body"]["txs"].as_array().unwrap();
                blocks_with_txs += usize::from(!txs.is_empty());
                for t in txs {
                    committed.insert(t["id"].as_str().unwrap().to_string(), h);
                }
            }
            (committed.len() >= BEFORE_KILL && blocks_with_txs >= 3).then_some(())
        },
    );
    let tip = hashes.len() as u64;
    let (_, b) = get(a, &format!("/block/{tip}"));
    let tip_root = b["header"]["state_root"].as_str().unwrap().to_string();

    // kill -9 mid-stream: every submitter is still posting.
    assert!(
        threads.iter().all(|t| !t.is_finished()),
        "a submitter stopped before the kill"
    );
    c.kill(0);
    stop.store(true, Ordering::Relaxed);
    let mut accepted = HashSet::new();
    for t in threads {
        let (ids, rejected, saw_kill) = t.join().unwrap();
        assert!(rejected.is_empty(), "rejected at submission: {rejected:?}");
        assert!(saw_kill, "a submitter ended before the node died");
        accepted.extend(ids);
    }
    assert!(
        committed.keys().all(|id| accepted.contains(id)),
        "a committed transaction nobody submitted"
    );
    assert!(
        accepted.len() > committed.len(),
        "nothing was in flight at the kill ({} accepted, {} committed)",
        accepted.len(),
        committed.len()
    );

    eprintln!(
        "killed at height {tip}: {} transactions committed in {blocks_with_txs} blocks, {} accepted",
        committed.len(),
        accepted.len()
    );

    // Restart: every block seen is still there, unchanged, and it goes on.
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
    let (_, b) = get(a, &format!("/block/{tip}"));
    assert_eq!(b["header"]["state_root"], tip_root.as_str());
    // Every transaction reported committed is committed where it was.
    for (id, h) in &committed {
        let (code, v) = get(a, &format!("/tx/{id}"));
        assert_eq!(code, 200, "tx {id}: {v}");
        assert_eq!(v["status"], "committed", "tx {id}: {v}");
        assert_eq!(v["height"].as_u64(), Some(*h), "tx {id}: {v}");
    }
    // The accounts kept their nonces: a transaction at the committed nonce
    // commits.
    let key = ledger_common::bench_key(0);
    let nonce = ledger_common::account_nonce(a, &ledger_common::address_of(&key)).unwrap();
    let (id, tx) = ledger_common::register_tx(&key, nonce, [0xee; 16]);
    let (code, v) = http(a, "POST", "/tx", Some(&format!("{{\"tx\":\"{tx}\"}}"))).unwrap();
    assert_eq!(code, 202, "{v}");
    wait_for(
        "a transaction after the restart",
        Duration::from_secs(30),
        || {
            let (_, v) = get(a, &format!("/tx/{id}"));
            (v["status"] == "committed").then_some(())
        },
    );

    // Stop it and replay from genesis: the same state, and the tip
    // header's state root is the replayed state's.
    let final_tip = c.height(0).unwrap();
    c.kill(0);
    assert_replay_matches(&c.dir(0), final_tip);
}

/// Runs `btl ledger replay` on a stopped node's directory and asserts that
/// the replayed state equals the stored one and the tip header's state root
/// (at a tip of at least `tip`).
fn assert_replay_matches(dir: &std::path::Path, tip: u64) {
    let out = common::btl()
        .args(["ledger", "replay", "--json", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["matches"], true, "{r}");
    assert!(r["height"].as_u64().unwrap() >= tip, "{r}");
    assert!(r["state_root"].is_string(), "{r}");
    assert_eq!(r["state_root"], r["replayed_state_root"], "{r}");
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

/// A stake change moves voting power at the intended height without
/// restarting anyone (the ledger app's own staking: no test-only payload).
#[test]
fn ledger_stake_moves_voting_power_at_its_height() {
    use btl_ledger as l;

    let mut c = Cluster::init(4, &[]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 1, Duration::from_secs(60));
    }
    // Validator 0 bonds 300 more (it has 100 staked and a funded balance).
    let sk = ledger_common::node_key(&c.dir(0));
    let me = l::PublicKey::from_signing_key(&sk);
    let nonce = ledger_common::account_nonce(c.http[0], &me.address().to_string()).unwrap();
    let (_, tx) = ledger_common::sign_tx(&sk, nonce, l::TxBody::Stake { amount: 300 });
    let body = format!("{{\"tx\":\"{tx}\"}}");
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

/// A transaction submitted to one validator is relayed to the others'
/// mempools, so blocks that other validators propose include it. Without
/// the relay only the validator it was submitted to could include it, and
/// it would wait for that validator's turn.
#[test]
fn submitted_transactions_are_relayed_to_the_other_validators() {
    let mut c = Cluster::init(4, &["--bench-accounts", "1"]);
    c.start_all();
    for i in 0..4 {
        c.wait_height(i, 1, Duration::from_secs(60));
    }
    let me = ledger_common::address_of(&ledger_common::node_key(&c.dir(0)));
    let key = ledger_common::bench_key(0);
    let first = ledger_common::account_nonce(c.http[0], &ledger_common::address_of(&key)).unwrap();
    let mut proposers = Vec::new();
    for k in 0..8u64 {
        let mut tag = [0x11; 16];
        tag[..8].copy_from_slice(&k.to_be_bytes());
        let (id, tx) = ledger_common::register_tx(&key, first + k, tag);
        let body = format!("{{\"tx\":\"{tx}\"}}");
        let (code, v) = http(c.http[0], "POST", "/tx", Some(&body)).unwrap();
        assert_eq!(code, 202, "submit: {v}");
        let h = wait_for("the transaction to commit", Duration::from_secs(30), || {
            let (_, v) = get(c.http[0], &format!("/tx/{id}"));
            (v["status"] == "committed").then(|| v["height"].as_u64().unwrap())
        });
        let (code, b) = get(c.http[0], &format!("/block/{h}"));
        assert_eq!(code, 200, "block {h}: {b}");
        proposers.push(b["header"]["proposer"].as_str().unwrap().to_string());
    }
    assert!(
        proposers.iter().any(|p| *p != me),
        "every transaction submitted to validator 0 ({me}) was in one of its own blocks: {proposers:?}"
    );
    // Its status counts what it relayed to each of the three others.
    wait_for("relay counters", Duration::from_secs(10), || {
        let (_, st) = get(c.http[0], "/status");
        let peers = st["relay"].as_array().unwrap().clone();
        (peers.len() == 3 && peers.iter().all(|p| p["sent"] == 8 && p["up"] == true)).then_some(())
    });

    // The relay endpoint refuses malformed bodies with a reason, and checks
    // what it is sent like any submission.
    let (code, v) = http(c.http[1], "POST", "/txs/relay", Some("\0\0\0\x05abc")).unwrap();
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("truncated"), "{v}");
    let (code, v) = http(c.http[1], "POST", "/txs/relay", Some("\0\0\0\x03abc")).unwrap();
    assert_eq!(code, 202, "{v}");
    assert_eq!(
        (v["received"].as_u64(), v["admitted"].as_u64()),
        (Some(1), Some(0))
    );
}

/// State is written behind the chain, so after a crash the state database
/// may hold an older height than the chain. Here it is set back by hand to
/// a copy taken several blocks earlier: the node re-executes the missing
/// blocks at start, serves the state its headers commit to, and goes on.
#[test]
fn a_state_database_behind_the_chain_is_caught_up_at_start() {
    let mut c = Cluster::init(1, &["--bench-accounts", "1"]);
    c.start(0);
    let a = c.http[0];
    c.wait_height(0, 1, Duration::from_secs(30));
    let key = ledger_common::bench_key(0);
    let account = ledger_common::address_of(&key);
    let submit = |n: u8| -> u64 {
        let nonce = ledger_common::account_nonce(a, &account).unwrap();
        let (id, tx) = ledger_common::register_tx(&key, nonce, [n; 16]);
        let (code, v) = http(a, "POST", "/tx", Some(&format!("{{\"tx\":\"{tx}\"}}"))).unwrap();
        assert_eq!(code, 202, "{v}");
        wait_for("a transaction to commit", Duration::from_secs(30), || {
            let (_, v) = get(a, &format!("/tx/{id}"));
            v["height"].as_u64().filter(|_| v["status"] == "committed")
        })
    };
    let first = submit(1);
    c.kill(0);
    let state = btl_consensus::store::state_path(&c.dir(0).join("db").join("ledger.redb"));
    assert!(state.exists(), "no state database at {}", state.display());
    let early = c.root.join("state-early.redb");
    std::fs::copy(&state, &early).unwrap();

    c.start(0);
    let mut last = first;
    for n in 2..=5 {
        last = submit(n);
    }
    assert!(
        last > first,
        "the later transactions share the first's block"
    );
    let tip = c.height(0).unwrap();
    c.kill(0);
    std::fs::copy(&early, &state).unwrap();

    c.start(0);
    let log = ledger_common::read(&c.log(0));
    assert!(
        log.contains("re-executed blocks"),
        "no recovery logged:\n{log}"
    );
    // The nonce counts the four transactions the early copy had not seen.
    assert_eq!(ledger_common::account_nonce(a, &account), Some(5));
    c.wait_height(0, tip + 1, Duration::from_secs(30));
    c.kill(0);

    // Replay from genesis: the same state, whose root the tip header holds.
    assert_replay_matches(&c.dir(0), tip + 1);
}
