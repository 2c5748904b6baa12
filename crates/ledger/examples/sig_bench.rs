//! Signature checking speed: RFC 8032 strict (ed25519-dalek), the ledger's
//! rule one by one, and the ledger's batches, per signature, on the same
//! signatures in one run.
//!
//! ```text
//! cargo run --release -p btl-ledger --example sig_bench [signatures] [distinct keys]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use btl_ledger::sig::{verify, verify_batch, Item};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(4096, |a| a.parse().expect("signatures"));
    let keys: usize = args.next().map_or(n, |a| a.parse().expect("distinct keys"));
    let signers: Vec<SigningKey> = (0..keys)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("transaction {i:0>200}").into_bytes())
        .collect();
    let sigs: Vec<([u8; 32], [u8; 64])> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let k = &signers[i % keys];
            (k.verifying_key().to_bytes(), k.sign(m).to_bytes())
        })
        .collect();
    let items: Vec<Item<'_>> = msgs
        .iter()
        .zip(&sigs)
        .map(|(m, (k, s))| Item {
            key: k,
            msg: m,
            sig: s,
        })
        .collect();
    let per = |t: Instant| t.elapsed().as_secs_f64() * 1e6 / n as f64;

    let t = Instant::now();
    for i in &items {
        let k = VerifyingKey::from_bytes(i.key).unwrap();
        assert!(k
            .verify_strict(i.msg, &ed25519_dalek::Signature::from_bytes(i.sig))
            .is_ok());
    }
    let strict = per(t);
    let t = Instant::now();
    for i in &items {
        assert!(verify(i.key, i.msg, i.sig));
    }
    let single = per(t);
    println!("{n} signatures, {keys} distinct keys (µs per signature)");
    println!("strict RFC 8032, one by one: {strict:.1}");
    println!(
        "ledger rule, one by one:     {single:.1}  ({:.2}× strict)",
        single / strict
    );
    for size in [16usize, 64, 256, 1024] {
        let t = Instant::now();
        for chunk in items.chunks(size) {
            assert!(verify_batch(chunk).iter().all(|ok| *ok));
        }
        let b = per(t);
        println!(
            "ledger rule, batches of {size:>4}: {b:.1}  ({:.2}× strict)",
            b / strict
        );
    }
}
