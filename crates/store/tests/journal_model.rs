//! Model check of the resume journal: random sequences of `record`,
//! `forget`, `barrier` and restarts, then a crash that cuts the journal at
//! a random byte. What `Resume::open` recovers must equal a simple model
//! run over exactly the operations whose bytes made it to the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use btl_store::{Preallocate, Resume};
use common::{open_dest, v1_odd};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone, Copy)]
enum Op {
    Record(u32),
    Forget(u32),
    Barrier,
    /// Drop the journal (no close) and open it again, as after a crash
    /// that lost nothing.
    Reopen,
}

/// The model: what is durable, what is pending, what awaits a recheck.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Model {
    durable: BTreeSet<u32>,
    pending: BTreeSet<u32>,
    suspect: BTreeSet<u32>,
}

impl Model {
    fn apply(&mut self, op: Op) {
        match op {
            Op::Record(p) => {
                self.pending.insert(p);
            }
            Op::Forget(p) => {
                self.durable.remove(&p);
                self.pending.remove(&p);
                self.suspect.remove(&p);
            }
            Op::Barrier => {
                for p in std::mem::take(&mut self.pending) {
                    self.suspect.remove(&p);
                    self.durable.insert(p);
                }
            }
            Op::Reopen => self.reopen(),
        }
    }

    fn reopen(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.suspect.extend(pending);
        for p in &self.durable {
            self.suspect.remove(p);
        }
    }
}

fn op(pieces: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..pieces).prop_map(Op::Record),
        1 => (0..pieces).prop_map(Op::Forget),
        2 => Just(Op::Barrier),
        1 => Just(Op::Reopen),
    ]
}

#[test]
fn recovery_matches_the_model_at_every_cut() {
    // 1000 bytes in 5-byte pieces: 200 pieces over three files (HaveBits
    // and RecheckBits records cross a 160-piece chunk).
    let fx = v1_odd("t", &[("a", 333), ("b", 333), ("c", 334)], 5);
    let storage = open_dest(&fx, &fx.dest("dl"), Preallocate::Sparse);
    let id = fx.torrent.info_hashes().wire_id();
    let n = storage.layout().piece_count();
    let case = AtomicUsize::new(0);

    let strategy = (
        prop::collection::vec(op(n), 1..40),
        any::<prop::sample::Index>(),
    );
    let mut runner = TestRunner::new(Config::with_cases(96));
    runner
        .run(&strategy, |(ops, cut)| {
            let path = fx.dest(&format!("j{}", case.fetch_add(1, Ordering::Relaxed)));
            let (mut r, _) = Resume::open(&path, id, &storage).unwrap();
            r.set_compact_min(u64::MAX);
            let mut model = Model::default();
            // The model after each operation, and where the journal ended.
            // A reopen rewrites the file: cuts only go after the last one.
            let mut states = vec![(r.journal_len(), model.clone())];
            for &o in &ops {
                match o {
                    Op::Record(p) => r.record(p).unwrap(),
                    Op::Forget(p) => r.forget(p).unwrap(),
                    Op::Barrier => r.barrier(&storage).unwrap(),
                    Op::Reopen => {
                        drop(r);
                        let (again, rec) = Resume::open(&path, id, &storage).unwrap();
                        r = again;
                        r.set_compact_min(u64::MAX);
                        model.reopen();
                        prop_assert_eq!(
                            rec.have.iter_ones().collect::<BTreeSet<_>>(),
                            model.durable.clone()
                        );
                        prop_assert_eq!(
                            rec.recheck.iter().copied().collect::<BTreeSet<_>>(),
                            model.suspect.clone()
                        );
                        states.clear();
                        states.push((r.journal_len(), model.clone()));
                        continue;
                    }
                }
                model.apply(o);
                states.push((r.journal_len(), model.clone()));
            }
            drop(r);
            let bytes = fs::read(&path).unwrap();
            let start = states[0].0 as usize;
            let at = start + cut.index(bytes.len() - start + 1);
            fs::write(&path, &bytes[..at]).unwrap();
            let (_, want) = states
                .iter()
                .rev()
                .find(|(len, _)| *len as usize <= at)
                .unwrap()
                .clone();
            let mut want = want;
            want.reopen();
            let (_, rec) = Resume::open(&path, id, &storage).unwrap();
            prop_assert_eq!(rec.have.iter_ones().collect::<BTreeSet<_>>(), want.durable);
            prop_assert_eq!(
                rec.recheck.iter().copied().collect::<BTreeSet<_>>(),
                want.suspect
            );
            prop_assert!(rec.changed_files.is_empty());
            Ok(())
        })
        .unwrap();
}
