//! The [`Swarm`] state machine: event entry points, peer bookkeeping,
//! timers, statistics and the invariant check.
//!
//! The download side (requests, blocks, verdicts, snubbing) is in
//! `download.rs`, the upload side (serving, choking) in `upload.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use btl_wire::{allowed_fast_set, BlockRequest, Message};

use crate::peer::{Peer, MAX_ALLOWED_FAST_IN};
use crate::picker::Picker;
use crate::rng::Rng;
use crate::{
    Action, Bitfield, DisconnectReason, Geometry, PeerCaps, PeerKey, PeerStats, SwarmConfig,
    SwarmStats, Verdict,
};

/// One torrent's peer engine, without I/O. See the crate docs.
#[derive(Debug)]
pub struct Swarm {
    pub(crate) config: SwarmConfig,
    pub(crate) picker: Picker,
    pub(crate) peers: BTreeMap<PeerKey, Peer>,
    pub(crate) actions: VecDeque<Action>,
    /// Choker tie-breaks (the picker has its own stream).
    pub(crate) rng: Rng,
    pub(crate) next_choke: Instant,
    pub(crate) next_optimistic: Instant,
    /// Hash failures per IP (kept across reconnections).
    pub(crate) strikes: BTreeMap<IpAddr, u32>,
    pub(crate) banned: BTreeSet<IpAddr>,
    /// IPs involved in a hash failure: they download whole pieces alone.
    pub(crate) parole: BTreeSet<IpAddr>,
    /// `Completed` was emitted and nothing became missing since.
    pub(crate) completed_emitted: bool,
    /// Peers whose request queue should be topped up.
    pub(crate) dirty: BTreeSet<PeerKey>,
    /// Top up every peer (blocks were freed).
    pub(crate) refill_all: bool,
    /// The latest time passed in.
    pub(crate) now: Instant,
    pub(crate) downloaded: u64,
    pub(crate) uploaded: u64,
    pub(crate) wasted: u64,
    pub(crate) failed: u64,
}

impl Swarm {
    /// A swarm for a torrent with this layout and these verified pieces
    /// (`have` is resized to the piece count if it differs). Every piece is
    /// wanted at priority 4 until [`Swarm::set_wanted`].
    pub fn new(geometry: Geometry, have: Bitfield, config: SwarmConfig, now: Instant) -> Self {
        let picker = Picker::new(
            geometry,
            have,
            config.max_partial_bytes,
            config.endgame_max_requesters,
            config.rng_seed,
        );
        let completed_emitted = picker.wanted_missing() == 0;
        Swarm {
            rng: Rng::new(config.rng_seed ^ 0x5eed_c40c_e5ee_d000),
            next_choke: now + config.choke_interval,
            next_optimistic: now + config.optimistic_interval,
            config,
            picker,
            peers: BTreeMap::new(),
            actions: VecDeque::new(),
            strikes: BTreeMap::new(),
            banned: BTreeSet::new(),
            parole: BTreeSet::new(),
            completed_emitted,
            dirty: BTreeSet::new(),
            refill_all: false,
            now,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            failed: 0,
        }
    }

    /// Sets piece priorities: one byte per piece, 0 = skip, 1..=7 = higher
    /// first (values above 7 count as 7; missing entries as 0). Pieces in
    /// progress that become unwanted are abandoned (requests cancelled,
    /// buffer discarded). May emit `Completed` if nothing wanted is missing.
    pub fn set_wanted(&mut self, priorities: Vec<u8>) {
        let abandoned = self.picker.set_priorities(&priorities);
        for piece in abandoned {
            self.abandon_piece(piece);
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let count = match self.peers.get(&key) {
                Some(p) => p
                    .has
                    .iter_ones()
                    .filter(|&i| self.picker.is_wanted(i))
                    .count() as u32,
                None => continue,
            };
            if let Some(p) = self.peers.get_mut(&key) {
                p.interesting = count;
            }
            self.update_interest(key);
        }
        self.check_completed();
        self.refill_all = true;
    }

    /// Sequential (streaming) mode: new pieces are picked lowest index first
    /// (after priority) instead of rarest first, partial pieces are finished
    /// lowest index first, and idle peers double up on the urgent window
    /// ([`SwarmConfig::sequential_window`]).
    pub fn set_sequential(&mut self, on: bool) {
        self.picker
            .set_sequential(on, self.config.sequential_window);
    }

    /// The peer's BEP 10 `reqq` (how many requests it queues): our request
    /// queue to it never grows beyond.
    pub fn set_peer_reqq(&mut self, peer: PeerKey, reqq: u32) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.reqq = Some(reqq);
        }
    }

    /// A connection finished its handshakes. The swarm first sends our
    /// pieces (`Bitfield`, or `HaveAll`/`HaveNone` with the fast extension)
    /// and the allowed-fast pieces we grant. A peer from a banned IP is
    /// disconnected at once; a key already known is ignored.
    pub fn peer_connected(&mut self, peer: PeerKey, caps: PeerCaps, now: Instant) {
        self.now = self.now.max(now);
        if self.peers.contains_key(&peer) {
            return;
        }
        if self.banned.contains(&caps.ip) {
            self.push(Action::Disconnect {
                peer,
                reason: DisconnectReason::Banned,
            });
            return;
        }
        let count = self.picker.geometry().piece_count;
        let mut p = Peer::new(peer, caps, count, now);
        let have = self.picker.have();
        let first = if caps.fast && have.none() {
            Some(Message::HaveNone)
        } else if caps.fast && have.all() {
            Some(Message::HaveAll)
        } else if !have.none() {
            Some(Message::Bitfield(have.as_bytes().to_vec().into()))
        } else {
            None
        };
        if let Some(msg) = first {
            self.push(Action::Send { peer, msg });
        }
        if let (true, Some(ih)) = (caps.fast, self.config.info_hash) {
            let k = self
                .config
                .allowed_fast_count
                .min(MAX_ALLOWED_FAST_IN as u32) as usize;
            p.allowed_fast_out = allowed_fast_set(&ih, caps.ip, count, k);
            for &i in &p.allowed_fast_out {
                if self.picker.have().get(i) {
                    self.actions.push_back(Action::Send {
                        peer,
                        msg: Message::AllowedFast(i),
                    });
                }
            }
        }
        self.peers.insert(peer, p);
    }

    /// A message from a peer: every message except extended and BEP 52 hash
    /// messages, which the I/O layer handles (they are ignored here).
    /// Protocol violations disconnect the peer; nothing panics.
    pub fn peer_message(&mut self, peer: PeerKey, msg: Message, now: Instant) {
        self.now = self.now.max(now);
        if !self.peers.contains_key(&peer) {
            return;
        }
        if let Err(reason) = self.dispatch(peer, msg, now) {
            self.drop_peer(peer, Some(reason));
        }
        self.refill(now);
    }

    fn dispatch(
        &mut self,
        key: PeerKey,
        msg: Message,
        now: Instant,
    ) -> Result<(), DisconnectReason> {
        let count = self.picker.geometry().piece_count;
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let fast = p.caps.fast;
        let first = !p.got_message;
        let counts = !matches!(
            msg,
            Message::KeepAlive
                | Message::Port(_)
                | Message::Extended { .. }
                | Message::HashRequest(_)
                | Message::Hashes(_)
                | Message::HashReject(_)
        );
        if counts {
            p.got_message = true;
        }
        let need_fast = |what: &str| {
            if fast {
                Ok(())
            } else {
                Err(DisconnectReason::protocol(format!(
                    "{what} without the fast extension"
                )))
            }
        };
        let in_range = |i: u32, what: &str| {
            if i < count {
                Ok(())
            } else {
                Err(DisconnectReason::protocol(format!(
                    "{what} for piece {i} of {count}"
                )))
            }
        };
        match msg {
            Message::Choke => self.on_choke(key),
            Message::Unchoke => {
                p.peer_choking = false;
                p.rejected.clear();
                self.dirty.insert(key);
            }
            Message::Interested => {
                p.peer_interested = true;
                self.on_interested(key, now);
            }
            Message::NotInterested => p.peer_interested = false,
            Message::Have(i) => {
                in_range(i, "have")?;
                self.on_have(key, i)?;
            }
            Message::Bitfield(bytes) => {
                let has = Bitfield::from_bytes(&bytes, count)
                    .map_err(|e| DisconnectReason::protocol(format!("bad bitfield: {e}")))?;
                if first {
                    self.set_peer_pieces(key, has)?;
                } else {
                    // BEP 3 allows a bitfield only first, but aria2 sends one
                    // later (after `have none`) instead of `have`s. Pieces
                    // cannot be lost, so read it as a `have` for each bit.
                    for i in has.iter_ones() {
                        self.on_have(key, i)?;
                    }
                }
            }
            Message::HaveAll | Message::HaveNone => {
                need_fast("have all/none")?;
                let all = matches!(msg, Message::HaveAll);
                if first {
                    if all {
                        self.set_peer_pieces(key, Bitfield::full(count))?;
                    }
                } else if all {
                    // Late, like aria2's late bitfield: add every piece.
                    for i in 0..count {
                        self.on_have(key, i)?;
                    }
                }
                // A late `have none` tells nothing new.
            }
            Message::Request(r) => self.on_request(key, r)?,
            Message::Piece(block) => {
                in_range(block.index, "piece")?;
                self.on_piece(key, block, now)?;
            }
            Message::Cancel(r) => self.on_cancel(key, r),
            Message::Reject(r) => {
                need_fast("reject")?;
                self.on_reject(key, r);
            }
            Message::AllowedFast(i) => {
                need_fast("allowed fast")?;
                in_range(i, "allowed fast")?;
                if !p.allowed_fast_in.contains(&i) && p.allowed_fast_in.len() < MAX_ALLOWED_FAST_IN
                {
                    p.allowed_fast_in.push(i);
                    self.dirty.insert(key);
                }
            }
            Message::Suggest(i) => {
                need_fast("suggest")?;
                in_range(i, "suggest")?;
            }
            // Keep-alive, port, extended and hash messages: nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Records the peer's initial pieces (bitfield or have-all).
    fn set_peer_pieces(&mut self, key: PeerKey, has: Bitfield) -> Result<(), DisconnectReason> {
        let interesting = has
            .iter_ones()
            .filter(|&i| self.picker.is_wanted(i))
            .count() as u32;
        self.picker.add_bitfield(&has);
        let both_seeds = has.all() && self.picker.have().all();
        if let Some(p) = self.peers.get_mut(&key) {
            // Only ever called as the first message, so `has` was empty.
            p.has = has;
            p.interesting = interesting;
        }
        if both_seeds {
            return Err(DisconnectReason::BothSeeds);
        }
        self.update_interest(key);
        self.dirty.insert(key);
        Ok(())
    }

    fn on_have(&mut self, key: PeerKey, i: u32) -> Result<(), DisconnectReason> {
        let wanted = self.picker.is_wanted(i);
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        if !p.has.set(i) {
            return Ok(());
        }
        if wanted {
            p.interesting += 1;
        }
        let seed = p.is_seed();
        self.picker.inc(i);
        if seed && self.picker.have().all() {
            return Err(DisconnectReason::BothSeeds);
        }
        self.update_interest(key);
        self.dirty.insert(key);
        Ok(())
    }

    /// Sends Interested / NotInterested if our interest in the peer changed.
    pub(crate) fn update_interest(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let want = p.interesting > 0;
        if want != p.am_interested {
            p.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.actions.push_back(Action::Send { peer: key, msg });
        }
    }

    /// A connection closed. Its outstanding requests go back to the picker.
    /// Unknown keys (e.g. after our own `Disconnect`) are ignored.
    pub fn peer_disconnected(&mut self, peer: PeerKey, now: Instant) {
        self.now = self.now.max(now);
        self.drop_peer(peer, None);
        self.refill(now);
    }

    /// Forgets a peer: releases its requests and availability; emits
    /// `Disconnect` if a reason is given.
    pub(crate) fn drop_peer(&mut self, key: PeerKey, reason: Option<DisconnectReason>) {
        let Some(p) = self.peers.remove(&key) else {
            return;
        };
        for r in &p.requests {
            self.picker.release(r.piece, r.block, key);
        }
        self.picker.remove_bitfield(&p.has);
        self.picker.clear_owner(key);
        self.dirty.remove(&key);
        self.refill_all = true;
        if let Some(reason) = reason {
            self.push(Action::Disconnect { peer: key, reason });
        }
    }

    /// The verdict on a piece after `VerifyPiece`. Stale verdicts (for a
    /// piece not awaiting one) are ignored.
    pub fn piece_verified(&mut self, piece: u32, verdict: Verdict, now: Instant) {
        self.now = self.now.max(now);
        match verdict {
            Verdict::Ok => self.on_verified_ok(piece),
            Verdict::Bad { bad_blocks } => self.on_verified_bad(piece, bad_blocks),
        }
        self.refill(now);
    }

    /// A `Serve` was sent: counts the upload (for the choker and stats).
    pub fn served(&mut self, peer: PeerKey, req: BlockRequest, now: Instant) {
        self.now = self.now.max(now);
        self.uploaded = self.uploaded.saturating_add(u64::from(req.length));
        if let Some(p) = self.peers.get_mut(&peer) {
            if let Some(i) = p.serves.iter().position(|s| *s == req) {
                p.serves.remove(i);
            }
            p.up.add(u64::from(req.length), now);
            p.flood_excess = p.flood_excess.saturating_sub(1);
        }
    }

    /// Runs the timers that are due: choke rounds, optimistic rotation,
    /// request timeouts and snubbing. Call it at [`Swarm::poll_timeout`]
    /// (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let optimistic = now >= self.next_optimistic;
        if optimistic {
            self.next_optimistic = now + self.config.optimistic_interval;
        }
        if now >= self.next_choke || optimistic {
            self.next_choke = now + self.config.choke_interval;
            self.choke_round(now, optimistic);
        }
        self.check_requests(now);
        self.refill(now);
    }

    /// When [`Swarm::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_choke.min(self.next_optimistic);
        for p in self.peers.values() {
            // Requests are appended as they are sent: the first is the oldest.
            if let Some(oldest) = p.requests.first().map(|r| r.sent) {
                t = t.min(oldest + self.config.request_timeout);
                if !p.snubbed {
                    t = t.min(p.waiting_since + self.config.snub_timeout);
                }
            }
        }
        Some(t)
    }

    /// The next effect to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn push(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    /// The verified pieces.
    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// Whether every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.wanted_missing() == 0
    }

    /// Whether the picker is in end game (no wanted piece left unstarted).
    pub fn is_endgame(&self) -> bool {
        self.picker.is_endgame()
    }

    /// Whether this IP is banned for the torrent.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.banned.contains(&ip)
    }

    /// The connected peers' keys, in order.
    pub fn peer_keys(&self) -> impl Iterator<Item = PeerKey> + '_ {
        self.peers.keys().copied()
    }

    /// The torrent layout.
    pub fn geometry(&self) -> &Geometry {
        self.picker.geometry()
    }

    /// A snapshot of counters, rates and peers. Rates are evaluated at the
    /// latest time the swarm was given; [`Swarm::stats_at`] takes a time.
    pub fn stats(&self) -> SwarmStats {
        self.stats_at(self.now)
    }

    /// [`Swarm::stats`] with rates evaluated at `now`.
    pub fn stats_at(&self, now: Instant) -> SwarmStats {
        let per_peer: Vec<PeerStats> = self
            .peers
            .values()
            .map(|p| self.peer_snapshot(p, now))
            .collect();
        SwarmStats {
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            wasted: self.wasted,
            failed: self.failed,
            download_rate: per_peer.iter().map(|p| p.download_rate).sum(),
            upload_rate: per_peer.iter().map(|p| p.upload_rate).sum(),
            peers: per_peer.len(),
            interested: per_peer.iter().filter(|p| p.peer_interested).count(),
            interesting: per_peer.iter().filter(|p| p.am_interested).count(),
            unchoked: per_peer.iter().filter(|p| !p.am_choking).count(),
            unchoking_us: per_peer.iter().filter(|p| !p.peer_choking).count(),
            pieces_have: self.picker.have().count_ones(),
            pieces_wanted: self.picker.wanted_count(),
            pieces_missing: self.picker.wanted_missing(),
            pieces_in_flight: self.picker.partial_count() as u32,
            bytes_in_flight: self.picker.bytes_in_flight(),
            bytes_budget: self.picker.budget(),
            requests_outstanding: per_peer.iter().map(|p| p.requests_outstanding).sum(),
            endgame: self.picker.is_endgame(),
            per_peer,
        }
    }

    /// One peer's snapshot, `None` if not connected.
    pub fn peer_stats(&self, peer: PeerKey) -> Option<PeerStats> {
        self.peers
            .get(&peer)
            .map(|p| self.peer_snapshot(p, self.now))
    }

    fn peer_snapshot(&self, p: &Peer, now: Instant) -> PeerStats {
        PeerStats {
            key: p.key,
            ip: p.caps.ip,
            am_choking: p.am_choking,
            am_interested: p.am_interested,
            peer_choking: p.peer_choking,
            peer_interested: p.peer_interested,
            optimistic: p.optimistic,
            snubbed: p.snubbed,
            download_rate: p.down.rate_at(now) as u64,
            upload_rate: p.up.rate_at(now) as u64,
            downloaded: p.down.total(),
            uploaded: p.up.total(),
            requests_outstanding: p.requests.len() as u32,
            queue_depth: p.queue_depth(&self.config, now),
            serves_pending: p.serves.len() as u32,
            pieces: p.has.count_ones(),
            parole: self.parole.contains(&p.caps.ip),
            strikes: self.strikes.get(&p.caps.ip).copied().unwrap_or(0),
        }
    }

    /// Checks the invariants of the crate docs; `Err` says which one broke.
    /// Meant for tests and debug assertions (it is O(peers × pieces)).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.picker.check()?;
        let geo = self.picker.geometry();
        let count = geo.piece_count;
        let mut avail = vec![0u32; count as usize];
        for p in self.peers.values() {
            let k = p.key;
            for i in p.has.iter_ones() {
                if let Some(a) = avail.get_mut(i as usize) {
                    *a += 1;
                }
            }
            if p.requests.len() as u32 > self.config.max_queue.max(1) {
                return Err(format!(
                    "peer {k}: {} requests outstanding",
                    p.requests.len()
                ));
            }
            if p.requests.windows(2).any(|w| w[0].sent > w[1].sent) {
                return Err(format!("peer {k}: requests out of time order"));
            }
            for r in &p.requests {
                if !p.has.get(r.piece) {
                    return Err(format!("peer {k}: request for piece {} it lacks", r.piece));
                }
                if geo.block(r.piece, r.block) != Some((r.begin, r.length)) {
                    return Err(format!("peer {k}: request with wrong bounds"));
                }
                let slot = self
                    .picker
                    .partial(r.piece)
                    .and_then(|pp| pp.blocks.get(r.block as usize));
                match slot {
                    Some(s) if s.requesters.contains(&k) && s.received.is_none() => {}
                    _ => return Err(format!("peer {k}: request not recorded in the picker")),
                }
                if p.requests.iter().filter(|o| o.matches(&r.wire())).count() != 1 {
                    return Err(format!("peer {k}: duplicate request"));
                }
            }
            if p.serves.len() as u32 > self.config.max_peer_upload_queue {
                return Err(format!("peer {k}: {} serves pending", p.serves.len()));
            }
            if p.serves.iter().any(|s| !self.picker.have().get(s.index)) {
                return Err(format!("peer {k}: serving a piece we lack"));
            }
            let interesting = p
                .has
                .iter_ones()
                .filter(|&i| self.picker.is_wanted(i))
                .count() as u32;
            if interesting != p.interesting || p.am_interested != (interesting > 0) {
                return Err(format!("peer {k}: interest out of sync"));
            }
            if self.banned.contains(&p.caps.ip) {
                return Err(format!("peer {k}: banned IP still connected"));
            }
        }
        for i in 0..count {
            if avail.get(i as usize).copied() != Some(self.picker.availability(i)) {
                return Err(format!("availability of piece {i} out of sync"));
            }
            if let Some(pp) = self.picker.partial(i) {
                for s in &pp.blocks {
                    for k in &s.requesters {
                        let ok = self
                            .peers
                            .get(k)
                            .is_some_and(|p| p.requests.iter().any(|r| r.piece == i));
                        if !ok {
                            return Err(format!("piece {i}: requester {k} has no request"));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
