use super::*;

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn fast(p: &str) -> Protection {
    Protection::Passphrase {
        passphrase: pass(p),
        log_n: Some(MIN_SCRYPT_LOG_N),
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn unencrypted_round_trip_and_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::new(dir.path().join("keys"));
    let key = SigningKey::from_bytes(&[7; 32]);
    let info = ks
        .import("server", &key, &Protection::Unencrypted, 1_735_689_600)
        .unwrap();
    assert!(!info.encrypted);
    assert_eq!(info.did, DidKey::of(&key));
    assert_eq!(mode(&info.path), 0o600);
    assert_eq!(mode(ks.dir()), 0o700);
    assert_eq!(ks.load("server", None).unwrap().to_bytes(), key.to_bytes());
    // The stored format, pinned.
    let text = fs::read_to_string(&info.path).unwrap();
    assert_eq!(
        text,
        "{\n  \"type\": \"BtlKey\",\n  \"version\": 1,\n  \"name\": \"server\",\n  \"did\": \"did:key:z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z\",\n  \"created\": \"2025-01-01T00:00:00Z\",\n  \"encryption\": \"none\",\n  \"secret\": \"z3u2RhErZEGEPQoX72wwNiAQiFxJjUEx7pmQ6djbr6Lbzgyt\"\n}\n"
    );
}

#[test]
fn encrypted_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::new(dir.path());
    let info = ks.generate("alice", &fast("correct horse"), 0).unwrap();
    assert!(info.encrypted);
    let text = fs::read_to_string(&info.path).unwrap();
    assert!(
        text.contains("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{text}"
    );
    assert!(
        !text.contains("z3u2"),
        "the secret must not be stored in clear"
    );
    let key = ks.load("alice", Some(&pass("correct horse"))).unwrap();
    assert_eq!(DidKey::of(&key), info.did);
    assert!(matches!(
        ks.load("alice", Some(&pass("wrong horse"))),
        Err(KeyError::WrongPassphrase(_))
    ));
    assert!(matches!(
        ks.load("alice", None),
        Err(KeyError::NeedPassphrase(_))
    ));
    // Two keys never collide.
    let bob = ks.generate("bob", &Protection::Unencrypted, 0).unwrap();
    assert_ne!(bob.did, info.did);
    let (list, bad) = ks.list().unwrap();
    assert!(bad.is_empty());
    assert_eq!(
        list.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
}

#[test]
fn refusals() {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::new(dir.path().join("k"));
    ks.generate("a", &Protection::Unencrypted, 0).unwrap();
    // No overwrite.
    assert!(matches!(
        ks.generate("a", &Protection::Unencrypted, 0),
        Err(KeyError::Exists { .. })
    ));
    // Bad names.
    for n in ["", ".hidden", "-x", "a/b", "a b", "é", &"x".repeat(65)] {
        assert!(matches!(check_name(n), Err(KeyError::BadName(_))), "{n:?}");
    }
    // Empty passphrase.
    assert!(matches!(
        ks.generate("b", &fast(""), 0),
        Err(KeyError::Invalid(_))
    ));
    // Work factor out of range.
    assert!(matches!(
        ks.generate(
            "b",
            &Protection::Passphrase {
                passphrase: pass("x"),
                log_n: Some(30)
            },
            0
        ),
        Err(KeyError::Invalid(_))
    ));
    // Group- or world-readable key files are refused, with the fix.
    let path = ks.path("a").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let e = ks.load("a", None).unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "{e}");
    assert!(matches!(
        ks.export_file("a"),
        Err(KeyError::InsecureFile { .. })
    ));
    assert!(ks.info("a").unwrap().insecure());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    ks.load("a", None).unwrap();
    // A world-writable directory is refused.
    fs::set_permissions(ks.dir(), fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        ks.load("a", None),
        Err(KeyError::InsecureDir { .. })
    ));
    fs::set_permissions(ks.dir(), fs::Permissions::from_mode(0o700)).unwrap();
    // Missing key.
    assert!(matches!(
        ks.load("zz", None),
        Err(KeyError::NotFound { .. })
    ));
    // A damaged file: wrong public key for the secret.
    let text = fs::read_to_string(&path).unwrap();
    let other = DidKey::of(&SigningKey::from_bytes(&[1; 32])).to_string();
    let did_line = text
        .lines()
        .find(|l| l.contains("\"did\""))
        .unwrap()
        .to_string();
    fs::write(
        &path,
        text.replace(&did_line, &format!("  \"did\": \"{other}\",")),
    )
    .unwrap();
    let e = ks.load("a", None).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    // Not a key file at all; too large.
    fs::write(&path, "hello").unwrap();
    assert!(matches!(ks.info("a"), Err(KeyError::BadFile { .. })));
    fs::write(&path, vec![b' '; MAX_KEY_FILE as usize + 1]).unwrap();
    assert!(matches!(ks.info("a"), Err(KeyError::BadFile { .. })));
}

#[test]
fn export_then_import_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = KeyStore::new(dir.path().join("a"));
    let b = KeyStore::new(dir.path().join("b"));
    let info = a.generate("me", &fast("pw"), 0).unwrap();
    let bytes = a.export_file("me").unwrap();
    let imported = b.import_file("me-too", &bytes).unwrap();
    assert_eq!(imported.did, info.did);
    assert_eq!(imported.name, "me-too");
    assert_eq!(mode(&imported.path), 0o600);
    let k = b.load("me-too", Some(&pass("pw"))).unwrap();
    assert_eq!(DidKey::of(&k), info.did);
    assert!(matches!(
        b.import_file("x", b"{\"type\":\"BtlKey\"}"),
        Err(KeyError::BadFile { .. })
    ));
}
