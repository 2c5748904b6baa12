//! bitorrent's I/O layer for the peer engine.
//!
//! The protocol logic lives in pure crates (`btl-wire` for bytes,
//! `btl-swarm` for decisions, `btl-store` for the disk). This crate owns the
//! sockets, the tasks and the clock, and wires them together:
//!
//! - a [`Session`] owns the listening socket (one port for every torrent)
//!   and a registry of running torrents;
//! - each torrent is an actor task ([`torrent`]) that owns its `Swarm`, its
//!   piece buffers and its resume journal, fed through one bounded channel
//!   of [`Input`]s;
//! - each peer connection is two tasks ([`conn`]): a reader that decodes
//!   frames and a writer that encodes messages and serves blocks;
//! - peers are found through trackers ([`announce`], [`tracker_client`]:
//!   HTTP, HTTPS, UDP), peer exchange ([`pex`]) and local service
//!   discovery ([`lsd`], one multicast task per session).
//!
//! State has one owner: the actor. Connection tasks hold only their socket
//! half and a channel; nothing is shared behind a lock on the hot path.

pub mod announce;
pub mod conn;
pub mod crypt;
pub mod dht;
pub mod hashes;
pub mod layers;
pub mod lsd;
pub mod metadata;
pub mod pex;
pub mod prov;
pub mod ratelimit;
pub mod session;
pub mod torrent;
pub mod tracker_client;

pub use btl_swarm::PeerKey;
pub use session::{Session, SessionConfig};
pub use torrent::{AddTorrent, TorrentHandle, TorrentStats};

use btl_wire::{BlockRequest, Message};

/// Everything a torrent actor reacts to, in one channel.
#[derive(Debug)]
pub enum Input {
    /// A new peer finished its handshakes.
    Connected(Box<conn::Connected>),
    /// A message from a peer.
    Message(PeerKey, Message),
    /// A peer's connection ended (the reason is for logs).
    Closed(PeerKey, String),
    /// The writer sent a block we were asked to serve.
    Served(PeerKey, BlockRequest),
    /// A piece was hashed (and written, when good).
    Verified(torrent::VerifyResult),
    /// A request from the session or the user.
    Command(torrent::Command),
}

/// Where a connection's writer reads the blocks it serves.
pub trait BlockSource: Send + Sync {
    /// Fills `buf` with the bytes of `piece` starting at `begin`.
    fn read(&self, piece: u32, begin: u32, buf: &mut [u8]) -> std::io::Result<()>;
}
