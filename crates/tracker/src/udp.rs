//! The UDP (BEP 15) front end: one blocking receive loop per thread, all
//! on the same socket.
//!
//! Reply-size rule (no amplification): connect, scrape and error replies
//! are never larger than the request they answer (an error that would be
//! is not sent), and an announce reply is at most
//! [`crate::UDP_AMPLIFICATION`] times its request, which caps the number
//! of peers; announces and scrapes also need a connection id, which only
//! the real owner of the source address can have received.

use crate::http::canonical;
use crate::swarm::{Announce, Families, Peer};
use crate::{Counters, Ctx, MAX_UDP_PACKET, UDP_AMPLIFICATION};
use btl_tracker_proto::udp::{self, Request, ANNOUNCE_RESPONSE_HEADER};
use btl_tracker_proto::Limits;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn spawn(
    sock: UdpSocket,
    ctx: Arc<Ctx>,
    threads: usize,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    // The timeout lets each loop notice a shutdown.
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut out = Vec::new();
    for i in 0..threads.max(1) {
        let s = sock.try_clone()?;
        let ctx = ctx.clone();
        out.push(
            std::thread::Builder::new()
                .name(format!("btl-tracker-udp-{i}"))
                .spawn(move || run(s, ctx))?,
        );
    }
    Ok(out)
}

fn run(sock: UdpSocket, ctx: Arc<Ctx>) {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(2048);
    let mut peers = Vec::new();
    while !ctx.shutdown.load(Ordering::Relaxed) {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => continue,
        };
        out.clear();
        handle(&ctx, &buf[..n], from, &mut out, &mut peers);
        if !out.is_empty() {
            let _ = sock.send_to(&out, from);
        }
    }
}

/// An error reply, unless it would be larger than the request.
fn error(ctx: &Ctx, out: &mut Vec<u8>, tid: u32, msg: &str, req_len: usize) {
    if 8 + msg.len() <= req_len {
        Counters::bump(&ctx.counters.udp_errors);
        udp::encode_error(out, tid, msg.as_bytes());
    } else {
        Counters::bump(&ctx.counters.udp_dropped);
    }
}

/// Answers one packet into `out` (left empty: no reply).
pub(crate) fn handle(
    ctx: &Ctx,
    pkt: &[u8],
    from: SocketAddr,
    out: &mut Vec<u8>,
    peers: &mut Vec<Peer>,
) {
    let c = &ctx.counters;
    if pkt.len() > MAX_UDP_PACKET {
        Counters::bump(&c.udp_dropped);
        return;
    }
    let from = SocketAddr::new(canonical(from.ip()), from.port());
    if !ctx.limiter.allow(from.ip(), ctx.now_ms()) {
        Counters::bump(&c.rate_limited);
        return;
    }
    let req = match Request::decode(pkt, &Limits::default()) {
        Ok(r) => r,
        Err(e) => {
            match Request::peek_transaction_id(pkt) {
                Some(tid) => error(ctx, out, tid, &e.to_string(), pkt.len()),
                None => Counters::bump(&c.udp_dropped),
            }
            return;
        }
    };
    let now = u64::from(ctx.now_secs());
    match req {
        Request::Connect { transaction_id } => {
            Counters::bump(&c.udp_connects);
            udp::encode_connect(out, transaction_id, ctx.conn_ids.issue(from, now));
        }
        Request::Announce(a) => {
            if !ctx.conn_ids.check(a.connection_id, from, now) {
                Counters::bump(&c.udp_bad_connection_id);
                return error(ctx, out, a.transaction_id, "bad connection id", pkt.len());
            }
            Counters::bump(&c.udp_announces);
            let (families, size) = if from.is_ipv4() {
                (Families::V4, 6)
            } else {
                (Families::V6, 18)
            };
            let fits =
                (UDP_AMPLIFICATION * pkt.len()).saturating_sub(ANNOUNCE_RESPONSE_HEADER) / size;
            let asked = u32::try_from(a.num_want).ok().filter(|&n| n > 0);
            let ann = Announce {
                info_hash: a.info_hash,
                peer_id: a.peer_id,
                addr: SocketAddr::new(from.ip(), a.port),
                left: Some(a.left),
                event: a.event,
                numwant: ctx.numwant(asked).min(fits),
                families,
            };
            peers.clear();
            match ctx.announce(&ann, peers) {
                Ok(stats) => {
                    udp::encode_announce_header(
                        out,
                        a.transaction_id,
                        ctx.config.interval,
                        stats.incomplete,
                        stats.complete,
                    );
                    for p in peers.iter() {
                        match p.addr() {
                            SocketAddr::V4(x) => btl_tracker_proto::encode_compact_v4(out, &[x]),
                            SocketAddr::V6(x) => btl_tracker_proto::encode_compact_v6(out, &[x]),
                        }
                    }
                }
                Err(refused) => error(ctx, out, a.transaction_id, &refused.to_string(), pkt.len()),
            }
        }
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => {
            if !ctx.conn_ids.check(connection_id, from, now) {
                Counters::bump(&c.udp_bad_connection_id);
                return error(ctx, out, transaction_id, "bad connection id", pkt.len());
            }
            Counters::bump(&c.udp_scrapes);
            udp::Response::Scrape {
                transaction_id,
                stats: info_hashes
                    .iter()
                    .map(|h| ctx.scrape(h).unwrap_or_default())
                    .collect(),
            }
            .encode(out);
        }
    }
}
