//! Counters and rates reported by [`crate::Swarm::stats`].

use std::net::IpAddr;

use crate::PeerKey;

/// A snapshot of one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerStats {
    /// The connection.
    pub key: PeerKey,
    /// The peer's address.
    pub ip: IpAddr,
    /// We are choking the peer.
    pub am_choking: bool,
    /// We are interested in the peer.
    pub am_interested: bool,
    /// The peer is choking us.
    pub peer_choking: bool,
    /// The peer is interested in us.
    pub peer_interested: bool,
    /// The peer is the current optimistic unchoke.
    pub optimistic: bool,
    /// No block arrived from the peer for the snub timeout.
    pub snubbed: bool,
    /// Download rate from the peer, bytes per second (decaying average).
    pub download_rate: u64,
    /// Upload rate to the peer, bytes per second (decaying average).
    pub upload_rate: u64,
    /// Payload bytes received from the peer (including duplicates).
    pub downloaded: u64,
    /// Payload bytes served to the peer.
    pub uploaded: u64,
    /// Block requests we have outstanding with the peer.
    pub requests_outstanding: u32,
    /// Current target depth of our request queue to the peer.
    pub queue_depth: u32,
    /// Requests of the peer that we have passed on as `Serve`.
    pub serves_pending: u32,
    /// Pieces the peer has.
    pub pieces: u32,
    /// The peer's IP was involved in a hash failure: it downloads whole
    /// pieces on its own so that blame is exact.
    pub parole: bool,
    /// Hash failures this peer's IP was involved in.
    pub strikes: u32,
}

/// A snapshot of the whole torrent.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SwarmStats {
    /// Payload bytes received (including duplicates and bad data).
    pub downloaded: u64,
    /// Payload bytes served.
    pub uploaded: u64,
    /// Payload bytes received that were not used (duplicates, unrequested).
    pub wasted: u64,
    /// Bytes of pieces that failed their hash check.
    pub failed: u64,
    /// Sum of the peers' download rates, bytes per second.
    pub download_rate: u64,
    /// Sum of the peers' upload rates, bytes per second.
    pub upload_rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Peers interested in us.
    pub interested: usize,
    /// Peers we are interested in.
    pub interesting: usize,
    /// Peers we unchoke.
    pub unchoked: usize,
    /// Peers unchoking us.
    pub unchoking_us: usize,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces with a non-zero priority.
    pub pieces_wanted: u32,
    /// Wanted pieces not yet verified.
    pub pieces_missing: u32,
    /// Pieces in progress (buffered by the I/O layer), including those being
    /// verified.
    pub pieces_in_flight: u32,
    /// Bytes of the pieces in progress (the `max_partial_bytes` budget).
    pub bytes_in_flight: u64,
    /// The in-flight budget: `max(max_partial_bytes, largest piece)`.
    pub bytes_budget: u64,
    /// Block requests outstanding over all peers.
    pub requests_outstanding: u32,
    /// Whether the picker is in end game.
    pub endgame: bool,
    /// Per-peer snapshots, by key.
    pub per_peer: Vec<PeerStats>,
}
