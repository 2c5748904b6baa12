//! HTTP tracker protocol: announce (BEP 3, compact peers BEP 23, IPv6
//! `peers6` BEP 7) and scrape (BEP 48).
//!
//! # Requests (client → tracker)
//! An HTTP/1.x `GET` whose target is `.../announce?QUERY` or
//! `.../scrape?QUERY`. Binary values (`info_hash`, `peer_id`) are
//! percent-encoded; `+` is a literal byte. Announce parameters:
//!
//! | key | value | required |
//! |---|---|---|
//! | `info_hash` | 20 bytes | yes |
//! | `peer_id` | 20 bytes | yes |
//! | `port` | 0..=65535 | yes |
//! | `uploaded`, `downloaded`, `left` | decimal u64 | no (0; `left` absent = unknown) |
//! | `event` | `started`, `completed`, `stopped`, `paused`, empty | no |
//! | `compact` | `0` or `1` | no (compact by default) |
//! | `no_peer_id` | `1` | no |
//! | `numwant` | decimal | no |
//! | `key` | up to 64 bytes | no |
//! | `ip` | an IP address | no |
//!
//! Unknown keys are ignored. A scrape repeats `info_hash` up to
//! [`Limits::max_scrape`] times.
//!
//! # Responses (tracker → client)
//! A bencoded dictionary: either `failure reason`, or `interval`,
//! `min interval`, `complete`, `incomplete`, `peers` (compact bytes or a
//! list of `{ip, peer id, port}` dictionaries), `peers6`, and an optional
//! `warning message`. A scrape reply is `{files: {INFOHASH: {complete,
//! downloaded, incomplete}}}`.

use crate::query;
use crate::{InfoHash, Limits, PeerId, ScrapeStats};
use btl_bencode::{encode_bytes, encode_int, Value};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Why an HTTP request head could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is larger than [`Limits::max_head`].
    #[error("request head too large")]
    TooLarge,
    /// More headers than [`Limits::max_headers`].
    #[error("too many headers")]
    TooManyHeaders,
    /// Not an HTTP/1.x request line or header.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The request has a body (tracker requests never do).
    #[error("request bodies are not accepted")]
    Body,
}

/// A parsed HTTP/1.x request head (borrowed from the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a [u8],
    /// The request target, e.g. `/announce?info_hash=...`.
    pub target: &'a [u8],
    /// Whether the connection stays open after the reply (HTTP/1.1
    /// without `Connection: close`, or HTTP/1.0 with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
    /// Bytes of input the head took, blank line included.
    pub len: usize,
}

/// Parses one request head from the start of `buf`. `Ok(None)`: the head
/// is not complete yet (read more, up to [`Limits::max_head`]).
pub fn parse_request_head<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<RequestHead<'a>>, HeadError> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= limits.max_head {
            Err(HeadError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = &buf[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().ok_or(HeadError::Malformed("empty request"))?;
    let mut parts = line.split(|&b| b == b' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.iter().all(u8::is_ascii_uppercase));
    let method = method.ok_or(HeadError::Malformed("bad method"))?;
    let target = parts
        .next()
        .filter(|t| !t.is_empty())
        .ok_or(HeadError::Malformed("no target"))?;
    let version = parts
        .next()
        .ok_or(HeadError::Malformed("no HTTP version"))?;
    if parts.next().is_some() {
        return Err(HeadError::Malformed("bad request line"));
    }
    let mut keep_alive = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return Err(HeadError::Malformed("not HTTP/1.x")),
    };
    let mut count = 0;
    for h in lines {
        count += 1;
        if count > limits.max_headers {
            return Err(HeadError::TooManyHeaders);
        }
        let colon = h
            .iter()
            .position(|&b| b == b':')
            .ok_or(HeadError::Malformed("bad header"))?;
        let name = &h[..colon];
        let value = h[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"connection") {
            if value.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || (name.eq_ignore_ascii_case(b"content-length") && value != b"0")
        {
            return Err(HeadError::Body);
        }
    }
    Ok(Some(RequestHead {
        method,
        target,
        keep_alive,
        len: end + 4,
    }))
}

/// Why a tracker request was refused. The `Display` text is meant to be
/// sent back as the `failure reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The path is neither an announce nor a scrape.
    #[error("unknown path: use /announce or /scrape")]
    UnknownPath,
    /// A required parameter is missing.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter has a malformed value.
    #[error("invalid parameter {0}")]
    Invalid(&'static str),
    /// A scrape asked for more infohashes than [`Limits::max_scrape`].
    #[error("too many info_hash values in one scrape")]
    TooManyInfoHashes,
}

/// An announce (BEP 3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceRequest {
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's peer id.
    pub peer_id: PeerId,
    /// The client's listening port.
    pub port: u16,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes left to download; `None` when the client did not say.
    pub left: Option<u64>,
    /// What happened.
    pub event: crate::Event,
    /// Compact peer lists wanted (absent in the query means yes).
    pub compact: bool,
    /// Peer ids may be left out of a dictionary peer list.
    pub no_peer_id: bool,
    /// Peers wanted; `None`: the tracker's default.
    pub numwant: Option<u32>,
    /// The client's `key` (up to 64 bytes).
    pub key: Option<Vec<u8>>,
    /// The address the client claims (trackers usually ignore it).
    pub ip: Option<IpAddr>,
}

/// A scrape (BEP 48). No infohash means "every torrent" (trackers may
/// refuse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeRequest {
    /// The swarms asked about.
    pub info_hashes: Vec<InfoHash>,
}

/// A tracker request parsed from its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerRequest {
    /// `.../announce?...`
    Announce(AnnounceRequest),
    /// `.../scrape?...`
    Scrape(ScrapeRequest),
}

/// Splits a request target into its path and query.
pub fn split_target(target: &[u8]) -> (&[u8], &[u8]) {
    match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &target[target.len()..]),
    }
}

impl TrackerRequest {
    /// Parses a request target: the last path segment selects announce
    /// or scrape (`/announce`, `/PASSKEY/announce`, `/announce.php` all
    /// work).
    pub fn parse(target: &[u8], limits: &Limits) -> Result<TrackerRequest, RequestError> {
        let (path, query) = split_target(target);
        let last = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        let last = last.strip_suffix(b".php").unwrap_or(last);
        match last {
            b"announce" => AnnounceRequest::parse_query(query).map(TrackerRequest::Announce),
            b"scrape" => ScrapeRequest::parse_query(query, limits).map(TrackerRequest::Scrape),
            _ => Err(RequestError::UnknownPath),
        }
    }
}

impl AnnounceRequest {
    /// Parses the query of an announce.
    pub fn parse_query(q: &[u8]) -> Result<AnnounceRequest, RequestError> {
        use RequestError::{Invalid, Missing};
        let mut r = AnnounceRequest {
            compact: true,
            ..AnnounceRequest::default()
        };
        let (mut ih, mut pid, mut port) = (false, false, false);
        for (k, v) in query::pairs(q) {
            match k {
                b"info_hash" => {
                    r.info_hash = query::decode_fixed(v).ok_or(Invalid("info_hash"))?;
                    ih = true;
                }
                b"peer_id" => {
                    r.peer_id = query::decode_fixed(v).ok_or(Invalid("peer_id"))?;
                    pid = true;
                }
                b"port" => {
                    let p = query::decode_u64(v).ok_or(Invalid("port"))?;
                    r.port = u16::try_from(p).map_err(|_| Invalid("port"))?;
                    port = true;
                }
                b"uploaded" => r.uploaded = query::decode_u64(v).ok_or(Invalid("uploaded"))?,
                b"downloaded" => {
                    r.downloaded = query::decode_u64(v).ok_or(Invalid("downloaded"))?
                }
                b"left" => r.left = Some(query::decode_u64(v).ok_or(Invalid("left"))?),
                b"event" => {
                    r.event = match v {
                        b"" | b"empty" => crate::Event::None,
                        b"started" => crate::Event::Started,
                        b"completed" => crate::Event::Completed,
                        b"stopped" => crate::Event::Stopped,
                        b"paused" => crate::Event::Paused,
                        _ => return Err(Invalid("event")),
                    }
                }
                b"compact" => {
                    r.compact = match v {
                        b"1" => true,
                        b"0" => false,
                        _ => return Err(Invalid("compact")),
                    }
                }
                b"no_peer_id" => r.no_peer_id = v != b"0",
                b"numwant" => {
                    let n = query::decode_u64(v).ok_or(Invalid("numwant"))?;
                    r.numwant = Some(u32::try_from(n).unwrap_or(u32::MAX));
                }
                b"key" => r.key = Some(query::decode_bytes(v, 64).ok_or(Invalid("key"))?),
                b"ip" => {
                    let s = query::decode_string(v, 64).ok_or(Invalid("ip"))?;
                    r.ip = Some(s.parse().map_err(|_| Invalid("ip"))?);
                }
                _ => {}
            }
        }
        if !ih {
            return Err(Missing("info_hash"));
        }
        if !pid {
            return Err(Missing("peer_id"));
        }
        if !port {
            return Err(Missing("port"));
        }
        Ok(r)
    }

    /// The query string of this announce (no leading `?`).
    pub fn to_query(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("info_hash=");
        query::encode_into(&mut s, &self.info_hash);
        s.push_str("&peer_id=");
        query::encode_into(&mut s, &self.peer_id);
        s.push_str(&format!(
            "&port={}&uploaded={}&downloaded={}",
            self.port, self.uploaded, self.downloaded
        ));
        if let Some(left) = self.left {
            s.push_str(&format!("&left={left}"));
        }
        s.push_str(if self.compact {
            "&compact=1"
        } else {
            "&compact=0"
        });
        if self.no_peer_id {
            s.push_str("&no_peer_id=1");
        }
        if let Some(e) = self.event.as_http() {
            s.push_str("&event=");
            s.push_str(e);
        }
        if let Some(n) = self.numwant {
            s.push_str(&format!("&numwant={n}"));
        }
        if let Some(k) = &self.key {
            s.push_str("&key=");
            query::encode_into(&mut s, k);
        }
        if let Some(ip) = self.ip {
            s.push_str("&ip=");
            query::encode_into(&mut s, ip.to_string().as_bytes());
        }
        s
    }

    /// The full announce URL: `announce_url` with this query appended
    /// (after `&` if the URL already has a query, such as a passkey).
    pub fn url(&self, announce_url: &str) -> String {
        let sep = if announce_url.contains('?') { '&' } else { '?' };
        format!("{announce_url}{sep}{}", self.to_query())
    }
}

impl ScrapeRequest {
    /// Parses the query of a scrape.
    pub fn parse_query(q: &[u8], limits: &Limits) -> Result<ScrapeRequest, RequestError> {
        let mut info_hashes = Vec::new();
        for (k, v) in query::pairs(q) {
            if k == b"info_hash" {
                if info_hashes.len() == limits.max_scrape {
                    return Err(RequestError::TooManyInfoHashes);
                }
                info_hashes.push(query::decode_fixed(v).ok_or(RequestError::Invalid("info_hash"))?);
            }
        }
        Ok(ScrapeRequest { info_hashes })
    }

    /// The query string of this scrape (no leading `?`).
    pub fn to_query(&self) -> String {
        let mut s = String::new();
        for (i, h) in self.info_hashes.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            s.push_str("info_hash=");
            query::encode_into(&mut s, h);
        }
        s
    }

    /// The scrape URL for an announce URL, per the BEP 48 convention: the
    /// last path segment's `announce` becomes `scrape`. `None` if the
    /// tracker has no scrape URL.
    pub fn url(&self, announce_url: &str) -> Option<String> {
        let (base, q) = match announce_url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (announce_url, None),
        };
        let slash = base.rfind('/')?;
        let last = &base[slash + 1..];
        let rest = last.strip_prefix("announce")?;
        let mut url = format!("{}scrape{rest}", &base[..slash + 1]);
        let query = self.to_query();
        match (q, query.is_empty()) {
            (Some(q), true) => url.push_str(&format!("?{q}")),
            (Some(q), false) => url.push_str(&format!("?{q}&{query}")),
            (None, false) => url.push_str(&format!("?{query}")),
            (None, true) => {}
        }
        Some(url)
    }
}

/// One peer of an announce reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerEntry {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Its peer id (dictionary replies only).
    pub id: Option<PeerId>,
}

/// An announce reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// Seconds until the next regular announce.
    pub interval: u32,
    /// Seconds the client must wait at least between announces.
    pub min_interval: Option<u32>,
    /// Seeders in the swarm.
    pub complete: u32,
    /// Leechers in the swarm.
    pub incomplete: u32,
    /// Peers to try.
    pub peers: Vec<PeerEntry>,
    /// A warning to show to the user.
    pub warning: Option<String>,
}

/// Why a tracker reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The tracker refused the request, saying why.
    #[error("tracker refused: {0}")]
    Failure(String),
    /// The body is not bencode.
    #[error("tracker reply is not bencode: {0}")]
    Bencode(#[from] btl_bencode::DecodeError),
    /// The body is bencode but not a valid reply.
    #[error("malformed tracker reply: {0}")]
    Malformed(&'static str),
}

fn bencode_limits(limits: &Limits) -> btl_bencode::Limits {
    btl_bencode::Limits {
        max_input: limits.max_response,
        max_depth: 4,
        max_values: limits.max_peers.saturating_mul(8).saturating_add(64),
    }
}

fn dict_of<'v, 'a>(v: &'v Value<'a>) -> Result<&'v btl_bencode::Dict<'a>, ResponseError> {
    v.as_dict()
        .ok_or(ResponseError::Malformed("not a dictionary"))
}

fn failure_of(d: &btl_bencode::Dict<'_>) -> Option<ResponseError> {
    d.get(b"failure reason").map(|f| {
        ResponseError::Failure(String::from_utf8_lossy(f.as_bytes().unwrap_or(b"?")).into_owned())
    })
}

fn count(d: &btl_bencode::Dict<'_>, key: &[u8]) -> Result<Option<u32>, ResponseError> {
    match d.get(key) {
        None => Ok(None),
        Some(v) => {
            let n = v
                .as_int()
                .ok_or(ResponseError::Malformed("a count is not an integer"))?;
            Ok(Some(u32::try_from(n.max(0)).unwrap_or(u32::MAX)))
        }
    }
}

impl AnnounceResponse {
    /// Appends the bencoded reply: compact peer strings (`peers` for IPv4,
    /// `peers6` for IPv6) when `compact`, otherwise a list of
    /// dictionaries (peer ids included when known).
    pub fn encode(&self, out: &mut Vec<u8>, compact: bool) {
        out.push(b'd');
        encode_bytes(out, b"complete");
        encode_int(out, i64::from(self.complete));
        encode_bytes(out, b"incomplete");
        encode_int(out, i64::from(self.incomplete));
        encode_bytes(out, b"interval");
        encode_int(out, i64::from(self.interval));
        if let Some(m) = self.min_interval {
            encode_bytes(out, b"min interval");
            encode_int(out, i64::from(m));
        }
        encode_bytes(out, b"peers");
        if compact {
            let (mut v4, mut v6) = (0usize, 0usize);
            for p in &self.peers {
                match p.addr {
                    SocketAddr::V4(_) => v4 += 1,
                    SocketAddr::V6(_) => v6 += 1,
                }
            }
            write_compact(out, &self.peers, v4, false);
            if v6 > 0 {
                encode_bytes(out, b"peers6");
                write_compact(out, &self.peers, v6, true);
            }
        } else {
            out.push(b'l');
            for p in &self.peers {
                out.push(b'd');
                encode_bytes(out, b"ip");
                encode_bytes(out, p.addr.ip().to_string().as_bytes());
                if let Some(id) = &p.id {
                    encode_bytes(out, b"peer id");
                    encode_bytes(out, id);
                }
                encode_bytes(out, b"port");
                encode_int(out, i64::from(p.addr.port()));
                out.push(b'e');
            }
            out.push(b'e');
        }
        if let Some(w) = &self.warning {
            encode_bytes(out, b"warning message");
            encode_bytes(out, w.as_bytes());
        }
        out.push(b'e');
    }

    /// Decodes a reply; a `failure reason` becomes
    /// [`ResponseError::Failure`].
    pub fn decode(body: &[u8], limits: &Limits) -> Result<AnnounceResponse, ResponseError> {
        let v = btl_bencode::decode_with(body, bencode_limits(limits))?;
        let d = dict_of(&v)?;
        if let Some(f) = failure_of(d) {
            return Err(f);
        }
        let interval = count(d, b"interval")?.ok_or(ResponseError::Malformed("no interval"))?;
        let mut r = AnnounceResponse {
            interval,
            min_interval: count(d, b"min interval")?,
            complete: count(d, b"complete")?.unwrap_or(0),
            incomplete: count(d, b"incomplete")?.unwrap_or(0),
            peers: Vec::new(),
            warning: d
                .get(b"warning message")
                .and_then(|w| w.as_bytes())
                .map(|w| String::from_utf8_lossy(w).into_owned()),
        };
        let too_many = ResponseError::Malformed("too many peers");
        match d.get(b"peers") {
            None => {}
            Some(Value::Bytes(b)) => {
                let v4 = crate::decode_compact_v4(b, limits.max_peers)
                    .ok_or(ResponseError::Malformed("bad compact peers"))?;
                r.peers.extend(v4.into_iter().map(|a| PeerEntry {
                    addr: SocketAddr::V4(a),
                    id: None,
                }));
            }
            Some(Value::List(l)) => {
                if l.len() > limits.max_peers {
                    return Err(too_many);
                }
                for p in l.iter() {
                    let pd = dict_of(p)?;
                    let ip = pd
                        .get(b"ip")
                        .and_then(|v| v.as_str())
                        .and_then(|s| s.parse().ok());
                    let port = pd
                        .get(b"port")
                        .and_then(|v| v.as_int())
                        .and_then(|n| u16::try_from(n).ok());
                    let id = pd
                        .get(b"peer id")
                        .and_then(|v| v.as_bytes())
                        .and_then(|b| <PeerId>::try_from(b).ok());
                    // Host names and malformed entries are skipped.
                    if let (Some(ip), Some(port)) = (ip, port) {
                        r.peers.push(PeerEntry {
                            addr: SocketAddr::new(ip, port),
                            id,
                        });
                    }
                }
            }
            Some(_) => {
                return Err(ResponseError::Malformed(
                    "peers is neither bytes nor a list",
                ))
            }
        }
        if let Some(p6) = d.get(b"peers6") {
            let b = p6
                .as_bytes()
                .ok_or(ResponseError::Malformed("peers6 is not bytes"))?;
            let room = limits.max_peers.saturating_sub(r.peers.len());
            let v6 =
                crate::decode_compact_v6(b, room).ok_or(ResponseError::Malformed("bad peers6"))?;
            r.peers.extend(v6.into_iter().map(|a| PeerEntry {
                addr: SocketAddr::V6(a),
                id: None,
            }));
        }
        Ok(r)
    }
}

fn write_compact(out: &mut Vec<u8>, peers: &[PeerEntry], n: usize, v6: bool) {
    let size = if v6 { 18 } else { 6 };
    out.extend_from_slice((n * size).to_string().as_bytes());
    out.push(b':');
    for p in peers {
        match (p.addr, v6) {
            (SocketAddr::V4(a), false) => crate::encode_compact_v4(out, &[a]),
            (SocketAddr::V6(a), true) => crate::encode_compact_v6(out, &[a]),
            _ => {}
        }
    }
}

/// Appends compact IPv4 and IPv6 peer strings for a server that keeps
/// peers in its own form: a reply identical to [`AnnounceResponse::encode`]
/// with `compact`, without building the peer list.
pub fn encode_compact_reply(
    out: &mut Vec<u8>,
    interval: u32,
    min_interval: Option<u32>,
    stats: ScrapeStats,
    v4: &[SocketAddrV4],
    v6: &[SocketAddrV6],
) {
    out.push(b'd');
    encode_bytes(out, b"complete");
    encode_int(out, i64::from(stats.complete));
    encode_bytes(out, b"incomplete");
    encode_int(out, i64::from(stats.incomplete));
    encode_bytes(out, b"interval");
    encode_int(out, i64::from(interval));
    if let Some(m) = min_interval {
        encode_bytes(out, b"min interval");
        encode_int(out, i64::from(m));
    }
    encode_bytes(out, b"peers");
    out.extend_from_slice((v4.len() * 6).to_string().as_bytes());
    out.push(b':');
    crate::encode_compact_v4(out, v4);
    if !v6.is_empty() {
        encode_bytes(out, b"peers6");
        out.extend_from_slice((v6.len() * 18).to_string().as_bytes());
        out.push(b':');
        crate::encode_compact_v6(out, v6);
    }
    out.push(b'e');
}

/// Appends a bencoded `failure reason` reply.
pub fn encode_failure(out: &mut Vec<u8>, reason: &str) {
    out.push(b'd');
    encode_bytes(out, b"failure reason");
    encode_bytes(out, reason.as_bytes());
    out.push(b'e');
}

/// A scrape reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeResponse {
    /// Counts per swarm.
    pub files: Vec<(InfoHash, ScrapeStats)>,
}

impl ScrapeResponse {
    /// Appends the bencoded reply (infohashes sorted, duplicates once).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut files: Vec<&(InfoHash, ScrapeStats)> = self.files.iter().collect();
        files.sort_by_key(|a| a.0);
        files.dedup_by(|a, b| a.0 == b.0);
        out.push(b'd');
        encode_bytes(out, b"files");
        out.push(b'd');
        for (h, s) in files {
            encode_bytes(out, h);
            out.push(b'd');
            encode_bytes(out, b"complete");
            encode_int(out, i64::from(s.complete));
            encode_bytes(out, b"downloaded");
            encode_int(out, i64::from(s.downloaded));
            encode_bytes(out, b"incomplete");
            encode_int(out, i64::from(s.incomplete));
            out.push(b'e');
        }
        out.push(b'e');
        out.push(b'e');
    }

    /// Decodes a reply; a `failure reason` becomes
    /// [`ResponseError::Failure`].
    pub fn decode(body: &[u8], limits: &Limits) -> Result<ScrapeResponse, ResponseError> {
        let v = btl_bencode::decode_with(body, bencode_limits(limits))?;
        let d = dict_of(&v)?;
        if let Some(f) = failure_of(d) {
            return Err(f);
        }
        let files = d
            .get(b"files")
            .ok_or(ResponseError::Malformed("no files"))?;
        let files = dict_of(files)?;
        if files.len() > limits.max_scrape {
            return Err(ResponseError::Malformed("too many files"));
        }
        let mut out = Vec::with_capacity(files.len());
        for (h, s) in files.iter() {
            let h = <InfoHash>::try_from(h)
                .map_err(|_| ResponseError::Malformed("infohash is not 20 bytes"))?;
            let s = dict_of(s)?;
            out.push((
                h,
                ScrapeStats {
                    complete: count(s, b"complete")?.unwrap_or(0),
                    downloaded: count(s, b"downloaded")?.unwrap_or(0),
                    incomplete: count(s, b"incomplete")?.unwrap_or(0),
                },
            ));
        }
        Ok(ScrapeResponse { files: out })
    }
}
