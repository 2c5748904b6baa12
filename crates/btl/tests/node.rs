//! `btl up` (issue 7): a node from a fresh data directory downloads from a
//! libtorrent seeder through its HTTP API, `transmission-remote` drives it,
//! bad API input gets clear errors, and `kill -9` mid-download resumes
//! every torrent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::http::*;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(150);

/// A payload and its torrent (hybrid unless `v1`), under `dir/NAME-seed`.
fn payload(dir: &Path, name: &str, big: usize, extra: &[&str]) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join(format!("{name}-seed"));
    let root = make_payload(&seed_dir, name, big);
    let torrent = dir.join(format!("{name}.torrent"));
    run_ok(
        btl()
            .arg("create")
            .arg(&root)
            .args(["--no-date", "--piece-size", "65536", "-o"])
            .arg(&torrent)
            .args(extra),
    );
    (seed_dir, torrent)
}

fn b64(path: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
}

fn add_torrent_file(node: &NodeProc, torrent: &Path, peers: &[String]) -> Value {
    let r = post_json(
        node.api,
        "/api/v1/torrents",
        &json!({"torrent": b64(torrent), "peers": peers}),
    );
    assert_eq!(r.status, 201, "add: {}", r.text());
    r.json()
}

fn seeding(t: &Value) -> bool {
    t["state"] == "seeding" && t["progress"] == 1.0
}

/// From a fresh data directory: add a torrent by the API, download it from
/// libtorrent, then list, pause, resume, add and remove with Debian's
/// `transmission-remote`, and stop with SIGTERM.
#[test]
fn node_downloads_by_api_and_transmission_remote_drives_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = payload(tmp.path(), "album", 3 << 20, &[]);
    let (_lt, port) = start_lt_seed(tmp.path(), &torrent, &seed_dir, &[]);
    let data = tmp.path().join("node");
    let node = NodeProc::start(tmp.path(), &data, "btl-up", &[]);
    assert!(data.join("api-token").exists(), "token made on first start");

    let added = add_torrent_file(&node, &torrent, &[format!("127.0.0.1:{port}")]);
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["duplicate"], false);
    assert_eq!(added["num"], 1);
    let done = node.wait_torrent(&id, "download", DEADLINE, seeding);
    assert_eq!(done["have_bytes"], done["wanted_bytes"], "{done}");
    assert_eq!(done["provenance"]["status"], "unknown", "{done}");
    assert_same_tree(&seed_dir, &data.join("downloads"));

    // The files, peers and trackers views answer.
    let files = node.get(&format!("/api/v1/torrents/{id}/files"));
    let files = files.as_array().unwrap();
    assert!(files.len() > 40, "{files:?}");
    assert!(
        files.iter().all(|f| f["bytes_completed"] == f["length"]),
        "{files:?}"
    );
    assert!(node.get(&format!("/api/v1/torrents/{id}/peers")).is_array());
    assert!(node
        .get(&format!("/api/v1/torrents/{id}/trackers"))
        .is_array());

    // transmission-remote lists it...
    let list = node.remote(&["-l"]);
    let line = list
        .lines()
        .find(|l| l.contains("album"))
        .unwrap_or_else(|| panic!("album not listed:\n{list}"));
    assert!(line.contains("100%"), "{list}");
    assert!(line.trim_start().starts_with('1'), "id 1: {list}");
    let info = node.remote(&["-t", "1", "-i"]);
    assert!(info.contains(&format!("Hash: {id}")), "{info}");
    assert!(info.contains("Percent Done: 100"), "{info}");
    // ...pauses it...
    node.remote(&["-t", "1", "-S"]);
    assert!(node.remote(&["-l"]).contains("Stopped"), "paused");
    assert_eq!(
        node.get(&format!("/api/v1/torrents/{id}"))["state"],
        "paused"
    );
    // ...sets a limit and starts it again...
    node.remote(&["-t", "1", "-d", "250"]);
    assert_eq!(
        node.get(&format!("/api/v1/torrents/{id}/limits"))["download"],
        250_000
    );
    node.remote(&["-t", "1", "-s"]);
    node.wait_torrent(&id, "resume", DEADLINE, seeding);

    // ...adds a torrent from a file (metainfo) and removes it with its data.
    let (other_seed, other) = payload(tmp.path(), "other", 200_000, &["--v1"]);
    let out = node.remote(&["-a", other.to_str().unwrap()]);
    assert!(out.contains("success"), "{out}");
    let list = node.remote(&["-l"]);
    assert!(list.contains("other"), "{list}");
    let (_lt2, port2) = start_lt_seed(tmp.path(), &other, &other_seed, &[]);
    let other_id = node.get("/api/v1/torrents").as_array().unwrap()[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    request(
        node.api,
        "POST",
        &format!("/api/v1/torrents/{other_id}/resume"),
        &[],
        b"",
    );
    // Peers are given through the API (Transmission has no such argument).
    let r = post_json(
        node.api,
        "/api/v1/torrents",
        &json!({"torrent": b64(&other), "peers": [format!("127.0.0.1:{port2}")]}),
    );
    assert_eq!(r.status, 200, "a duplicate is reported: {}", r.text());
    assert_eq!(r.json()["duplicate"], true);
    node.remote(&["-t", "2", "--remove-and-delete"]);
    let list = node.remote(&["-l"]);
    assert!(!list.contains("other"), "{list}");
    assert!(!data.join("downloads/other").exists(), "data deleted");
    assert!(
        data.join("downloads/album").exists(),
        "the other torrent's data stays"
    );

    // A magnet through transmission-remote, then removal without data.
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=from-remote&x.pe=127.0.0.1:{port}",
        "ab".repeat(20)
    );
    assert!(node.remote(&["-a", &magnet]).contains("success"));
    assert!(node.remote(&["-l"]).contains("from-remote"));
    node.remote(&["-t", "3", "-r"]);
    assert!(!node.remote(&["-l"]).contains("from-remote"));

    // Graceful stop; the list survives.
    node.stop();
    let list: Value =
        serde_json::from_slice(&std::fs::read(data.join("torrents.json")).unwrap()).unwrap();
    assert_eq!(list["torrents"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["torrents"][0]["done_at"].is_u64(), "{list}");
}

/// Bad input to the API: every case gets the right status and a message
/// that says what is wrong.
#[test]
fn node_api_rejects_bad_input_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::start(
        tmp.path(),
        &tmp.path().join("node"),
        "btl-up",
        &["--no-ledger"],
    );
    let a = node.api;
    let check = |r: Reply, status: u16, code: &str, words: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(words),
            "message `{msg}` should mention `{words}`"
        );
    };
    let json_post = |path: &str, body: &str| {
        request(
            a,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    // Malformed JSON, wrong types, unknown fields, wrong content type.
    check(
        json_post("/api/v1/torrents", "{\"magnet\": "),
        400,
        "malformed_json",
        "not valid JSON",
    );
    check(
        json_post("/api/v1/torrents", "{\"magnet\": 42}"),
        422,
        "invalid_body",
        "magnet",
    );
    check(
        json_post(
            "/api/v1/torrents",
            "{\"magnet\": \"magnet:?xt=urn:btih:00\", \"paused\": \"yes\"}",
        ),
        422,
        "invalid_body",
        "paused",
    );
    check(
        json_post("/api/v1/torrents", "{\"magnett\": \"x\"}"),
        422,
        "invalid_body",
        "magnett",
    );
    check(
        json_post("/api/v1/torrents", "{}"),
        400,
        "bad_request",
        "exactly one",
    );
    check(
        json_post("/api/v1/torrents", "{\"magnet\": \"magnet:?dn=x\"}"),
        400,
        "bad_request",
        "magnet",
    );
    check(
        json_post("/api/v1/torrents", "{\"torrent\": \"%%%\"}"),
        400,
        "bad_request",
        "base64",
    );
    check(
        json_post("/api/v1/torrents", "{\"torrent\": \"aGVsbG8=\"}"),
        400,
        "bad_request",
        "not a valid torrent",
    );
    check(
        request(
            a,
            "POST",
            "/api/v1/torrents",
            &[("Content-Type", "text/plain")],
            b"{}",
        ),
        415,
        "unsupported_media_type",
        "application/json",
    );
    check(
        request(
            a,
            "PATCH",
            "/api/v1/session",
            &[("Content-Type", "application/json")],
            b"{\"download\": -5}",
        ),
        422,
        "invalid_body",
        "download",
    );
    // Unknown torrents and endpoints.
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    check(
        request(a, "GET", &format!("/api/v1/torrents/{unknown}"), &[], b""),
        404,
        "unknown_torrent",
        unknown,
    );
    check(
        request(a, "POST", "/api/v1/torrents/77/pause", &[], b""),
        404,
        "unknown_torrent",
        "77",
    );
    check(
        request(
            a,
            "DELETE",
            &format!("/api/v1/torrents/{unknown}"),
            &[],
            b"",
        ),
        404,
        "unknown_torrent",
        unknown,
    );
    check(
        request(a, "GET", "/api/v1/nothing", &[], b""),
        404,
        "no_such_endpoint",
        "openapi",
    );
    check(
        request(a, "PUT", "/api/v1/torrents", &[], b""),
        405,
        "method_not_allowed",
        "method",
    );
    // A torrent in the list: bad file index, bad delete flag.
    let r = json_post(
        "/api/v1/torrents",
        &json!({"magnet": format!("magnet:?xt=urn:btih:{unknown}&dn=m"), "paused": true})
            .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    check(
        request(
            a,
            "DELETE",
            &format!("/api/v1/torrents/{unknown}?delete_data=maybe"),
            &[],
            b"",
        ),
        400,
        "bad_request",
        "delete_data",
    );
    check(
        request(
            a,
            "GET",
            &format!("/api/v1/torrents/{unknown}/files"),
            &[],
            b"",
        ),
        409,
        "conflict",
        "metadata",
    );
    // Adding by URL: the node fetches an http:// .torrent (here from
    // Python's http.server); a missing one is a clear error.
    let (_, web_torrent) = payload(tmp.path(), "web", 100_000, &["--v1"]);
    let web_port = free_port();
    let mut server = std::process::Command::new(PYTHON);
    server
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &web_port.to_string(),
            "--directory",
        ])
        .arg(tmp.path());
    let _server = Spawned::start(server, "http-server", tmp.path());
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err() {
        assert!(std::time::Instant::now() < end, "http.server did not start");
        std::thread::park_timeout(Duration::from_millis(100));
    }
    let url = format!(
        "http://127.0.0.1:{web_port}/{}",
        web_torrent.file_name().unwrap().to_str().unwrap()
    );
    let r = json_post(
        "/api/v1/torrents",
        &json!({"url": url, "paused": true}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["name"], "web");
    let r = json_post(
        "/api/v1/torrents",
        &json!({"url": format!("http://127.0.0.1:{web_port}/missing.torrent")}).to_string(),
    );
    check(r, 400, "bad_request", "HTTP 404");
    check(
        json_post(
            "/api/v1/torrents",
            "{\"url\": \"https://example.invalid/x.torrent\"}",
        ),
        400,
        "bad_request",
        "https",
    );
    let r = request(a, "DELETE", &format!("/api/v1/torrents/{}", "2"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    // This node runs without the ledger.
    check(
        request(a, "GET", "/api/v1/ledger/status", &[], b""),
        503,
        "ledger_not_enabled",
        "ledger not enabled",
    );
    check(
        request(a, "GET", "/api/v1/reputation/abc", &[], b""),
        503,
        "ledger_not_enabled",
        "ledger",
    );

    // Token: a request naming a non-local host (DNS rebinding, or a
    // client elsewhere) needs it; a wrong one is refused; the right one
    // passes.
    let evil = [("Host", "node.example:9091")];
    check(
        request(a, "GET", "/api/v1/torrents", &evil, b""),
        401,
        "token_required",
        "api-token",
    );
    let r = request(a, "GET", "/api/v1/torrents", &evil, b"");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"btl\""));
    check(
        request(
            a,
            "GET",
            "/api/v1/torrents",
            &[
                ("Host", "node.example"),
                ("Authorization", "Bearer nottherighttoken"),
            ],
            b"",
        ),
        401,
        "bad_token",
        "wrong",
    );
    let bearer = format!("Bearer {}", node.token());
    let r = request(
        a,
        "GET",
        "/api/v1/torrents",
        &[("Host", "node.example"), ("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Cross-site browser requests are refused, same-origin ones pass.
    let origin_host = a.to_string();
    check(
        request(
            a,
            "POST",
            &format!("/api/v1/torrents/{unknown}/resume"),
            &[
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
            ],
            b"",
        ),
        403,
        "cross_site_request",
        "cross-site",
    );
    check(
        request(
            a,
            "DELETE",
            &format!("/api/v1/torrents/{unknown}"),
            &[("Origin", "http://evil.example")],
            b"",
        ),
        403,
        "cross_site_request",
        "evil.example",
    );
    let same = format!("http://{origin_host}");
    let r = request(
        a,
        "POST",
        &format!("/api/v1/torrents/{unknown}/resume"),
        &[("Origin", &same), ("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Transmission RPC: the session-id dance.
    let r = request(
        a,
        "POST",
        "/transmission/rpc",
        &[],
        b"{\"method\":\"session-get\"}",
    );
    assert_eq!(r.status, 409);
    let sid = r.header("x-transmission-session-id").unwrap().to_string();
    let r = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        b"{\"method\":\"session-get\",\"tag\":7}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], "success");
    assert_eq!(r.json()["tag"], 7);
    assert_eq!(r.json()["arguments"]["rpc-version"], 16);
    let r = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        b"{not json",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        b"{\"method\":\"torrent-fly\"}",
    );
    assert!(
        r.json()["result"]
            .as_str()
            .unwrap()
            .contains("not recognized"),
        "{}",
        r.text()
    );
    // The OpenAPI description and the metrics are served.
    let spec = node.get("/api/v1/openapi.json");
    assert_eq!(spec["openapi"], "3.1.0");
    let m = request(a, "GET", "/metrics", &[], b"");
    assert_eq!(m.status, 200);
    assert!(
        m.text().contains("btl_torrents{state=\"paused\"} 0"),
        "{}",
        m.text()
    );
    assert!(
        m.text().contains("btl_http_requests_total{class=\"4xx\"}"),
        "{}",
        m.text()
    );
    let r = request(
        a,
        "POST",
        &format!("/api/v1/torrents/{unknown}/pause"),
        &[],
        b"",
    );
    assert_eq!(r.json()["state"], "paused", "{}", r.text());
    node.stop();

    // --require-token: even loopback clients need it (and the token stays
    // the one made on the first start).
    let node = NodeProc::start(
        tmp.path(),
        &tmp.path().join("node"),
        "btl-up-2",
        &["--require-token"],
    );
    check(
        request(node.api, "GET", "/api/v1/torrents", &[], b""),
        401,
        "token_required",
        "token",
    );
    let bearer = format!("Bearer {}", node.token());
    let r = request(
        node.api,
        "GET",
        "/api/v1/torrents",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json().as_array().unwrap().len(),
        1,
        "the paused magnet is still there"
    );
    // transmission-remote with --auth: the token as the password.
    let out = node.remote(&["--auth", &format!("btl:{}", node.token()), "-l"]);
    assert!(out.contains(" m"), "{out}");
    // The web UI page itself needs no token (it asks for one).
    let r = request(node.api, "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    node.stop();
}

/// `kill -9` of `btl up` in the middle of two downloads (one from a
/// .torrent, one from a magnet), then a restart: both resume (keeping what
/// was verified) and complete, byte for byte.
#[test]
fn node_resumes_every_torrent_after_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_a, torrent_a) = payload(tmp.path(), "alpha", 8 << 20, &[]);
    let (seed_b, torrent_b) = payload(tmp.path(), "beta", 4 << 20, &["--v1"]);
    // Slow seeders so that the kill lands mid-download.
    let slow = [("LT_UPLOAD_LIMIT", (1u64 << 20).to_string())];
    let (lt_a, port_a) = start_lt_seed(tmp.path(), &torrent_a, &seed_a, &slow);
    let (lt_b, port_b) = start_lt_seed(tmp.path(), &torrent_b, &seed_b, &slow);
    let data = tmp.path().join("node");
    let node = NodeProc::start(tmp.path(), &data, "btl-up-1", &[]);
    let a = add_torrent_file(&node, &torrent_a, &[format!("127.0.0.1:{port_a}")]);
    let a_id = a["id"].as_str().unwrap().to_string();
    let info = run_json(btl().arg("info").arg(&torrent_b).arg("--json"));
    let magnet = format!(
        "{}&x.pe=127.0.0.1:{port_b}",
        info["magnet"].as_str().unwrap()
    );
    let r = post_json(node.api, "/api/v1/torrents", &json!({"magnet": magnet}));
    assert_eq!(r.status, 201, "{}", r.text());
    let b_id = r.json()["id"].as_str().unwrap().to_string();
    let partway = |t: &Value| {
        let p = t["progress"].as_f64().unwrap();
        p > 0.15 && p < 0.9
    };
    node.wait_torrent(&a_id, "some progress", DEADLINE, partway);
    node.wait_torrent(&b_id, "some progress", DEADLINE, partway);
    node.kill9();

    // The seeders speed up; a restart resumes both.
    drop(lt_a);
    drop(lt_b);
    let (_lt_a, port_a) = start_lt_seed(tmp.path(), &torrent_a, &seed_a, &[]);
    let (_lt_b, port_b) = start_lt_seed(tmp.path(), &torrent_b, &seed_b, &[]);
    let node = NodeProc::start(tmp.path(), &data, "btl-up-2", &[]);
    let list = node.get("/api/v1/torrents");
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "both torrents are back: {list}"
    );
    // New seeder ports: tell the node (the old ones are gone).
    for (id, port) in [(&a_id, port_a), (&b_id, port_b)] {
        let t = node.wait_torrent(id, "resumed from its journal", DEADLINE, |t| {
            t["state"] == "downloading" || t["state"] == "seeding"
        });
        assert!(
            t["progress"].as_f64().unwrap() > 0.1,
            "verified pieces were kept across the crash: {t}"
        );
        let r = post_json(
            node.api,
            "/api/v1/torrents",
            &json!({"magnet": t["magnet"], "peers": [format!("127.0.0.1:{port}")]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    node.wait_torrent(&a_id, "completion", DEADLINE, seeding);
    node.wait_torrent(&b_id, "completion", DEADLINE, seeding);
    assert_same_tree(&seed_a.join("alpha"), &data.join("downloads/alpha"));
    assert_same_tree(&seed_b.join("beta"), &data.join("downloads/beta"));
    node.stop();
}

/// The web UI in headless Chromium: load the page, add a magnet, watch it
/// progress to done, see the provenance badge, open the files tab and the
/// ledger explorer (blocks of the embedded ledger); screenshots are kept under
/// target/tmp/ as test artefacts.
#[test]
fn node_web_ui_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = payload(tmp.path(), "movie", 8 << 20, &[]);
    // A slow seeder, so that the page shows the download in progress.
    let slow = [("LT_UPLOAD_LIMIT", (2u64 << 20).to_string())];
    let (_lt, port) = start_lt_seed(tmp.path(), &torrent, &seed_dir, &slow);
    let data = tmp.path().join("node");
    let node = NodeProc::start(tmp.path(), &data, "btl-up", &[]);
    let browser = common::webdriver::Browser::start(tmp.path());
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-ui");

    browser.goto(&format!("http://{}/", node.api));
    let ui = Duration::from_secs(30);
    browser.wait_for(
        "the empty list",
        ui,
        "const e = document.getElementById('empty'); return e && !e.hidden && document.getElementById('session-stats').textContent.includes('0 torrents');",
    );

    let info = run_json(btl().arg("info").arg(&torrent).arg("--json"));
    let magnet = format!("{}&x.pe=127.0.0.1:{port}", info["magnet"].as_str().unwrap());
    browser.type_into("#add-magnet", &magnet);
    browser.click("#add-button");
    browser.wait_for(
        "the add confirmation",
        ui,
        "return document.getElementById('add-status').textContent.startsWith('Added: movie');",
    );
    let row = "document.querySelector('#torrents tbody tr[data-id]')";
    let badge = browser.wait_for(
        "a row with its provenance badge",
        ui,
        &format!("const r = {row}; const b = r && r.querySelector('.badge[data-provenance]'); return b && b.dataset.provenance;"),
    );
    assert!(
        badge == "unknown" || badge == "unregistered",
        "the badge slot shows the provenance status: {badge}"
    );

    // Watch the progress bar: it moves through intermediate values to 100%.
    let progress_js = format!(
        "const r = {row}; const p = r && r.querySelector('.progress'); return p ? [Number(p.dataset.progress), r.dataset.state] : null;"
    );
    let mut seen = Vec::new();
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let v = browser.eval(&progress_js);
        if let Some(p) = v[0].as_f64() {
            if seen.last() != Some(&p) {
                seen.push(p);
            }
            if p > 0.2 && p < 0.8 && !artefacts.join("progress.png").exists() {
                browser.screenshot(&artefacts.join("progress.png"));
            }
            if p == 1.0 && v[1] == "seeding" {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < end,
            "no completion in the UI; seen {seen:?}"
        );
        std::thread::park_timeout(Duration::from_millis(150));
    }
    assert!(
        seen.iter().any(|&p| p > 0.0 && p < 1.0),
        "the page showed the download in progress: {seen:?}"
    );
    // The embedded ledger does not know this torrent: the badge warns.
    let warned = browser.wait_for(
        "the unregistered badge",
        ui,
        &format!("const r = {row}; const b = r && r.querySelector('.badge[data-provenance=unregistered]'); return b && b.textContent;"),
    );
    assert!(
        warned.as_str().unwrap().contains("unregistered"),
        "{warned}"
    );
    browser.screenshot(&artefacts.join("done.png"));
    assert_same_tree(&seed_dir, &data.join("downloads"));

    // The creator publishes it on the node's own ledger: a new key, funded
    // by the node's validator, signs and registers it. The node finds the
    // manifest in the registry and the badge turns to verified.
    let ledger = node.listening["ledger"].as_str().unwrap().to_string();
    let keys = tmp.path().join("keys");
    let cli = || {
        let mut c = btl();
        c.env("BTL_KEYS_DIR", &keys)
            .env("BTL_LEDGER", &ledger)
            .env_remove("BTL_PASSPHRASE")
            .stdin(std::process::Stdio::null());
        c
    };
    run_ok(cli().args(["key", "new", "creator", "--unencrypted"]));
    let funded = run_json(
        cli()
            .args([
                "ledger", "fund", "creator", "--amount", "500", "--json", "--dir",
            ])
            .arg(data.join("ledger")),
    );
    assert_eq!(funded["balance"], 500, "{funded}");
    let published = run_json(cli().arg("publish").arg(&torrent).args([
        "--key",
        "creator",
        "--license",
        "CC-BY-4.0",
        "--json",
    ]));
    let verified = browser.wait_for(
        "the verified badge",
        ui,
        &format!("const r = {row}; const b = r && r.querySelector('.badge[data-provenance=verified]'); return b && [b.textContent, b.title];"),
    );
    assert!(
        verified.to_string().contains("CC-BY-4.0"),
        "the badge names the license: {verified} (published: {published})"
    );
    browser.screenshot(&artefacts.join("verified.png"));

    // The files tab of the torrent.
    browser.click("#torrents tbody tr[data-id] td.name");
    browser.wait_for(
        "the files tab",
        ui,
        "const t = document.querySelector('#details-body table'); return t && t.textContent.includes('big.bin') && t.textContent.includes('100.0%');",
    );
    browser.screenshot(&artefacts.join("files.png"));

    // The ledger explorer shows the embedded ledger's blocks and its one
    // validator.
    browser.click("nav a[data-page=ledger]");
    let rows = browser.wait_for(
        "the explorer's blocks",
        ui,
        "const s = document.querySelector('#ledger-body .ledger-status'); const r = document.querySelectorAll('#ledger-blocks tbody tr'); return s && r.length > 0 && s.textContent.includes('btl-local') ? r.length : null;",
    );
    assert!(rows.as_u64().unwrap() >= 1, "{rows}");
    browser.screenshot(&artefacts.join("ledger.png"));
    browser.click("nav a[data-page=reputation]");
    browser.type_into("#rep-id", "btl1example");
    browser.click("#rep-form button");
    browser.wait_for(
        "a neutral reputation",
        ui,
        "const b = document.getElementById('rep-body'); return !document.getElementById('page-reputation').hidden && b.textContent.includes('neutral');",
    );
    drop(browser);
    node.stop();
}

/// The embedded ledger of `btl up`: a fresh data directory gets its own
/// one-validator chain whose real blocks the explorer API lists; SIGTERM
/// stops it and a restart resumes at its height; so does `kill -9`.
#[test]
fn node_embedded_ledger_survives_restart_and_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let started = std::time::Instant::now();
    let node = NodeProc::start(tmp.path(), &data, "btl-up-ledger-1", &[]);
    eprintln!(
        "btl up with a fresh ledger listened after {:?}",
        started.elapsed()
    );
    assert_eq!(
        node.listening["ledger_embedded"], true,
        "{}",
        node.listening
    );
    let ledger_url = node.listening["ledger"].as_str().unwrap().to_string();
    assert!(data.join("ledger/genesis.json").exists());
    let genesis = std::fs::read(data.join("ledger/genesis.json")).unwrap();

    let status = wait_height(&node, 5);
    assert_eq!(status["chain_id"], "btl-local");
    assert_eq!(status["embedded"], true);
    assert_eq!(status["url"], ledger_url.as_str());

    // Real blocks, newest first, each with its hash and signer.
    let blocks = node.get("/api/v1/ledger/blocks?limit=3");
    let list = blocks["blocks"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{blocks}");
    let heights: Vec<u64> = list.iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert!(heights.windows(2).all(|w| w[0] == w[1] + 1), "{heights:?}");
    for b in list {
        assert_eq!(b["hash"].as_str().unwrap().len(), 64, "{b}");
        assert_eq!(b["signers"], 1, "one validator signed: {b}");
    }
    let older = node.get(&format!(
        "/api/v1/ledger/blocks?before={}&limit=1",
        heights[2]
    ));
    assert_eq!(older["blocks"][0]["height"], heights[2] - 1, "{older}");
    let one = node.get("/api/v1/ledger/blocks/1");
    assert_eq!(one["height"], 1);
    assert_eq!(one["header"]["height"], 1, "{one}");
    let r = request(node.api, "GET", "/api/v1/ledger/blocks/99999999", &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "not_found", "{}", r.text());

    // The one validator, and its funded account.
    let vals = node.get("/api/v1/ledger/validators");
    let vs = vals["validators"].as_array().unwrap();
    assert_eq!(vs.len(), 1, "{vals}");
    assert_eq!(vs[0]["power"], 100);
    let addr = status["address"].as_str().unwrap();
    let acct = node.get(&format!("/api/v1/ledger/accounts/{addr}"));
    assert!(acct["account"].is_object(), "{acct}");
    let r = request(
        node.api,
        "GET",
        "/api/v1/ledger/accounts/not%20an%20id",
        &[],
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = request(
        node.api,
        "GET",
        &format!("/api/v1/ledger/torrents/{}", "ab".repeat(32)),
        &[],
        b"",
    );
    assert_eq!(r.status, 404, "an unregistered torrent: {}", r.text());
    let rep = node.get(&format!("/api/v1/reputation/{addr}"));
    assert_eq!(rep["level"], "neutral", "{rep}");

    // SIGTERM: the ledger stops with the node; a restart resumes it.
    let h1 = status["height"].as_u64().unwrap();
    node.stop();
    let node = NodeProc::start(tmp.path(), &data, "btl-up-ledger-2", &[]);
    let s2 = node.get("/api/v1/ledger/status");
    assert!(
        s2["height"].as_u64().unwrap() >= h1,
        "the chain resumed at its height ({h1}): {s2}"
    );
    assert_eq!(s2["address"], status["address"], "the same validator key");
    let s2 = wait_height(&node, s2["height"].as_u64().unwrap() + 2);

    // kill -9: the same.
    let h2 = s2["height"].as_u64().unwrap();
    let hash2 = node.get(&format!("/api/v1/ledger/blocks/{h2}"))["hash"].clone();
    node.kill9();
    let node = NodeProc::start(tmp.path(), &data, "btl-up-ledger-3", &[]);
    let s3 = wait_height(&node, h2 + 2);
    assert_eq!(s3["chain_id"], "btl-local");
    assert_eq!(
        node.get(&format!("/api/v1/ledger/blocks/{h2}"))["hash"],
        hash2,
        "block {h2} is the same block after the crash"
    );
    assert_eq!(
        std::fs::read(data.join("ledger/genesis.json")).unwrap(),
        genesis,
        "the genesis is kept"
    );
    node.stop();
}

/// Polls the explorer until the ledger reaches `height`.
fn wait_height(node: &NodeProc, height: u64) -> Value {
    let end = std::time::Instant::now() + Duration::from_secs(90);
    let mut last = Value::Null;
    while std::time::Instant::now() < end {
        let r = request(node.api, "GET", "/api/v1/ledger/status", &[], b"");
        if r.status == 200 {
            last = r.json();
            if last["height"].as_u64().unwrap_or(0) >= height {
                return last;
            }
        }
        std::thread::park_timeout(Duration::from_millis(200));
    }
    panic!("the ledger did not reach height {height}; last status: {last}");
}

/// `btl remote` drives a node through the same API as the web UI: add a
/// .torrent paused and a magnet, list, pause, resume, info, remove, with
/// the token the node requires; clear errors for a missing token, an
/// unknown torrent and a node that is not running.
#[test]
fn remote_cli_drives_a_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (_seed_dir, torrent) = payload(tmp.path(), "remote", 1 << 20, &[]);
    let data = tmp.path().join("node");
    let node = NodeProc::start(
        tmp.path(),
        &data,
        "btl-up-remote",
        &["--no-ledger", "--require-token"],
    );
    let url = format!("http://{}", node.api);
    let token_file = data.join("api-token");
    let remote = |args: &[&str]| {
        let mut c = btl();
        c.args(["remote", "--url", &url, "--token-file"])
            .arg(&token_file)
            .args(args);
        c
    };

    // No token: refused, and the message says what to do.
    let e = run_err(btl().args(["remote", "--url", &url, "list"]));
    assert!(e.contains("token"), "{e}");

    let added = run_json(remote(&["add", "--paused", "--json"]).arg(&torrent));
    assert_eq!(added["name"], "remote", "{added}");
    let id = added["id"].as_str().unwrap().to_string();
    let info = run_json(btl().arg("info").arg(&torrent).arg("--json"));
    let magnet = info["magnet"].as_str().unwrap();
    let again = run_json(&mut remote(&["add", magnet, "--json"]));
    assert_eq!(again["duplicate"], true, "the same torrent: {again}");

    let list = run_json(&mut remote(&["list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["state"], "paused", "{list}");
    let text = run_ok(&mut remote(&["list"]));
    assert!(text.contains("remote") && text.contains("paused"), "{text}");

    // The node requires the token: poll its state through `btl remote`.
    let wait_state = |what: &str, cond: &dyn Fn(&Value) -> bool| {
        let end = std::time::Instant::now() + DEADLINE;
        loop {
            let t = run_json(&mut remote(&["info", &id, "--json"]));
            if cond(&t) {
                return t;
            }
            assert!(std::time::Instant::now() < end, "{what}: last {t}");
            std::thread::park_timeout(Duration::from_millis(200));
        }
    };
    run_ok(&mut remote(&["resume", "1"]));
    wait_state("resumed", &|t| t["state"] != "paused");
    run_ok(&mut remote(&["pause", &id]));
    wait_state("paused", &|t| t["state"] == "paused");
    let details = run_ok(&mut remote(&["info", "1"]));
    assert!(details.contains("save_dir"), "{details}");

    let e = run_err(&mut remote(&["pause", "99"]));
    assert!(e.contains("404") && e.contains("no torrent 99"), "{e}");
    let e = run_err(&mut remote(&["info", "../x"]));
    assert!(e.contains("not a torrent number"), "{e}");

    let out = run_ok(&mut remote(&["remove", "1"]));
    assert!(out.contains("removed"), "{out}");
    let list = run_json(&mut remote(&["list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    node.stop();

    // The node is gone.
    let e = run_err(btl().args(["remote", "--url", &url, "list"]));
    assert!(
        e.contains("no btl node answers") && e.contains("btl up"),
        "{e}"
    );
}
