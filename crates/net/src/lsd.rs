//! Local Service Discovery (BEP 14): finding peers of our torrents on the
//! local network through multicast announces.
//!
//! ```text
//!  torrent actors ──add/remove ids──▶ LSD task ──BT-SEARCH──▶ 239.192.152.143:6771
//!        ▲                              │  ◀──BT-SEARCH──    [ff15::efc0:988f]:6771
//!        └──── Command::AddPeer ────────┘
//! ```
//!
//! One task per session ([`Lsd::start`]) owns the multicast socket(s) and
//! an [`LsdCore`], the sans-IO part: which ids to announce when, whose
//! announces to believe. Torrents join with [`Lsd::add`] and leave when
//! the returned [`LsdEntry`] is dropped. A peer learnt from an announce of
//! one of our ids goes to that torrent's actor as a
//! [`Command::AddPeer`], like a tracker
//! or PEX peer.
//!
//! - **Interface**: the one that holds our listening address (its family
//!   picks the IPv4 or the IPv6 group); a wildcard listening address uses
//!   the system's default multicast interface (`::` does both families).
//!   Multicast loops back to the sending host, so processes on one
//!   machine, on loopback included, find each other.
//! - **Sending**: an id is announced when it is added and every
//!   [`ANNOUNCE_INTERVAL`] after that, never twice within [`MIN_REANNOUNCE`]
//!   (BEP 14's "no more than one announce per minute"); the ids due at the
//!   same time share datagrams of at most 1,400 bytes.
//! - **Receiving**: our own announces (same cookie) are dropped; each
//!   source address gets a token bucket ([`RECV_BURST`] datagrams, then
//!   one per [`RECV_REFILL`]), the table of buckets is bounded, and only
//!   ids we announce ourselves produce peers.

use crate::torrent::Command;
use crate::Input;
use btl_tracker_proto::lsd::{self, Announce, Group};
use btl_types::Sha1Hash;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Time between two announces of one id.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Least time between two announces of one id (an id removed and added
/// again waits this long).
pub const MIN_REANNOUNCE: Duration = Duration::from_secs(60);
/// Ids due within this much of the earliest one go in the same datagrams.
const BATCH_WINDOW: Duration = Duration::from_secs(10);
/// Datagrams a source may send at once.
pub const RECV_BURST: u32 = 32;
/// A source's bucket regains one datagram per this much time.
pub const RECV_REFILL: Duration = Duration::from_secs(1);
/// Most source addresses with a bucket; a full table forgets the buckets
/// that have refilled, then refuses new sources until some do.
const MAX_SOURCES: usize = 1024;

/// A peer learnt from an announce: the torrent id and where to dial.
pub type Found = (Sha1Hash, SocketAddr);

/// The sans-IO part of LSD: announce schedule, cookie and receive limits.
#[derive(Debug)]
pub struct LsdCore {
    cookie: String,
    port: u16,
    /// Our ids and when each is due next.
    ids: HashMap<Sha1Hash, Schedule>,
    sources: HashMap<IpAddr, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// The next announce; `None` once removed.
    due: Option<Instant>,
    last_sent: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    since: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let gained =
            now.saturating_duration_since(self.since).as_millis() / RECV_REFILL.as_millis().max(1);
        if gained > 0 {
            let gained = u32::try_from(gained).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(gained).min(RECV_BURST);
            self.since = now;
        }
    }
}

impl LsdCore {
    /// A core announcing our peer `port`, with `cookie` (printable ASCII,
    /// no spaces) to recognise our own datagrams.
    pub fn new(port: u16, cookie: String) -> LsdCore {
        LsdCore {
            cookie,
            port,
            ids: HashMap::new(),
            sources: HashMap::new(),
        }
    }

    /// Our cookie.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// Starts announcing `id` (now, unless it was announced within
    /// [`MIN_REANNOUNCE`]).
    pub fn add(&mut self, id: Sha1Hash, now: Instant) {
        let e = self.ids.entry(id).or_insert(Schedule {
            due: None,
            last_sent: None,
        });
        e.due = Some(e.last_sent.map_or(now, |t| (t + MIN_REANNOUNCE).max(now)));
    }

    /// Stops announcing `id` and learning peers for it. The time of its
    /// last announce is kept for [`MIN_REANNOUNCE`].
    pub fn remove(&mut self, id: &Sha1Hash) {
        if let Some(e) = self.ids.get_mut(id) {
            e.due = None;
        }
    }

    fn active(s: &Schedule) -> bool {
        s.due.is_some()
    }

    /// When [`LsdCore::poll_transmit`] next has something to send.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ids.values().filter_map(|s| s.due).min()
    }

    /// The datagrams due at `now` for `group` (empty when nothing is due).
    pub fn poll_transmit(&mut self, now: Instant, group: Group) -> Vec<Vec<u8>> {
        let ids = self.take_due(now);
        lsd::encode_announces(group, self.port, &ids, Some(&self.cookie))
    }

    /// The ids due at `now` (and those due soon after, to batch them),
    /// rescheduled. Sorted, so datagrams do not depend on hashing.
    pub fn take_due(&mut self, now: Instant) -> Vec<[u8; 20]> {
        let Some(first) = self.poll_timeout().filter(|&t| t <= now) else {
            return Vec::new();
        };
        let horizon = first.max(now) + BATCH_WINDOW;
        let mut out = Vec::new();
        // Forget removed ids once their re-announce guard is over.
        self.ids.retain(|_, s| {
            Self::active(s) || s.last_sent.is_some_and(|t| now < t + MIN_REANNOUNCE)
        });
        for (id, s) in &mut self.ids {
            if s.due.is_some_and(|d| d <= horizon) {
                out.push(id.0);
                s.last_sent = Some(now);
                s.due = Some(now + ANNOUNCE_INTERVAL);
            }
        }
        out.sort_unstable();
        out
    }

    /// Handles a datagram from `from` at `now`: the peers it tells of for
    /// our ids. Our own datagrams, those over the source's rate, and
    /// malformed ones give nothing.
    pub fn receive(&mut self, datagram: &[u8], from: IpAddr, now: Instant) -> Vec<Found> {
        let from = from.to_canonical();
        if !self.admit(from, now) {
            tracing::debug!(%from, "LSD: rate limited");
            return Vec::new();
        }
        let a = match Announce::decode(datagram) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(%from, error = %e, "LSD: bad datagram");
                return Vec::new();
            }
        };
        if a.cookie.as_deref() == Some(self.cookie.as_str()) {
            return Vec::new();
        }
        let addr = SocketAddr::new(from, a.port);
        a.info_hashes
            .into_iter()
            .map(Sha1Hash)
            .filter(|id| self.ids.get(id).is_some_and(Self::active))
            .map(|id| (id, addr))
            .collect()
    }

    fn admit(&mut self, from: IpAddr, now: Instant) -> bool {
        if !self.sources.contains_key(&from) && self.sources.len() >= MAX_SOURCES {
            self.sources.retain(|_, b| {
                b.refill(now);
                b.tokens < RECV_BURST
            });
            if self.sources.len() >= MAX_SOURCES {
                return false;
            }
        }
        let b = self.sources.entry(from).or_insert(Bucket {
            tokens: RECV_BURST,
            since: now,
        });
        b.refill(now);
        if b.tokens == 0 {
            return false;
        }
        b.tokens -= 1;
        true
    }
}

/// How to run LSD.
#[derive(Debug, Clone)]
pub struct LsdConfig {
    /// The peer port we announce (the session's listening port).
    pub peer_port: u16,
    /// Our listening address: selects the interface and the family. A
    /// wildcard address uses the system's default multicast interface.
    pub interface: IpAddr,
}

enum Cmd {
    Add(Vec<Sha1Hash>, mpsc::Sender<Input>),
    Remove(Vec<Sha1Hash>),
}

/// A running LSD service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Lsd {
    tx: mpsc::UnboundedSender<Cmd>,
}

/// A torrent's membership in LSD: its ids stop being announced when this
/// is dropped.
#[derive(Debug)]
pub struct LsdEntry {
    tx: mpsc::UnboundedSender<Cmd>,
    ids: Vec<Sha1Hash>,
}

impl Drop for LsdEntry {
    fn drop(&mut self) {
        let _ = self.tx.send(Cmd::Remove(std::mem::take(&mut self.ids)));
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Add(ids, _) => write!(f, "Add({ids:?})"),
            Cmd::Remove(ids) => write!(f, "Remove({ids:?})"),
        }
    }
}

/// One multicast socket and where it sends.
struct Channel {
    sock: UdpSocket,
    to: SocketAddr,
    group: Group,
}

impl Lsd {
    /// Opens the multicast socket(s) and starts the task. Fails when no
    /// socket could join its group.
    pub async fn start(config: LsdConfig) -> std::io::Result<Lsd> {
        let mut channels = Vec::new();
        let mut last_err = None;
        let (v4, v6) = match config.interface {
            IpAddr::V4(ip) => (Some(ip), None),
            IpAddr::V6(ip) if ip.is_unspecified() => (Some(Ipv4Addr::UNSPECIFIED), Some(ip)),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => (Some(v4), None),
                None => (None, Some(ip)),
            },
        };
        if let Some(ip) = v4 {
            match open_v4(ip) {
                Ok(sock) => channels.push(Channel {
                    sock,
                    to: SocketAddr::from((lsd::GROUP_V4, lsd::LSD_PORT)),
                    group: Group::V4,
                }),
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(ip) = v6 {
            let index = interface_index(ip);
            match open_v6(index) {
                Ok(sock) => channels.push(Channel {
                    sock,
                    to: SocketAddr::V6(SocketAddrV6::new(lsd::GROUP_V6, lsd::LSD_PORT, 0, index)),
                    group: Group::V6,
                }),
                Err(e) => last_err = Some(e),
            }
        }
        if channels.is_empty() {
            return Err(last_err.unwrap_or_else(|| std::io::Error::other("no LSD socket")));
        }
        let core = LsdCore::new(config.peer_port, format!("{:08x}", rand::random::<u32>()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(core, channels, rx));
        Ok(Lsd { tx })
    }

    /// Announces a torrent's ids (a hybrid has two) and sends the peers
    /// found for them to `actor`, until the entry is dropped.
    pub fn add(&self, ids: Vec<Sha1Hash>, actor: mpsc::Sender<Input>) -> LsdEntry {
        let _ = self.tx.send(Cmd::Add(ids.clone(), actor));
        LsdEntry {
            tx: self.tx.clone(),
            ids,
        }
    }
}

async fn run(mut core: LsdCore, channels: Vec<Channel>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    let mut actors: HashMap<Sha1Hash, mpsc::Sender<Input>> = HashMap::new();
    let mut bufs: Vec<Vec<u8>> = channels.iter().map(|_| vec![0u8; 2048]).collect();
    loop {
        let now = Instant::now();
        if core.poll_timeout().is_some_and(|t| t <= now) {
            let ids = core.take_due(now);
            for c in &channels {
                for pkt in lsd::encode_announces(c.group, core.port, &ids, Some(core.cookie())) {
                    if let Err(e) = c.sock.send_to(&pkt, c.to).await {
                        tracing::debug!(error = %e, to = %c.to, "LSD: send failed");
                    }
                }
            }
            tracing::debug!(ids = ids.len(), "LSD: announced");
        }
        let wake = core
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + ANNOUNCE_INTERVAL);
        let recv = recv_any(&channels, &mut bufs);
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => return,
                Some(Cmd::Add(ids, actor)) => {
                    let now = Instant::now();
                    for id in ids {
                        core.add(id, now);
                        actors.insert(id, actor.clone());
                    }
                }
                Some(Cmd::Remove(ids)) => {
                    for id in ids {
                        core.remove(&id);
                        actors.remove(&id);
                    }
                }
            },
            got = recv => {
                let (i, n, from) = got;
                let found = core.receive(&bufs[i][..n], from.ip(), Instant::now());
                for (id, addr) in found {
                    tracing::debug!(%addr, %id, "LSD: peer");
                    if let Some(a) = actors.get(&id) {
                        // A full actor queue drops the peer; it announces again.
                        let _ = a.try_send(Input::Command(Command::AddPeer(addr)));
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    }
}

/// Receives on whichever socket has a datagram: (socket index, length,
/// source). Receive errors (ICMP noise) are skipped, with a short pause so
/// that a socket stuck in error does not spin.
async fn recv_any(channels: &[Channel], bufs: &mut [Vec<u8>]) -> (usize, usize, SocketAddr) {
    let futs = channels
        .iter()
        .zip(bufs.iter_mut())
        .enumerate()
        .map(|(i, (c, buf))| {
            Box::pin(async move {
                loop {
                    match c.sock.recv_from(buf).await {
                        Ok((n, from)) => return (i, n, from),
                        Err(e) => {
                            tracing::debug!(error = %e, "LSD: receive failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            })
        });
    futures_select_all(futs).await
}

/// The first of several futures to finish (a tiny `select_all`).
async fn futures_select_all<F, T>(futs: impl IntoIterator<Item = std::pin::Pin<Box<F>>>) -> T
where
    F: std::future::Future<Output = T>,
{
    let mut futs: Vec<_> = futs.into_iter().collect();
    std::future::poll_fn(move |cx| {
        for f in &mut futs {
            if let std::task::Poll::Ready(t) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(t);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn open_v4(interface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    // Only the groups this socket joined, on the interface it joined them
    // on (Linux delivers every group joined anywhere on the host otherwise).
    #[cfg(target_os = "linux")]
    let _ = s.set_multicast_all_v4(false);
    // Bound to the group: unicast datagrams to port 6771 are not ours.
    s.bind(&SocketAddr::from((lsd::GROUP_V4, lsd::LSD_PORT)).into())?;
    s.join_multicast_v4(&lsd::GROUP_V4, &interface)?;
    if !interface.is_unspecified() {
        s.set_multicast_if_v4(&interface)?;
    }
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

fn open_v6(index: u32) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_only_v6(true)?;
    s.set_reuse_address(true)?;
    #[cfg(target_os = "linux")]
    let _ = s.set_multicast_all_v6(false);
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, lsd::LSD_PORT)).into())?;
    s.join_multicast_v6(&lsd::GROUP_V6, index)?;
    if index != 0 {
        s.set_multicast_if_v6(index)?;
    }
    s.set_multicast_loop_v6(true)?;
    s.set_multicast_hops_v6(1)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// The index of the interface that holds `ip` (0, the default, when it is
/// a wildcard or cannot be found). Reads Linux's `/proc/net/if_inet6`.
fn interface_index(ip: Ipv6Addr) -> u32 {
    if ip.is_unspecified() {
        return 0;
    }
    let Ok(table) = std::fs::read_to_string("/proc/net/if_inet6") else {
        return 0;
    };
    let want: String = ip.octets().iter().map(|b| format!("{b:02x}")).collect();
    table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = f.next()?;
            let index = u32::from_str_radix(f.next()?, 16).ok()?;
            (addr == want).then_some(index)
        })
        .next()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(b: u8) -> Sha1Hash {
        Sha1Hash([b; 20])
    }

    fn announce(port: u16, ids: &[Sha1Hash], cookie: &str) -> Vec<u8> {
        Announce {
            port,
            info_hashes: ids.iter().map(|i| i.0).collect(),
            cookie: Some(cookie.into()),
        }
        .encode(Group::V4)
    }

    #[test]
    fn schedule_batches_and_respects_the_minimum_gap() {
        let t0 = Instant::now();
        let mut c = LsdCore::new(6881, "c0ffee".into());
        assert_eq!(c.poll_timeout(), None);
        c.add(id(1), t0);
        c.add(id(2), t0 + Duration::from_secs(3));
        assert_eq!(c.poll_timeout(), Some(t0));
        // Both go in one datagram: the second is due within the batch window.
        let pkts = c.poll_transmit(t0, Group::V4);
        assert_eq!(pkts.len(), 1);
        let a = Announce::decode(&pkts[0]).unwrap();
        assert_eq!(a.info_hashes, vec![[1; 20], [2; 20]]);
        assert_eq!((a.port, a.cookie.as_deref()), (6881, Some("c0ffee")));
        assert_eq!(c.poll_timeout(), Some(t0 + ANNOUNCE_INTERVAL));
        assert!(c
            .poll_transmit(t0 + Duration::from_secs(5), Group::V4)
            .is_empty());
        // Removed and added again at once: waits for the minimum gap.
        c.remove(&id(1));
        c.add(id(1), t0 + Duration::from_secs(5));
        assert_eq!(c.poll_timeout(), Some(t0 + MIN_REANNOUNCE));
        let t1 = t0 + MIN_REANNOUNCE;
        assert_eq!(c.take_due(t1), vec![[1; 20]]);
        assert_eq!(c.take_due(t0 + ANNOUNCE_INTERVAL), vec![[2; 20]]);
        c.remove(&id(1));
        c.remove(&id(2));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn many_ids_split_into_datagrams() {
        let t0 = Instant::now();
        let mut c = LsdCore::new(1, "x".into());
        for i in 0..200u8 {
            c.add(id(i), t0);
        }
        let pkts = c.poll_transmit(t0, Group::V6);
        assert!(pkts.len() >= 8);
        assert!(pkts.iter().all(|p| p.len() <= lsd::MAX_PACKET));
        let n: usize = pkts
            .iter()
            .map(|p| Announce::decode(p).unwrap().info_hashes.len())
            .sum();
        assert_eq!(n, 200);
    }

    #[test]
    fn receives_only_others_announces_of_our_ids() {
        let t0 = Instant::now();
        let mut c = LsdCore::new(6881, "me".into());
        c.add(id(1), t0);
        c.add(id(2), t0);
        let from: IpAddr = "192.168.1.7".parse().unwrap();
        let got = c.receive(&announce(5000, &[id(1), id(3)], "you"), from, t0);
        assert_eq!(got, vec![(id(1), SocketAddr::new(from, 5000))]);
        assert!(c
            .receive(&announce(6881, &[id(1)], "me"), from, t0)
            .is_empty());
        assert!(c.receive(b"garbage", from, t0).is_empty());
        // IPv4-mapped sources count as IPv4.
        let mapped: IpAddr = "::ffff:192.168.1.8".parse().unwrap();
        let got = c.receive(&announce(7000, &[id(2)], "other"), mapped, t0);
        assert_eq!(got, vec![(id(2), "192.168.1.8:7000".parse().unwrap())]);
        c.remove(&id(2));
        assert!(c
            .receive(&announce(7000, &[id(2)], "o"), from, t0)
            .is_empty());
    }

    #[test]
    fn floods_are_rate_limited_per_source() {
        let t0 = Instant::now();
        let mut c = LsdCore::new(6881, "me".into());
        c.add(id(1), t0);
        let pkt = announce(5000, &[id(1)], "flood");
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let accepted = (0..100)
            .filter(|_| !c.receive(&pkt, a, t0).is_empty())
            .count();
        assert_eq!(accepted, RECV_BURST as usize);
        // Another source is not affected; the flooder gets one per refill.
        assert_eq!(c.receive(&pkt, b, t0).len(), 1);
        assert!(c.receive(&pkt, a, t0 + RECV_REFILL / 2).is_empty());
        assert_eq!(c.receive(&pkt, a, t0 + RECV_REFILL).len(), 1);
        // The table of sources is bounded.
        for i in 0..(MAX_SOURCES as u32 + 100) {
            let ip = IpAddr::from(Ipv4Addr::from(0x0b00_0000 + i));
            let _ = c.receive(&pkt, ip, t0);
        }
        assert!(c.sources.len() <= MAX_SOURCES);
    }

    #[test]
    fn interface_index_of_loopback() {
        // ::1 is on `lo`, index 1 on Linux; unknown addresses give 0.
        if std::path::Path::new("/proc/net/if_inet6").exists() {
            let lo = interface_index(Ipv6Addr::LOCALHOST);
            assert!(lo >= 1, "{lo}");
        }
        assert_eq!(interface_index("2001:db8::77".parse().unwrap()), 0);
        assert_eq!(interface_index(Ipv6Addr::UNSPECIFIED), 0);
    }
}
