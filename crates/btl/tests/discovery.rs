//! Discovery through trackers (issue: discovery): `btl` announces to
//! opentracker and finds a libtorrent seeder there, over HTTP and UDP; a
//! `btl` seeder and a `btl` leecher meet through `btl tracker`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(150);

fn setup(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    v1_torrent_with_tracker(dir, (2 << 20) + 3, url)
}

/// Starts opentracker on the given ports. Debian's build only serves
/// whitelisted torrents: the whitelist holds `info_hash` (hex).
fn opentracker(dir: &Path, tcp: u16, udp: u16, info_hash: &str) -> Spawned {
    require_tool("opentracker", "opentracker");
    std::fs::write(dir.join("whitelist"), format!("{info_hash}\n")).unwrap();
    let mut cmd = Command::new("opentracker");
    // It chroots to -d, so the whitelist path is relative to it.
    cmd.args([
        "-i",
        "127.0.0.1",
        "-p",
        &tcp.to_string(),
        "-P",
        &udp.to_string(),
    ])
    .arg("-d")
    .arg(dir)
    .args(["-w", "whitelist"])
    .current_dir(dir);
    let ot = Spawned::start(cmd, "opentracker", dir);
    // Ready when its TCP port accepts.
    let end = std::time::Instant::now() + DEADLINE;
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(std::time::Instant::now() < end, "opentracker did not start");
        std::thread::park_timeout(Duration::from_millis(50));
    }
    ot
}

fn btl_get_via_tracker(dir: &Path, torrent: &Path, listen: &str) -> Spawned {
    let mut cmd = btl();
    cmd.args(["get", "--allow-unverified"])
        .arg(torrent)
        .args(["--json", "--port", "0", "--listen", listen, "-o"])
        .arg(dir.join("down"))
        .arg("--state-dir")
        .arg(dir.join("get-state"));
    Spawned::start(cmd, "btl-get", dir)
}

fn btl_finds_libtorrent_through_opentracker(udp: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (tcp, udp_port) = (free_port(), free_port());
    let url = if udp {
        format!("udp://127.0.0.1:{udp_port}/announce")
    } else {
        format!("http://127.0.0.1:{tcp}/announce")
    };
    let (seed_dir, torrent) = setup(tmp.path(), &url);
    let info = run_json(btl().arg("info").arg("--json").arg(&torrent));
    let _ot = opentracker(
        tmp.path(),
        tcp,
        udp_port,
        info["info_hash_v1"].as_str().unwrap(),
    );
    require_libtorrent();
    let mut seed = Command::new(PYTHON);
    seed.arg(repo().join("scripts/interop/lt_tracker_peer.py"))
        .arg("seed")
        .arg(&torrent)
        .arg(&seed_dir)
        .arg("127.0.0.2");
    let mut seed = Spawned::start(seed, "lt-seed", tmp.path());
    seed.wait_event("seeding", DEADLINE);
    let mut get = btl_get_via_tracker(tmp.path(), &torrent, "127.0.0.3");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

#[test]
fn btl_finds_libtorrent_through_opentracker_http() {
    btl_finds_libtorrent_through_opentracker(false);
}

#[test]
fn btl_finds_libtorrent_through_opentracker_udp() {
    btl_finds_libtorrent_through_opentracker(true);
}

/// `btl seed` and `btl get` meet through `btl tracker` (UDP), with no
/// address given to either.
#[test]
fn btl_meets_btl_through_btl_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, ready) = common::start_btl_tracker(tmp.path(), &[]);
    let udp = ready["udp"].as_str().expect("udp address").to_string();
    let (seed_dir, torrent) = setup(tmp.path(), &format!("udp://{udp}/announce"));
    let mut seed = btl();
    seed.arg("seed")
        .arg(&torrent)
        .arg("--data")
        .arg(&seed_dir)
        .args([
            "--json",
            "--port",
            "0",
            "--listen",
            "127.0.0.2",
            "--state-dir",
        ])
        .arg(tmp.path().join("seed-state"));
    let mut seed = Spawned::start(seed, "btl-seed", tmp.path());
    seed.wait_event("seeding", DEADLINE);
    let mut get = btl_get_via_tracker(tmp.path(), &torrent, "127.0.0.3");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// BEP 11: a `btl` leecher is given one peer only, a libtorrent leecher (B)
/// that is itself downloading, slowly, from a libtorrent seeder (A). B's
/// `ut_pex` message tells `btl` about A; `btl` dials A and completes long
/// before B could have served the payload (B is limited to 16 KB/s, so in
/// the test's deadline it never holds more than half of it).
#[test]
fn btl_learns_a_third_peer_only_through_pex_from_libtorrent() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let payload = make_payload(&seed_dir, "payload", (2 << 20) + 3);
    let torrent = tmp.path().join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args(["--v1", "--piece-size", "65536", "--no-date", "-o"])
            .arg(&torrent),
    );
    let script = repo().join("scripts/interop/lt_peer.py");
    let mut a = Command::new(PYTHON);
    a.arg(&script)
        .arg("seed")
        .arg(&torrent)
        .arg(&seed_dir)
        .env("LT_LISTEN_IP", "127.0.0.2");
    let mut a = Spawned::start(a, "lt-seed-a", tmp.path());
    let a_port = a.wait_event("seeding", DEADLINE)["port"].as_u64().unwrap();
    let mut b = Command::new(PYTHON);
    b.arg(&script)
        .arg("leech")
        .arg(&torrent)
        .arg(tmp.path().join("b"))
        .arg(format!("127.0.0.2:{a_port}"))
        .arg("300")
        .env("LT_LISTEN_IP", "127.0.0.3")
        .env("LT_DOWNLOAD_LIMIT", "16000");
    let mut b = Spawned::start(b, "lt-leech-b", tmp.path());
    let b_port = b.wait_event("listening", DEADLINE)["port"]
        .as_u64()
        .unwrap();
    b.wait_event("connected", DEADLINE);
    let started = std::time::Instant::now();
    let mut get = btl();
    get.args(["get", "--allow-unverified"])
        .arg(&torrent)
        .args(["--json", "--port", "0", "--listen", "127.0.0.4", "--peer"])
        .arg(format!("127.0.0.3:{b_port}"))
        .arg("-o")
        .arg(tmp.path().join("down"))
        .arg("--state-dir")
        .arg(tmp.path().join("get-state"));
    let mut get = Spawned::start(get, "btl-get", tmp.path());
    get.wait_event("complete", Duration::from_secs(60));
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
    eprintln!("btl completed {:?} after starting", started.elapsed());
}
