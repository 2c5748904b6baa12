//! Golden vectors: our own signed documents, with a fixed key and fixed
//! times, pinned byte for byte. If one of these fails, a signed or stored
//! format changed: that breaks every manifest already published.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use btl_manifest::did::{secret_multikey, DidKey};
use btl_manifest::{
    Account, License, Manifest, ManifestFile, Payment, ProvFile, SignedManifest, SigningKey, Split,
    Terms,
};
use btl_types::{Sha1Hash, Sha256Hash};

/// The fixed creator key: seed 0x00, 0x01, …, 0x1f.
fn key() -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = i as u8;
    }
    SigningKey::from_bytes(&seed)
}

fn manifest() -> Manifest {
    let k = key();
    let creator = DidKey::of(&k);
    Manifest {
        creator,
        created: 1_735_689_600, // 2025-01-01T00:00:00Z
        name: "Golden Album".into(),
        infohash_v2: Sha256Hash([0xab; 32]),
        infohash_v1: Some(Sha1Hash([0xcd; 20])),
        piece_length: 262_144,
        files: vec![
            ManifestFile {
                path: vec!["cd1".into(), "01 – Ouverture.flac".into()],
                length: 31_337_000_000,
                pieces_root: Some(Sha256Hash([0x11; 32])),
            },
            ManifestFile {
                path: vec!["empty.txt".into()],
                length: 0,
                pieces_root: None,
            },
        ],
        license: License {
            spdx: "CC-BY-NC-4.0".into(),
            terms: Some(Terms {
                regions: Some(vec!["DE".into(), "FR".into()]),
                commercial_use: Some(false),
                distribution_limit: Some(1000),
            }),
        },
        payment: Some(Payment {
            address: Account::of(&creator),
            splits: vec![
                Split {
                    account: Account::of(&creator),
                    bps: 7000,
                },
                Split {
                    account: Account([0x22; 32]),
                    bps: 3000,
                },
            ],
        }),
    }
}

const SIGNED_AT: i64 = 1_735_693_200; // 2025-01-01T01:00:00Z

#[test]
fn golden_key() {
    let k = key();
    let did = DidKey::of(&k);
    assert_eq!(
        did.to_string(),
        "did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd"
    );
    assert_eq!(
        secret_multikey(&k),
        "z3u2RDpgFe6Voz19gxWsBkueKj6XiuC9w1bSBT4FTowsWk6A"
    );
    assert_eq!(
        Account::of(&did).to_string(),
        "btl103a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b88e06cf6f"
    );
}

#[test]
fn golden_manifest() {
    let signed = manifest().sign(&key(), SIGNED_AT).unwrap();
    let canonical = String::from_utf8(signed.canonical_bytes()).unwrap();
    assert_eq!(canonical, CANONICAL);
    assert_eq!(
        signed.id().to_hex(),
        "daebe57ca75528148858da9c5ba5ad99749ef0d667b0d66e3c2485f4715d80e9"
    );
    // It parses back to the same manifest, verified.
    let back = SignedManifest::parse(canonical.as_bytes()).unwrap();
    assert_eq!(back.manifest(), &manifest());
    assert_eq!(back.id(), signed.id());
}

#[test]
fn golden_prov_file() {
    let signed = manifest().sign(&key(), SIGNED_AT).unwrap();
    let text = ProvFile::new(&signed).to_json_pretty();
    assert_eq!(text, PROV);
    let back = ProvFile::parse(text.as_bytes()).unwrap();
    assert_eq!(back.manifest().unwrap().id(), signed.id());
    assert_eq!(back.receipt, None);
}

const PROV: &str = include_str!("data/golden.prov");

const CANONICAL: &str = r#"{"created":"2025-01-01T00:00:00Z","creator":"did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd","files":[{"length":"31337000000","path":"cd1/01 – Ouverture.flac","piecesRoot":"1111111111111111111111111111111111111111111111111111111111111111"},{"length":"0","path":"empty.txt"}],"infohashV1":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","infohashV2":"1220abababababababababababababababababababababababababababababababab","license":{"spdx":"CC-BY-NC-4.0","terms":{"commercialUse":false,"distributionLimit":"1000","regions":["DE","FR"]}},"name":"Golden Album","payment":{"address":"btl103a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b88e06cf6f","splits":[{"account":"btl103a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b88e06cf6f","bps":7000},{"account":"btl1222222222222222222222222222222222222222222222222222222222222222265e9b2a1","bps":3000}]},"pieceLength":"262144","proof":{"created":"2025-01-01T01:00:00Z","cryptosuite":"eddsa-jcs-2022","proofPurpose":"assertionMethod","proofValue":"z5E2S8Ptx28RarmSXd8oBAiveV4r7L42YdkLRus6Vrb74fLV8xRmUWn677tjvQY4UQMGyURA68K7t5dmEeCb1JSwf","type":"DataIntegrityProof","verificationMethod":"did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd#z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd"},"type":"BtlManifest","version":1}"#;
