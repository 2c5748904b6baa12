//! Local service discovery (BEP 14): peers on one machine find each other
//! through multicast on the loopback interface, with no tracker, no
//! `--peer` and no other peer source.
//!
//! Each process listens on its own 127.0.0.x address; LSD then sends and
//! joins the group on that address's interface (`lo`), and multicast loops
//! back to every member on the host. Tests running at the same time see
//! each other's announces, which is harmless: each torrent here is new.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use btl_tracker_proto::lsd::{Announce, GROUP_V4, LSD_PORT};
use common::*;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(150);

/// A payload and a torrent without trackers (`v1`: a v1-only torrent,
/// else a hybrid, whose two ids are both announced).
fn setup(dir: &Path, v1: bool, seed: u64) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = seed_dir.join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    // Random-per-test content: every test's swarm is its own.
    std::fs::write(payload.join("a.bin"), pseudo_random(seed, (1 << 20) + 77)).unwrap();
    std::fs::write(payload.join("b.txt"), format!("lsd test {seed}\n")).unwrap();
    let torrent = dir.join("payload.torrent");
    let mut cmd = btl();
    cmd.arg("create")
        .arg(&payload)
        .args(["--piece-size", "65536"]);
    if v1 {
        cmd.arg("--v1");
    }
    run_ok(cmd.arg("-o").arg(&torrent));
    (seed_dir, torrent)
}

/// `btl seed` with LSD on (as by default), listening on `listen`; waits
/// for its `seeding` event and returns it.
fn btl_seed(
    dir: &Path,
    torrent: &Path,
    data: &Path,
    listen: &str,
    extra: &[&str],
) -> (Spawned, serde_json::Value) {
    let mut cmd = btl_with_lsd();
    cmd.arg("seed")
        .arg(torrent)
        .arg("--data")
        .arg(data)
        .args(["--json", "--port", "0", "--listen", listen, "--state-dir"])
        .arg(dir.join("seed-state"))
        .args(extra);
    let mut s = Spawned::start(cmd, "btl-seed", dir);
    let ready = s.wait_event("seeding", READY_DEADLINE);
    (s, ready)
}

fn unique_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_nanos() as u64 ^ u64::from(std::process::id())
}

fn btl_get(dir: &Path, torrent: &Path, listen: &str) -> Spawned {
    let mut cmd = btl_with_lsd();
    cmd.args(["get", "--allow-unverified"])
        .arg(torrent)
        .args(["--json", "--port", "0", "--listen", listen, "--no-trackers"])
        .arg("-o")
        .arg(dir.join("down"))
        .arg("--state-dir")
        .arg(dir.join("get-state"));
    Spawned::start(cmd, "btl-get", dir)
}

/// A UDP socket on `ip` (port `port`) that sends multicast out of
/// loopback, with SO_REUSEADDR so that it can share port 6771.
fn mc_socket(ip: Ipv4Addr, port: u16) -> UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SocketAddr::from((ip, port)).into()).unwrap();
    s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    s.into()
}

/// A socket that joined the LSD group on loopback, to watch announces.
fn lsd_listener() -> UdpSocket {
    let s = mc_socket(Ipv4Addr::UNSPECIFIED, LSD_PORT);
    s.join_multicast_v4(&GROUP_V4, &Ipv4Addr::LOCALHOST)
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn info_hashes(torrent: &Path) -> Vec<[u8; 20]> {
    let info = run_json(btl().arg("info").arg("--json").arg(torrent));
    let mut out = Vec::new();
    for key in ["info_hash_v1", "info_hash_v2"] {
        if let Some(h) = info[key].as_str() {
            let b = hex::decode(&h[..40]).unwrap();
            out.push(b.try_into().unwrap());
        }
    }
    out
}

/// `btl seed` and `btl get` find each other through LSD only: no tracker,
/// no `--peer`. The seeder first gets a flood of garbage and of oversized
/// datagrams on the group, and must still answer.
#[test]
fn btl_seed_and_btl_get_meet_through_lsd_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), false, unique_seed());
    let (mut seed, _) = btl_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        "127.0.0.2",
        &["--no-trackers"],
    );
    let flood = mc_socket(Ipv4Addr::new(127, 0, 0, 9), 0);
    let group = SocketAddr::from((GROUP_V4, LSD_PORT));
    for i in 0..500u32 {
        let junk = pseudo_random(u64::from(i), (i as usize * 37) % 3000);
        flood.send_to(&junk, group).unwrap();
        flood
            .send_to(
                b"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: zz\r\n\r\n",
                group,
            )
            .unwrap();
    }
    flood.send_to(&vec![b'A'; 9000], group).unwrap();
    let mut get = btl_get(tmp.path(), &torrent, "127.0.0.3");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
    assert!(seed.child.try_wait().unwrap().is_none(), "the seeder died");
}

/// The datagrams are BEP 14's: sent to the group with `Host`, our `Port`,
/// every id of the torrent (a hybrid has two) and a cookie; a seeder run
/// with `--no-lsd` sends none, nor does a seeder of a private torrent.
#[test]
fn announces_follow_bep_14_and_no_lsd_turns_them_off() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = lsd_listener();
    let off_dir = tmp.path().join("off");
    std::fs::create_dir_all(&off_dir).unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), false, unique_seed());
    let (_off, off_ready) = btl_seed(&off_dir, &torrent, &seed_dir, "127.0.0.6", &["--no-lsd"]);
    let off_port = off_ready["port"].as_u64().unwrap() as u16;
    // BEP 27: a private torrent is never announced on the local network.
    let private = tmp.path().join("private.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(seed_dir.join("payload"))
            .args(["--private", "--piece-size", "65536", "-o"])
            .arg(&private),
    );
    let private_dir = tmp.path().join("private");
    std::fs::create_dir_all(&private_dir).unwrap();
    let (_private, private_ready) = btl_seed(&private_dir, &private, &seed_dir, "127.0.0.8", &[]);
    let private_port = private_ready["port"].as_u64().unwrap() as u16;
    let private_ids = info_hashes(&private);
    let (_on, on_ready) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.7", &[]);
    let on_port = on_ready["port"].as_u64().unwrap() as u16;
    let ids = info_hashes(&torrent);
    assert_eq!(ids.len(), 2, "a hybrid torrent has two ids");
    let end = Instant::now() + DEADLINE;
    let (raw, from) = loop {
        assert!(Instant::now() < end, "no LSD announce from the seeder");
        let mut buf = [0u8; 2048];
        let Ok((n, from)) = listener.recv_from(&mut buf) else {
            continue;
        };
        let Ok(a) = Announce::decode(&buf[..n]) else {
            continue;
        };
        assert!(
            a.port != private_port && !private_ids.iter().any(|id| a.info_hashes.contains(id)),
            "a private torrent was announced"
        );
        if !ids.iter().any(|id| a.info_hashes.contains(id)) {
            continue; // another test's swarm
        }
        assert_ne!(a.port, off_port, "a --no-lsd seeder announced");
        if a.port == on_port {
            break (buf[..n].to_vec(), from);
        }
    };
    assert_eq!(
        from.ip().to_string(),
        "127.0.0.7",
        "sent from the listen address"
    );
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(
        text.starts_with("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n\r\n"), "{text:?}");
    let a = Announce::decode(&raw).unwrap();
    let mut got = a.info_hashes.clone();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    let cookie = a.cookie.expect("a cookie");
    assert!(
        cookie.len() == 8 && cookie.bytes().all(|b| b.is_ascii_hexdigit()),
        "{cookie}"
    );
}

/// libtorrent (LSD on, listening on 127.0.0.3) downloads from a `btl`
/// seeder it learnt of through LSD only.
#[test]
fn libtorrent_finds_a_btl_seeder_through_lsd() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), true, unique_seed());
    let (_seed, _) = btl_seed(tmp.path(), &torrent, &seed_dir, "127.0.0.2", &[]);
    let mut lt = Command::new(PYTHON);
    lt.arg(repo().join("scripts/interop/lt_peer.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(tmp.path().join("down"))
        .args(["none", "120"])
        .env("LT_LSD", "1")
        .env("LT_LISTEN_IP", "127.0.0.3");
    let mut lt = Spawned::start(lt, "lt-leech", tmp.path());
    lt.wait_event("done", DEADLINE);
    assert!(lt.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// `btl get` downloads from a libtorrent seeder (LSD on) with no address
/// given: the two meet through LSD.
#[test]
fn btl_finds_a_libtorrent_seeder_through_lsd() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent) = setup(tmp.path(), true, unique_seed());
    let (_lt, _) = start_lt_seed(
        tmp.path(),
        &torrent,
        &seed_dir,
        &[("LT_LSD", "1".into()), ("LT_LISTEN_IP", "127.0.0.4".into())],
    );
    let mut get = btl_get(tmp.path(), &torrent, "127.0.0.5");
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}

/// A network namespace of the test's own (held open by a `sleep` under
/// `unshare -n`) with a veth pair: v0 has fd11::1, v1 has fd11::2.
/// Multicast on IPv6 does not loop back on `lo`, so the IPv6 test runs
/// here, where nothing leaves the namespace.
struct Netns {
    holder: Spawned,
}

impl Netns {
    fn new(dir: &Path) -> Netns {
        require_tool("unshare", "util-linux");
        require_tool("nsenter", "util-linux");
        require_tool("ip", "iproute2");
        let script = "set -e; ip link set lo up; \
            ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up; \
            ip -6 addr add fd11::1/64 dev v0 nodad; ip -6 addr add fd11::2/64 dev v1 nodad; \
            echo '{\"event\":\"ready\"}'; exec sleep 3600";
        let mut cmd = Command::new("unshare");
        cmd.args(["-n", "sh", "-c", script]);
        let mut holder = Spawned::start(cmd, "netns", dir);
        holder.wait_event("ready", Duration::from_secs(30));
        Netns { holder }
    }

    /// `btl` run inside the namespace.
    fn btl(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{}/ns/net", self.holder.child.id()))
            .arg(env!("CARGO_BIN_EXE_btl"));
        cmd
    }
}

/// Over IPv6 ([ff15::efc0:988f]:6771): a seeder on fd11::1 and a leecher on
/// fd11::2, two interfaces of a namespace the test creates, meet through
/// LSD only. Needs root (CI runs as root) for the namespace.
#[test]
fn btl_peers_meet_through_lsd_over_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = Netns::new(tmp.path());
    let (seed_dir, torrent) = setup(tmp.path(), false, unique_seed());
    let mut seed = ns.btl();
    seed.arg("seed")
        .arg(&torrent)
        .arg("--data")
        .arg(&seed_dir)
        .args([
            "--json",
            "--port",
            "0",
            "--listen",
            "fd11::1",
            "--state-dir",
        ])
        .arg(tmp.path().join("seed-state"));
    let mut seed = Spawned::start(seed, "btl-seed", tmp.path());
    seed.wait_event("seeding", DEADLINE);
    let mut get = ns.btl();
    get.args(["get", "--allow-unverified"])
        .arg(&torrent)
        .args(["--json", "--port", "0", "--listen", "fd11::2", "-o"])
        .arg(tmp.path().join("down"))
        .arg("--state-dir")
        .arg(tmp.path().join("get-state"));
    let mut get = Spawned::start(get, "btl-get", tmp.path());
    get.wait_event("complete", DEADLINE);
    assert!(get.wait_exit(DEADLINE).success());
    assert_same_tree(&seed_dir, &tmp.path().join("down"));
}
