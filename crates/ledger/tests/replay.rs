//! Random blocks: replaying them from genesis gives the same state roots,
//! supply is conserved, and the state root always equals a root recomputed
//! from scratch over the authenticated entries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};

use btl_ledger::ed25519_dalek::SigningKey;
use btl_ledger::smt::{self, Hash, EMPTY};
use btl_ledger::state::is_authenticated;
use btl_ledger::*;
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Transfer { from: u8, to: u8, amount: u64 },
    Stake { from: u8, amount: u64 },
    Unstake { from: u8, amount: u64 },
    Register { from: u8, n: u32, v1: bool },
    Tracker { from: u8, n: u8, retire: bool },
    Rotate { from: u8 },
    BadNonce { from: u8 },
    Overdraft { from: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 1u8..=9;
    prop_oneof![
        4 => (who.clone(), 1u8..=12, 1u64..50_000).prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        2 => (who.clone(), 1u64..100_000).prop_map(|(from, amount)| Op::Stake { from, amount }),
        2 => (who.clone(), 1u64..100_000).prop_map(|(from, amount)| Op::Unstake { from, amount }),
        4 => (who.clone(), 0u32..40, any::<bool>()).prop_map(|(from, n, v1)| Op::Register { from, n, v1 }),
        2 => (who.clone(), 0u8..4, any::<bool>()).prop_map(|(from, n, retire)| Op::Tracker { from, n, retire }),
        1 => who.clone().prop_map(|from| Op::Rotate { from }),
        1 => who.clone().prop_map(|from| Op::BadNonce { from }),
        1 => who.prop_map(|from| Op::Overdraft { from }),
    ]
}

struct Keys {
    current: HashMap<u8, SigningKey>,
    next: u8,
}

impl Keys {
    fn new() -> Self {
        Self {
            current: (1..=12u8).map(|i| (i, key(i))).collect(),
            next: 100,
        }
    }
}

fn to_txs(c: &Chain, keys: &mut Keys, ops: &[Op]) -> Vec<SignedTx> {
    let mut nonces: HashMap<u8, u64> = HashMap::new();
    let mut out = Vec::new();
    for op in ops {
        let from = match op {
            Op::Transfer { from, .. }
            | Op::Stake { from, .. }
            | Op::Unstake { from, .. }
            | Op::Register { from, .. }
            | Op::Tracker { from, .. }
            | Op::Rotate { from }
            | Op::BadNonce { from }
            | Op::Overdraft { from } => *from,
        };
        let n = nonces.entry(from).or_insert_with(|| c.nonce(&addr(from)));
        let mut nonce = *n;
        let body = match op {
            Op::Transfer { to, amount, .. } => TxBody::Transfer {
                to: addr(*to),
                amount: *amount,
            },
            Op::Stake { amount, .. } => TxBody::Stake { amount: *amount },
            Op::Unstake { amount, .. } => TxBody::Unstake { amount: *amount },
            Op::Register { n, v1, .. } => {
                let mut r = registration(addr(from), *n);
                if *v1 {
                    r.infohash_v1 = Some([*n as u8; 20]);
                }
                TxBody::RegisterTorrent(r)
            }
            Op::Tracker { n, retire, .. } => {
                let url = format!("http://t{n}.example/announce");
                if *retire {
                    TxBody::RetireTracker { url }
                } else {
                    TxBody::RegisterTracker { url }
                }
            }
            Op::Rotate { .. } => {
                keys.next = keys.next.wrapping_add(1).max(100);
                TxBody::RotateKey {
                    new_key: pk(keys.next),
                    revoke_old: keys.next.is_multiple_of(2),
                }
            }
            Op::BadNonce { .. } => {
                nonce += 7;
                TxBody::Stake { amount: 1 }
            }
            Op::Overdraft { .. } => TxBody::Transfer {
                to: addr(1),
                amount: u64::MAX / 2,
            },
        };
        let signer = keys.current[&from].clone();
        let stx = Tx {
            from: addr(from),
            nonce,
            fee: 3,
            body,
        }
        .sign(CHAIN, &signer);
        // Assume it lands; a rejected one leaves a gap that later ones of
        // this sender fall into (exercising rejection further).
        if !matches!(op, Op::BadNonce { .. } | Op::Overdraft { .. }) {
            *n += 1;
        }
        out.push(stx);
    }
    out
}

/// Re-reads every account's current key from state.
fn sync_keys(c: &Chain, keys: &mut Keys) {
    for i in 1..=12u8 {
        if let Some(acc) = query::account(&c.state, &addr(i)).unwrap() {
            if let Some(k) = acc.key {
                let seed = (100..=255u8).find(|s| pk(*s) == k).unwrap();
                keys.current.insert(i, key(seed));
            }
        }
    }
}

fn naive_root(entries: &[(Hash, Hash)], depth: usize) -> Hash {
    let bit = |h: &Hash| (h[depth / 8] >> (7 - depth % 8)) & 1 == 1;
    match entries {
        [] => EMPTY,
        [(k, v)] => smt::leaf_hash(k, v),
        _ => {
            let split = entries.partition_point(|(k, _)| !bit(k));
            smt::interior_hash(
                &naive_root(&entries[..split], depth + 1),
                &naive_root(&entries[split..], depth + 1),
            )
        }
    }
}

fn scratch_root(state: &MemState) -> Hash {
    let mut e: Vec<(Hash, Hash)> = state
        .iter()
        .filter(|(k, _)| is_authenticated(k))
        .map(|(k, v)| (smt::key_hash(k), smt::value_hash(v)))
        .collect();
    e.sort();
    naive_root(&e, 0)
}

fn supply(state: &MemState) -> u128 {
    state
        .iter()
        .filter(|(k, _)| k.first() == Some(&b'a'))
        .map(|(_, v)| {
            let a = Account::decode(v).unwrap();
            u128::from(a.balance) + u128::from(a.bonded) + u128::from(a.unbonding)
        })
        .sum()
}

fn genesis_many() -> Genesis {
    let mut g = genesis();
    g.params.validator_delay = 2;
    g.params.unbonding_blocks = 2;
    g.params.max_validators = 4;
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_blocks_replay_to_the_same_roots(blocks in prop::collection::vec(prop::collection::vec(op(), 0..25), 1..10)) {
        let g = genesis_many();
        let mut a = Chain::new(&g);
        let mut keys = Keys::new();
        let start_supply = supply(&a.state);
        let mut committed = Vec::new();
        let (mut included, mut rejected) = (0usize, 0usize);
        for ops in &blocks {
            let txs = to_txs(&a, &mut keys, ops);
            let before = a.state.clone();
            let b = a.block(txs);
            included += b.block.txs.len();
            rejected += b.rejected.len();
            // Rejected transactions left no trace: replaying only the
            // included ones from the same state gives the same diff.
            let ctx = BuildContext { time_ms: b.block.header.time_ms, proposer: b.block.header.proposer, max_txs: None, max_bytes: None };
            let again = build_block(&before, &ctx, b.block.txs.clone(), &()).unwrap();
            prop_assert!(again.rejected.is_empty());
            prop_assert_eq!(&again.block, &b.block);
            prop_assert_eq!(supply(&a.state), start_supply);
            prop_assert_eq!(scratch_root(&a.state), b.block.header.state_root);
            sync_keys(&a, &mut keys);
            committed.push(b.block);
        }
        // The generator makes mostly valid transactions, some invalid.
        let total: usize = blocks.iter().map(Vec::len).sum();
        prop_assert_eq!(included + rejected, total);
        if total >= 20 {
            prop_assert!(included > 0);
        }
        // A second node replays the blocks from genesis.
        let mut state = MemState::new();
        state.apply(&g.build().unwrap().0);
        for (i, blk) in committed.iter().enumerate() {
            let decoded = Block::decode(&blk.encode()).unwrap();
            let applied = apply_block(&state, &decoded).unwrap();
            state.apply(&applied.diff);
            prop_assert_eq!(state_root(&state).unwrap(), a.headers[i + 1].state_root);
        }
        // Same entries, byte for byte.
        let dump = |s: &MemState| s.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect::<BTreeMap<_, _>>();
        prop_assert_eq!(dump(&state), dump(&a.state));
    }
}
