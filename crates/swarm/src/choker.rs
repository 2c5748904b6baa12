//! The choker: which interested peers we upload to.
//!
//! Every `choke_interval` the regular slots are recomputed:
//!
//! - **Leeching** (tit-for-tat): the `unchoke_slots` interested peers we
//!   download fastest from (ties: upload rate, then random). Snubbed peers
//!   get no regular slot.
//! - **Seeding** (rotation): peers in the middle of their turn (fewer than
//!   [`SEED_TURN_ROUNDS`] rounds) keep it, best upload rate first; then the
//!   peers that have waited longest since they were choked; last, peers whose
//!   turn is over. So when more peers are interested than there are slots,
//!   every one of them gets a turn within a bounded number of rounds.
//!
//! Every `optimistic_interval` one more interested, otherwise choked peer is
//! unchoked optimistically, chosen at random with new peers (that never had
//! an optimistic turn) three times as likely, so that newcomers can prove
//! themselves and we discover better partners.

use std::cmp::Ordering;
use std::time::Instant;

use crate::rng::Rng;
use crate::PeerKey;

/// Rounds a seeding peer keeps its slot before it rotates to the back.
pub(crate) const SEED_TURN_ROUNDS: u32 = 3;

/// Weight of a never-optimistically-unchoked peer in the optimistic draw.
pub(crate) const NEW_PEER_WEIGHT: u64 = 3;

/// What the choker knows about an interested peer.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) key: PeerKey,
    /// Download rate from the peer, bytes/s.
    pub(crate) down: f64,
    /// Upload rate to the peer, bytes/s.
    pub(crate) up: f64,
    /// Currently in a regular slot.
    pub(crate) regular: bool,
    /// Consecutive rounds in a regular slot.
    pub(crate) rounds: u32,
    /// Choked since (or connected at).
    pub(crate) choked_since: Instant,
    pub(crate) snubbed: bool,
    /// Never had an optimistic unchoke.
    pub(crate) is_new: bool,
}

fn desc(a: f64, b: f64) -> Ordering {
    b.total_cmp(&a)
}

/// The peers to unchoke in the regular slots, best first.
pub(crate) fn regular_unchokes(
    cands: &[Candidate],
    slots: usize,
    seeding: bool,
    rng: &mut Rng,
) -> Vec<PeerKey> {
    let mut c: Vec<&Candidate> = cands.iter().collect();
    // Shuffle first so the stable sort breaks ties at random.
    rng.shuffle(&mut c);
    if seeding {
        let group = |p: &Candidate| match (p.regular, p.rounds < SEED_TURN_ROUNDS) {
            (true, true) => 0u8,
            (false, _) => 1,
            (true, false) => 2,
        };
        c.sort_by(|a, b| {
            group(a).cmp(&group(b)).then_with(|| match group(a) {
                1 => a.choked_since.cmp(&b.choked_since),
                _ => desc(a.up, b.up),
            })
        });
    } else {
        c.retain(|p| !p.snubbed);
        c.sort_by(|a, b| desc(a.down, b.down).then_with(|| desc(a.up, b.up)));
    }
    c.into_iter().take(slots).map(|p| p.key).collect()
}

/// Draws the optimistic unchoke among `cands` (the interested peers outside
/// the regular slots), new peers weighted [`NEW_PEER_WEIGHT`] times.
pub(crate) fn optimistic_unchoke(cands: &[Candidate], rng: &mut Rng) -> Option<PeerKey> {
    let weight = |p: &Candidate| if p.is_new { NEW_PEER_WEIGHT } else { 1 };
    let total: u64 = cands.iter().map(weight).sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.below(total);
    for p in cands {
        let w = weight(p);
        if x < w {
            return Some(p.key);
        }
        x -= w;
    }
    None
}

/// Sorts keys so a result does not depend on the candidates' order (tests).
#[cfg(test)]
pub(crate) fn sorted(mut v: Vec<PeerKey>) -> Vec<PeerKey> {
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn cand(key: PeerKey, down: f64, up: f64, t: Instant) -> Candidate {
        Candidate {
            key,
            down,
            up,
            regular: false,
            rounds: 0,
            choked_since: t,
            snubbed: false,
            is_new: true,
        }
    }

    #[test]
    fn leeching_is_tit_for_tat() {
        let t = Instant::now();
        let mut rng = Rng::new(1);
        let mut cs: Vec<Candidate> = (0..8).map(|k| cand(k, k as f64 * 1000.0, 0.0, t)).collect();
        cs[7].snubbed = true;
        let got = regular_unchokes(&cs, 4, false, &mut rng);
        assert_eq!(got, vec![6, 5, 4, 3]);
        // Fewer candidates than slots: all of them (but the snubbed one).
        let got = regular_unchokes(&cs[5..], 4, false, &mut rng);
        assert_eq!(sorted(got), vec![5, 6]);
    }

    #[test]
    fn leeching_ties_are_random_but_deterministic() {
        let t = Instant::now();
        let cs: Vec<Candidate> = (0..10).map(|k| cand(k, 0.0, 0.0, t)).collect();
        let a = regular_unchokes(&cs, 3, false, &mut Rng::new(5));
        let b = regular_unchokes(&cs, 3, false, &mut Rng::new(5));
        assert_eq!(a, b);
        let mut seen = std::collections::BTreeSet::new();
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            seen.extend(regular_unchokes(&cs, 3, false, &mut rng));
        }
        assert_eq!(seen.len(), 10, "every tied peer gets picked sometimes");
    }

    /// Simulates seeding rounds: with 10 interested peers and 4 slots, every
    /// peer is unchoked within a few rounds, and no peer keeps its slot for
    /// more than SEED_TURN_ROUNDS rounds while others wait.
    #[test]
    fn seeding_rotates_through_every_peer() {
        let t0 = Instant::now();
        let mut rng = Rng::new(3);
        let mut cs: Vec<Candidate> = (0..10).map(|k| cand(k, 0.0, k as f64, t0)).collect();
        let mut turns: BTreeMap<PeerKey, u32> = BTreeMap::new();
        for round in 1..=12u64 {
            let now = t0 + Duration::from_secs(10 * round);
            let got = regular_unchokes(&cs, 4, true, &mut rng);
            assert_eq!(got.len(), 4);
            for c in &mut cs {
                let unchoked = got.contains(&c.key);
                if unchoked {
                    c.rounds = if c.regular { c.rounds + 1 } else { 1 };
                    *turns.entry(c.key).or_default() += 1;
                    assert!(c.rounds <= SEED_TURN_ROUNDS, "peer {} hogs its slot", c.key);
                } else {
                    if c.regular {
                        c.choked_since = now;
                    }
                    c.rounds = 0;
                }
                c.regular = unchoked;
            }
            if round == 8 {
                assert_eq!(
                    turns.len(),
                    10,
                    "after 8 rounds everyone had a turn: {turns:?}"
                );
            }
        }
        // Turns are shared fairly: 48 slot-rounds over 10 peers.
        assert!(turns.values().all(|&n| (3..=6).contains(&n)), "{turns:?}");
    }

    #[test]
    fn optimistic_prefers_new_peers() {
        let t = Instant::now();
        let mut cs: Vec<Candidate> = (0..2).map(|k| cand(k, 0.0, 0.0, t)).collect();
        cs[1].is_new = false;
        let mut rng = Rng::new(11);
        let mut n0 = 0;
        for _ in 0..4000 {
            if optimistic_unchoke(&cs, &mut rng) == Some(0) {
                n0 += 1;
            }
        }
        // Expected 3/4 of the draws.
        assert!((2800..3200).contains(&n0), "{n0}");
        assert_eq!(optimistic_unchoke(&[], &mut rng), None);
    }
}
