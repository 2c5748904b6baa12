//! Swarm state of one shard, pure: every method takes the current time
//! (seconds since the tracker started) instead of reading a clock.
//!
//! Invariants (checked by the unit tests):
//! - a peer is identified by its address (the IP the request came from
//!   and the port it announced), so a client can only change or remove
//!   entries of its own address;
//! - `Torrent::seeders` is the number of peers with `seeder == true`;
//! - a reply never contains the requesting peer (same address or same
//!   peer id), and a seeder is sent leechers only;
//! - torrents without peers are dropped by [`Shard::sweep`], so memory is
//!   bounded by the live peers, and by `max_torrents` and
//!   `max_peers_per_torrent`.

use btl_tracker_proto::{Event, InfoHash, PeerId, ScrapeStats};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Peers per torrent above which a torrent keeps an address index
/// (below it, a linear scan of the peer vector is faster and smaller).
const INDEX_ABOVE: usize = 48;

/// A peer as stored: 44 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// IPv6, or IPv4-mapped IPv6.
    pub ip: [u8; 16],
    /// Listening port.
    pub port: u16,
    /// Has the whole torrent.
    pub seeder: bool,
    /// When it last announced.
    pub last_seen: u32,
    /// Its peer id.
    pub id: PeerId,
}

impl Peer {
    /// Where to reach it.
    pub fn addr(&self) -> SocketAddr {
        let v6 = Ipv6Addr::from(self.ip);
        match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), self.port),
            None => SocketAddr::new(IpAddr::V6(v6), self.port),
        }
    }

    /// Whether it has an IPv4 address.
    pub fn is_v4(&self) -> bool {
        self.ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    }
}

/// The stored form of an IP address (IPv4 is mapped into IPv6).
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Which families a reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    /// IPv4 peers only (UDP over IPv4).
    V4,
    /// IPv6 peers only (UDP over IPv6).
    V6,
    /// Both (HTTP: `peers` and `peers6`).
    Both,
}

impl Families {
    fn wants(self, p: &Peer) -> bool {
        match self {
            Families::V4 => p.is_v4(),
            Families::V6 => !p.is_v4(),
            Families::Both => true,
        }
    }
}

/// An announce, after the transport has decided the address and the
/// number of peers to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's peer id.
    pub peer_id: PeerId,
    /// The sender's IP and the announced port.
    pub addr: SocketAddr,
    /// Bytes left (`None`: unknown, counted as a leecher).
    pub left: Option<u64>,
    /// What happened.
    pub event: Event,
    /// Most peers to return.
    pub numwant: usize,
    /// Address families to return.
    pub families: Families,
}

/// Why an announce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The whitelist does not list the torrent.
    #[error("unregistered torrent")]
    NotWhitelisted,
    /// The tracker holds `max_torrents` already.
    #[error("tracker full: too many torrents")]
    TooManyTorrents,
    /// The swarm holds `max_peers_per_torrent` already.
    #[error("swarm full")]
    SwarmFull,
}

/// One torrent's peers.
#[derive(Debug, Default)]
pub struct Torrent {
    /// The peers, in no particular order.
    pub peers: Vec<Peer>,
    /// How many of them are seeders.
    pub seeders: u32,
    /// Completed downloads reported.
    pub downloaded: u32,
    index: Option<HashMap<([u8; 16], u16), u32>>,
}

impl Torrent {
    /// Counts for a scrape.
    pub fn stats(&self) -> ScrapeStats {
        ScrapeStats {
            complete: self.seeders,
            downloaded: self.downloaded,
            incomplete: u32::try_from(self.peers.len())
                .unwrap_or(u32::MAX)
                .saturating_sub(self.seeders),
        }
    }

    fn find(&self, ip: &[u8; 16], port: u16) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(&(*ip, port)).map(|&i| i as usize),
            None => self
                .peers
                .iter()
                .position(|p| p.port == port && &p.ip == ip),
        }
    }

    fn push(&mut self, p: Peer) {
        if let Some(ix) = &mut self.index {
            ix.insert((p.ip, p.port), self.peers.len() as u32);
        }
        if p.seeder {
            self.seeders += 1;
        }
        self.peers.push(p);
        if self.index.is_none() && self.peers.len() > INDEX_ABOVE {
            self.rebuild_index();
        }
    }

    fn remove(&mut self, i: usize) {
        let p = self.peers.swap_remove(i);
        if p.seeder {
            self.seeders -= 1;
        }
        if let Some(ix) = &mut self.index {
            ix.remove(&(p.ip, p.port));
            if let Some(moved) = self.peers.get(i) {
                ix.insert((moved.ip, moved.port), i as u32);
            }
        }
    }

    fn rebuild_index(&mut self) {
        self.index = (self.peers.len() > INDEX_ABOVE).then(|| {
            self.peers
                .iter()
                .enumerate()
                .map(|(i, p)| ((p.ip, p.port), i as u32))
                .collect()
        });
    }

    /// Drops peers not seen for more than `timeout` seconds.
    fn expire(&mut self, now: u32, timeout: u32) -> usize {
        let before = self.peers.len();
        self.peers
            .retain(|p| now.saturating_sub(p.last_seen) <= timeout);
        let removed = before - self.peers.len();
        if removed > 0 {
            self.seeders = self.peers.iter().filter(|p| p.seeder).count() as u32;
            self.rebuild_index();
            if self.peers.capacity() > 2 * self.peers.len() + 8 {
                self.peers.shrink_to_fit();
            }
        }
        removed
    }
}

/// Limits of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    /// Most torrents in this shard.
    pub max_torrents: usize,
    /// Most peers in one torrent.
    pub max_peers_per_torrent: usize,
}

/// A part of the tracker's swarms (those whose infohash maps here), with
/// the part of the whitelist that maps here.
#[derive(Debug)]
pub struct Shard {
    /// The swarms.
    pub torrents: HashMap<InfoHash, Torrent>,
    /// Allowed infohashes; `None`: every torrent is allowed.
    pub whitelist: Option<HashSet<InfoHash>>,
    /// Peers in all torrents of this shard.
    pub peers: usize,
    limits: ShardLimits,
    rng: u64,
}

impl Shard {
    /// An empty shard; `seed` varies which peers are returned first.
    pub fn new(limits: ShardLimits, seed: u64) -> Shard {
        Shard {
            torrents: HashMap::new(),
            whitelist: None,
            peers: 0,
            limits,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Records an announce and appends up to `a.numwant` other peers to
    /// `out`. Returns the swarm's counts after the announce.
    pub fn announce(
        &mut self,
        a: &Announce,
        now: u32,
        out: &mut Vec<Peer>,
    ) -> Result<ScrapeStats, Refused> {
        if let Some(w) = &self.whitelist {
            if !w.contains(&a.info_hash) {
                return Err(Refused::NotWhitelisted);
            }
        }
        let ip = ip_key(a.addr.ip());
        let port = a.addr.port();
        if a.event == Event::Stopped {
            let Some(t) = self.torrents.get_mut(&a.info_hash) else {
                return Ok(ScrapeStats::default());
            };
            if let Some(i) = t.find(&ip, port) {
                t.remove(i);
                self.peers -= 1;
            }
            return Ok(t.stats());
        }
        if !self.torrents.contains_key(&a.info_hash)
            && self.torrents.len() >= self.limits.max_torrents
        {
            return Err(Refused::TooManyTorrents);
        }
        let seeder = a.left == Some(0);
        let start = self.next_random();
        let t = self.torrents.entry(a.info_hash).or_default();
        match t.find(&ip, port) {
            Some(i) => {
                let p = &mut t.peers[i];
                if p.seeder != seeder {
                    if seeder {
                        t.seeders += 1;
                        if a.event == Event::Completed {
                            t.downloaded = t.downloaded.saturating_add(1);
                        }
                    } else {
                        t.seeders -= 1;
                    }
                }
                p.seeder = seeder;
                p.last_seen = now;
                p.id = a.peer_id;
            }
            None => {
                if t.peers.len() >= self.limits.max_peers_per_torrent {
                    return Err(Refused::SwarmFull);
                }
                if a.event == Event::Completed {
                    t.downloaded = t.downloaded.saturating_add(1);
                }
                t.push(Peer {
                    ip,
                    port,
                    seeder,
                    last_seen: now,
                    id: a.peer_id,
                });
                self.peers += 1;
            }
        }
        select(t, a, seeder, start, out);
        Ok(t.stats())
    }

    /// Counts for a scrape (zeros for an unknown torrent).
    pub fn scrape(&self, info_hash: &InfoHash) -> ScrapeStats {
        self.torrents
            .get(info_hash)
            .map(Torrent::stats)
            .unwrap_or_default()
    }

    /// Drops peers silent for more than `timeout` seconds and torrents
    /// left without peers. Returns the number of peers dropped.
    pub fn sweep(&mut self, now: u32, timeout: u32) -> usize {
        let mut removed = 0;
        self.torrents.retain(|_, t| {
            removed += t.expire(now, timeout);
            !t.peers.is_empty()
        });
        self.peers -= removed;
        if self.torrents.capacity() > 2 * self.torrents.len() + 64 {
            self.torrents.shrink_to_fit();
        }
        removed
    }

    /// Adds a peer restored from saved state (no whitelist check; limits
    /// apply).
    pub fn restore(&mut self, info_hash: InfoHash, downloaded: u32, peer: Peer) {
        if !self.torrents.contains_key(&info_hash)
            && self.torrents.len() >= self.limits.max_torrents
        {
            return;
        }
        let t = self.torrents.entry(info_hash).or_default();
        t.downloaded = t.downloaded.max(downloaded);
        if t.peers.len() < self.limits.max_peers_per_torrent
            && t.find(&peer.ip, peer.port).is_none()
        {
            t.push(peer);
            self.peers += 1;
        }
    }
}

/// Appends up to `a.numwant` peers of `t`, starting at a random place and
/// skipping the requester itself (by address or peer id), other families,
/// and seeders when the requester is a seeder.
fn select(t: &Torrent, a: &Announce, seeder: bool, start: u64, out: &mut Vec<Peer>) {
    let n = t.peers.len();
    if n == 0 || a.numwant == 0 {
        return;
    }
    let ip = ip_key(a.addr.ip());
    let port = a.addr.port();
    let first = (start % n as u64) as usize;
    let want = out.len() + a.numwant;
    for k in 0..n {
        let p = &t.peers[(first + k) % n];
        if (p.ip == ip && p.port == port) || p.id == a.peer_id {
            continue;
        }
        if (seeder && p.seeder) || !a.families.wants(p) {
            continue;
        }
        out.push(*p);
        if out.len() == want {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ShardLimits {
        ShardLimits {
            max_torrents: 10,
            max_peers_per_torrent: 1000,
        }
    }

    fn ann(n: u8, port: u16, left: u64, event: Event) -> Announce {
        Announce {
            info_hash: [7; 20],
            peer_id: [n; 20],
            addr: SocketAddr::new([127, 0, 0, n].into(), port),
            left: Some(left),
            event,
            numwant: 50,
            families: Families::Both,
        }
    }

    fn check_invariants(s: &Shard) {
        let mut total = 0;
        for t in s.torrents.values() {
            assert_eq!(
                t.seeders as usize,
                t.peers.iter().filter(|p| p.seeder).count()
            );
            for (i, p) in t.peers.iter().enumerate() {
                assert_eq!(t.find(&p.ip, p.port), Some(i));
            }
            total += t.peers.len();
        }
        assert_eq!(total, s.peers);
    }

    #[test]
    fn never_returns_self_and_seeders_get_leechers() {
        let mut s = Shard::new(limits(), 1);
        let mut out = Vec::new();
        // A seeder alone: nobody to return, not even itself.
        let st = s
            .announce(&ann(1, 1000, 0, Event::Started), 0, &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!((st.complete, st.incomplete), (1, 0));
        // A leecher gets the seeder.
        s.announce(&ann(2, 1000, 5, Event::Started), 0, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].addr(),
            "127.0.0.1:1000".parse::<SocketAddr>().unwrap()
        );
        // Another seeder gets only the leecher.
        out.clear();
        s.announce(&ann(3, 1000, 0, Event::Started), 0, &mut out)
            .unwrap();
        assert_eq!(out.iter().map(|p| p.id[0]).collect::<Vec<_>>(), vec![2]);
        // Same peer id from another address: still itself.
        out.clear();
        let mut a = ann(2, 2000, 5, Event::None);
        a.peer_id = [2; 20];
        s.announce(&a, 0, &mut out).unwrap();
        assert!(out.iter().all(|p| p.id != [2; 20]));
        check_invariants(&s);
    }

    #[test]
    fn completed_stopped_and_counts() {
        let mut s = Shard::new(limits(), 1);
        let mut out = Vec::new();
        s.announce(&ann(1, 1, 10, Event::Started), 0, &mut out)
            .unwrap();
        let st = s
            .announce(&ann(1, 1, 0, Event::Completed), 1, &mut out)
            .unwrap();
        assert_eq!((st.complete, st.incomplete, st.downloaded), (1, 0, 1));
        // A repeated `completed` does not count twice.
        let st = s
            .announce(&ann(1, 1, 0, Event::Completed), 2, &mut out)
            .unwrap();
        assert_eq!(st.downloaded, 1);
        let st = s
            .announce(&ann(1, 1, 0, Event::Stopped), 3, &mut out)
            .unwrap();
        assert_eq!((st.complete, st.incomplete), (0, 0));
        assert_eq!(s.peers, 0);
        check_invariants(&s);
    }

    #[test]
    fn expiry_with_injected_time() {
        let mut s = Shard::new(limits(), 1);
        let mut out = Vec::new();
        s.announce(&ann(1, 1, 0, Event::Started), 100, &mut out)
            .unwrap();
        s.announce(&ann(2, 1, 5, Event::Started), 500, &mut out)
            .unwrap();
        assert_eq!(s.sweep(700, 600), 0);
        assert_eq!(s.sweep(701, 600), 1);
        assert_eq!(s.scrape(&[7; 20]).incomplete, 1);
        assert_eq!(s.scrape(&[7; 20]).complete, 0);
        // A re-announce keeps a peer alive.
        s.announce(&ann(2, 1, 5, Event::None), 1000, &mut out)
            .unwrap();
        assert_eq!(s.sweep(1500, 600), 0);
        assert_eq!(s.sweep(1601, 600), 1);
        assert!(s.torrents.is_empty(), "empty torrents are dropped");
        check_invariants(&s);
    }

    #[test]
    fn limits_and_whitelist() {
        let mut s = Shard::new(
            ShardLimits {
                max_torrents: 1,
                max_peers_per_torrent: 2,
            },
            1,
        );
        let mut out = Vec::new();
        s.announce(&ann(1, 1, 0, Event::None), 0, &mut out).unwrap();
        s.announce(&ann(2, 1, 0, Event::None), 0, &mut out).unwrap();
        assert_eq!(
            s.announce(&ann(3, 1, 0, Event::None), 0, &mut out),
            Err(Refused::SwarmFull)
        );
        let mut other = ann(1, 1, 0, Event::None);
        other.info_hash = [8; 20];
        assert_eq!(
            s.announce(&other, 0, &mut out),
            Err(Refused::TooManyTorrents)
        );
        s.whitelist = Some([[8; 20]].into_iter().collect());
        assert_eq!(
            s.announce(&ann(1, 1, 0, Event::None), 0, &mut out),
            Err(Refused::NotWhitelisted)
        );
    }

    #[test]
    fn big_swarms_use_the_index_and_numwant() {
        let mut s = Shard::new(limits(), 9);
        let mut out = Vec::new();
        for i in 0..300u16 {
            let mut a = ann(1, i, 1, Event::None);
            a.peer_id[..2].copy_from_slice(&i.to_be_bytes());
            a.numwant = 0;
            s.announce(&a, u32::from(i), &mut out).unwrap();
        }
        assert!(s.torrents[&[7; 20]].index.is_some());
        check_invariants(&s);
        let mut a = ann(1, 5, 1, Event::None);
        a.peer_id = [0xee; 20];
        a.numwant = 30;
        s.announce(&a, 400, &mut out).unwrap();
        assert_eq!(out.len(), 30);
        assert!(out.iter().all(|p| p.port != 5));
        // Expire about half; the index follows.
        s.sweep(400 + 100, 250);
        check_invariants(&s);
        for i in 0..300u16 {
            let mut a = ann(1, i, 1, Event::Stopped);
            a.peer_id = [0; 20];
            s.announce(&a, 500, &mut out).unwrap();
            check_invariants(&s);
        }
        assert_eq!(s.peers, 0);
    }

    #[test]
    fn families() {
        let mut s = Shard::new(limits(), 1);
        let mut out = Vec::new();
        s.announce(&ann(1, 1, 0, Event::None), 0, &mut out).unwrap();
        let mut v6 = ann(2, 1, 0, Event::None);
        v6.addr = "[2001:db8::1]:7".parse().unwrap();
        s.announce(&v6, 0, &mut out).unwrap();
        let mut q = ann(3, 1, 5, Event::None);
        q.families = Families::V6;
        out.clear();
        s.announce(&q, 0, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].addr(),
            "[2001:db8::1]:7".parse::<SocketAddr>().unwrap()
        );
        q.families = Families::Both;
        out.clear();
        s.announce(&q, 0, &mut out).unwrap();
        assert_eq!(out.len(), 2);
    }
}
