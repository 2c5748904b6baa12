//! The [`Swarm`] state machine (stub).

use std::collections::VecDeque;
use std::time::Instant;

use btl_wire::{BlockRequest, Message};

use crate::{
    Action, Bitfield, Geometry, PeerCaps, PeerKey, PeerStats, SwarmConfig, SwarmStats, Verdict,
};

/// One torrent's peer engine.
#[derive(Debug)]
pub struct Swarm {
    geometry: Geometry,
    have: Bitfield,
    config: SwarmConfig,
    actions: VecDeque<Action>,
}

impl Swarm {
    /// A swarm for a torrent of this layout, with the pieces already verified.
    pub fn new(geometry: Geometry, have: Bitfield, config: SwarmConfig, _now: Instant) -> Self {
        let have = have.resized(geometry.piece_count);
        Swarm {
            geometry,
            have,
            config,
            actions: VecDeque::new(),
        }
    }
    /// Sets piece priorities: 0 skip, 1..=7 (higher first).
    pub fn set_wanted(&mut self, _priorities: Vec<u8>) {}
    /// Sequential (streaming) mode.
    pub fn set_sequential(&mut self, _on: bool) {}
    /// The peer's BEP 10 `reqq`.
    pub fn set_peer_reqq(&mut self, _peer: PeerKey, _reqq: u32) {}
    /// A connection finished its handshakes.
    pub fn peer_connected(&mut self, _peer: PeerKey, _caps: PeerCaps, _now: Instant) {}
    /// A message from a peer.
    pub fn peer_message(&mut self, _peer: PeerKey, _msg: Message, _now: Instant) {}
    /// A connection closed.
    pub fn peer_disconnected(&mut self, _peer: PeerKey, _now: Instant) {}
    /// The result of a `VerifyPiece`.
    pub fn piece_verified(&mut self, _piece: u32, _verdict: Verdict, _now: Instant) {}
    /// A `Serve` was sent.
    pub fn served(&mut self, _peer: PeerKey, _req: BlockRequest, _now: Instant) {}
    /// Timers.
    pub fn handle_timeout(&mut self, _now: Instant) {}
    /// The next timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// The next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
    /// Verified pieces.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }
    /// Whether every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.have.all()
    }
    /// Stats.
    pub fn stats(&self) -> SwarmStats {
        SwarmStats::default()
    }
    /// One peer's stats.
    pub fn peer_stats(&self, _peer: PeerKey) -> Option<PeerStats> {
        let _ = (&self.geometry, &self.config);
        None
    }
}
