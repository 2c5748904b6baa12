//! A small blocking HTTP/1.1 client for the tests (one request per
//! connection), and a handle on a running `btl up`.

use super::{btl, Spawned};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "reply {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `addr`. `headers` are added as given (a `Host`
/// header is added unless one is given).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let raw =
        read_reply(&mut s).unwrap_or_else(|e| panic!("{method} {path}: reading the reply: {e}"));
    parse(&raw).unwrap_or_else(|| panic!("{method} {path}: bad reply {raw:?}"))
}

/// Reads one reply: the head, then `Content-Length` bytes, or chunks up to
/// the last one, or (with neither) up to the end of the stream. Servers
/// that keep the connection open despite `Connection: close` (chromedriver
/// does) are handled.
fn read_reply(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    // A signal (a child process exiting) may interrupt a read: retry.
    let read = |s: &mut TcpStream, buf: &mut [u8]| loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    };
    let head_end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = read(s, &mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    loop {
        let body = &raw[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            return Ok(raw);
        }
        let n = read(s, &mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn parse(raw: &[u8]) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).ok()?.trim(), 16).ok()?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// GET, expecting 200 and JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// POST a JSON body.
pub fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// A `btl up` we started.
pub struct NodeProc {
    pub proc: Spawned,
    pub api: SocketAddr,
    pub data_dir: PathBuf,
    pub listening: Value,
}

/// How long `btl up` may take to start.
pub const NODE_START: Duration = Duration::from_secs(60);

impl NodeProc {
    /// Starts `btl up` on loopback with every port picked by the system,
    /// data in `data_dir`, logs in `log_dir`, and waits until it listens.
    pub fn start(log_dir: &Path, data_dir: &Path, name: &str, extra: &[&str]) -> NodeProc {
        let mut cmd = btl();
        cmd.arg("up")
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--api",
                "127.0.0.1:0",
                "--peer-listen",
                "127.0.0.1:0",
                "--tracker-http",
                "127.0.0.1:0",
                "--tracker-udp",
                "127.0.0.1:0",
                "--json",
            ])
            .args(extra)
            // The embedded ledger on free ports (unless the test says
            // --no-ledger or --ledger-url).
            .env("BTL_LEDGER_HTTP", "127.0.0.1:0")
            .env("BTL_LEDGER_P2P", "127.0.0.1:0")
            // Idle blocks often, so that tests see the height move.
            .env("BTL_LEDGER_IDLE_MS", "300")
            .env("BTL_LOG", "info");
        let mut proc = Spawned::start(cmd, name, log_dir);
        let listening = proc.wait_event("listening", NODE_START);
        let api: SocketAddr = listening["api"].as_str().unwrap().parse().unwrap();
        NodeProc {
            proc,
            api,
            data_dir: data_dir.to_path_buf(),
            listening,
        }
    }

    /// GET a JSON resource (200 expected).
    pub fn get(&self, path: &str) -> Value {
        get_json(self.api, path)
    }

    /// Polls the torrent `id` until `cond` holds for its details, with a
    /// deadline; returns the details that satisfied it.
    pub fn wait_torrent(
        &self,
        id: &str,
        what: &str,
        deadline: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let end = Instant::now() + deadline;
        let mut last = Value::Null;
        while Instant::now() < end {
            let r = request(self.api, "GET", &format!("/api/v1/torrents/{id}"), &[], b"");
            if r.status == 200 {
                last = r.json();
                if cond(&last) {
                    return last;
                }
                assert_ne!(last["state"], "failed", "torrent {id} failed: {last}");
            }
            // Each poll is a request; a short pause keeps it from spinning.
            std::thread::park_timeout(Duration::from_millis(200));
        }
        panic!("torrent {id}: {what} did not happen within {deadline:?}; last: {last}");
    }

    /// The API token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("api-token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Runs transmission-remote against the node; returns stdout (panics
    /// on failure).
    pub fn remote(&self, args: &[&str]) -> String {
        super::require_tool("transmission-remote", "transmission-cli");
        let out = std::process::Command::new("transmission-remote")
            .arg(self.api.to_string())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "transmission-remote {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends SIGTERM and waits for the `stopped` event and the exit.
    pub fn stop(mut self) {
        let pid = self.proc.child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot send SIGTERM to {pid}");
        self.proc.wait_event("stopped", NODE_START);
        assert!(self.proc.wait_exit(NODE_START).success());
    }

    /// SIGKILL, as a crash.
    pub fn kill9(mut self) {
        self.proc.child.kill().unwrap();
        self.proc.child.wait().unwrap();
    }
}
