//! The piece picker: which blocks to request from a peer.
//!
//! # Order
//!
//! 1. **Partial pieces first**: open blocks of pieces already in progress,
//!    highest priority first, then the pieces closest to completion (in
//!    sequential mode: lowest index first). This keeps the number of buffered
//!    pieces low and finishes pieces quickly.
//! 2. **New pieces**: highest priority first, then rarest first (lowest
//!    availability among connected peers), ties broken by the seeded PRNG. In
//!    sequential mode: highest priority, then lowest index. A new piece is
//!    started only if its length fits in the in-flight budget
//!    (`max_partial_bytes`; one piece is always allowed).
//! 3. **End game**: when no wanted piece is left unstarted, blocks already
//!    requested from other peers are requested again, fewest requesters
//!    first, up to `endgame_max_requesters` peers per block. In sequential
//!    mode the same happens for the pieces of the urgent window
//!    (`sequential_window` pieces from the first missing one) whenever the
//!    peer has nothing else to request.
//!
//! A peer that choked us may only be asked for its allowed-fast pieces.
//! After a hash failure, the IPs that sent the failed piece avoid it while
//! another connected peer can supply it, and they are put on **parole**: a
//! parole peer downloads only whole pieces on its own (nobody else takes
//! blocks of a piece it started, and it joins no other piece), so any later
//! failure is attributed to exactly one peer. When the owner leaves or is
//! snubbed, its pieces become open to all.
//!
//! # Invariants (checked by [`Picker::check`])
//!
//! - `bytes_in_flight` is the sum of the lengths of the pieces in `partial`
//!   and never exceeds the budget.
//! - A piece is in `partial` iff its bit in `in_progress` is set; it is never
//!   also in `have`.
//! - A block is either received (exactly once) or has zero or more
//!   requesters; `received`/`requested` count such blocks.
//! - A partial piece with no received and no requested block is dropped
//!   (it holds no data), so abandoned pieces never pin the budget.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::geometry::Geometry;
use crate::rng::Rng;
use crate::{Bitfield, PeerKey};

/// Default priority of a piece when nothing was set.
pub(crate) const DEFAULT_PRIORITY: u8 = 4;
/// Highest priority.
pub(crate) const MAX_PRIORITY: u8 = 7;

/// Who sent a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sender {
    pub(crate) peer: PeerKey,
    pub(crate) ip: IpAddr,
}

/// One 16 KiB block of a piece in progress.
#[derive(Clone, Debug, Default)]
pub(crate) struct BlockSlot {
    /// Peers this block is requested from (several only in end game).
    pub(crate) requesters: Vec<PeerKey>,
    /// The sender, once received.
    pub(crate) received: Option<Sender>,
}

/// A piece in progress: its blocks are being requested or buffered.
#[derive(Clone, Debug)]
pub(crate) struct Partial {
    pub(crate) blocks: Vec<BlockSlot>,
    /// Blocks received.
    pub(crate) received: u32,
    /// Blocks not received with at least one requester.
    pub(crate) requested: u32,
    /// Every block was received; the I/O layer is hashing it.
    pub(crate) verifying: bool,
    /// A peer on parole downloading this piece alone: nobody else takes
    /// its blocks, so a hash failure is attributed exactly.
    pub(crate) owner: Option<PeerKey>,
}

impl Partial {
    fn new(blocks: u32) -> Self {
        Partial {
            blocks: vec![BlockSlot::default(); blocks as usize],
            received: 0,
            requested: 0,
            verifying: false,
            owner: None,
        }
    }

    /// The distinct senders of the received blocks.
    pub(crate) fn senders(&self) -> Vec<Sender> {
        let mut out: Vec<Sender> = Vec::new();
        for s in self.blocks.iter().filter_map(|b| b.received) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

/// What the peer is allowed to be asked for.
pub(crate) struct PickCtx<'a> {
    /// The peer.
    pub(crate) peer: PeerKey,
    /// Its address (for hash-failure exclusion).
    pub(crate) ip: IpAddr,
    /// The pieces it has.
    pub(crate) has: &'a Bitfield,
    /// If set, only these pieces (the peer chokes us: allowed-fast pieces).
    pub(crate) only: Option<&'a [u32]>,
    /// The peer is on parole (it sent data for a piece that failed): it only
    /// downloads whole pieces on its own.
    pub(crate) parole: bool,
    /// Pieces not to ask this peer for (it rejected requests for them).
    pub(crate) skip: &'a [u32],
    /// Whether a peer other than this one, not among the given IPs, has the
    /// piece: an excluded peer then leaves the piece to it.
    pub(crate) alternative: &'a dyn Fn(u32, &[IpAddr]) -> bool,
}

/// Whether the peer may take blocks of this piece in progress. A piece owned
/// by a parole peer is its alone while it has blocks of it requested. A
/// parole peer joins only pieces that hold
/// no data from anybody else (and claims them), except in end game, where
/// finishing beats exact attribution.
fn may_join(ctx: &PickCtx<'_>, p: &Partial, endgame: bool) -> bool {
    match p.owner {
        Some(owner) if owner == ctx.peer => true,
        Some(owner) if p.blocks.iter().any(|b| b.requesters.contains(&owner)) => false,
        // Unowned, or the owner stopped requesting (it may have been excluded
        // from the piece, choked us, or got its last block): open.
        _ => {
            !ctx.parole
                || endgame
                || p.blocks
                    .iter()
                    .filter_map(|b| b.received)
                    .all(|s| s.peer == ctx.peer)
        }
    }
}

/// The outcome of [`Picker::receive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// A new block: store it. `cancel` lists the other peers it was also
    /// requested from; `complete` says the piece now awaits verification.
    New {
        cancel: Vec<PeerKey>,
        complete: bool,
    },
    /// Not needed (already received, or the piece is not in progress).
    Duplicate,
}

/// Piece selection state of one torrent.
#[derive(Debug)]
pub(crate) struct Picker {
    geometry: Geometry,
    priority: Vec<u8>,
    availability: Vec<u32>,
    have: Bitfield,
    partial: BTreeMap<u32, Partial>,
    in_progress: Bitfield,
    /// Wanted, not verified, not in progress: the pieces a peer may start.
    pickable: Bitfield,
    /// Pieces in progress that are wanted.
    started_wanted: u32,
    bytes_in_flight: u64,
    budget: u64,
    wanted_missing: u32,
    wanted: u32,
    excluded: BTreeMap<u32, Vec<IpAddr>>,
    sequential: bool,
    /// A pick stopped at the budget since the last [`Picker::take_budget_blocked`].
    budget_blocked: bool,
    window: u32,
    endgame_max: u32,
    rng: Rng,
}

impl Picker {
    /// A picker with every piece wanted at the default priority.
    pub(crate) fn new(
        geometry: Geometry,
        have: Bitfield,
        max_partial_bytes: u64,
        endgame_max: u32,
        seed: u64,
    ) -> Self {
        let n = geometry.piece_count;
        let have = have.resized(n);
        let budget = max_partial_bytes.max(u64::from(geometry.max_piece_len()));
        let mut p = Picker {
            priority: vec![DEFAULT_PRIORITY; n as usize],
            availability: vec![0; n as usize],
            in_progress: Bitfield::new(n),
            pickable: Bitfield::new(n),
            started_wanted: 0,
            have,
            geometry,
            partial: BTreeMap::new(),
            bytes_in_flight: 0,
            budget,
            wanted_missing: 0,
            wanted: 0,
            excluded: BTreeMap::new(),
            sequential: false,
            budget_blocked: false,
            window: 0,
            endgame_max: endgame_max.max(1),
            rng: Rng::new(seed),
        };
        p.recount();
        p
    }

    fn recount(&mut self) {
        self.wanted = self.priority.iter().filter(|&&p| p > 0).count() as u32;
        self.wanted_missing = (0..self.geometry.piece_count)
            .filter(|&i| self.is_wanted(i))
            .count() as u32;
        self.started_wanted = self.partial.keys().filter(|&&i| self.is_wanted(i)).count() as u32;
        for i in 0..self.geometry.piece_count {
            self.refresh(i);
        }
    }

    /// Recomputes the `pickable` bit of piece `i`.
    fn refresh(&mut self, i: u32) {
        if self.is_wanted(i) && !self.in_progress.get(i) {
            self.pickable.set(i);
        } else {
            self.pickable.clear(i);
        }
    }

    /// Records a new piece in progress (always a wanted one).
    fn start(&mut self, i: u32, owner: Option<PeerKey>) {
        let mut fresh = Partial::new(self.geometry.block_count(i));
        fresh.owner = owner;
        self.partial.insert(i, fresh);
        self.in_progress.set(i);
        self.bytes_in_flight += u64::from(self.geometry.piece_len(i));
        self.started_wanted += 1;
        self.refresh(i);
    }

    /// The verified pieces.
    pub(crate) fn have(&self) -> &Bitfield {
        &self.have
    }

    /// The torrent layout.
    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Whether piece `i` is wanted and not yet verified.
    pub(crate) fn is_wanted(&self, i: u32) -> bool {
        self.priority.get(i as usize).is_some_and(|&p| p > 0) && !self.have.get(i)
    }

    /// Wanted pieces not yet verified.
    pub(crate) fn wanted_missing(&self) -> u32 {
        self.wanted_missing
    }

    /// Pieces with a non-zero priority.
    pub(crate) fn wanted_count(&self) -> u32 {
        self.wanted
    }

    /// Sets per-piece priorities (missing entries are 0, values above 7 are
    /// 7). Returns the pieces in progress that are no longer wanted and can
    /// be abandoned (not those being verified).
    pub(crate) fn set_priorities(&mut self, priorities: &[u8]) -> Vec<u32> {
        for (i, p) in self.priority.iter_mut().enumerate() {
            *p = priorities.get(i).copied().unwrap_or(0).min(MAX_PRIORITY);
        }
        self.recount();
        self.partial
            .iter()
            .filter(|(&i, p)| !p.verifying && !self.is_wanted(i))
            .map(|(&i, _)| i)
            .collect()
    }

    /// Whether some peer was held back by the budget since the last call
    /// (then freeing budget should top up every peer).
    pub(crate) fn take_budget_blocked(&mut self) -> bool {
        std::mem::take(&mut self.budget_blocked)
    }

    /// Sequential mode on or off, with its urgent window (see
    /// [`crate::SwarmConfig::sequential_window`]).
    pub(crate) fn set_sequential(&mut self, on: bool, window: u32) {
        self.sequential = on;
        self.window = window;
    }

    fn first_missing_wanted(&self) -> Option<u32> {
        (0..self.geometry.piece_count).find(|&i| self.is_wanted(i))
    }

    /// A peer announced a whole bitfield.
    pub(crate) fn add_bitfield(&mut self, has: &Bitfield) {
        for i in has.iter_ones() {
            self.inc(i);
        }
    }

    /// A peer with this bitfield left.
    pub(crate) fn remove_bitfield(&mut self, has: &Bitfield) {
        for i in has.iter_ones() {
            self.dec(i);
        }
    }

    /// One more peer has piece `i`.
    pub(crate) fn inc(&mut self, i: u32) {
        if let Some(a) = self.availability.get_mut(i as usize) {
            *a = a.saturating_add(1);
        }
    }

    fn dec(&mut self, i: u32) {
        if let Some(a) = self.availability.get_mut(i as usize) {
            *a = a.saturating_sub(1);
        }
    }

    /// How many connected peers have piece `i`.
    pub(crate) fn availability(&self, i: u32) -> u32 {
        self.availability.get(i as usize).copied().unwrap_or(0)
    }

    /// Bytes of pieces in progress.
    pub(crate) fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// The in-flight budget: `max(max_partial_bytes, largest piece)`.
    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }

    /// Pieces in progress.
    pub(crate) fn partial_count(&self) -> usize {
        self.partial.len()
    }

    /// A piece in progress.
    pub(crate) fn partial(&self, i: u32) -> Option<&Partial> {
        self.partial.get(&i)
    }

    /// Whether no wanted piece is left unstarted: the end game.
    pub(crate) fn is_endgame(&self) -> bool {
        self.wanted_missing > 0 && self.unstarted_wanted() == 0
    }

    fn unstarted_wanted(&self) -> u32 {
        self.wanted_missing.saturating_sub(self.started_wanted)
    }

    fn usable(&self, ctx: &PickCtx<'_>, i: u32) -> bool {
        if !self.is_wanted(i) || !ctx.has.get(i) {
            return false;
        }
        if let Some(only) = ctx.only {
            if !only.contains(&i) {
                return false;
            }
        }
        if ctx.skip.contains(&i) {
            return false;
        }
        match self.excluded.get(&i) {
            Some(ips) if ips.contains(&ctx.ip) => !(ctx.alternative)(i, ips),
            _ => true,
        }
    }

    /// The owner of pieces `owner` started on parole left or was snubbed:
    /// anybody may now finish them.
    pub(crate) fn clear_owner(&mut self, owner: PeerKey) {
        for p in self.partial.values_mut() {
            if p.owner == Some(owner) {
                p.owner = None;
            }
        }
    }

    /// Picks up to `n` blocks `(piece, block)` for the peer and records it as
    /// their requester.
    pub(crate) fn pick(&mut self, ctx: &PickCtx<'_>, n: usize) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        if n == 0 {
            return out;
        }
        self.pick_partial(ctx, n, &mut out);
        while out.len() < n {
            let Some(piece) = self.choose_new(ctx) else {
                break;
            };
            let len = u64::from(self.geometry.piece_len(piece));
            if !self.partial.is_empty() && self.bytes_in_flight + len > self.budget {
                self.budget_blocked = true;
                break;
            }
            self.start(piece, ctx.parole.then_some(ctx.peer));
            self.take_open(ctx, piece, n, &mut out);
        }
        if out.len() < n {
            if self.unstarted_wanted() == 0 {
                self.pick_endgame(ctx, n, None, &mut out);
            } else if self.sequential && self.window > 0 {
                let limit = self
                    .first_missing_wanted()
                    .map(|i| i.saturating_add(self.window));
                self.pick_endgame(ctx, n, limit, &mut out);
            }
        }
        out
    }

    fn pick_partial(&mut self, ctx: &PickCtx<'_>, n: usize, out: &mut Vec<(u32, u32)>) {
        let endgame = self.unstarted_wanted() == 0;
        let mut order: Vec<(u8, u32, u32)> = self
            .partial
            .iter()
            .filter(|(_, p)| !p.verifying && p.received + p.requested < p.blocks.len() as u32)
            .filter(|(_, p)| may_join(ctx, p, endgame))
            .filter(|(&i, _)| self.usable(ctx, i))
            .map(|(&i, p)| {
                let prio = self.priority.get(i as usize).copied().unwrap_or(0);
                let progress = if self.sequential {
                    u32::MAX - i
                } else {
                    p.received + p.requested
                };
                (prio, progress, i)
            })
            .collect();
        order.sort_unstable_by_key(|&(prio, progress, i)| (Reverse(prio), Reverse(progress), i));
        for (_, _, piece) in order {
            if out.len() >= n {
                break;
            }
            self.take_open(ctx, piece, n, out);
        }
    }

    fn take_open(&mut self, ctx: &PickCtx<'_>, piece: u32, n: usize, out: &mut Vec<(u32, u32)>) {
        let peer = ctx.peer;
        let Some(p) = self.partial.get_mut(&piece) else {
            return;
        };
        let alone = p
            .blocks
            .iter()
            .filter_map(|b| b.received)
            .all(|s| s.peer == peer);
        if ctx.parole && alone {
            p.owner = Some(peer);
        } else if p.owner.is_some_and(|o| o != peer) {
            // Joining a lapsed owner's piece: it is shared now.
            p.owner = None;
        }
        for (b, slot) in p.blocks.iter_mut().enumerate() {
            if out.len() >= n {
                break;
            }
            if slot.received.is_none() && slot.requesters.is_empty() {
                slot.requesters.push(peer);
                p.requested += 1;
                out.push((piece, b as u32));
            }
        }
    }

    /// The best piece to start for this peer, if any.
    fn choose_new(&mut self, ctx: &PickCtx<'_>) -> Option<u32> {
        // Candidates: the peer's pieces that are pickable, found a byte at a
        // time (most bytes are zero late in a download).
        let candidates: Vec<u32> = match ctx.only {
            Some(only) => only
                .iter()
                .copied()
                .filter(|&i| self.pickable.get(i))
                .collect(),
            None => {
                let mut v = Vec::new();
                let bytes = ctx.has.as_bytes().iter().zip(self.pickable.as_bytes());
                for (byte, (&h, &p)) in bytes.enumerate() {
                    let mut m = h & p;
                    while m != 0 {
                        let bit = m.leading_zeros();
                        v.push(byte as u32 * 8 + bit);
                        m &= !(0x80u8 >> bit);
                    }
                }
                v
            }
        };
        let mut best: Option<(u8, Reverse<u32>, u32)> = None;
        let mut chosen: Vec<u32> = Vec::new();
        for i in candidates {
            if !self.usable(ctx, i) {
                continue;
            }
            let prio = self.priority.get(i as usize).copied().unwrap_or(0);
            let rank = if self.sequential {
                Reverse(i)
            } else {
                Reverse(self.availability(i))
            };
            let key = (prio, rank);
            match best {
                Some((bp, br, _)) if (bp, br) > key => {}
                Some((bp, br, _)) if (bp, br) == key => chosen.push(i),
                _ => {
                    best = Some((prio, rank, i));
                    chosen.clear();
                    chosen.push(i);
                }
            }
        }
        if self.sequential {
            return best.map(|(_, _, i)| i);
        }
        // Uniform choice among the ties.
        let k = self.rng.below(chosen.len() as u64) as usize;
        chosen.get(k).copied()
    }

    /// Duplicate requests (end game; or, with `limit`, for the urgent
    /// pieces below it in sequential mode).
    fn pick_endgame(
        &mut self,
        ctx: &PickCtx<'_>,
        n: usize,
        limit: Option<u32>,
        out: &mut Vec<(u32, u32)>,
    ) {
        let mut cands: Vec<(usize, Reverse<u8>, u32, u32)> = Vec::new();
        for (&i, p) in &self.partial {
            if limit.is_some_and(|l| i >= l) {
                break;
            }
            if p.verifying || !may_join(ctx, p, true) || !self.usable(ctx, i) {
                continue;
            }
            let prio = self.priority.get(i as usize).copied().unwrap_or(0);
            for (b, slot) in p.blocks.iter().enumerate() {
                if slot.received.is_none()
                    && !slot.requesters.is_empty()
                    && !slot.requesters.contains(&ctx.peer)
                    && (slot.requesters.len() as u32) < self.endgame_max
                {
                    cands.push((slot.requesters.len(), Reverse(prio), i, b as u32));
                }
            }
        }
        cands.sort_unstable();
        for (_, _, piece, b) in cands {
            if out.len() >= n {
                break;
            }
            if let Some(slot) = self
                .partial
                .get_mut(&piece)
                .and_then(|p| p.blocks.get_mut(b as usize))
            {
                slot.requesters.push(ctx.peer);
                out.push((piece, b));
            }
        }
    }

    /// Starts piece `i` for a block that arrived after we withdrew its
    /// request (the piece was dropped meanwhile), if it is wanted, not in
    /// progress, fits the budget and `ip` is not excluded from it. `owner`:
    /// the sender, if it is on parole.
    pub(crate) fn adopt(&mut self, i: u32, ip: IpAddr, owner: Option<PeerKey>) -> bool {
        let len = u64::from(self.geometry.piece_len(i));
        let fits = self.partial.is_empty() || self.bytes_in_flight + len <= self.budget;
        let excluded = self.excluded.get(&i).is_some_and(|ips| ips.contains(&ip));
        if !self.is_wanted(i) || self.in_progress.get(i) || !fits || excluded {
            return false;
        }
        self.start(i, owner);
        true
    }

    /// The peer no longer has block `(piece, b)` requested (timeout, reject,
    /// choke, cancel, disconnect). The block becomes open if nobody else
    /// requested it; a piece left with no data and no request is dropped.
    pub(crate) fn release(&mut self, piece: u32, b: u32, peer: PeerKey) {
        let Some(p) = self.partial.get_mut(&piece) else {
            return;
        };
        let Some(slot) = p.blocks.get_mut(b as usize) else {
            return;
        };
        let before = slot.requesters.len();
        slot.requesters.retain(|&k| k != peer);
        if before > 0 && slot.requesters.is_empty() && slot.received.is_none() {
            p.requested = p.requested.saturating_sub(1);
        }
        // An owner that no longer downloads its piece gives it up.
        if p.owner == Some(peer) && !p.blocks.iter().any(|b| b.requesters.contains(&peer)) {
            p.owner = None;
        }
        if p.received == 0 && p.requested == 0 && !p.verifying {
            self.drop_partial(piece);
        }
    }

    fn drop_partial(&mut self, piece: u32) -> Option<Partial> {
        let p = self.partial.remove(&piece)?;
        self.in_progress.clear(piece);
        if self.is_wanted(piece) {
            self.started_wanted = self.started_wanted.saturating_sub(1);
        }
        self.refresh(piece);
        self.bytes_in_flight = self
            .bytes_in_flight
            .saturating_sub(u64::from(self.geometry.piece_len(piece)));
        Some(p)
    }

    /// Block `(piece, b)` arrived from `sender`.
    pub(crate) fn receive(&mut self, piece: u32, b: u32, sender: Sender) -> Received {
        let Some(p) = self.partial.get_mut(&piece) else {
            return Received::Duplicate;
        };
        if p.verifying {
            return Received::Duplicate;
        }
        let Some(slot) = p.blocks.get_mut(b as usize) else {
            return Received::Duplicate;
        };
        if slot.received.is_some() {
            slot.requesters.retain(|&k| k != sender.peer);
            return Received::Duplicate;
        }
        let requesters = std::mem::take(&mut slot.requesters);
        if !requesters.is_empty() {
            p.requested = p.requested.saturating_sub(1);
        }
        slot.received = Some(sender);
        p.received += 1;
        let complete = p.received == p.blocks.len() as u32;
        if complete {
            p.verifying = true;
        }
        let cancel = requesters
            .into_iter()
            .filter(|&k| k != sender.peer)
            .collect();
        Received::New { cancel, complete }
    }

    /// Whether piece `i` is waiting for its verdict.
    pub(crate) fn is_verifying(&self, i: u32) -> bool {
        self.partial.get(&i).is_some_and(|p| p.verifying)
    }

    /// Piece `i` passed its hash check. Returns its blocks' record, `None`
    /// if it was not awaiting a verdict.
    pub(crate) fn verified_ok(&mut self, i: u32) -> Option<Partial> {
        if !self.is_verifying(i) {
            return None;
        }
        let p = self.drop_partial(i)?;
        if self.is_wanted(i) {
            self.wanted_missing = self.wanted_missing.saturating_sub(1);
        }
        self.have.set(i);
        self.refresh(i);
        self.excluded.remove(&i);
        Some(p)
    }

    /// Piece `i` failed its hash check: it is dropped (to be downloaded
    /// again) and `involved` will avoid it. Returns its blocks' record.
    pub(crate) fn verified_bad(&mut self, i: u32, involved: &[IpAddr]) -> Option<Partial> {
        if !self.is_verifying(i) {
            return None;
        }
        let p = self.drop_partial(i)?;
        let ex = self.excluded.entry(i).or_default();
        for ip in involved {
            if !ex.contains(ip) {
                ex.push(*ip);
            }
        }
        Some(p)
    }

    /// Drops a piece in progress that is not being verified (no longer
    /// wanted). Returns it so the caller can cancel its requests.
    pub(crate) fn abandon(&mut self, i: u32) -> Option<Partial> {
        if self.partial.get(&i).is_some_and(|p| !p.verifying) {
            self.drop_partial(i)
        } else {
            None
        }
    }

    /// Checks the invariants listed in the module docs.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut bytes = 0u64;
        for (&i, p) in &self.partial {
            bytes += u64::from(self.geometry.piece_len(i));
            if !self.in_progress.get(i) {
                return Err(format!("piece {i} partial but not in progress"));
            }
            if self.have.get(i) {
                return Err(format!("piece {i} both partial and verified"));
            }
            let received = p.blocks.iter().filter(|b| b.received.is_some()).count() as u32;
            let requested = p
                .blocks
                .iter()
                .filter(|b| b.received.is_none() && !b.requesters.is_empty())
                .count() as u32;
            if received != p.received || requested != p.requested {
                return Err(format!("piece {i}: block counts out of sync"));
            }
            if p.blocks
                .iter()
                .any(|b| b.received.is_some() && !b.requesters.is_empty())
            {
                return Err(format!("piece {i}: received block still requested"));
            }
            if p.verifying != (received == p.blocks.len() as u32) {
                return Err(format!("piece {i}: verifying flag wrong"));
            }
            if received == 0 && requested == 0 {
                return Err(format!("piece {i}: empty partial piece kept"));
            }
        }
        for i in 0..self.geometry.piece_count {
            if self.pickable.get(i) != (self.is_wanted(i) && !self.in_progress.get(i)) {
                return Err(format!("pickable bit of piece {i} out of sync"));
            }
        }
        let started = self.partial.keys().filter(|&&i| self.is_wanted(i)).count() as u32;
        if started != self.started_wanted {
            return Err("started-wanted count out of sync".into());
        }
        if self.in_progress.count_ones() as usize != self.partial.len() {
            return Err("in_progress bits and partial map differ".into());
        }
        if bytes != self.bytes_in_flight {
            return Err(format!(
                "bytes in flight {} != {bytes}",
                self.bytes_in_flight
            ));
        }
        if bytes > self.budget {
            return Err(format!(
                "bytes in flight {bytes} over budget {}",
                self.budget
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "picker_tests.rs"]
mod tests;
