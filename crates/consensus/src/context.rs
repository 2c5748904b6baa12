//! Our Malachite [`Context`]: heights, addresses, validators, votes,
//! proposals, proposal parts and the proposer choice.
//!
//! The consensus value is the 32-byte hash of a block ([`BlockHash`]); the
//! block bytes travel as proposal parts and are kept by the node (in redb)
//! until they are decided. So votes, proposals and the write-ahead log only
//! ever carry 32 bytes per value, whatever the block size.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    self as mc, Context as _, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType,
    VotingPower,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey, Signature};

/// Block height. The first block after genesis is height 1.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its Ed25519 public key (32 bytes). Shown as
/// lowercase hex.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address of a public key.
    pub fn from_public_key(pk: &PublicKey) -> Self {
        Address(*pk.as_bytes())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", &hex::encode(&self.0[..6]))
    }
}

impl mc::Address for Address {}

/// The consensus value: SHA-256 of a block's bytes.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    /// The hash of block bytes.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        BlockHash(sha2::Sha256::digest(bytes).into())
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({})", &hex::encode(&self.0[..6]))
    }
}

impl mc::Value for BlockHash {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        *self
    }
}

/// A validator: its key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Address (= public key bytes).
    pub address: Address,
    /// Ed25519 public key.
    pub public_key: PublicKey,
    /// Voting power (stake × reputation factor).
    pub voting_power: VotingPower,
}

impl Validator {
    /// A validator with this key and power.
    pub fn new(public_key: PublicKey, voting_power: VotingPower) -> Self {
        Validator {
            address: Address::from_public_key(&public_key),
            public_key,
            voting_power,
        }
    }
}

impl mc::Validator<BtlContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of one height, sorted by address (no duplicates, no zero
/// power).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Arc<Vec<Validator>>,
    total: VotingPower,
}

impl ValidatorSet {
    /// A set from validators in any order; zero-power entries are dropped,
    /// a repeated address keeps its first entry.
    pub fn new(validators: impl IntoIterator<Item = Validator>) -> Self {
        let mut vs: Vec<Validator> = validators
            .into_iter()
            .filter(|v| v.voting_power > 0)
            .collect();
        vs.sort_by_key(|v| v.address);
        vs.dedup_by(|a, b| a.address == b.address);
        let total = vs
            .iter()
            .fold(0u64, |t, v| t.saturating_add(v.voting_power));
        ValidatorSet {
            validators: Arc::new(vs),
            total,
        }
    }

    /// The validators, sorted by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mc::ValidatorSet<BtlContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .and_then(|i| self.validators.get(i))
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height voted at.
    pub height: Height,
    /// Round voted at.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator_address: Address,
    /// Vote extension (on precommits for a value: the validator's
    /// cosignature of the block's checkpoint, see [`crate::app::App::cosign_message`]).
    pub extension: Option<SignedExtension<BtlContext>>,
}

impl mc::Vote<BtlContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator_address
    }

    fn extension(&self) -> Option<&SignedExtension<BtlContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<BtlContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<BtlContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A proposal: the proposer's signed claim that a block (by hash) is its
/// value for a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockHash,
    /// Proof-of-lock round (`Nil` if none).
    pub pol_round: Round,
    /// The proposer.
    pub validator_address: Address,
}

impl mc::Proposal<BtlContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockHash {
        &self.value
    }

    fn take_value(self) -> BlockHash {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.validator_address
    }
}

/// One piece of a streamed proposal: `Init`, then `Data` chunks, then `Fin`
/// with the proposer's signature over the block hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Opens the stream.
    Init {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// Valid round of a re-proposed value (`Nil` for a fresh one).
        valid_round: Round,
        /// The proposer.
        proposer: Address,
        /// Total length of the block bytes that follow.
        total_len: u32,
    },
    /// A chunk of the block bytes.
    Data(Bytes),
    /// Closes the stream; signed by the proposer.
    Fin {
        /// Ed25519 signature over the part-signing bytes (see
        /// [`crate::signing::part_sign_bytes`]).
        signature: Signature,
    },
}

impl mc::ProposalPart<BtlContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin { .. })
    }
}

/// How often each validator missed its turn to propose, for the proposer
/// choice. Filled only from committed certificates (the height and the
/// round at which each block was decided), so every node holds the same
/// record for the heights it has committed.
#[derive(Debug, Default)]
pub struct MissRecord {
    /// address → (height of the last miss, consecutive misses)
    misses: BTreeMap<Address, (u64, u32)>,
}

/// Longest time (in heights) a validator is skipped after missing turns.
pub const MAX_SKIP_HEIGHTS: u64 = 64;

impl MissRecord {
    /// Records that `addr` was proposer of a round that did not decide at
    /// `height`.
    pub fn missed(&mut self, addr: Address, height: u64) {
        let e = self.misses.entry(addr).or_insert((0, 0));
        if e.0 != height {
            e.1 = e.1.saturating_add(1);
        }
        e.0 = height;
    }

    /// Records that `addr` proposed the block decided at `height`.
    pub fn proposed(&mut self, addr: Address) {
        self.misses.remove(&addr);
    }

    /// Whether `addr` sits out at `height`: after n consecutive misses it is
    /// skipped for 2^(n+1) heights (at most [`MAX_SKIP_HEIGHTS`]).
    pub fn skipped(&self, addr: &Address, height: u64) -> bool {
        match self.misses.get(addr) {
            None => false,
            Some(&(at, n)) => {
                let span = 1u64
                    .checked_shl(n.saturating_add(1).min(16))
                    .unwrap_or(MAX_SKIP_HEIGHTS)
                    .min(MAX_SKIP_HEIGHTS);
                height > at && height <= at.saturating_add(span)
            }
        }
    }

    /// Encodes the record (stored with each commit):
    /// `u32 count | (address[32] | u64 height | u32 misses)*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.misses.len() * 44);
        out.extend_from_slice(&(self.misses.len() as u32).to_be_bytes());
        for (a, (h, n)) in &self.misses {
            out.extend_from_slice(&a.0);
            out.extend_from_slice(&h.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    /// Decodes a stored record (an unreadable one is empty).
    pub fn decode(b: &[u8]) -> Self {
        let mut m = MissRecord::default();
        let mut r = crate::codec::Reader::new(b);
        let Ok(n) = r.count("misses", 44, 1 << 20) else {
            return m;
        };
        for _ in 0..n {
            let (Ok(a), Ok(h), Ok(c)) = (r.array::<32>(), r.u64(), r.u32()) else {
                return MissRecord::default();
            };
            m.misses.insert(Address(a), (h, c));
        }
        m
    }

    /// Drops entries older than any skip window at `height`.
    pub fn prune(&mut self, height: u64) {
        self.misses
            .retain(|_, (at, _)| at.saturating_add(MAX_SKIP_HEIGHTS) >= height);
    }
}

/// Our Malachite context.
#[derive(Clone, Debug)]
pub struct BtlContext {
    /// Chain id (part of every signed consensus message).
    pub chain_id: Arc<str>,
    /// Recent missed proposer turns, from committed certificates.
    pub misses: Arc<RwLock<MissRecord>>,
}

impl BtlContext {
    /// A context for a chain.
    pub fn new(chain_id: &str) -> Self {
        BtlContext {
            chain_id: Arc::from(chain_id),
            misses: Arc::default(),
        }
    }

    /// The proposer of `round` at `height` (see [`Self::select_proposer`]).
    pub fn proposer_at<'a>(
        &self,
        vs: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        self.select_proposer(vs, height, round)
    }

    /// Updates the miss record after committing `height`, decided at
    /// `round` in set `vs`: the proposers of the earlier rounds missed.
    pub fn record_decision(&self, vs: &ValidatorSet, height: Height, round: Round) {
        let r = round.as_u32().unwrap_or(0);
        // Proposers of rounds 0..r as chosen before this decision.
        let mut missed = Vec::new();
        for i in 0..r.min(64) {
            missed.push(self.select_proposer(vs, height, Round::new(i)).address);
        }
        let winner = self.select_proposer(vs, height, round).address;
        if let Ok(mut m) = self.misses.write() {
            for a in missed {
                if a != winner {
                    m.missed(a, height.0);
                }
            }
            m.proposed(winner);
            m.prune(height.0);
        }
    }
}

/// Timeouts tuned for a small validator set.
pub fn default_timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        propose_delta: Duration::from_millis(500),
        prevote: Duration::from_millis(500),
        prevote_delta: Duration::from_millis(250),
        precommit: Duration::from_millis(500),
        precommit_delta: Duration::from_millis(250),
        rebroadcast: Duration::from_millis(2500),
        max_timeout: Duration::from_secs(20),
    }
}

impl mc::Context for BtlContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = bytes::Bytes;
    type SigningScheme = Ed25519;

    /// Round robin over the set sorted by address, starting at
    /// `height + round`, skipping validators that recently missed their
    /// turn (see [`MissRecord::skipped`]); if every validator is skipped,
    /// plain round robin.
    fn select_proposer<'a>(
        &self,
        vs: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let all = vs.validators();
        assert!(!all.is_empty(), "empty validator set");
        let n = all.len() as u64;
        let r = u64::from(round.as_u32().unwrap_or(0));
        let eligible: Vec<&Validator> = match self.misses.read() {
            Ok(m) => all
                .iter()
                .filter(|v| !m.skipped(&v.address, height.0))
                .collect(),
            Err(_) => Vec::new(),
        };
        if eligible.is_empty() {
            let i = height.0.wrapping_add(r) % n;
            return &all[i as usize];
        }
        let i = height.0.wrapping_add(r) % eligible.len() as u64;
        eligible[i as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            validator_address: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator_address: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator_address: address,
            extension: None,
        }
    }
}
