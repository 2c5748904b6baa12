//! `btl key`: create, list, show, export and import identities; encryption
//! at rest, passphrase sources, file permissions.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::{btl, run_err, run_json, run_ok};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// `btl key …` with the keys directory set and no passphrase in the
/// environment.
fn key(dir: &Path) -> Command {
    let mut c = btl();
    c.arg("key")
        .env("BTL_KEYS_DIR", dir)
        .env_remove("BTL_PASSPHRASE")
        .env_remove("BTL_PASSPHRASE_FILE")
        .env_remove("BTL_JSON")
        .stdin(Stdio::null());
    c
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn new_show_list_unencrypted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let v = run_json(key(&dir).args(["new", "server", "--unencrypted", "--json"]));
    assert_eq!(v["name"], "server");
    assert_eq!(v["encrypted"], false);
    let did = v["did"].as_str().unwrap().to_string();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    let account = v["account"].as_str().unwrap();
    assert!(
        account.starts_with("btl1") && account.len() == 76,
        "{account}"
    );
    assert_eq!(
        v["verification_method"].as_str().unwrap(),
        format!("{did}#{}", &did["did:key:".len()..])
    );
    let path = Path::new(v["path"].as_str().unwrap());
    assert_eq!(mode(path), 0o600);
    assert_eq!(mode(&dir), 0o700);

    let show = run_json(key(&dir).args(["show", "server", "--json"]));
    assert_eq!(show["did"], did.as_str());
    let text = run_ok(key(&dir).args(["show", "server"]));
    assert!(
        text.contains(&did) && text.contains("UNENCRYPTED"),
        "{text}"
    );

    run_ok(key(&dir).args(["new", "second", "--unencrypted"]));
    let list = run_json(key(&dir).args(["list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["second", "server"]);
    let text = run_ok(key(&dir).arg("list"));
    assert!(
        text.contains("server") && text.contains("unencrypted"),
        "{text}"
    );

    // Names are never reused.
    let e = run_err(key(&dir).args(["new", "server", "--unencrypted"]));
    assert!(e.contains("already exists"), "{e}");
    let e = run_err(key(&dir).args(["new", "../evil", "--unencrypted"]));
    assert!(e.contains("invalid key name"), "{e}");
    let e = run_err(key(&dir).args(["show", "nobody"]));
    assert!(e.contains("no key named \"nobody\""), "{e}");
}

#[test]
fn encrypted_keys_need_their_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let v = run_json(
        key(&dir)
            .args(["new", "alice", "--scrypt-log-n", "10", "--json"])
            .env("BTL_PASSPHRASE", "correct horse battery staple"),
    );
    assert_eq!(v["encrypted"], true);
    let file = std::fs::read_to_string(v["path"].as_str().unwrap()).unwrap();
    assert!(file.contains("BEGIN AGE ENCRYPTED FILE"), "{file}");
    assert!(!file.contains("z3u2"), "secret stored in clear: {file}");

    // Public information needs no passphrase.
    run_json(key(&dir).args(["show", "alice", "--json"]));

    // The secret does: from the environment ...
    let secret = run_ok(
        key(&dir)
            .args(["export", "alice", "--secret"])
            .env("BTL_PASSPHRASE", "correct horse battery staple"),
    );
    assert!(secret.trim().starts_with("z3u2"), "{secret}");
    // ... or from a file (first line).
    let pf = tmp.path().join("pass.txt");
    std::fs::write(&pf, "correct horse battery staple\nignored\n").unwrap();
    let again = run_ok(
        key(&dir)
            .args(["export", "alice", "--secret", "--passphrase-file"])
            .arg(&pf),
    );
    assert_eq!(again, secret);

    let e = run_err(
        key(&dir)
            .args(["export", "alice", "--secret"])
            .env("BTL_PASSPHRASE", "wrong"),
    );
    assert!(e.contains("wrong passphrase for key \"alice\""), "{e}");

    // No passphrase anywhere and no terminal to ask on: a clear error, no
    // hang. (setsid detaches from any controlling terminal.)
    common::require_tool("setsid", "util-linux");
    let mut c = Command::new("setsid");
    c.arg("--wait")
        .arg(env!("CARGO_BIN_EXE_btl"))
        .args(["key", "export", "alice", "--secret"])
        .env("BTL_KEYS_DIR", &dir)
        .env_remove("BTL_PASSPHRASE")
        .env_remove("BTL_PASSPHRASE_FILE")
        .stdin(Stdio::null());
    let e = run_err(&mut c);
    assert!(e.contains("BTL_PASSPHRASE"), "{e}");
}

#[test]
fn insecure_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let v = run_json(key(&dir).args(["new", "k", "--unencrypted", "--json"]));
    let path = v["path"].as_str().unwrap().to_string();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = run_err(key(&dir).args(["export", "k"]));
    assert!(e.contains("chmod 600"), "{e}");
    let e = run_err(key(&dir).args(["export", "k", "--secret"]));
    assert!(e.contains("accessible by group or others"), "{e}");
    // Listing still shows it, flagged.
    let list = run_ok(key(&dir).arg("list"));
    assert!(list.contains("INSECURE"), "{list}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    run_ok(key(&dir).args(["export", "k"]));
}

#[test]
fn export_and_import() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let created = run_json(
        key(&a)
            .args(["new", "me", "--scrypt-log-n", "10", "--json"])
            .env("BTL_PASSPHRASE", "pw"),
    );
    // The key file, as stored, to a 0600 file; then into another store.
    let out = tmp.path().join("me.key");
    run_ok(key(&a).args(["export", "me", "-o"]).arg(&out));
    assert_eq!(mode(&out), 0o600);
    let e = run_err(key(&a).args(["export", "me", "-o"]).arg(&out));
    assert!(e.contains("must not exist"), "{e}");
    let imported = run_json(key(&b).args(["import", "me2", "--json"]).arg(&out));
    assert_eq!(imported["did"], created["did"]);
    assert_eq!(imported["encrypted"], true);

    // A secret Multikey, protected anew.
    let secret = run_ok(
        key(&a)
            .args(["export", "me", "--secret"])
            .env("BTL_PASSPHRASE", "pw"),
    );
    let sf = tmp.path().join("secret.txt");
    std::fs::write(&sf, &secret).unwrap();
    let v = run_json(
        key(&b)
            .args(["import", "me3", "--unencrypted", "--json"])
            .arg(&sf),
    );
    assert_eq!(v["did"], created["did"]);
    assert_eq!(v["encrypted"], false);

    // 64 hex digits of seed, from standard input.
    let mut c = key(&b);
    c.args(["import", "hex", "--unencrypted", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all("07".repeat(32).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["did"],
        "did:key:z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z"
    );

    // Garbage is refused.
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, "hello world").unwrap();
    let e = run_err(key(&b).args(["import", "x", "--unencrypted"]).arg(&junk));
    assert!(e.contains("not a key file nor a secret key"), "{e}");
}
