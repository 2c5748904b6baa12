//! BEP 52 hash exchange within one torrent: answering peers' hash requests,
//! and fetching the piece layers a magnet download lacks.
//!
//! [`HashExchange`] is owned by the torrent actor, like the swarm: it takes
//! messages and the time and returns messages to send; it never touches a
//! socket or a clock.
//!
//! # Serving
//!
//! A `hash request` is answered from the file's piece layer (from the
//! `.torrent`, or fetched) and the layers above it, built on first use and
//! kept in a cache of at most [`CACHE_NODES`] nodes (least recently used
//! trees go first; the tree in use is kept even if it alone is larger).
//! Requests below the piece layer (block hashes), for unknown roots or
//! layers we do not have yet, or over a per-peer budget (a request costs
//! the hashes it asks for plus [`SERVE_REQUEST_COST`]; a burst of
//! [`SERVE_BURST`], then [`SERVE_PER_SEC`] a second: 1 MiB, then 512 KiB/s
//! of answers) are rejected with a `hash reject`, which costs no more than
//! the request. The answers go out on the connection's queue, so the
//! budget also bounds what a peer that does not read can make us buffer.
//!
//! # Fetching
//!
//! A torrent built from a bare info dictionary (BEP 9) has no `piece
//! layers`. For every v2 file longer than one piece whose layer is missing,
//! the layer is asked for in aligned chunks of at most 512 hashes, each with
//! the uncle hashes up to the root ([`crate::hashes`]), from peers that speak
//! v2 (a v2-only torrent, the handshake's v2 bit, or a handshake upgraded to
//! the v2 infohash), best-stocked peers first, at most
//! [`MAX_IN_FLIGHT_PER_PEER`] requests per peer. A chunk is accepted only if
//! its proof hashes up to the file's `pieces root`, whoever sent it; a
//! rejected or timed-out chunk goes to another peer (or, when every peer
//! refused, to the same ones after a growing delay). Files the user wants
//! come first. A completed layer is taken out with
//! [`HashExchange::take_completed`] and inserted into the torrent with
//! [`Torrent::insert_piece_layer`], which checks it whole once more.
//!
//! Until its layer is known, a v2-only piece of such a file cannot be
//! verified, so the actor gives it priority 0 ([`effective_priorities`]):
//! it is neither requested nor written. Hybrid pieces are checked with
//! their v1 hash meanwhile. When the torrent has a metadata path (`btl get`
//! of a magnet: `<state>/torrents/<id>.torrent`), the layers are saved
//! there, durably, *before* the pieces they unlock become wanted: after a
//! crash, every piece on disk can be checked again, and a restart does not
//! ask peers for the layers again.
//!
//! Memory is bounded by the torrent: a file's chunks hold at most its piece
//! count of hashes, and only answers to our own requests' shape are kept.

use crate::hashes::{
    chunk_count, chunk_length, piece_layer_request, verify_hashes, FileTree, RejectReason,
    UpperLayers, MAX_SERVE_LENGTH,
};
use crate::PeerKey;
use btl_metainfo::torrent::Torrent;
use btl_store::PieceHashes;
use btl_types::{Sha1Hash, Sha256Hash};
use btl_wire::{Handshake, HashRequest, Hashes, Message};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most tree nodes (32 bytes each) kept in the serving cache: 64 MiB.
pub const CACHE_NODES: usize = 1 << 21;
/// Hashes a peer may ask for at once before being rate limited.
pub const SERVE_BURST: f64 = 32_768.0;
/// Hashes a peer may ask for per second, sustained.
pub const SERVE_PER_SEC: f64 = 16_384.0;
/// Our hash requests outstanding with one peer.
pub const MAX_IN_FLIGHT_PER_PEER: u32 = 16;
/// What a hash request costs on top of the hashes it asks for (the
/// message, the lookup): many tiny requests are limited too.
pub const SERVE_REQUEST_COST: f64 = 16.0;
/// How long a peer has to answer a hash request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Bad answers (wrong proof) after which a peer is not asked again.
const MAX_BAD_ANSWERS: u32 = 3;

/// The state of one chunk of a file's piece layer being fetched.
#[derive(Debug, Clone)]
enum Chunk {
    /// Not asked, or to be asked again (not before `retry_at`).
    Missing {
        retry_at: Option<Instant>,
        /// Peers that refused or failed it since the last retry round.
        refused: Vec<PeerKey>,
        /// Rounds in which every peer refused (for the back-off).
        rounds: u32,
    },
    /// Asked of `peer` at `sent`.
    InFlight {
        peer: PeerKey,
        sent: Instant,
        refused: Vec<PeerKey>,
        rounds: u32,
    },
    /// Verified: the real (non-padding) piece hashes of the chunk.
    Have(Vec<Sha256Hash>),
}

impl Chunk {
    fn missing() -> Chunk {
        Chunk::Missing {
            retry_at: None,
            refused: Vec::new(),
            rounds: 0,
        }
    }
}

/// A file whose piece layer is being fetched.
#[derive(Debug)]
struct FileFetch {
    root: Sha256Hash,
    tree: FileTree,
    chunks: Vec<Chunk>,
    /// Whether the user wants some of the file (fetched first).
    wanted: bool,
}

#[derive(Debug)]
struct PeerState {
    v2: bool,
    in_flight: u32,
    bad_answers: u32,
    tokens: f64,
    refilled: Instant,
}

/// Serving cache of the layers above the piece layer, per pieces root.
#[derive(Debug, Default)]
struct TreeCache {
    trees: HashMap<Sha256Hash, (Arc<UpperLayers>, u64)>,
    nodes: usize,
    clock: u64,
}

impl TreeCache {
    fn get_or_build(
        &mut self,
        root: Sha256Hash,
        tree: FileTree,
        layer: &[Sha256Hash],
    ) -> Option<Arc<UpperLayers>> {
        self.clock += 1;
        if let Some((t, used)) = self.trees.get_mut(&root) {
            *used = self.clock;
            return Some(t.clone());
        }
        let built = Arc::new(UpperLayers::build(tree, layer)?);
        if built.root(layer) != Some(root) {
            return None;
        }
        self.nodes += built.node_count();
        self.trees.insert(root, (built.clone(), self.clock));
        while self.nodes > CACHE_NODES && self.trees.len() > 1 {
            let Some(oldest) = self
                .trees
                .iter()
                .filter(|(r, _)| **r != root)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(r, _)| *r)
            else {
                break;
            };
            if let Some((t, _)) = self.trees.remove(&oldest) {
                self.nodes -= t.node_count();
            }
        }
        Some(built)
    }
}

/// The BEP 52 hash exchange of one torrent. See the module docs.
#[derive(Debug)]
pub struct HashExchange {
    has_v2: bool,
    v2_only: bool,
    v2_wire_id: Option<Sha1Hash>,
    /// Every v2 file longer than one piece, by pieces root.
    trees: HashMap<Sha256Hash, FileTree>,
    cache: TreeCache,
    peers: HashMap<PeerKey, PeerState>,
    /// Files whose layer is missing, wanted ones first.
    fetch: Vec<FileFetch>,
    completed: Vec<(Sha256Hash, Vec<Sha256Hash>)>,
    /// Where the torrent's metadata is kept up to date, if anywhere.
    metadata_path: Option<PathBuf>,
    /// Layers inserted but not yet saved (their pieces stay held).
    unsaved: bool,
    last_save: Option<Instant>,
    next_timeout_scan: Option<Instant>,
}

impl HashExchange {
    /// The exchange for `torrent`; `wanted_files` (indices into
    /// `Torrent::files`, `None`: all) orders the layer fetches.
    /// `metadata_path`, if given, is rewritten with the piece layers as
    /// they arrive (see [`HashExchange::apply_completed`]).
    pub fn new(
        torrent: &Torrent,
        wanted_files: Option<&[bool]>,
        metadata_path: Option<PathBuf>,
    ) -> HashExchange {
        let hashes = torrent.info_hashes();
        let mut trees = HashMap::new();
        let mut fetch: Vec<FileFetch> = Vec::new();
        for (i, f) in torrent.files().iter().enumerate() {
            let Some(root) = f.pieces_root else { continue };
            let Some(tree) = FileTree::new(f.length, torrent.piece_length()) else {
                continue;
            };
            trees.insert(root, tree);
            let wanted = wanted_files.is_none_or(|w| w.get(i).copied().unwrap_or(false));
            if torrent.piece_layer(&root).is_some() {
                continue;
            }
            if let Some(existing) = fetch.iter_mut().find(|x| x.root == root) {
                existing.wanted |= wanted;
                continue;
            }
            fetch.push(FileFetch {
                root,
                tree,
                chunks: vec![Chunk::missing(); chunk_count(&tree) as usize],
                wanted,
            });
        }
        fetch.sort_by_key(|f| !f.wanted);
        HashExchange {
            has_v2: hashes.v2().is_some(),
            v2_only: hashes.v1().is_none() && hashes.v2().is_some(),
            v2_wire_id: hashes.v2().map(|h| h.truncated()),
            trees,
            cache: TreeCache::default(),
            peers: HashMap::new(),
            fetch,
            completed: Vec::new(),
            metadata_path,
            unsaved: false,
            last_save: None,
            next_timeout_scan: None,
        }
    }

    /// Whether some piece layer is still being fetched.
    pub fn fetching(&self) -> bool {
        !self.fetch.is_empty()
    }

    /// A peer connected; `handshake` is its BitTorrent handshake.
    pub fn peer_connected(&mut self, peer: PeerKey, handshake: &Handshake, now: Instant) {
        let v2 = self.has_v2
            && (self.v2_only
                || handshake.reserved.v2()
                || Some(handshake.info_hash) == self.v2_wire_id);
        self.peers.insert(
            peer,
            PeerState {
                v2,
                in_flight: 0,
                bad_answers: 0,
                tokens: SERVE_BURST,
                refilled: now,
            },
        );
    }

    /// A peer is gone: what it had in flight is asked of others.
    pub fn peer_closed(&mut self, peer: PeerKey) {
        self.peers.remove(&peer);
        for f in &mut self.fetch {
            for c in &mut f.chunks {
                if let Chunk::InFlight {
                    peer: p,
                    refused,
                    rounds,
                    ..
                } = c
                {
                    if *p == peer {
                        *c = Chunk::Missing {
                            retry_at: None,
                            refused: std::mem::take(refused),
                            rounds: *rounds,
                        };
                    }
                }
            }
        }
    }

    /// Handles a BEP 52 message from `peer`; returns the answer to send it,
    /// if any. Other messages are ignored.
    pub fn on_message(
        &mut self,
        peer: PeerKey,
        msg: Message,
        torrent: &Torrent,
        now: Instant,
    ) -> Option<Message> {
        match msg {
            Message::HashRequest(req) => Some(match self.serve(peer, &req, torrent, now) {
                Ok(hashes) => {
                    tracing::debug!(
                        peer,
                        ?req,
                        hashes = hashes.len(),
                        "answering a hash request"
                    );
                    Message::Hashes(Hashes {
                        request: req,
                        hashes,
                    })
                }
                Err(reason) => {
                    tracing::debug!(peer, ?req, %reason, "rejecting a hash request");
                    Message::HashReject(req)
                }
            }),
            Message::Hashes(h) => {
                self.on_hashes(peer, &h);
                None
            }
            Message::HashReject(req) => {
                self.on_reject(peer, &req);
                None
            }
            _ => None,
        }
    }

    fn serve(
        &mut self,
        peer: PeerKey,
        req: &HashRequest,
        torrent: &Torrent,
        now: Instant,
    ) -> Result<Vec<Sha256Hash>, RejectReason> {
        let p = self.peers.get_mut(&peer).ok_or(RejectReason::RateLimited)?;
        let elapsed = now.saturating_duration_since(p.refilled).as_secs_f64();
        p.tokens = (p.tokens + elapsed * SERVE_PER_SEC).min(SERVE_BURST);
        p.refilled = now;
        let cost = SERVE_REQUEST_COST + f64::from(req.length.min(MAX_SERVE_LENGTH));
        if p.tokens < cost {
            return Err(RejectReason::RateLimited);
        }
        p.tokens -= cost;
        let tree = *self
            .trees
            .get(&req.pieces_root)
            .ok_or(RejectReason::UnknownRoot)?;
        let layer = torrent
            .piece_layer(&req.pieces_root)
            .ok_or(RejectReason::NoLayer)?;
        if req.base_layer < tree.piece_layer || req.base_layer > tree.height {
            return Err(RejectReason::Layer(req.base_layer));
        }
        let upper = self
            .cache
            .get_or_build(req.pieces_root, tree, layer)
            .ok_or(RejectReason::NoLayer)?;
        upper.answer(layer, req)
    }

    /// The chunk a message about `req` refers to, if it has our requests'
    /// shape.
    fn chunk_of(&self, req: &HashRequest) -> Option<(usize, usize)> {
        let fi = self.fetch.iter().position(|f| f.root == req.pieces_root)?;
        let f = &self.fetch[fi];
        let len = chunk_length(&f.tree);
        if req.base_layer != f.tree.piece_layer
            || req.length != len
            || !req.index.is_multiple_of(len)
        {
            return None;
        }
        let ci = (req.index / len) as usize;
        (ci < f.chunks.len()).then_some((fi, ci))
    }

    fn on_hashes(&mut self, peer: PeerKey, h: &Hashes) {
        let Some((fi, ci)) = self.chunk_of(&h.request) else {
            tracing::debug!(peer, request = ?h.request, "ignoring unsolicited hashes");
            return;
        };
        let asked_of = match &self.fetch[fi].chunks[ci] {
            Chunk::InFlight { peer: p, .. } => Some(*p),
            Chunk::Missing { .. } => None,
            Chunk::Have(_) => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.in_flight = p.in_flight.saturating_sub(1);
                }
                return;
            }
        };
        let f = &mut self.fetch[fi];
        match verify_hashes(&f.tree, &f.root, h) {
            Ok(nodes) => {
                // Whoever it was asked of, the chunk is done.
                if let Some(p) = asked_of.and_then(|a| self.peers.get_mut(&a)) {
                    p.in_flight = p.in_flight.saturating_sub(1);
                }
                let start = u64::from(h.request.index);
                let real = f.tree.pieces.saturating_sub(start).min(nodes.len() as u64);
                f.chunks[ci] = Chunk::Have(nodes[..real as usize].to_vec());
                tracing::debug!(peer, root = %f.root, chunk = ci, "piece layer chunk verified");
                if f.chunks.iter().all(|c| matches!(c, Chunk::Have(_))) {
                    let f = self.fetch.remove(fi);
                    let mut layer = Vec::with_capacity(f.tree.pieces as usize);
                    for c in f.chunks {
                        if let Chunk::Have(nodes) = c {
                            layer.extend(nodes);
                        }
                    }
                    tracing::info!(root = %f.root, pieces = layer.len(), "piece layer complete");
                    self.completed.push((f.root, layer));
                }
            }
            Err(e) => {
                tracing::debug!(peer, request = ?h.request, error = %e, "bad hashes");
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.bad_answers += 1;
                }
                if asked_of == Some(peer) {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.in_flight = p.in_flight.saturating_sub(1);
                    }
                    self.refuse(fi, ci, peer);
                }
            }
        }
    }

    fn on_reject(&mut self, peer: PeerKey, req: &HashRequest) {
        let Some((fi, ci)) = self.chunk_of(req) else {
            return;
        };
        if matches!(&self.fetch[fi].chunks[ci], Chunk::InFlight { peer: p, .. } if *p == peer) {
            tracing::debug!(peer, ?req, "hash request rejected");
            if let Some(p) = self.peers.get_mut(&peer) {
                p.in_flight = p.in_flight.saturating_sub(1);
            }
            self.refuse(fi, ci, peer);
        }
    }

    /// Puts chunk `ci` of file `fi` back to missing, `peer` having failed it.
    fn refuse(&mut self, fi: usize, ci: usize, peer: PeerKey) {
        let Some(c) = self.fetch.get_mut(fi).and_then(|f| f.chunks.get_mut(ci)) else {
            return;
        };
        let (mut refused, rounds) = match c {
            Chunk::InFlight {
                refused, rounds, ..
            }
            | Chunk::Missing {
                refused, rounds, ..
            } => (std::mem::take(refused), *rounds),
            Chunk::Have(_) => return,
        };
        if !refused.contains(&peer) {
            refused.push(peer);
        }
        *c = Chunk::Missing {
            retry_at: None,
            refused,
            rounds,
        };
    }

    /// Times out old requests and returns the hash requests to send now.
    /// `pieces_of` tells how many pieces a peer has (better-stocked v2
    /// peers are asked first).
    pub fn poll(
        &mut self,
        now: Instant,
        pieces_of: impl Fn(PeerKey) -> u32,
    ) -> Vec<(PeerKey, Message)> {
        let mut out = Vec::new();
        if self.fetch.is_empty() {
            return out;
        }
        // Time out what was asked too long ago (a scan a second is enough
        // for a 15 s timeout).
        let scan = self.next_timeout_scan.is_none_or(|t| now >= t);
        if scan {
            self.next_timeout_scan = Some(now + Duration::from_secs(1));
        }
        for f in self.fetch.iter_mut().filter(|_| scan) {
            for c in &mut f.chunks {
                if let Chunk::InFlight {
                    peer,
                    sent,
                    refused,
                    rounds,
                } = c
                {
                    if now.saturating_duration_since(*sent) >= REQUEST_TIMEOUT {
                        tracing::debug!(peer = *peer, root = %f.root, "hash request timed out");
                        if let Some(p) = self.peers.get_mut(peer) {
                            p.in_flight = p.in_flight.saturating_sub(1);
                        }
                        let mut refused = std::mem::take(refused);
                        refused.push(*peer);
                        *c = Chunk::Missing {
                            retry_at: None,
                            refused,
                            rounds: *rounds,
                        };
                    }
                }
            }
        }
        let mut candidates: Vec<(u32, PeerKey)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.v2 && p.bad_answers < MAX_BAD_ANSWERS)
            .map(|(k, _)| (pieces_of(*k), *k))
            .collect();
        if candidates.is_empty() {
            return out;
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        // Requests the candidates can still take: stop scanning at zero.
        let mut room: u32 = candidates
            .iter()
            .filter_map(|(_, k)| self.peers.get(k))
            .map(|p| MAX_IN_FLIGHT_PER_PEER.saturating_sub(p.in_flight))
            .sum();
        for f in &mut self.fetch {
            if room == 0 {
                break;
            }
            for (ci, c) in f.chunks.iter_mut().enumerate() {
                if room == 0 {
                    break;
                }
                let Chunk::Missing {
                    retry_at,
                    refused,
                    rounds,
                } = c
                else {
                    continue;
                };
                if retry_at.is_some_and(|t| t > now) {
                    continue;
                }
                // Every candidate refused: start another round later.
                if candidates.iter().all(|(_, k)| refused.contains(k)) {
                    if retry_at.is_none() {
                        *rounds += 1;
                        let delay = Duration::from_secs(1u64 << (*rounds).min(5));
                        *retry_at = Some(now + delay);
                        continue;
                    }
                    refused.clear();
                }
                let pick = candidates.iter().map(|(_, k)| *k).find(|k| {
                    !refused.contains(k)
                        && self
                            .peers
                            .get(k)
                            .is_some_and(|p| p.in_flight < MAX_IN_FLIGHT_PER_PEER)
                });
                let Some(peer) = pick else { continue };
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.in_flight += 1;
                }
                room -= 1;
                let req = piece_layer_request(&f.tree, f.root, ci as u32);
                tracing::debug!(peer, ?req, "requesting piece layer hashes");
                *c = Chunk::InFlight {
                    peer,
                    sent: now,
                    refused: std::mem::take(refused),
                    rounds: *rounds,
                };
                out.push((peer, Message::HashRequest(req)));
            }
        }
        out
    }

    /// The piece layers completed (and proven) since the last call, by
    /// pieces root.
    pub fn take_completed(&mut self) -> Vec<(Sha256Hash, Vec<Sha256Hash>)> {
        std::mem::take(&mut self.completed)
    }

    /// Inserts the completed layers into `torrent` and `hashes` (cloning
    /// either only if it is shared). Returns true when the pieces of the
    /// files whose layers arrived may now be wanted, and the caller must
    /// recompute the priorities ([`effective_priorities`]).
    ///
    /// With a metadata path, the torrent with its layers is saved there
    /// first (and durably), so that a restart after a crash can check the
    /// pieces those layers let us write. Saves are batched: at most one per
    /// [`SAVE_EVERY`] while layers are still being fetched, and one when
    /// the last arrives; held pieces wait for it. A failed save is logged
    /// and the pieces are released anyway (a restart would then fetch the
    /// layers and those pieces again).
    pub fn apply_completed(
        &mut self,
        torrent: &mut Arc<Torrent>,
        hashes: &mut Arc<PieceHashes>,
        now: Instant,
    ) -> bool {
        for (root, layer) in self.take_completed() {
            match Arc::make_mut(torrent).insert_piece_layer(root, &layer) {
                Ok(()) => {
                    Arc::make_mut(hashes).add_piece_layer(torrent, &root);
                    self.unsaved = true;
                }
                Err(e) => {
                    // Cannot happen for proven chunks; fetch it again.
                    tracing::warn!(%root, error = %e, "fetched piece layer refused");
                    if let Some(tree) = self.trees.get(&root).copied() {
                        self.fetch.push(FileFetch {
                            root,
                            tree,
                            chunks: vec![Chunk::missing(); chunk_count(&tree) as usize],
                            wanted: true,
                        });
                    }
                }
            }
        }
        if !self.unsaved {
            return false;
        }
        if let Some(path) = &self.metadata_path {
            let due = !self.fetching()
                || self
                    .last_save
                    .is_none_or(|t| now.saturating_duration_since(t) >= SAVE_EVERY);
            if !due {
                return false;
            }
            match save_metadata(path, torrent) {
                Ok(()) => {
                    tracing::debug!(path = %path.display(), "saved the metadata with its piece layers")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot save the metadata")
                }
            }
            self.last_save = Some(now);
        }
        self.unsaved = false;
        true
    }
}

/// How often, at most, the metadata is rewritten while layers arrive.
pub const SAVE_EVERY: Duration = Duration::from_secs(2);

/// A `.torrent` holding the info dictionary (byte for byte) and the known
/// piece layers: `d4:info<info>12:piece layersd<root><layer>...ee`, keys
/// in bytewise order as bencode requires. Trackers and other keys outside
/// the info dictionary are not kept.
pub fn torrent_file_bytes(t: &Torrent) -> Vec<u8> {
    let layers: Vec<(&Sha256Hash, &[Sha256Hash])> = t.piece_layers().collect();
    let size: usize = layers.iter().map(|(_, l)| 48 + 32 * l.len()).sum();
    let mut out = Vec::with_capacity(t.info_bytes().len() + size + 32);
    out.extend_from_slice(b"d4:info");
    out.extend_from_slice(t.info_bytes());
    if !layers.is_empty() {
        out.extend_from_slice(b"12:piece layersd");
        // `piece_layers` iterates in root order, which is bytewise.
        for (root, layer) in layers {
            out.extend_from_slice(b"32:");
            out.extend_from_slice(&root.0);
            out.extend_from_slice(format!("{}:", layer.len() * 32).as_bytes());
            for h in layer {
                out.extend_from_slice(&h.0);
            }
        }
        out.push(b'e');
    }
    out.push(b'e');
    out
}

/// Writes [`torrent_file_bytes`] to `path` durably: a temporary file,
/// synced, renamed over `path`, and the directory synced. A crash leaves
/// either the old file or the new one.
pub fn save_metadata(path: &Path, t: &Torrent) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = torrent_file_bytes(t);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The priorities to give the swarm: the user's, except 0 for pieces that
/// cannot be verified yet (their file's piece layer is still missing).
pub fn effective_priorities(user: &[u8], hashes: &PieceHashes) -> Vec<u8> {
    user.iter()
        .enumerate()
        .map(|(i, &p)| {
            if p > 0 && u32::try_from(i).is_ok_and(|i| hashes.can_verify(i)) {
                p
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use btl_metainfo::create::{create, CreateOptions, TorrentVersion};
    use btl_wire::{PeerId, Reserved};

    const PL: u64 = 32 * 1024;

    /// A torrent (with its layers) of: `big` (600 pieces: two chunks),
    /// `mid` (3 pieces), `tiny` (one piece: no layer).
    fn torrent(version: TorrentVersion) -> Torrent {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("payload");
        std::fs::create_dir_all(&root).unwrap();
        let write = |name: &str, len: u64, seed: u64| {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            std::fs::write(root.join(name), data).unwrap();
        };
        write("big", 599 * PL + 100, 3);
        write("mid", 2 * PL + 1, 5);
        write("tiny", 1000, 7);
        let opts = CreateOptions {
            version,
            piece_length: Some(PL),
            threads: Some(1),
            ..CreateOptions::default()
        };
        let made = create(&root, &opts, &|_, _| {}).unwrap();
        Torrent::from_bytes(&made.torrent).unwrap()
    }

    fn handshake(v2_bit: bool) -> Handshake {
        let mut reserved = Reserved::ours(false);
        reserved.set_v2(v2_bit);
        Handshake {
            reserved,
            info_hash: Sha1Hash([0; 20]),
            peer_id: PeerId([1; 20]),
        }
    }

    /// Runs `leecher` against `seeders` (key, exchange, torrent) until
    /// nothing is asked; `tamper` may change answers of a peer.
    fn exchange(
        leecher: &mut HashExchange,
        seeders: &mut [(PeerKey, HashExchange, &Torrent)],
        now: Instant,
        tamper: &dyn Fn(PeerKey, &mut Message),
    ) -> usize {
        let magnet = Torrent::from_info_bytes(seeders[0].2.info_bytes()).unwrap();
        let mut asked = 0;
        for _ in 0..20 {
            let out = leecher.poll(now, |_| 1);
            if out.is_empty() {
                break;
            }
            for (peer, msg) in out {
                asked += 1;
                let (_, s, t) = seeders.iter_mut().find(|(k, _, _)| *k == peer).unwrap();
                let mut answer = s.on_message(99, msg, t, now).unwrap();
                tamper(peer, &mut answer);
                assert!(leecher.on_message(peer, answer, &magnet, now).is_none());
            }
        }
        asked
    }

    fn apply(x: &mut HashExchange, t: Torrent) -> Torrent {
        let mut hashes = Arc::new(PieceHashes::from_torrent(&t).unwrap());
        let mut t = Arc::new(t);
        assert!(x.apply_completed(&mut t, &mut hashes, Instant::now()));
        for p in 0..hashes.piece_count() {
            assert!(hashes.can_verify(p), "piece {p}");
        }
        Arc::try_unwrap(t).unwrap()
    }

    #[test]
    fn fetches_every_layer_from_a_seeder() {
        for version in [TorrentVersion::V2, TorrentVersion::Hybrid] {
            let full = torrent(version);
            let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
            assert!(!magnet.has_piece_layers());
            let now = Instant::now();
            let mut leecher = HashExchange::new(&magnet, None, None);
            assert!(leecher.fetching());
            let mut seeder = HashExchange::new(&full, None, None);
            assert!(!seeder.fetching());
            seeder.peer_connected(99, &handshake(true), now);
            leecher.peer_connected(1, &handshake(true), now);
            let asked = exchange(&mut leecher, &mut [(1, seeder, &full)], now, &|_, _| {});
            assert_eq!(asked, 3, "two chunks of big, one of mid");
            assert!(!leecher.fetching());
            let t = apply(&mut leecher, magnet);
            assert!(t.has_piece_layers());
            assert_eq!(t.piece_layers().count(), full.piece_layers().count());
            for (root, layer) in full.piece_layers() {
                assert_eq!(t.piece_layer(root), Some(layer));
            }
        }
    }

    #[test]
    fn only_v2_peers_are_asked_in_a_hybrid() {
        let full = torrent(TorrentVersion::Hybrid);
        let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let now = Instant::now();
        let mut x = HashExchange::new(&magnet, None, None);
        x.peer_connected(1, &handshake(false), now);
        assert!(x.poll(now, |_| 1).is_empty());
        // A handshake upgraded to the v2 infohash counts as v2.
        let mut h = handshake(false);
        h.info_hash = full.info_hashes().v2().unwrap().truncated();
        x.peer_connected(2, &h, now);
        assert_eq!(x.poll(now, |_| 1).len(), 3);
        // In a v2-only torrent every peer is.
        let v2 = torrent(TorrentVersion::V2);
        let mut x = HashExchange::new(
            &Torrent::from_info_bytes(v2.info_bytes()).unwrap(),
            None,
            None,
        );
        x.peer_connected(1, &handshake(false), now);
        assert_eq!(x.poll(now, |_| 1).len(), 3);
    }

    #[test]
    fn bad_proofs_and_rejects_go_to_another_peer() {
        let full = torrent(TorrentVersion::V2);
        let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let now = Instant::now();
        let mut leecher = HashExchange::new(&magnet, None, None);
        let mut liar = HashExchange::new(&full, None, None);
        let mut refuser = HashExchange::new(&magnet, None, None);
        let mut honest = HashExchange::new(&full, None, None);
        for s in [&mut liar, &mut refuser, &mut honest] {
            s.peer_connected(99, &handshake(true), now);
        }
        for k in [1, 2, 3] {
            leecher.peer_connected(k, &handshake(true), now);
        }
        // Peer 1 flips a hash in every answer; peer 2 has no layers and
        // rejects; peer 3 is honest but asked last (fewest pieces).
        let mut seeders = [(1, liar, &full), (2, refuser, &magnet), (3, honest, &full)];
        let tamper = |peer: PeerKey, m: &mut Message| {
            if let (1, Message::Hashes(h)) = (peer, m) {
                h.hashes[0].0[0] ^= 1;
            }
        };
        let magnet2 = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let mut asked = 0;
        for _ in 0..10 {
            let out = leecher.poll(now, |k| 10 - k as u32);
            for (peer, msg) in out {
                asked += 1;
                let (_, s, t) = seeders.iter_mut().find(|(k, _, _)| *k == peer).unwrap();
                let mut answer = s.on_message(99, msg, t, now).unwrap();
                if peer == 2 {
                    assert!(matches!(answer, Message::HashReject(_)));
                }
                tamper(peer, &mut answer);
                leecher.on_message(peer, answer, &magnet2, now);
            }
        }
        assert!(!leecher.fetching(), "after {asked} requests");
        apply(&mut leecher, magnet);
    }

    #[test]
    fn timeouts_and_closed_peers_free_their_chunks() {
        let full = torrent(TorrentVersion::V2);
        let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let t0 = Instant::now();
        let mut x = HashExchange::new(&magnet, None, None);
        x.peer_connected(1, &handshake(true), t0);
        x.peer_connected(2, &handshake(true), t0);
        let first = x.poll(t0, |k| k as u32);
        assert!(
            first.iter().all(|(k, _)| *k == 2),
            "best-stocked peer first"
        );
        assert!(x.poll(t0, |k| k as u32).is_empty(), "all in flight");
        // Peer 2 goes away: its chunks go to peer 1.
        x.peer_closed(2);
        let again = x.poll(t0, |k| k as u32);
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|(k, _)| *k == 1));
        // Peer 1 never answers: after the timeout, with nobody else, the
        // chunks wait for a retry round, then go to peer 1 again.
        let t1 = t0 + REQUEST_TIMEOUT;
        assert!(x.poll(t1, |_| 1).is_empty());
        let t2 = t1 + Duration::from_secs(3);
        assert_eq!(x.poll(t2, |_| 1).len(), 3);
    }

    #[test]
    fn serving_rules() {
        let full = torrent(TorrentVersion::V2);
        let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let now = Instant::now();
        let mut s = HashExchange::new(&full, None, None);
        s.peer_connected(1, &handshake(true), now);
        let big = full.files().iter().find(|f| f.path == ["big"]).unwrap();
        let root = big.pieces_root.unwrap();
        let tree = FileTree::new(big.length, PL).unwrap();
        let req = piece_layer_request(&tree, root, 1);
        let ask = |s: &mut HashExchange, r: HashRequest, t: &Torrent| {
            s.on_message(1, Message::HashRequest(r), t, now).unwrap()
        };
        let Message::Hashes(h) = ask(&mut s, req, &full) else {
            panic!("not answered")
        };
        assert!(verify_hashes(&tree, &root, &h).is_ok());
        // Leaf layer (below the piece layer), unknown root, tiny file:
        // rejected.
        assert_eq!(tree.piece_layer, 1);
        let leaves = HashRequest {
            base_layer: 0,
            ..req
        };
        assert!(ask(&mut s, leaves, &full) == Message::HashReject(leaves));
        let unknown = HashRequest {
            pieces_root: Sha256Hash([9; 32]),
            ..req
        };
        assert_eq!(ask(&mut s, unknown, &full), Message::HashReject(unknown));
        let tiny = full.files().iter().find(|f| f.path == ["tiny"]).unwrap();
        let tiny = HashRequest {
            pieces_root: tiny.pieces_root.unwrap(),
            ..req
        };
        assert_eq!(ask(&mut s, tiny, &full), Message::HashReject(tiny));
        // Without the layer (a magnet leecher): rejected.
        let mut m = HashExchange::new(&magnet, None, None);
        m.peer_connected(1, &handshake(true), now);
        assert_eq!(ask(&mut m, req, &magnet), Message::HashReject(req));
        // A flood is cut to the burst.
        s.peer_connected(2, &handshake(true), now);
        let answered = (0..200)
            .filter(|_| {
                matches!(
                    s.on_message(2, Message::HashRequest(req), &full, now),
                    Some(Message::Hashes(_))
                )
            })
            .count();
        let each = SERVE_REQUEST_COST + f64::from(req.length);
        assert_eq!(answered, (SERVE_BURST / each) as usize);
        // It comes back with time.
        let later = now + Duration::from_secs(1);
        assert!(matches!(
            s.on_message(2, Message::HashRequest(req), &full, later),
            Some(Message::Hashes(_))
        ));
        // The cache holds one tree per served file.
        assert_eq!(s.cache.trees.len(), 1);
    }

    #[test]
    fn effective_priorities_hold_unverifiable_pieces() {
        let full = torrent(TorrentVersion::V2);
        let magnet = Torrent::from_info_bytes(full.info_bytes()).unwrap();
        let h = PieceHashes::from_torrent(&magnet).unwrap();
        let user = vec![1u8; h.piece_count() as usize];
        let eff = effective_priorities(&user, &h);
        // big (600) and mid (3) are held, tiny (1) is not.
        assert_eq!(eff.iter().filter(|&&p| p == 0).count(), 603);
        assert_eq!(eff.iter().filter(|&&p| p == 1).count(), 1);
        let hy = torrent(TorrentVersion::Hybrid);
        let h =
            PieceHashes::from_torrent(&Torrent::from_info_bytes(hy.info_bytes()).unwrap()).unwrap();
        let user = vec![1u8; h.piece_count() as usize];
        assert_eq!(
            effective_priorities(&user, &h),
            user,
            "v1 hashes verify a hybrid"
        );
    }
}
