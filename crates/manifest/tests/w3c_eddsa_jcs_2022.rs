//! The `eddsa-jcs-2022` test vectors of the W3C Recommendation "Data
//! Integrity EdDSA Cryptosuites v1.0" (2025-05-15), Appendix B.3
//! ("Representation: eddsa-jcs-2022", Examples 29 to 39), pinned here
//! byte for byte.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use btl_manifest::did::{signing_key_from_secret_multikey, DidKey};
use btl_manifest::json::{parse, Limits, Value};
use btl_manifest::{di, jcs};
use sha2::{Digest, Sha256};

// Example 29: the key pair.
const PUBLIC: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
const SECRET: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";

// Example 30: the credential without proof.
const CREDENTIAL: &str = r#"{
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2"
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {
        "id": "did:example:abcdefgh",
        "alumniOf": "The School of Examples"
    }
}"#;

// Example 31: its canonical form.
const CANONICAL_CREDENTIAL: &str = r#"{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:abcdefgh"},"description":"A minimum viable example of an Alumni Credential.","id":"urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678","name":"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],"validFrom":"2023-01-01T00:00:00Z"}"#;

// Example 32.
const CREDENTIAL_HASH: &str = "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19";

// Example 33: the proof options document.
const PROOF_OPTIONS: &str = r#"{
  "type": "DataIntegrityProof",
  "cryptosuite": "eddsa-jcs-2022",
  "created": "2023-02-24T23:36:38Z",
  "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
  "proofPurpose": "assertionMethod",
  "@context": [
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/ns/credentials/examples/v2"
  ]
}"#;

// Example 34.
const CANONICAL_PROOF_OPTIONS: &str = r#"{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],"created":"2023-02-24T23:36:38Z","cryptosuite":"eddsa-jcs-2022","proofPurpose":"assertionMethod","type":"DataIntegrityProof","verificationMethod":"did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}"#;

// Example 35.
const PROOF_OPTIONS_HASH: &str = "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db";

// Example 36: proof options hash || credential hash.
const COMBINED: &str = "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19";

// Example 37.
const SIGNATURE_HEX: &str = "407cd12654b33d718ecbb99179a1506daaa849450bf3fc523cce3e1c96f8b80351da3f253d725c6f00b07c9e5448d50b3ef78012b9ab54255116d069c6dd2808";

// Example 38.
const PROOF_VALUE: &str =
    "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX";

// Example 39: the signed credential.
const SIGNED: &str = r#"{
  "@context": [
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/ns/credentials/examples/v2"
  ],
  "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
  "type": [
    "VerifiableCredential",
    "AlumniCredential"
  ],
  "name": "Alumni Credential",
  "description": "A minimum viable example of an Alumni Credential.",
  "issuer": "https://vc.example/issuers/5678",
  "validFrom": "2023-01-01T00:00:00Z",
  "credentialSubject": {
    "id": "did:example:abcdefgh",
    "alumniOf": "The School of Examples"
  },
  "proof": {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    "proofPurpose": "assertionMethod",
    "@context": [
      "https://www.w3.org/ns/credentials/v2",
      "https://www.w3.org/ns/credentials/examples/v2"
    ],
    "proofValue": "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"
  }
}"#;

fn json(s: &str) -> Value {
    parse(s.as_bytes(), Limits::default()).unwrap()
}

#[test]
fn every_intermediate_value_matches() {
    let key = signing_key_from_secret_multikey(SECRET).unwrap();
    assert_eq!(DidKey::of(&key).multikey(), PUBLIC);

    let credential = json(CREDENTIAL);
    let canon = jcs::canonicalize(&credential).unwrap();
    assert_eq!(std::str::from_utf8(&canon).unwrap(), CANONICAL_CREDENTIAL);
    assert_eq!(hex::encode(Sha256::digest(&canon)), CREDENTIAL_HASH);

    let options = json(PROOF_OPTIONS);
    let canon_opts = jcs::canonicalize(&options).unwrap();
    assert_eq!(
        std::str::from_utf8(&canon_opts).unwrap(),
        CANONICAL_PROOF_OPTIONS
    );
    assert_eq!(hex::encode(Sha256::digest(&canon_opts)), PROOF_OPTIONS_HASH);

    assert_eq!(
        hex::encode(di::hash_data(&options, &credential).unwrap()),
        COMBINED
    );
}

#[test]
fn create_proof_reproduces_the_proof_value() {
    let key = signing_key_from_secret_multikey(SECRET).unwrap();
    let credential = json(CREDENTIAL);
    // The options without @context: Create Proof copies the document's.
    let mut options = json(PROOF_OPTIONS);
    options.remove("@context");
    let proof = di::create_with_options(&credential, options, &key).unwrap();
    assert_eq!(
        proof.get("proofValue").unwrap().as_str().unwrap(),
        PROOF_VALUE
    );
    let sig = btl_manifest::base58::multibase_decode(PROOF_VALUE, 100).unwrap();
    assert_eq!(hex::encode(sig), SIGNATURE_HEX);

    // Assembled, it is Example 39.
    let mut signed = credential;
    signed.insert("proof", proof);
    assert_eq!(
        jcs::canonicalize(&signed).unwrap(),
        jcs::canonicalize(&json(SIGNED)).unwrap()
    );
}

#[test]
fn the_signed_credential_verifies() {
    let signed = json(SIGNED);
    let p = di::verify(&signed, di::ASSERTION_METHOD).unwrap();
    assert_eq!(p.signer.multikey(), PUBLIC);
    assert_eq!(hex::encode(p.hash_data), COMBINED);
    assert_eq!(p.created, Some(1_677_281_798));
    assert_eq!(di::verify_prepared_batch(&[p.clone(), p]), vec![true, true]);
}

#[test]
fn any_change_is_refused() {
    let signed = json(SIGNED);
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut v = signed.clone();
        f(&mut v);
        di::verify(&v, di::ASSERTION_METHOD)
    };
    // A document field.
    assert_eq!(
        changed(&|v| v.insert("name", Value::String("Alumni Credentia1".into()))),
        Err(di::DiError::BadSignature)
    );
    // A proof option.
    assert_eq!(
        changed(&|v| {
            let mut p = v.remove("proof").unwrap();
            p.insert("created", Value::String("2023-02-24T23:36:39Z".into()));
            v.insert("proof", p);
        }),
        Err(di::DiError::BadSignature)
    );
    // Another purpose.
    assert!(matches!(
        di::verify(&signed, "authentication"),
        Err(di::DiError::WrongPurpose { .. })
    ));
    // The document's @context no longer starts with the proof's.
    assert_eq!(
        changed(&|v| v.insert(
            "@context",
            Value::Array(vec![Value::String(
                "https://www.w3.org/ns/credentials/v2".into()
            )])
        )),
        Err(di::DiError::ContextMismatch)
    );
    // Another cryptosuite, a truncated signature, no proof.
    assert!(matches!(
        changed(&|v| {
            let mut p = v.remove("proof").unwrap();
            p.insert("cryptosuite", Value::String("eddsa-rdfc-2022".into()));
            v.insert("proof", p);
        }),
        Err(di::DiError::WrongCryptosuite(_))
    ));
    assert!(matches!(
        changed(&|v| {
            let mut p = v.remove("proof").unwrap();
            p.insert("proofValue", Value::String(PROOF_VALUE[..60].into()));
            v.insert("proof", p);
        }),
        Err(di::DiError::BadProofValue(_))
    ));
    assert_eq!(
        changed(&|v| {
            v.remove("proof");
        }),
        Err(di::DiError::NoProof)
    );
    assert_eq!(
        changed(&|v| v.insert("proof", Value::Array(vec![]))),
        Err(di::DiError::ProofSet)
    );
}
