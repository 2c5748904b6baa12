//! `btl publish` end to end with a real one-validator ledger (`btl ledger
//! init` + `btl ledger run` on loopback): create a hybrid torrent, publish
//! it, check it, refuse a replayed registration, a v1-only torrent, an
//! account that cannot pay the fee and a ledger that is down; and a plain
//! libtorrent peer downloads the published torrent from `btl seed` (the
//! trust layer is additive).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ledger_common;

use common::{btl, pseudo_random, run_err, run_json, start_btl_seed, Spawned};
use ledger_common::Cluster;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    keys: PathBuf,
    url: String,
    _ledger: Cluster,
}

fn cmd(e: &Env) -> Command {
    let mut c = btl();
    c.env("BTL_KEYS_DIR", &e.keys)
        .env("BTL_LEDGER", &e.url)
        .env_remove("BTL_PASSPHRASE")
        .env_remove("BTL_JSON")
        .env_remove("BTL_KEY")
        .stdin(Stdio::null());
    c
}

fn key_hex(keys: &Path, name: &str) -> String {
    let mut c = btl();
    c.env("BTL_KEYS_DIR", keys).stdin(Stdio::null());
    common::run_ok(c.args(["key", "new", name, "--unencrypted"]));
    let mut c = btl();
    c.env("BTL_KEYS_DIR", keys).stdin(Stdio::null());
    let v = run_json(c.args(["key", "show", name, "--json"]));
    v["public_key"].as_str().unwrap().to_string()
}

/// A funded key `me`, an unfunded key `poor`, a running ledger.
fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let keys = dir.join("keys");
    let me = key_hex(&keys, "me");
    key_hex(&keys, "poor");
    let mut ledger = Cluster::init(1, &["--fund", &format!("{me}:1000000")]);
    ledger.start(0);
    let url = format!("http://{}", ledger.http[0]);
    Env {
        _tmp: tmp,
        dir,
        keys,
        url,
        _ledger: ledger,
    }
}

/// A payload directory and its torrent (`flag`: --hybrid, --v2, --v1).
fn make_torrent(e: &Env, name: &str, seed: u64, flag: &str) -> (PathBuf, PathBuf) {
    let data = e.dir.join(format!("data-{name}"));
    let root = data.join(name);
    std::fs::create_dir_all(root.join("cd1")).unwrap();
    std::fs::write(root.join("cd1/01.flac"), pseudo_random(seed, 200_000)).unwrap();
    std::fs::write(root.join("cover.jpg"), pseudo_random(seed + 1, 5_000)).unwrap();
    let torrent = e.dir.join(format!("{name}.torrent"));
    common::run_ok(
        cmd(e)
            .args(["create", "--piece-size", "16K", "--no-date", flag, "-o"])
            .arg(&torrent)
            .arg(&root),
    );
    (data, torrent)
}

fn publish(e: &Env, torrent: &Path, key: &str) -> Command {
    let mut c = cmd(e);
    c.args([
        "publish",
        "--key",
        key,
        "--license",
        "CC-BY-4.0",
        "--wait",
        "30",
        "--json",
    ])
    .arg(torrent);
    c
}

#[test]
fn publish_check_refuse_and_plain_peer_downloads() {
    let e = env();
    let (data, torrent) = make_torrent(&e, "Album", 1, "--hybrid");

    // Publish: registered, a .prov beside the torrent, a magnet with x.btl.
    let v = run_json(&mut publish(&e, &torrent, "me"));
    let tx = v["tx_id"].as_str().unwrap();
    assert_eq!(tx.len(), 64);
    assert!(v["height"].as_u64().unwrap() >= 1, "{v}");
    let magnet = v["magnet"].as_str().unwrap();
    assert!(magnet.contains(&format!("x.btl={tx}")), "{magnet}");
    assert!(magnet.contains("urn:btmh:1220"), "{magnet}");
    let prov = PathBuf::from(v["prov"].as_str().unwrap());
    assert_eq!(prov.parent(), torrent.parent());
    assert!(prov.ends_with(format!("{}.prov", v["infohash_v2"].as_str().unwrap())));

    // The ledger holds the record the manifest describes.
    let ih = v["infohash_v2"].as_str().unwrap();
    let (code, rec) = ledger_common::get(e._ledger.http[0], &format!("/torrent/{ih}"));
    assert_eq!(code, 200, "{rec}");
    assert_eq!(rec["torrent"]["manifest_hash"], v["manifest_id"]);
    assert_eq!(rec["torrent"]["license"], "CC-BY-4.0");

    // The .prov verifies against the torrent and the data.
    let check = run_json(
        cmd(&e)
            .args(["verify", "--json", "--data"])
            .arg(&data)
            .arg(&prov),
    );
    assert_eq!(check["verdict"], "verified", "{check}");
    let ledger = check["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "ledger")
        .unwrap();
    assert_eq!(ledger["status"], "ok", "{check}");

    // The .prov carries the receipt (the checkpoint cosigned by the
    // validators), and it verifies offline with their keys alone.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&prov).unwrap()).unwrap();
    let receipt = doc["receipt"].as_str().unwrap_or_default().to_string();
    assert!(
        receipt.starts_with("c2sp.org/tlog-proof@v1\n"),
        "no receipt in the .prov: {doc}"
    );
    let (code, verifiers) = ledger_common::get(e._ledger.http[0], "/registry/verifiers");
    assert_eq!(code, 200, "{verifiers}");
    let trust = e.dir.join("trust.json");
    std::fs::write(&trust, verifiers.to_string()).unwrap();
    let offline = run_json(
        cmd(&e)
            .args(["verify", "--json", "--offline", "--trust"])
            .arg(&trust)
            .arg(&prov)
            .env("BTL_LEDGER", "http://127.0.0.1:9"),
    );
    assert_eq!(offline["verdict"], "verified", "{offline}");
    let receipt_check = offline["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "receipt")
        .unwrap();
    assert_eq!(receipt_check["status"], "ok", "{offline}");

    // A receipt altered by one digit is refused, offline.
    let mut bad = doc.clone();
    let mut lines: Vec<String> = receipt.lines().map(str::to_string).collect();
    let last = lines.len() - 1;
    // The last line is a validator's signature: change one base64 digit.
    let at = lines[last].chars().count() - 5;
    let flipped: String = lines[last]
        .chars()
        .enumerate()
        .map(|(i, c)| match (i == at, c) {
            (true, 'A') => 'B',
            (true, _) => 'A',
            (false, c) => c,
        })
        .collect();
    lines[last] = flipped;
    bad["receipt"] = serde_json::Value::String(lines.join("\n") + "\n");
    let bad_prov = e.dir.join("tampered.prov");
    std::fs::write(&bad_prov, bad.to_string()).unwrap();
    let err = run_err(
        cmd(&e)
            .args(["verify", "--offline", "--trust"])
            .arg(&trust)
            .arg(&bad_prov)
            .arg("--torrent")
            .arg(&torrent),
    );
    assert!(err.contains("receipt"), "{err}");

    // Amend the license: a new record with its own receipt; the history
    // keeps both, and the rewritten .prov verifies.
    let mut c = cmd(&e);
    c.args([
        "license",
        "amend",
        "--key",
        "me",
        "--license",
        "CC-BY-SA-4.0",
        "--wait",
        "30",
        "--json",
    ])
    .arg(&torrent);
    let amended = run_json(&mut c);
    assert_eq!(amended["license"], "CC-BY-SA-4.0", "{amended}");
    assert_eq!(amended["previous_license"], "CC-BY-4.0", "{amended}");
    assert_eq!(amended["receipt"], true, "{amended}");
    let history = run_json(cmd(&e).args(["license", "history", "--json"]).arg(&torrent));
    let licenses: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["license"].as_str().unwrap())
        .collect();
    assert_eq!(licenses, ["CC-BY-4.0", "CC-BY-SA-4.0"], "{history}");
    let check = run_json(cmd(&e).args(["verify", "--json"]).arg(&prov));
    assert_eq!(check["verdict"], "verified", "{check}");
    // Only the creator may amend.
    let mut c = cmd(&e);
    c.args(["license", "amend", "--key", "poor", "--license", "MIT"])
        .arg(&torrent);
    let err = run_err(&mut c);
    assert!(err.contains("only its creator"), "{err}");

    // A replayed registration is refused, naming the problem.
    let err = run_err(&mut publish(&e, &torrent, "me"));
    assert!(err.contains("already registered"), "{err}");

    // A v1-only torrent is refused with the way out.
    let (_, v1) = make_torrent(&e, "Old", 3, "--v1");
    let err = run_err(&mut publish(&e, &v1, "me"));
    assert!(
        err.contains("v1-only") && err.contains("btl create --hybrid"),
        "{err}"
    );

    // An account that cannot pay the fee.
    let (_, other) = make_torrent(&e, "Other", 5, "--v2");
    let err = run_err(&mut publish(&e, &other, "poor"));
    assert!(err.contains("cannot pay the fee"), "{err}");

    // The ledger is down.
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let err = run_err(publish(&e, &other, "me").env("BTL_LEDGER", &dead));
    assert!(err.contains("cannot reach the ledger"), "{err}");

    // A wrong key name.
    let err = run_err(&mut publish(&e, &other, "nobody"));
    assert!(err.contains("nobody"), "{err}");

    // The creator's key leaks: rotate to a new key and revoke the old one.
    // Its manifests are then refused, naming the revocation.
    key_hex(&e.keys, "me2");
    let mut c = cmd(&e);
    c.args(["key", "rotate", "me", "--to", "me2", "--revoke-old"])
        .args(["--wait", "30", "--json"]);
    let rotated = run_json(&mut c);
    assert_eq!(rotated["revoked_old"], true, "{rotated}");
    let err = run_err(cmd(&e).args(["verify"]).arg(&prov));
    assert!(err.contains("revoked"), "{err}");

    // A plain libtorrent peer downloads the published torrent from btl seed.
    common::require_libtorrent();
    let (_seeder, ready) = start_btl_seed(&e.dir, &torrent, &data, "127.0.0.1", &[]);
    assert_eq!(ready["have_pieces"], ready["pieces"]);
    let port = ready["port"].as_u64().unwrap();
    let down = e.dir.join("down");
    std::fs::create_dir_all(&down).unwrap();
    let mut lt = Command::new(common::PYTHON);
    lt.arg(common::repo().join("scripts/interop/lt_peer.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(&down)
        .arg(format!("127.0.0.1:{port}"));
    let mut leech = Spawned::start(lt, "lt-leech", &e.dir);
    let done = leech.wait_event("done", Duration::from_secs(120));
    assert_eq!(done["progress"], 1.0);
    common::assert_same_tree(&data, &down);
}

/// `btl get MAGNET` as another btl (its own state directory, loopback
/// only) with `seeder` as its one peer, into `e.dir/<out>`.
fn get_magnet(e: &Env, magnet: &str, seeder: u64, out: &str, json: bool) -> Command {
    let mut c = cmd(e);
    c.arg("get")
        .arg(magnet)
        .args(["--ledger", &e.url, "--port", "0", "--listen", "127.0.0.1"])
        .args(["--peer", &format!("127.0.0.1:{seeder}"), "-o"])
        .arg(e.dir.join(out))
        .arg("--state-dir")
        .arg(e.dir.join(format!("{out}-state")))
        .env_remove("BTL_LEDGER");
    if json {
        c.arg("--json");
    }
    c
}

fn output(c: &mut Command) -> std::process::Output {
    c.output()
        .unwrap_or_else(|err| panic!("cannot run {c:?}: {err}"))
}

/// The end-to-end path: create a multi-file hybrid torrent,
/// publish it on a real ledger, seed it with btl, and download it on
/// another btl by the magnet publish printed (no .torrent, no .prov: the
/// metadata comes from the seeder over ut_metadata, the manifest and
/// receipt from the ledger's registry), then verify the download. After
/// the creator's key is revoked, the same magnet is refused.
#[test]
fn publish_seed_and_download_by_magnet_on_another_btl() {
    let e = env();
    let (data, torrent) = make_torrent(&e, "Album", 21, "--hybrid");
    let v = run_json(&mut publish(&e, &torrent, "me"));
    assert_eq!(v["receipt"], true, "{v}");
    let magnet = v["magnet"].as_str().unwrap().to_string();
    assert!(magnet.contains("x.btl="), "{magnet}");
    let me = run_json(
        btl()
            .env("BTL_KEYS_DIR", &e.keys)
            .args(["key", "show", "me", "--json"]),
    );
    let did = me["did"].as_str().unwrap();

    let (_seeder, ready) = start_btl_seed(&e.dir, &torrent, &data, "127.0.0.1", &[]);
    assert_eq!(ready["have_pieces"], ready["pieces"], "{ready}");
    let port = ready["port"].as_u64().unwrap();

    // For people: the creator, the license and the payment, then the
    // download, on a btl that has neither the .torrent nor the .prov.
    let out = output(&mut get_magnet(&e, &magnet, port, "down", false));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("provenance verified (ledger {})", e.url)),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("creator:  {did} (")), "{stderr}");
    assert!(stderr.contains("license:  CC-BY-4.0"), "{stderr}");
    assert!(stderr.contains("payment:"), "{stderr}");
    assert!(!stderr.contains("NOT registered"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("done: Album"));
    common::assert_same_tree(&data, &e.dir.join("down"));

    // The same for scripts: every check passed, against the ledger.
    let out = output(&mut get_magnet(&e, &magnet, port, "down-json", true));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let prov = evs.iter().find(|x| x["event"] == "provenance").unwrap();
    assert_eq!(prov["verified"], true, "{prov}");
    assert_eq!(prov["registered"], true, "{prov}");
    assert_eq!(prov["creator"], did, "{prov}");
    assert_eq!(prov["license"], "CC-BY-4.0", "{prov}");
    for c in prov["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{prov}");
    }
    let done = evs.iter().find(|x| x["event"] == "complete").unwrap();
    assert_eq!(done["hash_failures"], 0, "{done}");
    common::assert_same_tree(&data, &e.dir.join("down-json"));

    // btl verify of what was downloaded, by the same magnet: the
    // manifest from the registry, the files on disk against its roots.
    let check = run_json(
        cmd(&e)
            .args(["verify", "--json", "--data"])
            .arg(e.dir.join("down"))
            .arg(&magnet),
    );
    assert_eq!(check["verdict"], "verified", "{check}");
    let status = |name: &str| {
        check["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {check}"))["status"]
            .clone()
    };
    for name in [
        "signature",
        "data",
        "receipt",
        "ledger",
        "creator key status",
    ] {
        assert_eq!(status(name), "ok", "{name}: {check}");
    }
    // A changed byte on disk fails the data check.
    let flac = e.dir.join("down/Album/cd1/01.flac");
    let mut bytes = std::fs::read(&flac).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&flac, bytes).unwrap();
    let err = run_err(
        cmd(&e)
            .args(["verify", "--data"])
            .arg(e.dir.join("down"))
            .arg(&magnet),
    );
    assert!(err.contains("cd1/01.flac"), "{err}");

    // A magnet whose ledger reference (x.btl) is not this torrent's
    // registration is refused, naming it.
    let tx = v["tx_id"].as_str().unwrap();
    let forged = magnet.replace(
        &format!("x.btl={tx}"),
        &format!("x.btl={}", "ab".repeat(32)),
    );
    assert_ne!(forged, magnet);
    let out = output(&mut get_magnet(&e, &forged, port, "down-forged", false));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "x.btl={} is not a registry transaction",
            "ab".repeat(32)
        )),
        "{stderr}"
    );
    assert!(!e.dir.join("down-forged/Album/cover.jpg").exists());

    // Another torrent, signed by the same key but never published, seeded
    // with its .prov (offered to peers over btl_prov): the registry does
    // not know it, so the downloader takes the manifest from the peer and
    // checks it with the ledger: not registered, refused by default.
    let (other_data, other) = make_torrent(&e, "Other", 31, "--hybrid");
    let signed = run_json(
        cmd(&e)
            .args([
                "manifest",
                "sign",
                "--key",
                "me",
                "--license",
                "MIT",
                "--json",
            ])
            .arg(&other),
    );
    assert!(signed["prov"].is_string(), "{signed}");
    let other_dir = e.dir.join("other-seed");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (_other_seeder, other_ready) =
        start_btl_seed(&other_dir, &other, &other_data, "127.0.0.1", &[]);
    assert!(other_ready["prov"].is_string(), "{other_ready}");
    let other_port = other_ready["port"].as_u64().unwrap();
    let info = run_json(cmd(&e).args(["info", "--json"]).arg(&other));
    let other_magnet = info["magnet"].as_str().unwrap().to_string();
    let out = output(&mut get_magnet(
        &e,
        &other_magnet,
        other_port,
        "down-other",
        false,
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unregistered: the manifest is signed by did:key:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("no receipt or record on {} verifies it", e.url)),
        "{stderr}"
    );
    assert!(!e.dir.join("down-other/Other/cover.jpg").exists());

    // The creator's key is revoked: the same magnet is refused before
    // anything is downloaded, naming the revocation.
    key_hex(&e.keys, "me2");
    let rotated = run_json(
        cmd(&e)
            .args(["key", "rotate", "me", "--to", "me2", "--revoke-old"])
            .args(["--wait", "30", "--json"]),
    );
    assert_eq!(rotated["revoked_old"], true, "{rotated}");
    let out = output(&mut get_magnet(&e, &magnet, port, "down-revoked", false));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("refusing to download Album"), "{stderr}");
    assert!(stderr.contains("revoked"), "{stderr}");
    assert!(!e.dir.join("down-revoked/Album/cd1/01.flac").exists());
    let err = run_err(cmd(&e).args(["verify"]).arg(&magnet));
    assert!(err.contains("revoked"), "{err}");
    // A manifest from a peer, signed by the revoked key: even accepting
    // unregistered content, the revocation (asked of the ledger about
    // the key that signed) refuses it.
    let out = output(
        get_magnet(&e, &other_magnet, other_port, "down-other2", false).arg("--allow-unregistered"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing to download Other"), "{stderr}");
    assert!(stderr.contains("revoked"), "{stderr}");
    assert!(!e.dir.join("down-other2/Other/cover.jpg").exists());
}
