//! The state tree against a naive model: any sequence of batched updates
//! gives the root computed from scratch, leaves no stale nodes, and proofs
//! verify for presence and absence (and fail for anything else).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use btl_ledger::smt::{self, Hash, EMPTY};
use btl_ledger::{MemState, StateDiff, StateRead};
use proptest::prelude::*;

fn bit(h: &Hash, d: usize) -> bool {
    (h[d / 8] >> (7 - d % 8)) & 1 == 1
}

fn naive_root(entries: &[(Hash, Hash)], depth: usize) -> Hash {
    match entries {
        [] => EMPTY,
        [(k, v)] => smt::leaf_hash(k, v),
        _ => {
            let split = entries.partition_point(|(k, _)| !bit(k, depth));
            smt::interior_hash(
                &naive_root(&entries[..split], depth + 1),
                &naive_root(&entries[split..], depth + 1),
            )
        }
    }
}

fn model_root(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Hash {
    let mut e: Vec<(Hash, Hash)> = model
        .iter()
        .map(|(k, v)| (smt::key_hash(k), smt::value_hash(v)))
        .collect();
    e.sort();
    naive_root(&e, 0)
}

/// Applies one batch to both the tree (in `state`) and the model.
fn apply_batch(
    state: &mut MemState,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    batch: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Hash {
    let mut updates = Vec::new();
    for (k, v) in batch {
        updates.push((smt::key_hash(k), v.as_deref().map(smt::value_hash)));
        match v {
            Some(v) => {
                model.insert(k.clone(), v.clone());
            }
            None => {
                model.remove(k);
            }
        }
    }
    let mut diff = StateDiff::new();
    let root = smt::update(&*state, updates, |k, v| diff.put(k, v)).unwrap();
    for (k, v) in batch {
        diff.put(k.clone(), v.clone());
    }
    state.apply(&diff);
    root
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // A small key space so that updates hit existing keys often.
    (0u16..400).prop_map(|i| format!("a{i}").into_bytes())
}

fn batch_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, Option<Vec<u8>>)>> {
    prop::collection::vec(
        (
            key_strategy(),
            prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..8)),
        ),
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_match_model(batches in prop::collection::vec(batch_strategy(), 1..8)) {
        let mut state = MemState::new();
        let mut model = BTreeMap::new();
        for b in &batches {
            let root = apply_batch(&mut state, &mut model, b);
            prop_assert_eq!(root, model_root(&model));
            prop_assert_eq!(smt::root(&state).unwrap(), root);
        }
        // No stale nodes: the node count is exactly what the model needs
        // (n leaves, n - 1 interior nodes... plus one-child chains), so
        // compare with a tree rebuilt from scratch in one batch.
        let mut fresh = MemState::new();
        let mut m2 = BTreeMap::new();
        let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        apply_batch(&mut fresh, &mut m2, &all);
        let nodes = |s: &MemState| {
            let mut v: Vec<(Vec<u8>, Vec<u8>)> = s
                .iter()
                .filter(|(k, _)| k.starts_with(b"xp"))
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            v.sort();
            v
        };
        prop_assert_eq!(nodes(&state), nodes(&fresh));

        // Proofs: every present key, and some absent ones.
        let root = model_root(&model);
        for (k, v) in model.iter().take(40) {
            let p = smt::prove(&state, k).unwrap();
            p.verify(&root, k, Some(v)).unwrap();
            prop_assert!(p.verify(&root, k, None).is_err());
            let mut wrong = v.clone();
            wrong.push(1);
            prop_assert!(p.verify(&root, k, Some(&wrong)).is_err());
            let back = smt::StateProof::decode(&p.encode()).unwrap();
            prop_assert_eq!(&back, &p);
        }
        for i in 400..420u16 {
            let k = format!("a{i}").into_bytes();
            let p = smt::prove(&state, &k).unwrap();
            p.verify(&root, &k, None).unwrap();
            prop_assert!(p.verify(&root, &k, Some(b"x")).is_err());
            let mut bad_root = root;
            bad_root[0] ^= 1;
            prop_assert!(p.verify(&bad_root, &k, None).is_err());
        }
    }
}

#[test]
fn empty_and_single() {
    let mut state = MemState::new();
    assert_eq!(smt::root(&state).unwrap(), EMPTY);
    let p = smt::prove(&state, b"k").unwrap();
    p.verify(&EMPTY, b"k", None).unwrap();
    let mut model = BTreeMap::new();
    let root = apply_batch(
        &mut state,
        &mut model,
        &[(b"k".to_vec(), Some(b"v".to_vec()))],
    );
    assert_eq!(
        root,
        smt::leaf_hash(&smt::key_hash(b"k"), &smt::value_hash(b"v"))
    );
    smt::prove(&state, b"k")
        .unwrap()
        .verify(&root, b"k", Some(b"v"))
        .unwrap();
    // Absence next to a single leaf: the proof ends at the other leaf.
    smt::prove(&state, b"other")
        .unwrap()
        .verify(&root, b"other", None)
        .unwrap();
    let root = apply_batch(&mut state, &mut model, &[(b"k".to_vec(), None)]);
    assert_eq!(root, EMPTY);
    assert_eq!(state.len(), 0);
}

#[test]
fn corrupt_node_is_an_error() {
    let mut state = MemState::new();
    let mut model = BTreeMap::new();
    apply_batch(
        &mut state,
        &mut model,
        &[
            (b"a".to_vec(), Some(vec![1])),
            (b"b".to_vec(), Some(vec![2])),
        ],
    );
    let mut diff = StateDiff::new();
    diff.put(b"xp\0\0".to_vec(), Some(vec![9; 3]));
    state.apply(&diff);
    assert!(smt::root(&state).is_err());
    assert!(smt::prove(&state, b"a").is_err());
    assert!(state.get(b"a").is_some());
}
