//! A deterministic simulation of whole swarms: several [`Swarm`]s, an
//! in-memory network with per-link latency and bandwidth, a simulated clock,
//! and a simulated I/O layer (block buffers, verification against the known
//! content, serving from "disk").
//!
//! Time only moves when nothing is left to do at the current instant: the
//! loop jumps to the next message delivery, verification or swarm timer. No
//! test sleeps; every run has a deadline in simulated time.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use btl_swarm::{
    Action, Bitfield, DisconnectReason, Geometry, PeerCaps, PeerKey, Swarm, SwarmConfig, Verdict,
    BLOCK_SIZE,
};
use btl_wire::{Block, BlockRequest, Message};
use bytes::Bytes;

/// How a simulated node behaves.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: &'static str,
    /// Starts with every piece.
    pub seed: bool,
    /// Announces the fast extension.
    pub fast: bool,
    /// Serves corrupted blocks (flips bytes).
    pub corrupt: bool,
    /// After serving this many blocks, stops sending blocks (but stays
    /// connected and keeps talking otherwise).
    pub stall_after: Option<u64>,
    /// Per-piece priorities, if any.
    pub priorities: Option<Vec<u8>>,
    pub sequential: bool,
    /// Its verification reports which blocks are bad (like a v2 Merkle
    /// check).
    pub block_verdicts: bool,
    pub config: SwarmConfig,
}

impl NodeSpec {
    pub fn new(name: &'static str, seed: bool) -> Self {
        NodeSpec {
            name,
            seed,
            fast: true,
            corrupt: false,
            stall_after: None,
            priorities: None,
            sequential: false,
            block_verdicts: false,
            config: SwarmConfig::default(),
        }
    }
}

/// Counters the harness keeps per node.
#[derive(Clone, Debug, Default)]
pub struct NodeLog {
    pub completed: Vec<Instant>,
    pub sent: BTreeMap<&'static str, u64>,
    /// Pieces in the order their first request was sent.
    pub request_order: Vec<u32>,
    /// Pieces in the order they were verified good.
    pub verified: Vec<u32>,
    pub failed: Vec<u32>,
    pub bans: Vec<(IpAddr, String)>,
    pub disconnects: Vec<(PeerKey, DisconnectReason)>,
    pub served_blocks: u64,
    pub stored_blocks: u64,
    pub max_serves_pending: u32,
    pub max_bytes_in_flight: u64,
    /// Keys of peers seen snubbed.
    pub snubbed: BTreeSet<PeerKey>,
}

pub struct Node {
    pub spec: NodeSpec,
    pub swarm: Swarm,
    pub ip: IpAddr,
    /// Verified pieces on "disk".
    pub disk: Vec<Option<Bytes>>,
    /// Pieces being assembled: begin -> data.
    pub buffers: BTreeMap<u32, BTreeMap<u32, Bytes>>,
    /// Our key for a peer -> link index.
    pub links: BTreeMap<PeerKey, usize>,
    pub log: NodeLog,
    pub requested_pieces: BTreeSet<u32>,
    /// Serves waiting for the uplink, per peer (the I/O layer's queue).
    pub upload: BTreeMap<PeerKey, VecDeque<BlockRequest>>,
    /// Peers with a pump event scheduled.
    pub pumping: BTreeSet<PeerKey>,
}

pub struct Link {
    /// (node, that node's key for the other side) for both ends.
    pub ends: [(usize, PeerKey); 2],
    pub latency: Duration,
    /// Bytes per second in each direction.
    pub bandwidth: u64,
    /// When each direction's wire is free again (0: from ends[0]).
    pub free_at: [Instant; 2],
    pub up: bool,
}

#[derive(Debug)]
enum Event {
    Deliver {
        link: usize,
        to_end: usize,
        msg: Message,
    },
    Verdict {
        node: usize,
        piece: u32,
        verdict: Verdict,
    },
    /// The uplink to `key` is free: send the next queued serve.
    Pump { node: usize, key: PeerKey },
}

pub struct Sim {
    pub t0: Instant,
    pub now: Instant,
    pub geometry: Geometry,
    pub content: Vec<Bytes>,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    events: BTreeMap<(Instant, u64), Event>,
    seq: u64,
    next_key: PeerKey,
    /// Check every swarm's invariants after each step.
    pub check: bool,
    pub hash_delay: Duration,
    steps: u64,
}

/// Deterministic content: piece `i` is a keyed byte pattern.
pub fn make_content(g: &Geometry) -> Vec<Bytes> {
    let mut x: u64 = 0x1234_5678_9abc_def0;
    (0..g.piece_count)
        .map(|i| {
            let len = g.piece_len(i) as usize;
            let mut v = Vec::with_capacity(len);
            while v.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.truncate(len);
            Bytes::from(v)
        })
        .collect()
}

impl Sim {
    pub fn new(geometry: Geometry, specs: Vec<NodeSpec>) -> Self {
        let t0 = Instant::now();
        let content = make_content(&geometry);
        let n = geometry.piece_count;
        let nodes = specs
            .into_iter()
            .enumerate()
            .map(|(idx, spec)| {
                let have = if spec.seed {
                    Bitfield::full(n)
                } else {
                    Bitfield::new(n)
                };
                let mut config = spec.config.clone();
                // SIM_SEED varies every node's seed (default 0: the runs the
                // assertions were written against).
                let base: u64 = std::env::var("SIM_SEED")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                config.rng_seed = config
                    .rng_seed
                    .wrapping_add(base.wrapping_mul(0x9e37_79b9))
                    .wrapping_add(idx as u64 * 7919);
                let mut swarm = Swarm::new(geometry.clone(), have, config, t0);
                if let Some(p) = &spec.priorities {
                    swarm.set_wanted(p.clone());
                }
                swarm.set_sequential(spec.sequential);
                let disk = (0..n)
                    .map(|i| spec.seed.then(|| content[i as usize].clone()))
                    .collect();
                Node {
                    ip: IpAddr::V4(Ipv4Addr::new(10, 0, idx as u8, 1)),
                    spec,
                    swarm,
                    disk,
                    buffers: BTreeMap::new(),
                    links: BTreeMap::new(),
                    log: NodeLog::default(),
                    requested_pieces: BTreeSet::new(),
                    upload: BTreeMap::new(),
                    pumping: BTreeSet::new(),
                }
            })
            .collect();
        Sim {
            t0,
            now: t0,
            geometry,
            content,
            nodes,
            links: Vec::new(),
            events: BTreeMap::new(),
            seq: 0,
            next_key: 1,
            check: true,
            hash_delay: Duration::from_millis(2),
            steps: 0,
        }
    }

    /// Connects two nodes with a link of this latency and bandwidth.
    pub fn connect(&mut self, a: usize, b: usize, latency: Duration, bandwidth: u64) {
        let ka = self.next_key;
        let kb = self.next_key + 1;
        self.next_key += 2;
        let link = self.links.len();
        self.links.push(Link {
            ends: [(a, ka), (b, kb)],
            latency,
            bandwidth,
            free_at: [self.now; 2],
            up: true,
        });
        self.nodes[a].links.insert(ka, link);
        self.nodes[b].links.insert(kb, link);
        let fast = self.nodes[a].spec.fast && self.nodes[b].spec.fast;
        let caps = |ip, outgoing| PeerCaps {
            fast,
            extended: true,
            v2: false,
            ip,
            outgoing,
        };
        let (ipa, ipb) = (self.nodes[a].ip, self.nodes[b].ip);
        let now = self.now;
        self.nodes[a].swarm.peer_connected(ka, caps(ipb, true), now);
        self.nodes[b]
            .swarm
            .peer_connected(kb, caps(ipa, false), now);
    }

    /// Connects every pair of nodes.
    pub fn mesh(&mut self, latency: Duration, bandwidth: u64) {
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                self.connect(a, b, latency, bandwidth);
            }
        }
    }

    fn schedule(&mut self, at: Instant, e: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), e);
    }

    fn send(&mut self, node: usize, key: PeerKey, msg: Message) {
        let Some(&li) = self.nodes[node].links.get(&key) else {
            return;
        };
        let name = msg_name(&msg);
        *self.nodes[node].log.sent.entry(name).or_default() += 1;
        if let Message::Request(r) = &msg {
            if self.nodes[node].requested_pieces.insert(r.index) {
                self.nodes[node].log.request_order.push(r.index);
            }
        }
        let link = &mut self.links[li];
        if !link.up {
            return;
        }
        let dir = if link.ends[0].0 == node { 0 } else { 1 };
        let size = msg.encoded_len() as u64;
        let start = link.free_at[dir].max(self.now);
        let tx = Duration::from_nanos(size.saturating_mul(1_000_000_000) / link.bandwidth.max(1));
        link.free_at[dir] = start + tx;
        let at = link.free_at[dir] + link.latency;
        self.schedule(
            at,
            Event::Deliver {
                link: li,
                to_end: 1 - dir,
                msg,
            },
        );
    }

    /// Makes node `n` send `msg` to its peer `key` (a misbehaving node).
    pub fn inject(&mut self, n: usize, key: PeerKey, msg: Message) {
        self.send(n, key, msg);
    }

    /// When node `n`'s uplink to `key` is free.
    fn uplink_free(&self, n: usize, key: PeerKey) -> Instant {
        let Some(&li) = self.nodes[n].links.get(&key) else {
            return self.now;
        };
        let link = &self.links[li];
        let dir = if link.ends[0].0 == n { 0 } else { 1 };
        link.free_at[dir].max(self.now)
    }

    /// Sends the next queued serve of node `n` to `key`.
    fn pump(&mut self, n: usize, key: PeerKey) {
        let now = self.now;
        let Some(req) = self.nodes[n]
            .upload
            .get_mut(&key)
            .and_then(|q| q.pop_front())
        else {
            self.nodes[n].pumping.remove(&key);
            return;
        };
        let node = &mut self.nodes[n];
        let stalled = node
            .spec
            .stall_after
            .is_some_and(|s| node.log.served_blocks >= s);
        if !stalled && node.links.contains_key(&key) {
            node.log.served_blocks += 1;
            let data = node.disk[req.index as usize].clone().unwrap_or_default();
            let start = req.begin as usize;
            let end = start + req.length as usize;
            assert!(end <= data.len(), "serve out of bounds");
            let mut block = data.slice(start..end);
            if node.spec.corrupt {
                let mut v = block.to_vec();
                for b in v.iter_mut().step_by(97) {
                    *b ^= 0x5a;
                }
                block = Bytes::from(v);
            }
            self.send(
                n,
                key,
                Message::Piece(Block {
                    index: req.index,
                    begin: req.begin,
                    data: block,
                }),
            );
            self.nodes[n].swarm.served(key, req, now);
        }
        // A stalled node never sends it and never calls `served`.
        let at = self.uplink_free(n, key);
        self.schedule(at, Event::Pump { node: n, key });
    }

    fn close(&mut self, li: usize) {
        let link = &mut self.links[li];
        if !link.up {
            return;
        }
        link.up = false;
        let ends = link.ends;
        let now = self.now;
        for (node, key) in ends {
            self.nodes[node].links.remove(&key);
            self.nodes[node].upload.remove(&key);
            self.nodes[node].swarm.peer_disconnected(key, now);
        }
    }

    /// Carries out every pending action of every node until none is left.
    pub fn drain(&mut self) {
        loop {
            let mut any = false;
            for n in 0..self.nodes.len() {
                while let Some(a) = self.nodes[n].swarm.poll_action() {
                    any = true;
                    self.act(n, a);
                }
            }
            if !any {
                break;
            }
        }
    }

    fn act(&mut self, n: usize, a: Action) {
        let now = self.now;
        match a {
            Action::Send { peer, msg } => self.send(n, peer, msg),
            Action::StoreBlock {
                peer: _,
                piece,
                begin,
                data,
            } => {
                let node = &mut self.nodes[n];
                assert!(
                    node.disk[piece as usize].is_none(),
                    "{}: block stored for verified piece {piece}",
                    node.spec.name
                );
                let buf = node.buffers.entry(piece).or_default();
                assert!(
                    buf.insert(begin, data).is_none(),
                    "{}: block {piece}:{begin} stored twice",
                    node.spec.name
                );
                node.log.stored_blocks += 1;
            }
            Action::VerifyPiece { piece } => {
                let node = &self.nodes[n];
                let buf = node.buffers.get(&piece).cloned().unwrap_or_default();
                let truth = &self.content[piece as usize];
                let mut assembled = Vec::new();
                for (begin, data) in &buf {
                    assert_eq!(*begin as usize, assembled.len(), "gap in piece {piece}");
                    assembled.extend_from_slice(data);
                }
                assert_eq!(assembled.len(), truth.len(), "piece {piece} incomplete");
                let verdict = if assembled == truth[..] {
                    Verdict::Ok
                } else if node.spec.block_verdicts {
                    let bad = buf
                        .iter()
                        .filter(|(b, d)| {
                            let b = **b as usize;
                            truth[b..b + d.len()] != d[..]
                        })
                        .map(|(b, _)| b / BLOCK_SIZE)
                        .collect();
                    Verdict::Bad {
                        bad_blocks: Some(bad),
                    }
                } else {
                    Verdict::Bad { bad_blocks: None }
                };
                self.schedule(
                    now + self.hash_delay,
                    Event::Verdict {
                        node: n,
                        piece,
                        verdict,
                    },
                );
            }
            Action::DiscardPiece { piece } => {
                self.nodes[n].buffers.remove(&piece);
            }
            Action::Serve { peer, req } => {
                let node = &mut self.nodes[n];
                assert!(
                    node.disk[req.index as usize].is_some(),
                    "{}: serve of missing piece",
                    node.spec.name
                );
                let pending = node.upload.entry(peer).or_default().len() as u32 + 1;
                node.log.max_serves_pending = node.log.max_serves_pending.max(pending);
                node.upload.entry(peer).or_default().push_back(req);
                if node.pumping.insert(peer) {
                    let at = self.uplink_free(n, peer);
                    self.schedule(at, Event::Pump { node: n, key: peer });
                }
            }
            Action::CancelServe { peer, req } => {
                if let Some(q) = self.nodes[n].upload.get_mut(&peer) {
                    q.retain(|r| *r != req);
                }
            }
            Action::Disconnect { peer, reason } => {
                self.nodes[n].log.disconnects.push((peer, reason));
                if let Some(&li) = self.nodes[n].links.get(&peer) {
                    self.close(li);
                }
            }
            Action::Ban { peer, ip, reason } => {
                self.nodes[n].log.bans.push((ip, reason));
                if let Some(&li) = self.nodes[n].links.get(&peer) {
                    self.close(li);
                }
            }
            Action::Completed => self.nodes[n].log.completed.push(now),
            other => panic!("unexpected action {other:?}"),
        }
    }

    fn observe(&mut self) {
        self.steps += 1;
        if !self.check && !self.steps.is_multiple_of(64) {
            return;
        }
        for node in &mut self.nodes {
            let st = node.swarm.stats();
            node.log.max_bytes_in_flight = node.log.max_bytes_in_flight.max(st.bytes_in_flight);
            for p in &st.per_peer {
                node.log.max_serves_pending = node.log.max_serves_pending.max(p.serves_pending);
                if p.snubbed {
                    node.log.snubbed.insert(p.key);
                }
            }
            if self.check {
                if let Err(e) = node.swarm.check_invariants() {
                    panic!("{}: invariant broken: {e}", node.spec.name);
                }
            }
        }
    }

    /// Runs until `done` holds (true) or the simulated deadline passes
    /// (false).
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.t0 + limit;
        loop {
            self.drain();
            self.observe();
            if done(self) {
                return true;
            }
            let next_event = self.events.keys().next().map(|k| k.0);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.swarm.poll_timeout())
                .min();
            let Some(next) = [next_event, next_timer].into_iter().flatten().min() else {
                return false;
            };
            if next > deadline {
                return false;
            }
            self.now = self.now.max(next);
            let now = self.now;
            while let Some(entry) = self.events.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let e = entry.remove();
                match e {
                    Event::Deliver { link, to_end, msg } => {
                        let l = &self.links[link];
                        if l.up {
                            let (node, key) = l.ends[to_end];
                            self.nodes[node].swarm.peer_message(key, msg, now);
                        }
                    }
                    Event::Verdict {
                        node,
                        piece,
                        verdict,
                    } => {
                        let nd = &mut self.nodes[node];
                        if verdict == Verdict::Ok {
                            nd.disk[piece as usize] = nd.buffers.remove(&piece).map(|b| {
                                let mut v = Vec::new();
                                for d in b.values() {
                                    v.extend_from_slice(d);
                                }
                                Bytes::from(v)
                            });
                            nd.log.verified.push(piece);
                        } else {
                            nd.log.failed.push(piece);
                        }
                        nd.swarm.piece_verified(piece, verdict, now);
                    }
                    Event::Pump { node, key } => self.pump(node, key),
                }
                self.drain();
            }
            for n in 0..self.nodes.len() {
                if self.nodes[n].swarm.poll_timeout().is_some_and(|t| t <= now) {
                    self.nodes[n].swarm.handle_timeout(now);
                }
            }
        }
    }

    /// Whether these nodes hold every wanted piece, all correct.
    pub fn complete(&self, nodes: &[usize]) -> bool {
        nodes.iter().all(|&n| self.nodes[n].swarm.is_complete())
    }

    /// Asserts that everything node `n` has on disk is the true content,
    /// and that it has every piece whose priority is non-zero.
    pub fn assert_correct(&self, n: usize) {
        let node = &self.nodes[n];
        for (i, d) in node.disk.iter().enumerate() {
            let wanted = node
                .spec
                .priorities
                .as_ref()
                .is_none_or(|p| p.get(i).is_some_and(|&x| x > 0));
            match d {
                Some(d) => assert_eq!(d, &self.content[i], "{}: piece {i} wrong", node.spec.name),
                None => assert!(!wanted, "{}: wanted piece {i} missing", node.spec.name),
            }
            assert_eq!(node.swarm.have().get(i as u32), d.is_some());
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

pub fn msg_name(m: &Message) -> &'static str {
    match m {
        Message::KeepAlive => "keepalive",
        Message::Choke => "choke",
        Message::Unchoke => "unchoke",
        Message::Interested => "interested",
        Message::NotInterested => "not_interested",
        Message::Have(_) => "have",
        Message::Bitfield(_) => "bitfield",
        Message::Request(_) => "request",
        Message::Piece(_) => "piece",
        Message::Cancel(_) => "cancel",
        Message::Reject(_) => "reject",
        Message::HaveAll => "have_all",
        Message::HaveNone => "have_none",
        Message::AllowedFast(_) => "allowed_fast",
        _ => "other",
    }
}

/// A request for block `b` of piece `i` in geometry `g`.
pub fn block_req(g: &Geometry, i: u32, b: u32) -> BlockRequest {
    let (begin, length) = g.block(i, b).unwrap_or((0, 0));
    BlockRequest {
        index: i,
        begin,
        length,
    }
}
