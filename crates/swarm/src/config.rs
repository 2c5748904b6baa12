//! Configuration and the inputs and outputs of the state machine.

use std::net::IpAddr;
use std::time::Duration;

use btl_types::Sha1Hash;
use btl_wire::{BlockRequest, Message};
use bytes::Bytes;

/// Identifies one connection. Assigned by the I/O layer, never reused within
/// a torrent.
pub type PeerKey = u64;

/// What the I/O layer learnt about a peer during the handshakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCaps {
    /// Both sides set the BEP 6 fast extension bit.
    pub fast: bool,
    /// Both sides set the BEP 10 extension protocol bit.
    pub extended: bool,
    /// The peer speaks BEP 52 (v2).
    pub v2: bool,
    /// The peer's address: bans and the allowed-fast set are per IP.
    pub ip: IpAddr,
    /// We opened the connection.
    pub outgoing: bool,
}

/// Tuning of one torrent's swarm. [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmConfig {
    /// Regular (tit-for-tat) unchoke slots. Default 4.
    pub unchoke_slots: usize,
    /// How often the choker reconsiders the regular slots. Default 10 s.
    pub choke_interval: Duration,
    /// How often the optimistic unchoke moves on. Default 30 s.
    pub optimistic_interval: Duration,
    /// A peer that sends no block for this long while we have requests
    /// outstanding with it is snubbed. Default 60 s.
    pub snub_timeout: Duration,
    /// A request not answered within this time is given to another peer.
    /// Default 30 s.
    pub request_timeout: Duration,
    /// Lower bound of the adaptive per-peer request queue. Default 4.
    pub min_queue: u32,
    /// Upper bound of the adaptive per-peer request queue. Default 250.
    pub max_queue: u32,
    /// Requests a peer may have pending with us; beyond that they are
    /// rejected (fast) or ignored, and a peer that keeps flooding is
    /// disconnected. The I/O layer should advertise it as `reqq`. Default 250.
    pub max_peer_upload_queue: u32,
    /// Bytes of pieces in progress (which the I/O layer buffers until they
    /// are verified). No new piece is started beyond it, except that one piece
    /// is always allowed. Default 64 MiB.
    pub max_partial_bytes: u64,
    /// Hash failures a peer may be involved in before it is banned.
    /// Default 3.
    pub ban_after_strikes: u32,
    /// Size of the BEP 6 allowed-fast set we grant each fast peer (needs
    /// `info_hash`). Default 10.
    pub allowed_fast_count: u32,
    /// Keep uploading once every wanted piece is verified. When false, every
    /// peer is choked at completion. Default true.
    pub seed_upload: bool,
    /// The 20-byte wire infohash: used for the BEP 6 allowed-fast set we
    /// grant. `None`: grant none. Default `None`.
    pub info_hash: Option<Sha1Hash>,
    /// Seed of the picker's and choker's pseudo-random tie-breaks. Default 0.
    pub rng_seed: u64,
    /// In sequential mode, the pieces from the first missing wanted piece
    /// up to this many further on are urgent: a peer with nothing else to
    /// request (e.g. the budget is reached) asks for their outstanding blocks
    /// again, as in end game, so one slow peer does not hold up playback.
    /// 0 turns this off. Default 8.
    pub sequential_window: u32,
    /// In end game, how many peers may have the same block requested at once.
    /// Default 2.
    pub endgame_max_requesters: u32,
    /// Accept requests that run past the end of a short piece up to the full
    /// piece length (the I/O layer serves zeros there). libtorrent treats a
    /// v2 torrent's short pieces (each file's last) as full pieces padded
    /// with zeros and asks for whole 16 KiB blocks across the file end.
    /// Default false; set it for v2-only torrents.
    pub serve_padded_pieces: bool,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            unchoke_slots: 4,
            choke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            snub_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            min_queue: 4,
            max_queue: 250,
            max_peer_upload_queue: 250,
            max_partial_bytes: 64 * 1024 * 1024,
            ban_after_strikes: 3,
            allowed_fast_count: 10,
            seed_upload: true,
            info_hash: None,
            rng_seed: 0,
            sequential_window: 8,
            endgame_max_requesters: 2,
            serve_padded_pieces: false,
        }
    }
}

/// The outcome of hashing a piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The piece matches its hash and was written.
    Ok,
    /// The piece does not match.
    Bad {
        /// v2: the 16 KiB blocks (indices within the piece) that failed their
        /// Merkle check, if known. Their senders are proven bad.
        bad_blocks: Option<Vec<u32>>,
    },
}

/// Why the swarm asks the I/O layer to close a connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer broke the protocol; the text says how.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The peer kept sending requests beyond its queue limit.
    #[error("request flood")]
    Flooding,
    /// We have every piece and so does the peer.
    #[error("both sides are seeds")]
    BothSeeds,
    /// The peer's IP is banned for this torrent.
    #[error("banned")]
    Banned,
}

impl DisconnectReason {
    pub(crate) fn protocol(s: impl Into<String>) -> Self {
        DisconnectReason::Protocol(s.into())
    }
}

/// An effect for the I/O layer to carry out, from [`crate::Swarm::poll_action`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send a message to a peer.
    Send {
        /// The connection.
        peer: PeerKey,
        /// The message.
        msg: Message,
    },
    /// A new block for a wanted piece, not a duplicate: the I/O layer copies
    /// it into its buffer for `piece`.
    StoreBlock {
        /// The peer that sent it.
        peer: PeerKey,
        /// Piece index.
        piece: u32,
        /// Offset within the piece.
        begin: u32,
        /// The block.
        data: Bytes,
    },
    /// All blocks of `piece` were stored: the I/O layer hashes it
    /// (off-thread), writes it if good, and calls
    /// [`crate::Swarm::piece_verified`].
    VerifyPiece {
        /// Piece index.
        piece: u32,
    },
    /// Drop the I/O layer's buffer for a piece (abandoned or failed).
    DiscardPiece {
        /// Piece index.
        piece: u32,
    },
    /// Serve a peer's request: read from disk and send a Piece message; call
    /// [`crate::Swarm::served`] afterwards.
    Serve {
        /// The connection.
        peer: PeerKey,
        /// What to send.
        req: BlockRequest,
    },
    /// Withdraw a Serve not yet sent (the peer cancelled or got choked). If
    /// it was already sent, ignore this.
    CancelServe {
        /// The connection.
        peer: PeerKey,
        /// The request to drop.
        req: BlockRequest,
    },
    /// Close the connection. The I/O layer then calls
    /// [`crate::Swarm::peer_disconnected`] (the swarm has already forgotten
    /// the peer, so that call is harmless).
    Disconnect {
        /// The connection.
        peer: PeerKey,
        /// Why.
        reason: DisconnectReason,
    },
    /// The peer sent bad data repeatedly (or provably): disconnect and never
    /// reconnect to this IP for this torrent.
    Ban {
        /// The connection (it may already be closed).
        peer: PeerKey,
        /// The address to ban.
        ip: IpAddr,
        /// Why, for logs.
        reason: String,
    },
    /// Every wanted piece is verified. Emitted once each time the torrent
    /// becomes complete (again after [`crate::Swarm::set_wanted`] adds
    /// missing pieces); not for a torrent already complete when the swarm
    /// is created ([`crate::Swarm::is_complete`] tells).
    Completed,
}
