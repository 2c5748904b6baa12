//! The peer engine against real BitTorrent clients (issue: peer engine).
//!
//! Every transfer is checked byte for byte. Needs python3-libtorrent (and,
//! for some tests, transmission-daemon and aria2); scripts/test.sh installs
//! them, and a missing tool fails the test with the package to install.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

fn lt_peer() -> Command {
    require_libtorrent();
    let mut c = Command::new(PYTHON);
    c.arg(repo().join("scripts/interop/lt_peer.py"));
    c
}

/// Creates the payload under `dir/seed/payload` and a torrent of it.
fn setup(dir: &Path, flag: &str, piece: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", (3 << 20) + 4321);
    let torrent = dir.join(format!("payload{flag}.torrent"));
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([flag, "--piece-size", piece, "--no-date", "-o"])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

fn btl_get(dir: &Path, what: &str, peer: &str, extra: &[&str]) -> Spawned {
    let mut cmd = btl();
    cmd.args([
        "get",
        "--allow-unverified",
        what,
        "--json",
        "--port",
        "0",
        "--listen",
        "127.0.0.1",
        "--peer",
        peer,
    ])
    .arg("-o")
    .arg(dir.join("down"))
    .arg("--state-dir")
    .arg(dir.join("state"))
    .args(extra);
    Spawned::start(cmd, "btl-get", dir)
}

fn lt_seed(dir: &Path, torrent: &Path, seed_dir: &Path) -> (Spawned, u16) {
    start_lt_seed(dir, torrent, seed_dir, &[])
}

fn libtorrent_seeds_btl_gets(flag: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), flag, "65536");
    let (_seeder, port) = lt_seed(tmp.path(), &torrent, &seed_dir);
    let mut get = btl_get(
        tmp.path(),
        torrent.to_str().unwrap(),
        &format!("127.0.0.1:{port}"),
        &[],
    );
    let done = get.wait_event("complete", DEADLINE);
    assert_eq!(done["hash_failures"], 0);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

#[test]
fn libtorrent_seeder_to_btl_get_v1() {
    libtorrent_seeds_btl_gets("--v1");
}

#[test]
fn libtorrent_seeder_to_btl_get_v2() {
    libtorrent_seeds_btl_gets("--v2");
}

#[test]
fn libtorrent_seeder_to_btl_get_hybrid() {
    libtorrent_seeds_btl_gets("--hybrid");
}

#[test]
fn libtorrent_seeder_to_btl_get_magnet() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), "--v1", "65536");
    let (_seeder, port) = lt_seed(tmp.path(), &torrent, &seed_dir);
    let info = run_json(btl().arg("info").arg("--json").arg(&torrent));
    let magnet = format!("{}&x.pe=127.0.0.1:{port}", info["magnet"].as_str().unwrap());
    let mut get = btl_get(tmp.path(), &magnet, &format!("127.0.0.1:{port}"), &[]);
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

fn btl_seeds_libtorrent_gets(flag: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), flag, "65536");
    let (_seeder, ready) = start_btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    assert_eq!(
        ready["have_pieces"], ready["pieces"],
        "btl seed checked its data"
    );
    let port = ready["port"].as_u64().unwrap();
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let mut cmd = lt_peer();
    cmd.arg("leech")
        .arg(&torrent)
        .arg(&down)
        .arg(format!("127.0.0.1:{port}"));
    let mut leech = Spawned::start(cmd, "lt-leech", tmp.path());
    let done = leech.wait_event("done", DEADLINE);
    assert_eq!(done["progress"], 1.0);
    assert_same_tree(&seed_dir, &down);
}

#[test]
fn btl_seed_to_libtorrent_v1() {
    btl_seeds_libtorrent_gets("--v1");
}

#[test]
fn btl_seed_to_libtorrent_v2() {
    btl_seeds_libtorrent_gets("--v2");
}

#[test]
fn btl_seed_to_libtorrent_hybrid() {
    btl_seeds_libtorrent_gets("--hybrid");
}

// ---- v2 magnets: piece layers through BEP 52 hash requests ----

/// The standard payload plus `huge.bin`, 521 pieces of 64 KiB: its piece
/// layer (padded to 1024) takes two hash requests of 512, the second mostly
/// padding. `big.bin` (49 pieces) takes one; the small files have no layer.
fn setup_layers(dir: &Path, flag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", (3 << 20) + 4321);
    std::fs::write(
        payload.join("huge.bin"),
        pseudo_random(11, 520 * 65536 + 77),
    )
    .unwrap();
    let torrent = dir.join(format!("payload{flag}.torrent"));
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([flag, "--piece-size", "65536", "--no-date", "-o"])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

fn magnet_of(torrent: &Path) -> String {
    let info = run_json(btl().arg("info").arg("--json").arg(torrent));
    info["magnet"].as_str().expect("magnet").to_owned()
}

fn libtorrent_seeds_btl_gets_magnet(flag: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup_layers(tmp.path(), flag);
    let (_seeder, port) = lt_seed(tmp.path(), &torrent, &seed_dir);
    let magnet = magnet_of(&torrent);
    let mut get = btl_get(tmp.path(), &magnet, &format!("127.0.0.1:{port}"), &[]);
    let done = get.wait_event("complete", DEADLINE);
    assert_eq!(done["hash_failures"], 0);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
    // The cached metadata now carries the piece layers, exactly the
    // creator's: a restart verifies without asking peers again.
    let cached: Vec<_> = std::fs::read_dir(tmp.path().join("state/torrents"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let original = run_json(btl().arg("info").arg("--json").arg(&torrent));
    let saved = run_json(btl().arg("info").arg("--json").arg(&cached[0]));
    assert_eq!(saved["files"], original["files"]);
    assert_eq!(saved["info_hash_v2"], original["info_hash_v2"]);
    // `piece layers` is the last key of both files: same bytes to the end.
    let layers = |p: &Path| {
        let bytes = std::fs::read(p).unwrap();
        let at = bytes
            .windows(15)
            .position(|w| w == b"12:piece layers")
            .expect("piece layers");
        bytes[at..].to_vec()
    };
    assert_eq!(layers(&cached[0]), layers(&torrent));
    // Run again: the cached metadata and the journal say it is all there.
    let mut again = btl_get(tmp.path(), &magnet, &format!("127.0.0.1:{port}"), &[]);
    let done = again.wait_event("complete", DEADLINE);
    assert_eq!(done["downloaded"], 0, "{done}");
    assert!(again.wait_exit(DEADLINE).success());
}

#[test]
fn libtorrent_seeder_to_btl_get_v2_magnet() {
    libtorrent_seeds_btl_gets_magnet("--v2");
}

#[test]
fn libtorrent_seeder_to_btl_get_hybrid_magnet() {
    libtorrent_seeds_btl_gets_magnet("--hybrid");
}

fn btl_seeds_libtorrent_gets_magnet(flag: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup_layers(tmp.path(), flag);
    let (_seeder, ready) = start_btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.1", &[]);
    assert_eq!(ready["have_pieces"], ready["pieces"]);
    let port = ready["port"].as_u64().unwrap();
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let mut cmd = lt_peer();
    cmd.arg("leech-magnet")
        .arg(magnet_of(&torrent))
        .arg(&down)
        .arg(format!("127.0.0.1:{port}"));
    let mut leech = Spawned::start(cmd, "lt-leech", tmp.path());
    let done = leech.wait_event("done", DEADLINE);
    assert_eq!(done["progress"], 1.0);
    assert_same_tree(&seed_dir, &down);
}

#[test]
fn btl_seed_to_libtorrent_v2_magnet() {
    btl_seeds_libtorrent_gets_magnet("--v2");
}

#[test]
fn btl_seed_to_libtorrent_hybrid_magnet() {
    btl_seeds_libtorrent_gets_magnet("--hybrid");
}

/// A v2 magnet download killed (SIGKILL) mid-transfer resumes: the cached
/// info dictionary and the journal keep every piece verified before the
/// kill, the piece layers are fetched again, and the data ends correct.
#[test]
fn v2_magnet_resumes_after_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup_layers(tmp.path(), "--v2");
    let (_seeder, port) = start_lt_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        &[("LT_UPLOAD_LIMIT", "8000000".to_string())],
    );
    let peer = format!("127.0.0.1:{port}");
    let magnet = magnet_of(&torrent);
    let mut get = btl_get(tmp.path(), &magnet, &peer, &[]);
    let before = loop {
        let v = get.wait_event("progress", DEADLINE);
        let have = v["have_pieces"].as_u64().unwrap();
        if have >= 150 {
            assert!(have < v["wanted_pieces"].as_u64().unwrap(), "too fast: {v}");
            break have;
        }
    };
    get.child.kill().unwrap(); // SIGKILL
    get.child.wait().unwrap();

    let mut again = btl_get(tmp.path(), &magnet, &peer, &[]);
    let first = loop {
        let v = again.wait_event("progress", DEADLINE);
        if v["state"] != "checking" {
            break v;
        }
    };
    assert!(first["have_pieces"].as_u64().unwrap() >= before, "{first}");
    let done = again.wait_event("complete", DEADLINE);
    assert_eq!(done["hash_failures"], 0);
    assert!(again.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}
