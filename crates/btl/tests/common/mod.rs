//! Helpers shared by the `btl` integration tests: running the binary, the
//! reference tools, and generating payloads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod http;
pub mod webdriver;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `btl` binary under test, with local service discovery off
/// (`BTL_NO_LSD`): tests running at the same time often build the same
/// torrent, and their peers must not meet through multicast. The DHT is
/// off too (`BTL_NO_DHT`): its default bootstrap nodes are public routers.
/// The LSD tests use [`btl_with_lsd`], the DHT tests [`btl_with_dht`].
pub fn btl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_btl"));
    cmd.env("BTL_NO_LSD", "1").env("BTL_NO_DHT", "1");
    cmd
}

/// The `btl` binary under test with local service discovery on (the DHT
/// stays off).
pub fn btl_with_lsd() -> Command {
    let mut cmd = btl();
    cmd.env_remove("BTL_NO_LSD");
    cmd
}

/// `btl` with the DHT on (LSD stays off): the test must give
/// `--dht-bootstrap` (loopback nodes), or the public routers would be
/// contacted.
pub fn btl_with_dht() -> Command {
    let mut cmd = btl();
    cmd.env_remove("BTL_NO_DHT");
    cmd
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's python, which has python3-libtorrent.
pub const PYTHON: &str = "/usr/bin/python3";

/// Fails with a clear message when a tool the test needs is missing.
pub fn require_tool(cmd: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{cmd}`: install the Debian package {package} (scripts/test.sh does)"
    );
}

/// Fails with a clear message when python3-libtorrent is missing.
pub fn require_libtorrent() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs libtorrent for {PYTHON}: install the Debian package python3-libtorrent (scripts/test.sh does)"
    );
}

/// Runs a command, asserts it succeeded, returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail cleanly: non-zero exit, an `error:` line,
/// and no panic.
pub fn run_err(cmd: &mut Command) -> String {
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{cmd:?} should have failed");
    assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{cmd:?} panicked: {stderr}");
    assert!(
        stderr.starts_with("error: "),
        "{cmd:?}: unclear error: {stderr}"
    );
    stderr
}

/// Runs a command and parses its stdout as JSON.
pub fn run_json(cmd: &mut Command) -> Value {
    let s = run_ok(cmd);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{cmd:?} printed invalid JSON ({e}): {s}"))
}

/// Runs the libtorrent reference script.
pub fn lt_tool(args: &[&str]) -> Value {
    require_libtorrent();
    run_json(
        Command::new(PYTHON)
            .arg(repo().join("scripts/interop/lt_tool.py"))
            .args(args),
    )
}

/// Deterministic pseudo-random bytes (xorshift64*), so payloads are the same
/// in every run.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes the standard interop payload under `dir/name`: a big file, many
/// small files, an empty file, nested directories and non-ASCII names.
/// Returns the payload root.
/// A payload of `size` bytes under `dir/seed` and a v1 torrent of it
/// (64 KiB pieces, no date) whose only tracker is `url`: returns the
/// seed directory and the torrent's path.
#[allow(dead_code)]
pub fn v1_torrent_with_tracker(dir: &Path, size: usize, url: &str) -> (PathBuf, PathBuf) {
    let seed_dir = dir.join("seed");
    let payload = make_payload(&seed_dir, "payload", size);
    let torrent = dir.join("payload.torrent");
    run_ok(
        btl()
            .arg("create")
            .arg(&payload)
            .args([
                "--v1",
                "--piece-size",
                "65536",
                "--no-date",
                "-t",
                url,
                "-o",
            ])
            .arg(&torrent),
    );
    (seed_dir, torrent)
}

pub fn make_payload(dir: &Path, name: &str, big: usize) -> PathBuf {
    let root = dir.join(name);
    let write = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write payload");
    };
    write("big.bin", &pseudo_random(1, big));
    for i in 0..40 {
        write(
            &format!("small/file-{i:02}.dat"),
            &pseudo_random(100 + i, 1 + (i as usize * 7919) % 20000),
        );
    }
    write("empty.txt", b"");
    write("a/b/c/deep.txt", b"deep in the tree\n");
    write(
        "música/canção.txt",
        "non-ASCII names: ção, 日本語\n".as_bytes(),
    );
    write("日本語/ファイル.bin", &pseudo_random(7, 40_000));
    root
}

/// A child process we started, killed (SIGKILL, by its own handle) when
/// dropped, with its stdout lines delivered on a channel.
pub struct Spawned {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
    pub name: String,
}

impl Spawned {
    /// Starts `cmd` with piped stdout (stderr goes to a file in `log_dir`).
    pub fn start(mut cmd: Command, name: &str, log_dir: &Path) -> Spawned {
        let log = std::fs::File::create(log_dir.join(format!("{name}.stderr"))).expect("log file");
        cmd.stdout(std::process::Stdio::piped())
            .stdin(std::process::Stdio::piped())
            .stderr(log);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned {
            child,
            lines: rx,
            name: name.to_string(),
        }
    }

    /// Waits for a JSON line whose `event` is `event`, with a deadline.
    pub fn wait_event(&mut self, event: &str, deadline: std::time::Duration) -> Value {
        let end = std::time::Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if v["event"] == event {
                            return v;
                        }
                        if v["event"] == "error" {
                            panic!("{}: error: {line}", self.name);
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{}: no `{event}` event within {deadline:?}", self.name)
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!("{}: exited ({status:?}) before `{event}`", self.name)
                }
            }
        }
    }

    /// Waits for the process to exit, with a deadline; returns its status.
    pub fn wait_exit(&mut self, deadline: std::time::Duration) -> std::process::ExitStatus {
        let end = std::time::Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            // The stdout reader ends when the process closes stdout; wait on
            // it as the event, then reap.
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                panic!("{}: did not exit within {deadline:?}", self.name);
            }
            match self
                .lines
                .recv_timeout(left.min(std::time::Duration::from_millis(500)))
            {
                Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return self.child.wait().expect("wait");
                }
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that two directory trees hold the same files with the same bytes.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    assert_same_files(expected, actual, false)
}

/// Like [`assert_same_tree`], but an empty file of `expected` may be missing
/// from `actual` (Transmission 3.00 does not create empty files).
pub fn assert_same_tree_but_empty_files(expected: &Path, actual: &Path) {
    assert_same_files(expected, actual, true)
}

fn assert_same_files(expected: &Path, actual: &Path, skip_empty: bool) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("prefix").to_path_buf());
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    walk(expected, expected, &mut a);
    walk(actual, actual, &mut b);
    if skip_empty {
        a.retain(|f| {
            std::fs::metadata(expected.join(f)).map_or(true, |m| m.len() > 0)
                || actual.join(f).exists()
        });
    }
    a.sort();
    b.sort();
    assert_eq!(a, b, "file lists differ");
    for f in &a {
        let x = std::fs::read(expected.join(f)).expect("read");
        let y = std::fs::read(actual.join(f)).expect("read");
        assert!(x == y, "{} differs", f.display());
    }
}

/// A free TCP port on 127.0.0.1 (for tools that cannot pick their own).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A transmission-daemon on loopback with its own config directory,
/// driven through transmission-remote.
pub struct Transmission {
    pub daemon: Spawned,
    pub rpc: u16,
    pub peer_port: u16,
}

impl Transmission {
    /// Starts the daemon downloading into `download_dir` with its default
    /// encryption setting (preferred).
    pub fn start(dir: &Path, download_dir: &Path) -> Transmission {
        require_tool("transmission-daemon", "transmission-daemon");
        require_tool("transmission-remote", "transmission-cli");
        let rpc = free_port();
        let peer_port = free_port();
        let config = dir.join("transmission-config");
        std::fs::create_dir_all(&config).expect("mkdir");
        let mut cmd = Command::new("transmission-daemon");
        cmd.arg("-f")
            .arg("-g")
            .arg(&config)
            .args(["-p", &rpc.to_string(), "-P", &peer_port.to_string()])
            .args([
                "-r",
                "127.0.0.1",
                "-i",
                "127.0.0.1",
                "-T",
                "-O",
                "-Y",
                "-M",
                "--no-utp",
            ])
            .arg("-w")
            .arg(download_dir);
        let daemon = Spawned::start(cmd, "transmission-daemon", dir);
        let t = Transmission {
            daemon,
            rpc,
            peer_port,
        };
        // Ready when the RPC answers.
        t.wait_for("RPC to answer", |t| t.remote(&["-l"]).is_some());
        t
    }

    /// Runs transmission-remote; `None` if it failed.
    pub fn remote(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("transmission-remote")
            .arg(format!("127.0.0.1:{}", self.rpc))
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Polls a condition on the daemon's state until it holds, with a
    /// deadline of two minutes.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&Transmission) -> bool) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < end {
            if cond(self) {
                return;
            }
            // Each poll is an RPC round trip; no fixed sleep between them
            // beyond a short pause to avoid spinning.
            std::thread::park_timeout(std::time::Duration::from_millis(200));
        }
        panic!("transmission: {what} did not happen within 120 s");
    }

    /// The "Percent Done" of torrent 1.
    pub fn percent_done(&self) -> Option<String> {
        let info = self.remote(&["-t", "1", "-i"])?;
        info.lines()
            .find(|l| l.trim_start().starts_with("Percent Done:"))
            .map(|l| {
                l.trim()
                    .trim_start_matches("Percent Done:")
                    .trim()
                    .to_string()
            })
    }
}

/// Starts `btl tracker` on loopback (HTTP and UDP, any ports) with `extra`
/// flags and waits for its `listening` event, which it returns (with
/// `http` and `udp` addresses).
pub fn start_btl_tracker(dir: &Path, extra: &[&str]) -> (Spawned, Value) {
    let mut cmd = btl();
    cmd.args([
        "tracker",
        "--json",
        "--http",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
    ])
    .args(extra);
    let mut t = Spawned::start(cmd, "btl-tracker", dir);
    let ready = t.wait_event("listening", std::time::Duration::from_secs(30));
    (t, ready)
}

/// How long a seeder may take to check its data and start listening.
pub const READY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(150);

/// Starts `btl seed TORRENT --data DATA` listening on `listen` (any port),
/// with its state under `dir/seed-state`, and waits for its `seeding`
/// event, which it returns (with `port`, `have_pieces`, `pieces`).
pub fn start_btl_seed(
    dir: &Path,
    torrent: &Path,
    data: &Path,
    listen: &str,
    extra: &[&str],
) -> (Spawned, Value) {
    let mut cmd = btl();
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

/// Starts a libtorrent seeder (scripts/interop/lt_peer.py) of `torrent`
/// with its data in `data`, with extra environment (e.g. LT_UPLOAD_LIMIT),
/// and returns it with its port once it listens.
pub fn start_lt_seed(
    dir: &Path,
    torrent: &Path,
    data: &Path,
    env: &[(&str, String)],
) -> (Spawned, u16) {
    require_libtorrent();
    let mut cmd = Command::new(PYTHON);
    cmd.arg(repo().join("scripts/interop/lt_peer.py"))
        .arg("seed")
        .arg(torrent)
        .arg(data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut s = Spawned::start(cmd, "lt-seed", dir);
    let port = s.wait_event("seeding", READY_DEADLINE)["port"]
        .as_u64()
        .expect("port") as u16;
    (s, port)
}
