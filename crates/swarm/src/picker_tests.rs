use std::net::{IpAddr, Ipv4Addr};

use super::*;

const K: u32 = 16 * 1024;

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

/// `n` pieces of 4 blocks.
fn picker(n: u32) -> Picker {
    Picker::new(
        Geometry::v1(u64::from(n) * 4 * u64::from(K), 4 * K),
        Bitfield::new(n),
        u64::MAX,
        2,
        1,
    )
}

fn no_alt(_: u32, _: &[IpAddr]) -> bool {
    false
}

fn ctx<'a>(peer: PeerKey, has: &'a Bitfield) -> PickCtx<'a> {
    PickCtx {
        peer,
        ip: ip(peer as u8),
        has,
        only: None,
        parole: false,
        skip: &[],
        alternative: &no_alt,
    }
}

fn pieces(picks: &[(u32, u32)]) -> Vec<u32> {
    let mut v: Vec<u32> = picks.iter().map(|p| p.0).collect();
    v.dedup();
    v
}

#[test]
fn rarest_first() {
    let mut p = picker(8);
    let all = Bitfield::full(8);
    // Piece 5 is held by one peer, the others by three.
    for _ in 0..3 {
        let mut b = Bitfield::full(8);
        b.clear(5);
        p.add_bitfield(&b);
    }
    p.inc(5);
    p.add_bitfield(&Bitfield::new(8));
    let picks = p.pick(&ctx(1, &all), 4);
    assert_eq!(picks, vec![(5, 0), (5, 1), (5, 2), (5, 3)]);
    p.check().unwrap();
}

#[test]
fn priority_beats_rarity_and_zero_is_skipped() {
    let mut p = picker(8);
    let all = Bitfield::full(8);
    p.add_bitfield(&all);
    p.inc(2); // 2 is more common
    let mut prio = vec![1; 8];
    prio[0] = 0;
    prio[2] = 7;
    assert!(p.set_priorities(&prio).is_empty());
    assert_eq!(p.wanted_missing(), 7);
    let picks = p.pick(&ctx(1, &all), 8);
    assert_eq!(pieces(&picks)[0], 2);
    // Fill the rest: piece 0 never appears.
    let more = p.pick(&ctx(1, &all), 100);
    assert!(picks.iter().chain(&more).all(|&(i, _)| i != 0));
    assert_eq!(picks.len() + more.len(), 7 * 4);
}

#[test]
fn partial_pieces_first_and_no_double_requests() {
    let mut p = picker(8);
    let all = Bitfield::full(8);
    p.add_bitfield(&all);
    let a = p.pick(&ctx(1, &all), 2);
    assert_eq!(a.len(), 2);
    let piece = a[0].0;
    // Another peer first gets the two remaining blocks of that piece.
    let b = p.pick(&ctx(2, &all), 2);
    assert_eq!(b, vec![(piece, 2), (piece, 3)]);
    p.check().unwrap();
    // Not in end game: nobody is given an already-requested block.
    let c = p.pick(&ctx(3, &all), 7 * 4);
    assert!(c.iter().all(|&(i, _)| i != piece));
    assert_eq!(c.len(), 7 * 4);
    // Now every block is requested: end game duplicates for peer 3.
    assert!(p.is_endgame());
    let d = p.pick(&ctx(3, &all), 4);
    assert_eq!(pieces(&d), vec![piece]);
    p.check().unwrap();
}

#[test]
fn sequential_order() {
    let mut p = picker(8);
    p.set_sequential(true, 0);
    let all = Bitfield::full(8);
    p.add_bitfield(&all);
    let picks = p.pick(&ctx(1, &all), 10);
    assert_eq!(pieces(&picks), vec![0, 1, 2]);
    let mut has = Bitfield::new(8);
    has.set(6);
    has.set(4);
    assert_eq!(pieces(&p.pick(&ctx(2, &has), 4)), vec![4]);
}

#[test]
fn budget_limits_pieces_in_flight() {
    let g = Geometry::v1(8 * 4 * u64::from(K), 4 * K);
    // Room for two pieces.
    let mut p = Picker::new(g, Bitfield::new(8), u64::from(8 * K) + 5, 2, 1);
    let all = Bitfield::full(8);
    p.add_bitfield(&all);
    let picks = p.pick(&ctx(1, &all), 100);
    assert_eq!(picks.len(), 8);
    assert_eq!(p.bytes_in_flight(), u64::from(8 * K));
    assert!(
        p.pick(&ctx(2, &all), 100).is_empty(),
        "not end game: others wait"
    );
    p.check().unwrap();
    // A tiny budget still admits one piece.
    let g = Geometry::v1(8 * 4 * u64::from(K), 4 * K);
    let mut p = Picker::new(g, Bitfield::new(8), 1, 2, 1);
    assert_eq!(p.budget(), u64::from(4 * K));
    assert_eq!(p.pick(&ctx(1, &all), 100).len(), 4);
}

#[test]
fn release_reopens_and_drops_empty_pieces() {
    let mut p = picker(4);
    let all = Bitfield::full(4);
    let picks = p.pick(&ctx(1, &all), 2);
    let (piece, _) = picks[0];
    assert_eq!(p.partial_count(), 1);
    p.release(piece, 0, 1);
    assert_eq!(p.partial_count(), 1);
    p.release(piece, 1, 1);
    assert_eq!(p.partial_count(), 0, "empty piece dropped");
    assert_eq!(p.bytes_in_flight(), 0);
    // Releasing unknown things is harmless.
    p.release(99, 0, 1);
    p.release(piece, 99, 1);
    p.check().unwrap();
}

#[test]
fn receive_and_endgame_duplicates() {
    let mut p = picker(1);
    let all = Bitfield::full(1);
    let a = p.pick(&ctx(1, &all), 4);
    assert_eq!(a.len(), 4);
    assert!(p.is_endgame());
    // End game: peer 2 duplicates, fewest requesters first, never its own.
    let b = p.pick(&ctx(2, &all), 2);
    assert_eq!(b, vec![(0, 0), (0, 1)]);
    assert!(
        p.pick(&ctx(2, &all), 10).len() == 2,
        "two more, then nothing"
    );
    // At most endgame_max (2) requesters per block.
    assert!(p.pick(&ctx(3, &all), 10).is_empty());
    let s = |peer| Sender {
        peer,
        ip: ip(peer as u8),
    };
    assert_eq!(
        p.receive(0, 0, s(1)),
        Received::New {
            cancel: vec![2],
            complete: false
        }
    );
    assert_eq!(p.receive(0, 0, s(2)), Received::Duplicate);
    for b in 1..4 {
        assert!(matches!(p.receive(0, b, s(2)), Received::New { .. }));
    }
    assert!(p.is_verifying(0));
    assert_eq!(p.receive(0, 1, s(1)), Received::Duplicate);
    p.check().unwrap();
    let rec = p.verified_ok(0).unwrap();
    assert_eq!(rec.senders().len(), 2);
    assert!(p.have().get(0) && p.wanted_missing() == 0 && !p.is_endgame());
    assert!(p.verified_ok(0).is_none(), "second verdict ignored");
    p.check().unwrap();
}

#[test]
fn failed_piece_avoids_involved_peers_while_others_can_serve() {
    let mut p = picker(1);
    let all = Bitfield::full(1);
    for (_, b) in p.pick(&ctx(1, &all), 4) {
        p.receive(0, b, Sender { peer: 1, ip: ip(1) });
    }
    let rec = p.verified_bad(0, &[ip(1)]).unwrap();
    assert_eq!(rec.received, 4);
    assert_eq!(p.partial_count(), 0);
    let yes = |_: u32, _: &[IpAddr]| true;
    let mut c = ctx(1, &all);
    c.alternative = &yes;
    assert!(p.pick(&c, 4).is_empty(), "peer 1 leaves piece 0 to others");
    assert_eq!(
        p.pick(&ctx(1, &all), 4).len(),
        4,
        "unless nobody else has it"
    );
}

#[test]
fn parole_peers_download_alone() {
    let mut p = picker(4);
    let all = Bitfield::full(4);
    let mut c = ctx(1, &all);
    c.parole = true;
    let a = p.pick(&c, 2);
    let piece = a[0].0;
    assert_eq!(p.partial(piece).and_then(|x| x.owner), Some(1));
    // Others do not join the owned piece.
    let b = p.pick(&ctx(2, &all), 4);
    assert!(b.iter().all(|&(i, _)| i != piece));
    // The parole peer does not join peer 2's piece either.
    let more = p.pick(&c, 6);
    assert!(more.iter().all(|&(i, _)| i != b[0].0));
    assert_eq!(pieces(&more)[0], piece, "finishes its own piece first");
    // When the owner gives up, the piece opens to everybody.
    p.clear_owner(1);
    assert_eq!(p.partial(piece).and_then(|x| x.owner), None);
    p.check().unwrap();
}

#[test]
fn allowed_fast_only_and_skip() {
    let mut p = picker(8);
    let all = Bitfield::full(8);
    let only = [6u32];
    let mut c = ctx(1, &all);
    c.only = Some(&only);
    assert_eq!(pieces(&p.pick(&c, 10)), vec![6]);
    let skip = [0u32, 1, 2, 3, 4, 5, 7];
    let mut c = ctx(2, &all);
    c.skip = &skip;
    assert!(p.pick(&c, 10).is_empty(), "piece 6 is fully requested");
}

#[test]
fn priorities_abandon_partial_pieces() {
    let mut p = picker(4);
    let all = Bitfield::full(4);
    let picks = p.pick(&ctx(1, &all), 1);
    let piece = picks[0].0;
    let mut prio = vec![1u8; 4];
    prio[piece as usize] = 0;
    assert_eq!(p.set_priorities(&prio), vec![piece]);
    let rec = p.abandon(piece).unwrap();
    assert_eq!(rec.blocks[0].requesters, vec![1]);
    assert_eq!(p.bytes_in_flight(), 0);
    // Short priority vectors: missing entries are 0.
    p.set_priorities(&[3]);
    assert_eq!(p.wanted_count(), 1);
    p.check().unwrap();
}

#[test]
fn sequential_window_doubles_up_on_urgent_pieces() {
    let g = Geometry::v1(8 * 4 * u64::from(K), 4 * K);
    // Room for two pieces in flight.
    let mut p = Picker::new(g, Bitfield::new(8), u64::from(8 * K), 2, 1);
    p.set_sequential(true, 1);
    let all = Bitfield::full(8);
    assert_eq!(pieces(&p.pick(&ctx(1, &all), 8)), vec![0, 1]);
    // Peer 2 cannot start a piece (budget); it duplicates the urgent piece
    // 0 only (window of 1).
    let d = p.pick(&ctx(2, &all), 8);
    assert_eq!(d, vec![(0, 0), (0, 1), (0, 2), (0, 3)]);
    assert!(!p.is_endgame());
    p.check().unwrap();
    // Without the window it would idle.
    p.set_sequential(true, 0);
    assert!(p.pick(&ctx(3, &all), 8).is_empty());
}
