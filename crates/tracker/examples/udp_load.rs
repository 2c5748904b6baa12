//! A UDP tracker (BEP 15) load generator, for `scripts/bench-tracker.sh`.
//!
//! ```text
//! cargo run --release -p btl-tracker --example udp_load -- bench ADDR SECONDS THREADS WINDOW TORRENTS
//! cargo run --release -p btl-tracker --example udp_load -- fill ADDR TORRENTS PEERS_PER_TORRENT
//! cargo run --release -p btl-tracker --example udp_load -- hashes TORRENTS
//! ```
//!
//! `hashes` prints the infohashes the other modes use, in hex, one a line
//! (a whitelist, and the list the HTTP load script draws from).
//!
//! `bench`: each thread connects, then keeps WINDOW announces in flight
//! (random infohash among TORRENTS, random peer id and port), and prints
//! one JSON line: replies per second and latency percentiles in
//! microseconds. A reply not back within 200 ms counts as lost and its
//! slot is reused.
//!
//! `fill`: announces PEERS_PER_TORRENT peers (distinct ports) in each of
//! TORRENTS swarms, once, with `num_want = 0`, then prints a JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use btl_tracker_proto::udp::{self, Request, Response};
use btl_tracker_proto::{Event, Limits};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn connect(s: &UdpSocket) -> u64 {
    let mut pkt = Vec::new();
    Request::Connect { transaction_id: 1 }.encode(&mut pkt);
    let mut buf = [0u8; 2048];
    loop {
        s.send(&pkt).unwrap();
        if let Ok(n) = s.recv(&mut buf) {
            if let Ok(Response::Connect { connection_id, .. }) =
                Response::decode(&buf[..n], false, &Limits::default())
            {
                return connection_id;
            }
        }
    }
}

fn infohash(i: u64) -> [u8; 20] {
    let mut h = [0u8; 20];
    // Spread over shards like real (random) infohashes.
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h[..8].copy_from_slice(&x.to_be_bytes());
    h[8..16].copy_from_slice(&i.to_be_bytes());
    h
}

fn announce_pkt(
    out: &mut Vec<u8>,
    cid: u64,
    tid: u32,
    ih: [u8; 20],
    peer: u64,
    port: u16,
    num_want: i32,
) {
    out.clear();
    let mut peer_id = [b'-'; 20];
    peer_id[12..20].copy_from_slice(&peer.to_be_bytes());
    Request::Announce(udp::AnnounceRequest {
        connection_id: cid,
        transaction_id: tid,
        info_hash: ih,
        peer_id,
        left: peer % 2,
        event: Event::None,
        num_want,
        port,
        ..udp::AnnounceRequest::default()
    })
    .encode(out);
}

fn bench_thread(
    target: SocketAddr,
    secs: f64,
    window: usize,
    torrents: u64,
    seed: u64,
) -> (u64, u64, Vec<u32>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(target).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cid = connect(&s);
    let mut cid_at = Instant::now();
    let mut rng = Rng(seed | 1);
    let mut sent_at = vec![Instant::now(); window];
    let mut pkt = Vec::with_capacity(128);
    let mut buf = [0u8; 2048];
    let mut seq: u32 = 0;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut lat = Vec::with_capacity(1 << 20);
    let (mut ok, mut lost) = (0u64, 0u64);
    let mut send =
        |s: &UdpSocket, seq: &mut u32, rng: &mut Rng, cid: u64, sent_at: &mut Vec<Instant>| {
            let ih = infohash(rng.next() % torrents);
            let peer = rng.next();
            announce_pkt(&mut pkt, cid, *seq, ih, peer, (peer >> 48) as u16 | 1, 50);
            sent_at[*seq as usize % window] = Instant::now();
            let _ = s.send(&pkt);
            *seq = seq.wrapping_add(1);
        };
    for _ in 0..window {
        send(&s, &mut seq, &mut rng, cid, &mut sent_at);
    }
    while Instant::now() < end {
        if cid_at.elapsed() > Duration::from_secs(50) {
            cid = connect(&s);
            cid_at = Instant::now();
        }
        match s.recv(&mut buf) {
            Ok(n) if n >= 8 => {
                let tid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                let action = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                if action == 1 {
                    ok += 1;
                    lat.push(sent_at[tid as usize % window].elapsed().as_micros() as u32);
                }
                send(&s, &mut seq, &mut rng, cid, &mut sent_at);
            }
            Ok(_) => {}
            Err(_) => {
                // Timed out: refill the window.
                lost += window as u64;
                for _ in 0..window {
                    send(&s, &mut seq, &mut rng, cid, &mut sent_at);
                }
            }
        }
    }
    (ok, lost, lat)
}

fn fill(target: SocketAddr, torrents: u64, peers: u64) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(target).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut cid = connect(&s);
    let mut cid_at = Instant::now();
    let mut pkt = Vec::new();
    let mut buf = [0u8; 2048];
    let total = torrents * peers;
    let window = 64u64;
    let start = Instant::now();
    let mut next = 0u64;
    let mut done = 0u64;
    let mut retries = 0u64;
    let send = |s: &UdpSocket, pkt: &mut Vec<u8>, cid: u64, k: u64| {
        let (t, p) = (k / peers, k % peers);
        announce_pkt(pkt, cid, k as u32, infohash(t), p, 10_000 + p as u16, 0);
        let _ = s.send(pkt);
    };
    // Every announce must be answered: lost ones are resent.
    let mut pending = std::collections::BTreeSet::new();
    while done < total {
        if cid_at.elapsed() > Duration::from_secs(50) {
            cid = connect(&s);
            cid_at = Instant::now();
        }
        while pending.len() < window as usize && next < total {
            send(&s, &mut pkt, cid, next);
            pending.insert(next as u32);
            next += 1;
        }
        match s.recv(&mut buf) {
            Ok(n) if n >= 8 => {
                let tid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                if pending.remove(&tid) {
                    done += 1;
                }
            }
            Ok(_) => {}
            Err(_) => {
                for &k in &pending {
                    retries += 1;
                    send(&s, &mut pkt, cid, u64::from(k));
                }
            }
        }
    }
    println!(
        "{{\"event\":\"filled\",\"announces\":{total},\"seconds\":{:.2},\"retries\":{retries}}}",
        start.elapsed().as_secs_f64()
    );
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "udp_load bench ADDR SECONDS THREADS WINDOW TORRENTS | fill ADDR TORRENTS PEERS | hashes TORRENTS";
    match args.get(1).map(String::as_str) {
        Some("hashes") if args.len() == 3 => {
            use std::io::Write;
            let n: u64 = args[2].parse().expect(usage);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for i in 0..n {
                let h: String = infohash(i).iter().map(|b| format!("{b:02x}")).collect();
                writeln!(out, "{h}").unwrap();
            }
        }
        Some("bench") if args.len() == 7 => {
            let target: SocketAddr = args[2].parse().expect(usage);
            let secs: f64 = args[3].parse().expect(usage);
            let threads: u64 = args[4].parse().expect(usage);
            let window: usize = args[5].parse().expect(usage);
            let torrents: u64 = args[6].parse().expect(usage);
            let start = Instant::now();
            let hs: Vec<_> = (0..threads)
                .map(|i| {
                    std::thread::spawn(move || {
                        bench_thread(target, secs, window, torrents, i * 7919 + 1)
                    })
                })
                .collect();
            let (mut ok, mut lost, mut lat) = (0, 0, Vec::new());
            for h in hs {
                let (o, l, v) = h.join().unwrap();
                ok += o;
                lost += l;
                lat.extend(v);
            }
            let el = start.elapsed().as_secs_f64();
            lat.sort_unstable();
            println!(
                "{{\"replies\":{ok},\"lost\":{lost},\"seconds\":{el:.2},\"per_sec\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{}}}",
                ok as f64 / el,
                pct(&lat, 0.5),
                pct(&lat, 0.9),
                pct(&lat, 0.99),
                pct(&lat, 0.999)
            );
        }
        Some("fill") if args.len() == 5 => {
            let target: SocketAddr = args[2].parse().expect(usage);
            fill(
                target,
                args[3].parse().expect(usage),
                args[4].parse().expect(usage),
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
