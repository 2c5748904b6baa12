//! The tracker client: HTTP and HTTPS (BEP 3, BEP 23 compact, BEP 7 IPv6,
//! BEP 48 scrape) and UDP (BEP 15) announces and scrapes, on top of
//! `btl-tracker-proto`'s codecs.
//!
//! [`announce`] does one announce to one URL, [`scrape`] one scrape.
//! HTTPS uses rustls, trusting the Mozilla roots and any extra CA given
//! through [`TrackerTls`]; replies may be chunked ([`http`]). A torrent's
//! announces over time, with BEP 12 tiers, are [`crate::announce`]'s.

pub mod http;
mod tls;

pub use tls::{TlsSetupError, TrackerTls};

use btl_tracker_proto::http::{
    AnnounceRequest as HttpAnnounce, AnnounceResponse, ResponseError, ScrapeRequest, ScrapeResponse,
};
use btl_tracker_proto::udp::{self, Peers, Request as UdpRequest, Response as UdpResponse};
use btl_tracker_proto::{Event, InfoHash, Limits, ScrapeStats};
use btl_types::Sha1Hash;
use btl_wire::PeerId;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Why an announce failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The URL is not one we can use.
    #[error("unsupported tracker URL `{0}` (http://, https:// and udp:// are supported)")]
    Url(String),
    /// The TLS handshake with an https:// tracker failed (an untrusted
    /// certificate, a name mismatch...).
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    /// The tracker has no scrape URL (BEP 48: the announce URL's last
    /// segment must start with `announce`).
    #[error("{0} cannot be scraped (no `announce` in its last path segment)")]
    NoScrape(String),
    /// Name resolution or the connection failed.
    #[error("cannot reach {0}: {1}")]
    Io(String, std::io::Error),
    /// No answer in time.
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// The tracker answered with an HTTP error.
    #[error("{0} answered HTTP {1}")]
    Status(String, u16),
    /// The reply could not be decoded.
    #[error("{0} sent a malformed reply: {1}")]
    Malformed(String, String),
    /// The tracker refused the announce.
    #[error("{0} refused: {1}")]
    Refused(String, String),
}

/// What we tell a tracker.
#[derive(Debug, Clone)]
pub struct AnnounceParams {
    /// The swarm's 20-byte id.
    pub info_hash: Sha1Hash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Our listening port.
    pub port: u16,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still wanted.
    pub left: u64,
    /// Why we announce.
    pub event: Event,
    /// Peers wanted.
    pub numwant: u32,
    /// Our random key (lets the tracker recognise us across addresses).
    pub key: u32,
    /// The local address to announce from: our listening address, when we
    /// listen on a specific one, so the tracker sees the address peers can
    /// reach. `None`: the system's choice.
    pub bind: Option<std::net::IpAddr>,
    /// Which certificates an https:// tracker may present.
    pub tls: TrackerTls,
}

/// What a tracker told us.
#[derive(Debug, Clone, Default)]
pub struct AnnounceResult {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Peers to try.
    pub peers: Vec<SocketAddr>,
    /// Seeders in the swarm, as the tracker counts them.
    pub seeders: u32,
    /// Leechers in the swarm.
    pub leechers: u32,
}

/// Announces once to `url`.
pub async fn announce(
    url: &str,
    p: &AnnounceParams,
    timeout: Duration,
) -> Result<AnnounceResult, TrackerError> {
    let fut = async {
        if url.starts_with("http://") || url.starts_with("https://") {
            announce_http(url, p).await
        } else if url.starts_with("udp://") {
            announce_udp(url, p, timeout).await
        } else {
            Err(TrackerError::Url(url.to_string()))
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| TrackerError::Timeout(url.to_string()))?
}

/// Splits `scheme://host:port/rest` into (`host:port`, `/rest`).
fn split_url<'a>(url: &'a str, scheme: &str) -> Option<(&'a str, &'a str)> {
    let rest = url.strip_prefix(scheme)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    (!authority.is_empty()).then_some((authority, path))
}

async fn resolve(authority: &str, default_port: u16) -> Result<SocketAddr, std::io::Error> {
    let has_port = authority.rsplit_once(':').is_some_and(|(h, p)| {
        !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty()
    }) && !authority.ends_with(']');
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    tokio::net::lookup_host(target)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("the name has no address"))
}

async fn announce_http(url: &str, p: &AnnounceParams) -> Result<AnnounceResult, TrackerError> {
    let req = HttpAnnounce {
        info_hash: p.info_hash.0,
        peer_id: p.peer_id.0,
        port: p.port,
        uploaded: p.uploaded,
        downloaded: p.downloaded,
        left: Some(p.left),
        event: p.event,
        compact: true,
        no_peer_id: true,
        numwant: Some(p.numwant),
        key: Some(format!("{:08x}", p.key).into_bytes()),
        ip: None,
    };
    let reply = http::get(&req.url(url), p.bind, &p.tls).await?;
    match AnnounceResponse::decode(&reply.body, &Limits::default()) {
        Ok(r) => Ok(AnnounceResult {
            interval: r.interval,
            peers: r.peers.iter().map(|p| p.addr).collect(),
            seeders: r.complete,
            leechers: r.incomplete,
        }),
        Err(e) => Err(body_error(url, reply.status, e)),
    }
}

/// A reply body that did not decode: the tracker's reason, its HTTP
/// status, or what was wrong with the body.
fn body_error(url: &str, status: u16, e: ResponseError) -> TrackerError {
    match e {
        ResponseError::Failure(why) => TrackerError::Refused(url.into(), why),
        _ if status != 200 => TrackerError::Status(url.into(), status),
        e => TrackerError::Malformed(url.into(), e.to_string()),
    }
}

/// Most infohashes in one scrape request (what fits a BEP 15 packet);
/// more are asked in several requests.
pub const MAX_SCRAPE: usize = 74;

/// Scrapes `url` (the tracker's announce URL, http(s):// or udp://) for
/// the counts of `ids`, from `bind` when given. Ids the tracker does not
/// know come back with zero counts (UDP) or are missing (HTTP).
pub async fn scrape(
    url: &str,
    ids: &[Sha1Hash],
    bind: Option<IpAddr>,
    tls: &TrackerTls,
    timeout: Duration,
) -> Result<Vec<(InfoHash, ScrapeStats)>, TrackerError> {
    let fut = async {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_SCRAPE) {
            let hashes: Vec<InfoHash> = chunk.iter().map(|h| h.0).collect();
            if url.starts_with("http://") || url.starts_with("https://") {
                let req = ScrapeRequest {
                    info_hashes: hashes,
                };
                let full = req
                    .url(url)
                    .ok_or_else(|| TrackerError::NoScrape(url.to_string()))?;
                let reply = http::get(&full, bind, tls).await?;
                match ScrapeResponse::decode(&reply.body, &Limits::default()) {
                    Ok(r) => out.extend(r.files),
                    Err(e) => return Err(body_error(url, reply.status, e)),
                }
            } else if url.starts_with("udp://") {
                out.extend(scrape_udp(url, &hashes, bind, timeout).await?);
            } else {
                return Err(TrackerError::Url(url.to_string()));
            }
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| TrackerError::Timeout(url.to_string()))?
}

/// A UDP socket connected to the tracker, and a BEP 15 connection id.
async fn udp_connect(
    url: &str,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> Result<(UdpSocket, bool, u64), TrackerError> {
    let (authority, _) =
        split_url(url, "udp://").ok_or_else(|| TrackerError::Url(url.to_string()))?;
    let addr = resolve(authority, 80)
        .await
        .map_err(|e| TrackerError::Io(url.to_string(), e))?;
    let local: SocketAddr = match bind.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        Some(ip) => SocketAddr::new(ip, 0),
        None if addr.is_ipv4() => ([0, 0, 0, 0], 0).into(),
        None => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local)
        .await
        .map_err(|e| TrackerError::Io(url.to_string(), e))?;
    sock.connect(addr)
        .await
        .map_err(|e| TrackerError::Io(url.to_string(), e))?;
    let tid = rand::random::<u32>();
    let connect = UdpRequest::Connect {
        transaction_id: tid,
    };
    match udp_exchange(&sock, url, &connect, addr.is_ipv6(), timeout).await? {
        UdpResponse::Connect {
            transaction_id,
            connection_id,
        } if transaction_id == tid => Ok((sock, addr.is_ipv6(), connection_id)),
        other => Err(udp_unexpected(url, other)),
    }
}

async fn scrape_udp(
    url: &str,
    hashes: &[InfoHash],
    bind: Option<IpAddr>,
    timeout: Duration,
) -> Result<Vec<(InfoHash, ScrapeStats)>, TrackerError> {
    let (sock, v6, connection_id) = udp_connect(url, bind, timeout).await?;
    let tid = rand::random::<u32>();
    let req = UdpRequest::Scrape {
        connection_id,
        transaction_id: tid,
        info_hashes: hashes.to_vec(),
    };
    match udp_exchange(&sock, url, &req, v6, timeout).await? {
        UdpResponse::Scrape {
            transaction_id,
            stats,
        } if transaction_id == tid => {
            if stats.len() != hashes.len() {
                return Err(TrackerError::Malformed(
                    url.into(),
                    format!("{} counts for {} infohashes", stats.len(), hashes.len()),
                ));
            }
            Ok(hashes.iter().copied().zip(stats).collect())
        }
        other => Err(udp_unexpected(url, other)),
    }
}

async fn announce_udp(
    url: &str,
    p: &AnnounceParams,
    timeout: Duration,
) -> Result<AnnounceResult, TrackerError> {
    let (sock, v6, connection_id) = udp_connect(url, p.bind, timeout).await?;
    let tid = rand::random::<u32>();
    let req = UdpRequest::Announce(udp::AnnounceRequest {
        connection_id,
        transaction_id: tid,
        info_hash: p.info_hash.0,
        peer_id: p.peer_id.0,
        downloaded: p.downloaded,
        left: p.left,
        uploaded: p.uploaded,
        event: p.event,
        ip: 0,
        key: p.key,
        num_want: i32::try_from(p.numwant).unwrap_or(-1),
        port: p.port,
    });
    match udp_exchange(&sock, url, &req, v6, timeout).await? {
        UdpResponse::Announce {
            transaction_id,
            interval,
            leechers,
            seeders,
            peers,
        } if transaction_id == tid => Ok(AnnounceResult {
            interval,
            peers: match peers {
                Peers::V4(v) => v.into_iter().map(SocketAddr::V4).collect(),
                Peers::V6(v) => v.into_iter().map(SocketAddr::V6).collect(),
            },
            seeders,
            leechers,
        }),
        other => Err(udp_unexpected(url, other)),
    }
}

fn udp_unexpected(url: &str, r: UdpResponse) -> TrackerError {
    match r {
        UdpResponse::Error { message, .. } => {
            TrackerError::Refused(url.into(), String::from_utf8_lossy(&message).into_owned())
        }
        _ => TrackerError::Malformed(url.into(), "unexpected reply".into()),
    }
}

/// Sends a request and waits for the reply, retransmitting with doubling
/// waits (BEP 15 asks for 15 s * 2^n; we start at 1 s on the first tries
/// and stay within the caller's overall timeout).
async fn udp_exchange(
    sock: &UdpSocket,
    url: &str,
    req: &UdpRequest,
    v6: bool,
    timeout: Duration,
) -> Result<UdpResponse, TrackerError> {
    let mut pkt = Vec::with_capacity(128);
    req.encode(&mut pkt);
    let mut wait = Duration::from_secs(1);
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        sock.send(&pkt)
            .await
            .map_err(|e| TrackerError::Io(url.to_string(), e))?;
        let until = (tokio::time::Instant::now() + wait).min(deadline);
        loop {
            match tokio::time::timeout_at(until, sock.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    match UdpResponse::decode(&buf[..n], v6, &Limits::default()) {
                        Ok(r) => return Ok(r),
                        Err(_) => continue, // stray or garbage datagram
                    }
                }
                Ok(Err(e)) => return Err(TrackerError::Io(url.to_string(), e)),
                Err(_) => break,
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TrackerError::Timeout(url.to_string()));
        }
        wait *= 2;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use btl_tracker_proto::http::PeerEntry;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback: reads one request head, sends
    /// `reply`, closes. Returns the announce URL and the request it got.
    async fn serve_once(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/announce", l.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut b).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&b[..n]);
            }
            // Written in small pieces, so the client reads it in parts.
            for part in reply.chunks(7) {
                if s.write_all(part).await.is_err() {
                    break;
                }
            }
            String::from_utf8_lossy(&req).into_owned()
        });
        (url, task)
    }

    fn params() -> AnnounceParams {
        AnnounceParams {
            info_hash: Sha1Hash([7; 20]),
            peer_id: PeerId(*b"-BL0100-abcdefghijkl"),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 100,
            event: Event::Started,
            numwant: 50,
            key: 1,
            bind: None,
            tls: TrackerTls::default(),
        }
    }

    fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
        let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for c in body.chunks(piece) {
            r.extend(format!("{:x};ext=1\r\n", c.len()).as_bytes());
            r.extend_from_slice(c);
            r.extend(b"\r\n");
        }
        r.extend(b"0\r\n\r\n");
        r
    }

    #[tokio::test]
    async fn chunked_announce_replies_are_read() {
        let peers: Vec<SocketAddr> = vec![
            "10.1.2.3:4000".parse().unwrap(),
            "[2001:db8::1]:5000".parse().unwrap(),
        ];
        let resp = AnnounceResponse {
            interval: 900,
            complete: 3,
            incomplete: 4,
            peers: peers
                .iter()
                .map(|&addr| PeerEntry { addr, id: None })
                .collect(),
            ..AnnounceResponse::default()
        };
        let mut body = Vec::new();
        resp.encode(&mut body, true);
        let (url, server) = serve_once(chunked(&body, 5)).await;
        let r = announce(&url, &params(), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!((r.interval, r.seeders, r.leechers), (900, 3, 4));
        assert_eq!(r.peers, peers);
        let req = server.await.unwrap();
        assert!(req.starts_with("GET /announce?"), "{req}");
        assert!(
            req.contains("info_hash=%07%07") && req.contains("event=started"),
            "{req}"
        );
    }

    #[tokio::test]
    async fn chunked_scrape_and_failure_replies() {
        let resp = ScrapeResponse {
            files: vec![(
                [7; 20],
                ScrapeStats {
                    complete: 1,
                    downloaded: 2,
                    incomplete: 3,
                },
            )],
        };
        let mut body = Vec::new();
        resp.encode(&mut body);
        let (url, server) = serve_once(chunked(&body, 3)).await;
        let got = scrape(
            &url,
            &[Sha1Hash([7; 20])],
            None,
            &TrackerTls::default(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(got, resp.files);
        assert!(server
            .await
            .unwrap()
            .starts_with("GET /scrape?info_hash=%07"));
        let (url, _s) = serve_once(chunked(b"d14:failure reason6:no waye", 4)).await;
        let e = announce(&url, &params(), Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(
            matches!(e, TrackerError::Refused(_, ref why) if why == "no way"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn bad_and_huge_replies_are_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
                "chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
                "transfer encoding",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nd8:interval".to_vec(),
                "cut short",
            ),
            (
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec(),
                "502",
            ),
            (
                {
                    // 2 MiB of chunks: refused once past the 1 MiB cap.
                    let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                    for _ in 0..32 {
                        r.extend(b"10000\r\n");
                        r.extend(std::iter::repeat_n(b'x', 0x10000));
                        r.extend(b"\r\n");
                    }
                    r
                },
                "too large",
            ),
        ];
        for (reply, want) in cases {
            let (url, _s) = serve_once(reply).await;
            let e = announce(&url, &params(), Duration::from_secs(10))
                .await
                .unwrap_err();
            assert!(e.to_string().contains(want), "{e} (wanted {want})");
        }
        let e = scrape(
            "http://127.0.0.1:1/tracker",
            &[Sha1Hash([1; 20])],
            None,
            &TrackerTls::default(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, TrackerError::NoScrape(_)), "{e}");
        let e = announce("wss://x/announce", &params(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::Url(_)), "{e}");
    }

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("udp://[::1]:80", "udp://"),
            Some(("[::1]:80", "/"))
        );
        assert_eq!(split_url("udp:///x", "udp://"), None);
    }
}
