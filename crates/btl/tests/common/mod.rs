//! Helpers shared by the `btl` integration tests: running the binary, the
//! reference tools, and generating payloads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `btl` binary under test.
pub fn btl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_btl"))
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
