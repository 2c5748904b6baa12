//! Verified downloads: `btl get` finds the signed manifest (here from the
//! seeder, through the `btl_prov` BEP 10 extension, or from a file),
//! verifies it against the torrent, shows who made it, and refuses content
//! whose manifest is tampered with, for another torrent, or missing —
//! unless `--allow-unverified`. A plain libtorrent peer still downloads
//! from a seeder that offers `btl_prov`.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    assert_same_tree, btl, pseudo_random, repo, require_libtorrent, run_json, run_ok,
    start_btl_seed, Spawned, PYTHON,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

struct Fixture {
    tmp: tempfile::TempDir,
    keys: PathBuf,
    /// The directory holding the payload `Album`.
    data: PathBuf,
    torrent: PathBuf,
    prov: PathBuf,
}

impl Fixture {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

fn cmd(keys: &Path) -> Command {
    let mut c = btl();
    c.env("BTL_KEYS_DIR", keys)
        .env_remove("BTL_PASSPHRASE")
        .env_remove("BTL_JSON")
        .env_remove("BTL_DATA")
        .stdin(Stdio::null());
    c
}

/// A payload `name` (seeded bytes) under `dir/data-<name>`, its hybrid
/// torrent `dir/<name>.torrent` and, with `sign`, its `.prov` signed by
/// key `me` (beside the torrent).
fn album(dir: &Path, keys: &Path, name: &str, seed: u64) -> (PathBuf, PathBuf, PathBuf) {
    let data = dir.join(format!("data-{name}"));
    let root = data.join(name);
    for (rel, len) in [
        ("cd1/01.flac", 300_000),
        ("cd1/02.flac", 90_001),
        ("cover.jpg", 5_000),
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, pseudo_random(seed + len as u64, len)).unwrap();
    }
    let torrent = dir.join(format!("{name}.torrent"));
    run_ok(
        cmd(keys)
            .args(["create", "--piece-size", "16K", "--no-date", "-o"])
            .arg(&torrent)
            .arg(&root),
    );
    let v = run_json(
        cmd(keys)
            .args([
                "manifest",
                "sign",
                "--key",
                "me",
                "--license",
                "CC-BY-4.0",
                "--json",
            ])
            .arg(&torrent),
    );
    (data, torrent, PathBuf::from(v["prov"].as_str().unwrap()))
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    run_ok(cmd(&keys).args(["key", "new", "me", "--unencrypted"]));
    let (data, torrent, prov) = album(tmp.path(), &keys, "Album", 1);
    Fixture {
        tmp,
        keys,
        data,
        torrent,
        prov,
    }
}

fn magnet_with_peer(torrent: &Path, port: u64) -> String {
    let info = run_json(btl().arg("info").arg("--json").arg(torrent));
    format!("{}&x.pe=127.0.0.1:{port}", info["magnet"].as_str().unwrap())
}

/// `btl get INPUT --json --offline` into `dir/<out>` with its own state
/// directory (no ledger here: the ledger tests give `--ledger`).
fn get(f: &Fixture, input: &str, out: &str, extra: &[&str]) -> Command {
    let mut c = cmd(&f.keys);
    c.arg("get")
        .arg(input)
        .args([
            "--json",
            "--offline",
            "--port",
            "0",
            "--listen",
            "127.0.0.1",
            "-o",
        ])
        .arg(f.dir().join(out))
        .arg("--state-dir")
        .arg(f.dir().join(format!("{out}-state")))
        .args(extra);
    c
}

fn output(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

/// The JSON event lines of a run's stdout.
fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(evs: &'a [Value], name: &str) -> Option<&'a Value> {
    evs.iter().find(|e| e["event"] == name)
}

/// Asserts a refusal before any download: exit 1, an error naming the
/// problem (`needle`), no panic, nothing downloaded.
fn assert_refused(f: &Fixture, out: &Output, dir: &str, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "should be refused: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("error: refusing to download"), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(event(&events(out), "complete").is_none());
    assert!(
        !f.dir().join(dir).join("Album/cd1/01.flac").exists(),
        "refused content was written"
    );
}

#[test]
fn magnet_get_fetches_the_manifest_from_the_seeder_and_verifies() {
    let f = fixture();
    // The .prov beside the torrent is picked up and offered.
    let (_seed, ready) = start_btl_seed(f.dir(), &f.torrent, &f.data, "127.0.0.1", &[]);
    assert_eq!(
        ready["prov"].as_str().unwrap(),
        f.prov.display().to_string()
    );
    let magnet = magnet_with_peer(&f.torrent, ready["port"].as_u64().unwrap());
    // Signed but not on the ledger: refused by default, naming why.
    let out = output(&mut get(&f, &magnet, "down", &[]));
    assert_refused(
        &f,
        &out,
        "down",
        "unregistered: the manifest is signed by did:key:",
    );
    // Accepted as signed-only when asked.
    let out = output(&mut get(&f, &magnet, "down", &["--allow-unregistered"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&out);
    let prov = event(&evs, "provenance").expect("provenance event");
    assert_eq!(prov["verified"], true, "{prov}");
    assert!(prov["source"]
        .as_str()
        .unwrap()
        .starts_with("peer 127.0.0.1:"));
    assert_eq!(prov["license"], "CC-BY-4.0");
    let key = run_json(cmd(&f.keys).args(["key", "show", "me", "--json"]));
    assert_eq!(prov["creator"], key["did"], "{key}");
    assert!(prov["creator_account"]
        .as_str()
        .unwrap()
        .starts_with("btl1"));
    assert_eq!(prov["ok"], true);
    assert_eq!(prov["registered"], false);
    let checks = prov["checks"].as_array().unwrap();
    let status = |n: &str| {
        checks.iter().find(|c| c["name"] == n).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status("signature"), "pass", "{prov}");
    assert_eq!(status("torrent"), "pass", "{prov}");
    // The provenance is shown before the download starts.
    let pos = |name: &str| evs.iter().position(|e| e["event"] == name).unwrap();
    assert!(pos("provenance") < pos("complete"));
    assert_eq!(event(&evs, "complete").unwrap()["hash_failures"], 0);
    assert_same_tree(&f.data, &f.dir().join("down"));

    // For people: creator, license and payment on stderr.
    let mut c = cmd(&f.keys);
    c.arg("get")
        .arg(&magnet)
        .args([
            "--offline",
            "--allow-unregistered",
            "--port",
            "0",
            "--listen",
            "127.0.0.1",
            "-o",
        ])
        .arg(f.dir().join("down2"))
        .arg("--state-dir")
        .arg(f.dir().join("down2-state"));
    let out = output(&mut c);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("provenance verified (peer 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("license:  CC-BY-4.0"), "{stderr}");
    assert!(stderr.contains("creator:  did:key:z"), "{stderr}");
    assert!(stderr.contains("payment:"), "{stderr}");
}

#[test]
fn a_tampered_manifest_from_a_peer_is_refused() {
    let f = fixture();
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&f.prov).unwrap()).unwrap();
    doc["manifest"]["license"]["spdx"] = "CC0-1.0".into();
    let bad = f.dir().join("tampered.prov");
    std::fs::write(&bad, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    std::fs::remove_file(&f.prov).unwrap();
    // btl seed itself refuses to offer it...
    let out = output(
        btl()
            .arg("seed")
            .arg(&f.torrent)
            .arg("--data")
            .arg(&f.data)
            .arg("--prov")
            .arg(&bad)
            .args(["--port", "0", "--listen", "127.0.0.1", "--state-dir"])
            .arg(f.dir().join("s0")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("signature"), "{stderr}");
    // ...a peer that serves it anyway is refused by the downloader.
    let bad_s = bad.to_str().unwrap();
    let (_seed, ready) = start_btl_seed(
        f.dir(),
        &f.torrent,
        &f.data,
        "127.0.0.1",
        &["--prov", bad_s, "--unchecked-prov"],
    );
    let magnet = magnet_with_peer(&f.torrent, ready["port"].as_u64().unwrap());
    let out = output(&mut get(&f, &magnet, "down", &[]));
    assert_refused(&f, &out, "down", "signature");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
    // The same file given with --prov.
    let out = output(&mut get(
        &f,
        f.torrent.to_str().unwrap(),
        "down-file",
        &["--prov", bad_s],
    ));
    assert_refused(&f, &out, "down-file", "signature");
}

#[test]
fn a_manifest_for_another_torrent_is_refused() {
    let f = fixture();
    let (_, _other_torrent, other_prov) = album(f.dir(), &f.keys, "Other", 99);
    std::fs::remove_file(&f.prov).unwrap();
    let other_s = other_prov.to_str().unwrap();
    // From a file...
    let out = output(&mut get(
        &f,
        f.torrent.to_str().unwrap(),
        "down-file",
        &["--prov", other_s],
    ));
    assert_refused(&f, &out, "down-file", "manifest for a different torrent");
    // ...and from a peer, by magnet.
    let (_seed, ready) = start_btl_seed(
        f.dir(),
        &f.torrent,
        &f.data,
        "127.0.0.1",
        &["--prov", other_s, "--unchecked-prov"],
    );
    let magnet = magnet_with_peer(&f.torrent, ready["port"].as_u64().unwrap());
    let out = output(&mut get(&f, &magnet, "down", &[]));
    assert_refused(&f, &out, "down", "manifest for a different torrent");
}

#[test]
fn unregistered_content_needs_allow_unverified() {
    let f = fixture();
    std::fs::remove_file(&f.prov).unwrap();
    let (_seed, ready) = start_btl_seed(f.dir(), &f.torrent, &f.data, "127.0.0.1", &[]);
    assert!(ready["prov"].is_null(), "{ready}");
    let magnet = magnet_with_peer(&f.torrent, ready["port"].as_u64().unwrap());
    let out = output(&mut get(&f, &magnet, "down", &[]));
    assert_refused(&f, &out, "down", "unregistered");
    let out = output(&mut get(&f, &magnet, "down", &["--allow-unverified"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: UNVERIFIED download"), "{stderr}");
    let evs = events(&out);
    let prov = event(&evs, "provenance").unwrap();
    assert_eq!(prov["verified"], false);
    assert!(prov["reason"].as_str().unwrap().contains("unregistered"));
    assert_same_tree(&f.data, &f.dir().join("down"));
}

#[test]
fn libtorrent_downloads_from_a_seeder_offering_btl_prov() {
    require_libtorrent();
    let f = fixture();
    let (_seed, ready) = start_btl_seed(f.dir(), &f.torrent, &f.data, "127.0.0.1", &[]);
    assert!(ready["prov"].is_string(), "{ready}");
    let port = ready["port"].as_u64().unwrap();
    let down = f.dir().join("lt-down");
    std::fs::create_dir_all(&down).unwrap();
    let info = run_json(btl().arg("info").arg("--json").arg(&f.torrent));
    let mut c = Command::new(PYTHON);
    c.arg(repo().join("scripts/interop/lt_peer.py"))
        .arg("leech-magnet")
        .arg(info["magnet"].as_str().unwrap())
        .arg(&down)
        .arg(format!("127.0.0.1:{port}"));
    let mut leech = Spawned::start(c, "lt-leech", f.dir());
    let done = leech.wait_event("done", DEADLINE);
    assert_eq!(done["progress"], 1.0);
    assert_same_tree(&f.data, &down);
}
