//! The `btl` command line: conversions, help, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn v1_single(name: &str, length: i64, pieces: usize) -> Vec<u8> {
    let mut out = b"d4:infod6:lengthi".to_vec();
    out.extend_from_slice(format!("{length}e4:name{}:{name}", name.len()).as_bytes());
    out.extend_from_slice(b"12:piece lengthi16384e6:pieces");
    out.extend_from_slice(format!("{}:", pieces * 20).as_bytes());
    out.extend(std::iter::repeat_n(b'x', pieces * 20));
    out.extend_from_slice(b"ee");
    out
}

#[test]
fn convert_round_trip_keeps_bytes_and_infohash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let payload = make_payload(tmp.path(), "payload", 300_000);
    let torrent = tmp.path().join("p.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([
                "--tracker",
                "http://127.0.0.1:1/announce",
                "--comment",
                "c",
                "-o",
            ])
            .arg(&torrent),
    );
    let before = run_json(btl().arg("info").arg("--json").arg(&torrent));
    let conv = run_json(btl().arg("convert").arg("--json").arg(&torrent));
    let btl_path = tmp.path().join("p.btl");
    assert_eq!(conv["output"], btl_path.display().to_string());
    assert!(conv["btl_bytes"].as_u64() < conv["torrent_bytes"].as_u64());
    let via_btl = run_json(btl().arg("info").arg("--json").arg(&btl_path));
    assert_eq!(via_btl["format"], "btl");
    assert_eq!(via_btl["info_hash_v1"], before["info_hash_v1"]);
    assert_eq!(via_btl["info_hash_v2"], before["info_hash_v2"]);
    let back = tmp.path().join("back.torrent");
    run_ok(btl().arg("convert").arg(&btl_path).arg("-o").arg(&back));
    assert_eq!(
        std::fs::read(&back).expect("read"),
        std::fs::read(&torrent).expect("read"),
        "the .torrent bytes survive the round trip"
    );
}

#[test]
fn unknown_keys_survive_conversion() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A valid v1 torrent with unknown keys inside and outside `info`.
    let mut t = b"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:".to_vec();
    t.extend_from_slice(&[7u8; 20]);
    t.extend_from_slice(b"7:x-inneri42ee7:x-outer3:abce");
    let src = write(tmp.path(), "u.torrent", &t);
    run_ok(btl().arg("convert").arg(&src));
    let back = tmp.path().join("u2.torrent");
    run_ok(
        btl()
            .arg("convert")
            .arg(tmp.path().join("u.btl"))
            .arg("-o")
            .arg(&back),
    );
    assert_eq!(std::fs::read(&back).expect("read"), t);
}

#[test]
fn info_reports_v1_single_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = write(tmp.path(), "ok.torrent", &v1_single("hello.txt", 20000, 2));
    let v = run_json(btl().arg("info").arg("--json").arg(&p));
    assert_eq!(v["name"], "hello.txt");
    assert_eq!(v["version"], "v1");
    assert_eq!(v["piece_count"], 2);
    assert_eq!(v["total_length"], 20000);
    let text = run_ok(btl().arg("info").arg(&p));
    assert!(text.contains("Infohash v1:"), "{text}");
    assert!(text.contains("hello.txt"), "{text}");
}

#[test]
fn bad_torrents_fail_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = v1_single("a", 20000, 2);
    let mut deep = "l".repeat(100_000).into_bytes();
    deep.extend(std::iter::repeat_n(b'e', 100_000));
    let traversal = b"d4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdeee4:name1:a12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee".to_vec();
    let absolute = b"d4:infod5:filesld6:lengthi1e4:pathl0:3:etceee4:name1:a12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee".to_vec();
    let overflow = b"d4:infod5:filesld6:lengthi9223372036854775807e4:pathl1:xeed6:lengthi9223372036854775807e4:pathl1:yeed6:lengthi9223372036854775807e4:pathl1:zeee4:name1:a12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a valid torrent"),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not a valid torrent",
        ),
        (
            "garbage",
            b"this is not bencode".to_vec(),
            "not a valid torrent",
        ),
        (
            "trailing",
            [good.clone(), b"junk".to_vec()].concat(),
            "trailing",
        ),
        ("deep", deep, "nesting"),
        ("unsorted", b"d4:infoi1e1:ai1ee".to_vec(), "sorted"),
        ("wrong-piece-count", v1_single("a", 20000, 3), "pieces"),
        ("negative-length", v1_single("a", -5, 1), "length"),
        ("traversal", traversal, "path"),
        ("absolute", absolute, "path"),
        ("overflow", overflow, "length"),
    ];
    for (name, bytes, needle) in cases {
        let p = write(tmp.path(), &format!("{name}.torrent"), &bytes);
        let err = run_err(btl().arg("info").arg(&p));
        assert!(
            err.to_lowercase().contains(needle),
            "{name}: error should mention `{needle}`: {err}"
        );
        // convert refuses the same input and writes nothing.
        run_err(btl().arg("convert").arg(&p));
        assert!(!tmp.path().join(format!("{name}.btl")).exists());
    }
}

#[test]
fn bad_magnets_and_paths_fail_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for m in [
        "magnet:?xt=urn:btih:zz",
        "magnet:?dn=nohash",
        "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef0123456%",
        "magnet:?xt=urn:btmh:1220abcd",
    ] {
        let err = run_err(btl().args(["info", m]));
        assert!(err.contains("magnet"), "{m}: {err}");
    }
    let err = run_err(btl().arg("info").arg(tmp.path().join("missing.torrent")));
    assert!(err.contains("cannot open"), "{err}");
    let err = run_err(btl().arg("info").arg(tmp.path()));
    assert!(err.contains("directory"), "{err}");
    let err = run_err(btl().arg("create").arg(tmp.path().join("nothing-here")));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn create_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = write(tmp.path(), "data.bin", &pseudo_random(3, 50_000));
    let out = write(tmp.path(), "existing.torrent", b"keep me");
    let err = run_err(btl().arg("create").arg(&src).arg("-o").arg(&out));
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).expect("read"), b"keep me");
    run_ok(
        btl()
            .arg("create")
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .arg("--force"),
    );
    let v = run_json(btl().arg("info").arg("--json").arg(&out));
    assert_eq!(v["version"], "hybrid");
    assert_eq!(v["total_length"], 50_000);
}

#[test]
fn help_teaches() {
    let top = run_ok(btl().arg("--help"));
    for cmd in ["create", "info", "convert"] {
        assert!(top.contains(cmd), "{top}");
    }
    let create = run_ok(btl().args(["create", "--help"]));
    for flag in [
        "--v1",
        "--v2",
        "--hybrid",
        "--piece-size",
        "--tracker",
        "--web-seed",
        "--private",
    ] {
        assert!(create.contains(flag), "create --help lacks {flag}");
    }
}
