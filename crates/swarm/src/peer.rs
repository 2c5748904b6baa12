//! Per-connection state.

use std::collections::VecDeque;
use std::time::Instant;

use btl_wire::BlockRequest;

use crate::pipeline::{queue_depth, RateMeter};
use crate::{Bitfield, PeerCaps, PeerKey, SwarmConfig};

/// How many withdrawn requests we remember per peer, so that a block still
/// in flight when we cancelled (or it choked us) is not taken for an
/// unrequested one.
pub(crate) const CANCELLED_MEMORY: usize = 512;

/// Most allowed-fast pieces we remember from one peer.
pub(crate) const MAX_ALLOWED_FAST_IN: usize = 64;

/// Most rejected pieces we remember for one peer.
pub(crate) const MAX_REJECTED: usize = 64;

/// A block request we sent and not yet got an answer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutRequest {
    pub(crate) piece: u32,
    pub(crate) block: u32,
    pub(crate) begin: u32,
    pub(crate) length: u32,
    pub(crate) sent: Instant,
}

impl OutRequest {
    pub(crate) fn wire(&self) -> BlockRequest {
        BlockRequest {
            index: self.piece,
            begin: self.begin,
            length: self.length,
        }
    }

    pub(crate) fn matches(&self, r: &BlockRequest) -> bool {
        self.piece == r.index && self.begin == r.begin && self.length == r.length
    }
}

/// One connected peer.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) key: PeerKey,
    pub(crate) caps: PeerCaps,
    /// Pieces the peer has.
    pub(crate) has: Bitfield,
    /// Any message arrived (a bitfield is only valid before that).
    pub(crate) got_message: bool,
    pub(crate) am_choking: bool,
    pub(crate) am_interested: bool,
    pub(crate) peer_choking: bool,
    pub(crate) peer_interested: bool,
    /// Pieces the peer has that we want and lack.
    pub(crate) interesting: u32,
    /// Our outstanding requests to the peer, oldest first.
    pub(crate) requests: Vec<OutRequest>,
    /// Requests we withdrew (cancel, timeout, choke), newest last.
    pub(crate) cancelled: VecDeque<BlockRequest>,
    /// Pieces the peer allows us to request while choked.
    pub(crate) allowed_fast_in: Vec<u32>,
    /// Pieces we allow the peer to request while choked.
    pub(crate) allowed_fast_out: Vec<u32>,
    /// Pieces the peer rejected requests for while unchoking us: not asked
    /// again until it chokes and unchokes us (bounded).
    pub(crate) rejected: Vec<u32>,
    /// The peer's advertised request queue limit.
    pub(crate) reqq: Option<u32>,
    pub(crate) snubbed: bool,
    /// Since when we have been waiting for a block: the later of the last
    /// block received and the moment the request queue became non-empty.
    pub(crate) waiting_since: Instant,
    /// A request timed out since the last block arrived: refilling the
    /// queue does not restart the snub clock.
    pub(crate) timed_out: bool,
    pub(crate) down: RateMeter,
    pub(crate) up: RateMeter,
    /// Requests of the peer passed on as `Serve`, not yet served.
    pub(crate) serves: Vec<BlockRequest>,
    /// Requests beyond the upload queue limit since the last serve.
    pub(crate) flood_excess: u32,
    /// The current optimistic unchoke.
    pub(crate) optimistic: bool,
    /// Unchoked in a regular slot.
    pub(crate) regular: bool,
    /// Consecutive choke rounds spent in a regular slot.
    pub(crate) regular_rounds: u32,
    /// When we last choked the peer (or it connected).
    pub(crate) choked_since: Instant,
    /// The peer was an optimistic unchoke at least once.
    pub(crate) had_optimistic: bool,
}

impl Peer {
    pub(crate) fn new(key: PeerKey, caps: PeerCaps, piece_count: u32, now: Instant) -> Self {
        Peer {
            key,
            caps,
            has: Bitfield::new(piece_count),
            got_message: false,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            interesting: 0,
            requests: Vec::new(),
            cancelled: VecDeque::new(),
            allowed_fast_in: Vec::new(),
            allowed_fast_out: Vec::new(),
            rejected: Vec::new(),
            reqq: None,
            snubbed: false,
            waiting_since: now,
            timed_out: false,
            down: RateMeter::default(),
            up: RateMeter::default(),
            serves: Vec::new(),
            flood_excess: 0,
            optimistic: false,
            regular: false,
            regular_rounds: 0,
            choked_since: now,
            had_optimistic: false,
        }
    }

    /// Target number of outstanding requests.
    pub(crate) fn queue_depth(&self, config: &SwarmConfig, now: Instant) -> u32 {
        queue_depth(
            self.down.rate_at(now),
            config.min_queue,
            config.max_queue,
            self.reqq,
            self.snubbed,
        )
    }

    /// Remembers a withdrawn request (bounded).
    pub(crate) fn remember_cancelled(&mut self, r: BlockRequest) {
        if self.cancelled.len() >= CANCELLED_MEMORY {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back(r);
    }

    /// Forgets a withdrawn request; whether it was remembered.
    pub(crate) fn take_cancelled(&mut self, r: &BlockRequest) -> bool {
        match self.cancelled.iter().position(|c| c == r) {
            Some(i) => {
                self.cancelled.remove(i);
                true
            }
            None => false,
        }
    }

    /// Index of our outstanding request matching `r`.
    pub(crate) fn find_request(&self, r: &BlockRequest) -> Option<usize> {
        self.requests.iter().position(|o| o.matches(r))
    }

    /// Whether the peer has every piece.
    pub(crate) fn is_seed(&self) -> bool {
        self.has.all()
    }
}
