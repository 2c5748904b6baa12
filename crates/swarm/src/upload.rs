//! The upload side of [`Swarm`]: serving requests, flood protection and
//! applying the choker's decisions.

use std::time::Instant;

use btl_wire::{BlockRequest, Message};

use crate::choker::{optimistic_unchoke, regular_unchokes, Candidate};
use crate::{Action, DisconnectReason, PeerKey, Swarm};

/// Largest block we serve (libtorrent and others refuse more than 128 KiB
/// too; every client asks for 16 KiB).
pub const MAX_SERVE_LEN: u32 = 128 * 1024;

impl Swarm {
    /// Whether we upload at all now (not after completion when
    /// `seed_upload` is off).
    pub(crate) fn may_upload(&self) -> bool {
        self.config.seed_upload || !self.is_complete()
    }

    /// The peer became interested: unchoke it at once if a slot is free
    /// (instead of making it wait for the next choke round).
    pub(crate) fn on_interested(&mut self, key: PeerKey, now: Instant) {
        if !self.may_upload() {
            return;
        }
        let busy = self
            .peers
            .values()
            .filter(|p| !p.am_choking && p.peer_interested && p.key != key)
            .count();
        // The regular slots plus the optimistic one.
        if busy > self.config.unchoke_slots {
            return;
        }
        if let Some(p) = self.peers.get_mut(&key) {
            if p.am_choking {
                p.regular = true;
                p.regular_rounds = 0;
                self.unchoke_peer(key);
            }
        }
        let _ = now;
    }

    /// A request from the peer. An index past the last piece is a protocol
    /// violation; anything else we will not serve (bad bounds, a piece we
    /// lack, choked, queue full) is rejected (fast) or ignored, and requests
    /// that are not merely early or late count towards flooding.
    pub(crate) fn on_request(
        &mut self,
        key: PeerKey,
        r: BlockRequest,
    ) -> Result<(), DisconnectReason> {
        let geo = self.picker.geometry();
        if r.index >= geo.piece_count {
            return Err(DisconnectReason::protocol(format!(
                "request for piece {} of {}",
                r.index, geo.piece_count
            )));
        }
        let piece_len = if self.config.serve_padded_pieces {
            geo.piece_length
        } else {
            geo.piece_len(r.index)
        };
        let end = r.begin.checked_add(r.length);
        let in_bounds =
            r.length > 0 && r.length <= MAX_SERVE_LEN && end.is_some_and(|e| e <= piece_len);
        let have = self.picker.have().get(r.index);
        let may_upload = self.may_upload();
        let limit = self.config.max_peer_upload_queue;
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        if p.serves.contains(&r) {
            return Ok(());
        }
        let unchoked = !p.am_choking || p.allowed_fast_out.contains(&r.index);
        let refuse = if !have || !in_bounds {
            // Asking for what we never announced, or for bytes outside the
            // piece: refused, and it counts as flooding.
            p.flood_excess += 1;
            true
        } else if !unchoked || !may_upload {
            // Normal after we choke it (requests were in flight).
            true
        } else if p.serves.len() as u32 >= limit {
            p.flood_excess += 1;
            true
        } else {
            false
        };
        if refuse {
            if p.flood_excess > limit.max(1) {
                return Err(DisconnectReason::Flooding);
            }
            if p.caps.fast {
                self.actions.push_back(Action::Send {
                    peer: key,
                    msg: Message::Reject(r),
                });
            }
            return Ok(());
        }
        p.serves.push(r);
        self.actions.push_back(Action::Serve { peer: key, req: r });
        Ok(())
    }

    /// The peer withdrew a request.
    pub(crate) fn on_cancel(&mut self, key: PeerKey, r: BlockRequest) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(pos) = p.serves.iter().position(|s| *s == r) else {
            return;
        };
        p.serves.remove(pos);
        self.actions
            .push_back(Action::CancelServe { peer: key, req: r });
        // BEP 6: a cancelled request is answered by the block or a reject.
        if p.caps.fast {
            self.actions.push_back(Action::Send {
                peer: key,
                msg: Message::Reject(r),
            });
        }
    }

    /// Chokes a peer: withdraws its pending serves (except allowed-fast
    /// pieces of a fast peer, which stay valid), rejecting them if fast.
    pub(crate) fn choke_peer(&mut self, key: PeerKey, now: Instant) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        if p.am_choking {
            return;
        }
        p.am_choking = true;
        p.choked_since = now;
        p.regular = false;
        p.regular_rounds = 0;
        p.optimistic = false;
        self.actions.push_back(Action::Send {
            peer: key,
            msg: Message::Choke,
        });
        let fast = p.caps.fast;
        let (keep, drop): (Vec<BlockRequest>, Vec<BlockRequest>) = std::mem::take(&mut p.serves)
            .into_iter()
            .partition(|s| fast && p.allowed_fast_out.contains(&s.index));
        p.serves = keep;
        for req in drop {
            self.actions
                .push_back(Action::CancelServe { peer: key, req });
            if fast {
                self.actions.push_back(Action::Send {
                    peer: key,
                    msg: Message::Reject(req),
                });
            }
        }
    }

    fn unchoke_peer(&mut self, key: PeerKey) {
        if let Some(p) = self.peers.get_mut(&key) {
            if p.am_choking {
                p.am_choking = false;
                self.actions.push_back(Action::Send {
                    peer: key,
                    msg: Message::Unchoke,
                });
            }
        }
    }

    /// One choker round; `rotate` also moves the optimistic unchoke on.
    pub(crate) fn choke_round(&mut self, now: Instant, rotate: bool) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        if !self.may_upload() {
            for key in keys {
                self.choke_peer(key, now);
            }
            return;
        }
        let seeding = self.is_complete();
        let cands: Vec<Candidate> = self
            .peers
            .values()
            .filter(|p| p.peer_interested)
            .map(|p| Candidate {
                key: p.key,
                down: p.down.rate_at(now),
                up: p.up.rate_at(now),
                regular: p.regular && !p.am_choking,
                rounds: p.regular_rounds,
                choked_since: p.choked_since,
                snubbed: p.snubbed,
                is_new: !p.had_optimistic,
            })
            .collect();
        let regular = regular_unchokes(&cands, self.config.unchoke_slots, seeding, &mut self.rng);
        let current = self
            .peers
            .values()
            .find(|p| p.optimistic && p.peer_interested)
            .map(|p| p.key);
        let optimistic = match current {
            Some(k) if !rotate && !regular.contains(&k) => Some(k),
            _ => {
                let rest: Vec<Candidate> = cands
                    .into_iter()
                    .filter(|c| !regular.contains(&c.key))
                    .collect();
                optimistic_unchoke(&rest, &mut self.rng)
            }
        };
        for key in keys {
            let in_regular = regular.contains(&key);
            let is_opt = optimistic == Some(key);
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            if in_regular {
                p.regular_rounds = if p.regular { p.regular_rounds + 1 } else { 1 };
                p.regular = true;
            } else {
                p.regular = false;
                p.regular_rounds = 0;
            }
            p.optimistic = is_opt;
            if is_opt {
                p.had_optimistic = true;
            }
            if in_regular || is_opt {
                self.unchoke_peer(key);
            } else {
                self.choke_peer(key, now);
            }
        }
    }
}
