//! The state transition, transaction type by type and error by error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use btl_ledger::tlog::{Note, VerifierSet};
use btl_ledger::*;
use common::*;

fn transfer(to: Address, amount: u64) -> TxBody {
    TxBody::Transfer { to, amount }
}

#[test]
fn transfer_moves_funds_pays_fees_and_bumps_nonces() {
    let mut c = Chain::new(&genesis());
    let proposer = c.proposer();
    assert_eq!(proposer, addr(1));
    let before = c.account(&proposer).balance;
    let t1 = c.tx(2, transfer(addr(3), 500));
    let b = c.block_ok(vec![t1.clone()]);
    assert_eq!(c.account(&addr(2)).balance, 1_000_000 - 510);
    assert_eq!(c.account(&addr(3)).balance, 1_000_500);
    assert_eq!(c.account(&proposer).balance, before + 10);
    assert_eq!(c.nonce(&addr(2)), 1);
    let kinds: Vec<_> = b.events.iter().map(|e| e.kind.clone()).collect();
    assert!(kinds.contains(&EventKind::Transfer {
        from: addr(2),
        to: addr(3),
        amount: 500
    }));
    assert!(kinds.contains(&EventKind::FeesPaid {
        proposer,
        amount: 10
    }));
    assert_eq!(b.events[0].tx, Some(t1.id(CHAIN)));
    // A brand-new recipient gets an account.
    let t2 = c.tx(2, transfer(Address([0xee; 32]), 7));
    c.block_ok(vec![t2]);
    assert_eq!(c.account(&Address([0xee; 32])).balance, 7);
}

#[test]
fn check_tx_rejects_bad_transactions_with_clear_reasons() {
    let mut c = Chain::new(&genesis());
    let good = c.tx(2, transfer(addr(3), 1));
    let chk = check_tx(&c.state, &good).unwrap();
    assert_eq!(chk.id, good.id(CHAIN));
    assert_eq!(chk.key, pk(2));

    // Signed by the wrong key.
    let bad = c.tx_by(2, &key(3), transfer(addr(3), 1));
    assert_eq!(check_tx(&c.state, &bad), Err(TxError::BadSignature));
    // Signed for another chain.
    let other = Tx {
        from: addr(2),
        nonce: 0,
        fee: 10,
        body: transfer(addr(3), 1),
    }
    .sign("other-chain", &key(2));
    assert_eq!(check_tx(&c.state, &other), Err(TxError::BadSignature));
    // Tampered after signing.
    let mut tampered = good.clone();
    tampered.tx.body = transfer(addr(3), 2);
    assert_eq!(check_tx(&c.state, &tampered), Err(TxError::BadSignature));
    // Overdraft.
    let over = c.tx(2, transfer(addr(3), 1_000_000));
    assert_eq!(
        check_tx(&c.state, &over),
        Err(TxError::InsufficientFunds {
            need: 1_000_010,
            have: 1_000_000
        })
    );
    // Fee below the minimum.
    let cheap = Tx {
        from: addr(2),
        nonce: 0,
        fee: 0,
        body: transfer(addr(3), 1),
    }
    .sign(CHAIN, &key(2));
    assert_eq!(
        check_tx(&c.state, &cheap),
        Err(TxError::FeeTooLow { fee: 0, min: 1 })
    );
    // Zero amount.
    assert_eq!(
        check_tx(&c.state, &c.tx(2, transfer(addr(3), 0))),
        Err(TxError::ZeroAmount)
    );
    // Unknown sender.
    let ghost = Tx {
        from: addr(42),
        nonce: 0,
        fee: 10,
        body: transfer(addr(3), 1),
    }
    .sign(CHAIN, &key(42));
    assert_eq!(
        check_tx(&c.state, &ghost),
        Err(TxError::UnknownAccount(addr(42)))
    );
    // Malformed bytes.
    assert!(matches!(
        check_tx_bytes(&c.state, b"\x01garbage"),
        Err(TxError::Malformed(_))
    ));
    let mut bytes = good.encode();
    bytes.push(0);
    assert!(matches!(
        check_tx_bytes(&c.state, &bytes),
        Err(TxError::Malformed(DecodeError::TrailingBytes(1)))
    ));
    // Replay: once included, the same transaction is refused.
    c.block_ok(vec![good.clone()]);
    assert_eq!(
        check_tx(&c.state, &good),
        Err(TxError::NonceTooLow {
            expected: 1,
            got: 0
        })
    );
    let b = c.block(vec![good.clone()]);
    assert!(b.block.txs.is_empty());
    assert_eq!(
        b.rejected,
        vec![(
            good.id(CHAIN),
            TxError::NonceTooLow {
                expected: 1,
                got: 0
            }
        )]
    );
    // Nonce window: the mempool accepts a later nonce, a block does not.
    let ahead = Tx {
        from: addr(2),
        nonce: 5,
        fee: 10,
        body: transfer(addr(3), 1),
    }
    .sign(CHAIN, &key(2));
    check_tx(&c.state, &ahead).unwrap();
    let far = Tx {
        from: addr(2),
        nonce: 1 + MAX_NONCE_AHEAD,
        fee: 10,
        body: transfer(addr(3), 1),
    }
    .sign(CHAIN, &key(2));
    assert!(matches!(
        check_tx(&c.state, &far),
        Err(TxError::NonceTooHigh { .. })
    ));
    let b = c.block(vec![ahead.clone()]);
    assert_eq!(
        b.rejected[0].1,
        TxError::NonceTooHigh {
            expected: 1,
            got: 5
        }
    );
    assert!(!b.rejected[0].1.is_permanent());
}

#[test]
fn oversize_transactions_are_rejected() {
    let mut g = genesis();
    g.params.max_tx_bytes = 256;
    let c = Chain::new(&g);
    let mut reg = registration(addr(2), 1);
    reg.file_roots = vec![[1; 32]; 10];
    let tx = c.tx(2, TxBody::RegisterTorrent(reg));
    assert!(matches!(
        check_tx(&c.state, &tx),
        Err(TxError::Oversize { max: 256, .. })
    ));
    // Past the hard limit, decoding refuses before parsing.
    let huge = vec![0u8; MAX_TX_BYTES + 1];
    assert!(matches!(
        SignedTx::decode(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn transactions_in_one_block_see_each_other() {
    let mut c = Chain::new(&genesis());
    let t0 = c.tx(2, transfer(addr(3), 100));
    let t1 = Tx {
        from: addr(2),
        nonce: 1,
        fee: 10,
        body: transfer(addr(4), 100),
    }
    .sign(CHAIN, &key(2));
    // A double spend of the same nonce: only the first gets in.
    let dup = Tx {
        from: addr(2),
        nonce: 1,
        fee: 10,
        body: transfer(addr(5), 100),
    }
    .sign(CHAIN, &key(2));
    let b = c.block(vec![t0, t1, dup.clone()]);
    assert_eq!(b.block.txs.len(), 2);
    assert_eq!(
        b.rejected,
        vec![(
            dup.id(CHAIN),
            TxError::NonceTooLow {
                expected: 2,
                got: 1
            }
        )]
    );
    assert_eq!(c.account(&addr(5)).balance, 1_000_000);
}

fn tamper_and_expect(
    c: &Chain,
    mut block: Block,
    f: impl FnOnce(&mut Block),
    check: impl FnOnce(BlockError),
) {
    f(&mut block);
    let err = apply_block(&c.state, &block).unwrap_err();
    check(err);
}

#[test]
fn apply_block_rejects_bad_blocks() {
    let mut c = Chain::new(&genesis());
    c.block_ok(vec![c.tx(2, transfer(addr(3), 1))]);
    let ctx = BuildContext {
        time_ms: c.time + 1000,
        proposer: addr(1),
        max_txs: None,
        max_bytes: None,
    };
    let txs = vec![c.tx(2, transfer(addr(3), 1)), c.tx(4, transfer(addr(3), 1))];
    let built = build_block(&c.state, &ctx, txs, &()).unwrap();
    apply_block(&c.state, &built.block).unwrap();
    let b = built.block;

    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.height += 1,
        |e| {
            assert!(matches!(
                e,
                BlockError::WrongHeight {
                    expected: 2,
                    found: 3
                }
            ))
        },
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.prev_hash[0] ^= 1,
        |e| assert_eq!(e, BlockError::WrongPrevHash),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.chain_id = "other".into(),
        |e| assert!(matches!(e, BlockError::WrongChain { .. })),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.time_ms = 0,
        |e| assert!(matches!(e, BlockError::TimeTooEarly { .. })),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.proposer = addr(2),
        |e| assert_eq!(e, BlockError::UnknownValidator(addr(2))),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.validators_hash[3] ^= 1,
        |e| assert_eq!(e, BlockError::WrongValidatorsHash),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.state_root[0] ^= 1,
        |e| assert!(matches!(e, BlockError::WrongStateRoot { .. })),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.header.log_size += 1,
        |e| assert_eq!(e, BlockError::WrongLog),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| {
            b.txs.pop();
        },
        |e| assert_eq!(e, BlockError::WrongTxRoot),
    );
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.txs.swap(0, 1),
        |e| assert_eq!(e, BlockError::WrongTxRoot),
    );
    // A bad signature is caught even though the tx root (over ids, which
    // do not cover signatures) still matches.
    tamper_and_expect(
        &c,
        b.clone(),
        |b| b.txs[1].signature[10] ^= 1,
        |e| {
            assert!(
                matches!(
                    e,
                    BlockError::Tx {
                        index: 1,
                        error: TxError::BadSignature,
                        ..
                    }
                ),
                "{e}"
            )
        },
    );
    // Too many transactions for the chain's limit.
    let mut g = genesis();
    g.params.max_block_txs = 1;
    let c2 = Chain::new(&g);
    let mut blk = b.clone();
    blk.header.height = 1;
    assert!(matches!(
        apply_block(&c2.state, &blk),
        Err(BlockError::TooManyTxs { found: 2, max: 1 })
    ));
    // Malformed encodings.
    let enc = b.encode();
    assert_eq!(Block::decode(&enc).unwrap(), b);
    assert!(Block::decode(&enc[..enc.len() - 1]).is_err());
    // The header alone, without decoding the transactions.
    assert_eq!(Block::decode_header(&enc).unwrap(), b.header);
    assert_eq!(Block::decode_header(&b.header.encode()).unwrap(), b.header);
    assert!(Block::decode_header(&enc[..10]).is_err());
    let mut bad = enc.clone();
    bad[0] = 9;
    assert!(matches!(
        Block::decode(&bad),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
}

#[test]
fn build_block_respects_limits() {
    let c = Chain::new(&genesis());
    let txs: Vec<_> = (2..=9u8).map(|i| c.tx(i, transfer(addr(1), 1))).collect();
    let ctx = BuildContext {
        time_ms: 5000,
        proposer: addr(1),
        max_txs: Some(3),
        max_bytes: None,
    };
    let b = build_block(&c.state, &ctx, txs.clone(), &()).unwrap();
    assert_eq!(b.block.txs.len(), 3);
    let one = txs[0].encode().len();
    let ctx = BuildContext {
        time_ms: 5000,
        proposer: addr(1),
        max_txs: None,
        max_bytes: Some(one * 2),
    };
    let b = build_block(&c.state, &ctx, txs.clone(), &()).unwrap();
    assert_eq!(b.block.txs.len(), 2);
    let ctx = BuildContext {
        time_ms: 5000,
        proposer: addr(2),
        max_txs: None,
        max_bytes: None,
    };
    assert_eq!(
        build_block(&c.state, &ctx, txs, &()).unwrap_err(),
        BlockError::UnknownValidator(addr(2))
    );
}

#[test]
fn signature_cache_skips_verification_only_for_the_same_signature() {
    let mut c = Chain::new(&genesis());
    let tx = c.tx(2, transfer(addr(3), 1));
    let chk = check_tx(&c.state, &tx).unwrap();
    let mut cache = VerifiedSigs::new();
    cache.insert(chk.id, tx.signature, chk.key);
    let built = c.block_ok(vec![tx.clone()]);
    let _ = built;
    // A block carrying a forged signature for a cached id is still refused.
    let mut c2 = Chain::new(&genesis());
    let ctx = BuildContext {
        time_ms: 9000,
        proposer: addr(1),
        max_txs: None,
        max_bytes: None,
    };
    let mut b = build_block(&c2.state, &ctx, vec![tx.clone()], &cache)
        .unwrap()
        .block;
    apply_block_with(&c2.state, &b, &cache).unwrap();
    b.txs[0].signature[0] ^= 1;
    assert!(matches!(
        apply_block_with(&c2.state, &b, &cache),
        Err(BlockError::Tx {
            error: TxError::BadSignature,
            ..
        })
    ));
    c2.time = 0;
}

#[test]
fn stake_moves_voting_power_at_h_plus_d_and_unbonding_releases() {
    let mut g = genesis();
    g.params.validator_delay = 2;
    g.params.unbonding_blocks = 3;
    let mut c = Chain::new(&g);
    assert_eq!(validator_set(&c.state, 1).unwrap().len(), 1);
    // Height 1: account 2 stakes 5000 (more than validator 1's 1000).
    let b1 = c.block_ok(vec![c.tx(2, TxBody::Stake { amount: 5000 })]);
    assert_eq!(b1.block.header.height, 1);
    assert_eq!(c.account(&addr(2)).bonded, 5000);
    // Heights 2 keeps the old set; 3 = 1 + D has the new one.
    let s2 = validator_set(&c.state, 2).unwrap();
    assert_eq!(s2.len(), 1);
    let s3 = validator_set(&c.state, 3).unwrap();
    assert_eq!(s3.len(), 2);
    assert_eq!(s3[0].address, addr(2));
    assert_eq!(s3[0].power, 5000);
    assert_eq!(s3[1].power, 1000);
    c.block_ok(vec![]);
    assert_eq!(c.proposer(), addr(2));
    // The header commits to the set of its height.
    let b3 = c.block_ok(vec![]);
    assert_eq!(b3.block.header.proposer, addr(2));
    assert_eq!(b3.block.header.validators_hash, validators_hash(&s3));

    // Unstake 4500 at height 4: set at 6 has power 500; funds back at 4 + 3.
    let bal = c.account(&addr(2)).balance;
    let b4 = c.block_ok(vec![c.tx(2, TxBody::Unstake { amount: 4500 })]);
    assert!(b4.events.iter().any(|e| e.kind
        == EventKind::UnstakeStarted {
            account: addr(2),
            amount: 4500,
            release_height: 7
        }));
    assert_eq!(c.account(&addr(2)).unbonding, 4500);
    assert_eq!(validator_set(&c.state, 6).unwrap()[1].power, 500);
    c.block_ok(vec![]);
    c.block_ok(vec![]);
    // Account 2 proposed the block with its own unstake: the fee came back.
    assert_eq!(c.account(&addr(2)).balance, bal);
    let b7 = c.block_ok(vec![]);
    assert!(b7.events.iter().any(|e| e.kind
        == EventKind::Unbonded {
            account: addr(2),
            amount: 4500
        }));
    assert_eq!(c.account(&addr(2)).balance, bal + 4500);
    assert_eq!(c.account(&addr(2)).unbonding, 0);
    // Unstaking more than bonded fails; unstaking all drops the validator.
    assert_eq!(
        check_tx(&c.state, &c.tx(2, TxBody::Unstake { amount: 501 })),
        Err(TxError::InsufficientStake {
            need: 501,
            have: 500
        })
    );
    c.block_ok(vec![c.tx(2, TxBody::Unstake { amount: 500 })]);
    let h = c.height();
    assert_eq!(validator_set(&c.state, h + 2).unwrap().len(), 1);
    // Old sets are pruned.
    assert!(validator_set(&c.state, 1).is_err());
}

#[test]
fn top_k_by_stake_with_min_stake() {
    let mut g = genesis();
    g.params.max_validators = 2;
    g.params.min_validator_stake = 100;
    g.params.validator_delay = 1;
    let mut c = Chain::new(&g);
    c.block_ok(vec![
        c.tx(2, TxBody::Stake { amount: 50 }),
        c.tx(3, TxBody::Stake { amount: 3000 }),
        c.tx(4, TxBody::Stake { amount: 2000 }),
    ]);
    let s = validator_set(&c.state, 2).unwrap();
    let addrs: Vec<_> = s.iter().map(|v| v.address).collect();
    assert_eq!(addrs, vec![addr(3), addr(4)]);
}

#[test]
fn register_torrent_logs_it_and_receipts_verify_offline() {
    let mut c = Chain::new(&genesis());
    let mut r1 = registration(addr(2), 1);
    r1.infohash_v1 = Some([0x33; 20]);
    let r2 = registration(addr(3), 2);
    let t1 = c.tx(2, TxBody::RegisterTorrent(r1.clone()));
    let b = c.block_ok(vec![
        t1.clone(),
        c.tx(3, TxBody::RegisterTorrent(r2.clone())),
    ]);
    assert_eq!(b.block.header.log_size, 2);
    let rec = query::torrent(&c.state, &r1.infohash_v2).unwrap().unwrap();
    assert_eq!(rec.registration, r1);
    assert_eq!(rec.log_index, 0);
    assert_eq!(rec.tx_id, t1.id(CHAIN));
    assert_eq!(
        query::torrent_by_v1(&c.state, &[0x33; 20])
            .unwrap()
            .unwrap(),
        rec
    );

    // Duplicates and mismatches.
    assert_eq!(
        check_tx(&c.state, &c.tx(2, TxBody::RegisterTorrent(r1.clone()))),
        Err(TxError::AlreadyRegistered)
    );
    let mut r3 = registration(addr(2), 3);
    r3.infohash_v1 = Some([0x33; 20]);
    assert_eq!(
        check_tx(&c.state, &c.tx(2, TxBody::RegisterTorrent(r3))),
        Err(TxError::InfohashV1Taken)
    );
    let r4 = registration(addr(3), 4);
    assert_eq!(
        check_tx(&c.state, &c.tx(2, TxBody::RegisterTorrent(r4))),
        Err(TxError::CreatorMismatch)
    );
    let mut r5 = registration(addr(2), 5);
    r5.name.clear();
    assert_eq!(
        check_tx(&c.state, &c.tx(2, TxBody::RegisterTorrent(r5))),
        Err(TxError::EmptyName)
    );

    // The validator cosigns the checkpoint of the latest header.
    let header = c.headers.last().unwrap().clone();
    let cp = registry::checkpoint(&header);
    let mut note = Note::new(&cp.to_text()).unwrap();
    note.add_signature(registry::cosign_checkpoint(&header, &addr(1), &key(1)).unwrap())
        .unwrap();
    let receipt = registry::make_receipt(&c.state, &r1.infohash_v2, &note)
        .unwrap()
        .to_text();
    assert!(receipt.starts_with("c2sp.org/tlog-proof@v1\nextra "));

    // Offline: only the validator set's keys are needed.
    let set = validator_set(&c.state, header.height).unwrap();
    let verifiers = registry::validator_verifiers(CHAIN, &set);
    let (entry, checked) = registry::verify_receipt(receipt.as_bytes(), CHAIN, &verifiers).unwrap();
    assert_eq!(entry.registration, r1);
    assert_eq!(entry.tx_id, t1.id(CHAIN));
    assert_eq!(checked.size, 2);
    assert_eq!(checked.root, header.log_root);

    // Tampering with the entry, or keys of someone else, fails.
    let other = registry::validator_verifiers(
        CHAIN,
        &[Validator {
            address: addr(5),
            pubkey: pk(5),
            power: 10,
        }],
    );
    assert!(registry::verify_receipt(receipt.as_bytes(), CHAIN, &other).is_err());
    assert!(registry::verify_receipt(receipt.as_bytes(), "other-chain", &verifiers).is_err());
    let mut proof = btl_ledger::tlog::TlogProof::parse(receipt.as_bytes()).unwrap();
    let mut e = RegistryEntry::decode(proof.extra.as_ref().unwrap()).unwrap();
    e.registration.name = "forged".into();
    proof.extra = Some(e.encode());
    assert!(registry::verify_receipt(proof.to_text().as_bytes(), CHAIN, &verifiers).is_err());
    // An uncosigned checkpoint is refused.
    let bare = Note::new(&cp.to_text()).unwrap();
    let unsigned = registry::make_receipt(&c.state, &r1.infohash_v2, &bare)
        .unwrap()
        .to_text();
    assert!(
        registry::verify_receipt(unsigned.as_bytes(), CHAIN, &VerifierSet::new([], 1)).is_err()
    );

    // Receipts from an older checkpoint still work after the log grows.
    c.block_ok(vec![
        c.tx(4, TxBody::RegisterTorrent(registration(addr(4), 9)))
    ]);
    let again = registry::make_receipt(&c.state, &r1.infohash_v2, &note)
        .unwrap()
        .to_text();
    assert_eq!(again, receipt);
    // A checkpoint that does not cover the entry cannot make a receipt.
    let r9 = registration(addr(4), 9);
    assert!(matches!(
        registry::make_receipt(&c.state, &r9.infohash_v2, &note),
        Err(ReceiptError::NotCovered { size: 2, index: 2 })
    ));
}

#[test]
fn amend_license_by_the_creator_keeps_history_and_logs_a_leaf() {
    let mut c = Chain::new(&genesis());
    let r1 = registration(addr(2), 1);
    let ih = r1.infohash_v2;
    let t1 = c.tx(2, TxBody::RegisterTorrent(r1.clone()));
    c.block_ok(vec![t1.clone()]);
    let amend = |m: u8, lic: &str| TxBody::AmendLicense {
        infohash_v2: ih,
        manifest_hash: [m; 32],
        license: lic.into(),
    };
    // Only the creator; only a registered torrent.
    assert_eq!(
        check_tx(&c.state, &c.tx(3, amend(9, "MIT"))),
        Err(TxError::NotCreator)
    );
    let unknown = TxBody::AmendLicense {
        infohash_v2: [0xee; 32],
        manifest_hash: [9; 32],
        license: "MIT".into(),
    };
    assert_eq!(
        check_tx(&c.state, &c.tx(2, unknown)),
        Err(TxError::UnknownTorrent)
    );
    let t2 = c.tx(2, amend(9, "CC-BY-SA-4.0"));
    let b = c.block_ok(vec![t2.clone()]);
    assert_eq!(b.block.header.log_size, 2);
    let rec = query::torrent(&c.state, &ih).unwrap().unwrap();
    assert_eq!(rec.registration.license, "CC-BY-SA-4.0");
    assert_eq!(rec.registration.manifest_hash, [9; 32]);
    assert_eq!(rec.registration.name, r1.name);
    assert_eq!(rec.tx_id, t2.id(CHAIN));
    assert_eq!(rec.log_index, 1);
    let hist = query::history(&c.state, &ih).unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].kind, HistoryKind::Register);
    assert_eq!(hist[0].license, r1.license);
    assert_eq!(hist[0].tx_id, t1.id(CHAIN));
    assert_eq!(hist[1].kind, HistoryKind::Amend);
    assert_eq!(hist[1].log_index, 1);

    // Both leaves have receipts that verify offline.
    let header = c.headers.last().unwrap().clone();
    let mut note = Note::new(&registry::checkpoint(&header).to_text()).unwrap();
    note.add_signature(registry::cosign_checkpoint(&header, &addr(1), &key(1)).unwrap())
        .unwrap();
    let set = validator_set(&c.state, header.height).unwrap();
    let verifiers = registry::validator_verifiers(CHAIN, &set);
    for (t, lic) in [(&t1, r1.license.as_str()), (&t2, "CC-BY-SA-4.0")] {
        let (proof, _) = registry::make_tx_receipt(&c.state, &ih, &t.id(CHAIN), &note).unwrap();
        let (entry, _) =
            registry::verify_receipt(proof.to_text().as_bytes(), CHAIN, &verifiers).unwrap();
        assert_eq!(entry.tx_id, t.id(CHAIN));
        assert_eq!(entry.registration.license, lic);
    }
}

#[test]
fn trackers_register_and_retire() {
    let mut c = Chain::new(&genesis());
    let url = "udp://tracker.example:6969/announce".to_string();
    c.block_ok(vec![c.tx(2, TxBody::RegisterTracker { url: url.clone() })]);
    let rec = query::tracker(&c.state, &url).unwrap().unwrap();
    assert_eq!(rec.operator, addr(2));
    assert_eq!(rec.retired_height, None);
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(2, TxBody::RegisterTracker { url: url.clone() })
        ),
        Err(TxError::TrackerActive)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(3, TxBody::RegisterTracker { url: url.clone() })
        ),
        Err(TxError::TrackerTaken)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(3, TxBody::RetireTracker { url: url.clone() })
        ),
        Err(TxError::NotTrackerOperator)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(
                3,
                TxBody::RetireTracker {
                    url: "http://nope.example/a".into()
                }
            )
        ),
        Err(TxError::UnknownTracker)
    );
    c.block_ok(vec![c.tx(2, TxBody::RetireTracker { url: url.clone() })]);
    assert_eq!(
        query::tracker(&c.state, &url)
            .unwrap()
            .unwrap()
            .retired_height,
        Some(2)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(2, TxBody::RetireTracker { url: url.clone() })
        ),
        Err(TxError::TrackerRetired)
    );
    c.block_ok(vec![c.tx(2, TxBody::RegisterTracker { url: url.clone() })]);
    assert_eq!(
        query::tracker(&c.state, &url)
            .unwrap()
            .unwrap()
            .retired_height,
        None
    );
    // Bad URLs do not even decode.
    let bad = c.tx(
        2,
        TxBody::RegisterTracker {
            url: "ftp://x".into(),
        },
    );
    assert!(matches!(
        check_tx_bytes(&c.state, &bad.encode()),
        Err(TxError::Malformed(_))
    ));
}

#[test]
fn rotate_and_revoke_keys() {
    let mut c = Chain::new(&genesis());
    // Account 2 rotates to key 50.
    c.block_ok(vec![c.tx(
        2,
        TxBody::RotateKey {
            new_key: pk(50),
            revoke_old: false,
        },
    )]);
    assert_eq!(c.account(&addr(2)).key, Some(pk(50)));
    assert_eq!(
        query::key_status(&c.state, &pk(2)).unwrap(),
        KeyStatus::Rotated
    );
    assert_eq!(
        query::key_status(&c.state, &pk(50)).unwrap(),
        KeyStatus::Active
    );
    // The old key no longer signs for the account; the new one does.
    assert_eq!(
        check_tx(&c.state, &c.tx(2, transfer(addr(3), 1))),
        Err(TxError::BadSignature)
    );
    c.block_ok(vec![c.tx_by(2, &key(50), transfer(addr(3), 1))]);
    // The new key is not an account of its own.
    let as_account = Tx {
        from: addr(50),
        nonce: 0,
        fee: 10,
        body: transfer(addr(3), 1),
    }
    .sign(CHAIN, &key(50));
    assert_eq!(
        check_tx(&c.state, &as_account),
        Err(TxError::SenderIsForeignKey)
    );
    assert_eq!(
        check_tx(&c.state, &c.tx(3, transfer(addr(50), 1))),
        Err(TxError::RecipientIsForeignKey)
    );
    // Keys cannot be reused, nor be another account's address.
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx_by(
                2,
                &key(50),
                TxBody::RotateKey {
                    new_key: pk(2),
                    revoke_old: false
                }
            )
        ),
        Err(TxError::KeyInUse)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(
                3,
                TxBody::RotateKey {
                    new_key: pk(50),
                    revoke_old: false
                }
            )
        ),
        Err(TxError::KeyInUse)
    );
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(
                3,
                TxBody::RotateKey {
                    new_key: pk(4),
                    revoke_old: false
                }
            )
        ),
        Err(TxError::KeyInUse)
    );
    let not_a_point = (0..=255u8)
        .map(|i| [i; 32])
        .find(|b| btl_ledger::ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
        .unwrap();
    assert_eq!(
        check_tx(
            &c.state,
            &c.tx(
                3,
                TxBody::RotateKey {
                    new_key: PublicKey(not_a_point),
                    revoke_old: false
                }
            )
        ),
        Err(TxError::InvalidKey)
    );
    // Revoke: not the current key, not someone else's, then the old one.
    let revoke = |k| TxBody::RevokeKey {
        key: k,
        reason: RevokeReason::Compromised,
    };
    assert_eq!(
        check_tx(&c.state, &c.tx_by(2, &key(50), revoke(pk(50)))),
        Err(TxError::KeyIsCurrent)
    );
    assert_eq!(
        check_tx(&c.state, &c.tx(3, revoke(pk(2)))),
        Err(TxError::NotKeyOwner)
    );
    c.block_ok(vec![c.tx_by(2, &key(50), revoke(pk(2)))]);
    assert_eq!(
        query::key_status(&c.state, &pk(2)).unwrap(),
        KeyStatus::Revoked
    );
    assert_eq!(
        check_tx(&c.state, &c.tx_by(2, &key(50), revoke(pk(2)))),
        Err(TxError::AlreadyRevoked)
    );
    // Rotation with immediate revocation (compromise response).
    c.block_ok(vec![c.tx_by(
        2,
        &key(50),
        TxBody::RotateKey {
            new_key: pk(51),
            revoke_old: true,
        },
    )]);
    let rec = query::key_record(&c.state, &pk(50)).unwrap().unwrap();
    assert_eq!(rec.status(), KeyStatus::Revoked);
    assert_eq!(rec.rotated.unwrap().successor, pk(51));

    // Light-client proofs of key status and of a torrent's absence.
    let root = c.headers.last().unwrap().state_root;
    for k in [pk(2), pk(50), pk(51), pk(7)] {
        let (rec, proof) = query::prove_key(&c.state, &k).unwrap();
        let status = query::verify_key(&root, &k, rec.as_ref(), &proof).unwrap();
        assert_eq!(status, query::key_status(&c.state, &k).unwrap());
        // Claiming absence of a present record (or the reverse) fails.
        if rec.is_some() {
            assert!(query::verify_key(&root, &k, None, &proof).is_err());
        }
    }
    let (t, proof) = query::prove_torrent(&c.state, &[0xaa; 32]).unwrap();
    assert!(t.is_none());
    query::verify_torrent(&root, &[0xaa; 32], None, &proof).unwrap();
}

#[test]
fn validator_key_rotation_changes_the_consensus_key() {
    let mut g = genesis();
    g.params.validator_delay = 1;
    let mut c = Chain::new(&g);
    c.block_ok(vec![c.tx(
        1,
        TxBody::RotateKey {
            new_key: pk(60),
            revoke_old: false,
        },
    )]);
    let s = validator_set(&c.state, 2).unwrap();
    assert_eq!(s[0].address, addr(1));
    assert_eq!(s[0].pubkey, pk(60));
}

#[test]
fn genesis_json_round_trip_and_validation() {
    let g = genesis();
    let json = g.to_json();
    assert_eq!(Genesis::from_json(&json).unwrap(), g);
    let mut bad = g.clone();
    bad.validators.clear();
    assert_eq!(bad.validate(), Err(GenesisError::NoValidators));
    let mut bad = g.clone();
    bad.chain_id = "Bad Chain".into();
    assert!(matches!(bad.validate(), Err(GenesisError::Invalid(_))));
    let mut bad = g.clone();
    bad.accounts.push(GenesisAccount {
        address: addr(2),
        balance: 1,
    });
    assert_eq!(bad.validate(), Err(GenesisError::Duplicate(addr(2))));
    let mut bad = g.clone();
    bad.accounts.push(GenesisAccount {
        address: addr(40),
        balance: u64::MAX,
    });
    assert_eq!(bad.validate(), Err(GenesisError::SupplyOverflow));
    assert!(matches!(
        Genesis::from_json("{\"chain_id\": 1}"),
        Err(GenesisError::Json(_))
    ));
    assert!(matches!(
        Genesis::from_json(&json.replace("\"chain_id\"", "\"chain\"")),
        Err(GenesisError::Json(_))
    ));
    // The genesis header is the state's last header, and block 1 links to it.
    let c = Chain::new(&g);
    assert_eq!(last_header(&c.state).unwrap(), c.genesis_header);
    assert_eq!(c.genesis_header.state_root, state_root(&c.state).unwrap());
}

#[test]
fn the_last_validators_stay_when_nobody_qualifies() {
    let mut g = genesis();
    g.params.validator_delay = 1;
    g.params.unbonding_blocks = 1;
    let mut c = Chain::new(&g);
    // The only validator unstakes everything: the set must not go empty.
    c.block_ok(vec![c.tx(1, TxBody::Unstake { amount: 1000 })]);
    let s = validator_set(&c.state, 2).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].address, addr(1));
    c.block_ok(vec![]);
    c.block_ok(vec![c.tx(3, TxBody::Stake { amount: 10 })]);
    let h = c.height();
    assert_eq!(validator_set(&c.state, h + 1).unwrap()[0].address, addr(3));
}
