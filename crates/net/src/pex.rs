//! BEP 11 peer exchange (`ut_pex`) for one torrent: which addresses to
//! accept from peers, and what to tell each peer.
//!
//! No sockets and no clock: the torrent actor passes the current time and
//! the set of connected peers' listen addresses, and sends the messages this
//! returns.
//!
//! - **Receiving**: at most [`MAX_PEX_PEERS`] `added` (and as many `added6`)
//!   entries of one message are taken; addresses with port 0, unspecified,
//!   multicast or broadcast IPs, and our own listen addresses are dropped.
//!   The actor then applies its own limits (address book size, bans).
//! - **Sending**: to a peer that advertised `ut_pex`, never for a private
//!   torrent, at most once per [`PEX_INTERVAL`]: the addresses that joined
//!   and left since the last message to that peer, at most
//!   [`MAX_PEX_PEERS`] of each (the rest wait for the next message). A
//!   peer is never told its own address, and nothing is sent when nothing
//!   changed.

use btl_wire::{PexFlags, PexMessage};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Most `added` (and most `dropped`) entries per message, per address family
/// (BEP 11).
pub const MAX_PEX_PEERS: usize = 50;

/// Least time between two messages to the same peer (BEP 11: once a minute).
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// The first message to a peer waits this long after its extension
/// handshake, so that the list is not empty just because we only started.
pub const PEX_FIRST_DELAY: Duration = Duration::from_secs(1);

/// Whether an address learnt from a peer is worth dialling.
pub fn acceptable(addr: SocketAddr, ours: &[SocketAddr]) -> bool {
    if addr.port() == 0 {
        return false;
    }
    let ip_ok = match addr.ip() {
        IpAddr::V4(ip) => !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast()),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    };
    // Ours: the exact address, or any local address with our port when we
    // listen on a wildcard address.
    let ours = ours.iter().any(|o| {
        *o == addr
            || (o.ip().is_unspecified() && o.port() == addr.port() && addr.ip().is_loopback())
    });
    ip_ok && !ours
}

/// The addresses in a received message worth dialling (bounded, filtered).
pub fn received(msg: &PexMessage, ours: &[SocketAddr]) -> Vec<SocketAddr> {
    let v4 = msg
        .added
        .iter()
        .take(MAX_PEX_PEERS)
        .map(|(a, _)| SocketAddr::V4(*a));
    let v6 = msg
        .added6
        .iter()
        .take(MAX_PEX_PEERS)
        .map(|(a, _)| SocketAddr::V6(*a));
    v4.chain(v6).filter(|a| acceptable(*a, ours)).collect()
}

/// What we told one peer so far.
#[derive(Debug)]
pub struct PeerPex {
    /// The id the peer assigned to `ut_pex`.
    their_id: u8,
    /// The peer's own listen address (never sent back to it).
    own: Option<SocketAddr>,
    /// Addresses the peer has from us (added and not dropped since).
    told: HashSet<SocketAddr>,
    /// When the next message may go.
    next: Instant,
}

impl PeerPex {
    /// A peer that advertised `ut_pex` as `their_id` in its extension
    /// handshake at `now`; `own` is its listen address when known.
    pub fn new(their_id: u8, own: Option<SocketAddr>, now: Instant) -> Self {
        PeerPex {
            their_id,
            own,
            told: HashSet::new(),
            next: now + PEX_FIRST_DELAY,
        }
    }

    /// The peer announced another id for `ut_pex` (a later extension
    /// handshake).
    pub fn set_id(&mut self, their_id: u8) {
        self.their_id = their_id;
    }

    /// When this peer's next message is due.
    pub fn due(&self) -> Instant {
        self.next
    }

    /// The message to send at `now`, given the connected peers' listen
    /// addresses and flags; `None` when it is too early or nothing changed.
    /// The message is addressed with the peer's id for `ut_pex`.
    pub fn poll(
        &mut self,
        now: Instant,
        connected: &HashMap<SocketAddr, PexFlags>,
    ) -> Option<btl_wire::Message> {
        if now < self.next {
            return None;
        }
        self.next = now + PEX_INTERVAL;
        let mut msg = PexMessage::default();
        let (mut added4, mut added6) = (0, 0);
        // Sorted, so that what is sent first does not depend on hashing.
        let mut joined: Vec<(&SocketAddr, &PexFlags)> = connected
            .iter()
            .filter(|(a, _)| Some(**a) != self.own && !self.told.contains(*a))
            .collect();
        joined.sort_unstable_by_key(|(a, _)| **a);
        for (addr, flags) in joined {
            match addr {
                SocketAddr::V4(a) if added4 < MAX_PEX_PEERS => {
                    msg.added.push((*a, *flags));
                    added4 += 1;
                }
                SocketAddr::V6(a) if added6 < MAX_PEX_PEERS => {
                    msg.added6.push((*a, *flags));
                    added6 += 1;
                }
                _ => continue,
            }
            self.told.insert(*addr);
        }
        let mut left: Vec<SocketAddr> = self
            .told
            .iter()
            .filter(|a| !connected.contains_key(*a))
            .copied()
            .collect();
        left.sort_unstable();
        for addr in left {
            match addr {
                SocketAddr::V4(a) if msg.dropped.len() < MAX_PEX_PEERS => msg.dropped.push(a),
                SocketAddr::V6(a) if msg.dropped6.len() < MAX_PEX_PEERS => msg.dropped6.push(a),
                _ => continue,
            }
            self.told.remove(&addr);
        }
        let empty = msg.added.is_empty()
            && msg.added6.is_empty()
            && msg.dropped.is_empty()
            && msg.dropped6.is_empty();
        (!empty).then(|| msg.to_message(self.their_id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use btl_wire::Message;

    fn a(i: u32, port: u16) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), port))
    }

    fn decode(m: Message) -> (u8, PexMessage) {
        match m {
            Message::Extended { id, payload } => (id, PexMessage::decode(&payload).unwrap()),
            other => panic!("not extended: {other:?}"),
        }
    }

    #[test]
    fn deltas_caps_and_interval() {
        let t0 = Instant::now();
        let me = a(0, 1000);
        let mut p = PeerPex::new(7, Some(me), t0);
        let mut connected: HashMap<SocketAddr, PexFlags> =
            (0..120).map(|i| (a(i, 1000), PexFlags(0))).collect();
        assert!(p.poll(t0, &connected).is_none(), "too early");
        let t1 = t0 + PEX_FIRST_DELAY;
        let (id, m) = decode(p.poll(t1, &connected).unwrap());
        assert_eq!(id, 7);
        assert_eq!(m.added.len(), MAX_PEX_PEERS);
        assert!(m.added.iter().all(|(x, _)| SocketAddr::V4(*x) != me));
        assert!(p.poll(t1 + Duration::from_secs(59), &connected).is_none());
        // Some leave: the rest of the joined ones, and the dropped ones.
        connected.remove(&a(1, 1000));
        connected.remove(&a(100, 1000));
        let t2 = t1 + PEX_INTERVAL;
        let (_, m) = decode(p.poll(t2, &connected).unwrap());
        assert_eq!(m.added.len(), MAX_PEX_PEERS);
        assert_eq!(
            m.dropped,
            vec![match a(1, 1000) {
                SocketAddr::V4(x) => x,
                SocketAddr::V6(_) => unreachable!(),
            }]
        );
        let t3 = t2 + PEX_INTERVAL;
        let (_, m) = decode(p.poll(t3, &connected).unwrap());
        // 120 - me - two gone - 100 already sent (a(1) was told then dropped).
        assert_eq!(m.added.len(), 120 - 1 - 2 - 99);
        assert!(m.dropped.is_empty());
        assert!(p.poll(t3 + PEX_INTERVAL, &connected).is_none(), "no change");
    }

    #[test]
    fn receiving_filters_and_bounds() {
        let ours = [a(1, 6881), SocketAddr::from(([0, 0, 0, 0], 7000))];
        let mut msg = PexMessage::default();
        for i in 0..80u32 {
            let SocketAddr::V4(x) = a(10 + i, 5000) else {
                unreachable!()
            };
            msg.added.push((x, PexFlags(0)));
        }
        for bad in [
            a(1, 6881),
            a(2, 0),
            SocketAddr::from(([0, 0, 0, 0], 5)),
            SocketAddr::from(([224, 0, 0, 1], 5)),
            SocketAddr::from(([127, 0, 0, 1], 7000)),
        ] {
            let SocketAddr::V4(x) = bad else {
                unreachable!()
            };
            msg.added.insert(0, (x, PexFlags(0)));
        }
        let got = received(&msg, &ours);
        assert_eq!(got.len(), MAX_PEX_PEERS - 5);
        assert!(got.iter().all(|x| acceptable(*x, &ours)));
        assert!(acceptable(
            SocketAddr::from(([127, 0, 0, 2], 7000)),
            &ours[..1]
        ));
    }
}
