//! The fuzz entry points on a few thousand deterministic inputs, so that
//! `cargo test` exercises them without cargo-fuzz (which `scripts/fuzz.sh`
//! runs for longer).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_ledger::fuzz::{fuzz_apply, fuzz_block, fuzz_sig_batch, fuzz_state_tree, fuzz_tx};

/// xorshift64*: deterministic bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn fuzz_entry_points_hold_on_random_inputs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..3000 {
        let n = (rng.next() % 400) as usize;
        let mut data = rng.bytes(n);
        // Make many inputs start like a real transaction / block.
        if i % 2 == 0 && !data.is_empty() {
            data[0] = 1;
        }
        fuzz_tx(&data);
        fuzz_block(&data);
    }
    for _ in 0..300 {
        let n = (rng.next() % 600) as usize;
        let mut data = rng.bytes(n);
        if let Some(b) = data.first_mut() {
            *b = 1;
        }
        fuzz_apply(&data);
    }
}

#[test]
fn signature_batches_agree_with_single_checks_on_random_inputs() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..300 {
        let n = (rng.next() % 300) as usize;
        let mut data = rng.bytes(n);
        // Mostly real signatures, some of them changed.
        if i % 3 != 0 {
            for (j, b) in data.iter_mut().enumerate() {
                if j % 4 == 0 {
                    *b |= 1;
                }
            }
        }
        fuzz_sig_batch(&data);
    }
    // Sixteen untouched real signatures (modes 1: valid) pass as a batch.
    let mut all_good = Vec::new();
    for k in 0..16u8 {
        all_good.extend_from_slice(&[1, k, k, 0]);
    }
    fuzz_sig_batch(&all_good);
}

#[test]
fn a_corrupt_state_tree_page_is_an_error_not_a_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for i in 0..400u32 {
        let mut data = vec![(i % 4) as u8];
        if i % 4 == 1 || i % 4 == 3 {
            // A page at a fuzzed position: depth (often deep, up to and past
            // the tree's 256 levels), then prefix bytes.
            let depth = [4u16, 8, 12, 252, 256, 260, rng.next() as u16][i as usize % 7];
            data.extend_from_slice(&depth.to_be_bytes());
            data.extend_from_slice(&rng.bytes(2));
        } else {
            data.push(rng.next() as u8);
        }
        if i % 2 == 0 {
            // Well-formed pages with wrong nodes: a bitmap, then nodes
            // whose tags are mostly valid.
            let map = (rng.next() as u16) & 0x7fff;
            data.extend_from_slice(&map.to_be_bytes());
            for _ in 0..map.count_ones() {
                let mut node = rng.bytes(65);
                node[0] %= 3;
                if rng.next().is_multiple_of(3) {
                    node[1..].fill(0);
                }
                data.extend_from_slice(&node);
            }
        } else {
            let n = (rng.next() % 300) as usize;
            data.extend_from_slice(&rng.bytes(n));
        }
        fuzz_state_tree(&data);
    }
}

#[test]
fn fuzz_apply_accepts_real_blocks() {
    // Mode 0 with an empty or garbage block never panics.
    fuzz_apply(&[0]);
    fuzz_apply(&[0, 1, 2, 3]);
    fuzz_apply(&[]);
}
