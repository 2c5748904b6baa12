//! Streaming a block as proposal parts, and reassembling received streams.
//!
//! A stream is: `Init` (sequence 0), `Data` chunks of at most
//! [`CHUNK`] bytes, `Fin` with the proposer's signature over
//! (chain, height, round, block hash), then the stream's end marker.
//! Parts may arrive in any order; a stream is complete when every sequence
//! up to the end marker is there. Buffers are bounded in number of streams
//! and in bytes per stream.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_app_channel::app::types::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_engine::util::streaming::StreamContent;
use malachitebft_signing_ed25519::Signature;

use crate::context::{Address, Height, ProposalPart};

/// Largest data chunk in one part.
pub const CHUNK: usize = 128 * 1024;

/// Largest block accepted (bytes).
pub const MAX_BLOCK: usize = 32 * 1024 * 1024;

/// Most streams buffered at once.
pub const MAX_STREAMS: usize = 64;

/// The stream id of a proposal: height, round and a nonce.
pub fn stream_id(height: Height, round: Round, nonce: u32) -> StreamId {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&height.0.to_be_bytes());
    b.extend_from_slice(&round.as_u32().unwrap_or(u32::MAX).to_be_bytes());
    b.extend_from_slice(&nonce.to_be_bytes());
    StreamId::new(Bytes::from(b))
}

/// The messages that stream a block.
pub fn stream_block(
    id: StreamId,
    height: Height,
    round: Round,
    valid_round: Round,
    proposer: Address,
    block: &[u8],
    signature: Signature,
) -> Vec<StreamMessage<ProposalPart>> {
    let mut parts = vec![ProposalPart::Init {
        height,
        round,
        valid_round,
        proposer,
        total_len: u32::try_from(block.len()).unwrap_or(u32::MAX),
    }];
    for c in block.chunks(CHUNK) {
        parts.push(ProposalPart::Data(Bytes::copy_from_slice(c)));
    }
    parts.push(ProposalPart::Fin { signature });
    let mut out: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    let n = out.len() as u64;
    out.push(StreamMessage::new(id, n, StreamContent::Fin));
    out
}

/// A complete received proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Valid round.
    pub valid_round: Round,
    /// Claimed proposer (the signature is not checked here).
    pub proposer: Address,
    /// Block bytes.
    pub block: Vec<u8>,
    /// Proposer's signature from `Fin`.
    pub signature: Signature,
}

#[derive(Default)]
struct Buffer {
    parts: BTreeMap<u64, StreamContent<ProposalPart>>,
    end: Option<u64>,
    bytes: usize,
    height: u64,
}

/// Reassembles proposal streams.
#[derive(Default)]
pub struct Reassembler {
    streams: HashMap<(PeerId, StreamId), Buffer>,
    age: VecDeque<(PeerId, StreamId)>,
}

impl Reassembler {
    /// Adds a part; returns the proposal when its stream completes, or an
    /// error for a malformed stream (which is then dropped).
    pub fn add(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<Assembled>, String> {
        let key = (from, msg.stream_id.clone());
        if !self.streams.contains_key(&key) {
            while self.streams.len() >= MAX_STREAMS {
                match self.age.pop_front() {
                    Some(k) => {
                        self.streams.remove(&k);
                    }
                    None => break,
                }
            }
            self.age.push_back(key.clone());
            self.streams.insert(key.clone(), Buffer::default());
        }
        let Some(buf) = self.streams.get_mut(&key) else {
            return Ok(None);
        };
        if msg.sequence > (MAX_BLOCK / CHUNK + 4) as u64 {
            self.drop_stream(&key);
            return Err("stream too long".into());
        }
        match &msg.content {
            StreamContent::Fin => buf.end = Some(msg.sequence),
            StreamContent::Data(ProposalPart::Data(d)) => {
                buf.bytes += d.len();
                if buf.bytes > MAX_BLOCK {
                    self.drop_stream(&key);
                    return Err("block too large".into());
                }
            }
            StreamContent::Data(ProposalPart::Init { height, .. }) => buf.height = height.0,
            StreamContent::Data(ProposalPart::Fin { .. }) => {}
        }
        buf.parts.insert(msg.sequence, msg.content);
        let done = match buf.end {
            Some(end) => buf.parts.len() as u64 == end + 1,
            None => false,
        };
        if !done {
            return Ok(None);
        }
        let Some(buf) = self.streams.remove(&key) else {
            return Ok(None);
        };
        self.age.retain(|k| k != &key);
        assemble(buf)
    }

    fn drop_stream(&mut self, key: &(PeerId, StreamId)) {
        self.streams.remove(key);
        self.age.retain(|k| k != key);
    }

    /// Forgets streams of heights below `height`.
    pub fn prune_below(&mut self, height: u64) {
        self.streams
            .retain(|_, b| b.height == 0 || b.height >= height);
        let s = &self.streams;
        self.age.retain(|k| s.contains_key(k));
    }
}

fn assemble(buf: Buffer) -> Result<Option<Assembled>, String> {
    let mut it = buf.parts.into_values();
    let Some(StreamContent::Data(ProposalPart::Init {
        height,
        round,
        valid_round,
        proposer,
        total_len,
    })) = it.next()
    else {
        return Err("stream does not start with Init".into());
    };
    if total_len as usize > MAX_BLOCK {
        return Err("block too large".into());
    }
    let mut block = Vec::with_capacity(total_len as usize);
    let mut signature = None;
    for p in it {
        match p {
            StreamContent::Data(ProposalPart::Data(d)) if signature.is_none() => {
                block.extend_from_slice(&d)
            }
            StreamContent::Data(ProposalPart::Fin { signature: s }) if signature.is_none() => {
                signature = Some(s)
            }
            StreamContent::Fin if signature.is_some() => {}
            _ => return Err("malformed proposal stream".into()),
        }
    }
    let Some(signature) = signature else {
        return Err("stream without signature".into());
    };
    if block.len() != total_len as usize {
        return Err("block length differs from Init".into());
    }
    Ok(Some(Assembled {
        height,
        round,
        valid_round,
        proposer,
        block,
        signature,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_reassembly() {
        let block: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| i as u8).collect();
        let id = stream_id(Height(3), Round::new(1), 7);
        let mut msgs = stream_block(
            id,
            Height(3),
            Round::new(1),
            Round::Nil,
            Address([1; 32]),
            &block,
            Signature::from_bytes([2; 64]),
        );
        msgs.reverse();
        let peer = PeerId::from_bytes(&[0, 4, 1, 2, 3, 4]).unwrap();
        let mut r = Reassembler::default();
        let mut got = None;
        for m in msgs {
            if let Some(a) = r.add(peer, m).unwrap() {
                got = Some(a);
            }
        }
        let a = got.unwrap();
        assert_eq!(a.block, block);
        assert_eq!(a.height, Height(3));
    }
}
