//! Ed25519 signing of consensus messages.
//!
//! Every signature covers a domain tag, the chain id and the message's
//! canonical encoding (see [`crate::codec`]):
//!
//! ```text
//! "btl-consensus/" kind "/v1" 0x00 | u16 len(chain_id) | chain_id | body
//! ```
//!
//! where `kind` is `vote`, `proposal`, `part` (the `Fin` of a streamed
//! proposal: body = height u64 | round | block hash) or `ext` (a vote
//! extension: body = height u64 | round | block hash | validator address |
//! bytes extension). Validator proofs (libp2p peer id bound to the
//! consensus key) use Malachite's own preimage.

use async_trait::async_trait;
use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    Round, SignedMessage, ValidatorProof, VoteExtensionScope,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error as SignError, VerificationResult};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use crate::codec::{put_proposal, put_round, put_vote, Writer};
use crate::context::{BlockHash, BtlContext, Height, Proposal, Vote};

/// The bytes signed for a domain `kind`.
pub fn sign_bytes(chain_id: &str, kind: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + chain_id.len() + body.len());
    out.extend_from_slice(b"btl-consensus/");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"/v1\0");
    let len = u16::try_from(chain_id.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&chain_id.as_bytes()[..usize::from(len)]);
    out.extend_from_slice(body);
    out
}

/// The bytes a proposer signs in a proposal stream's `Fin` part.
pub fn part_sign_bytes(chain_id: &str, height: Height, round: Round, hash: &BlockHash) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(height.0);
    put_round(&mut w, round);
    w.raw(&hash.0);
    sign_bytes(chain_id, "part", &w.into_inner())
}

/// A vote's signature covers the vote without its extension (commit
/// certificates are checked against extension-less votes; the extension
/// has its own signature, bound to the vote by its scope).
fn vote_bytes(chain_id: &str, vote: &Vote) -> Vec<u8> {
    let mut w = Writer::default();
    let bare = Vote {
        extension: None,
        ..vote.clone()
    };
    put_vote(&mut w, &bare);
    sign_bytes(chain_id, "vote", &w.into_inner())
}

fn proposal_bytes(chain_id: &str, p: &Proposal) -> Vec<u8> {
    let mut w = Writer::default();
    put_proposal(&mut w, p);
    sign_bytes(chain_id, "proposal", &w.into_inner())
}

fn ext_bytes(chain_id: &str, scope: &VoteExtensionScope<BtlContext>, ext: &[u8]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(scope.height.0);
    put_round(&mut w, scope.round);
    w.raw(&scope.value_id.0);
    w.raw(&scope.validator_address.0);
    w.bytes(ext);
    sign_bytes(chain_id, "ext", &w.into_inner())
}

/// Whether `sig` is `key`'s signature of `msg`. Consensus messages follow
/// the ledger's transaction rule ([`btl_ledger::sig`]: cofactored Ed25519,
/// as in ZIP 215, which Malachite's own verifier also follows, with
/// small-order keys refused), checked with the vectorized curve arithmetic.
pub fn verify_sig(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    btl_ledger::sig::verify(key, msg, sig)
}

fn verdict(pk: &PublicKey, msg: &[u8], sig: &Signature) -> VerificationResult {
    VerificationResult::from_bool(verify_sig(pk.as_bytes(), msg, &sig.to_bytes()))
}

/// Signs and verifies consensus messages with one validator key.
#[derive(Clone)]
pub struct Ed25519Provider {
    key: Option<PrivateKey>,
    chain_id: String,
}

impl Ed25519Provider {
    /// A signer (and verifier) for a validator key.
    pub fn new(key: PrivateKey, chain_id: &str) -> Self {
        Ed25519Provider {
            key: Some(key),
            chain_id: chain_id.to_string(),
        }
    }

    /// A verifier only (for a full node).
    pub fn verifier(chain_id: &str) -> Self {
        Ed25519Provider {
            key: None,
            chain_id: chain_id.to_string(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Signature, SignError> {
        match &self.key {
            Some(k) => Ok(k.sign(msg)),
            None => Err(SignError::from_source("no signing key")),
        }
    }

    /// Signs raw bytes with the validator key (no domain tag: used for the
    /// checkpoint cosignatures carried in vote extensions, whose message is
    /// itself domain-separated by its origin line).
    pub fn sign_raw(&self, msg: &[u8]) -> Option<[u8; 64]> {
        self.sign(msg).ok().map(|s| s.to_bytes())
    }

    /// Signs a proposal stream's `Fin`.
    pub fn sign_part(&self, height: Height, round: Round, hash: &BlockHash) -> Option<Signature> {
        self.sign(&part_sign_bytes(&self.chain_id, height, round, hash))
            .ok()
    }
}

#[async_trait]
impl Signer<BtlContext> for Ed25519Provider {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<BtlContext, Vote>, SignError> {
        let sig = self.sign(&vote_bytes(&self.chain_id, &vote))?;
        Ok(SignedMessage::new(vote, sig))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<BtlContext, Proposal>, SignError> {
        let sig = self.sign(&proposal_bytes(&self.chain_id, &proposal))?;
        Ok(SignedMessage::new(proposal, sig))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<BtlContext>,
        extension: Bytes,
    ) -> Result<SignedMessage<BtlContext, Bytes>, SignError> {
        let sig = self.sign(&ext_bytes(&self.chain_id, &scope, &extension))?;
        Ok(SignedMessage::new(extension, sig))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<BtlContext>, SignError> {
        let pre = ValidatorProof::<BtlContext>::signing_bytes(&public_key, &peer_id);
        let sig = self.sign(&pre)?;
        Ok(ValidatorProof::new(public_key, peer_id, sig))
    }
}

#[async_trait]
impl Verifier<BtlContext> for Ed25519Provider {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(verdict(
            public_key,
            &vote_bytes(&self.chain_id, vote),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(verdict(
            public_key,
            &proposal_bytes(&self.chain_id, proposal),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<BtlContext>,
        extension: &Bytes,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SignError> {
        Ok(verdict(
            public_key,
            &ext_bytes(&self.chain_id, scope, extension),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<BtlContext>,
    ) -> Result<VerificationResult, SignError> {
        let Ok(arr) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(pk) = PublicKey::from_bytes(arr) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verdict(&pk, &proof.preimage(), &proof.signature))
    }
}
