//! Manifest verifications per second on one core.
//!
//! ```text
//! cargo run -p btl-manifest --release --example verify_bench [-- FILES_PER_MANIFEST [COUNT]]
//! ```
//!
//! Builds COUNT (default 4096) distinct manifests, each signed by its own
//! key, with FILES_PER_MANIFEST (default 8) files, and measures on the
//! current thread:
//!
//! - **full, one by one**: bytes → bounded parse → shape and field checks →
//!   proof checks → strict Ed25519 verification (`SignedManifest::parse`);
//! - **full, batched**: the same with the signatures checked 64 at a time
//!   by Ed25519 batch verification;
//! - **signature only**, single and batched, to show where the time goes.
//!
//! Prints a Markdown table (as in BENCHMARKS.md).

// A benchmark: a failure to verify is a bug to see at once.
#![allow(clippy::expect_used)]

use std::time::Instant;

use btl_manifest::di;
use btl_manifest::{DidKey, License, Manifest, ManifestFile, SignedManifest, SigningKey};
use btl_types::{Sha1Hash, Sha256Hash};

const BATCH: usize = 64;

fn manifest(i: u32, files: usize) -> (SigningKey, Manifest) {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    let key = SigningKey::from_bytes(&seed);
    let m = Manifest {
        creator: DidKey::of(&key),
        created: 1_735_689_600 + i64::from(i),
        name: format!("Release {i}"),
        infohash_v2: Sha256Hash([(i % 251) as u8; 32]),
        infohash_v1: Some(Sha1Hash([(i % 13) as u8; 20])),
        piece_length: 1 << 20,
        files: (0..files)
            .map(|f| ManifestFile {
                path: vec!["disc 1".into(), format!("{f:02} - track number {f}.flac")],
                length: 30_000_000 + f as u64 * 1234,
                pieces_root: Some(Sha256Hash([(f % 256) as u8; 32])),
            })
            .collect(),
        license: License {
            spdx: "CC-BY-NC-4.0".into(),
            terms: None,
        },
        payment: None,
    };
    (key, m)
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:.0}", n as f64 / secs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let files: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let count: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4096);

    eprintln!("signing {count} manifests of {files} files...");
    let docs: Vec<Vec<u8>> = (0..count as u32)
        .map(|i| {
            let (k, m) = manifest(i, files);
            m.sign(&k, 1_735_700_000).expect("sign").canonical_bytes()
        })
        .collect();
    let avg = docs.iter().map(Vec::len).sum::<usize>() / docs.len();

    // Warm up, and check every one verifies.
    for d in &docs {
        SignedManifest::parse(d).expect("verifies");
    }

    let rounds = 3;
    let mut best = [f64::MAX; 4];
    let mut prepared = Vec::new();
    for _ in 0..rounds {
        // 1. Full, one by one.
        let t = Instant::now();
        for d in &docs {
            let m = SignedManifest::parse(d).expect("verifies");
            std::hint::black_box(m);
        }
        best[0] = best[0].min(t.elapsed().as_secs_f64());

        // 2. Full, batched.
        let t = Instant::now();
        for chunk in docs.chunks(BATCH) {
            let mut ps = Vec::with_capacity(chunk.len());
            for d in chunk {
                let (m, p) = SignedManifest::parse_unverified(d).expect("parses");
                std::hint::black_box(m);
                ps.push(p);
            }
            let ok = di::verify_prepared_batch(&ps);
            assert!(ok.iter().all(|&b| b));
        }
        best[1] = best[1].min(t.elapsed().as_secs_f64());

        prepared = docs
            .iter()
            .map(|d| SignedManifest::parse_unverified(d).expect("parses").1)
            .collect();
        // 3. Signature only, single.
        let t = Instant::now();
        for p in &prepared {
            di::verify_prepared(p).expect("verifies");
        }
        best[2] = best[2].min(t.elapsed().as_secs_f64());
        // 4. Signature only, batched.
        let t = Instant::now();
        for chunk in prepared.chunks(BATCH) {
            assert!(di::verify_prepared_batch(chunk).iter().all(|&b| b));
        }
        best[3] = best[3].min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&prepared);

    println!("Manifests of {files} files, {avg} bytes canonical on average; one core; best of {rounds} runs over {count}.\n");
    println!("| what | per second | µs each |");
    println!("|---|---:|---:|");
    let rows = [
        "full verification, one by one (parse, fields, proof, strict Ed25519)",
        "full verification, Ed25519 batched by 64",
        "Ed25519 only, one by one (verify_strict)",
        "Ed25519 only, batched by 64",
    ];
    for (name, secs) in rows.iter().zip(best) {
        println!(
            "| {name} | {} | {:.1} |",
            rate(count, secs),
            secs * 1e6 / count as f64
        );
    }
}
