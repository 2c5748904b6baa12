//! Property test: random interleavings of random (often invalid) events
//! from a few peers never panic and never break the invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use btl_swarm::{Action, Bitfield, Geometry, PeerCaps, Swarm, SwarmConfig, Verdict, BLOCK_SIZE};
use btl_types::Sha1Hash;
use btl_wire::{Block, BlockRequest, Message};
use bytes::Bytes;
use proptest::prelude::*;

const PIECES: u32 = 8;

/// 8 pieces of 2 blocks, the last one short (one partial block).
fn geo() -> Geometry {
    Geometry::v1(u64::from(7 * 2 * BLOCK_SIZE + 1000), 2 * BLOCK_SIZE)
}

#[derive(Clone, Debug)]
enum Op {
    Connect {
        peer: u8,
        fast: bool,
    },
    /// Connect, announce pieces, unchoke us and show interest: a
    /// well-behaved start.
    Join {
        peer: u8,
        fast: bool,
        bits: u8,
    },
    Disconnect {
        peer: u8,
    },
    Msg {
        peer: u8,
        msg: Message,
    },
    /// Answer our `nth` outstanding request to the peer with a block.
    Answer {
        peer: u8,
        nth: u8,
    },
    /// Reject our `nth` outstanding request to the peer.
    RejectOurs {
        peer: u8,
        nth: u8,
    },
    Advance {
        ms: u32,
    },
    /// Verdict for the `nth` piece awaiting one, or a random piece.
    Verdict {
        nth: u8,
        ok: bool,
        block: Option<u8>,
    },
    /// The I/O layer served the `nth` pending serve of the peer.
    Served {
        peer: u8,
        nth: u8,
    },
    SetWanted(Vec<u8>),
    Sequential(bool),
    Reqq {
        peer: u8,
        n: u32,
    },
}

/// A valid request (one of the torrent's blocks) most of the time.
fn arb_req() -> impl Strategy<Value = BlockRequest> {
    let g = geo();
    prop_oneof![
        6 => (0u32..PIECES, 0u32..2).prop_map(move |(i, b)| {
            let (begin, length) = g.block(i, b).unwrap_or((0, BLOCK_SIZE));
            BlockRequest { index: i, begin, length }
        }),
        1 => (
            0u32..PIECES + 2,
            prop_oneof![Just(0u32), Just(BLOCK_SIZE), Just(100), Just(u32::MAX - 5)],
            prop_oneof![Just(BLOCK_SIZE), Just(1u32), Just(0), Just(1000), Just(200_000)],
        )
            .prop_map(|(index, begin, length)| BlockRequest {
                index,
                begin,
                length,
            }),
    ]
}

/// Mostly valid messages, some invalid ones.
fn arb_msg() -> impl Strategy<Value = Message> {
    prop_oneof![
        1 => Just(Message::KeepAlive),
        2 => Just(Message::Choke),
        5 => Just(Message::Unchoke),
        3 => Just(Message::Interested),
        1 => Just(Message::NotInterested),
        2 => Just(Message::HaveAll),
        1 => Just(Message::HaveNone),
        5 => (0u32..PIECES).prop_map(Message::Have),
        1 => (0u32..PIECES + 2).prop_map(Message::Have),
        2 => (0u32..PIECES).prop_map(Message::AllowedFast),
        1 => (0u32..PIECES + 2).prop_map(Message::Suggest),
        1 => any::<u16>().prop_map(Message::Port),
        4 => any::<u8>().prop_map(|b| Message::Bitfield(Bytes::from(vec![b]))),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(|v| Message::Bitfield(Bytes::from(v))),
        4 => arb_req().prop_map(Message::Request),
        2 => arb_req().prop_map(Message::Cancel),
        1 => arb_req().prop_map(Message::Reject),
        1 => (arb_req(), any::<u8>()).prop_map(|(r, fill)| Message::Piece(Block {
            index: r.index,
            begin: r.begin,
            data: Bytes::from(vec![fill; (r.length as usize).min(20_000)]),
        })),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    let peer = 0u8..4;
    prop_oneof![
        2 => (peer.clone(), any::<bool>()).prop_map(|(peer, fast)| Op::Connect { peer, fast }),
        3 => (peer.clone(), any::<bool>(), any::<u8>())
            .prop_map(|(peer, fast, bits)| Op::Join { peer, fast, bits }),
        1 => peer.clone().prop_map(|peer| Op::Disconnect { peer }),
        8 => (peer.clone(), arb_msg()).prop_map(|(peer, msg)| Op::Msg { peer, msg }),
        12 => (peer.clone(), any::<u8>()).prop_map(|(peer, nth)| Op::Answer { peer, nth }),
        1 => (peer.clone(), any::<u8>()).prop_map(|(peer, nth)| Op::RejectOurs { peer, nth }),
        2 => (0u32..70_000).prop_map(|ms| Op::Advance { ms }),
        3 => (any::<u8>(), prop::bool::weighted(0.8), prop::option::of(0u8..3))
            .prop_map(|(nth, ok, block)| Op::Verdict { nth, ok, block }),
        2 => (peer.clone(), any::<u8>()).prop_map(|(peer, nth)| Op::Served { peer, nth }),
        1 => prop::collection::vec(0u8..9, 0..10).prop_map(Op::SetWanted),
        1 => any::<bool>().prop_map(Op::Sequential),
        1 => (peer, 0u32..5).prop_map(|(peer, n)| Op::Reqq { peer, n }),
    ]
}

/// A minimal I/O layer that checks what the swarm asks of it.
struct Harness {
    s: Swarm,
    now: Instant,
    /// Connection key per peer slot (a new key for each connection).
    keys: BTreeMap<u8, u64>,
    next_key: u64,
    fast: BTreeMap<u64, bool>,
    /// Requests we sent per key, as the peer saw them.
    sent_requests: BTreeMap<u64, Vec<BlockRequest>>,
    serves: BTreeMap<u64, Vec<BlockRequest>>,
    stored: BTreeMap<u32, BTreeSet<u32>>,
    verifying: BTreeSet<u32>,
    completed: u32,
}

impl Harness {
    fn new(have: Vec<bool>, budget: u64) -> Self {
        let now = Instant::now();
        let mut bits = Bitfield::new(PIECES);
        for (i, h) in have.into_iter().enumerate() {
            if h {
                bits.set(i as u32);
            }
        }
        let config = SwarmConfig {
            min_queue: 2,
            max_queue: 6,
            max_peer_upload_queue: 5,
            max_partial_bytes: budget,
            info_hash: Some(Sha1Hash([3; 20])),
            allowed_fast_count: 3,
            ban_after_strikes: 2,
            request_timeout: Duration::from_secs(20),
            snub_timeout: Duration::from_secs(45),
            ..SwarmConfig::default()
        };
        Harness {
            s: Swarm::new(geo(), bits, config, now),
            now,
            keys: BTreeMap::new(),
            next_key: 1,
            fast: BTreeMap::new(),
            sent_requests: BTreeMap::new(),
            serves: BTreeMap::new(),
            stored: BTreeMap::new(),
            verifying: BTreeSet::new(),
            completed: 0,
        }
    }

    fn drop_key(&mut self, key: u64) {
        self.keys.retain(|_, k| *k != key);
        self.sent_requests.remove(&key);
        self.serves.remove(&key);
        self.s.peer_disconnected(key, self.now);
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(a) = self.s.poll_action() {
            let live = |k: &u64| self.keys.values().any(|x| x == k);
            match a {
                Action::Send { peer, msg } => {
                    prop_assert!(live(&peer), "send to unknown peer {peer}");
                    match msg {
                        Message::Request(r) => {
                            let list = self.sent_requests.entry(peer).or_default();
                            prop_assert!(!list.contains(&r), "request sent twice");
                            list.push(r);
                        }
                        Message::Cancel(r) => {
                            if let Some(l) = self.sent_requests.get_mut(&peer) {
                                l.retain(|x| *x != r);
                            }
                        }
                        _ => {}
                    }
                }
                Action::StoreBlock { piece, begin, .. } => {
                    prop_assert!(!self.s.have().get(piece), "store for a verified piece");
                    prop_assert!(
                        self.stored.entry(piece).or_default().insert(begin),
                        "block {piece}:{begin} stored twice"
                    );
                }
                Action::VerifyPiece { piece } => {
                    let g = geo();
                    let n = self.stored.get(&piece).map_or(0, |s| s.len() as u32);
                    prop_assert_eq!(n, g.block_count(piece), "verify before all blocks stored");
                    prop_assert!(self.verifying.insert(piece), "verify twice");
                }
                Action::DiscardPiece { piece } => {
                    self.stored.remove(&piece);
                }
                Action::Serve { peer, req } => {
                    prop_assert!(live(&peer));
                    prop_assert!(self.s.have().get(req.index), "serve of a piece we lack");
                    self.serves.entry(peer).or_default().push(req);
                }
                Action::CancelServe { peer, req } => {
                    if let Some(l) = self.serves.get_mut(&peer) {
                        l.retain(|x| *x != req);
                    }
                }
                Action::Disconnect { peer, .. } | Action::Ban { peer, .. } if live(&peer) => {
                    self.drop_key(peer);
                }
                Action::Completed => {
                    prop_assert!(self.s.is_complete());
                    self.completed += 1;
                }
                _ => {}
            }
        }
        if let Err(e) = self.s.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
        let st = self.s.stats();
        prop_assert!(st.bytes_in_flight <= st.bytes_budget);
        for p in &st.per_peer {
            prop_assert!(p.serves_pending <= 5);
            prop_assert!(p.requests_outstanding <= 6);
        }
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let now = self.now;
        match op {
            Op::Connect { peer, fast } => {
                if !self.keys.contains_key(&peer) {
                    let key = self.next_key;
                    self.next_key += 1;
                    self.keys.insert(peer, key);
                    self.fast.insert(key, fast);
                    let caps = PeerCaps {
                        fast,
                        extended: false,
                        v2: false,
                        ip: IpAddr::V4(Ipv4Addr::new(10, 9, 0, peer)),
                        outgoing: false,
                    };
                    self.s.peer_connected(key, caps, now);
                }
            }
            Op::Join { peer, fast, bits } => {
                if !self.keys.contains_key(&peer) {
                    self.apply(Op::Connect { peer, fast })?;
                    let first = if fast && bits == 0xff {
                        Message::HaveAll
                    } else {
                        Message::Bitfield(Bytes::from(vec![bits]))
                    };
                    for msg in [first, Message::Unchoke, Message::Interested] {
                        self.apply(Op::Msg { peer, msg })?;
                    }
                }
            }
            Op::Disconnect { peer } => {
                if let Some(&key) = self.keys.get(&peer) {
                    self.drop_key(key);
                }
            }
            Op::Msg { peer, msg } => {
                if let Some(&key) = self.keys.get(&peer) {
                    if msg == Message::Choke && self.fast.get(&key) == Some(&false) {
                        // A peer without fast drops our requests when it chokes.
                        self.sent_requests.remove(&key);
                    }
                    if let (Message::Reject(r), Some(l)) = (&msg, self.sent_requests.get_mut(&key))
                    {
                        l.retain(|x| x != r);
                    }
                    if let Message::Piece(b) = &msg {
                        // It may answer one of our requests by chance.
                        let len = b.data.len() as u32;
                        if let Some(l) = self.sent_requests.get_mut(&key) {
                            l.retain(|r| (r.index, r.begin, r.length) != (b.index, b.begin, len));
                        }
                    }
                    self.s.peer_message(key, msg, now);
                }
            }
            Op::Answer { peer, nth } => {
                if let Some(&key) = self.keys.get(&peer) {
                    if let Some(list) = self.sent_requests.get_mut(&key) {
                        if !list.is_empty() {
                            let r = list.remove(nth as usize % list.len());
                            let data = Bytes::from(vec![r.index as u8; r.length as usize]);
                            let block = Block {
                                index: r.index,
                                begin: r.begin,
                                data,
                            };
                            self.s.peer_message(key, Message::Piece(block), now);
                        }
                    }
                }
            }
            Op::RejectOurs { peer, nth } => {
                if let Some(&key) = self.keys.get(&peer) {
                    if let Some(list) = self.sent_requests.get_mut(&key) {
                        if !list.is_empty() {
                            let r = list.remove(nth as usize % list.len());
                            self.s.peer_message(key, Message::Reject(r), now);
                        }
                    }
                }
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(ms));
                self.s.handle_timeout(self.now);
            }
            Op::Verdict { nth, ok, block } => {
                let piece = if self.verifying.is_empty() {
                    u32::from(nth) % (PIECES + 1)
                } else {
                    let v: Vec<u32> = self.verifying.iter().copied().collect();
                    v[nth as usize % v.len()]
                };
                let was_verifying = self.verifying.remove(&piece);
                let verdict = if ok {
                    Verdict::Ok
                } else {
                    Verdict::Bad {
                        bad_blocks: block.map(|b| vec![u32::from(b)]),
                    }
                };
                if was_verifying && !ok {
                    self.stored.remove(&piece);
                }
                self.s.piece_verified(piece, verdict, now);
                if was_verifying && ok {
                    prop_assert!(self.s.have().get(piece));
                }
            }
            Op::Served { peer, nth } => {
                if let Some(&key) = self.keys.get(&peer) {
                    if let Some(list) = self.serves.get_mut(&key) {
                        if !list.is_empty() {
                            let r = list.remove(nth as usize % list.len());
                            self.s.served(key, r, now);
                        }
                    }
                }
            }
            Op::SetWanted(p) => self.s.set_wanted(p),
            Op::Sequential(on) => self.s.set_sequential(on),
            Op::Reqq { peer, n } => {
                if let Some(&key) = self.keys.get(&peer) {
                    self.s.set_peer_reqq(key, n);
                }
            }
        }
        self.drain()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_events_keep_invariants(
        have in prop::collection::vec(prop::bool::weighted(0.3), PIECES as usize),
        budget in prop_oneof![Just(1u64), Just(3 * 2 * u64::from(BLOCK_SIZE)), Just(u64::MAX)],
        ops in prop::collection::vec(arb_op(), 1..120),
    ) {
        let mut h = Harness::new(have, budget);
        h.drain()?;
        for op in ops {
            h.apply(op)?;
        }
        prop_assert!(h.completed <= 8, "Completed emitted {} times", h.completed);
    }

    /// A well-behaved seed peer answering everything: the download always
    /// completes, whatever else happens.
    #[test]
    fn a_good_seed_always_finishes_the_download(
        ops in prop::collection::vec(arb_op(), 0..40),
        fast in any::<bool>(),
    ) {
        let mut h = Harness::new(vec![false; PIECES as usize], u64::MAX);
        for op in ops {
            // Keep peer slot 3 for the good seed.
            let touches_3 = matches!(
                &op,
                Op::Connect { peer: 3, .. } | Op::Join { peer: 3, .. } | Op::Disconnect { peer: 3 } | Op::Msg { peer: 3, .. }
                    | Op::Answer { peer: 3, .. } | Op::RejectOurs { peer: 3, .. }
                    | Op::Reqq { peer: 3, .. } | Op::SetWanted(_)
            );
            if !touches_3 {
                h.apply(op)?;
            }
        }
        h.apply(Op::Connect { peer: 3, fast })?;
        let first = if fast { Message::HaveAll } else { Message::Bitfield(Bytes::from_static(&[0xff])) };
        h.apply(Op::Msg { peer: 3, msg: first })?;
        h.apply(Op::Msg { peer: 3, msg: Message::Unchoke })?;
        for _ in 0..2000 {
            if h.s.is_complete() {
                break;
            }
            let Some(&key) = h.keys.get(&3) else { break };
            if h.sent_requests.get(&key).is_some_and(|l| !l.is_empty()) {
                h.apply(Op::Answer { peer: 3, nth: 0 })?;
            } else if !h.verifying.is_empty() {
                // Every verdict is good (the seed is honest); an earlier
                // random peer's data counts as good too.
                h.apply(Op::Verdict { nth: 0, ok: true, block: None })?;
            } else {
                h.apply(Op::Advance { ms: 30_000 })?;
            }
        }
        prop_assert!(h.s.is_complete(), "stuck: {:?}", h.s.stats());
    }
}
