//! Helpers for ledger tests: a local cluster of `btl ledger run` processes
//! on loopback, a tiny HTTP client, and waiting with deadlines.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{btl, Spawned};

/// One HTTP/1.1 request; returns (status, JSON body or Null).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// GET returning JSON, panicking on transport failure.
pub fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    http(addr, "GET", path, None).unwrap_or_else(|| panic!("GET {path} on {addr} failed"))
}

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A local cluster made by `btl ledger init --validators N`.
pub struct Cluster {
    pub root: PathBuf,
    pub nodes: Vec<Option<Spawned>>,
    pub http: Vec<SocketAddr>,
    pub p2p: Vec<SocketAddr>,
    _tmp: tempfile::TempDir,
}

/// A base port with `2n` free consecutive ports on 127.0.0.1.
pub fn free_base(n: usize) -> u16 {
    let seed = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for k in 0..200u64 {
        let base = 20_000 + ((seed + k * 997) % 20_000) as u16;
        let ok =
            (0..2 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no free port range");
}

impl Cluster {
    /// Initialises `n` validators (not started).
    pub fn init(n: usize, extra: &[&str]) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let base = free_base(n);
        let mut cmd = btl();
        cmd.args(["ledger", "init", "--json", "--empty-block-ms", "300"])
            .arg("--dir")
            .arg(&root)
            .args([
                "--validators",
                &n.to_string(),
                "--base-port",
                &base.to_string(),
            ])
            .args(extra);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "ledger init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let http = (0..n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], base + 2 * i as u16 + 1)))
            .collect();
        let p2p = (0..n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], base + 2 * i as u16)))
            .collect();
        Cluster {
            root,
            nodes: (0..n).map(|_| None).collect(),
            http,
            p2p,
            _tmp: tmp,
        }
    }

    /// The data directory of node `i`.
    pub fn dir(&self, i: usize) -> PathBuf {
        if self.nodes.len() == 1 {
            self.root.clone()
        } else {
            self.root.join(format!("node{i}"))
        }
    }

    /// Starts node `i` and waits for its API.
    pub fn start(&mut self, i: usize) {
        let mut cmd = btl();
        cmd.args(["ledger", "run", "--json", "--dir"])
            .arg(self.dir(i))
            .env("BTL_LOG", "info");
        let mut p = Spawned::start(cmd, &format!("node{i}"), &self.root);
        p.wait_event("listening", Duration::from_secs(30));
        self.nodes[i] = Some(p);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].take() {
            p.child.kill().unwrap();
            p.child.wait().unwrap();
        }
    }

    /// Node `i`'s committed height, if it answers.
    pub fn height(&self, i: usize) -> Option<u64> {
        let (code, v) = http(self.http[i], "GET", "/status", None)?;
        (code == 200).then(|| v["height"].as_u64()).flatten()
    }

    /// Waits until node `i` has committed `h`.
    pub fn wait_height(&self, i: usize, h: u64, deadline: Duration) {
        wait_for(&format!("node{i} to reach height {h}"), deadline, || {
            self.height(i).filter(|x| *x >= h)
        });
    }

    /// The hash of node `i`'s block at `h`.
    pub fn block_hash(&self, i: usize, h: u64) -> Option<String> {
        let (code, v) = http(self.http[i], "GET", &format!("/block/{h}"), None)?;
        (code == 200)
            .then(|| v["hash"].as_str().map(str::to_string))
            .flatten()
    }

    /// Asserts that the running nodes agree on every block up to the lowest
    /// common height; returns that height.
    pub fn assert_no_fork(&self) -> u64 {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_some())
            .collect();
        let common = live
            .iter()
            .filter_map(|i| self.height(*i))
            .min()
            .unwrap_or(0);
        for h in 1..=common {
            let hashes: Vec<_> = live.iter().map(|i| self.block_hash(*i, h)).collect();
            assert!(
                hashes.windows(2).all(|w| w[0] == w[1]),
                "fork at height {h}: {hashes:?}"
            );
        }
        common
    }

    /// Log file of node `i`.
    pub fn log(&self, i: usize) -> PathBuf {
        self.root.join(format!("node{i}.stderr"))
    }
}

/// The key of benchmark account `i` as `btl ledger init --bench-accounts`
/// funds it: secret = SHA-256("btl-bench" ‖ u32 `i` big-endian).
pub fn bench_key(i: u32) -> btl_ledger::ed25519_dalek::SigningKey {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"btl-bench");
    h.update(i.to_be_bytes());
    btl_ledger::ed25519_dalek::SigningKey::from_bytes(&h.finalize().into())
}

/// A validator's signing key, from the `node_key.json` in its directory.
pub fn node_key(dir: &Path) -> btl_ledger::ed25519_dalek::SigningKey {
    let key_file: Value = serde_json::from_str(&read(&dir.join("node_key.json"))).unwrap();
    let secret: [u8; 32] = unhex(key_file["secret_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    btl_ledger::ed25519_dalek::SigningKey::from_bytes(&secret)
}

/// The account address (hex) of a key.
pub fn address_of(key: &btl_ledger::ed25519_dalek::SigningKey) -> String {
    btl_ledger::PublicKey::from_signing_key(key)
        .address()
        .to_string()
}

/// The committed nonce of `account` on the node at `addr` (`None` if the
/// node does not answer).
pub fn account_nonce(addr: SocketAddr, account: &str) -> Option<u64> {
    let (code, v) = http(addr, "GET", &format!("/account/{account}"), None)?;
    assert_eq!(code, 200, "account {account}: {v}");
    v["account"]["nonce"].as_u64()
}

/// Signs a transaction on the `btl-local` chain (the default of `btl ledger
/// init`); returns its (id, encoding), both hex.
pub fn sign_tx(
    key: &btl_ledger::ed25519_dalek::SigningKey,
    nonce: u64,
    body: btl_ledger::TxBody,
) -> (String, String) {
    let chain = "btl-local";
    let tx = btl_ledger::Tx {
        from: btl_ledger::PublicKey::from_signing_key(key).address(),
        nonce,
        fee: 1,
        body,
    }
    .sign(chain, key);
    (hex(&tx.id(chain).0), hex(&tx.encode()))
}

/// A signed register-torrent transaction whose v2 infohash starts with
/// `tag` (keep it unique); returns its (id, encoding), both hex.
pub fn register_tx(
    key: &btl_ledger::ed25519_dalek::SigningKey,
    nonce: u64,
    tag: [u8; 16],
) -> (String, String) {
    let creator = btl_ledger::PublicKey::from_signing_key(key).address();
    let mut infohash_v2 = [0x5a; 32];
    infohash_v2[..16].copy_from_slice(&tag);
    let body = btl_ledger::TxBody::RegisterTorrent(btl_ledger::RegisterTorrent {
        manifest_hash: [7; 32],
        infohash_v2,
        infohash_v1: None,
        creator,
        file_roots: vec![[1; 32]],
        name: format!("fault-{}", hex(&tag)),
        size: 1 << 20,
        license: "CC-BY-4.0".into(),
    });
    sign_tx(key, nonce, body)
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads a file to a string (empty if missing).
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Decodes hex.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Open relay connections by id: the link each serves and handles to both
/// of its sockets (so a cut can shut them). An entry leaves the map when its
/// connection ends, so a long test with reconnecting peers holds no stale
/// descriptors.
type OpenLinks = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<u64, ((usize, usize), [TcpStream; 2])>>,
>;

/// TCP relays between validators so a test can cut links: node `i` reaches
/// node `j` only through relay (i, j). Cutting a link closes its open
/// connections and refuses new ones until it is restored.
pub struct Relays {
    /// relay address for (from, to)
    pub addr: std::collections::HashMap<(usize, usize), SocketAddr>,
    cut: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<(usize, usize)>>>,
    open: OpenLinks,
}

impl Relays {
    /// Starts relays for every ordered pair of `targets` (p2p addresses).
    pub fn start(targets: &[SocketAddr]) -> Relays {
        use std::sync::{Arc, Mutex};
        let cut: Arc<Mutex<std::collections::HashSet<(usize, usize)>>> = Arc::default();
        let open: OpenLinks = Arc::default();
        let next_id = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut addr = std::collections::HashMap::new();
        for i in 0..targets.len() {
            for (j, &to) in targets.iter().enumerate() {
                if i == j {
                    continue;
                }
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                addr.insert((i, j), l.local_addr().unwrap());
                let (cut, open, next_id) = (cut.clone(), open.clone(), next_id.clone());
                std::thread::spawn(move || {
                    for inbound in l.incoming() {
                        let Ok(inbound) = inbound else { continue };
                        // Both directions of a pair go down together.
                        let blocked = {
                            let c = cut.lock().unwrap();
                            c.contains(&(i, j)) || c.contains(&(j, i))
                        };
                        if blocked {
                            drop(inbound);
                            continue;
                        }
                        let Ok(outbound) = TcpStream::connect(to) else {
                            continue;
                        };
                        // A failed clone (descriptor limit) drops this one
                        // connection; the peer redials.
                        let (Ok(a), Ok(b), Ok(c), Ok(d)) = (
                            inbound.try_clone(),
                            outbound.try_clone(),
                            inbound.try_clone(),
                            outbound.try_clone(),
                        ) else {
                            continue;
                        };
                        let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        open.lock().unwrap().insert(id, ((i, j), [a, b]));
                        pipe(c, d, None);
                        pipe(outbound, inbound, Some((open.clone(), id)));
                    }
                });
            }
        }
        Relays { addr, cut, open }
    }

    /// Cuts every link between the two groups.
    pub fn partition(&self, a: &[usize], b: &[usize]) {
        let mut c = self.cut.lock().unwrap();
        for &i in a {
            for &j in b {
                c.insert((i, j));
                c.insert((j, i));
            }
        }
        drop(c);
        let c = self.cut.lock().unwrap().clone();
        let mut o = self.open.lock().unwrap();
        o.retain(|_, ((i, j), socks)| {
            if c.contains(&(*i, *j)) {
                for s in socks.iter() {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
                false
            } else {
                true
            }
        });
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.cut.lock().unwrap().clear();
    }
}

/// Copies `from` to `to` on a thread; when the copy ends both sockets are
/// shut, and `forget` (if given) removes the connection from the open set.
fn pipe(mut from: TcpStream, mut to: TcpStream, forget: Option<(OpenLinks, u64)>) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Both);
        let _ = from.shutdown(std::net::Shutdown::Both);
        if let Some((open, id)) = forget {
            open.lock().unwrap().remove(&id);
        }
    });
}

impl Cluster {
    /// Points every node's peers at the relays (before starting them).
    pub fn use_relays(&self, relays: &Relays) {
        let n = self.nodes.len();
        for i in 0..n {
            let path = self.dir(i).join("node.json");
            let mut v: Value = serde_json::from_str(&read(&path)).unwrap();
            let peers: Vec<String> = (0..n)
                .filter(|j| *j != i)
                .map(|j| relays.addr[&(i, j)].to_string())
                .collect();
            v["peers"] = serde_json::json!(peers);
            std::fs::write(&path, v.to_string()).unwrap();
        }
    }
}
