//! The HTTP/1.1 front end: keep-alive, pipelining, bounded heads, an
//! idle timeout and a cap on open connections.

use crate::swarm::{Announce, Families, Peer};
use crate::{Counters, Ctx, Stats};
use btl_tracker_proto::http::{
    self, AnnounceResponse, PeerEntry, RequestHead, ScrapeResponse, TrackerRequest,
};
use btl_tracker_proto::Limits;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// Most entries in a full scrape.
const FULL_SCRAPE_MAX: usize = 1000;

/// Serves HTTP on `l`, or HTTPS when `tls` is given (the handshake runs
/// in the connection's task, bounded by the idle timeout).
pub(crate) async fn serve(
    l: TcpListener,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(ctx.config.max_connections));
    loop {
        tokio::select! {
            r = l.accept() => match r {
                Ok((s, peer)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        continue; // Over the cap: dropping the stream closes it.
                    };
                    let _ = s.set_nodelay(true);
                    Counters::bump(&ctx.counters.http_connections);
                    let ctx = ctx.clone();
                    let stop = stop.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => {
                                let _ = connection(s, peer, ctx, stop, false).await;
                            }
                            Some(acceptor) => {
                                match tokio::time::timeout(IDLE, acceptor.accept(s)).await {
                                    Ok(Ok(s)) => {
                                        let _ = connection(s, peer, ctx, stop, true).await;
                                    }
                                    Ok(Err(e)) => {
                                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    }
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            }
                        }
                        drop(permit);
                    });
                }
                // Out of file descriptors and the like: let others finish.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = stop.changed() => return,
        }
    }
}

/// The address a request counts as coming from (IPv4-mapped IPv6 as IPv4).
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Reusable buffers of one connection.
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    peers: Vec<Peer>,
    v4: Vec<SocketAddrV4>,
    v6: Vec<SocketAddrV6>,
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
    tls: bool,
) -> std::io::Result<()> {
    let ip = canonical(peer.ip());
    let limits = Limits::default();
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut out: Vec<u8> = Vec::with_capacity(2048);
    let mut scratch = Scratch::default();
    loop {
        let mut consumed = 0;
        let mut close = false;
        loop {
            match http::parse_request_head(&buf[consumed..], &limits) {
                Ok(Some(head)) => {
                    consumed += head.len;
                    if !handle(&ctx, ip, &head, &mut out, &mut scratch) {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    Counters::bump(&ctx.counters.http_failures);
                    let status = match e {
                        http::HeadError::TooLarge | http::HeadError::TooManyHeaders => {
                            "431 Request Header Fields Too Large"
                        }
                        _ => "400 Bad Request",
                    };
                    respond(
                        &mut out,
                        status,
                        "text/plain",
                        e.to_string().as_bytes(),
                        false,
                    );
                    close = true;
                    break;
                }
            }
        }
        buf.drain(..consumed);
        if !out.is_empty() {
            s.write_all(&out).await?;
            if tls {
                s.flush().await?;
            }
            out.clear();
        }
        if close {
            // TLS ends with close_notify, so that the client can tell the
            // end from a cut. Plain TCP: dropping the stream closes it (no
            // separate shutdown call: one syscall less per one-request
            // connection).
            if tls {
                let _ = s.shutdown().await;
            }
            return Ok(());
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(2048);
        }
        let n = tokio::select! {
            r = tokio::time::timeout(IDLE, s.read_buf(&mut buf)) => match r {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            },
            _ = stop.changed() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
    }
}

fn respond(out: &mut Vec<u8>, status: &str, ctype: &str, body: &[u8], keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(ctype.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    if !keep_alive {
        out.extend_from_slice(b"\r\nConnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Answers one request into `out`; returns whether the connection stays
/// open.
fn handle(
    ctx: &Ctx,
    ip: IpAddr,
    head: &RequestHead<'_>,
    out: &mut Vec<u8>,
    sc: &mut Scratch,
) -> bool {
    let keep = head.keep_alive;
    if head.method != b"GET" {
        Counters::bump(&ctx.counters.http_failures);
        respond(
            out,
            "405 Method Not Allowed",
            "text/plain",
            b"tracker requests are GETs",
            keep,
        );
        return keep;
    }
    sc.body.clear();
    if !ctx.limiter.allow(ip, ctx.now_ms()) {
        Counters::bump(&ctx.counters.rate_limited);
        http::encode_failure(
            &mut sc.body,
            "rate limited: too many requests from your address, slow down",
        );
        respond(out, "200 OK", "text/plain", &sc.body, false);
        return false;
    }
    let (path, _) = http::split_target(head.target);
    match path {
        b"/stats" => {
            let s = Stats::collect(ctx).to_json();
            respond(out, "200 OK", "application/json", s.as_bytes(), keep);
            return keep;
        }
        b"/metrics" => {
            let s = Stats::collect(ctx).to_prometheus();
            respond(
                out,
                "200 OK",
                "text/plain; version=0.0.4",
                s.as_bytes(),
                keep,
            );
            return keep;
        }
        _ => {}
    }
    match TrackerRequest::parse(head.target, &Limits::default()) {
        Ok(TrackerRequest::Announce(a)) => {
            Counters::bump(&ctx.counters.http_announces);
            let ann = Announce {
                info_hash: a.info_hash,
                peer_id: a.peer_id,
                addr: SocketAddr::new(ip, a.port),
                left: a.left,
                event: a.event,
                numwant: ctx.numwant(a.numwant),
                families: Families::Both,
            };
            sc.peers.clear();
            match ctx.announce(&ann, &mut sc.peers) {
                Ok(stats) if a.compact => {
                    sc.v4.clear();
                    sc.v6.clear();
                    for p in &sc.peers {
                        match p.addr() {
                            SocketAddr::V4(x) => sc.v4.push(x),
                            SocketAddr::V6(x) => sc.v6.push(x),
                        }
                    }
                    http::encode_compact_reply(
                        &mut sc.body,
                        ctx.config.interval,
                        Some(ctx.config.min_interval),
                        stats,
                        &sc.v4,
                        &sc.v6,
                    );
                }
                Ok(stats) => AnnounceResponse {
                    interval: ctx.config.interval,
                    min_interval: Some(ctx.config.min_interval),
                    complete: stats.complete,
                    incomplete: stats.incomplete,
                    peers: sc
                        .peers
                        .iter()
                        .map(|p| PeerEntry {
                            addr: p.addr(),
                            id: (!a.no_peer_id).then_some(p.id),
                        })
                        .collect(),
                    warning: None,
                }
                .encode(&mut sc.body, false),
                Err(refused) => {
                    Counters::bump(&ctx.counters.http_failures);
                    http::encode_failure(&mut sc.body, &refused.to_string());
                }
            }
        }
        Ok(TrackerRequest::Scrape(s)) => {
            Counters::bump(&ctx.counters.http_scrapes);
            if s.info_hashes.is_empty() {
                if ctx.config.full_scrape {
                    ScrapeResponse {
                        files: ctx.scrape_all(FULL_SCRAPE_MAX),
                    }
                    .encode(&mut sc.body);
                } else {
                    Counters::bump(&ctx.counters.http_failures);
                    http::encode_failure(
                        &mut sc.body,
                        "full scrape is disabled: name an info_hash",
                    );
                }
            } else {
                ScrapeResponse {
                    files: s
                        .info_hashes
                        .iter()
                        .filter_map(|h| ctx.scrape(h).map(|st| (*h, st)))
                        .collect(),
                }
                .encode(&mut sc.body);
            }
        }
        Err(e) => {
            Counters::bump(&ctx.counters.http_failures);
            http::encode_failure(&mut sc.body, &e.to_string());
            if e == http::RequestError::UnknownPath {
                respond(out, "404 Not Found", "text/plain", &sc.body, keep);
                return keep;
            }
        }
    }
    respond(out, "200 OK", "text/plain", &sc.body, keep);
    keep
}
