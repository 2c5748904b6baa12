//! The application loop: answers every message Malachite's engine sends
//! to the application ([`AppMsg`]).
//!
//! One task owns the consensus-side state (current height, validator set,
//! proposal reassembly, executed-block cache); the store, mempool and
//! status are shared with the HTTP API through [`Shared`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, HeightParams, Round, Validity,
    VoteExtensionPolicy, VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_core_consensus::{VoteExtensionError, VoteExtensionVerdicts};
use malachitebft_engine::host::{Next, SyncedValueOutcome};
use malachitebft_signing_ed25519::PublicKey;

use crate::app::{BuildCtx, Executed};
use crate::codec::{encode_commit_cert, encode_ext_cert};
use crate::context::{
    default_timeouts, Address, BlockHash, BtlContext, Height, Validator, ValidatorSet,
};
use crate::node::Shared;
use crate::parts::{stream_block, stream_id, Assembled, Reassembler};
use crate::signing::{part_sign_bytes, Ed25519Provider};
use crate::store::{CommitBatch, PendingProposal};

/// Most bytes returned in one sync response.
const MAX_SYNC_BYTES: usize = 8 * 1024 * 1024;

/// How far ahead of the current height proposals are kept.
const MAX_FUTURE_HEIGHTS: u64 = 4;

/// The application side of consensus.
pub struct Handler {
    ctx: BtlContext,
    shared: Arc<Shared>,
    address: Option<Address>,
    signer: Option<Ed25519Provider>,
    empty_block: Duration,
    max_block_txs: usize,
    height: Height,
    round: Round,
    vs: ValidatorSet,
    tip_hash: BlockHash,
    parts: Reassembler,
    executed: HashMap<BlockHash, Executed>,
    /// Cosign messages of this height's blocks (asked for at every vote
    /// extension check; each would otherwise read and decode the block).
    cosign_msgs: HashMap<BlockHash, Vec<u8>>,
    /// Cosignatures already verified (block, validator, signature), so the
    /// commit need not verify them again; cleared at each commit.
    cosigs_ok: HashSet<(BlockHash, Address, [u8; 64])>,
    committed: Option<Height>,
    nonce: u32,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `ext` as a signature, if it is the validator's Ed25519 signature of `msg`.
fn valid_cosig(validator: &Address, msg: &[u8], ext: &[u8]) -> Option<[u8; 64]> {
    let sig = <[u8; 64]>::try_from(ext).ok()?;
    crate::signing::verify_sig(&validator.0, msg, &sig).then_some(sig)
}

fn round_opt(r: Round) -> Option<u32> {
    r.as_u32()
}

fn round_of(r: Option<u32>) -> Round {
    r.map_or(Round::Nil, Round::new)
}

impl Handler {
    /// A handler; reads the tip from the store.
    pub fn new(
        ctx: BtlContext,
        shared: Arc<Shared>,
        address: Option<Address>,
        signer: Option<Ed25519Provider>,
        empty_block: Duration,
        max_block_txs: usize,
    ) -> Result<Self, String> {
        let tip = shared.store.tip().map_err(|e| e.to_string())?;
        let tip_hash = match shared.store.block(tip).map_err(|e| e.to_string())? {
            Some(b) if tip > 0 => BlockHash::of(&b),
            _ => BlockHash::default(),
        };
        let mut h = Handler {
            ctx,
            shared,
            address,
            signer,
            empty_block,
            max_block_txs: max_block_txs.max(1),
            height: Height(tip + 1),
            round: Round::Nil,
            vs: ValidatorSet::new([]),
            tip_hash,
            parts: Reassembler::default(),
            executed: HashMap::new(),
            cosign_msgs: HashMap::new(),
            cosigs_ok: HashSet::new(),
            committed: None,
            nonce: 0,
        };
        h.vs = h.validator_set(Height(tip + 1))?;
        h.publish_status(tip);
        Ok(h)
    }

    fn validator_set(&self, height: Height) -> Result<ValidatorSet, String> {
        let snap = self.shared.store.snapshot().map_err(|e| e.to_string())?;
        let list = self.shared.app.validators(&snap, height.0)?;
        let mut vs = Vec::with_capacity(list.len());
        for (pk, power) in list {
            let pk = PublicKey::from_bytes(pk)
                .map_err(|e| format!("validator key {}: {e}", hex::encode(pk)))?;
            vs.push(Validator::new(pk, power));
        }
        let set = ValidatorSet::new(vs);
        if set.validators().is_empty() {
            return Err(format!("no validators for height {height}"));
        }
        Ok(set)
    }

    fn params(&self) -> HeightParams<BtlContext> {
        let mut t = default_timeouts();
        if self.vs.validators().len() == 1 {
            // Alone there is no other proposer to hand over to: wait for
            // transactions up to the empty-block interval (an idle chain
            // then commits one empty block per interval, not one a second).
            t.propose = t.propose.max(self.empty_block * 2 + Duration::from_secs(1));
            t.max_timeout = t.max_timeout.max(t.propose);
        }
        let p = HeightParams::new(self.vs.clone(), t, None);
        if self.shared.app.cosigns() {
            p.with_vote_extension_policy(VoteExtensionPolicy::Required)
        } else {
            p
        }
    }

    /// The block with this hash at `height`, stored as a proposal or
    /// already committed.
    fn block_by_hash(&self, height: Height, hash: &BlockHash) -> Option<Vec<u8>> {
        if let Ok(Some(p)) = self.shared.store.pending_by_hash(height, hash) {
            return Some(p.block);
        }
        match self.shared.store.block(height.0) {
            Ok(Some(b)) if BlockHash::of(&b) == *hash => Some(b),
            _ => None,
        }
    }

    /// The app's cosign message of block `hash` at `height` (remembered
    /// until the height is committed).
    fn cosign_msg(&mut self, height: Height, hash: &BlockHash) -> Option<Vec<u8>> {
        if let Some(m) = self.cosign_msgs.get(hash) {
            return Some(m.clone());
        }
        let m = self
            .block_by_hash(height, hash)
            .and_then(|b| self.shared.app.cosign_message(&b))?;
        self.cosign_msgs.insert(*hash, m.clone());
        Some(m)
    }

    /// Our vote extension for a precommit of block `hash`: our signature of
    /// the app's cosign message (empty if we cannot make one; the other
    /// validators then leave our cosignature out of the checkpoint).
    fn extension(&mut self, height: Height, hash: &BlockHash) -> Bytes {
        let msg = self.cosign_msg(height, hash);
        let sig = match (&self.signer, msg) {
            (Some(s), Some(m)) => s.sign_raw(&m),
            _ => None,
        };
        match sig {
            Some(s) => Bytes::copy_from_slice(&s),
            None => {
                tracing::error!(%height, %hash, "cannot cosign: block unknown");
                Bytes::new()
            }
        }
    }

    /// Checks validators' cosignatures of block `hash`. A block we do not
    /// have cannot be checked here: its extensions are accepted (their
    /// origin is already authenticated by Malachite) and checked again
    /// when the decided block is stored.
    fn verify_extensions(
        &mut self,
        height: Height,
        hash: &BlockHash,
        extensions: Vec<(Address, Bytes)>,
    ) -> VoteExtensionVerdicts<BtlContext> {
        let msg = self.cosign_msg(height, hash);
        extensions
            .into_iter()
            .map(|(a, ext)| {
                let ok = match &msg {
                    Some(m) => valid_cosig(&a, m, &ext)
                        .map(|sig| self.cosigs_ok.insert((*hash, a, sig)))
                        .is_some(),
                    None => true,
                };
                if ok {
                    (a, Ok(()))
                } else {
                    tracing::warn!(%height, validator = %a, "bad checkpoint cosignature");
                    (a, Err(VoteExtensionError::InvalidVoteExtension))
                }
            })
            .collect()
    }

    fn publish_status(&self, tip: u64) {
        let mempool = self.shared.mempool.lock().map(|m| m.len()).unwrap_or(0);
        if let Ok(mut s) = self.shared.status.write() {
            s.height = tip;
            s.tip_hash = self.tip_hash.to_string();
            s.consensus_height = self.height.0;
            s.consensus_round = self.round.as_i64();
            s.mempool = mempool;
            s.validators = self
                .vs
                .validators()
                .iter()
                .map(|v| (v.address.to_string(), v.voting_power))
                .collect();
        }
    }

    /// Runs until the engine closes the channel.
    pub async fn run(mut self, mut channels: Channels<BtlContext>) -> Result<(), String> {
        while let Some(msg) = channels.consensus.recv().await {
            if let Err(e) = self.handle(msg, &channels).await {
                tracing::error!(error = %e, "application error");
            }
        }
        Err("consensus engine stopped".into())
    }

    async fn handle(
        &mut self,
        msg: AppMsg<BtlContext>,
        channels: &Channels<BtlContext>,
    ) -> Result<(), String> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let tip = self.shared.store.tip().map_err(|e| e.to_string())?;
                self.height = Height(tip + 1);
                self.vs = self.validator_set(self.height)?;
                tracing::info!(height = %self.height, "consensus ready");
                let _ = reply.send((self.height, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                tracing::debug!(%height, %round, %proposer, ?role, "started round");
                self.height = height;
                self.round = round;
                let values = self.restore(height, round);
                let _ = reply_value.send(values);
                self.publish_status(height.0.saturating_sub(1));
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let (hash, block, valid_round) = self.get_value(height, round, timeout).await?;
                let _ = reply.send(LocallyProposedValue::new(height, round, hash));
                self.stream(channels, height, round, valid_round, &block, &hash)
                    .await;
            }
            AppMsg::ExtendVote {
                height,
                value_id,
                vote_extension_policy,
                reply,
                ..
            } => {
                let ext = if vote_extension_policy.is_required() {
                    Some(self.extension(height, &value_id))
                } else {
                    None
                };
                let _ = reply.send(ext);
            }
            AppMsg::VerifyVoteExtensions {
                height,
                value_id,
                extensions,
                reply,
                ..
            } => {
                let _ = reply.send(self.verify_extensions(height, &value_id, extensions));
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                value_id,
                ..
            } => {
                let p = self
                    .shared
                    .store
                    .pending_by_hash(height, &value_id)
                    .map_err(|e| e.to_string())?;
                match p {
                    Some(p) => {
                        self.stream(channels, height, round, valid_round, &p.block, &value_id)
                            .await
                    }
                    None => {
                        tracing::warn!(%height, %round, %value_id, "cannot restream: unknown value")
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let origin = published_by.unwrap_or(from);
                let value = match self.parts.add(origin, part) {
                    Ok(Some(a)) => self.on_proposal(a),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(peer = %origin, error = %e, "bad proposal stream");
                        None
                    }
                };
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate,
                extensions,
                reply,
            } => {
                let r = self.commit(&certificate, extensions);
                if let Err(e) = &r {
                    tracing::error!(height = %certificate.height, error = %e, "commit failed");
                }
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let h = certificate.height;
                if self.committed == Some(h) {
                    self.height = Height(h.0 + 1);
                    self.round = Round::Nil;
                    self.vs = self.validator_set(self.height)?;
                    self.parts.prune_below(self.height.0);
                    let _ = reply.send(Next::Start(self.height, self.params()));
                } else {
                    tracing::error!(height = %h, "restarting height: block not committed");
                    let _ = reply.send(Next::Restart(h, self.params()));
                }
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range.start().0, range.end().0));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let out = self.synced(height, round, proposer, &value_bytes);
                let _ = reply.send(out);
            }
        }
        Ok(())
    }

    /// Undecided values of (height, round) known before a restart.
    fn restore(&mut self, height: Height, round: Round) -> Vec<ProposedValue<BtlContext>> {
        let Some(r) = round.as_u32() else {
            return Vec::new();
        };
        let pending = match self.shared.store.pending_at(height) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "reading pending proposals");
                return Vec::new();
            }
        };
        let expected = self.ctx.proposer_at(&self.vs, height, round).address;
        let mut out = Vec::new();
        for p in pending.into_iter().filter(|p| p.round == r) {
            if p.proposer != expected {
                continue;
            }
            let hash = p.hash();
            let validity = self.execute(height, &hash, &p.block);
            out.push(ProposedValue {
                height,
                round,
                valid_round: round_of(p.valid_round),
                proposer: p.proposer,
                value: hash,
                validity,
            });
        }
        out
    }

    /// Checks (and caches the effect of) a block at the current height.
    fn execute(&mut self, height: Height, hash: &BlockHash, block: &[u8]) -> Validity {
        if self.executed.contains_key(hash) {
            return Validity::Valid;
        }
        let tip = match self.shared.store.tip() {
            Ok(t) => t,
            Err(_) => return Validity::Invalid,
        };
        if tip + 1 != height.0 {
            return Validity::Invalid;
        }
        let snap = match self.shared.store.snapshot() {
            Ok(s) => s,
            Err(_) => return Validity::Invalid,
        };
        let started = Instant::now();
        match self
            .shared
            .app
            .check(&snap, height.0, self.tip_hash.0, block)
        {
            Ok(x) => {
                let ms = started.elapsed().as_secs_f64() * 1e3;
                tracing::debug!(%height, %hash, exec_ms = format_args!("{ms:.1}"), "executed proposal");
                self.executed.insert(*hash, x);
                Validity::Valid
            }
            Err(e) => {
                tracing::warn!(%height, %hash, error = %e, "invalid block");
                Validity::Invalid
            }
        }
    }

    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<(BlockHash, Vec<u8>, Round), String> {
        // After a restart we may have built a block for this round already.
        if let Some(r) = round.as_u32() {
            let pending = self
                .shared
                .store
                .pending_at(height)
                .map_err(|e| e.to_string())?;
            if let Some(p) = pending
                .into_iter()
                .find(|p| p.round == r && Some(p.proposer) == self.address)
            {
                return Ok((p.hash(), p.block, round_of(p.valid_round)));
            }
        }
        // Wait a little for transactions when the mempool is empty.
        let wait = self.empty_block.min(timeout / 2);
        let deadline = Instant::now() + wait;
        loop {
            let empty = self
                .shared
                .mempool
                .lock()
                .map(|m| m.is_empty())
                .unwrap_or(true);
            if !empty {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = tokio::time::timeout(left, self.shared.tx_arrived.notified()).await;
        }
        let candidates = self
            .shared
            .mempool
            .lock()
            .map(|m| m.candidates(self.max_block_txs))
            .unwrap_or_default();
        let snap = self.shared.store.snapshot().map_err(|e| e.to_string())?;
        let proposer = self.address.map(|a| a.0).unwrap_or([0; 32]);
        let ctx = BuildCtx {
            height: height.0,
            round: round.as_u32().unwrap_or(0),
            time_ms: now_ms(),
            proposer,
            prev_hash: self.tip_hash.0,
        };
        let built = self
            .shared
            .app
            .build(&snap, &ctx, &mut candidates.into_iter())?;
        if !built.rejected.is_empty() {
            if let Ok(mut m) = self.shared.mempool.lock() {
                m.reject(&built.rejected);
            }
        }
        let hash = BlockHash::of(&built.block);
        self.executed.insert(hash, built.executed);
        let p = PendingProposal {
            height,
            round: round.as_u32().unwrap_or(0),
            valid_round: None,
            proposer: Address(proposer),
            block: built.block,
        };
        self.shared
            .store
            .put_pending(&p)
            .map_err(|e| e.to_string())?;
        tracing::debug!(%height, %round, %hash, "proposing");
        Ok((hash, p.block, Round::Nil))
    }

    async fn stream(
        &mut self,
        channels: &Channels<BtlContext>,
        height: Height,
        round: Round,
        valid_round: Round,
        block: &[u8],
        hash: &BlockHash,
    ) {
        let (Some(signer), Some(addr)) = (&self.signer, self.address) else {
            return;
        };
        let Some(sig) = signer.sign_part(height, round, hash) else {
            return;
        };
        self.nonce = self.nonce.wrapping_add(1);
        let id = stream_id(height, round, self.nonce);
        for m in stream_block(id, height, round, valid_round, addr, block, sig) {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(m))
                .await
                .is_err()
            {
                tracing::error!("network channel closed");
                return;
            }
        }
    }

    fn on_proposal(&mut self, a: Assembled) -> Option<ProposedValue<BtlContext>> {
        if a.height < self.height || a.height.0 > self.height.0 + MAX_FUTURE_HEIGHTS {
            return None;
        }
        let hash = BlockHash::of(&a.block);
        let msg = part_sign_bytes(&self.ctx.chain_id, a.height, a.round, &hash);
        if !crate::signing::verify_sig(&a.proposer.0, &msg, &a.signature.to_bytes()) {
            tracing::warn!(height = %a.height, "proposal with a bad signature");
            return None;
        }
        let r = a.round.as_u32()?;
        let p = PendingProposal {
            height: a.height,
            round: r,
            valid_round: round_opt(a.valid_round),
            proposer: a.proposer,
            block: a.block,
        };
        let started = Instant::now();
        if let Err(e) = self.shared.store.put_pending(&p) {
            tracing::error!(error = %e, "storing a proposal");
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(height = %a.height, pending_ms = format_args!("{ms:.1}"), "stored proposal");
        if a.height != self.height {
            return None; // handed back at StartedRound
        }
        if self.ctx.proposer_at(&self.vs, a.height, a.round).address != a.proposer {
            tracing::warn!(height = %a.height, round = %a.round, "proposal from a non-proposer");
            return None;
        }
        let validity = self.execute(a.height, &hash, &p.block);
        Some(ProposedValue {
            height: a.height,
            round: a.round,
            valid_round: a.valid_round,
            proposer: a.proposer,
            value: hash,
            validity,
        })
    }

    fn commit(
        &mut self,
        cert: &CommitCertificate<BtlContext>,
        ext: VoteExtensions<BtlContext>,
    ) -> Result<(), String> {
        let height = cert.height;
        let hash = cert.value_id;
        let tip = self.shared.store.tip().map_err(|e| e.to_string())?;
        if height.0 <= tip {
            self.committed = Some(height);
            return Ok(()); // already stored (replayed after a restart)
        }
        let p = self
            .shared
            .store
            .pending_by_hash(height, &hash)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("decided block {hash} is not stored"))?;
        if !self.executed.contains_key(&hash) && self.execute(height, &hash, &p.block).is_invalid()
        {
            return Err(format!("decided block {hash} does not apply"));
        }
        let executed = self.executed.remove(&hash).unwrap_or_default();
        self.ctx.record_decision(&self.vs, height, cert.round);
        let misses = self
            .ctx
            .misses
            .read()
            .map(|m| m.encode())
            .unwrap_or_default();
        let msg = if self.shared.app.cosigns() {
            self.cosign_msg(height, &hash)
        } else {
            None
        };
        let cosigned = self.cosigned(msg, &p.block, cert, &ext);
        let ext_cert = encode_ext_cert(
            &ExtendedCommitCertificate::from_commit_certificate_and_extensions(cert.clone(), ext),
        );
        let batch = CommitBatch {
            height: height.0,
            block: p.block,
            cert: encode_commit_cert(cert),
            diff: executed.diff,
            tx_ids: executed.tx_ids,
            misses,
            ext_cert,
            cosigned,
        };
        let (tx_ids, writes) = (batch.tx_ids.clone(), batch.diff.len());
        let started = Instant::now();
        self.shared.store.commit(batch).map_err(|e| e.to_string())?;
        let store_ms = started.elapsed().as_secs_f64() * 1e3;
        if let Ok(mut m) = self.shared.mempool.lock() {
            m.committed(&tx_ids);
        }
        self.shared.app.committed(&tx_ids);
        self.executed.clear();
        self.cosign_msgs.clear();
        self.cosigs_ok.clear();
        self.tip_hash = hash;
        self.committed = Some(height);
        if let Ok(mut s) = self.shared.status.write() {
            s.last_commit_ms = now_ms();
        }
        self.publish_status(height.0);
        self.shared.committed.notify_waiters();
        tracing::info!(
            %height,
            round = %cert.round,
            txs = tx_ids.len(),
            writes,
            store_ms = format_args!("{store_ms:.1}"),
            %hash,
            "committed"
        );
        Ok(())
    }

    /// The app's record of the valid cosignatures of a decided block
    /// (those of validators that signed its commit certificate).
    fn cosigned(
        &self,
        msg: Option<Vec<u8>>,
        block: &[u8],
        cert: &CommitCertificate<BtlContext>,
        ext: &VoteExtensions<BtlContext>,
    ) -> Option<Vec<u8>> {
        if !self.shared.app.cosigns() {
            return None;
        }
        let msg = msg?;
        let cosigs: Vec<([u8; 32], Vec<u8>)> = ext
            .extensions
            .iter()
            .filter(|(a, _)| cert.commit_signatures.iter().any(|s| s.address == *a))
            .filter(|(a, e)| {
                let known = <[u8; 64]>::try_from(&e.message[..])
                    .is_ok_and(|sig| self.cosigs_ok.contains(&(cert.value_id, *a, sig)));
                known || valid_cosig(a, &msg, &e.message).is_some()
            })
            .map(|(a, e)| (a.0, e.message.to_vec()))
            .collect();
        let snap = self.shared.store.snapshot().ok()?;
        let r = self.shared.app.cosigned_record(&snap, block, &cosigs);
        if r.is_none() {
            tracing::warn!(height = %cert.height, cosigs = cosigs.len(), "checkpoint not cosigned by enough validators");
        }
        r
    }

    fn decided_values(&self, from: u64, to: u64) -> Vec<RawDecidedValue<BtlContext>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let tip = self.shared.store.tip().unwrap_or(0);
        for h in from.max(1)..=to.min(tip) {
            let (Ok(Some(block)), Ok(Some(cert))) =
                (self.shared.store.block(h), self.shared.store.cert(h))
            else {
                break;
            };
            let ext = match self.shared.store.ext_cert(h) {
                Ok(Some(e)) => match crate::codec::decode_ext_cert(&e) {
                    Ok(e) => e,
                    Err(_) => break,
                },
                _ => match crate::codec::decode_commit_cert(&cert) {
                    Ok(c) => ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                        c,
                        VoteExtensions::default(),
                    ),
                    Err(_) => break,
                },
            };
            bytes += block.len() + ext.commit_signatures.len() * 200;
            if !out.is_empty() && bytes > MAX_SYNC_BYTES {
                break;
            }
            out.push(RawDecidedValue::new(block.into(), ext));
        }
        out
    }

    fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> SyncedValueOutcome<BtlContext> {
        if bytes.len() > crate::parts::MAX_BLOCK {
            return SyncedValueOutcome::PeerFault;
        }
        let hash = BlockHash::of(bytes);
        let p = PendingProposal {
            height,
            round: round.as_u32().unwrap_or(0),
            valid_round: None,
            proposer,
            block: bytes.to_vec(),
        };
        if let Err(e) = self.shared.store.put_pending(&p) {
            tracing::error!(error = %e, "storing a synced block");
            return SyncedValueOutcome::LocalTransientError;
        }
        let validity = self.execute(height, &hash, bytes);
        SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: hash,
            validity,
        })
    }
}
