//! The peer engine against Transmission and aria2 (issue: peer engine).
//! Every transfer is checked byte for byte. v1 torrents: transmission 3.00
//! and aria2 do not take v2 or hybrid torrents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", (2 << 20) + 999);
    let torrent = dir.join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args(["--v1", "--piece-size", "32768", "--no-date", "-o"])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

fn btl_seed(dir: &Path, torrent: &Path, seed_dir: &Path, peer: &str) -> Spawned {
    start_btl_seed(dir, torrent, seed_dir, "127.0.0.1", &["--peer", peer]).0
}

fn btl_get(dir: &Path, torrent: &Path, peer: &str) -> Spawned {
    let mut cmd = btl();
    cmd.args(["get", "--allow-unverified"])
        .arg(torrent)
        .args([
            "--json",
            "--port",
            "0",
            "--listen",
            "127.0.0.1",
            "--peer",
            peer,
            "-o",
        ])
        .arg(dir.join("down"))
        .arg("--state-dir")
        .arg(dir.join("get-state"));
    Spawned::start(cmd, "btl-get", dir)
}

#[test]
fn btl_seed_to_transmission() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path());
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let tr = Transmission::start(tmp.path(), &down);
    tr.remote(&["-a", torrent.to_str().unwrap()])
        .expect("transmission-remote -a");
    let _seed = btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        &format!("127.0.0.1:{}", tr.peer_port),
    );
    tr.wait_for("the download to finish", |t| {
        t.percent_done().as_deref() == Some("100%")
    });
    assert_same_tree_but_empty_files(&seed_dir, &down);
}

#[test]
fn transmission_seeder_to_btl_get() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path());
    let tr = Transmission::start(tmp.path(), &seed_dir);
    tr.remote(&["-a", torrent.to_str().unwrap()])
        .expect("transmission-remote -a");
    tr.wait_for("the data check to finish", |t| {
        t.percent_done().as_deref() == Some("100%")
    });
    let mut get = btl_get(tmp.path(), &torrent, &format!("127.0.0.1:{}", tr.peer_port));
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

fn aria2(dir: &Path, data_dir: &Path, torrent: &Path, port: u16, seed: bool) -> Spawned {
    require_tool("aria2c", "aria2");
    let mut cmd = Command::new("aria2c");
    cmd.arg(format!("--dir={}", data_dir.display()))
        .arg(format!("--listen-port={port}"))
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--disable-ipv6=true",
            "--console-log-level=warn",
            "--summary-interval=0",
            "--file-allocation=none",
        ]);
    if seed {
        cmd.args([
            "--check-integrity=true",
            "--seed-ratio=0.0",
            "--seed-time=600",
        ]);
    } else {
        cmd.args(["--seed-time=0"]);
    }
    cmd.arg(torrent);
    Spawned::start(cmd, if seed { "aria2-seed" } else { "aria2-leech" }, dir)
}

#[test]
fn btl_seed_to_aria2() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path());
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let port = free_port();
    let mut leech = aria2(tmp.path(), &down, &torrent, port, false);
    let _seed = btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        &format!("127.0.0.1:{port}"),
    );
    let status = leech.wait_exit(DEADLINE);
    assert!(status.success(), "aria2c exited with {status}");
    assert_same_tree(&seed_dir, &down);
}

#[test]
fn aria2_seeder_to_btl_get() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path());
    let port = free_port();
    let _seeder = aria2(tmp.path(), &seed_dir, &torrent, port, true);
    let mut get = btl_get(tmp.path(), &torrent, &format!("127.0.0.1:{port}"));
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}
