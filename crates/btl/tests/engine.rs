//! The peer engine end to end: btl to btl, a mixed swarm, IPv6, rate
//! limits and Ctrl-C (issue: peer engine). Transfers are byte-verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(150);

fn setup(dir: &Path, flag: &str, size: usize) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", size);
    let torrent = dir.join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([flag, "--piece-size", "65536", "--no-date", "-o"])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

fn btl_seed(
    dir: &Path,
    torrent: &Path,
    seed_dir: &Path,
    listen: &str,
    extra: &[&str],
) -> (Spawned, u16) {
    let (s, ready) = start_btl_seed(dir, torrent, seed_dir, listen, extra);
    (s, ready["port"].as_u64().unwrap() as u16)
}

fn btl_get(
    dir: &Path,
    name: &str,
    torrent: &Path,
    listen: &str,
    peer: &str,
    extra: &[&str],
) -> Spawned {
    let mut cmd = btl();
    cmd.args(["get", "--allow-unverified"])
        .arg(torrent)
        .args([
            "--json", "--port", "0", "--listen", listen, "--peer", peer, "-o",
        ])
        .arg(dir.join(name))
        .arg("--state-dir")
        .arg(dir.join(format!("{name}-state")))
        .args(extra);
    Spawned::start(cmd, name, dir)
}

#[test]
fn btl_to_btl_v1_v2_hybrid() {
    for flag in ["--v1", "--v2", "--hybrid"] {
        let tmp = tempfile::tempdir().unwrap();
        let (seed_dir, torrent) = setup(tmp.path(), flag, (4 << 20) + 77);
        let (_seed, port) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
        let mut get = btl_get(
            tmp.path(),
            "down",
            &torrent,
            "127.0.0.1",
            &format!("127.0.0.1:{port}"),
            &[],
        );
        get.wait_event("complete", DEADLINE);
        assert!(get.wait_exit(DEADLINE).success(), "{flag}");
        assert_same_tree(&seed_dir, &tmp.path().join("down"));
    }
}

#[test]
fn btl_to_btl_over_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--hybrid", 1 << 20);
    let (_seed, port) = btl_seed(tmp.path(), &torrent, &seed_dir, "::1", &[]);
    let mut get = btl_get(
        tmp.path(),
        "down",
        &torrent,
        "::1",
        &format!("[::1]:{port}"),
        &[],
    );
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// One `btl` seeder and three leechers at once: libtorrent, Transmission
/// and `btl`.
#[test]
fn one_btl_seeder_three_mixed_leechers() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--v1", (3 << 20) + 5);
    let tr_down = tmp.path().join("tr-down");
    std::fs::create_dir_all(&tr_down).unwrap();
    let tr = Transmission::start(tmp.path(), &tr_down);
    tr.remote(&["-a", torrent.to_str().unwrap()])
        .expect("add to transmission");
    let tr_peer = format!("127.0.0.1:{}", tr.peer_port);
    let (_seed, port) = btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        "127.0.0.1",
        &["--peer", &tr_peer],
    );
    let seed_addr = format!("127.0.0.1:{port}");

    let lt_down = tmp.path().join("lt-down");
    std::fs::create_dir_all(&lt_down).unwrap();
    require_libtorrent();
    let mut lt = Command::new(PYTHON);
    lt.arg(repo().join("scripts/interop/lt_peer.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(&lt_down)
        .arg(&seed_addr);
    let mut lt = Spawned::start(lt, "lt-leech", tmp.path());
    let mut get = btl_get(
        tmp.path(),
        "btl-down",
        &torrent,
        "127.0.0.1",
        &seed_addr,
        &[],
    );

    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    lt.wait_event("done", DEADLINE);
    tr.wait_for("the download to finish", |t| {
        t.percent_done().as_deref() == Some("100%")
    });
    assert_same_tree(&seed_dir, &tmp.path().join("btl-down"));
    assert_same_tree(&seed_dir, &lt_down);
    assert_same_tree_but_empty_files(&seed_dir, &tr_down);
}

/// `--max-down` holds the download to the limit (with the bucket's burst).
#[test]
fn download_rate_limit_is_respected() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--v1", 3 << 20);
    let (_seed, port) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    let started = Instant::now();
    let mut get = btl_get(
        tmp.path(),
        "down",
        &torrent,
        "127.0.0.1",
        &format!("127.0.0.1:{port}"),
        &["--max-down", "1M"],
    );
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    let took = started.elapsed().as_secs_f64();
    // 3 MiB at 1 MiB/s, less the first 256 KiB burst: at least ~2.7 s.
    assert!(took > 2.5, "3 MiB at 1 MiB/s took only {took:.2}s");
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// Ctrl-C (SIGINT) mid-download: `btl get` stops cleanly, says progress is
/// saved, and the same command then completes.
#[test]
fn ctrl_c_stops_cleanly_and_keeps_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--v1", 6 << 20);
    let (_seed, port) = btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        "127.0.0.1",
        &["--max-up", "2M"],
    );
    let peer = format!("127.0.0.1:{port}");
    let mut get = btl_get(tmp.path(), "down", &torrent, "127.0.0.1", &peer, &[]);
    let have_before = loop {
        let v = get.wait_event("progress", DEADLINE);
        if v["have_pieces"].as_u64().unwrap() >= 10 {
            break v["have_pieces"].as_u64().unwrap();
        }
    };
    run_ok(Command::new("kill").args(["-INT", &get.child.id().to_string()]));
    let stopped = get.wait_event("interrupted", DEADLINE);
    assert!(stopped["percent"].as_f64().unwrap() < 100.0);
    let status = get.wait_exit(DEADLINE);
    assert_eq!(
        status.code(),
        Some(1),
        "an interrupted download is not a success"
    );

    let mut again = btl_get(tmp.path(), "down", &torrent, "127.0.0.1", &peer, &[]);
    let first = loop {
        let v = again.wait_event("progress", DEADLINE);
        if v["state"] != "checking" {
            break v;
        }
    };
    assert!(
        first["have_pieces"].as_u64().unwrap() >= have_before,
        "{first}"
    );
    again.wait_event("complete", DEADLINE);
    assert!(again.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// `--only` downloads the selected files (and at most the pieces they
/// share with neighbours); `--sequential` still completes.
#[test]
fn only_and_sequential() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--hybrid", 4 << 20);
    let (_seed, port) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    let peer = format!("127.0.0.1:{port}");
    let mut get = btl_get(
        tmp.path(),
        "only",
        &torrent,
        "127.0.0.1",
        &peer,
        &["--only", "small/*"],
    );
    let done = get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    let small = |root: &Path| root.join("payload/small");
    assert_same_tree(&small(&seed_dir), &small(&tmp.path().join("only")));
    // Hybrid: every file starts on a piece boundary, so the 40 small files
    // (each under one 64 KiB piece) are exactly 40 pieces.
    assert_eq!(
        done["downloaded"],
        40 * 65536,
        "only the small files' pieces: {done}"
    );
    assert!(
        !tmp.path().join("only/payload/big.bin").exists(),
        "hybrid pieces are file-aligned"
    );

    let mut seq = btl_get(
        tmp.path(),
        "seq",
        &torrent,
        "127.0.0.1",
        &peer,
        &["--sequential"],
    );
    seq.wait_event("complete", DEADLINE);
    assert!(seq.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("seq"));
}

/// `btl get --seed` keeps serving after the download: a libtorrent leecher
/// then downloads everything from it.
#[test]
fn get_with_seed_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--hybrid", (2 << 20) + 9);
    let (seed, port) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    let mut get = btl_get(
        tmp.path(),
        "relay",
        &torrent,
        "127.0.0.1",
        &format!("127.0.0.1:{port}"),
        &["--seed"],
    );
    let relay_port = get.wait_event("listening", DEADLINE)["port"]
        .as_u64()
        .unwrap();
    get.wait_event("complete", DEADLINE);
    assert!(
        get.child.try_wait().unwrap().is_none(),
        "--seed keeps running"
    );
    assert_same_tree(&seed_dir, &tmp.path().join("relay"));
    // The original seeder goes away: the relay is the only source left.
    drop(seed);

    let lt_down = tmp.path().join("lt-down");
    std::fs::create_dir_all(&lt_down).unwrap();
    require_libtorrent();
    let mut lt = Command::new(PYTHON);
    lt.arg(repo().join("scripts/interop/lt_peer.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(&lt_down)
        .arg(format!("127.0.0.1:{relay_port}"));
    let mut lt = Spawned::start(lt, "lt-leech", tmp.path());
    lt.wait_event("done", DEADLINE);
    assert_same_tree(&seed_dir, &lt_down);
}
