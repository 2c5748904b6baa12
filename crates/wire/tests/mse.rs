//! MSE/PE handshake: round trips, policies, arbitrary splits, refusals and
//! bounds.

#![allow(clippy::unwrap_used)]

mod mse_common;

use btl_types::Sha1Hash;
use btl_wire::mse::*;
use btl_wire::{Handshake, PeerId, Reserved};
use mse_common::*;
use proptest::prelude::*;

const IH: Sha1Hash = Sha1Hash([0xab; 20]);

fn bt_handshake(tag: u8) -> [u8; 68] {
    Handshake {
        reserved: Reserved::ours(false),
        info_hash: IH,
        peer_id: PeerId([tag; 20]),
    }
    .to_bytes()
}

fn known() -> KnownTorrents {
    [Sha1Hash([1; 20]), IH, Sha1Hash([2; 20])]
        .into_iter()
        .collect()
}

struct Case {
    seed: u64,
    a_policy: MsePolicy,
    b_policy: MsePolicy,
    splits: Vec<usize>,
    ia: Vec<u8>,
    b_payload: Vec<u8>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            seed: 1,
            a_policy: MsePolicy::default(),
            b_policy: MsePolicy::default(),
            splits: vec![],
            ia: bt_handshake(b'A').to_vec(),
            b_payload: bt_handshake(b'B').to_vec(),
        }
    }
}

fn run_case(c: &Case, lookup: &KnownTorrents) -> Outcome {
    let mut rng = TestRng::new(c.seed);
    let a = MseInitiator::new(IH, &c.ia, c.a_policy, &mut rng.as_fn()).unwrap();
    let b = MseResponder::new(lookup, c.b_policy, &mut rng.as_fn());
    run(a, b, &c.splits, &c.b_payload)
}

/// Both sides established with `method`; IA and B's payload arrive intact;
/// then a message each way through the ciphers.
fn check_established(o: Outcome, c: &Case, method: CryptoMethod) {
    let mut a = o.initiator.unwrap();
    let mut b = o.responder.unwrap();
    assert_eq!(a.cipher.method(), method);
    assert_eq!(b.cipher.method(), method);
    assert_eq!(a.info_hash, IH);
    assert_eq!(b.info_hash, IH);
    assert_eq!(b.initial_payload, c.ia);
    assert!(b.leftover_plaintext.is_empty());
    assert!(a.initial_payload.is_empty());
    assert_eq!(a.leftover_plaintext, c.b_payload);
    if let Some(hs) = Handshake::decode(&b.initial_payload).ok().flatten() {
        assert_eq!(hs.info_hash, IH);
    }

    for len in [0usize, 1, 17, 5000] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut wire = msg.clone();
        a.cipher.encrypt(&mut wire);
        if method == CryptoMethod::Rc4 && len > 16 {
            assert_ne!(wire, msg, "RC4 must change the bytes");
        }
        if method == CryptoMethod::Plaintext {
            assert_eq!(wire, msg);
        }
        b.cipher.decrypt(&mut wire);
        assert_eq!(wire, msg);
        b.cipher.encrypt(&mut wire);
        a.cipher.decrypt(&mut wire);
        assert_eq!(wire, msg);
    }
}

#[test]
fn rc4_round_trip_with_bittorrent_handshake_in_ia() {
    let c = Case::default();
    let o = run_case(&c, &known());
    // The handshake bytes never appear in clear.
    let hs = bt_handshake(b'A');
    assert!(!o.a_to_b.windows(20).any(|w| w == &hs[..20]));
    assert!(!o.b_to_a.windows(20).any(|w| w == &hs[..20]));
    check_established(o, &c, CryptoMethod::Rc4);
}

#[test]
fn plaintext_selection() {
    // The responder prefers plaintext and the initiator offers both.
    let c = Case {
        b_policy: MsePolicy {
            prefer: CryptoMethod::Plaintext,
            ..MsePolicy::default()
        },
        ..Case::default()
    };
    let o = run_case(&c, &known());
    // B's BitTorrent handshake follows step 4 in clear.
    assert_eq!(&o.b_to_a[o.b_to_a.len() - 68..], &c.b_payload[..]);
    check_established(o, &c, CryptoMethod::Plaintext);

    // The initiator offers only plaintext.
    let c = Case {
        a_policy: MsePolicy::plaintext_only(),
        ..Case::default()
    };
    check_established(run_case(&c, &known()), &c, CryptoMethod::Plaintext);
}

#[test]
fn policy_combinations() {
    let policies = [
        MsePolicy::default(),
        MsePolicy::rc4_only(),
        MsePolicy::plaintext_only(),
        MsePolicy {
            prefer: CryptoMethod::Plaintext,
            ..MsePolicy::default()
        },
    ];
    for (i, a) in policies.iter().enumerate() {
        for (j, b) in policies.iter().enumerate() {
            let c = Case {
                seed: (i * 10 + j) as u64,
                a_policy: *a,
                b_policy: *b,
                ..Case::default()
            };
            let o = run_case(&c, &known());
            match b.select(a.provide()) {
                Some(m) => check_established(o, &c, m),
                None => {
                    assert_eq!(
                        o.responder.unwrap_err(),
                        MseError::NoCommonMethod {
                            provided: a.provide()
                        },
                        "{a:?} {b:?}"
                    );
                    assert!(o.initiator.is_err());
                }
            }
        }
    }
}

#[test]
fn empty_ia_and_no_padding() {
    let c = Case {
        ia: vec![],
        b_payload: vec![],
        a_policy: MsePolicy {
            max_pad: 0,
            ..MsePolicy::default()
        },
        b_policy: MsePolicy {
            max_pad: 0,
            ..MsePolicy::default()
        },
        ..Case::default()
    };
    let o = run_case(&c, &known());
    // 96 + 20 + 20 + 8 + 4 + 2 + 0 + 2 + 0
    assert_eq!(o.a_to_b.len(), 96 + 56);
    assert_eq!(o.b_to_a.len(), 96 + 14);
    check_established(o, &c, CryptoMethod::Rc4);
}

#[test]
fn largest_ia() {
    let c = Case {
        ia: (0..u16::MAX).map(|i| i as u8).collect(),
        ..Case::default()
    };
    check_established(run_case(&c, &known()), &c, CryptoMethod::Rc4);
    let mut rng = TestRng::new(3);
    let too_long = vec![0u8; 65536];
    assert_eq!(
        MseInitiator::new(IH, &too_long, MsePolicy::default(), &mut rng.as_fn()).unwrap_err(),
        MseError::InitialPayloadTooLong {
            len: 65536,
            max: 65535
        }
    );
}

#[test]
fn ia_over_the_responders_cap_is_refused() {
    let c = Case {
        b_policy: MsePolicy {
            max_initial_payload: 67,
            ..MsePolicy::default()
        },
        ..Case::default()
    };
    assert_eq!(
        run_case(&c, &known()).responder.unwrap_err(),
        MseError::InitialPayloadTooLong { len: 68, max: 67 }
    );
}

#[test]
fn unknown_info_hash_is_refused() {
    let others: KnownTorrents = [Sha1Hash([1; 20]), Sha1Hash([2; 20])].into_iter().collect();
    let o = run_case(&Case::default(), &others);
    assert_eq!(o.responder.unwrap_err(), MseError::UnknownInfoHash);
    let empty = KnownTorrents::new();
    let o = run_case(&Case::default(), &empty);
    assert_eq!(o.responder.unwrap_err(), MseError::UnknownInfoHash);
}

#[test]
fn lookup_by_closure_and_arc() {
    let c = Case::default();
    let mut rng = TestRng::new(9);
    let a = MseInitiator::new(IH, &c.ia, c.a_policy, &mut rng.as_fn()).unwrap();
    let want = keys::req2(&IH);
    let lookup = LookupFn(move |r: &[u8; 20]| (*r == want).then_some(IH));
    let b = MseResponder::new(lookup, c.b_policy, &mut rng.as_fn());
    assert_eq!(run(a, b, &[], &[]).responder.unwrap().info_hash, IH);

    let shared = std::sync::Arc::new(known());
    let a = MseInitiator::new(IH, &c.ia, c.a_policy, &mut rng.as_fn()).unwrap();
    let b = MseResponder::new(shared.clone(), c.b_policy, &mut rng.as_fn());
    assert!(run(a, b, &[1, 2, 3], &[]).responder.is_ok());

    let mut k = known();
    assert_eq!(k.len(), 3);
    assert!(k.remove(&IH));
    assert!(!k.remove(&IH));
    assert!(!k.is_empty());
}

#[test]
fn finished_after_established_or_error() {
    let mut rng = TestRng::new(5);
    let lookup = known();
    let mut a = MseInitiator::new(IH, b"x", MsePolicy::default(), &mut rng.as_fn()).unwrap();
    let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
    let m1 = a.poll_send().unwrap();
    assert!(a.poll_send().is_none());
    assert!(matches!(b.receive(&m1).unwrap(), Progress::NeedMore));
    a.receive(&b.poll_send().unwrap()).unwrap();
    assert!(matches!(
        b.receive(&a.poll_send().unwrap()).unwrap(),
        Progress::Established(_)
    ));
    assert!(b.is_finished());
    assert_eq!(b.receive(b"more").unwrap_err(), MseError::Finished);
    assert!(matches!(
        a.receive(&b.poll_send().unwrap()).unwrap(),
        Progress::Established(_)
    ));
    assert_eq!(a.receive(b"more").unwrap_err(), MseError::Finished);

    let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
    assert_eq!(b.receive(&[0; 96]).unwrap_err(), MseError::BadPublicKey);
    assert!(b.is_finished());
    assert_eq!(b.receive(&[0; 96]).unwrap_err(), MseError::Finished);
}

/// Random bytes in place of `Ya, PadA, req1`: refused exactly when the
/// 628-byte window is full, having never held more than the window.
#[test]
fn responder_refuses_garbage_within_the_bound() {
    let lookup = known();
    for seed in 0..4u64 {
        let mut rng = TestRng::new(100 + seed);
        let mut garbage = vec![0u8; 5000];
        rng.fill(&mut garbage);
        let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
        let mut fed = 0;
        let err = loop {
            match b.receive(&garbage[fed..fed + 1]) {
                Ok(Progress::NeedMore) => {
                    fed += 1;
                    assert!(b.buffered() <= RESPONDER_SYNC_LIMIT - 96);
                }
                Ok(Progress::Established(_)) => panic!("garbage established"),
                Err(e) => break e,
            }
        };
        assert_eq!(fed + 1, RESPONDER_SYNC_LIMIT);
        assert_eq!(err, MseError::Req1NotFound { limit: 628 });
        // Yb, PadB went out after the first 96 bytes.
        assert!(b.poll_send().unwrap().len() >= 96);

        // All at once: same answer, nothing kept.
        let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
        assert_eq!(
            b.receive(&garbage).unwrap_err(),
            MseError::Req1NotFound { limit: 628 }
        );
        assert_eq!(b.buffered(), 0);
    }
}

/// A responder that answers `Yb` then garbage: refused at byte 616.
#[test]
fn initiator_refuses_garbage_within_the_bound() {
    for seed in 0..4u64 {
        let mut rng = TestRng::new(200 + seed);
        let mut garbage = vec![0u8; 3000];
        rng.fill(&mut garbage);
        let mut a = MseInitiator::new(IH, b"ia", MsePolicy::default(), &mut rng.as_fn()).unwrap();
        assert!(a.poll_send().is_some());
        let mut fed = 0;
        let err = loop {
            match a.receive(&garbage[fed..fed + 1]) {
                Ok(Progress::NeedMore) => {
                    fed += 1;
                    assert!(a.buffered() <= INITIATOR_SYNC_LIMIT - 96);
                }
                Ok(Progress::Established(_)) => panic!("garbage established"),
                Err(e) => break e,
            }
        };
        assert_eq!(fed + 1, INITIATOR_SYNC_LIMIT);
        assert_eq!(err, MseError::VcNotFound { limit: 616 });
        // Step 3 was queued once Yb had arrived.
        assert!(a.poll_send().unwrap().len() >= 40 + 16 + 2);
    }
}

/// Builds the initiator's side by hand (with the test's own RC4), to send
/// what a correct initiator never would.
struct ManualInitiator {
    secret: [u8; 96],
    m1: Vec<u8>,
}

impl ManualInitiator {
    fn new() -> Self {
        let x = [0x11u8; 20];
        ManualInitiator {
            secret: [0; 96],
            m1: dh::public_key(&x).to_vec(),
        }
    }

    /// Feeds `m1` to `b`, learns S from its reply.
    fn start<L: SkeyLookup>(&mut self, b: &mut MseResponder<L>) {
        assert!(matches!(b.receive(&self.m1).unwrap(), Progress::NeedMore));
        let reply = b.poll_send().unwrap();
        let yb: [u8; 96] = reply[..96].try_into().unwrap();
        self.secret = dh::shared_secret(&[0x11; 20], &yb).unwrap();
    }

    fn step3(&self, skey: &Sha1Hash, plain: &[u8]) -> Vec<u8> {
        let mut out = sha1(&[b"req1", &self.secret]).to_vec();
        let req2 = sha1(&[b"req2", &skey.0]);
        let req3 = sha1(&[b"req3", &self.secret]);
        out.extend(req2.iter().zip(req3).map(|(x, y)| x ^ y));
        let mut enc = plain.to_vec();
        TestRc4::new(&sha1(&[b"keyA", &self.secret, &skey.0]), 1024).xor(&mut enc);
        out.extend_from_slice(&enc);
        out
    }
}

fn step3_plain(vc: [u8; 8], provide: u32, pad: u16, ia: &[u8]) -> Vec<u8> {
    let mut p = vc.to_vec();
    p.extend_from_slice(&provide.to_be_bytes());
    p.extend_from_slice(&pad.to_be_bytes());
    p.resize(p.len() + usize::from(pad).min(600), 0);
    p.extend_from_slice(&(ia.len() as u16).to_be_bytes());
    p.extend_from_slice(ia);
    p
}

#[test]
fn responder_refusals() {
    let lookup = known();
    let cases: Vec<(Vec<u8>, MseError)> = vec![
        (
            step3_plain([0, 0, 0, 0, 0, 0, 0, 1], 2, 0, b""),
            MseError::BadVc,
        ),
        (
            step3_plain(VC, 0x04, 0, b""),
            MseError::NoCommonMethod { provided: 4 },
        ),
        (
            step3_plain(VC, 0, 0, b""),
            MseError::NoCommonMethod { provided: 0 },
        ),
        (
            step3_plain(VC, 2, 513, b""),
            MseError::PadTooLong { len: 513 },
        ),
    ];
    for (plain, want) in cases {
        let mut rng = TestRng::new(7);
        let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
        let mut m = ManualInitiator::new();
        m.start(&mut b);
        assert_eq!(b.receive(&m.step3(&IH, &plain)).unwrap_err(), want);
    }

    // The same hand-made initiator, well-formed, with 512 bytes of PadC and
    // a provide with unknown extra bits: accepted.
    let mut rng = TestRng::new(7);
    let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
    let mut m = ManualInitiator::new();
    m.start(&mut b);
    let step3 = m.step3(&IH, &step3_plain(VC, 0xff00_0003, 512, b"hello"));
    let Progress::Established(e) = b.receive(&step3).unwrap() else {
        panic!("not established");
    };
    assert_eq!(e.initial_payload, b"hello");
    assert_eq!(e.cipher.method(), CryptoMethod::Rc4);

    // A responder that only allows plaintext with a peer that provides RC4.
    let mut b = MseResponder::new(&lookup, MsePolicy::plaintext_only(), &mut rng.as_fn());
    let mut m = ManualInitiator::new();
    m.start(&mut b);
    assert_eq!(
        b.receive(&m.step3(&IH, &step3_plain(VC, 2, 0, b"")))
            .unwrap_err(),
        MseError::NoCommonMethod { provided: 2 }
    );
}

/// The responder's side by hand, for the initiator's refusals.
fn initiator_gets_step4(policy: MsePolicy, select: u32, pad: u16) -> Result<Progress, MseError> {
    let mut rng = TestRng::new(8);
    let mut a = MseInitiator::new(IH, b"ia", policy, &mut rng.as_fn()).unwrap();
    let ya: [u8; 96] = a.poll_send().unwrap()[..96].try_into().unwrap();
    let xb = [0x22u8; 20];
    let secret = dh::shared_secret(&xb, &ya).unwrap();
    let mut m2 = dh::public_key(&xb).to_vec();
    m2.extend_from_slice(b"some padB");
    assert!(matches!(a.receive(&m2)?, Progress::NeedMore));
    let mut p = VC.to_vec();
    p.extend_from_slice(&select.to_be_bytes());
    p.extend_from_slice(&pad.to_be_bytes());
    p.resize(p.len() + usize::from(pad), 0);
    TestRc4::new(&sha1(&[b"keyB", &secret, &IH.0]), 1024).xor(&mut p);
    a.receive(&p)
}

#[test]
fn initiator_refusals() {
    assert!(matches!(
        initiator_gets_step4(MsePolicy::default(), 2, 512),
        Ok(Progress::Established(_))
    ));
    assert_eq!(
        initiator_gets_step4(MsePolicy::default(), 2, 513).unwrap_err(),
        MseError::PadTooLong { len: 513 }
    );
    assert_eq!(
        initiator_gets_step4(MsePolicy::rc4_only(), 1, 0).unwrap_err(),
        MseError::BadSelect { selected: 1 }
    );
    assert_eq!(
        initiator_gets_step4(MsePolicy::default(), 3, 0).unwrap_err(),
        MseError::BadSelect { selected: 3 }
    );
    assert_eq!(
        initiator_gets_step4(MsePolicy::default(), 0, 0).unwrap_err(),
        MseError::BadSelect { selected: 0 }
    );
}

#[test]
fn classification() {
    let bt = bt_handshake(1);
    assert_eq!(classify_incoming(&bt), Incoming::PlainBitTorrent);
    assert_eq!(classify_incoming(&bt[..20]), Incoming::PlainBitTorrent);
    for n in 1..20 {
        assert_eq!(classify_incoming(&bt[..n]), Incoming::NeedMore, "{n}");
    }
    assert_eq!(classify_incoming(b""), Incoming::NeedMore);
    assert_eq!(classify_incoming(b"\x13BitTorrent protocoX"), Incoming::Mse);
    assert_eq!(classify_incoming(b"\x13Bat"), Incoming::Mse);

    let hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    assert_eq!(classify_incoming(&hello), Incoming::Tls);
    assert_eq!(classify_incoming(&hello[..6]), Incoming::Tls);
    for n in 1..6 {
        assert_eq!(classify_incoming(&hello[..n]), Incoming::NeedMore, "{n}");
    }
    assert_eq!(classify_incoming(&[0x16, 0x03, 0x09]), Incoming::Mse);
    assert_eq!(classify_incoming(&[0x16, 0x04]), Incoming::Mse);
    assert_eq!(
        classify_incoming(&[0x16, 0x03, 0x03, 0, 5, 0x02]),
        Incoming::Mse
    );

    // Our own initiator's first bytes are classified as MSE.
    for seed in 0..50 {
        let mut rng = TestRng::new(seed);
        let mut a = MseInitiator::new(IH, b"", MsePolicy::default(), &mut rng.as_fn()).unwrap();
        let first = a.poll_send().unwrap();
        let mut n = 1;
        while classify_incoming(&first[..n]) == Incoming::NeedMore {
            n += 1;
            assert!(n <= CLASSIFY_MAX_BYTES);
        }
        assert_eq!(classify_incoming(&first[..n]), Incoming::Mse);
    }
}

#[test]
fn fuzz_entry_point_smoke() {
    let mut rng = TestRng::new(42);
    for i in 0..200u32 {
        let mut data = vec![0u8; (i as usize * 37) % 1500];
        rng.fill(&mut data);
        if let Some(m) = data.first_mut() {
            *m = (i % 4) as u8;
        }
        fuzz_mse(&data);
    }
    fuzz_mse(&[]);
    fuzz_mse(&[1]);
    // Mode 1 with a correct VC, RC4 provide, no pad, a 3-byte IA.
    let mut data = vec![1u8, 5];
    data.extend_from_slice(&step3_plain(VC, 2, 0, b"abc"));
    fuzz_mse(&data);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any split of both streams (down to single bytes), any seed and so any
    /// padding lengths, any IA: both sides agree.
    #[test]
    fn arbitrary_splits(
        seed in any::<u64>(),
        splits in proptest::collection::vec(1usize..700, 0..8),
        byte_by_byte in any::<bool>(),
        ia in proptest::collection::vec(any::<u8>(), 0..300),
        b_payload in proptest::collection::vec(any::<u8>(), 0..300),
        plaintext in any::<bool>(),
    ) {
        let c = Case {
            seed,
            splits: if byte_by_byte { vec![1] } else { splits },
            ia,
            b_payload,
            b_policy: MsePolicy {
                prefer: if plaintext { CryptoMethod::Plaintext } else { CryptoMethod::Rc4 },
                ..MsePolicy::default()
            },
            ..Case::default()
        };
        let o = run_case(&c, &known());
        // Pads are within bounds on the wire.
        prop_assert!(o.a_to_b.len() <= 96 + 512 + 40 + 14 + 512 + 2 + c.ia.len());
        prop_assert!(o.b_to_a.len() <= 96 + 512 + 14 + 512 + c.b_payload.len());
        let method = if plaintext { CryptoMethod::Plaintext } else { CryptoMethod::Rc4 };
        check_established(o, &c, method);
    }

    /// Arbitrary bytes after a valid key never make the responder hold more
    /// than the bound, nor panic.
    #[test]
    fn responder_bounded_on_any_input(
        seed in any::<u64>(),
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        split in 1usize..100,
    ) {
        let lookup = known();
        let mut rng = TestRng::new(seed);
        let mut b = MseResponder::new(&lookup, MsePolicy::default(), &mut rng.as_fn());
        for c in data.chunks(split) {
            match b.receive(c) {
                Ok(Progress::NeedMore) => prop_assert!(b.buffered() <= RESPONDER_SYNC_LIMIT),
                Ok(Progress::Established(_)) => prop_assert!(false, "established on noise"),
                Err(_) => break,
            }
        }
    }
}
