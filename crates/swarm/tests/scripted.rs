//! One swarm driven message by message: protocol rules, the request
//! pipeline, the upload side and the choker, through the public API.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use btl_swarm::{
    Action, Bitfield, DisconnectReason, Geometry, PeerCaps, PeerKey, Swarm, SwarmConfig, Verdict,
    BLOCK_SIZE,
};
use btl_types::Sha1Hash;
use btl_wire::{Block, BlockRequest, Message};
use bytes::Bytes;

const SECS: fn(u64) -> Duration = Duration::from_secs;

struct T {
    s: Swarm,
    now: Instant,
    log: Vec<Action>,
}

fn ip(n: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (n >> 8) as u8, n as u8))
}

fn caps(fast: bool, n: u64) -> PeerCaps {
    PeerCaps {
        fast,
        extended: true,
        v2: false,
        ip: ip(n),
        outgoing: true,
    }
}

/// 8 pieces of 4 blocks.
fn geo() -> Geometry {
    Geometry::v1(8 * 4 * u64::from(BLOCK_SIZE), 4 * BLOCK_SIZE)
}

impl T {
    fn new(seed: bool, config: SwarmConfig) -> T {
        let now = Instant::now();
        let have = if seed {
            Bitfield::full(8)
        } else {
            Bitfield::new(8)
        };
        T {
            s: Swarm::new(geo(), have, config, now),
            now,
            log: Vec::new(),
        }
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.s.poll_action() {
            out.push(a);
        }
        if let Err(e) = self.s.check_invariants() {
            panic!("invariant: {e}");
        }
        self.log.extend(out.iter().cloned());
        out
    }

    fn connect(&mut self, k: PeerKey, fast: bool) -> Vec<Action> {
        self.s.peer_connected(k, caps(fast, k), self.now);
        self.drain()
    }

    fn msg(&mut self, k: PeerKey, m: Message) -> Vec<Action> {
        self.s.peer_message(k, m, self.now);
        self.drain()
    }

    fn advance(&mut self, d: Duration) -> Vec<Action> {
        self.now += d;
        self.s.handle_timeout(self.now);
        self.drain()
    }

    /// A seed peer `k` that unchoked us; returns our requests to it.
    fn seed_peer(&mut self, k: PeerKey, fast: bool) -> Vec<BlockRequest> {
        self.connect(k, fast);
        if fast {
            self.msg(k, Message::HaveAll);
        } else {
            self.msg(k, Message::Bitfield(Bytes::from_static(&[0xff])));
        }
        requests(&self.msg(k, Message::Unchoke), k)
    }
}

fn sent(actions: &[Action], k: PeerKey) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { peer, msg } if *peer == k => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn requests(actions: &[Action], k: PeerKey) -> Vec<BlockRequest> {
    sent(actions, k)
        .into_iter()
        .filter_map(|m| match m {
            Message::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn disconnected(actions: &[Action], k: PeerKey) -> Option<DisconnectReason> {
    actions.iter().find_map(|a| match a {
        Action::Disconnect { peer, reason } if *peer == k => Some(reason.clone()),
        _ => None,
    })
}

fn block(r: &BlockRequest) -> Message {
    Message::Piece(Block {
        index: r.index,
        begin: r.begin,
        data: Bytes::from(vec![r.index as u8; r.length as usize]),
    })
}

#[test]
fn first_message_depends_on_pieces_and_fast() {
    let mut t = T::new(false, SwarmConfig::default());
    assert_eq!(sent(&t.connect(1, true), 1), vec![Message::HaveNone]);
    assert!(sent(&t.connect(2, false), 2).is_empty());
    let mut t = T::new(true, SwarmConfig::default());
    assert_eq!(sent(&t.connect(1, true), 1), vec![Message::HaveAll]);
    assert_eq!(
        sent(&t.connect(2, false), 2),
        vec![Message::Bitfield(Bytes::from_static(&[0xff]))]
    );
}

#[test]
fn allowed_fast_set_is_granted_and_served_while_choked() {
    let config = SwarmConfig {
        info_hash: Some(Sha1Hash([7; 20])),
        allowed_fast_count: 3,
        ..SwarmConfig::default()
    };
    let mut t = T::new(true, config);
    let msgs = sent(&t.connect(1, true), 1);
    let fast: Vec<u32> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::AllowedFast(i) => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(fast.len(), 3);
    t.msg(1, Message::HaveNone);
    let ok = BlockRequest {
        index: fast[0],
        begin: 0,
        length: BLOCK_SIZE,
    };
    let out = t.msg(1, Message::Request(ok));
    assert!(out.contains(&Action::Serve { peer: 1, req: ok }));
    let other = (0..8).find(|i| !fast.contains(i)).unwrap_or(0);
    let no = BlockRequest { index: other, ..ok };
    assert_eq!(
        sent(&t.msg(1, Message::Request(no)), 1),
        vec![Message::Reject(no)]
    );
}

#[test]
fn bitfield_rules() {
    let cases: Vec<(bool, Vec<Message>)> = vec![
        // Wrong length.
        (
            false,
            vec![Message::Bitfield(Bytes::from_static(&[0xff, 0]))],
        ),
        // Spare bits (8 pieces: none spare, so use a 2-byte field).
        (false, vec![Message::Bitfield(Bytes::new())]),
        // Have all without the fast extension.
        (false, vec![Message::HaveAll]),
        // Out-of-range indices.
        (false, vec![Message::Have(8)]),
        (true, vec![Message::AllowedFast(9)]),
        // Fast-only messages without fast.
        (
            false,
            vec![Message::Reject(BlockRequest {
                index: 0,
                begin: 0,
                length: 1,
            })],
        ),
        (false, vec![Message::Suggest(1)]),
    ];
    for (i, (fast, msgs)) in cases.into_iter().enumerate() {
        let mut t = T::new(false, SwarmConfig::default());
        t.connect(1, fast);
        let mut out = Vec::new();
        for m in msgs {
            out.extend(t.msg(1, m));
        }
        assert!(
            matches!(disconnected(&out, 1), Some(DisconnectReason::Protocol(_))),
            "case {i}: {out:?}"
        );
        assert_eq!(t.s.stats().peers, 0);
        // Messages after the disconnect are ignored.
        assert!(t.msg(1, Message::Unchoke).is_empty());
    }
}

/// aria2 sends `have none` and later a bitfield instead of `have`s: a late
/// bitfield adds pieces, it never removes any, and it is no violation.
#[test]
fn late_bitfield_adds_pieces() {
    let mut t = T::new(false, SwarmConfig::default());
    t.connect(1, true);
    let mut out = t.msg(1, Message::HaveNone);
    out.extend(t.msg(1, Message::Have(1)));
    out.extend(t.msg(1, Message::Bitfield(Bytes::from_static(&[0b1000_0001]))));
    assert_eq!(disconnected(&out, 1), None, "{out:?}");
    let have = t.s.peer_stats(1).map(|p| p.pieces);
    assert_eq!(have, Some(3), "pieces 0, 1 and 7");
}

#[test]
fn spare_bits_refused() {
    let g = Geometry::v1(10 * u64::from(BLOCK_SIZE), BLOCK_SIZE);
    let mut s = Swarm::new(g, Bitfield::new(10), SwarmConfig::default(), Instant::now());
    let now = Instant::now();
    s.peer_connected(1, caps(false, 1), now);
    s.peer_message(1, Message::Bitfield(Bytes::from_static(&[0xff, 0xe0])), now);
    let out: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
    assert!(matches!(
        disconnected(&out, 1),
        Some(DisconnectReason::Protocol(_))
    ));
}

#[test]
fn interest_follows_what_we_lack() {
    let mut t = T::new(false, SwarmConfig::default());
    t.connect(1, false);
    assert!(sent(&t.msg(1, Message::Have(3)), 1).contains(&Message::Interested));
    let reqs = requests(&t.msg(1, Message::Unchoke), 1);
    assert_eq!(reqs.len(), 4, "min_queue requests, all of piece 3");
    assert!(reqs.iter().all(|r| r.index == 3));
    let mut out = Vec::new();
    for r in &reqs {
        out.extend(t.msg(1, block(r)));
    }
    assert!(out.contains(&Action::VerifyPiece { piece: 3 }));
    let stored = out
        .iter()
        .filter(|a| matches!(a, Action::StoreBlock { .. }))
        .count();
    assert_eq!(stored, 4);
    t.s.piece_verified(3, Verdict::Ok, t.now);
    let out = t.drain();
    // Peer 1 has piece 3: no Have to it, and we lose interest.
    assert_eq!(sent(&out, 1), vec![Message::NotInterested]);
    t.connect(2, false);
    t.s.piece_verified(3, Verdict::Ok, t.now);
    assert!(t.drain().is_empty(), "a second verdict is ignored");
}

#[test]
fn have_goes_to_peers_lacking_the_piece_and_completed_once() {
    let g = Geometry::v1(u64::from(BLOCK_SIZE), BLOCK_SIZE);
    let now = Instant::now();
    let mut s = Swarm::new(g, Bitfield::new(1), SwarmConfig::default(), now);
    s.peer_connected(1, caps(true, 1), now);
    s.peer_connected(2, caps(true, 2), now);
    s.peer_message(1, Message::HaveAll, now);
    s.peer_message(2, Message::HaveNone, now);
    s.peer_message(1, Message::Unchoke, now);
    let r = BlockRequest {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    };
    s.peer_message(1, block(&r), now);
    s.piece_verified(0, Verdict::Ok, now);
    let out: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
    assert!(sent(&out, 2).contains(&Message::Have(0)));
    assert!(!sent(&out, 1).contains(&Message::Have(0)));
    assert_eq!(out.iter().filter(|a| **a == Action::Completed).count(), 1);
    // Now both seeds: peer 1 is dropped.
    assert_eq!(disconnected(&out, 1), Some(DisconnectReason::BothSeeds));
    assert!(s.is_complete());
}

#[test]
fn choke_without_fast_repicks_elsewhere() {
    let mut t = T::new(false, SwarmConfig::default());
    let first = t.seed_peer(1, false);
    assert_eq!(first.len(), 4);
    let mut pending = t.seed_peer(2, false);
    assert!(pending.iter().all(|r| !first.contains(r)));
    let out = t.msg(1, Message::Choke);
    assert!(requests(&out, 1).is_empty());
    // Peer 1 dropped our requests: its blocks are free again.
    assert_eq!(t.s.peer_stats(1).map(|p| p.requests_outstanding), Some(0));
    // Peer 2 delivers; the freed blocks end up requested from it.
    let mut asked = Vec::new();
    for _ in 0..40 {
        if first.iter().all(|r| asked.contains(r)) {
            break;
        }
        let r = pending.remove(0);
        let out = t.msg(2, block(&r));
        for a in &out {
            if let Action::VerifyPiece { piece } = a {
                t.s.piece_verified(*piece, Verdict::Ok, t.now);
                let more = requests(&t.drain(), 2);
                asked.extend(more.iter().copied());
                pending.extend(more);
            }
        }
        let more = requests(&out, 2);
        asked.extend(more.iter().copied());
        pending.extend(more);
    }
    assert!(
        first.iter().all(|r| asked.contains(r)),
        "not re-picked: {asked:?}"
    );
    // A block that was in flight when peer 1 choked is still welcome, and
    // peer 2's request for it is cancelled.
    let late = first.iter().find(|r| pending.contains(r)).copied();
    if let Some(late) = late {
        let out = t.msg(1, block(&late));
        assert!(disconnected(&out, 1).is_none());
        assert!(out.iter().any(|a| matches!(a, Action::StoreBlock { .. })));
        assert!(sent(&out, 2).contains(&Message::Cancel(late)));
    }
}

#[test]
fn choke_with_fast_waits_for_rejects() {
    let mut t = T::new(false, SwarmConfig::default());
    let first = t.seed_peer(1, true);
    let _ = t.seed_peer(2, true);
    t.msg(1, Message::Choke);
    assert_eq!(t.s.peer_stats(1).map(|p| p.requests_outstanding), Some(4));
    let out = t.msg(1, Message::Reject(first[0]));
    assert_eq!(t.s.peer_stats(1).map(|p| p.requests_outstanding), Some(3));
    assert!(disconnected(&out, 1).is_none());
    // A reject for something we never asked is ignored.
    let bogus = BlockRequest {
        index: 7,
        begin: 0,
        length: 5,
    };
    assert!(disconnected(&t.msg(1, Message::Reject(bogus)), 1).is_none());
}

#[test]
fn unrequested_blocks() {
    let mut t = T::new(false, SwarmConfig::default());
    let asked = t.seed_peer(1, false);
    let index = (0..8)
        .find(|&i| asked.iter().all(|r| r.index != i))
        .unwrap_or(0);
    let r = BlockRequest {
        index,
        begin: 0,
        length: BLOCK_SIZE,
    };
    let out = t.msg(1, block(&r));
    assert!(matches!(
        disconnected(&out, 1),
        Some(DisconnectReason::Protocol(_))
    ));
    let mut t = T::new(false, SwarmConfig::default());
    t.seed_peer(1, true);
    let out = t.msg(1, block(&r));
    assert!(disconnected(&out, 1).is_none(), "fast peers: ignored");
    assert!(!out.iter().any(|a| matches!(a, Action::StoreBlock { .. })));
    assert_eq!(t.s.stats().wasted, u64::from(BLOCK_SIZE));
}

#[test]
fn queue_depth_grows_with_rate_and_respects_reqq() {
    let mut t = T::new(false, SwarmConfig::default());
    let mut reqs = t.seed_peer(1, true);
    assert_eq!(reqs.len(), 4);
    // Deliver at 2 MiB/s (128 blocks/s).
    let mut delivered = 0;
    while delivered < 24 && !reqs.is_empty() {
        let r = reqs.remove(0);
        t.now += Duration::from_micros(7812);
        let out = t.msg(1, block(&r));
        reqs.extend(requests(&out, 1));
        for a in &out {
            if let Action::VerifyPiece { piece } = a {
                t.s.piece_verified(*piece, Verdict::Ok, t.now);
                reqs.extend(requests(&t.drain(), 1));
            }
        }
        delivered += 1;
    }
    let depth = t.s.peer_stats(1).map(|p| p.queue_depth).unwrap_or(0);
    assert!(depth > 4, "queue depth stayed at {depth}");
    t.s.set_peer_reqq(1, 2);
    assert_eq!(t.s.peer_stats(1).map(|p| p.queue_depth), Some(2));
}

#[test]
fn request_timeout_reassigns_and_snub_drops_depth() {
    let config = SwarmConfig {
        request_timeout: SECS(5),
        snub_timeout: SECS(12),
        ..SwarmConfig::default()
    };
    let mut t = T::new(false, config);
    let slow = t.seed_peer(1, true);
    assert_eq!(slow.len(), 4);
    t.connect(2, true);
    t.msg(2, Message::HaveAll);
    let out = t.advance(SECS(6));
    // Timed out at peer 1: cancelled there, and the blocks are free.
    let cancels: Vec<Message> = sent(&out, 1)
        .into_iter()
        .filter(|m| matches!(m, Message::Cancel(_)))
        .collect();
    assert_eq!(
        cancels,
        slow.iter().map(|r| Message::Cancel(*r)).collect::<Vec<_>>()
    );
    let again = requests(&t.msg(2, Message::Unchoke), 2);
    assert_eq!(again.len(), 4);
    // No block from peer 1 for the snub timeout: snubbed, depth 1.
    t.advance(SECS(7));
    let st = t.s.peer_stats(1).unwrap_or_else(|| panic!("peer 1 gone"));
    assert!(st.snubbed);
    assert_eq!(st.queue_depth, 1);
    // A block clears the snub.
    let r = again[0];
    let out = t.msg(1, block(&r));
    assert!(disconnected(&out, 1).is_none());
    assert!(t.s.peer_stats(1).is_some_and(|p| !p.snubbed));
}

#[test]
fn poll_timeout_is_the_next_deadline() {
    let config = SwarmConfig {
        request_timeout: SECS(5),
        ..SwarmConfig::default()
    };
    let mut t = T::new(false, config);
    let t0 = t.now;
    assert_eq!(t.s.poll_timeout(), Some(t0 + SECS(10)));
    t.seed_peer(1, true);
    assert_eq!(t.s.poll_timeout(), Some(t0 + SECS(5)));
}

#[test]
fn upload_rules() {
    let mut t = T::new(true, SwarmConfig::default());
    t.connect(1, true);
    t.msg(1, Message::HaveNone);
    let r = BlockRequest {
        index: 2,
        begin: 0,
        length: BLOCK_SIZE,
    };
    // Choked: rejected.
    assert_eq!(
        sent(&t.msg(1, Message::Request(r)), 1),
        vec![Message::Reject(r)]
    );
    // Interested: unchoked at once (free slot).
    assert_eq!(
        sent(&t.msg(1, Message::Interested), 1),
        vec![Message::Unchoke]
    );
    assert_eq!(
        t.msg(1, Message::Request(r)),
        vec![Action::Serve { peer: 1, req: r }]
    );
    // A duplicate is ignored.
    assert!(t.msg(1, Message::Request(r)).is_empty());
    // Cancel withdraws it (and rejects it: fast).
    let out = t.msg(1, Message::Cancel(r));
    assert_eq!(
        out,
        vec![
            Action::CancelServe { peer: 1, req: r },
            Action::Send {
                peer: 1,
                msg: Message::Reject(r)
            }
        ]
    );
    // Out of bounds: rejected.
    let bad = BlockRequest {
        index: 2,
        begin: 4 * BLOCK_SIZE - 10,
        length: 11,
    };
    assert_eq!(
        sent(&t.msg(1, Message::Request(bad)), 1),
        vec![Message::Reject(bad)]
    );
    // A piece index past the end: protocol violation.
    let bad = BlockRequest { index: 8, ..r };
    let out = t.msg(1, Message::Request(bad));
    assert!(matches!(
        disconnected(&out, 1),
        Some(DisconnectReason::Protocol(_))
    ));
}

#[test]
fn served_counts_upload() {
    let mut t = T::new(true, SwarmConfig::default());
    t.connect(1, false);
    t.msg(1, Message::Interested);
    let r = BlockRequest {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    };
    t.msg(1, Message::Request(r));
    t.s.served(1, r, t.now);
    let st = t.s.stats();
    assert_eq!(st.uploaded, u64::from(BLOCK_SIZE));
    assert_eq!(st.per_peer[0].serves_pending, 0);
    assert!(st.per_peer[0].upload_rate > 0);
}

#[test]
fn request_flood_is_bounded_then_disconnected() {
    for fast in [true, false] {
        let config = SwarmConfig {
            max_peer_upload_queue: 16,
            ..SwarmConfig::default()
        };
        let mut t = T::new(true, config);
        t.connect(1, fast);
        t.msg(1, Message::Interested);
        let mut serves = 0;
        let mut rejects = 0;
        let mut reason = None;
        'flood: for i in 0..8u32 {
            for b in 0..4u32 {
                for len in 1..=10u32 {
                    let r = BlockRequest {
                        index: i,
                        begin: b * BLOCK_SIZE,
                        length: len,
                    };
                    let out = t.msg(1, Message::Request(r));
                    serves += out
                        .iter()
                        .filter(|a| matches!(a, Action::Serve { .. }))
                        .count();
                    rejects += sent(&out, 1)
                        .iter()
                        .filter(|m| matches!(m, Message::Reject(_)))
                        .count();
                    if let Some(d) = disconnected(&out, 1) {
                        reason = Some(d);
                        break 'flood;
                    }
                }
            }
        }
        assert_eq!(serves, 16, "fast={fast}");
        assert_eq!(rejects, if fast { 16 } else { 0 });
        assert_eq!(reason, Some(DisconnectReason::Flooding));
    }
}

#[test]
fn choking_withdraws_serves() {
    let config = SwarmConfig {
        unchoke_slots: 1,
        ..SwarmConfig::default()
    };
    let mut t = T::new(true, config);
    for k in 1..=3 {
        t.connect(k, true);
        t.msg(k, Message::HaveNone);
        t.msg(k, Message::Interested);
    }
    // Two got an immediate unchoke (one regular slot + the optimistic one).
    let unchoked: Vec<PeerKey> = (1..=3)
        .filter(|&k| t.s.peer_stats(k).is_some_and(|p| !p.am_choking))
        .collect();
    assert_eq!(unchoked.len(), 2);
    let r = BlockRequest {
        index: 1,
        begin: 0,
        length: BLOCK_SIZE,
    };
    for &k in &unchoked {
        t.msg(k, Message::Request(r));
    }
    // Over a few rounds the seeding rotation chokes somebody who has a
    // pending serve: CancelServe and Reject.
    let mut saw = false;
    for _ in 0..10 {
        let out = t.advance(SECS(10));
        for &k in &unchoked {
            if out.contains(&Action::CancelServe { peer: k, req: r }) {
                assert!(sent(&out, k).contains(&Message::Reject(r)));
                assert!(sent(&out, k).contains(&Message::Choke));
                saw = true;
            }
        }
    }
    assert!(saw);
    // Every peer had a turn.
    let unchokes: Vec<PeerKey> = t
        .log
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                peer,
                msg: Message::Unchoke,
            } => Some(*peer),
            _ => None,
        })
        .collect();
    for k in 1..=3 {
        assert!(unchokes.contains(&k), "peer {k} never unchoked");
    }
}

#[test]
fn leecher_unchokes_best_uploaders() {
    let config = SwarmConfig {
        unchoke_slots: 2,
        ..SwarmConfig::default()
    };
    let mut t = T::new(false, config);
    let mut reqs = Vec::new();
    for k in 1..=4 {
        reqs.push(t.seed_peer(k, true));
        t.msg(k, Message::Interested);
    }
    // Peers 3 and 4 deliver; 1 and 2 do not.
    for k in [3u64, 4] {
        for r in reqs[k as usize - 1].clone() {
            t.msg(k, block(&r));
        }
    }
    t.advance(SECS(10));
    let unchoked: Vec<PeerKey> = (1..=4)
        .filter(|&k| {
            t.s.peer_stats(k)
                .is_some_and(|p| !p.am_choking && !p.optimistic)
        })
        .collect();
    assert_eq!(unchoked, vec![3, 4]);
}

#[test]
fn bad_piece_strikes_and_bans() {
    let config = SwarmConfig {
        ban_after_strikes: 2,
        ..SwarmConfig::default()
    };
    let mut t = T::new(false, config);
    let mut pending = t.seed_peer(1, true);
    let mut bans = Vec::new();
    for _ in 0..2 {
        let piece = pending[0].index;
        let mut out = Vec::new();
        for r in pending.iter().filter(|r| r.index == piece) {
            out.extend(t.msg(1, block(r)));
        }
        pending.retain(|r| r.index != piece);
        pending.extend(requests(&out, 1));
        assert!(out.contains(&Action::VerifyPiece { piece }), "{out:?}");
        t.s.piece_verified(piece, Verdict::Bad { bad_blocks: None }, t.now);
        let out = t.drain();
        assert!(out.contains(&Action::DiscardPiece { piece }));
        pending.extend(requests(&out, 1));
        bans.extend(out.into_iter().filter(|a| matches!(a, Action::Ban { .. })));
    }
    assert_eq!(bans.len(), 1);
    assert!(t.s.is_banned(ip(1)));
    assert_eq!(t.s.stats().peers, 0);
    assert_eq!(t.s.stats().pieces_in_flight, 0);
    // A reconnection from the banned IP is refused.
    t.s.peer_connected(6, caps(true, 1), t.now);
    assert_eq!(disconnected(&t.drain(), 6), Some(DisconnectReason::Banned));
}

#[test]
fn proven_bad_block_bans_only_its_sender() {
    let mut t = T::new(false, SwarmConfig::default());
    let a = t.seed_peer(1, true);
    let piece = a[0].index;
    // Peer 2 is unchoked later and takes other pieces; give peer 1's last
    // block to peer 2 by letting the request time out... simpler: peer 1
    // sends blocks 0..3, and block 2 is the bad one.
    for r in &a {
        t.msg(1, block(r));
    }
    t.connect(2, true);
    t.s.piece_verified(
        piece,
        Verdict::Bad {
            bad_blocks: Some(vec![2]),
        },
        t.now,
    );
    let out = t.drain();
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Ban { peer: 1, ip: i, .. } if *i == ip(1))));
    assert!(t.s.peer_stats(2).is_some());
}

#[test]
fn priorities_change_interest_and_completion() {
    let mut t = T::new(false, SwarmConfig::default());
    t.connect(1, true);
    t.msg(1, Message::HaveNone);
    t.msg(1, Message::Have(5));
    assert!(t.s.peer_stats(1).is_some_and(|p| p.am_interested));
    let mut prio = vec![1u8; 8];
    prio[5] = 0;
    t.s.set_wanted(prio);
    assert_eq!(sent(&t.drain(), 1), vec![Message::NotInterested]);
    // Nothing wanted at all: complete at once.
    t.s.set_wanted(vec![0; 8]);
    assert!(t.drain().contains(&Action::Completed));
    assert!(t.s.is_complete());
    t.s.set_wanted(vec![1; 8]);
    assert!(!t.s.is_complete());
}

#[test]
fn seed_upload_off_chokes_everyone_at_completion() {
    let g = Geometry::v1(u64::from(BLOCK_SIZE), BLOCK_SIZE);
    let now = Instant::now();
    let config = SwarmConfig {
        seed_upload: false,
        ..SwarmConfig::default()
    };
    let mut s = Swarm::new(g, Bitfield::new(1), config, now);
    s.peer_connected(1, caps(true, 1), now);
    s.peer_connected(2, caps(true, 2), now);
    s.peer_message(1, Message::HaveAll, now);
    s.peer_message(2, Message::HaveNone, now);
    s.peer_message(2, Message::Interested, now);
    assert!(s.peer_stats(2).is_some_and(|p| !p.am_choking));
    s.peer_message(1, Message::Unchoke, now);
    let r = BlockRequest {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    };
    s.peer_message(1, block(&r), now);
    s.piece_verified(0, Verdict::Ok, now);
    assert!(s.peer_stats(2).is_some_and(|p| p.am_choking));
}
