//! BitTorrent tracker protocol codecs, sans-IO: bytes in, typed values out,
//! and back.
//!
//! # Goals
//! - Both directions of both transports, so the tracker server
//!   (`btl-tracker`) and the tracker client (in `btl-net`) share one codec:
//!   - **HTTP** (BEP 3, BEP 23 compact peers, BEP 7 `peers6`, BEP 48
//!     scrape): [`http::parse_request_head`] and [`http::TrackerRequest`]
//!     parse what a client sends; [`http::AnnounceRequest::to_query`] and
//!     [`http::ScrapeRequest::to_query`] build it. The server encodes
//!     replies with [`http::AnnounceResponse::encode`],
//!     [`http::ScrapeResponse::encode`] and [`http::encode_failure`]; the
//!     client decodes them with [`http::AnnounceResponse::decode`] and
//!     [`http::ScrapeResponse::decode`].
//!   - **UDP** (BEP 15): [`udp::Request`] and [`udp::Response`], each with
//!     `encode` and `decode`; byte layouts are drawn in [`udp`] and pinned
//!     by golden vectors (`tests/golden.rs`).
//! - **Bounded**: every count an untrusted peer controls (request head
//!   size, number of scraped infohashes, number of peers in a reply) is
//!   capped by [`Limits`] before anything is allocated.
//! - **HTTP replies** as the client reads them: [`reply::parse_reply`]
//!   frames a response (`Content-Length`, `chunked`, or until close),
//!   bounded.
//! - **Saved swarms**: [`state`], the file `btl tracker --state` keeps.
//! - **LSD** (BEP 14): [`lsd::Announce`], the multicast `BT-SEARCH`
//!   announces of local service discovery.
//! - Infohashes are plain 20-byte ids here: a v1 infohash, or the
//!   truncated v2 infohash of a hybrid or v2 swarm, are tracked alike.
//!
//! # Non-goals
//! Sockets, clocks and swarm state: those live in `btl-tracker` (server)
//! and `btl-net` (client). HTTP bodies: tracker requests are `GET`s.

pub mod http;
pub mod lsd;
pub mod reply;
pub mod state;
pub mod udp;

mod query;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// A 20-byte infohash as trackers see it (v1, or v2 truncated to 20 bytes).
pub type InfoHash = [u8; 20];
/// A 20-byte peer id.
pub type PeerId = [u8; 20];

/// What an announce reports (BEP 3 `event`, BEP 15 event numbers, BEP 21
/// `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The download finished.
    Completed,
    /// The first announce of a session.
    Started,
    /// The client leaves the swarm.
    Stopped,
    /// BEP 21: a partial seed that stopped downloading (HTTP only; sent
    /// as `None` over UDP).
    Paused,
}

impl Event {
    /// The HTTP `event=` value (`None` has none).
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Completed => Some("completed"),
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
            Event::Paused => Some("paused"),
        }
    }

    /// The BEP 15 event number.
    pub fn as_udp(self) -> u32 {
        match self {
            Event::None | Event::Paused => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    /// Parses a BEP 15 event number.
    pub fn from_udp(n: u32) -> Option<Event> {
        Some(match n {
            0 => Event::None,
            1 => Event::Completed,
            2 => Event::Started,
            3 => Event::Stopped,
            _ => return None,
        })
    }
}

/// Swarm counts for one torrent, as a scrape reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Peers with the whole torrent (`complete`, UDP "seeders").
    pub complete: u32,
    /// Completed downloads ever reported (`downloaded`, UDP "completed").
    pub downloaded: u32,
    /// Peers still downloading (`incomplete`, UDP "leechers").
    pub incomplete: u32,
}

/// Peers of a reply, by address family (BEP 23 `peers`, BEP 7 `peers6`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerList {
    /// IPv4 peers.
    pub v4: Vec<SocketAddrV4>,
    /// IPv6 peers.
    pub v6: Vec<SocketAddrV6>,
}

/// Caps applied when decoding untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest HTTP request head (request line and headers), in bytes.
    pub max_head: usize,
    /// Most headers in an HTTP request head.
    pub max_headers: usize,
    /// Most infohashes in one scrape (HTTP or UDP).
    pub max_scrape: usize,
    /// Most peers decoded from one announce reply.
    pub max_peers: usize,
    /// Largest HTTP response body a client accepts, in bytes.
    pub max_response: usize,
}

impl Default for Limits {
    /// 8 KiB heads, 64 headers, 74 scraped infohashes (what fits a UDP
    /// packet per BEP 15), 2,000 peers, 1 MiB responses.
    fn default() -> Self {
        Limits {
            max_head: 8192,
            max_headers: 64,
            max_scrape: 74,
            max_peers: 2000,
            max_response: 1 << 20,
        }
    }
}

/// Encodes compact IPv4 peers (BEP 23): 4 address bytes then 2 port bytes,
/// big-endian, per peer.
pub fn encode_compact_v4(out: &mut Vec<u8>, peers: &[SocketAddrV4]) {
    for p in peers {
        out.extend_from_slice(&p.ip().octets());
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

/// Encodes compact IPv6 peers (BEP 7): 16 address bytes then 2 port bytes.
pub fn encode_compact_v6(out: &mut Vec<u8>, peers: &[SocketAddrV6]) {
    for p in peers {
        out.extend_from_slice(&p.ip().octets());
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

/// Decodes compact IPv4 peers; `None` if the length is not a multiple of 6
/// or there are more than `max` peers.
pub fn decode_compact_v4(b: &[u8], max: usize) -> Option<Vec<SocketAddrV4>> {
    if !b.len().is_multiple_of(6) || b.len() / 6 > max {
        return None;
    }
    Some(
        b.chunks_exact(6)
            .map(|c| {
                SocketAddrV4::new(
                    Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                    u16::from_be_bytes([c[4], c[5]]),
                )
            })
            .collect(),
    )
}

/// Decodes compact IPv6 peers; `None` if the length is not a multiple of
/// 18 or there are more than `max` peers.
pub fn decode_compact_v6(b: &[u8], max: usize) -> Option<Vec<SocketAddrV6>> {
    if !b.len().is_multiple_of(18) || b.len() / 18 > max {
        return None;
    }
    Some(
        b.chunks_exact(18)
            .map(|c| {
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&c[..16]);
                SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes([c[16], c[17]]), 0, 0)
            })
            .collect(),
    )
}

/// Fuzz entry point: parses `data` as an HTTP request head and its target,
/// and checks that a parsed announce re-encodes to a query that parses
/// back to the same request.
pub fn fuzz_http_request(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(Some(head)) = http::parse_request_head(data, &limits) {
        let _ = http::TrackerRequest::parse(head.target, &limits);
    }
    if let Ok(http::TrackerRequest::Announce(a)) = http::TrackerRequest::parse(data, &limits) {
        let q = a.to_query();
        let again = http::TrackerRequest::parse(format!("/announce?{q}").as_bytes(), &limits);
        assert_eq!(again, Ok(http::TrackerRequest::Announce(a)));
    }
}

/// Fuzz entry point: decodes `data` as every kind of UDP packet, and checks
/// that what decodes re-encodes to the same bytes (announces: the first 98).
pub fn fuzz_udp_packet(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(r) = udp::Request::decode(data, &limits) {
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(&out[..], &data[..out.len()]);
    }
    for v6 in [false, true] {
        if let Ok(r) = udp::Response::decode(data, v6, &limits) {
            let mut out = Vec::new();
            r.encode(&mut out);
            assert_eq!(out, data);
        }
    }
}

/// Fuzz entry point: decodes `data` as HTTP announce and scrape replies.
pub fn fuzz_http_response(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(r) = http::AnnounceResponse::decode(data, &limits) {
        let mut out = Vec::new();
        r.encode(&mut out, true);
        assert!(http::AnnounceResponse::decode(&out, &limits).is_ok());
    }
    let _ = http::ScrapeResponse::decode(data, &limits);
}

/// Fuzz entry point: decodes `data` as a BEP 14 announce; what decodes
/// re-encodes to a datagram that decodes to the same announce.
pub fn fuzz_lsd(data: &[u8]) {
    if let Ok(a) = lsd::Announce::decode(data) {
        assert!(a.port != 0 && !a.info_hashes.is_empty());
        assert!(a.info_hashes.len() <= lsd::MAX_INFOHASHES);
        for group in [lsd::Group::V4, lsd::Group::V6] {
            assert_eq!(lsd::Announce::decode(&a.encode(group)), Ok(a.clone()));
        }
    }
}

/// Fuzz entry point: frames `data` as an HTTP reply (as received so far
/// and as a whole connection), and as the body of a chunked reply.
pub fn fuzz_http_reply(data: &[u8]) {
    let limits = reply::ReplyLimits::default();
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    chunked.extend_from_slice(data);
    for input in [data, &chunked[..]] {
        for eof in [false, true] {
            if let Ok(Some(r)) = reply::parse_reply(input, eof, &limits) {
                assert!(r.len <= input.len());
                assert!(r.body.len() <= limits.max_body && r.body.len() <= r.len);
                assert!((200..=599).contains(&r.status));
            }
        }
    }
}

/// Fuzz entry point: reads `data` as a tracker state file (with and
/// without the magic); what is read is bounded by the input.
pub fn fuzz_tracker_state(data: &[u8]) {
    let mut with_magic = state::MAGIC.to_vec();
    with_magic.extend_from_slice(data);
    for input in [data, &with_magic[..]] {
        let mut peers = 0u64;
        if let Ok(d) = state::decode(input, |_, _| {}, |_, _, _| peers += 1) {
            assert_eq!(d.peers, peers);
            let records =
                d.torrents as usize * state::TORRENT_LEN + peers as usize * state::PEER_LEN;
            assert!(state::MAGIC.len() + records <= input.len());
        }
    }
}
