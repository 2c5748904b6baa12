//! Manifest verifications per second on one core.
//!
//! ```text
//! cargo run -p btl-manifest --release --example verify_bench [-- FILES_PER_MANIFEST [COUNT [BATCH]]]
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
//! Prints a Markdown table (as in BENCHMARKS.md). "Per CPU-second" divides
//! by the CPU time this thread got (Linux `/proc/thread-self/schedstat`),
//! so it is the per-core rate even on a busy machine; "per wall-second"
//! divides by elapsed time.

// A benchmark: a failure to verify is a bug to see at once.
#![allow(clippy::expect_used)]

use std::time::Instant;

use btl_manifest::di;
use btl_manifest::{DidKey, License, Manifest, ManifestFile, SignedManifest, SigningKey};
use btl_types::{Sha1Hash, Sha256Hash};

/// Default signatures per batch.
const BATCH: usize = di::BATCH_SIZE;

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

/// CPU time this thread has run, in seconds (Linux), else `None`.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Runs `f`, returning (wall seconds, CPU seconds).
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let c0 = cpu_secs();
    let t = Instant::now();
    f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_secs()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    (wall, cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let files: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let count: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let batch: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(BATCH)
        .max(1);

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
    // Best (wall, cpu) per row.
    let mut best = [(f64::MAX, f64::MAX); 4];
    let mut keep = |i: usize, (w, c): (f64, f64)| {
        best[i] = (best[i].0.min(w), best[i].1.min(c));
    };
    let prepared: Vec<di::Prepared> = docs
        .iter()
        .map(|d| SignedManifest::parse_unverified(d).expect("parses").1)
        .collect();
    for _ in 0..rounds {
        // 1. Full, one by one.
        keep(
            0,
            timed(|| {
                for d in &docs {
                    let m = SignedManifest::parse(d).expect("verifies");
                    std::hint::black_box(m);
                }
            }),
        );
        // 2. Full, batched.
        keep(
            1,
            timed(|| {
                for chunk in docs.chunks(batch) {
                    let mut ps = Vec::with_capacity(chunk.len());
                    for d in chunk {
                        let (m, p) = SignedManifest::parse_unverified(d).expect("parses");
                        std::hint::black_box(m);
                        ps.push(p);
                    }
                    let ok = di::verify_prepared_batch(&ps);
                    assert!(ok.iter().all(|&b| b));
                }
            }),
        );
        // 3. Signature only, single.
        keep(
            2,
            timed(|| {
                for p in &prepared {
                    di::verify_prepared(p).expect("verifies");
                }
            }),
        );
        // 4. Signature only, batched.
        keep(
            3,
            timed(|| {
                for chunk in prepared.chunks(batch) {
                    assert!(di::verify_prepared_batch(chunk).iter().all(|&b| b));
                }
            }),
        );
    }
    std::hint::black_box(&prepared);

    println!("Manifests of {files} files, {avg} bytes canonical on average; one core; best of {rounds} runs over {count}.\n");
    println!("| what | per CPU-second (one core) | µs CPU each | per wall-second |");
    println!("|---|---:|---:|---:|");
    let rows = [
        &"full verification, one by one (parse, fields, proof, strict Ed25519)".to_string(),
        &format!("full verification, Ed25519 batched by {batch}"),
        &"Ed25519 only, one by one (verify_strict)".to_string(),
        &format!("Ed25519 only, batched by {batch}"),
    ];
    for (name, (wall, cpu)) in rows.iter().zip(best) {
        println!(
            "| {name} | {} | {:.1} | {} |",
            rate(count, cpu),
            cpu * 1e6 / count as f64,
            rate(count, wall)
        );
    }
}
