//! UDP tracker protocol (BEP 15). All integers are big-endian.
//!
//! ```text
//! connect request (16 bytes)
//!   0      8       12      16
//!   +------+-------+-------+
//!   | 0x41727101980 | action=0 | transaction_id |
//!   |  protocol id (u64)       |   (u32)        |
//!
//! connect response (16 bytes)
//!   | action=0 (u32) | transaction_id (u32) | connection_id (u64) |
//!
//! announce request (98 bytes; BEP 41 options may follow and are ignored)
//!   0   connection_id  u64      8   action=1  u32     12  transaction_id u32
//!   16  info_hash      [20]     36  peer_id   [20]
//!   56  downloaded     u64      64  left      u64     72  uploaded u64
//!   80  event          u32 (0 none, 1 completed, 2 started, 3 stopped)
//!   84  ip             u32 (0: the sender's)          88  key u32
//!   92  num_want       i32 (-1: default)              96  port u16
//!
//! announce response (20 + 6n bytes over IPv4, 20 + 18n over IPv6)
//!   | action=1 u32 | transaction_id u32 | interval u32 | leechers u32 | seeders u32 |
//!   | n × (ip [4 or 16], port u16) |
//!
//! scrape request (16 + 20n bytes, n ≤ 74)
//!   | connection_id u64 | action=2 u32 | transaction_id u32 | n × info_hash [20] |
//!
//! scrape response (8 + 12n bytes)
//!   | action=2 u32 | transaction_id u32 | n × (seeders u32, completed u32, leechers u32) |
//!
//! error response (8 + message bytes)
//!   | action=3 u32 | transaction_id u32 | message (no length; to the end) |
//! ```
//!
//! Whether an announce response carries IPv4 or IPv6 peers is decided by
//! the address family of the socket it travels on, so
//! [`Response::decode`] takes it as a parameter.

use crate::{Event, InfoHash, Limits, PeerId, ScrapeStats};
use std::net::{SocketAddrV4, SocketAddrV6};

/// The magic constant that opens every connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Size of an announce request without BEP 41 options.
pub const ANNOUNCE_REQUEST_LEN: usize = 98;
/// Size of an announce response before its peers.
pub const ANNOUNCE_RESPONSE_HEADER: usize = 20;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// Why a UDP packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpError {
    /// Too short for its action, or trailing bytes where none may be.
    #[error("bad packet length")]
    Length,
    /// A connect request without the protocol id.
    #[error("not a BEP 15 connect request")]
    ProtocolId,
    /// An action number this side does not know.
    #[error("unknown action {0}")]
    Action(u32),
    /// An announce with an event number outside 0..=3.
    #[error("unknown event {0}")]
    Event(u32),
    /// A scrape of more infohashes than [`Limits::max_scrape`], or an
    /// announce reply with more peers than [`Limits::max_peers`].
    #[error("too many entries")]
    TooMany,
}

/// An announce request (client → tracker).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceRequest {
    /// From the connect response.
    pub connection_id: u64,
    /// Echoed in the reply.
    pub transaction_id: u32,
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's peer id.
    pub peer_id: PeerId,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// What happened.
    pub event: Event,
    /// The claimed IPv4 address (0: the sender's).
    pub ip: u32,
    /// The client's key.
    pub key: u32,
    /// Peers wanted (-1: the tracker's default).
    pub num_want: i32,
    /// The client's listening port.
    pub port: u16,
}

/// A UDP tracker request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Ask for a connection id.
    Connect {
        /// Echoed in the reply.
        transaction_id: u32,
    },
    /// Announce.
    Announce(AnnounceRequest),
    /// Scrape.
    Scrape {
        /// From the connect response.
        connection_id: u64,
        /// Echoed in the reply.
        transaction_id: u32,
        /// The swarms asked about.
        info_hashes: Vec<InfoHash>,
    },
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[i..i + 4]);
    u32::from_be_bytes(a)
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_be_bytes(a)
}

fn id_at(b: &[u8], i: usize) -> [u8; 20] {
    let mut a = [0u8; 20];
    a.copy_from_slice(&b[i..i + 20]);
    a
}

impl Request {
    /// The transaction id, for an error reply.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Request::Connect { transaction_id } | Request::Scrape { transaction_id, .. } => {
                *transaction_id
            }
            Request::Announce(a) => a.transaction_id,
        }
    }

    /// The transaction id of a packet too broken to decode, if it has
    /// one (bytes 12..16 of every request).
    pub fn peek_transaction_id(b: &[u8]) -> Option<u32> {
        (b.len() >= 16).then(|| u32_at(b, 12))
    }

    /// Decodes a request. Connect and announce requests may carry
    /// trailing bytes (BEP 41 options), which are ignored; a scrape must
    /// be exactly 16 + 20n bytes.
    pub fn decode(b: &[u8], limits: &Limits) -> Result<Request, UdpError> {
        if b.len() < 16 {
            return Err(UdpError::Length);
        }
        let connection_id = u64_at(b, 0);
        let action = u32_at(b, 8);
        let transaction_id = u32_at(b, 12);
        match action {
            CONNECT => {
                if connection_id != PROTOCOL_ID {
                    return Err(UdpError::ProtocolId);
                }
                Ok(Request::Connect { transaction_id })
            }
            ANNOUNCE => {
                if b.len() < ANNOUNCE_REQUEST_LEN {
                    return Err(UdpError::Length);
                }
                let ev = u32_at(b, 80);
                Ok(Request::Announce(AnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: id_at(b, 16),
                    peer_id: id_at(b, 36),
                    downloaded: u64_at(b, 56),
                    left: u64_at(b, 64),
                    uploaded: u64_at(b, 72),
                    event: Event::from_udp(ev).ok_or(UdpError::Event(ev))?,
                    ip: u32_at(b, 84),
                    key: u32_at(b, 88),
                    num_want: u32_at(b, 92) as i32,
                    port: u16::from_be_bytes([b[96], b[97]]),
                }))
            }
            SCRAPE => {
                let rest = &b[16..];
                if !rest.len().is_multiple_of(20) {
                    return Err(UdpError::Length);
                }
                if rest.len() / 20 > limits.max_scrape {
                    return Err(UdpError::TooMany);
                }
                Ok(Request::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes: rest.chunks_exact(20).map(|c| id_at(c, 0)).collect(),
                })
            }
            other => Err(UdpError::Action(other)),
        }
    }

    /// Appends the encoded request.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Connect { transaction_id } => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            Request::Announce(a) => {
                out.extend_from_slice(&a.connection_id.to_be_bytes());
                out.extend_from_slice(&ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(&a.info_hash);
                out.extend_from_slice(&a.peer_id);
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&a.event.as_udp().to_be_bytes());
                out.extend_from_slice(&a.ip.to_be_bytes());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for h in info_hashes {
                    out.extend_from_slice(h);
                }
            }
        }
    }
}

/// Peers of an announce reply: one family per reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// Over IPv4.
    V4(Vec<SocketAddrV4>),
    /// Over IPv6.
    V6(Vec<SocketAddrV6>),
}

/// A UDP tracker response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A connection id for the next requests.
    Connect {
        /// From the request.
        transaction_id: u32,
        /// To put in announces and scrapes.
        connection_id: u64,
    },
    /// Peers for an announce.
    Announce {
        /// From the request.
        transaction_id: u32,
        /// Seconds until the next announce.
        interval: u32,
        /// Leechers in the swarm.
        leechers: u32,
        /// Seeders in the swarm.
        seeders: u32,
        /// Peers to try.
        peers: Peers,
    },
    /// Counts for a scrape, in the order asked.
    Scrape {
        /// From the request.
        transaction_id: u32,
        /// One entry per requested infohash.
        stats: Vec<ScrapeStats>,
    },
    /// The request was refused.
    Error {
        /// From the request.
        transaction_id: u32,
        /// Why (usually ASCII text).
        message: Vec<u8>,
    },
}

impl Response {
    /// Decodes a response that arrived over IPv6 (`v6`) or IPv4.
    pub fn decode(b: &[u8], v6: bool, limits: &Limits) -> Result<Response, UdpError> {
        if b.len() < 8 {
            return Err(UdpError::Length);
        }
        let action = u32_at(b, 0);
        let transaction_id = u32_at(b, 4);
        match action {
            CONNECT => {
                if b.len() != 16 {
                    return Err(UdpError::Length);
                }
                Ok(Response::Connect {
                    transaction_id,
                    connection_id: u64_at(b, 8),
                })
            }
            ANNOUNCE => {
                if b.len() < ANNOUNCE_RESPONSE_HEADER {
                    return Err(UdpError::Length);
                }
                let rest = &b[ANNOUNCE_RESPONSE_HEADER..];
                let peers = if v6 {
                    if !rest.len().is_multiple_of(18) {
                        return Err(UdpError::Length);
                    }
                    Peers::V6(
                        crate::decode_compact_v6(rest, limits.max_peers)
                            .ok_or(UdpError::TooMany)?,
                    )
                } else {
                    if !rest.len().is_multiple_of(6) {
                        return Err(UdpError::Length);
                    }
                    Peers::V4(
                        crate::decode_compact_v4(rest, limits.max_peers)
                            .ok_or(UdpError::TooMany)?,
                    )
                };
                Ok(Response::Announce {
                    transaction_id,
                    interval: u32_at(b, 8),
                    leechers: u32_at(b, 12),
                    seeders: u32_at(b, 16),
                    peers,
                })
            }
            SCRAPE => {
                let rest = &b[8..];
                if !rest.len().is_multiple_of(12) {
                    return Err(UdpError::Length);
                }
                if rest.len() / 12 > limits.max_scrape {
                    return Err(UdpError::TooMany);
                }
                Ok(Response::Scrape {
                    transaction_id,
                    stats: rest
                        .chunks_exact(12)
                        .map(|c| ScrapeStats {
                            complete: u32_at(c, 0),
                            downloaded: u32_at(c, 4),
                            incomplete: u32_at(c, 8),
                        })
                        .collect(),
                })
            }
            ERROR => Ok(Response::Error {
                transaction_id,
                message: b[8..].to_vec(),
            }),
            other => Err(UdpError::Action(other)),
        }
    }

    /// Appends the encoded response.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Connect {
                transaction_id,
                connection_id,
            } => encode_connect(out, *transaction_id, *connection_id),
            Response::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                encode_announce_header(out, *transaction_id, *interval, *leechers, *seeders);
                match peers {
                    Peers::V4(p) => crate::encode_compact_v4(out, p),
                    Peers::V6(p) => crate::encode_compact_v6(out, p),
                }
            }
            Response::Scrape {
                transaction_id,
                stats,
            } => {
                out.extend_from_slice(&SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for s in stats {
                    out.extend_from_slice(&s.complete.to_be_bytes());
                    out.extend_from_slice(&s.downloaded.to_be_bytes());
                    out.extend_from_slice(&s.incomplete.to_be_bytes());
                }
            }
            Response::Error {
                transaction_id,
                message,
            } => encode_error(out, *transaction_id, message),
        }
    }
}

/// Appends a connect response (for servers that avoid building a
/// [`Response`]).
pub fn encode_connect(out: &mut Vec<u8>, transaction_id: u32, connection_id: u64) {
    out.extend_from_slice(&CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// Appends the 20-byte header of an announce response; the caller then
/// appends compact peers of the socket's family.
pub fn encode_announce_header(
    out: &mut Vec<u8>,
    transaction_id: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
) {
    out.extend_from_slice(&ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&leechers.to_be_bytes());
    out.extend_from_slice(&seeders.to_be_bytes());
}

/// Appends an error response.
pub fn encode_error(out: &mut Vec<u8>, transaction_id: u32, message: &[u8]) {
    out.extend_from_slice(&ERROR.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(message);
}
