//! Faults and bad input against the peer engine (issue: peer engine):
//! corrupt and stalling peers, hostile connections, `kill -9` mid-download,
//! and data changed on disk. Every transfer ends byte-verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(150);

fn setup(dir: &Path, size: usize, piece: &str) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", size);
    let torrent = dir.join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args(["--v1", "--piece-size", piece, "--no-date", "-o"])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

fn python(script: &str) -> Command {
    require_libtorrent();
    let mut c = Command::new(PYTHON);
    c.arg(repo().join("scripts/interop").join(script));
    c
}

fn lt_seed(dir: &Path, torrent: &Path, seed_dir: &Path, limit: Option<u64>) -> (Spawned, u16) {
    let env: Vec<(&str, String)> = limit
        .map(|l| ("LT_UPLOAD_LIMIT", l.to_string()))
        .into_iter()
        .collect();
    start_lt_seed(dir, torrent, seed_dir, &env)
}

/// Starts a misbehaving peer; returns it and its address (on 127.0.0.2, so
/// that banning it does not ban the honest peers on 127.0.0.1).
fn evil_serve(dir: &Path, mode: &str, torrent: &Path) -> (Spawned, String) {
    let mut cmd = python("evil_peer.py");
    cmd.args(["serve", mode]).arg(torrent);
    let mut s = Spawned::start(cmd, &format!("evil-{mode}"), dir);
    let ready = s.wait_event("listening", DEADLINE);
    let addr = format!("{}:{}", ready["host"].as_str().unwrap(), ready["port"]);
    (s, addr)
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn btl_get(dir: &Path, torrent: &Path, peers: &[String], name: &str) -> Spawned {
    let mut cmd = btl();
    cmd.args(["get", "--allow-unverified"])
        .arg(torrent)
        .args(["--json", "--port", "0", "--listen", "127.0.0.1", "-o"])
        .arg(dir.join("down"))
        .arg("--state-dir")
        .arg(dir.join("state"));
    for p in peers {
        cmd.args(["--peer", p]);
    }
    Spawned::start(cmd, name, dir)
}

/// A peer that serves random bytes for every block: its pieces fail their
/// hash check, it is banned, the data comes from the honest seeder, and
/// the file on disk ends correct.
#[test]
fn corrupt_peer_is_banned_and_the_data_ends_correct() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), 3 << 20, "32768");
    let (_evil, evil) = evil_serve(tmp.path(), "corrupt", &torrent);
    let (_good, good_port) = lt_seed(tmp.path(), &torrent, &seed_dir, None);
    let mut get = btl_get(tmp.path(), &torrent, &[evil, local(good_port)], "btl-get");
    let done = get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert!(done["hash_failures"].as_u64().unwrap() >= 1, "{done}");
    assert_eq!(done["banned"], 1, "the corrupt peer is banned: {done}");
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// A peer that accepts requests and never answers: the blocks are fetched
/// from the other seeder and the download completes.
#[test]
fn stalling_peer_does_not_stop_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), 1 << 20, "32768");
    let (_stall, stall) = evil_serve(tmp.path(), "stall", &torrent);
    let (_good, good_port) = lt_seed(tmp.path(), &torrent, &seed_dir, None);
    let mut get = btl_get(tmp.path(), &torrent, &[stall, local(good_port)], "btl-get");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// Malformed and oversized frames, a request flood and random bytes
/// against a seeding `btl`: each connection is dropped, the seeder goes on
/// and still serves a real peer.
#[test]
fn hostile_connections_do_not_stop_the_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), 1 << 20, "32768");
    let (mut seeder, ready) = start_btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    let port = ready["port"].as_u64().unwrap();
    let target = format!("127.0.0.1:{port}");
    for mode in ["garbage", "flood", "junk"] {
        let mut cmd = python("evil_peer.py");
        cmd.args(["attack", mode]).arg(&torrent).arg(&target);
        let mut attacker = Spawned::start(cmd, &format!("attack-{mode}"), tmp.path());
        let done = attacker.wait_event("done", DEADLINE);
        assert_eq!(
            done["closed_by_peer"], true,
            "{mode}: btl closed the connection"
        );
        assert!(
            seeder.child.try_wait().unwrap().is_none(),
            "the seeder survived {mode}"
        );
    }
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let mut leech = python("lt_peer.py");
    leech.arg("leech").arg(&torrent).arg(&down).arg(&target);
    let mut leech = Spawned::start(leech, "lt-leech", tmp.path());
    leech.wait_event("done", DEADLINE);
    assert_same_tree(&seed_dir, &down);
}

/// A tiny deterministic generator for the kill points (seeded from the
/// clock; the seed is printed so that a failure can be replayed with
/// BTL_TEST_SEED).
fn kill_points(n: usize) -> Vec<f64> {
    let seed = std::env::var("BTL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("kill points: BTL_TEST_SEED={seed}");
    let mut x = seed | 1;
    let mut out: Vec<f64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0.1 + 0.7 * ((x % 1000) as f64 / 1000.0)
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

/// `kill -9` of a downloading `btl` at random points, then a restart: it
/// completes with correct data, and every piece it had reported verified
/// before a kill is still there after the restart (only pieces in flight
/// are fetched again).
#[test]
fn kill9_mid_download_resumes_without_losing_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), 12 << 20, "65536");
    // A slow seeder (3 MB/s) so the kills land mid-transfer.
    let (_seed, port) = lt_seed(tmp.path(), &torrent, &seed_dir, Some(3_000_000));
    let mut last_reported = 0u64;
    for (round, fraction) in kill_points(3).into_iter().enumerate() {
        let mut get = btl_get(
            tmp.path(),
            &torrent,
            &[local(port)],
            &format!("btl-get-{round}"),
        );
        let end = std::time::Instant::now() + DEADLINE;
        let mut first = true;
        loop {
            let v = get.wait_event("progress", end - std::time::Instant::now());
            if v["state"] == "checking" {
                continue;
            }
            let have = v["have_pieces"].as_u64().unwrap();
            let total = v["wanted_pieces"].as_u64().unwrap();
            if first {
                assert!(
                    have >= last_reported,
                    "round {round}: restarted with {have} pieces, but {last_reported} were reported verified before the kill"
                );
                first = false;
            }
            last_reported = have;
            if have as f64 >= fraction * total as f64 {
                break;
            }
        }
        get.child.kill().unwrap(); // SIGKILL
        get.child.wait().unwrap();
    }
    let mut get = btl_get(tmp.path(), &torrent, &[local(port)], "btl-get-final");
    let first = loop {
        let v = get.wait_event("progress", DEADLINE);
        if v["state"] != "checking" {
            break v;
        }
    };
    assert!(first["have_pieces"].as_u64().unwrap() >= last_reported);
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// A downloaded file changed on disk (same size, new bytes) is detected at
/// the next start: its pieces are checked again, the damaged one is fetched
/// again, and the data ends correct.
#[test]
fn changed_file_on_disk_is_detected_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), 2 << 20, "32768");
    let (_seed, port) = lt_seed(tmp.path(), &torrent, &seed_dir, None);
    let mut get = btl_get(tmp.path(), &torrent, &[local(port)], "btl-get-1");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());

    let victim = tmp.path().join("down/payload/big.bin");
    let mut bytes = std::fs::read(&victim).unwrap();
    for b in &mut bytes[100_000..100_100] {
        *b = !*b;
    }
    std::fs::write(&victim, &bytes).unwrap();

    let mut get = btl_get(tmp.path(), &torrent, &[local(port)], "btl-get-2");
    let done = get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert!(
        done["downloaded"].as_u64().unwrap() > 0,
        "the damaged piece was fetched again: {done}"
    );
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}
