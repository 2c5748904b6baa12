//! Torrent-format interop with the reference tools (issue: foundation).
//!
//! Needs python3-libtorrent, mktorrent and transmission-cli; scripts/test.sh
//! installs them. A missing tool fails the test with the package to install.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

fn btl_info(path: &std::path::Path) -> Value {
    run_json(btl().arg("info").arg("--json").arg(path))
}

/// Torrents made by libtorrent (v1, v2, hybrid), mktorrent and
/// transmission-create parse, and our infohashes equal theirs.
#[test]
fn foreign_torrents_parse_with_equal_infohashes() {
    require_tool("mktorrent", "mktorrent");
    require_tool("transmission-create", "transmission-cli");
    let tmp = tempfile::tempdir().expect("tempdir");
    let payload = make_payload(tmp.path(), "payload", 3 << 20);
    let mut made = Vec::new();
    for version in ["v1", "v2", "hybrid"] {
        for piece in ["16384", "262144"] {
            let out = tmp.path().join(format!("lt-{version}-{piece}.torrent"));
            lt_tool(&[
                "create",
                payload.to_str().expect("utf8"),
                out.to_str().expect("utf8"),
                version,
                piece,
            ]);
            made.push(out);
        }
    }
    let mk = tmp.path().join("mktorrent.torrent");
    run_ok(
        Command::new("mktorrent")
            .args(["-a", "http://127.0.0.1:6969/announce", "-l", "16", "-o"])
            .arg(&mk)
            .arg(&payload),
    );
    made.push(mk);
    let tc = tmp.path().join("transmission.torrent");
    run_ok(
        Command::new("transmission-create")
            .args([
                "-t",
                "udp://127.0.0.1:6969",
                "-c",
                "made by transmission",
                "-o",
            ])
            .arg(&tc)
            .arg(&payload),
    );
    made.push(tc);

    for t in &made {
        let theirs = lt_tool(&["hashes", t.to_str().expect("utf8")]);
        let ours = btl_info(t);
        let name = t.display();
        assert_eq!(ours["info_hash_v1"], theirs["v1"], "{name}: v1 infohash");
        assert_eq!(ours["info_hash_v2"], theirs["v2"], "{name}: v2 infohash");
        assert_eq!(ours["name"], theirs["name"], "{name}: name");
        assert_eq!(ours["piece_count"], theirs["num_pieces"], "{name}: pieces");
        let real_files = theirs["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["pad"] == false)
            .count();
        assert_eq!(ours["file_count"], real_files, "{name}: file count");
        let payload_size: u64 = theirs["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["pad"] == false)
            .map(|f| f["size"].as_u64().expect("size"))
            .sum();
        assert_eq!(ours["total_length"], payload_size, "{name}: total length");
    }
}

/// `btl create` makes the same infohash as libtorrent's `create_torrent`
/// for v1, v2 and hybrid, and libtorrent checks our torrent's payload as
/// 100 % complete.
#[test]
fn btl_create_matches_libtorrent_and_libtorrent_checks_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let payload = make_payload(tmp.path(), "payload", (5 << 20) + 12345);
    for (flag, version) in [("--v1", "v1"), ("--v2", "v2"), ("--hybrid", "hybrid")] {
        for piece in ["16384", "1048576"] {
            let ours = tmp.path().join(format!("btl-{version}-{piece}.torrent"));
            let created = run_json(
                btl()
                    .arg("create")
                    .arg(&payload)
                    .args([flag, "--piece-size", piece, "--json", "--no-date", "-o"])
                    .arg(&ours),
            );
            let lt_out = tmp.path().join(format!("lt-{version}-{piece}.torrent"));
            let theirs = lt_tool(&[
                "create",
                payload.to_str().expect("utf8"),
                lt_out.to_str().expect("utf8"),
                version,
                piece,
            ]);
            assert_eq!(
                created["info_hash_v1"], theirs["v1"],
                "{version}/{piece}: v1"
            );
            assert_eq!(
                created["info_hash_v2"], theirs["v2"],
                "{version}/{piece}: v2"
            );
            let check = lt_tool(&[
                "check",
                ours.to_str().expect("utf8"),
                tmp.path().to_str().expect("utf8"),
            ]);
            assert_eq!(
                check["progress"], 1.0,
                "{version}/{piece}: libtorrent check: {check}"
            );
            assert_eq!(
                check["pieces_have"], check["num_pieces"],
                "{version}/{piece}"
            );
        }
    }
}

/// Magnets round-trip with libtorrent's parse_magnet_uri / make_magnet_uri.
#[test]
fn magnets_round_trip_with_libtorrent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let payload = make_payload(tmp.path(), "payload", 100_000);
    let torrent = tmp.path().join("p.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args(["--tracker", "udp://127.0.0.1:6969/announce"])
            .args(["--tracker", "http://127.0.0.1:8080/announce", "-o"])
            .arg(&torrent),
    );
    let info = btl_info(&torrent);
    let ours = info["magnet"].as_str().expect("magnet");

    // libtorrent reads our magnet as we meant it.
    let parsed = lt_tool(&["magnet-parse", ours]);
    assert_eq!(parsed["v1"], info["info_hash_v1"]);
    assert_eq!(parsed["v2"], info["info_hash_v2"]);
    assert_eq!(parsed["name"], "payload");
    assert_eq!(
        parsed["trackers"],
        serde_json::json!([
            "udp://127.0.0.1:6969/announce",
            "http://127.0.0.1:8080/announce"
        ])
    );

    // We read libtorrent's magnet for the same torrent as it meant it.
    let theirs = lt_tool(&["make-magnet", torrent.to_str().expect("utf8")]);
    let theirs = theirs["magnet"].as_str().expect("magnet");
    let back = run_json(btl().args(["info", "--json", theirs]));
    assert_eq!(back["info_hash_v1"], info["info_hash_v1"]);
    assert_eq!(back["info_hash_v2"], info["info_hash_v2"]);
    assert_eq!(back["name"], "payload");

    // A magnet with peers, web seeds and our ledger reference survives too,
    // and libtorrent ignores the parameter it does not know.
    let rich = format!(
        "{ours}&ws=http%3A%2F%2F127.0.0.1%3A8000%2Fpayload&x.pe=127.0.0.1:51413&x.btl={}",
        "ab".repeat(32)
    );
    let back = run_json(btl().args(["info", "--json", &rich]));
    assert_eq!(back["ledger_ref"], "ab".repeat(32));
    assert_eq!(back["peers"], serde_json::json!(["127.0.0.1:51413"]));
    let lt_rich = lt_tool(&["magnet-parse", &rich]);
    assert_eq!(lt_rich["v1"], info["info_hash_v1"]);
    assert_eq!(
        lt_rich["web_seeds"],
        serde_json::json!(["http://127.0.0.1:8000/payload"])
    );
    let again = lt_tool(&["magnet-parse", back["magnet"].as_str().expect("magnet")]);
    assert_eq!(
        again, lt_rich,
        "our re-encoded magnet reads the same in libtorrent"
    );
}
