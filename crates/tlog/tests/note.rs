//! Signed notes, checkpoints and tlog-proofs: the Go reference
//! implementation's published example as a golden vector, and round trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_tlog::ed25519_dalek::SigningKey;
use btl_tlog::*;

// From the documentation of golang.org/x/mod/sumdb/note.
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
    then you don't know what your problem is.\n\
    \n\
    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_reference_vector() {
    let signer = NoteSigner::from_skey(GO_SKEY).unwrap();
    let verifier = NoteVerifier::from_vkey(GO_VKEY).unwrap();
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(
        key_id("PeterNeumann", verifier.key().as_bytes()),
        0xc74f20a3
    );
    assert_eq!(verifier.to_vkey(), GO_VKEY);
    assert_eq!(signer.to_skey(), GO_SKEY);
    // Ed25519 is deterministic: our signature is the published one.
    let note = Note::sign(GO_TEXT, &signer).unwrap();
    assert_eq!(note.to_text(), GO_NOTE);
    let parsed = Note::parse(GO_NOTE.as_bytes()).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(parsed.text(), GO_TEXT);
    let set = VerifierSet::new([verifier], 1);
    assert_eq!(parsed.verify(&set).unwrap(), vec![0]);
}

#[test]
fn note_verification_rules() {
    let a = NoteSigner::new("a.example/x", SigningKey::from_bytes(&[1; 32])).unwrap();
    let b = NoteSigner::new("b.example/x", SigningKey::from_bytes(&[2; 32])).unwrap();
    let c = NoteSigner::new("c.example/x", SigningKey::from_bytes(&[3; 32])).unwrap();
    let text = "hello\n\nworld\n";
    let mut note = Note::sign(text, &a).unwrap();
    note.add_signature(b.sign(text).unwrap()).unwrap();
    // An empty line inside the text survives a round trip.
    let parsed = Note::parse(note.to_text().as_bytes()).unwrap();
    assert_eq!(parsed.text(), text);
    assert_eq!(parsed.signatures().len(), 2);

    let set2 = VerifierSet::new([a.verifier(), b.verifier(), c.verifier()], 2);
    assert_eq!(parsed.verify(&set2).unwrap(), vec![0, 1]);
    let set3 = VerifierSet::new([a.verifier(), b.verifier(), c.verifier()], 3);
    assert_eq!(
        parsed.verify(&set3),
        Err(NoteError::BelowThreshold { have: 2, need: 3 })
    );
    // Unknown keys are ignored; no known key is an error.
    let only_c = VerifierSet::new([c.verifier()], 1);
    assert_eq!(parsed.verify(&only_c), Err(NoteError::NoTrustedSignature));
    // A known key with a bad signature rejects the note.
    let mut forged = parsed.clone();
    let mut sig = c.sign("other\n").unwrap();
    sig.name = c.name().to_owned();
    forged.add_signature(sig).unwrap();
    let set_c = VerifierSet::new([a.verifier(), c.verifier()], 1);
    assert!(matches!(
        forged.verify(&set_c),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Same name, other key: a different key ID, so ignored.
    let impostor = NoteSigner::new("a.example/x", SigningKey::from_bytes(&[9; 32])).unwrap();
    let n2 = Note::sign(text, &impostor).unwrap();
    assert_eq!(
        n2.verify(&VerifierSet::new([a.verifier()], 1)),
        Err(NoteError::NoTrustedSignature)
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let cases: &[&[u8]] = &[
        b"",
        b"no newline",
        b"text\n",
        b"text\n\n",
        b"text\n\nnot a signature\n",
        "text\n\n\u{2014} name\n".as_bytes(),
        "text\n\n\u{2014} name !!!!\n".as_bytes(),
        "text\n\n\u{2014} name AAAA\n".as_bytes(),
        "text\n\n\u{2014} na+me AAAAAAAA\n".as_bytes(),
        "te\tx\n\n\u{2014} name AAAAAAAA\n".as_bytes(),
        b"\xff\n\n",
    ];
    for c in cases {
        assert!(Note::parse(c).is_err(), "{:?}", String::from_utf8_lossy(c));
    }
    let big = vec![b'a'; btl_tlog::note::MAX_NOTE_BYTES + 1];
    assert_eq!(Note::parse(&big), Err(NoteError::TooLarge));
    assert!(NoteVerifier::from_vkey(
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
    assert!(NoteVerifier::from_vkey(
        "PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
    assert!(NoteVerifier::from_vkey("PeterNeumann+c74f20a3").is_err());
}

#[test]
fn checkpoint_text_golden() {
    let cp = Checkpoint::new("example.com/log", 5, [0xab; 32]);
    let text = cp.to_text();
    assert_eq!(
        text,
        "example.com/log\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
    );
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    for bad in [
        "example.com/log\n05\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
        "example.com/log\n5\nq6ur\n",
        "\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
        "example.com/log\n5\n",
        "example.com/log\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n",
        "example.com/log\n-5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

fn receipt_fixture() -> (MemoryLog, Vec<NoteSigner>, TlogProof) {
    let mut log = MemoryLog::new();
    for i in 0..11u32 {
        log.append(&i.to_be_bytes());
    }
    let signers: Vec<NoteSigner> = (1..=4u8)
        .map(|i| {
            NoteSigner::new(&format!("validator-{i}"), SigningKey::from_bytes(&[i; 32])).unwrap()
        })
        .collect();
    let cp = Checkpoint::new("btl.example/registry", log.size(), log.root());
    let mut note = Note::new(&cp.to_text()).unwrap();
    for s in &signers[..3] {
        note.add_signature(s.sign(note.text()).unwrap()).unwrap();
    }
    let proof = TlogProof {
        extra: Some(b"entry 7".to_vec()),
        index: 7,
        path: inclusion_proof(&log, 7, log.size()).unwrap(),
        checkpoint: note,
    };
    (log, signers, proof)
}

#[test]
fn tlog_proof_round_trip_and_verify() {
    let (_log, signers, proof) = receipt_fixture();
    let text = proof.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra ZW50cnkgNw==\nindex 7\n"));
    let parsed = TlogProof::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, proof);
    let leaf = leaf_hash(&7u32.to_be_bytes());
    let vs: Vec<NoteVerifier> = signers.iter().map(|s| s.verifier()).collect();
    // 3 of 4 cosigned.
    let cp = parsed
        .verify(
            &leaf,
            "btl.example/registry",
            &VerifierSet::new(vs.clone(), 3),
        )
        .unwrap();
    assert_eq!(cp.size, 11);
    assert!(matches!(
        parsed.verify(
            &leaf,
            "btl.example/registry",
            &VerifierSet::new(vs.clone(), 4)
        ),
        Err(TlogProofError::Checkpoint(CheckpointError::Note(
            NoteError::BelowThreshold { .. }
        )))
    ));
    assert!(matches!(
        parsed.verify(&leaf, "other/log", &VerifierSet::new(vs.clone(), 1)),
        Err(TlogProofError::Checkpoint(
            CheckpointError::WrongOrigin { .. }
        ))
    ));
    assert!(matches!(
        parsed.verify(
            &leaf_hash(b"x"),
            "btl.example/registry",
            &VerifierSet::new(vs, 1)
        ),
        Err(TlogProofError::Inclusion(_))
    ));
}

#[test]
fn tlog_proof_golden() {
    // Pins the whole receipt text: hashes, signatures and layout.
    let (_log, _signers, proof) = receipt_fixture();
    let text = proof.to_text();
    let want = include_str!("golden/receipt.tlog-proof");
    assert_eq!(text, want);
}

#[test]
fn malformed_proofs_are_rejected() {
    let (_log, _s, proof) = receipt_fixture();
    let good = proof.to_text();
    let cases = [
        good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
        good.replacen("index 7", "index 07", 1),
        good.replacen("index 7", "index", 1),
        good.replacen("extra ZW50cnkgNw==", "extra !!", 1),
        good.replacen("\n\n", "\n", 1),
        "c2sp.org/tlog-proof@v1\nindex 1\n".to_owned(),
        "c2sp.org/tlog-proof@v1\n".to_owned(),
    ];
    for c in &cases {
        assert!(TlogProof::parse(c.as_bytes()).is_err(), "{c}");
    }
}
