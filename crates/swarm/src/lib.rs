//! The per-torrent state machine of the peer engine (sans-IO).
//!
//! Work in progress: the API is stable, the behaviour is being filled in.

pub mod bitfield;
pub mod config;
pub mod geometry;
pub mod stats;
mod swarm;

pub use bitfield::{Bitfield, BitfieldError};
pub use config::{Action, DisconnectReason, PeerCaps, PeerKey, SwarmConfig, Verdict};
pub use geometry::{Geometry, BLOCK_SIZE};
pub use stats::{PeerStats, SwarmStats};
pub use swarm::Swarm;
