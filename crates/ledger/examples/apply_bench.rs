//! Measures the ledger's state transition on one core: a block of
//! register-torrent transactions from distinct accounts, on top of a state
//! that already holds many torrents.
//!
//! ```text
//! cargo run -p btl-ledger --release --example apply_bench [-- TXS [PREFILL]]
//! ```
//!
//! Defaults: 5,000 transactions per block, 100,000 torrents already
//! registered. Prints admission (`check_tx`), `build_block`, and
//! `apply_block` with and without the admission signature cache.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use btl_ledger::ed25519_dalek::SigningKey;
use btl_ledger::*;

fn key(i: u32) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    SigningKey::from_bytes(&seed)
}

fn registration(creator: Address, n: u64) -> RegisterTorrent {
    let mut ih = [0u8; 32];
    ih[..8].copy_from_slice(&n.to_be_bytes());
    ih[8..16].copy_from_slice(&creator.0[..8]);
    RegisterTorrent {
        manifest_hash: ih,
        infohash_v2: ih,
        infohash_v1: Some(ih[..20].try_into().unwrap_or([0; 20])),
        creator,
        file_roots: vec![[0x42; 32]; 2],
        name: format!("benchmark torrent number {n}"),
        size: 1_234_567_890,
        license: "CC-BY-SA-4.0".into(),
    }
}

/// CPU time of this thread, in seconds (the machine may be shared, so wall
/// time overstates the cost; both are printed).
fn cpu_time() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

/// Runs `f`, returns its result with (wall, cpu) seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let c = cpu_time();
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64(), cpu_time() - c)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let txs: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let prefill: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let chain = "bench";
    let validator = key(u32::MAX);
    let vpk = PublicKey::from_signing_key(&validator);
    let mut genesis = Genesis::single_validator(chain, vpk, 1_000_000, 0);
    genesis.params.max_block_txs = txs.max(5_000);
    let keys: Vec<SigningKey> = (0..txs).map(key).collect();
    for k in &keys {
        genesis.accounts.push(GenesisAccount {
            address: PublicKey::from_signing_key(k).address(),
            balance: 1_000_000_000,
        });
    }
    let (diff, _) = genesis.build().expect("genesis");
    let mut state = MemState::new();
    state.apply_owned(diff);
    let ctx = |t: u64| BuildContext {
        time_ms: t,
        proposer: vpk.address(),
        max_txs: None,
        max_bytes: None,
    };
    let mut serial: u64 = 0;
    let height_txs = |state: &MemState, serial: &mut u64| -> Vec<SignedTx> {
        keys.iter()
            .map(|k| {
                let from = PublicKey::from_signing_key(k).address();
                let nonce = query::account(state, &from)
                    .ok()
                    .flatten()
                    .map_or(0, |a| a.nonce);
                *serial += 1;
                Tx {
                    from,
                    nonce,
                    fee: 1,
                    body: TxBody::RegisterTorrent(registration(from, *serial)),
                }
                .sign(chain, k)
            })
            .collect()
    };

    // Prefill: blocks of `txs` registrations until `prefill` torrents exist.
    let t0 = Instant::now();
    let mut t = 1000;
    let mut cache = VerifiedSigs::new();
    while serial < u64::from(prefill) {
        let batch = height_txs(&state, &mut serial);
        for stx in &batch {
            let c = check_tx(&state, stx).expect("valid");
            cache.insert(c.id, stx.signature, c.key);
        }
        t += 1000;
        let built = build_block(&state, &ctx(t), batch, &cache).expect("build");
        assert!(built.rejected.is_empty());
        state.apply_owned(built.diff);
        cache = VerifiedSigs::new();
    }
    eprintln!(
        "prefill: {serial} torrents, {} state entries, in {:.1} s",
        state.len(),
        t0.elapsed().as_secs_f64()
    );

    // The measured block.
    let batch = height_txs(&state, &mut serial);
    let bytes: usize = batch.iter().map(|s| s.encode().len()).sum();

    let (cache, admit, admit_cpu) = timed(|| {
        let mut cache = VerifiedSigs::new();
        for stx in &batch {
            let c = check_tx(&state, stx).expect("valid");
            cache.insert(c.id, stx.signature, c.key);
        }
        cache
    });
    t += 1000;
    let (built, build, build_cpu) =
        timed(|| build_block(&state, &ctx(t), batch.clone(), &cache).expect("build"));
    assert!(built.rejected.is_empty());
    assert_eq!(built.block.txs.len(), txs as usize);
    let (applied, apply_c, apply_c_cpu) =
        timed(|| apply_block_with(&state, &built.block, &cache).expect("apply"));
    // For profiling: BENCH_REPEAT=N applies the block N more times.
    let repeat: u32 = std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for _ in 0..repeat {
        apply_block_with(&state, &built.block, &cache).expect("apply");
    }
    let (cold, apply_v, apply_v_cpu) = timed(|| apply_block(&state, &built.block).expect("apply"));
    assert_eq!(cold.diff, applied.diff);
    let (dec, codec, codec_cpu) = timed(|| Block::decode(&built.block.encode()).expect("decode"));
    assert_eq!(dec, built.block);

    let n = f64::from(txs);
    println!("block: {txs} register-torrent txs ({bytes} bytes), state had {prefill} torrents");
    println!("  diff: {} writes", applied.diff.len());
    let row = |what: &str, wall: f64, cpu: f64| {
        println!(
            "  {what:<44} cpu {cpu:.3} s ({:>6.0} tx/s)   wall {wall:.3} s",
            n / cpu
        );
    };
    row(
        "check_tx (admission, verifies signatures)",
        admit,
        admit_cpu,
    );
    row("build_block (signatures cached)", build, build_cpu);
    row("apply_block (signatures cached)", apply_c, apply_c_cpu);
    row(
        "apply_block (verifies every signature)",
        apply_v,
        apply_v_cpu,
    );
    row("block encode + decode", codec, codec_cpu);
    println!(
        "  one validator, admission + build (its apply is the build): {:.0} tx/s of CPU",
        n / (admit_cpu + build_cpu)
    );
}
