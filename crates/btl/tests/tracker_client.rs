//! The tracker client against `btl tracker`: HTTPS (the server's
//! `--https`, rustls on both sides) reached by `btl seed` / `btl get` /
//! `btl scrape` trusting the test's throwaway CA through `--tracker-ca` (or
//! its environment twin `BTL_TRACKER_CA`), and only through it; scrapes
//! over HTTP and UDP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(150);

/// A throwaway CA and a certificate for 127.0.0.1 and localhost signed by
/// it. Returns (ca.pem, cert.pem, key.pem).
fn make_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "btl test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "btl test tracker");
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&cert_pem, leaf_cert.pem() + &ca_cert.pem()).unwrap();
    std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();
    (ca_pem, cert_pem, key_pem)
}

/// `btl tracker` serving HTTPS only; returns it and its address.
fn https_tracker(dir: &Path, cert: &Path, key: &Path) -> (Spawned, String) {
    let mut cmd = btl();
    cmd.args([
        "tracker",
        "--json",
        "--no-http",
        "--no-udp",
        "--https",
        "127.0.0.1:0",
    ])
    .arg("--tls-cert")
    .arg(cert)
    .arg("--tls-key")
    .arg(key);
    let mut t = Spawned::start(cmd, "btl-tracker", dir);
    let ready = t.wait_event("listening", DEADLINE);
    assert!(ready["http"].is_null() && ready["udp"].is_null(), "{ready}");
    let addr = ready["https"].as_str().expect("https address").to_string();
    (t, addr)
}

fn make_torrent(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    v1_torrent_with_tracker(dir, (1 << 20) + 5, url)
}

/// A seeder and a leecher meet through an https:// tracker; the seeder
/// trusts the CA through `--tracker-ca`, the leecher through
/// `BTL_TRACKER_CA`. A scrape over HTTPS then counts them.
#[test]
fn btl_seed_and_get_meet_through_an_https_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(tmp.path());
    let (_tracker, addr) = https_tracker(tmp.path(), &cert, &key);
    let url = format!("https://{addr}/announce");
    let (seed_dir, torrent) = make_torrent(tmp.path(), &url);
    let ca_arg = ca.to_str().unwrap();
    let (_seed, _) = start_btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        "127.0.0.2",
        &["--tracker-ca", ca_arg],
    );
    let mut get = btl();
    get.args(["get", "--allow-unverified"])
        .arg(&torrent)
        .args(["--json", "--port", "0", "--listen", "127.0.0.3", "-o"])
        .arg(tmp.path().join("down"))
        .arg("--state-dir")
        .arg(tmp.path().join("get-state"))
        .env("BTL_TRACKER_CA", &ca);
    let mut get = Spawned::start(get, "btl-get", tmp.path());
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));

    // The seeder is still in the swarm (the leecher left with `stopped`).
    let s = run_json(btl().args(["scrape", &url]).arg(&torrent).args([
        "--json",
        "--tracker-ca",
        ca_arg,
    ]));
    let swarm = &s["swarms"][0];
    assert_eq!(swarm["complete"], 1, "{s}");
    assert_eq!(swarm["incomplete"], 0, "{s}");
}

/// Without the CA, the tracker's certificate is refused: a clear TLS
/// error, no announce. A bad CA file is a clear error too.
#[test]
fn an_untrusted_https_tracker_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = make_pki(tmp.path());
    let (_tracker, addr) = https_tracker(tmp.path(), &cert, &key);
    let url = format!("https://{addr}/announce");
    let err = run_err(btl().args(["scrape", &url, &"ab".repeat(20)]));
    assert!(
        err.contains("TLS with") && err.contains("certificate"),
        "{err}"
    );
    let not_pem = tmp.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let err = run_err(
        btl()
            .args(["scrape", &url, &"ab".repeat(20), "--tracker-ca"])
            .arg(&not_pem),
    );
    assert!(
        err.contains("--tracker-ca") && err.contains("not.pem"),
        "{err}"
    );
    // The tracker refuses a key that does not match its certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let wrong_key = tmp.path().join("wrong-key.pem");
    std::fs::write(&wrong_key, other.serialize_pem()).unwrap();
    let err = run_err(
        btl()
            .args([
                "tracker",
                "--no-http",
                "--no-udp",
                "--https",
                "127.0.0.1:0",
                "--tls-cert",
            ])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&wrong_key),
    );
    assert!(
        err.contains("TLS") && err.contains("wrong-key.pem"),
        "{err}"
    );
}

/// `btl scrape` reads `btl tracker` over HTTP (BEP 48) and UDP (BEP 15):
/// a seeder's announce shows in both; an unknown swarm has zero counts.
#[test]
fn btl_scrape_reads_http_and_udp_trackers() {
    let tmp = tempfile::tempdir().unwrap();
    let (_tracker, ready) = common::start_btl_tracker(tmp.path(), &[]);
    let http = format!("http://{}/announce", ready["http"].as_str().unwrap());
    let udp = format!("udp://{}/announce", ready["udp"].as_str().unwrap());
    let (seed_dir, torrent) = make_torrent(tmp.path(), &http);
    let (_seed, _) = start_btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.2", &[]);
    let unknown = "cd".repeat(20);
    let scrape = |url: &str| {
        run_json(
            btl()
                .args(["scrape", url])
                .arg(&torrent)
                .args([unknown.as_str(), "--json"]),
        )
    };
    let info = run_json(btl().arg("info").arg("--json").arg(&torrent));
    let ours = info["info_hash_v1"].as_str().unwrap().to_string();
    // HTTP scrape replies are dictionaries: find each swarm by its hash.
    let find = |s: &serde_json::Value, h: &str| {
        s["swarms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["info_hash"] == h)
            .cloned()
            .unwrap_or_else(|| panic!("{h} missing from {s}"))
    };
    // The seeder announces just after it starts seeding: poll.
    let end = std::time::Instant::now() + DEADLINE;
    let s = loop {
        let s = scrape(&http);
        if find(&s, &ours)["complete"] == 1 {
            break s;
        }
        assert!(
            std::time::Instant::now() < end,
            "the seeder never showed: {s}"
        );
        std::thread::park_timeout(Duration::from_millis(100));
    };
    // `btl tracker` answers zeros for a swarm it does not know (BEP 48
    // allows leaving it out too).
    assert_eq!(find(&s, &unknown)["complete"], 0, "{s}");
    let u = scrape(&udp);
    let swarms = u["swarms"].as_array().unwrap();
    assert_eq!(swarms.len(), 2, "{u}");
    assert_eq!(swarms[0]["complete"], 1, "{u}");
    assert_eq!(swarms[1]["info_hash"], unknown.as_str(), "{u}");
    assert_eq!(
        (&swarms[1]["complete"], &swarms[1]["incomplete"]),
        (&0.into(), &0.into()),
        "{u}"
    );
    let text = run_ok(btl().args(["scrape", &udp]).arg(&torrent));
    assert!(
        text.contains("seeders") && text.contains(info["info_hash_v1"].as_str().unwrap()),
        "{text}"
    );
}
