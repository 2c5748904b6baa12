//! `btl tracker`: interop (libtorrent and Transmission find each other only
//! through our tracker, over HTTP and UDP, and transfer), bad input,
//! spoofed UDP connection ids, rate limits, reply sizes, the
//! never-return-self rule, whitelist and persistence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use btl_tracker_proto::http::{AnnounceRequest, AnnounceResponse, ScrapeResponse};
use btl_tracker_proto::udp::{self, Request, Response};
use btl_tracker_proto::{Event, Limits};
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(120);

/// A running `btl tracker` on loopback, any free ports.
struct TrackerProc {
    proc: Spawned,
    http: SocketAddr,
    udp: SocketAddr,
}

fn tracker(dir: &Path, extra: &[&str]) -> TrackerProc {
    let (proc, ev) = common::start_btl_tracker(dir, extra);
    TrackerProc {
        http: ev["http"].as_str().unwrap().parse().unwrap(),
        udp: ev["udp"].as_str().unwrap().parse().unwrap(),
        proc,
    }
}

/// One HTTP/1.1 request on a fresh connection; returns (status line, body).
fn http_get(addr: SocketAddr, target: &str) -> (String, Vec<u8>) {
    http_raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn http_raw(addr: SocketAddr, req: &[u8]) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP reply: {:?}", String::from_utf8_lossy(&resp)));
    let status = String::from_utf8_lossy(&resp[..end])
        .lines()
        .next()
        .unwrap()
        .to_string();
    (status, resp[end + 4..].to_vec())
}

fn announce(addr: SocketAddr, a: &AnnounceRequest) -> Result<AnnounceResponse, String> {
    let (status, body) = http_get(addr, &a.url("/announce"));
    assert!(status.contains("200"), "{status}");
    AnnounceResponse::decode(&body, &Limits::default()).map_err(|e| e.to_string())
}

fn ann(ih: u8, id: u8, port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [ih; 20],
        peer_id: [id; 20],
        port,
        left: Some(left),
        compact: true,
        event: Event::Started,
        ..AnnounceRequest::default()
    }
}

/// A UDP tracker client socket on 127.0.0.1.
fn udp_client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn udp_exchange(s: &UdpSocket, to: SocketAddr, pkt: &[u8]) -> Option<Vec<u8>> {
    s.send_to(pkt, to).unwrap();
    let mut buf = [0u8; 4096];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn udp_request(s: &UdpSocket, to: SocketAddr, r: &Request) -> Option<Response> {
    let mut pkt = Vec::new();
    r.encode(&mut pkt);
    let reply = udp_exchange(s, to, &pkt)?;
    Some(Response::decode(&reply, false, &Limits::default()).unwrap())
}

fn udp_connect(s: &UdpSocket, to: SocketAddr) -> u64 {
    match udp_request(s, to, &Request::Connect { transaction_id: 42 }) {
        Some(Response::Connect {
            transaction_id: 42,
            connection_id,
        }) => connection_id,
        other => panic!("connect: {other:?}"),
    }
}

fn udp_ann(connection_id: u64, ih: u8, id: u8, port: u16) -> Request {
    Request::Announce(udp::AnnounceRequest {
        connection_id,
        transaction_id: 7,
        info_hash: [ih; 20],
        peer_id: [id; 20],
        left: 1,
        event: Event::Started,
        num_want: -1,
        port,
        ..udp::AnnounceRequest::default()
    })
}

fn stats(t: &TrackerProc) -> serde_json::Value {
    let (_, body) = http_get(t.http, "/stats");
    serde_json::from_slice(&body).unwrap()
}

// ---------------------------------------------------------------- interop

/// The standard payload and a v1 torrent whose only tracker is `url`.
fn setup(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    make_payload(&seed_dir, "album", 3 << 20);
    let torrent = dir.join("album.torrent");
    run_ok(
        btl()
            .args(["create", "--v1", "-t", url, "-o"])
            .arg(&torrent)
            .arg(seed_dir.join("album")),
    );
    (seed_dir, torrent)
}

fn lt_peer(dir: &Path, mode: &str, torrent: &Path, save: &Path, ip: &str, name: &str) -> Spawned {
    require_libtorrent();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(repo().join("scripts/interop/lt_tracker_peer.py"))
        .arg(mode)
        .arg(torrent)
        .arg(save)
        .arg(ip);
    Spawned::start(cmd, name, dir)
}

fn lt_to_lt(udp: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    let url = if udp {
        format!("udp://{}/announce", t.udp)
    } else {
        format!("http://{}/announce", t.http)
    };
    let (seed_dir, torrent) = setup(tmp.path(), &url);
    let mut seed = lt_peer(
        tmp.path(),
        "seed",
        &torrent,
        &seed_dir,
        "127.0.0.2",
        "lt-seed",
    );
    seed.wait_event("seeding", DEADLINE);
    let down = tmp.path().join("down");
    let mut leech = lt_peer(
        tmp.path(),
        "leech",
        &torrent,
        &down,
        "127.0.0.3",
        "lt-leech",
    );
    leech.wait_event("done", DEADLINE);
    // libtorrent flushes its files as it exits.
    assert!(leech.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &down);
    let s = stats(&t);
    let key = if udp {
        "udp_announces"
    } else {
        "http_announces"
    };
    assert!(s[key].as_u64().unwrap() >= 2, "{s}");
}

#[test]
fn libtorrent_to_libtorrent_through_http_tracker() {
    lt_to_lt(false);
}

#[test]
fn libtorrent_to_libtorrent_through_udp_tracker() {
    lt_to_lt(true);
}

/// Transmission 3.00 never dials loopback peers, so here the libtorrent
/// seed learns of the Transmission leecher from the tracker (seeds are
/// sent leechers) and dials it.
#[test]
fn libtorrent_seeds_transmission_through_udp_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    let (seed_dir, torrent) = setup(tmp.path(), &format!("udp://{}/announce", t.udp));
    let mut seed = lt_peer(
        tmp.path(),
        "seed",
        &torrent,
        &seed_dir,
        "127.0.0.2",
        "lt-seed",
    );
    seed.wait_event("seeding", DEADLINE);
    let down = tmp.path().join("down");
    std::fs::create_dir_all(&down).unwrap();
    let tr = Transmission::start(tmp.path(), &down);
    tr.remote(&["-a", torrent.to_str().unwrap()])
        .expect("transmission-remote -a");
    tr.wait_for("the download to finish", |t| {
        t.percent_done().as_deref() == Some("100%")
    });
    assert_same_tree_but_empty_files(&seed_dir, &down);
}

#[test]
fn transmission_seeds_libtorrent_through_http_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    let (seed_dir, torrent) = setup(tmp.path(), &format!("http://{}/announce", t.http));
    let tr = Transmission::start(tmp.path(), &seed_dir);
    tr.remote(&["-a", torrent.to_str().unwrap()])
        .expect("transmission-remote -a");
    tr.wait_for("the data check to finish", |t| {
        t.percent_done().as_deref() == Some("100%")
    });
    // Transmission announces as a seeder once its check is done.
    let ih = info_hash(&torrent);
    tr.wait_for("transmission to announce as a seeder", |_| {
        let (_, body) = http_get(t.http, &format!("/scrape?info_hash={}", pct(&ih)));
        let s = ScrapeResponse::decode(&body, &Limits::default()).unwrap();
        s.files.first().is_some_and(|f| f.1.complete >= 1)
    });
    let down = tmp.path().join("down");
    let mut leech = lt_peer(
        tmp.path(),
        "leech",
        &torrent,
        &down,
        "127.0.0.3",
        "lt-leech",
    );
    leech.wait_event("done", DEADLINE);
    assert!(leech.wait_exit(DEADLINE).success());
    assert_same_tree_but_empty_files(&seed_dir, &down);
}

fn info_hash(torrent: &Path) -> [u8; 20] {
    let v = run_json(btl().args(["info", "--json"]).arg(torrent));
    let hex = v["info_hash_v1"]
        .as_str()
        .or_else(|| v["infohash_v1"].as_str())
        .unwrap_or_else(|| panic!("no v1 infohash in {v}"));
    let b: Vec<u8> = (0..40)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    b.try_into().unwrap()
}

fn pct(b: &[u8]) -> String {
    b.iter().map(|x| format!("%{x:02X}")).collect()
}

// ------------------------------------------------------------- behaviour

#[test]
fn never_returns_a_peer_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    // Alone in the swarm: an empty list, not itself (twice, and as a
    // leecher).
    for _ in 0..2 {
        let r = announce(t.http, &ann(1, 1, 1001, 5)).unwrap();
        assert!(r.peers.is_empty(), "{r:?}");
    }
    // Same peer id on another port: still itself.
    let r = announce(t.http, &ann(1, 1, 1002, 5)).unwrap();
    assert!(r.peers.is_empty(), "{r:?}");
    // A second peer gets the first (both of its entries), and the first
    // gets only the second.
    let r = announce(t.http, &ann(1, 2, 2000, 0)).unwrap();
    assert_eq!(r.peers.len(), 2, "{r:?}");
    assert!(r.peers.iter().all(|p| p.addr.port() != 2000));
    let r = announce(t.http, &ann(1, 1, 1001, 5)).unwrap();
    assert_eq!(
        r.peers.iter().map(|p| p.addr.port()).collect::<Vec<_>>(),
        vec![2000]
    );
    assert_eq!((r.complete, r.incomplete), (1, 2));
    // The same over UDP.
    let s = udp_client();
    let cid = udp_connect(&s, t.udp);
    match udp_request(&s, t.udp, &udp_ann(cid, 1, 2, 2000)) {
        Some(Response::Announce {
            peers: udp::Peers::V4(p),
            ..
        }) => {
            assert_eq!(p.len(), 2);
            assert!(p.iter().all(|a| a.port() != 2000));
        }
        other => panic!("{other:?}"),
    }
    // Dictionary replies carry peer ids, never ours.
    let mut a = ann(1, 3, 3000, 5);
    a.compact = false;
    let r = announce(t.http, &a).unwrap();
    assert!(r
        .peers
        .iter()
        .all(|p| p.id.is_some() && p.id != Some([3; 20])));
    // `stopped` removes a peer.
    let mut a = ann(1, 2, 2000, 0);
    a.event = Event::Stopped;
    announce(t.http, &a).unwrap();
    let r = announce(t.http, &ann(1, 1, 1001, 5)).unwrap();
    assert_eq!(r.complete, 0);
}

#[test]
fn malformed_http_requests_get_a_reason_and_the_tracker_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    let cases: &[(&str, &str)] = &[
        ("/announce", "missing parameter info_hash"),
        ("/announce?info_hash=%zz", "invalid parameter info_hash"),
        (
            "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb",
            "missing parameter port",
        ),
        (
            "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=99999",
            "invalid parameter port",
        ),
        (
            "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&event=x",
            "invalid parameter event",
        ),
        ("/scrape", "full scrape is disabled"),
        ("/scrape?info_hash=short", "invalid parameter info_hash"),
        ("/nothing", "unknown path"),
    ];
    for (target, why) in cases {
        let (status, body) = http_get(t.http, target);
        let err = AnnounceResponse::decode(&body, &Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains(why),
            "{target}: {status} {err} (want {why})"
        );
    }
    // Not HTTP at all, oversized heads, bodies, other methods.
    let (status, _) = http_raw(t.http, b"\x16\x03\x01\x02\x00garbage\r\n\r\n");
    assert!(status.contains("400"), "{status}");
    let mut big = b"GET /announce?".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    big.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    let (status, _) = http_raw(t.http, &big);
    assert!(status.contains("431"), "{status}");
    let (status, _) = http_raw(
        t.http,
        b"POST /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(status.contains("400"), "{status}");
    let (status, _) = http_raw(
        t.http,
        b"PUT /announce HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("405"), "{status}");
    // Pipelined keep-alive requests are all answered.
    let q = ann(9, 9, 900, 0).url("/announce");
    let req = format!("GET {q} HTTP/1.1\r\n\r\nGET {q} HTTP/1.1\r\nConnection: close\r\n\r\n");
    let mut s = TcpStream::connect(t.http).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&all)
            .matches("HTTP/1.1 200")
            .count(),
        2
    );
    // Still serving.
    assert!(announce(t.http, &ann(1, 1, 1, 0)).is_ok());
    assert!(stats(&t)["http_failures"].as_u64().unwrap() >= 10);
}

#[test]
fn udp_spoofed_ids_bad_and_oversized_packets_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    let s = udp_client();
    // A connection id we did not issue.
    match udp_request(&s, t.udp, &udp_ann(0x1234_5678_9abc_def0, 1, 1, 1)) {
        Some(Response::Error { message, .. }) => assert_eq!(message, b"bad connection id"),
        other => panic!("{other:?}"),
    }
    // An id issued to another address (another socket) is refused too.
    let other = udp_client();
    let theirs = udp_connect(&other, t.udp);
    assert!(matches!(
        udp_request(&s, t.udp, &udp_ann(theirs, 1, 1, 1)),
        Some(Response::Error { .. })
    ));
    let scrape = Request::Scrape {
        connection_id: theirs,
        transaction_id: 1,
        info_hashes: vec![[1; 20]],
    };
    assert!(matches!(
        udp_request(&s, t.udp, &scrape),
        Some(Response::Error { .. })
    ));
    // Ours works.
    let cid = udp_connect(&s, t.udp);
    assert!(matches!(
        udp_request(&s, t.udp, &udp_ann(cid, 1, 1, 1)),
        Some(Response::Announce { .. })
    ));
    // Short, unknown and oversized packets get no reply; errors are never
    // larger than the packet.
    assert_eq!(udp_exchange(&s, t.udp, b"tiny"), None);
    assert_eq!(udp_exchange(&s, t.udp, &[0u8; 15]), None);
    let bad_action = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 5];
    assert_eq!(udp_exchange(&s, t.udp, &bad_action), None);
    let mut huge = Vec::new();
    udp_ann(cid, 1, 1, 1).encode(&mut huge);
    huge.resize(1600, 0);
    assert_eq!(udp_exchange(&s, t.udp, &huge), None);
    for len in [16usize, 50, 97, 98, 200] {
        let mut p = vec![0u8; len];
        p[8..12].copy_from_slice(&1u32.to_be_bytes());
        if let Some(r) = udp_exchange(&s, t.udp, &p) {
            assert!(r.len() <= len, "{len}: reply of {}", r.len());
        }
    }
    let st = stats(&t);
    assert!(st["udp_bad_connection_id"].as_u64().unwrap() >= 3, "{st}");
    assert!(st["udp_dropped"].as_u64().unwrap() >= 3, "{st}");
}

#[test]
fn udp_replies_are_bounded_by_the_request_size() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &["--rate-limit", "0"]);
    // 150 peers in one swarm.
    let s = udp_client();
    let cid = udp_connect(&s, t.udp);
    for i in 0..150u16 {
        let mut r = udp_ann(cid, 5, (i % 250) as u8, 10_000 + i);
        if let Request::Announce(a) = &mut r {
            a.peer_id[..2].copy_from_slice(&i.to_be_bytes());
            a.num_want = 0;
        }
        assert!(udp_request(&s, t.udp, &r).is_some());
    }
    let mut r = udp_ann(cid, 5, 0xee, 9);
    if let Request::Announce(a) = &mut r {
        a.num_want = 1000;
    }
    let mut pkt = Vec::new();
    r.encode(&mut pkt);
    let reply = udp_exchange(&s, t.udp, &pkt).unwrap();
    assert!(
        reply.len() <= 4 * pkt.len(),
        "{} > 4 × {}",
        reply.len(),
        pkt.len()
    );
    assert_eq!(reply.len(), 20 + 6 * 62);
    // A padded request (BEP 41 options) may get more, still bounded.
    pkt.resize(300, 0);
    let reply = udp_exchange(&s, t.udp, &pkt).unwrap();
    assert!(reply.len() <= 4 * pkt.len());
    assert_eq!(reply.len(), 20 + 6 * 150);
}

#[test]
fn floods_from_one_address_are_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &["--rate-limit", "5", "--rate-burst", "10"]);
    // HTTP: after the burst, replies say so (and close the connection).
    let mut limited = 0;
    for i in 0..40u16 {
        if let Err(e) = announce(t.http, &ann(1, 1, 1000 + i, 0)) {
            assert!(e.contains("rate limited"), "{e}");
            limited += 1;
        }
    }
    assert!(limited >= 25, "only {limited} of 40 limited");
    // UDP: replies stop.
    let s = udp_client();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let answered = (0..40)
        .filter(|_| udp_request(&s, t.udp, &Request::Connect { transaction_id: 42 }).is_some())
        .count();
    assert!(answered <= 15, "{answered} of 40 answered");
    // /stats from the same address is limited too, so read the counter
    // after the bucket refills.
    std::thread::sleep(Duration::from_millis(500));
    let st = stats(&t);
    assert!(st["rate_limited"].as_u64().unwrap() >= 50, "{st}");
}

#[test]
fn whitelist_and_state_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("whitelist");
    std::fs::write(&wl, format!("# allowed\n{}\n", "01".repeat(20))).unwrap();
    let state = tmp.path().join("swarms.state");
    let args = [
        "--whitelist",
        wl.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    let mut t = tracker(tmp.path(), &args);
    assert_eq!(
        announce(t.http, &ann(2, 1, 1000, 0)).unwrap_err(),
        "tracker refused: unregistered torrent"
    );
    announce(t.http, &ann(1, 1, 1000, 0)).unwrap();
    announce(t.http, &ann(1, 2, 2000, 7)).unwrap();
    // SIGTERM: the tracker saves and exits cleanly.
    run_ok(Command::new("kill").args(["-TERM", &t.proc.child.id().to_string()]));
    assert!(t.proc.wait_exit(Duration::from_secs(30)).success());
    assert!(state.exists());
    let t = tracker(tmp.path(), &args);
    let r = announce(t.http, &ann(1, 3, 3000, 5)).unwrap();
    assert_eq!((r.complete, r.incomplete), (1, 2), "{r:?}");
    assert_eq!(r.peers.len(), 2);
}

/// The periodic save (`--state-every`) is what survives a crash: after
/// `kill -9`, a restart still knows the swarm saved before it.
#[test]
fn swarms_survive_kill_9_through_the_periodic_save() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("swarms.state");
    let args = ["--state", state.to_str().unwrap(), "--state-every", "1"];
    let mut t = tracker(tmp.path(), &args);
    announce(t.http, &ann(9, 1, 1000, 0)).unwrap();
    announce(t.http, &ann(9, 2, 2000, 5)).unwrap();
    // Wait for a save that holds both peers: magic, one torrent record,
    // two peers.
    let want = 8 + 28 + 2 * 39;
    let end = std::time::Instant::now() + DEADLINE;
    while std::fs::metadata(&state).map_or(0, |m| m.len()) < want {
        assert!(std::time::Instant::now() < end, "no periodic save");
        std::thread::park_timeout(Duration::from_millis(50));
    }
    t.proc.child.kill().unwrap();
    t.proc.child.wait().unwrap();
    let t = tracker(tmp.path(), &args);
    let r = announce(t.http, &ann(9, 3, 3000, 5)).unwrap();
    assert_eq!((r.complete, r.incomplete), (1, 2), "{r:?}");
    assert_eq!(r.peers.len(), 2);
    let st = stats(&t);
    assert_eq!(
        (st["torrents"].as_u64(), st["peers"].as_u64()),
        (Some(1), Some(3)),
        "{st}"
    );
}

/// `/stats` (JSON) and `/metrics` (Prometheus text) count what happened:
/// swarms, HTTP and UDP requests, failures, bad connection ids.
#[test]
fn stats_and_metrics_count_requests_and_swarms() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path(), &[]);
    announce(t.http, &ann(1, 1, 1000, 0)).unwrap();
    announce(t.http, &ann(1, 2, 1001, 10)).unwrap();
    announce(t.http, &ann(2, 3, 1002, 10)).unwrap();
    let (_, body) = http_get(t.http, &format!("/scrape?info_hash={}", pct(&[1; 20])));
    ScrapeResponse::decode(&body, &Limits::default()).unwrap();
    let (status, _) = http_get(t.http, "/announce?info_hash=short");
    assert!(status.contains("200"), "{status}");
    let s = udp_client();
    let cid = udp_connect(&s, t.udp);
    assert!(matches!(
        udp_request(&s, t.udp, &udp_ann(cid, 3, 4, 1003)),
        Some(Response::Announce { .. })
    ));
    let _ = udp_request(&s, t.udp, &udp_ann(cid ^ 1, 3, 4, 1003));
    let st = stats(&t);
    let n = |k: &str| st[k].as_u64().unwrap_or_else(|| panic!("no {k} in {st}"));
    assert_eq!((n("torrents"), n("peers"), n("seeders")), (3, 4, 1), "{st}");
    // The malformed announce is a failure, not an announce.
    assert_eq!((n("http_announces"), n("http_scrapes")), (3, 1), "{st}");
    assert_eq!(n("http_failures"), 1, "{st}");
    assert_eq!((n("udp_connects"), n("udp_announces")), (1, 1), "{st}");
    assert_eq!(
        (n("udp_bad_connection_id"), n("udp_errors")),
        (1, 1),
        "{st}"
    );
    let (status, metrics) = http_get(t.http, "/metrics");
    assert!(status.contains("200"), "{status}");
    let metrics = String::from_utf8(metrics).unwrap();
    for line in [
        "# TYPE btl_tracker_peers gauge",
        "btl_tracker_peers 4",
        "btl_tracker_torrents 3",
        "# TYPE btl_tracker_http_scrapes_total counter",
        "btl_tracker_http_scrapes_total 1",
        "btl_tracker_udp_bad_connection_id_total 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
}
