//! The binary encoding of consensus messages (network, write-ahead log,
//! sync, storage).
//!
//! Integers are big-endian. `bytes` is `u32 length | bytes`; a list is
//! `u32 count | items`. Counts and lengths are checked against the bytes
//! that remain before anything is allocated, so a decoder never allocates
//! more than its input size. Every message starts with a one-byte version
//! ([`VERSION`]).
//!
//! ```text
//! round      = u8 0 (nil) | u8 1, u32 round
//! nil_or_val = u8 0 (nil) | u8 1, hash[32]
//! vote       = u8 type (0 prevote, 1 precommit) | u64 height | round
//!              | nil_or_val | address[32] | extension
//! extension  = u8 0 (none) | u8 1, bytes (≤ MAX_EXTENSION) | signature[64]
//! proposal   = u64 height | round | hash[32] | round (pol) | address[32]
//! signed X   = X | signature[64]
//! part       = u8 0 Init: u64 height | round | round (valid) | address[32] | u32 total_len
//!            | u8 1 Data: bytes
//!            | u8 2 Fin:  signature[64]
//! ```
//!
//! Commit certificates (stored with each block) are
//! `u64 height | round | hash[32] | list of (address[32] | signature[64])`.

use bytes::Bytes;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedExtension, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::{
    codec::{Codec, HasEncodedLen},
    PeerId, ProposedValue, SignedConsensusMsg,
};
use malachitebft_core_consensus::LivenessMsg;
use malachitebft_engine::util::streaming::StreamContent;
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{ValueRequest, ValueResponse};

use crate::context::{Address, BlockHash, BtlContext, Height, Proposal, ProposalPart, Vote};

/// Version byte in front of every encoded message.
pub const VERSION: u8 = 1;

/// Most signatures in one certificate (validators in a set).
pub const MAX_SIGNATURES: usize = 1024;

/// A decoding error: what was wrong with the bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended early.
    #[error("truncated input")]
    Truncated,
    /// Bytes after the message.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// Unknown version byte.
    #[error("unsupported encoding version {0}")]
    Version(u8),
    /// Unknown enum tag.
    #[error("invalid tag {tag} for {what}")]
    Tag {
        /// The field.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A count or length over its limit.
    #[error("{what} too large: {n}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The value found.
        n: u64,
    },
    /// A malformed field.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Appends encoded fields to a buffer.
#[derive(Default, Debug)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// A writer with the version byte already written.
    pub fn versioned() -> Self {
        Writer(vec![VERSION])
    }
    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// Big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// Bytes as they are.
    pub fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// Length-prefixed bytes (lengths over u32 are cut; never produced).
    pub fn bytes(&mut self, b: &[u8]) {
        let n = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.u32(n);
        self.0.extend_from_slice(&b[..n as usize]);
    }
    /// A list count.
    pub fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads encoded fields from a slice, never past its end.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader(b)
    }
    /// A reader that first checks the version byte.
    pub fn versioned(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(b);
        let v = r.u8()?;
        if v != VERSION {
            return Err(DecodeError::Version(v));
        }
        Ok(r)
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.0.len()
    }
    /// Fails if bytes remain.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.0.len()))
        }
    }
    /// `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A list count, where each item takes at least `min_item` bytes and
    /// there are at most `max`.
    pub fn count(
        &mut self,
        what: &'static str,
        min_item: usize,
        max: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > max || n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(DecodeError::TooLarge { what, n: n as u64 });
        }
        Ok(n)
    }
}

// ---- field encoders ----

/// Writes a round.
pub fn put_round(w: &mut Writer, r: Round) {
    match r.as_u32() {
        None => w.u8(0),
        Some(n) => {
            w.u8(1);
            w.u32(n);
        }
    }
}

fn get_round(r: &mut Reader<'_>) -> Result<Round, DecodeError> {
    match r.u8()? {
        0 => Ok(Round::Nil),
        1 => Ok(Round::new(r.u32()?)),
        tag => Err(DecodeError::Tag { what: "round", tag }),
    }
}

fn get_sig(r: &mut Reader<'_>) -> Result<Signature, DecodeError> {
    Ok(Signature::from_bytes(r.array()?))
}

fn get_addr(r: &mut Reader<'_>) -> Result<Address, DecodeError> {
    Ok(Address(r.array()?))
}

fn get_hash(r: &mut Reader<'_>) -> Result<BlockHash, DecodeError> {
    Ok(BlockHash(r.array()?))
}

fn put_nil_or_val(w: &mut Writer, v: &NilOrVal<BlockHash>) {
    match v {
        NilOrVal::Nil => w.u8(0),
        NilOrVal::Val(h) => {
            w.u8(1);
            w.raw(&h.0);
        }
    }
}

fn get_nil_or_val(r: &mut Reader<'_>) -> Result<NilOrVal<BlockHash>, DecodeError> {
    match r.u8()? {
        0 => Ok(NilOrVal::Nil),
        1 => Ok(NilOrVal::Val(get_hash(r)?)),
        tag => Err(DecodeError::Tag { what: "value", tag }),
    }
}

fn put_vote_type(w: &mut Writer, t: VoteType) {
    w.u8(match t {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
}

fn get_vote_type(r: &mut Reader<'_>) -> Result<VoteType, DecodeError> {
    match r.u8()? {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        tag => Err(DecodeError::Tag {
            what: "vote type",
            tag,
        }),
    }
}

/// Writes a vote (without its signature).
pub fn put_vote(w: &mut Writer, v: &Vote) {
    put_vote_type(w, v.vote_type);
    w.u64(v.height.0);
    put_round(w, v.round);
    put_nil_or_val(w, &v.value);
    w.raw(&v.validator_address.0);
    put_extension(w, v.extension.as_ref());
}

/// Most bytes in a vote extension.
pub const MAX_EXTENSION: usize = 256;

fn put_extension(w: &mut Writer, e: Option<&SignedExtension<BtlContext>>) {
    match e {
        None => w.u8(0),
        Some(e) => {
            w.u8(1);
            w.bytes(&e.message);
            w.raw(&e.signature.to_bytes());
        }
    }
}

fn get_extension(r: &mut Reader<'_>) -> Result<Option<SignedExtension<BtlContext>>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => {
            let b = r.bytes()?;
            if b.len() > MAX_EXTENSION {
                return Err(DecodeError::Invalid("vote extension too large"));
            }
            let ext = Bytes::copy_from_slice(b);
            Ok(Some(SignedMessage::new(ext, get_sig(r)?)))
        }
        tag => Err(DecodeError::Tag {
            what: "extension",
            tag,
        }),
    }
}

fn get_vote(r: &mut Reader<'_>) -> Result<Vote, DecodeError> {
    let vote_type = get_vote_type(r)?;
    let height = Height(r.u64()?);
    let round = get_round(r)?;
    let value = get_nil_or_val(r)?;
    let validator_address = get_addr(r)?;
    let extension = get_extension(r)?;
    Ok(Vote {
        vote_type,
        height,
        round,
        value,
        validator_address,
        extension,
    })
}

/// Writes a proposal (without its signature).
pub fn put_proposal(w: &mut Writer, p: &Proposal) {
    w.u64(p.height.0);
    put_round(w, p.round);
    w.raw(&p.value.0);
    put_round(w, p.pol_round);
    w.raw(&p.validator_address.0);
}

fn get_proposal(r: &mut Reader<'_>) -> Result<Proposal, DecodeError> {
    Ok(Proposal {
        height: Height(r.u64()?),
        round: get_round(r)?,
        value: get_hash(r)?,
        pol_round: get_round(r)?,
        validator_address: get_addr(r)?,
    })
}

fn put_part(w: &mut Writer, p: &ProposalPart) {
    match p {
        ProposalPart::Init {
            height,
            round,
            valid_round,
            proposer,
            total_len,
        } => {
            w.u8(0);
            w.u64(height.0);
            put_round(w, *round);
            put_round(w, *valid_round);
            w.raw(&proposer.0);
            w.u32(*total_len);
        }
        ProposalPart::Data(b) => {
            w.u8(1);
            w.bytes(b);
        }
        ProposalPart::Fin { signature } => {
            w.u8(2);
            w.raw(&signature.to_bytes());
        }
    }
}

fn get_part(r: &mut Reader<'_>) -> Result<ProposalPart, DecodeError> {
    match r.u8()? {
        0 => Ok(ProposalPart::Init {
            height: Height(r.u64()?),
            round: get_round(r)?,
            valid_round: get_round(r)?,
            proposer: get_addr(r)?,
            total_len: r.u32()?,
        }),
        1 => Ok(ProposalPart::Data(Bytes::copy_from_slice(r.bytes()?))),
        2 => Ok(ProposalPart::Fin {
            signature: get_sig(r)?,
        }),
        tag => Err(DecodeError::Tag {
            what: "proposal part",
            tag,
        }),
    }
}

fn put_signed_msg(w: &mut Writer, m: &SignedConsensusMsg<BtlContext>) {
    match m {
        SignedConsensusMsg::Vote(v) => {
            w.u8(0);
            put_vote(w, &v.message);
            w.raw(&v.signature.to_bytes());
        }
        SignedConsensusMsg::Proposal(p) => {
            w.u8(1);
            put_proposal(w, &p.message);
            w.raw(&p.signature.to_bytes());
        }
    }
}

fn get_signed_msg(r: &mut Reader<'_>) -> Result<SignedConsensusMsg<BtlContext>, DecodeError> {
    match r.u8()? {
        0 => {
            let v = get_vote(r)?;
            Ok(SignedConsensusMsg::Vote(SignedMessage::new(v, get_sig(r)?)))
        }
        1 => {
            let p = get_proposal(r)?;
            Ok(SignedConsensusMsg::Proposal(SignedMessage::new(
                p,
                get_sig(r)?,
            )))
        }
        tag => Err(DecodeError::Tag {
            what: "consensus message",
            tag,
        }),
    }
}

fn put_polka(w: &mut Writer, c: &PolkaCertificate<BtlContext>) {
    w.u64(c.height.0);
    put_round(w, c.round);
    w.raw(&c.value_id.0);
    w.count(c.polka_signatures.len());
    for s in &c.polka_signatures {
        w.raw(&s.address.0);
        w.raw(&s.signature.to_bytes());
    }
}

fn get_polka(r: &mut Reader<'_>) -> Result<PolkaCertificate<BtlContext>, DecodeError> {
    let height = Height(r.u64()?);
    let round = get_round(r)?;
    let value_id = get_hash(r)?;
    let n = r.count("signatures", 96, MAX_SIGNATURES)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        sigs.push(PolkaSignature::new(get_addr(r)?, get_sig(r)?));
    }
    Ok(PolkaCertificate {
        height,
        round,
        value_id,
        polka_signatures: sigs,
    })
}

fn put_round_cert(w: &mut Writer, c: &RoundCertificate<BtlContext>) {
    w.u64(c.height.0);
    put_round(w, c.round);
    w.u8(match c.cert_type {
        RoundCertificateType::Skip => 0,
        RoundCertificateType::Precommit => 1,
    });
    w.count(c.round_signatures.len());
    for s in &c.round_signatures {
        put_vote_type(w, s.vote_type);
        put_nil_or_val(w, &s.value_id);
        w.raw(&s.address.0);
        w.raw(&s.signature.to_bytes());
    }
}

fn get_round_cert(r: &mut Reader<'_>) -> Result<RoundCertificate<BtlContext>, DecodeError> {
    let height = Height(r.u64()?);
    let round = get_round(r)?;
    let cert_type = match r.u8()? {
        0 => RoundCertificateType::Skip,
        1 => RoundCertificateType::Precommit,
        tag => {
            return Err(DecodeError::Tag {
                what: "round certificate type",
                tag,
            })
        }
    };
    let n = r.count("signatures", 98, MAX_SIGNATURES)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let vote_type = get_vote_type(r)?;
        let value_id = get_nil_or_val(r)?;
        let address = get_addr(r)?;
        let signature = get_sig(r)?;
        sigs.push(RoundSignature::new(vote_type, value_id, address, signature));
    }
    Ok(RoundCertificate {
        height,
        round,
        cert_type,
        round_signatures: sigs,
    })
}

/// Writes a commit certificate.
pub fn put_commit_cert(w: &mut Writer, c: &CommitCertificate<BtlContext>) {
    w.u64(c.height.0);
    put_round(w, c.round);
    w.raw(&c.value_id.0);
    w.count(c.commit_signatures.len());
    for s in &c.commit_signatures {
        w.raw(&s.address.0);
        w.raw(&s.signature.to_bytes());
    }
}

/// Reads a commit certificate.
pub fn get_commit_cert(r: &mut Reader<'_>) -> Result<CommitCertificate<BtlContext>, DecodeError> {
    let height = Height(r.u64()?);
    let round = get_round(r)?;
    let value_id = get_hash(r)?;
    let n = r.count("signatures", 96, MAX_SIGNATURES)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        sigs.push(CommitSignature::new(get_addr(r)?, get_sig(r)?));
    }
    Ok(CommitCertificate {
        height,
        round,
        value_id,
        commit_signatures: sigs,
    })
}

/// Encodes a commit certificate as stored (versioned).
pub fn encode_commit_cert(c: &CommitCertificate<BtlContext>) -> Vec<u8> {
    let mut w = Writer::versioned();
    put_commit_cert(&mut w, c);
    w.into_inner()
}

/// Decodes a stored commit certificate.
pub fn decode_commit_cert(b: &[u8]) -> Result<CommitCertificate<BtlContext>, DecodeError> {
    let mut r = Reader::versioned(b)?;
    let c = get_commit_cert(&mut r)?;
    r.finish()?;
    Ok(c)
}

/// Encodes a commit certificate with its vote extensions as stored
/// (versioned).
pub fn encode_ext_cert(c: &ExtendedCommitCertificate<BtlContext>) -> Vec<u8> {
    let mut w = Writer::versioned();
    put_ext_cert(&mut w, c);
    w.into_inner()
}

/// Decodes a stored commit certificate with its vote extensions.
pub fn decode_ext_cert(b: &[u8]) -> Result<ExtendedCommitCertificate<BtlContext>, DecodeError> {
    let mut r = Reader::versioned(b)?;
    let c = get_ext_cert(&mut r)?;
    r.finish()?;
    Ok(c)
}

/// Writes a commit certificate with its vote extensions.
pub fn put_ext_cert(w: &mut Writer, c: &ExtendedCommitCertificate<BtlContext>) {
    w.u64(c.height.0);
    put_round(w, c.round);
    w.raw(&c.value_id.0);
    w.count(c.commit_signatures.len());
    for s in &c.commit_signatures {
        w.raw(&s.address.0);
        w.raw(&s.signature.to_bytes());
        put_extension(w, s.extension.as_ref());
    }
}

/// Reads a commit certificate with its vote extensions.
pub fn get_ext_cert(
    r: &mut Reader<'_>,
) -> Result<ExtendedCommitCertificate<BtlContext>, DecodeError> {
    let height = Height(r.u64()?);
    let round = get_round(r)?;
    let value_id = get_hash(r)?;
    let n = r.count("signatures", 97, MAX_SIGNATURES)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let address = get_addr(r)?;
        let signature = get_sig(r)?;
        let extension = get_extension(r)?;
        sigs.push(ExtendedCommitSignature::new(address, signature, extension));
    }
    Ok(ExtendedCommitCertificate {
        height,
        round,
        value_id,
        commit_signatures: sigs,
    })
}

fn get_peer_id(r: &mut Reader<'_>) -> Result<PeerId, DecodeError> {
    PeerId::from_bytes(r.bytes()?).map_err(|_| DecodeError::Invalid("peer id"))
}

// ---- the codec ----

/// Our codec for the network, the write-ahead log and sync.
#[derive(Copy, Clone, Debug, Default)]
pub struct BtlCodec;

fn encode_with(f: impl FnOnce(&mut Writer)) -> Result<Bytes, DecodeError> {
    let mut w = Writer::versioned();
    f(&mut w);
    Ok(Bytes::from(w.into_inner()))
}

fn decode_with<T>(
    b: &[u8],
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader::versioned(b)?;
    let v = f(&mut r)?;
    r.finish()?;
    Ok(v)
}

macro_rules! codec_impl {
    ($t:ty, $put:expr, $get:expr) => {
        impl Codec<$t> for BtlCodec {
            type Error = DecodeError;
            fn decode(&self, bytes: Bytes) -> Result<$t, DecodeError> {
                decode_with(&bytes, $get)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, DecodeError> {
                encode_with(|w| ($put)(w, msg))
            }
        }
    };
}

codec_impl!(ProposalPart, put_part, get_part);
codec_impl!(
    SignedConsensusMsg<BtlContext>,
    put_signed_msg,
    get_signed_msg
);
codec_impl!(
    LivenessMsg<BtlContext>,
    |w: &mut Writer, m: &LivenessMsg<BtlContext>| match m {
        LivenessMsg::Vote(v) => {
            w.u8(0);
            put_vote(w, &v.message);
            w.raw(&v.signature.to_bytes());
        }
        LivenessMsg::PolkaCertificate(c) => {
            w.u8(1);
            put_polka(w, c);
        }
        LivenessMsg::SkipRoundCertificate(c) => {
            w.u8(2);
            put_round_cert(w, c);
        }
    },
    |r: &mut Reader<'_>| match r.u8()? {
        0 => {
            let v = get_vote(r)?;
            Ok(LivenessMsg::Vote(SignedMessage::new(v, get_sig(r)?)))
        }
        1 => Ok(LivenessMsg::PolkaCertificate(get_polka(r)?)),
        2 => Ok(LivenessMsg::SkipRoundCertificate(get_round_cert(r)?)),
        tag => Err(DecodeError::Tag {
            what: "liveness message",
            tag,
        }),
    }
);
codec_impl!(
    StreamMessage<ProposalPart>,
    |w: &mut Writer, m: &StreamMessage<ProposalPart>| {
        w.bytes(&m.stream_id.to_bytes());
        w.u64(m.sequence);
        match &m.content {
            StreamContent::Data(p) => {
                w.u8(0);
                put_part(w, p);
            }
            StreamContent::Fin => w.u8(1),
        }
    },
    |r: &mut Reader<'_>| {
        let id = r.bytes()?;
        if id.len() > 64 {
            return Err(DecodeError::TooLarge {
                what: "stream id",
                n: id.len() as u64,
            });
        }
        let stream_id = StreamId::new(Bytes::copy_from_slice(id));
        let sequence = r.u64()?;
        let content = match r.u8()? {
            0 => StreamContent::Data(get_part(r)?),
            1 => StreamContent::Fin,
            tag => {
                return Err(DecodeError::Tag {
                    what: "stream content",
                    tag,
                })
            }
        };
        Ok(StreamMessage::new(stream_id, sequence, content))
    }
);
codec_impl!(
    ValidatorProof<BtlContext>,
    |w: &mut Writer, p: &ValidatorProof<BtlContext>| {
        w.bytes(&p.public_key);
        w.bytes(&p.peer_id);
        w.raw(&p.signature.to_bytes());
    },
    |r: &mut Reader<'_>| {
        let pk = r.bytes()?.to_vec();
        let peer = r.bytes()?.to_vec();
        if pk.len() > 64 || peer.len() > 128 {
            return Err(DecodeError::Invalid("validator proof"));
        }
        Ok(ValidatorProof::new(pk, peer, get_sig(r)?))
    }
);
codec_impl!(
    ProposedValue<BtlContext>,
    |w: &mut Writer, v: &ProposedValue<BtlContext>| {
        w.u64(v.height.0);
        put_round(w, v.round);
        put_round(w, v.valid_round);
        w.raw(&v.proposer.0);
        w.raw(&v.value.0);
        w.u8(u8::from(v.validity.is_valid()));
    },
    |r: &mut Reader<'_>| {
        Ok(ProposedValue {
            height: Height(r.u64()?),
            round: get_round(r)?,
            valid_round: get_round(r)?,
            proposer: get_addr(r)?,
            value: get_hash(r)?,
            validity: match r.u8()? {
                0 => Validity::Invalid,
                1 => Validity::Valid,
                tag => {
                    return Err(DecodeError::Tag {
                        what: "validity",
                        tag,
                    })
                }
            },
        })
    }
);
codec_impl!(PolkaCertificate<BtlContext>, put_polka, get_polka);
codec_impl!(
    Status<BtlContext>,
    |w: &mut Writer, s: &Status<BtlContext>| {
        w.bytes(&s.peer_id.to_bytes());
        w.u64(s.tip_height.0);
        w.u64(s.history_min_height.0);
    },
    |r: &mut Reader<'_>| {
        Ok(Status {
            peer_id: get_peer_id(r)?,
            tip_height: Height(r.u64()?),
            history_min_height: Height(r.u64()?),
        })
    }
);
codec_impl!(
    Request<BtlContext>,
    |w: &mut Writer, q: &Request<BtlContext>| match q {
        Request::ValueRequest(v) => {
            w.u8(0);
            w.u64(v.range.start().0);
            w.u64(v.range.end().0);
        }
    },
    |r: &mut Reader<'_>| match r.u8()? {
        0 => {
            let a = Height(r.u64()?);
            let b = Height(r.u64()?);
            Ok(Request::ValueRequest(ValueRequest::new(a..=b)))
        }
        tag => Err(DecodeError::Tag {
            what: "sync request",
            tag,
        }),
    }
);

fn put_response(w: &mut Writer, q: &Response<BtlContext>) {
    match q {
        Response::ValueResponse(v) => {
            w.u8(0);
            w.u64(v.start_height.0);
            w.count(v.values.len());
            for d in &v.values {
                w.bytes(&d.value_bytes);
                put_ext_cert(w, &d.certificate);
            }
        }
    }
}

codec_impl!(Response<BtlContext>, put_response, |r: &mut Reader<'_>| {
    match r.u8()? {
        0 => {
            let start = Height(r.u64()?);
            let n = r.count("decided values", 48, 100_000)?;
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                let bytes = Bytes::copy_from_slice(r.bytes()?);
                let cert = get_ext_cert(r)?;
                values.push(RawDecidedValue::new(bytes, cert));
            }
            Ok(Response::ValueResponse(ValueResponse::new(start, values)))
        }
        tag => Err(DecodeError::Tag {
            what: "sync response",
            tag,
        }),
    }
});

impl HasEncodedLen<Response<BtlContext>> for BtlCodec {
    fn encoded_len(&self, msg: &Response<BtlContext>) -> Result<usize, DecodeError> {
        let mut w = Writer::versioned();
        put_response(&mut w, msg);
        Ok(w.into_inner().len())
    }
}

/// Fuzzing entry point: decodes `data` as every message type the node
/// accepts from peers or disk; a success must re-encode to the same bytes.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    fn check<T>(data: &[u8])
    where
        BtlCodec: Codec<T>,
    {
        if let Ok(v) = <BtlCodec as Codec<T>>::decode(&BtlCodec, Bytes::copy_from_slice(data)) {
            let again = <BtlCodec as Codec<T>>::encode(&BtlCodec, &v).ok();
            assert_eq!(again.as_deref(), Some(data), "re-encoding differs");
        }
    }
    check::<ProposalPart>(data);
    check::<SignedConsensusMsg<BtlContext>>(data);
    check::<LivenessMsg<BtlContext>>(data);
    check::<StreamMessage<ProposalPart>>(data);
    check::<ValidatorProof<BtlContext>>(data);
    check::<ProposedValue<BtlContext>>(data);
    check::<PolkaCertificate<BtlContext>>(data);
    check::<Status<BtlContext>>(data);
    check::<Request<BtlContext>>(data);
    check::<Response<BtlContext>>(data);
    let _ = decode_commit_cert(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<T>(v: T) -> T
    where
        BtlCodec: Codec<T>,
        T: PartialEq + std::fmt::Debug,
    {
        let b = BtlCodec.encode(&v).unwrap();
        let d: T = BtlCodec.decode(b.clone()).unwrap();
        assert_eq!(d, v);
        // Every strict prefix fails cleanly.
        for i in 0..b.len() {
            assert!(<BtlCodec as Codec<T>>::decode(&BtlCodec, b.slice(..i)).is_err());
        }
        d
    }

    fn vote() -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height: Height(7),
            round: Round::new(2),
            value: NilOrVal::Val(BlockHash([9; 32])),
            validator_address: Address([3; 32]),
            extension: None,
        }
    }

    #[test]
    fn round_trips() {
        rt(ProposalPart::Init {
            height: Height(1),
            round: Round::new(0),
            valid_round: Round::Nil,
            proposer: Address([1; 32]),
            total_len: 100,
        });
        rt(ProposalPart::Data(Bytes::from_static(b"abc")));
        rt(SignedConsensusMsg::Vote(SignedMessage::new(
            vote(),
            Signature::from_bytes([5; 64]),
        )));
        rt(StreamMessage::new(
            StreamId::new(Bytes::from_static(b"id")),
            3,
            StreamContent::Data(ProposalPart::Fin {
                signature: Signature::from_bytes([1; 64]),
            }),
        ));
        rt(Request::<BtlContext>::ValueRequest(ValueRequest::new(
            Height(3)..=Height(9),
        )));
    }

    /// Golden vector: the signed encoding of a vote must never change.
    #[test]
    fn vote_golden() {
        let mut w = Writer::default();
        put_vote(&mut w, &vote());
        assert_eq!(
            hex::encode(w.into_inner()),
            concat!(
                "01",
                "0000000000000007",
                "0100000002",
                "01",
                "0909090909090909090909090909090909090909090909090909090909090909",
                "0303030303030303030303030303030303030303030303030303030303030303",
                "00"
            )
        );
    }

    #[test]
    fn fuzz_entry_on_fixed_inputs() {
        let v = BtlCodec
            .encode(&SignedConsensusMsg::Vote(SignedMessage::new(
                vote(),
                Signature::from_bytes([5; 64]),
            )))
            .unwrap();
        fuzz_decode(&v);
        let mut x = 0x9e37_79b9_u32;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x & 3) as u8
                })
                .collect();
            fuzz_decode(&data);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(<BtlCodec as Codec<ProposalPart>>::decode(&BtlCodec, Bytes::new()).is_err());
        assert_eq!(
            <BtlCodec as Codec<ProposalPart>>::decode(&BtlCodec, Bytes::from_static(&[2, 0]))
                .unwrap_err(),
            DecodeError::Version(2)
        );
        // A huge count with no bytes behind it is refused before allocating.
        let b = Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]);
        assert!(<BtlCodec as Codec<Response<BtlContext>>>::decode(&BtlCodec, b).is_err());
    }
}
