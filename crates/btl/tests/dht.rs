//! Discovery through the DHT only (BEP 5), on a small DHT of libtorrent
//! nodes on loopback (scripts/interop/lt_dht.py): no outside bootstrap, no
//! trackers, no `--peer`, no local discovery.
//!
//! - a libtorrent seeder announces; `btl get MAGNET` finds it in the DHT
//!   (metadata and pieces) and downloads everything;
//! - `btl seed` announces (the truncated v2 hash of a v2 torrent); a
//!   libtorrent leecher finds it in the DHT and downloads everything;
//! - `btl seed` announces both ids of a hybrid torrent; `btl get` finds it.
//!
//! Every wait is for an event (a node storing an announce, a download
//! completing) with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);
/// libtorrent DHT nodes in the test network.
const NODES: usize = 5;

/// The libtorrent DHT: `lt_dht.py nodes`.
struct LtDht {
    proc: Spawned,
    nodes: Vec<String>,
}

impl LtDht {
    fn start(dir: &Path) -> LtDht {
        require_libtorrent();
        let mut cmd = Command::new(PYTHON);
        cmd.arg(repo().join("scripts/interop/lt_dht.py"))
            .arg("nodes")
            .arg(NODES.to_string());
        let mut proc = Spawned::start(cmd, "lt-dht-nodes", dir);
        let ready = proc.wait_event("ready", DEADLINE);
        let nodes: Vec<String> = ready["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(nodes.len(), NODES);
        LtDht { proc, nodes }
    }

    /// `--dht-bootstrap` flags naming every node.
    fn bootstrap_args(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| ["--dht-bootstrap".to_string(), n.clone()])
            .collect()
    }

    /// Waits until a node stores an announce of `info_hash` (hex, 40
    /// digits) for TCP `port`.
    fn wait_announce(&mut self, info_hash: &str, port: u16) -> Value {
        let end = std::time::Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            let ev = self.proc.wait_event("announce", left);
            if ev["info_hash"] == info_hash
                && ev["peer"].as_str().unwrap().ends_with(&format!(":{port}"))
            {
                return ev;
            }
        }
    }
}

/// A payload and a torrent of it without trackers (`btl create --VERSION`).
fn setup(dir: &Path, version: &str) -> (PathBuf, PathBuf, Value) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", (1 << 20) + 77);
    let torrent = dir.join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([version, "--piece-size", "65536", "--no-date", "-o"])
            .arg(&torrent),
    );
    let info = run_json(btl().arg("info").arg("--json").arg(&torrent));
    (seed_dir, torrent, info)
}

/// `btl SUBCOMMAND` with the DHT on, joined through the libtorrent nodes only; no
/// trackers, no local discovery.
fn btl_dht(subcommand: &str, dht: &LtDht, dir: &Path, state: &str) -> Command {
    let mut cmd = btl_with_dht();
    cmd.arg(subcommand)
        .args(dht.bootstrap_args())
        .args([
            "--json",
            "--no-trackers",
            "--port",
            "0",
            "--listen",
            "127.0.0.1",
        ])
        .arg("--state-dir")
        .arg(dir.join(state))
        // Local service discovery (BEP 14), where this build has it.
        .env("BTL_NO_LSD", "1");
    cmd
}

/// The truncated v2 infohash (the 20-byte id v2 peers use) as hex.
fn truncated_v2(info: &Value) -> String {
    info["info_hash_v2"].as_str().unwrap()[..40].to_string()
}

/// Waits for a `dht` event that reports found peers.
fn wait_dht_peers(p: &mut Spawned) -> Value {
    loop {
        let ev = p.wait_event("dht", DEADLINE);
        if ev["peers_found"].as_u64().unwrap() >= 1 {
            return ev;
        }
    }
}

/// (a) A libtorrent seeder announces into the DHT; `btl get MAGNET`, told
/// only the DHT nodes, finds it and downloads the payload.
#[test]
fn btl_finds_libtorrent_seeder_through_dht_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, info) = setup(tmp.path(), "--v1");
    let ih = info["info_hash_v1"].as_str().unwrap().to_string();
    let mut dht = LtDht::start(tmp.path());

    let mut seed = Command::new(PYTHON);
    seed.arg(repo().join("scripts/interop/lt_dht.py"))
        .arg("seed")
        .arg(&torrent)
        .arg(&seed_dir)
        .arg(dht.nodes.join(","));
    let mut seed = Spawned::start(seed, "lt-seed", tmp.path());
    let port = seed.wait_event("seeding", DEADLINE)["port"]
        .as_u64()
        .unwrap() as u16;
    dht.wait_announce(&ih, port);

    let mut get = btl_dht("get", &dht, tmp.path(), "get-state");
    get.arg("--allow-unverified");
    get.arg(format!("magnet:?xt=urn:btih:{ih}"))
        .arg("-o")
        .arg(tmp.path().join("down"));
    let mut get = Spawned::start(get, "btl-get", tmp.path());
    let listening = get.wait_event("listening", DEADLINE);
    assert!(listening["dht_port"].as_u64().is_some(), "{listening}");
    wait_dht_peers(&mut get);
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));

    // The routing table was saved on exit: it holds libtorrent nodes.
    let saved = std::fs::read(tmp.path().join("get-state/dht.nodes")).expect("dht.nodes saved");
    let text = String::from_utf8_lossy(&saved);
    let len: usize = text
        .strip_prefix("d5:nodes")
        .and_then(|t| t.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a node list: {text:?}"));
    assert!(len >= 6 && len.is_multiple_of(6), "no node saved: {text:?}");
}

/// (b) `btl seed` announces a v2 torrent (its truncated v2 hash) into the
/// DHT; a libtorrent leecher finds it there and downloads the payload.
#[test]
fn libtorrent_finds_btl_seeder_through_dht_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, info) = setup(tmp.path(), "--v2");
    let id = truncated_v2(&info);
    let mut dht = LtDht::start(tmp.path());

    let mut seed = btl_dht("seed", &dht, tmp.path(), "seed-state");
    seed.arg(&torrent).arg("--data").arg(&seed_dir);
    let mut seed = Spawned::start(seed, "btl-seed", tmp.path());
    let port = seed.wait_event("seeding", DEADLINE)["port"]
        .as_u64()
        .unwrap() as u16;
    dht.wait_announce(&id, port);

    let mut leech = Command::new(PYTHON);
    leech
        .arg(repo().join("scripts/interop/lt_dht.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(tmp.path().join("down"))
        .arg(dht.nodes.join(","))
        .arg(DEADLINE.as_secs().to_string());
    let mut leech = Spawned::start(leech, "lt-leech", tmp.path());
    leech.wait_event("done", DEADLINE);
    assert!(leech.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// `btl seed` announces both ids of a hybrid torrent; `btl get` (the
/// .torrent, so no metadata lookup) finds it through the DHT only.
#[test]
fn btl_finds_btl_through_dht_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, info) = setup(tmp.path(), "--hybrid");
    let mut dht = LtDht::start(tmp.path());

    let mut seed = btl_dht("seed", &dht, tmp.path(), "seed-state");
    seed.arg(&torrent).arg("--data").arg(&seed_dir);
    let mut seed = Spawned::start(seed, "btl-seed", tmp.path());
    let port = seed.wait_event("seeding", DEADLINE)["port"]
        .as_u64()
        .unwrap() as u16;
    dht.wait_announce(info["info_hash_v1"].as_str().unwrap(), port);
    dht.wait_announce(&truncated_v2(&info), port);

    let mut get = btl_dht("get", &dht, tmp.path(), "get-state");
    get.arg("--allow-unverified");
    get.arg(&torrent).arg("-o").arg(tmp.path().join("down"));
    let mut get = Spawned::start(get, "btl-get", tmp.path());
    wait_dht_peers(&mut get);
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// `--dht-bootstrap` must be HOST:PORT; --no-dht needs none.
#[test]
fn dht_flags_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, torrent, _) = setup(tmp.path(), "--v1");
    let err = run_err(
        btl_with_dht()
            .args(["get", "--allow-unverified"])
            .arg(&torrent)
            .args([
                "--dht-bootstrap",
                "no-port",
                "--port",
                "0",
                "--listen",
                "127.0.0.1",
            ])
            .arg("--state-dir")
            .arg(tmp.path().join("state"))
            .arg("-o")
            .arg(tmp.path().join("down")),
    );
    assert!(err.contains("--dht-bootstrap no-port"), "{err}");
    let help = run_ok(btl().args(["get", "--help"]));
    for flag in ["--no-dht", "--dht-bootstrap", "--dht-port"] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
