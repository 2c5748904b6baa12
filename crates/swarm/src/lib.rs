//! The per-torrent state machine of the peer engine, sans-IO.
//!
//! # Goals
//!
//! - Everything a BitTorrent client decides about one torrent's peers: who
//!   we are interested in and who we unchoke (BEP 3), what to request from
//!   whom (rarest first, priorities, sequential mode, end game), how deep to
//!   pipeline requests, when a peer is snubbed or a request timed out, what
//!   to serve, and whom to blame for a piece that fails its hash check. The
//!   fast extension (BEP 6: have all/none, reject, allowed fast) is
//!   supported.
//! - **Sans-IO** (like quinn-proto): no sockets, no files, no clock, no
//!   tasks. The I/O layer feeds events ([`Swarm::peer_connected`],
//!   [`Swarm::peer_message`], [`Swarm::piece_verified`], [`Swarm::served`],
//!   [`Swarm::handle_timeout`], ...) with the current time, then drains
//!   [`Swarm::poll_action`] and sleeps until [`Swarm::poll_timeout`]. All
//!   randomness comes from a PRNG seeded by [`SwarmConfig::rng_seed`], so a
//!   run is reproducible: `tests/sim.rs` runs whole swarms in simulated
//!   time.
//! - **Robust**: no input sequence panics; protocol violations end in
//!   [`Action::Disconnect`] with a reason; memory is bounded (see below).
//!
//! # Non-goals
//!
//! Extension messages (BEP 10, 9, 11), BEP 52 hash exchange, connecting to
//! peers, disk I/O and hashing: the I/O layer does those and tells the swarm
//! what it needs (the `reqq` of an extension handshake via
//! [`Swarm::set_peer_reqq`], the verdict of a hash check).
//!
//! # Contract with the I/O layer
//!
//! | action | the I/O layer ... |
//! |---|---|
//! | [`Action::Send`] | encodes and sends the message |
//! | [`Action::StoreBlock`] | copies the block into its buffer for the piece |
//! | [`Action::VerifyPiece`] | hashes the buffered piece, writes it if good, calls [`Swarm::piece_verified`] |
//! | [`Action::DiscardPiece`] | drops the piece's buffer |
//! | [`Action::Serve`] | reads the block, sends a Piece message, calls [`Swarm::served`] |
//! | [`Action::CancelServe`] | drops the serve if not yet sent (ignores it otherwise) |
//! | [`Action::Disconnect`] / [`Action::Ban`] | closes the connection (and never reconnects to a banned IP) |
//! | [`Action::Completed`] | reports completion |
//!
//! `Have` messages: after a piece is verified we send `Have` to every peer
//! that does not already have the piece (a peer that has it cannot need it).
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Instant;
//!
//! use btl_swarm::{Action, Bitfield, Geometry, PeerCaps, Swarm, SwarmConfig};
//! use btl_wire::Message;
//!
//! let geometry = Geometry::v1(1 << 20, 1 << 16); // 16 pieces of 64 KiB
//! let now = Instant::now();
//! let mut swarm = Swarm::new(geometry, Bitfield::new(16), SwarmConfig::default(), now);
//! let caps = PeerCaps {
//!     fast: true,
//!     extended: true,
//!     v2: false,
//!     ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
//!     outgoing: true,
//! };
//! swarm.peer_connected(7, caps, now); // after both handshakes
//! swarm.peer_message(7, Message::HaveAll, now); // decoded from the socket
//! swarm.peer_message(7, Message::Unchoke, now);
//! let mut requests = 0;
//! while let Some(action) = swarm.poll_action() {
//!     match action {
//!         Action::Send { peer, msg } => {
//!             // encode `msg` and queue it on `peer`'s socket
//!             if matches!(msg, Message::Request(_)) {
//!                 requests += 1;
//!             }
//!         }
//!         Action::StoreBlock { .. } | Action::VerifyPiece { .. } => { /* buffer, hash */ }
//!         _ => { /* serve, disconnect, ... */ }
//!     }
//! }
//! assert_eq!(requests, 4); // HaveNone, Interested, then min_queue requests
//! // Then sleep until `swarm.poll_timeout()` or the next event, and call
//! // `swarm.handle_timeout(now)` when it is due.
//! assert!(swarm.poll_timeout().is_some());
//! ```
//!
//! # Invariants (the `STATE.md` of this crate)
//!
//! Checked after every step of the property tests by
//! [`Swarm::check_invariants`]:
//!
//! 1. **Requests only where they can be served**: every outstanding request
//!    to a peer is for a piece that peer announced, with the exact bounds of
//!    one of our 16 KiB blocks, is recorded as a requester of that block in
//!    the picker (and vice versa), and no peer has the same block requested
//!    twice. At most `max_queue` requests are outstanding per peer.
//! 2. **No block stored twice**: a block gets [`Action::StoreBlock`] only
//!    if it has not been received since its piece was started; once every
//!    block is stored, [`Action::VerifyPiece`] is emitted exactly once. A
//!    verdict for a piece not being verified is ignored.
//! 3. **Bounded buffering**: the bytes of pieces in progress (started and
//!    not yet verified) never exceed `max(max_partial_bytes, largest
//!    piece)`. A piece in progress that holds no data and no request is
//!    dropped at once.
//! 4. **Availability** of each piece equals the number of connected peers
//!    that announced it; our interest in a peer equals "it has a wanted
//!    piece we lack", and Interested/NotInterested is sent on each change.
//! 5. **Bounded upload queue**: at most `max_peer_upload_queue` serves are
//!    pending per peer, and only for pieces we have; a peer we choke loses
//!    its pending serves (except allowed-fast pieces of a fast peer).
//! 6. **Bans stick**: no peer from a banned IP stays connected.
//!    Attribution of a failed piece: the senders of the blocks a v2 check
//!    proved bad are banned at once; otherwise each sender gets a strike
//!    (per IP, surviving reconnection) and goes on **parole**, where it
//!    downloads whole pieces alone so that later failures are exact; a
//!    peer already on parole is struck only for pieces it sent alone, and
//!    `ban_after_strikes` strikes ban. The failed piece is downloaded again,
//!    avoiding the IPs involved while anybody else has it.
//! 7. Memory per peer is bounded: allowed-fast and rejected piece lists (64
//!    each), remembered withdrawn requests (512), requests and serves (the
//!    queue limits).
//!
//! # Map
//!
//! | module | what |
//! |---|---|
//! | [`bitfield`] | piece sets in wire form |
//! | [`geometry`] | piece and block sizes |
//! | [`config`] | configuration, actions, verdicts |
//! | `picker` | which block to request next |
//! | `pipeline` | rate estimates and the adaptive queue depth |
//! | `choker` | tit-for-tat, seeding rotation, optimistic unchoke |
//! | `peer` | per-connection state |
//! | `swarm`, `download`, `upload` | the [`Swarm`] itself |
//! | [`stats`] | counters for the UI and metrics |

pub mod bitfield;
mod choker;
pub mod config;
mod download;
pub mod geometry;
mod peer;
mod picker;
mod pipeline;
mod rng;
pub mod stats;
mod swarm;
mod upload;

pub use bitfield::{Bitfield, BitfieldError};
pub use config::{Action, DisconnectReason, PeerCaps, PeerKey, SwarmConfig, Verdict};
pub use geometry::{Geometry, BLOCK_SIZE};
pub use stats::{PeerStats, SwarmStats};
pub use swarm::Swarm;
pub use upload::MAX_SERVE_LEN;
