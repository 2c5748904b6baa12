//! Test helpers: deterministic keys, a funded genesis, and a chain driver
//! that builds and applies blocks on a `MemState`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use btl_ledger::ed25519_dalek::SigningKey;
use btl_ledger::*;

pub const CHAIN: &str = "test-chain";

pub fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

pub fn pk(i: u8) -> PublicKey {
    PublicKey::from_signing_key(&key(i))
}

pub fn addr(i: u8) -> Address {
    pk(i).address()
}

/// Genesis: validator key 1 (stake 1000); accounts 2..=9 with 1,000,000 each.
pub fn genesis() -> Genesis {
    let mut g = Genesis::single_validator(CHAIN, pk(1), 1000, 1_000);
    for i in 2..=9u8 {
        g.accounts.push(GenesisAccount {
            address: addr(i),
            balance: 1_000_000,
        });
    }
    g.params.unbonding_blocks = 3;
    g
}

pub struct Chain {
    pub state: MemState,
    pub genesis_header: BlockHeader,
    pub headers: Vec<BlockHeader>,
    pub time: u64,
}

impl Chain {
    pub fn new(g: &Genesis) -> Self {
        let (diff, header) = g.build().unwrap();
        let mut state = MemState::new();
        state.apply(&diff);
        Self {
            state,
            genesis_header: header.clone(),
            headers: vec![header],
            time: g.genesis_time_ms,
        }
    }

    pub fn height(&self) -> u64 {
        self.headers.last().unwrap().height
    }

    /// The proposer: the first validator of the next height.
    pub fn proposer(&self) -> Address {
        validator_set(&self.state, self.height() + 1).unwrap()[0].address
    }

    /// Builds a block from `txs`, applies it through `apply_block` (as a
    /// validator would) and commits it. Returns the built block.
    pub fn block(&mut self, txs: Vec<SignedTx>) -> BuiltBlock {
        self.time += 1000;
        let ctx = BuildContext {
            time_ms: self.time,
            proposer: self.proposer(),
            max_txs: None,
            max_bytes: None,
        };
        let built = build_block(&self.state, &ctx, txs, &()).unwrap();
        let applied = apply_block(&self.state, &built.block).unwrap();
        assert_eq!(applied.diff, built.diff);
        assert_eq!(applied.events, built.events);
        self.state.apply(&applied.diff);
        assert_eq!(last_header(&self.state).unwrap(), built.block.header);
        self.headers.push(built.block.header.clone());
        built
    }

    /// Like `block`, but every candidate must be included.
    pub fn block_ok(&mut self, txs: Vec<SignedTx>) -> BuiltBlock {
        let n = txs.len();
        let b = self.block(txs);
        assert!(b.rejected.is_empty(), "rejected: {:?}", b.rejected);
        assert_eq!(b.block.txs.len(), n);
        b
    }

    pub fn account(&self, a: &Address) -> Account {
        query::account(&self.state, a).unwrap().unwrap_or_default()
    }

    pub fn nonce(&self, a: &Address) -> u64 {
        self.account(a).nonce
    }

    /// A signed transaction from account `i` (signed by key `signer`) with
    /// the account's next nonce and fee 10.
    pub fn tx_by(&self, i: u8, signer: &SigningKey, body: TxBody) -> SignedTx {
        Tx {
            from: addr(i),
            nonce: self.nonce(&addr(i)),
            fee: 10,
            body,
        }
        .sign(CHAIN, signer)
    }

    pub fn tx(&self, i: u8, body: TxBody) -> SignedTx {
        self.tx_by(i, &key(i), body)
    }
}

pub fn registration(creator: Address, n: u32) -> RegisterTorrent {
    let mut ih = [0u8; 32];
    ih[..4].copy_from_slice(&n.to_be_bytes());
    ih[4] = creator.0[0];
    RegisterTorrent {
        manifest_hash: [0x11; 32],
        infohash_v2: ih,
        infohash_v1: None,
        creator,
        file_roots: vec![[0x22; 32]],
        name: format!("torrent {n}"),
        size: 1 << 20,
        license: "CC-BY-4.0".into(),
    }
}
