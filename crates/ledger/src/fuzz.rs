//! Entry points for the fuzz targets in `fuzz/` (and for tests that run
//! them on fixed inputs). Each asserts an invariant; a panic is a bug.

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;

use crate::block::{Block, BlockHeader};
use crate::genesis::{Genesis, GenesisAccount};
use crate::keys::{Address, PublicKey};
use crate::records::{Account, KeyRecord, TorrentRecord, TrackerRecord};
use crate::registry::RegistryEntry;
use crate::smt::StateProof;
use crate::state::MemState;
use crate::tx::{RegisterTorrent, RevokeReason, SignedTx, Tx, TxBody};
use crate::{
    apply_block, apply_block_with, build_block, check_tx, query, BuildContext, VerifiedSigs,
};

fn roundtrip<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, crate::DecodeError>,
    encode: impl Fn(&T) -> Vec<u8>,
) {
    if let Ok(v) = decode(data) {
        let enc = encode(&v);
        assert_eq!(enc, data, "decoding is not canonical");
        assert_eq!(decode(&enc).as_ref().ok(), Some(&v));
    }
}

/// Transactions and state records: decoding is bounded, never panics, and
/// what decodes re-encodes to the same bytes.
pub fn fuzz_tx(data: &[u8]) {
    roundtrip(data, SignedTx::decode, SignedTx::encode);
    roundtrip(data, Account::decode, Account::encode);
    roundtrip(data, KeyRecord::decode, KeyRecord::encode);
    roundtrip(data, TorrentRecord::decode, TorrentRecord::encode);
    roundtrip(data, TrackerRecord::decode, TrackerRecord::encode);
    roundtrip(data, RegistryEntry::decode, RegistryEntry::encode);
    roundtrip(data, StateProof::decode, StateProof::encode);
    if let Ok(tx) = SignedTx::decode(data) {
        // Ids and JSON never panic either.
        let _ = tx.id("fuzz");
        let json = serde_json::to_string(&tx).unwrap_or_default();
        if let Ok(back) = serde_json::from_str::<SignedTx>(&json) {
            assert_eq!(back, tx);
        }
    }
}

/// Blocks and headers: decoding is bounded, canonical, never panics.
pub fn fuzz_block(data: &[u8]) {
    roundtrip(data, Block::decode, Block::encode);
    roundtrip(data, BlockHeader::decode, BlockHeader::encode);
}

const CHAIN: &str = "fuzz";
const ACCOUNTS: u8 = 6;

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i.wrapping_add(1); 32])
}

fn fuzz_state() -> &'static (MemState, Vec<SigningKey>) {
    static S: OnceLock<(MemState, Vec<SigningKey>)> = OnceLock::new();
    S.get_or_init(|| {
        let keys: Vec<SigningKey> = (0..ACCOUNTS + 4).map(key).collect();
        let v = PublicKey::from_signing_key(&keys[0]);
        let mut g = Genesis::single_validator(CHAIN, v, 10_000, 0);
        g.params.unbonding_blocks = 1;
        g.params.validator_delay = 1;
        for k in &keys[1..ACCOUNTS as usize] {
            g.accounts.push(GenesisAccount {
                address: PublicKey::from_signing_key(k).address(),
                balance: 1_000_000,
            });
        }
        let mut s = MemState::new();
        if let Ok((diff, _)) = g.build() {
            s.apply(&diff);
        }
        (s, keys)
    })
}

/// `apply_block` and `build_block` on fuzzed input.
///
/// The first byte picks a mode. Mode 0: the rest is a block, which
/// `apply_block` must reject or accept without panicking. Otherwise the rest
/// is a list of 12-byte operations that this harness turns into signed
/// transactions (valid keys, fuzzed fields and nonces), in up to three
/// blocks: `build_block` must succeed, and `apply_block` of what it built
/// must give the same diff.
pub fn fuzz_apply(data: &[u8]) {
    let (base, keys) = fuzz_state();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        if let Ok(block) = Block::decode(rest) {
            let _ = apply_block(base, &block);
        }
        return;
    }
    let mut state = base.clone();
    let proposer = PublicKey::from_signing_key(&keys[0]).address();
    for (round, chunk) in rest.chunks(12 * 16).take(3).enumerate() {
        let mut txs = Vec::new();
        // Signatures checked once at admission, as a node does.
        let mut cache = VerifiedSigs::new();
        for op in chunk.chunks_exact(12) {
            if let Some(tx) = make_tx(&state, keys, op) {
                if let Ok(c) = check_tx(&state, &tx) {
                    cache.insert(c.id, tx.signature, c.key);
                }
                txs.push(tx);
            }
        }
        let ctx = BuildContext {
            time_ms: 1000 * (round as u64 + 1),
            proposer,
            max_txs: None,
            max_bytes: None,
        };
        let Ok(built) = build_block(&state, &ctx, txs, &cache) else {
            // The proposer can drop out of the set only through stake
            // changes; then nothing more to do.
            return;
        };
        let applied = apply_block_with(&state, &built.block, &cache);
        assert!(applied.is_ok(), "built block does not apply: {applied:?}");
        if let Ok(applied) = applied {
            assert_eq!(applied.diff, built.diff, "build and apply disagree");
            state.apply(&applied.diff);
        }
    }
}

fn make_tx(state: &MemState, keys: &[SigningKey], op: &[u8]) -> Option<SignedTx> {
    let who = op[0] % (ACCOUNTS + 2);
    let signer = &keys[usize::from(op[1] % (ACCOUNTS + 2))];
    let from = PublicKey::from_signing_key(&keys[usize::from(who)]).address();
    let amount = u64::from_be_bytes([op[2], op[3], op[4], op[5], op[6], op[7], op[8], op[9]]);
    let small = amount % 5000;
    let to = PublicKey::from_signing_key(&keys[usize::from(op[10] % (ACCOUNTS + 4))]).address();
    let nonce = query::account(state, &from)
        .ok()
        .flatten()
        .map_or(0, |a| a.nonce)
        .saturating_add(u64::from(op[11] >> 6).saturating_sub(1));
    let body = match op[11] % 10 {
        0 => TxBody::Transfer {
            to,
            amount: if op[1] & 1 == 0 { small } else { amount },
        },
        1 => TxBody::Stake { amount: small },
        2 => TxBody::Unstake { amount: small },
        3 => TxBody::RegisterTorrent(RegisterTorrent {
            manifest_hash: [op[2]; 32],
            infohash_v2: [op[3] % 8; 32],
            infohash_v1: (op[4] & 1 == 1).then_some([op[5] % 4; 20]),
            creator: if op[6] & 1 == 0 { from } else { to },
            file_roots: vec![[op[7]; 32]; usize::from(op[8] % 3)],
            name: if op[9] & 3 == 0 {
                String::new()
            } else {
                format!("t{}", op[9])
            },
            size: amount,
            license: "MIT".into(),
        }),
        4 => TxBody::RegisterTracker {
            url: format!("http://t{}.example/a", op[2] % 4),
        },
        5 => TxBody::RetireTracker {
            url: format!("http://t{}.example/a", op[2] % 4),
        },
        6 => TxBody::RotateKey {
            new_key: PublicKey::from_signing_key(&keys[usize::from(op[2] % (ACCOUNTS + 4))]),
            revoke_old: op[3] & 1 == 1,
        },
        7 => TxBody::RevokeKey {
            key: PublicKey::from_signing_key(&keys[usize::from(op[2] % (ACCOUNTS + 4))]),
            reason: RevokeReason::from_u8(op[3] % 4).unwrap_or(RevokeReason::Unspecified),
        },
        8 => TxBody::AmendLicense {
            infohash_v2: [op[3] % 8; 32],
            manifest_hash: [op[4]; 32],
            license: format!("L{}", op[5] % 3),
        },
        _ => TxBody::Transfer {
            to: Address([op[2]; 32]),
            amount: small,
        },
    };
    let tx = Tx {
        from,
        nonce,
        fee: u64::from(op[10] % 4),
        body,
    };
    Some(tx.sign(CHAIN, signer))
}

/// Signature batches ([`crate::sig::verify_batch`]) give exactly the
/// answers of one-by-one checks. The input is read as up to 16 items, each
/// either raw (key, signature and message from the input) or a real
/// signature by a fixed key with one byte of it or of its message changed
/// as the input says.
pub fn fuzz_sig_batch(data: &[u8]) {
    use crate::sig::{verify, verify_batch, Item};
    use ed25519_dalek::Signer as _;
    let mut owned: Vec<([u8; 32], [u8; 64], Vec<u8>)> = Vec::new();
    let mut rest = data;
    while owned.len() < 16 {
        let Some((&mode, r)) = rest.split_first() else {
            break;
        };
        rest = r;
        if mode & 1 == 0 {
            if rest.len() < 97 {
                break;
            }
            let (head, r) = rest.split_at(97);
            let msg_len = usize::from(head[96] % 64).min(r.len());
            let (msg, r) = r.split_at(msg_len);
            rest = r;
            let mut key = [0u8; 32];
            let mut sig = [0u8; 64];
            key.copy_from_slice(&head[..32]);
            sig.copy_from_slice(&head[32..96]);
            owned.push((key, sig, msg.to_vec()));
        } else {
            let Some((&[which, at, flip], r)) = rest.split_first_chunk::<3>() else {
                break;
            };
            rest = r;
            let signer = SigningKey::from_bytes(&[which % 4; 32]);
            let msg = vec![which; usize::from(at % 48)];
            let mut sig = signer.sign(&msg).to_bytes();
            let mut key = signer.verifying_key().to_bytes();
            let mut msg = msg;
            match mode >> 1 & 3 {
                0 => {}
                1 => sig[usize::from(at) % 64] ^= flip,
                2 => key[usize::from(at) % 32] ^= flip,
                _ => msg.push(flip),
            }
            owned.push((key, sig, msg));
        }
    }
    let items: Vec<Item<'_>> = owned
        .iter()
        .map(|(key, sig, msg)| Item { key, msg, sig })
        .collect();
    let single: Vec<bool> = items.iter().map(|i| verify(i.key, i.msg, i.sig)).collect();
    assert_eq!(
        verify_batch(&items),
        single,
        "a batch disagrees with single checks"
    );
}

/// The state tree over corrupted storage: the input overwrites one stored
/// page of a small valid tree, or adds a page at a fuzzed position, with
/// fuzzed bytes. Reading the root, proving, checking a proof and updating
/// must then give an answer or an error, never a panic.
pub fn fuzz_state_tree(data: &[u8]) {
    use crate::smt;
    use crate::state::StateDiff;
    use crate::StateRead;

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys: Vec<Vec<u8>> = (0..40u8).map(|i| vec![b'k', i]).collect();
    // The valid tree of the 40 keys, built once.
    static TREE: OnceLock<MemState> = OnceLock::new();
    let mut state = TREE
        .get_or_init(|| {
            let mut state = MemState::new();
            let updates = keys
                .iter()
                .map(|k| (smt::key_hash(k), Some(smt::value_hash(k))))
                .collect();
            let mut diff = StateDiff::new();
            if smt::update(&state, updates, |k, v| diff.put(k, v)).is_err() {
                panic!("building a valid tree failed");
            }
            state.apply(&diff);
            state
        })
        .clone();
    let mut pages: Vec<Vec<u8>> = state
        .iter()
        .filter(|(k, _)| k.starts_with(b"xp"))
        .map(|(k, _)| k.to_vec())
        .collect();
    pages.sort(); // the same input picks the same page on every run
    let (key, value) = if mode % 2 == 0 {
        let Some((&i, value)) = rest.split_first() else {
            return;
        };
        (pages[usize::from(i) % pages.len()].clone(), value)
    } else {
        let Some((head, value)) = rest.split_first_chunk::<4>() else {
            return;
        };
        // "xp", a depth, two prefix bytes.
        ([&b"xp"[..], head].concat(), value)
    };
    let mut bad = StateDiff::new();
    bad.put(key, Some(value.to_vec()));
    state.apply(&bad);

    let root = smt::root(&state);
    for k in keys.iter().take(8) {
        if let (Ok(root), Ok(p)) = (&root, smt::prove(&state, k)) {
            // A proof read from a corrupt store may fail to verify, but
            // checking it must not panic.
            let _ = p.verify(root, k, state.get(k).as_deref());
        }
    }
    let ups = vec![
        (smt::key_hash(b"new"), Some(smt::value_hash(b"v"))),
        (smt::key_hash(&keys[3]), None),
        (smt::key_hash(&keys[mode as usize % 40]), Some([7; 32])),
    ];
    let _ = smt::update(&state, ups, |_, _| {});
}
