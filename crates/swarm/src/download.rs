//! The download side of [`Swarm`]: filling request queues, receiving
//! blocks, verdicts and bad-data attribution, request timeouts and
//! snubbing.

use std::net::IpAddr;
use std::time::Instant;

use btl_wire::{Block, BlockRequest, Message};

use crate::peer::{OutRequest, MAX_REJECTED};
use crate::picker::{PickCtx, Received, Sender};
use crate::{Action, DisconnectReason, PeerKey, Swarm};

impl Swarm {
    /// The peer choked us. Without the fast extension it discards our
    /// requests, so they are re-picked; with it, it rejects each one
    /// explicitly (or the request times out), so we wait.
    pub(crate) fn on_choke(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.peer_choking = true;
        if p.caps.fast {
            return;
        }
        for r in std::mem::take(&mut p.requests) {
            self.picker.release(r.piece, r.block, key);
            p.remember_cancelled(r.wire());
        }
        self.refill_all = true;
    }

    /// A block arrived.
    pub(crate) fn on_piece(
        &mut self,
        key: PeerKey,
        block: Block,
        now: Instant,
    ) -> Result<(), DisconnectReason> {
        let Ok(length) = u32::try_from(block.data.len()) else {
            return Err(DisconnectReason::protocol("oversized block"));
        };
        let r = BlockRequest {
            index: block.index,
            begin: block.begin,
            length,
        };
        self.downloaded = self.downloaded.saturating_add(u64::from(length));
        let endgame = self.picker.is_endgame();
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        p.down.add(u64::from(length), now);
        let ip = p.caps.ip;
        let block_index = if let Some(pos) = p.find_request(&r) {
            let o = p.requests.remove(pos);
            Some(o.block)
        } else if p.take_cancelled(&r) {
            // Withdrawn but still in flight: welcome if still needed.
            let b = self
                .picker
                .geometry()
                .block_index(r.index, r.begin, r.length);
            if b.is_some() && self.picker.partial(r.index).is_none() {
                let owner = self.parole.contains(&ip).then_some(key);
                self.picker.adopt(r.index, ip, owner);
            }
            b
        } else if !p.caps.fast && !endgame {
            return Err(DisconnectReason::protocol(format!(
                "unrequested block {}:{}+{}",
                r.index, r.begin, r.length
            )));
        } else {
            None
        };
        self.dirty.insert(key);
        let Some(b) = block_index else {
            self.wasted = self.wasted.saturating_add(u64::from(length));
            return Ok(());
        };
        p.waiting_since = now;
        p.snubbed = false;
        p.timed_out = false;
        match self.picker.receive(r.index, b, Sender { peer: key, ip }) {
            Received::New { cancel, complete } => {
                self.actions.push_back(Action::StoreBlock {
                    peer: key,
                    piece: r.index,
                    begin: r.begin,
                    data: block.data,
                });
                for other in cancel {
                    if let Some(op) = self.peers.get_mut(&other) {
                        if let Some(pos) = op.find_request(&r) {
                            op.requests.remove(pos);
                            op.remember_cancelled(r);
                            self.actions.push_back(Action::Send {
                                peer: other,
                                msg: Message::Cancel(r),
                            });
                            self.dirty.insert(other);
                        }
                    }
                }
                if complete {
                    self.actions
                        .push_back(Action::VerifyPiece { piece: r.index });
                }
            }
            Received::Duplicate => {
                self.wasted = self.wasted.saturating_add(u64::from(length));
            }
        }
        Ok(())
    }

    /// The peer (fast extension) will not serve a request of ours.
    pub(crate) fn on_reject(&mut self, key: PeerKey, r: BlockRequest) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        match p.find_request(&r) {
            Some(pos) => {
                let o = p.requests.remove(pos);
                self.picker.release(o.piece, o.block, key);
                if !p.rejected.contains(&o.piece) && p.rejected.len() < MAX_REJECTED {
                    p.rejected.push(o.piece);
                }
                self.refill_all = true;
            }
            None => {
                p.take_cancelled(&r);
            }
        }
    }

    /// Tops up the request queues of the peers marked dirty (or all).
    /// Snubbed peers come last, so freed blocks go to good peers first.
    pub(crate) fn refill(&mut self, now: Instant) {
        // Request times must not go backwards (poll_timeout relies on it).
        let now = now.max(self.now);
        let mut keys: Vec<PeerKey> = if self.refill_all {
            self.peers.keys().copied().collect()
        } else {
            self.dirty.iter().copied().collect()
        };
        self.refill_all = false;
        self.dirty.clear();
        keys.sort_by_key(|k| (self.peers.get(k).is_some_and(|p| p.snubbed), *k));
        for key in keys {
            self.fill_peer(key, now);
        }
    }

    fn fill_peer(&mut self, key: PeerKey, now: Instant) {
        let Some(p) = self.peers.get(&key) else {
            return;
        };
        if !p.am_interested {
            return;
        }
        let choked = p.peer_choking;
        if choked && (!p.caps.fast || p.allowed_fast_in.is_empty()) {
            return;
        }
        let depth = p
            .queue_depth(&self.config, now)
            .min(self.config.max_queue.max(1));
        let n = depth.saturating_sub(p.requests.len() as u32) as usize;
        if n == 0 {
            return;
        }
        let peers = &self.peers;
        let alternative = |piece: u32, ips: &[IpAddr]| {
            peers
                .values()
                .any(|q| q.key != key && q.has.get(piece) && !ips.contains(&q.caps.ip))
        };
        let ctx = PickCtx {
            peer: key,
            ip: p.caps.ip,
            has: &p.has,
            only: choked.then_some(&p.allowed_fast_in[..]),
            parole: self.parole.contains(&p.caps.ip),
            skip: &p.rejected,
            alternative: &alternative,
        };
        let picks = self.picker.pick(&ctx, n);
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        if p.requests.is_empty() && !picks.is_empty() && !p.timed_out {
            p.waiting_since = now;
        }
        for (piece, block) in picks {
            let Some((begin, length)) = self.picker.geometry().block(piece, block) else {
                self.picker.release(piece, block, key);
                continue;
            };
            let o = OutRequest {
                piece,
                block,
                begin,
                length,
                sent: now,
            };
            p.requests.push(o);
            self.actions.push_back(Action::Send {
                peer: key,
                msg: Message::Request(o.wire()),
            });
        }
    }

    /// Request timeouts and snubbing.
    pub(crate) fn check_requests(&mut self, now: Instant) {
        let timeout = self.config.request_timeout;
        let snub = self.config.snub_timeout;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            if p.requests.is_empty() {
                continue;
            }
            let withdrawn: Vec<OutRequest> = if !p.snubbed && now >= p.waiting_since + snub {
                p.snubbed = true;
                self.picker.clear_owner(key);
                std::mem::take(&mut p.requests)
            } else {
                let (old, keep) = std::mem::take(&mut p.requests)
                    .into_iter()
                    .partition(|r| now >= r.sent + timeout);
                p.requests = keep;
                if !old.is_empty() {
                    p.timed_out = true;
                }
                old
            };
            if withdrawn.is_empty() {
                continue;
            }
            for r in withdrawn {
                self.picker.release(r.piece, r.block, key);
                p.remember_cancelled(r.wire());
                self.actions.push_back(Action::Send {
                    peer: key,
                    msg: Message::Cancel(r.wire()),
                });
            }
            self.refill_all = true;
        }
    }

    /// A piece passed its hash check.
    pub(crate) fn on_verified_ok(&mut self, piece: u32) {
        let was_wanted = self.picker.is_wanted(piece);
        if self.picker.verified_ok(piece).is_none() {
            return;
        }
        let seed = self.picker.have().all();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        let mut both_seeds = Vec::new();
        for key in keys {
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            if p.has.get(piece) {
                if was_wanted {
                    p.interesting = p.interesting.saturating_sub(1);
                }
                if seed && p.is_seed() {
                    both_seeds.push(key);
                }
                self.update_interest(key);
            } else {
                self.actions.push_back(Action::Send {
                    peer: key,
                    msg: Message::Have(piece),
                });
            }
        }
        for key in both_seeds {
            self.drop_peer(key, Some(DisconnectReason::BothSeeds));
        }
        self.check_completed();
        // Only peers held back by the budget need a top-up now; the others
        // are topped up as their blocks arrive.
        if self.picker.take_budget_blocked() {
            self.refill_all = true;
        }
    }

    /// Emits `Completed` when the last wanted piece got verified.
    pub(crate) fn check_completed(&mut self) {
        if self.picker.wanted_missing() > 0 {
            self.completed_emitted = false;
            return;
        }
        if !self.completed_emitted {
            self.completed_emitted = true;
            self.push(Action::Completed);
            if !self.config.seed_upload {
                let unchoked: Vec<PeerKey> = self
                    .peers
                    .values()
                    .filter(|p| !p.am_choking)
                    .map(|p| p.key)
                    .collect();
                for key in unchoked {
                    self.choke_peer(key, self.now);
                }
            }
        }
    }

    /// A piece failed its hash check: attribute the blame, drop the data,
    /// download it again from other peers.
    pub(crate) fn on_verified_bad(&mut self, piece: u32, bad_blocks: Option<Vec<u32>>) {
        let Some(partial) = self.picker.partial(piece).filter(|p| p.verifying) else {
            return;
        };
        let mut proven: Vec<Sender> = Vec::new();
        for b in bad_blocks.unwrap_or_default() {
            if let Some(s) = partial.blocks.get(b as usize).and_then(|s| s.received) {
                if !proven.contains(&s) {
                    proven.push(s);
                }
            }
        }
        let senders = partial.senders();
        let blamed = if proven.is_empty() { &senders } else { &proven };
        let ips: Vec<IpAddr> = blamed.iter().map(|s| s.ip).collect();
        let blamed = blamed.clone();
        self.picker.verified_bad(piece, &ips);
        self.failed = self
            .failed
            .saturating_add(u64::from(self.picker.geometry().piece_len(piece)));
        self.push(Action::DiscardPiece { piece });
        let shared = blamed.len() > 1;
        for s in blamed {
            if !proven.is_empty() {
                self.ban(
                    s.peer,
                    s.ip,
                    format!("sent a block of piece {piece} that failed its hash check"),
                );
                continue;
            }
            // A piece shared by several peers: each is suspect, gets a strike
            // and goes on parole, where its pieces are its own. A peer
            // already on parole gets strikes only for pieces it sent alone,
            // so one honest peer caught in a burst of shared failures is
            // not banned for them.
            let on_parole = !self.parole.insert(s.ip);
            if shared && on_parole {
                continue;
            }
            let n = self.strikes.entry(s.ip).or_insert(0);
            *n += 1;
            let n = *n;
            if n >= self.config.ban_after_strikes.max(1) {
                self.ban(
                    s.peer,
                    s.ip,
                    format!("sent data for {n} pieces that failed their hash check"),
                );
            }
        }
        self.refill_all = true;
    }

    /// Bans an IP: every connection from it is dropped with a `Ban`.
    fn ban(&mut self, key: PeerKey, ip: IpAddr, reason: String) {
        let fresh = self.banned.insert(ip);
        let keys: Vec<PeerKey> = self
            .peers
            .values()
            .filter(|p| p.caps.ip == ip)
            .map(|p| p.key)
            .collect();
        if keys.is_empty() && fresh {
            self.push(Action::Ban {
                peer: key,
                ip,
                reason: reason.clone(),
            });
        }
        for k in keys {
            self.drop_peer(k, None);
            self.push(Action::Ban {
                peer: k,
                ip,
                reason: reason.clone(),
            });
        }
    }

    /// Drops a piece in progress that is no longer wanted.
    pub(crate) fn abandon_piece(&mut self, piece: u32) {
        let Some(partial) = self.picker.abandon(piece) else {
            return;
        };
        for (b, slot) in partial.blocks.iter().enumerate() {
            for &k in &slot.requesters {
                let Some(p) = self.peers.get_mut(&k) else {
                    continue;
                };
                if let Some(pos) = p
                    .requests
                    .iter()
                    .position(|r| r.piece == piece && r.block == b as u32)
                {
                    let r = p.requests.remove(pos).wire();
                    p.remember_cancelled(r);
                    self.actions.push_back(Action::Send {
                        peer: k,
                        msg: Message::Cancel(r),
                    });
                    self.dirty.insert(k);
                }
            }
        }
        if partial.received > 0 {
            self.push(Action::DiscardPiece { piece });
        }
    }
}
