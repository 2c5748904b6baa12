//! `btl manifest sign` and `btl verify` (offline: no ledger yet): a signed
//! manifest verifies against its torrent and data; a forged signature, a
//! changed field, roots that do not match, data that does not match and a
//! manifest for another torrent are each refused with a message that names
//! the problem.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::{btl, pseudo_random, run_err, run_json, run_ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    keys: PathBuf,
    torrent: PathBuf,
    prov: PathBuf,
    data: PathBuf,
}

fn cmd(keys: &Path) -> Command {
    let mut c = btl();
    c.env("BTL_KEYS_DIR", keys)
        .env_remove("BTL_PASSPHRASE")
        .env_remove("BTL_JSON")
        .env_remove("BTL_DATA")
        // No ledger in these tests: never reach for one.
        .env("BTL_OFFLINE", "true")
        .stdin(Stdio::null());
    c
}

fn write_album(root: &Path, seed: u64) {
    let w = |p: &str, d: Vec<u8>| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, d).unwrap();
    };
    w("cd1/01.flac", pseudo_random(seed, 200_000));
    w("cd1/02.flac", pseudo_random(seed + 1, 90_000));
    w("cover.jpg", pseudo_random(seed + 2, 5_000));
    w("empty.txt", vec![]);
}

fn create(keys: &Path, payload: &Path, out: &Path) {
    run_ok(
        cmd(keys)
            .args(["create", "--piece-size", "16K", "--no-date", "-o"])
            .arg(out)
            .arg(payload),
    );
}

/// An album, its torrent, a key `me` and the signed .prov.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let keys = dir.join("keys");
    let data = dir.join("data");
    write_album(&data.join("Album"), 1);
    let torrent = dir.join("Album.torrent");
    create(&keys, &data.join("Album"), &torrent);
    run_ok(cmd(&keys).args(["key", "new", "me", "--unencrypted"]));
    let v = run_json(
        cmd(&keys)
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
    let prov = PathBuf::from(v["prov"].as_str().unwrap());
    assert_eq!(prov.parent().unwrap(), dir);
    assert_eq!(
        prov.file_name().unwrap().to_str().unwrap(),
        format!("{}.prov", v["infohash_v2"].as_str().unwrap())
    );
    Fixture {
        _tmp: tmp,
        dir,
        keys,
        torrent,
        prov,
        data,
    }
}

fn verify(f: &Fixture) -> Command {
    let mut c = cmd(&f.keys);
    c.arg("verify");
    c
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// The refusal's stdout JSON report and stderr, for `btl verify … --json`.
fn refused(c: &mut Command) -> (Value, String) {
    let out = c.arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "should be refused: {stderr}");
    assert!(stderr.starts_with("error: verification failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "refused");
    (v, stderr)
}

fn status<'a>(report: &'a Value, check: &str) -> (&'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no check {check} in {report}"));
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap())
}

#[test]
fn a_signed_torrent_verifies_with_its_data() {
    let f = fixture();
    let v = run_json(
        verify(&f)
            .arg(&f.torrent)
            .arg("--data")
            .arg(&f.data)
            .arg("--json"),
    );
    assert_eq!(v["verdict"], "verified", "{v}");
    for check in [
        "prov file",
        "manifest fields",
        "signature",
        "torrent",
        "data",
    ] {
        assert_eq!(status(&v, check).0, "ok", "{check}: {v}");
    }
    assert_eq!(status(&v, "receipt").0, "not checked");
    assert_eq!(v["manifest"]["license"]["spdx"], "CC-BY-4.0");
    assert_eq!(v["manifest"]["name"], "Album");
    assert_eq!(v["manifest"]["files"], 4);

    // From the .prov side, the torrent is found beside it.
    let v = run_json(verify(&f).arg(&f.prov).arg("--json"));
    assert_eq!(v["verdict"], "verified");
    assert_eq!(status(&v, "torrent").0, "ok", "{v}");

    // The text report.
    let text = run_ok(verify(&f).arg(&f.prov).arg("--offline"));
    assert!(text.contains("Verdict: VERIFIED"), "{text}");
    assert!(text.contains("not anchored on the ledger"), "{text}");

    // Verification created nothing in the data directory.
    let before = walk(&f.data);
    std::fs::remove_file(f.data.join("Album/cover.jpg")).unwrap();
    let (v, _) = refused(verify(&f).arg(&f.torrent).arg("--data").arg(&f.data));
    let (s, detail) = status(&v, "data");
    assert_eq!(s, "failed");
    assert!(detail.contains("cover.jpg is missing"), "{detail}");
    assert!(!f.data.join("Album/cover.jpg").exists());
    assert_eq!(walk(&f.data).len(), before.len() - 1);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_forged_signature_is_refused() {
    let f = fixture();
    // Another key signs the same torrent; its signature is pasted into
    // the creator's manifest.
    run_ok(cmd(&f.keys).args(["key", "new", "mallory", "--unencrypted"]));
    let other = f.dir.join("other.prov");
    run_ok(
        cmd(&f.keys)
            .args([
                "manifest",
                "sign",
                "--key",
                "mallory",
                "--license",
                "CC-BY-4.0",
                "-o",
            ])
            .arg(&other)
            .arg(&f.torrent),
    );
    let mut p = read_json(&f.prov);
    let o = read_json(&other);
    p["manifest"]["proof"]["proofValue"] = o["manifest"]["proof"]["proofValue"].clone();
    write_json(&f.prov, &p);
    let (v, stderr) = refused(verify(&f).arg(&f.torrent));
    let (s, detail) = status(&v, "signature");
    assert_eq!(s, "failed");
    assert!(detail.contains("signature does not verify"), "{detail}");
    assert!(stderr.contains("signature"), "{stderr}");

    // Mallory's whole proof on the creator's manifest: signed, but not by
    // the creator.
    p["manifest"]["proof"] = o["manifest"]["proof"].clone();
    write_json(&f.prov, &p);
    let (v, _) = refused(verify(&f).arg(&f.torrent));
    assert!(
        status(&v, "signature").1.contains("not by its creator"),
        "{v}"
    );
}

#[test]
fn a_changed_field_is_refused() {
    let f = fixture();
    let orig = read_json(&f.prov);
    for (field, value) in [
        ("license", serde_json::json!({"spdx": "CC0-1.0"})),
        ("name", serde_json::json!("Album (deluxe)")),
        ("created", serde_json::json!("2020-01-01T00:00:00Z")),
    ] {
        let mut p = orig.clone();
        p["manifest"][field] = value;
        write_json(&f.prov, &p);
        let (v, _) = refused(verify(&f).arg(&f.prov));
        let (s, detail) = status(&v, "signature");
        assert_eq!(s, "failed", "{field}: {v}");
        assert!(detail.contains("was changed"), "{field}: {detail}");
    }
    // A field that breaks the format is named.
    let mut p = orig.clone();
    p["manifest"]["files"][1]["length"] = serde_json::json!("-5");
    write_json(&f.prov, &p);
    let (v, _) = refused(verify(&f).arg(&f.prov));
    let (s, detail) = status(&v, "manifest fields");
    assert_eq!(s, "failed");
    assert!(detail.contains("files[1].length"), "{detail}");
    // So is a broken .prov file.
    std::fs::write(&f.prov, "{\"type\":\"BtlProvenance\",\"version\":1}").unwrap();
    let (v, _) = refused(verify(&f).arg(&f.prov));
    assert!(
        status(&v, "prov file").1.contains("manifest is missing"),
        "{v}"
    );
}

#[test]
fn roots_that_do_not_match_are_refused() {
    let f = fixture();
    // The same album with one file changed: a torrent with the same names
    // but another root for that file.
    let changed_dir = f.dir.join("changed");
    write_album(&changed_dir.join("Album"), 1);
    let mut bytes = std::fs::read(changed_dir.join("Album/cd1/02.flac")).unwrap();
    bytes[50_000] ^= 0xff;
    std::fs::write(changed_dir.join("Album/cd1/02.flac"), &bytes).unwrap();
    let changed = f.dir.join("changed.torrent");
    create(&f.keys, &changed_dir.join("Album"), &changed);
    let (v, stderr) = refused(verify(&f).arg(&f.prov).arg("--torrent").arg(&changed));
    let (s, detail) = status(&v, "torrent");
    assert_eq!(s, "failed");
    assert!(
        detail.contains("cd1/02.flac: pieces root does not match"),
        "{detail}"
    );
    assert!(stderr.contains("pieces root"), "{stderr}");

    // The original torrent, with the changed data on disk: the data check
    // names the file and the bad pieces.
    let (v, _) = refused(verify(&f).arg(&f.torrent).arg("--data").arg(&changed_dir));
    let (s, detail) = status(&v, "data");
    assert_eq!(s, "failed");
    assert!(detail.contains("1 of"), "{detail}");
    assert!(detail.contains("cd1/02.flac: 1 bad pieces"), "{detail}");
    assert_eq!(status(&v, "torrent").0, "ok");
}

#[test]
fn a_manifest_for_another_torrent_is_refused() {
    let f = fixture();
    let other_dir = f.dir.join("other");
    write_album(&other_dir.join("Single"), 99);
    let other = f.dir.join("Single.torrent");
    create(&f.keys, &other_dir.join("Single"), &other);
    let (v, _) = refused(verify(&f).arg(&other).arg("--prov").arg(&f.prov));
    let (s, detail) = status(&v, "torrent");
    assert_eq!(s, "failed");
    assert!(
        detail.contains("the manifest is for another torrent"),
        "{detail}"
    );
    // Data is not hashed against a torrent the manifest does not describe.
    let (v, _) = refused(
        verify(&f)
            .arg(&other)
            .arg("--prov")
            .arg(&f.prov)
            .arg("--data")
            .arg(&other_dir),
    );
    assert_eq!(status(&v, "data").0, "not checked");
}

#[test]
fn usage_errors_are_clear() {
    let f = fixture();
    // No .prov beside a torrent.
    std::fs::remove_file(&f.prov).unwrap();
    let e = run_err(verify(&f).arg(&f.torrent));
    assert!(e.contains("no provenance file"), "{e}");
    // A magnet link needs the ledger.
    let e = run_err(verify(&f).arg("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"));
    assert!(e.contains("needs the ledger"), "{e}");
    // Signing refuses to overwrite, bad splits, bad licenses, v1 torrents.
    let sign = |extra: &[&str]| {
        let mut c = cmd(&f.keys);
        c.args(["manifest", "sign", "--key", "me"])
            .args(extra)
            .arg(&f.torrent);
        c
    };
    run_ok(&mut sign(&["--license", "MIT"]));
    let e = run_err(&mut sign(&["--license", "MIT"]));
    assert!(e.contains("--force"), "{e}");
    let me = run_json(cmd(&f.keys).args(["key", "show", "me", "--json"]));
    let acct = me["account"].as_str().unwrap();
    let e = run_err(&mut sign(&[
        "--license",
        "MIT",
        "-f",
        "--split",
        &format!("{acct}=6000"),
    ]));
    assert!(e.contains("payment.splits") && e.contains("6000"), "{e}");
    let e = run_err(&mut sign(&["--license", "MIT OR", "-f"]));
    assert!(e.contains("license.spdx"), "{e}");
    let e = run_err(&mut sign(&[
        "--license",
        "MIT",
        "-f",
        "--region",
        "Germany",
    ]));
    assert!(e.contains("license.terms.regions[0]"), "{e}");
    let v1 = f.dir.join("v1.torrent");
    run_ok(
        cmd(&f.keys)
            .args(["create", "--v1", "-o"])
            .arg(&v1)
            .arg(f.data.join("Album")),
    );
    let e = run_err(
        cmd(&f.keys)
            .args(["manifest", "sign", "--key", "me", "--license", "MIT"])
            .arg(&v1),
    );
    assert!(e.contains("v1-only"), "{e}");
}
