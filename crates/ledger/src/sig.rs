//! The ledger's transaction signature rule, and batch verification.
//!
//! Transactions are signed with ordinary Ed25519 (RFC 8032). A validator
//! accepts a signature `(R, s)` by public key `A` over message `M` when:
//!
//! - `s` is a canonical scalar (`s < ℓ`);
//! - `A` and `R` decode to curve points (an encoding whose y is not reduced
//!   mod p is accepted, as ZIP 215 specifies), and `A` is not of small
//!   order;
//! - the *cofactored* equation holds: `[8]([s]B − R − [k]A) = 0` where
//!   `k = SHA-512(R ‖ A ‖ M) mod ℓ` over the encodings as given.
//!
//! This is the ZIP 215 rule (also used by CometBFT and by Malachite's own
//! vote signatures), with small-order public keys refused: such a key has
//! no secret, and the cofactored equation would let anyone sign for it.
//! Every signature an honest RFC 8032 signer makes is valid under it.
//!
//! Why this rule and not RFC 8032's "strict" one: with the cofactored
//! equation, checking many signatures at once ([`verify_batch`]) gives
//! exactly the same answers as checking them one by one ([`verify`]). With
//! the cofactorless equation a crafted signature could pass or fail a batch
//! by chance, and validators batching differently could disagree on a
//! block. A batch costs about half of one-by-one checks or less (see
//! BENCHMARKS.md), and every validator checks every transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// One signature to check: public key, message, signature.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The signer's public key.
    pub key: &'a [u8; 32],
    /// The signed message.
    pub msg: &'a [u8],
    /// The signature (`R ‖ s`).
    pub sig: &'a [u8; 64],
}

/// A signature decoded for the equation.
struct Prepared {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Decoded keys remembered across calls (signers repeat: validators vote
/// every block, creators register many torrents). Decoding a key is a
/// field exponentiation, about a tenth of a verification.
static KEY_CACHE: Mutex<Option<HashMap<[u8; 32], Option<EdwardsPoint>>>> = Mutex::new(None);

/// At most this many keys are remembered; the cache starts over when full
/// (about 12 MiB).
const KEY_CACHE_MAX: usize = 65_536;

/// A public key as a point, if it is a valid key (decodes, and is not of
/// small order).
fn key_point(key: &[u8; 32]) -> Option<EdwardsPoint> {
    if let Ok(mut guard) = KEY_CACHE.lock() {
        if let Some(known) = guard.as_ref().and_then(|m| m.get(key)) {
            return *known;
        }
        let point = decode_key(key);
        let map = guard.get_or_insert_with(HashMap::new);
        if map.len() >= KEY_CACHE_MAX {
            map.clear();
        }
        map.insert(*key, point);
        return point;
    }
    decode_key(key)
}

fn decode_key(key: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*key)
        .decompress()
        .filter(|a| !a.is_small_order())
}

/// Decodes a signature for the equation; `a` is the key's point (see
/// [`key_point`]).
fn prepare(item: &Item<'_>, a: Option<EdwardsPoint>) -> Option<Prepared> {
    let a = a?;
    let (r_bytes, s_bytes) = item.sig.split_at(32);
    let s_arr: [u8; 32] = s_bytes.try_into().ok()?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_arr))?;
    let r_arr: [u8; 32] = r_bytes.try_into().ok()?;
    let r = CompressedEdwardsY(r_arr).decompress()?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(item.key);
    h.update(item.msg);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Some(Prepared { a, r, s, k })
}

fn check_one(p: &Prepared) -> bool {
    // [k](−A) + [s]B − R, times the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-p.a, &p.s);
    (sb_minus_ka - p.r).mul_by_cofactor().is_identity()
}

/// Whether `sig` is a valid signature by `key` over `msg` under the
/// ledger's rule (see the module docs).
pub fn verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    prepare(&Item { key, msg, sig }, key_point(key)).is_some_and(|p| check_one(&p))
}

/// Below this many signatures a batch is no cheaper than single checks.
const MIN_BATCH: usize = 4;

/// Checks many signatures; entry `i` of the result is whether `items[i]`
/// is valid, with exactly the answers [`verify`] gives.
///
/// All valid signatures are checked with one multi-scalar multiplication:
/// `[8]([Σ zᵢsᵢ]B − Σ [zᵢ]Rᵢ − Σ [zᵢkᵢ]Aᵢ) = 0`, with 128-bit weights `zᵢ`
/// derived by hashing every signature, key and `k` in the batch (so they
/// cannot be chosen to cancel a bad signature). Repeated keys share one
/// term. If the batch fails, each signature is checked alone.
pub fn verify_batch(items: &[Item<'_>]) -> Vec<bool> {
    // Keys are decoded once each: `key_point` remembers them.
    let prepared: Vec<Option<Prepared>> =
        items.iter().map(|i| prepare(i, key_point(i.key))).collect();
    let mut ok: Vec<bool> = prepared.iter().map(Option::is_some).collect();
    let live: Vec<(usize, &Prepared)> = prepared
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
        .collect();
    if live.len() >= MIN_BATCH && batch_holds(items, &live) {
        return ok;
    }
    for (i, p) in live {
        ok[i] = check_one(p);
    }
    ok
}

/// The batch equation over the decoded signatures `live` (index into
/// `items`, decoded form).
fn batch_holds(items: &[Item<'_>], live: &[(usize, &Prepared)]) -> bool {
    let weights = weights(items, live);
    let mut b_coeff = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(2 * live.len() + 1);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(2 * live.len() + 1);
    let mut key_slot: HashMap<&[u8; 32], usize> = HashMap::with_capacity(live.len());
    for ((i, p), z) in live.iter().zip(&weights) {
        b_coeff += z * p.s;
        scalars.push(-z);
        points.push(p.r);
        let zk = -(z * p.k);
        match key_slot.get(items[*i].key) {
            Some(&slot) => scalars[slot] += zk,
            None => {
                key_slot.insert(items[*i].key, scalars.len());
                scalars.push(zk);
                points.push(p.a);
            }
        }
    }
    scalars.push(b_coeff);
    points.push(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(&scalars, &points)
        .mul_by_cofactor()
        .is_identity()
}

/// The batch weights: 128-bit, from a hash over the whole batch.
fn weights(items: &[Item<'_>], live: &[(usize, &Prepared)]) -> Vec<Scalar> {
    let mut h = Sha512::new();
    h.update(b"btl ledger signature batch v1");
    for (i, p) in live {
        h.update(items[*i].sig);
        h.update(items[*i].key);
        h.update(p.k.as_bytes());
    }
    let seed = h.finalize();
    live.iter()
        .enumerate()
        .map(|(n, _)| {
            let mut h = Sha512::new();
            h.update(seed);
            h.update((n as u64).to_le_bytes());
            let d = h.finalize();
            let mut z = [0u8; 32];
            z[..16].copy_from_slice(&d[..16]);
            z[0] |= 1; // never zero
            Scalar::from_bytes_mod_order(z)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn signed(n: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
        let k = key(n);
        (k.verifying_key().to_bytes(), k.sign(msg).to_bytes())
    }

    fn items<'a>(msgs: &'a [Vec<u8>], sigs: &'a [([u8; 32], [u8; 64])]) -> Vec<Item<'a>> {
        msgs.iter()
            .zip(sigs)
            .map(|(m, (k, s))| Item {
                key: k,
                msg: m,
                sig: s,
            })
            .collect()
    }

    #[test]
    fn honest_signatures_verify_alone_and_in_batches() {
        let msgs: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let sigs: Vec<_> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| signed((i % 7) as u8, m))
            .collect();
        let items = items(&msgs, &sigs);
        assert!(items.iter().all(|i| verify(i.key, i.msg, i.sig)));
        assert_eq!(verify_batch(&items), vec![true; 40]);
    }

    #[test]
    fn a_bad_signature_in_a_batch_is_found_and_the_rest_pass() {
        let msgs: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 33]).collect();
        let mut sigs: Vec<_> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| signed(i as u8, m))
            .collect();
        sigs[3].1[5] ^= 1; // R changed
        sigs[11].1[40] ^= 1; // s changed
        sigs[17].0 = sigs[16].0; // someone else's key
        let items = items(&msgs, &sigs);
        let got = verify_batch(&items);
        let want: Vec<bool> = items.iter().map(|i| verify(i.key, i.msg, i.sig)).collect();
        assert_eq!(got, want);
        assert_eq!(
            got.iter()
                .enumerate()
                .filter(|(_, ok)| !**ok)
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            vec![3, 11, 17]
        );
    }

    #[test]
    fn non_canonical_s_and_small_order_keys_are_refused() {
        let (k, mut s) = signed(1, b"m");
        assert!(verify(&k, b"m", &s));
        // s + ℓ: the same scalar, not canonical.
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let mut l = [0u8; 32];
        l[..16].copy_from_slice(&[
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14,
        ]);
        l[31] = 0x10;
        assert_eq!(Scalar::from_bytes_mod_order(l), Scalar::ZERO);
        let mut carry = 0u16;
        for i in 0..32 {
            let t = u16::from(s[32 + i]) + u16::from(l[i]) + carry;
            s[32 + i] = t as u8;
            carry = t >> 8;
        }
        assert!(!verify(&k, b"m", &s));
        // The identity as a key, R = identity, s = 0: every message would
        // "verify" under the bare cofactored equation.
        let mut id = [0u8; 32];
        id[0] = 1;
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&id);
        assert!(!verify(&id, b"anything", &forged));
        let items = vec![
            Item {
                key: &id,
                msg: b"anything",
                sig: &forged
            };
            8
        ];
        assert_eq!(verify_batch(&items), vec![false; 8]);
    }

    /// A key with a torsion component (A' = A + T, T of order 2) and a
    /// signature made with its secret: valid under the cofactored rule,
    /// refused by RFC 8032's strict check. Batches agree with single checks.
    #[test]
    fn mixed_order_keys_follow_the_cofactored_rule_alone_and_in_batches() {
        // y = −1 encodes (0, −1), the point of order 2.
        let mut t2 = [0xffu8; 32];
        t2[0] = 0xec;
        t2[31] = 0x7f;
        let t = CompressedEdwardsY(t2).decompress().unwrap();
        assert!(t.is_small_order() && !t.is_identity());
        let a = Scalar::from_bytes_mod_order([7; 32]);
        let big_a = (EdwardsPoint::mul_base(&a) + t).compress().to_bytes();
        let r = Scalar::from_bytes_mod_order([9; 32]);
        let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
        // Find a message whose k is odd, so [k]T ≠ 0.
        let mut msg = 0u32;
        let (sig, m) = loop {
            let m = msg.to_le_bytes();
            let mut h = Sha512::new();
            h.update(big_r);
            h.update(big_a);
            h.update(m);
            let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
            if k.as_bytes()[0] & 1 == 1 {
                let s = r + k * a;
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&big_r);
                sig[32..].copy_from_slice(s.as_bytes());
                break (sig, m);
            }
            msg += 1;
        };
        assert!(verify(&big_a, &m, &sig));
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&big_a)
            .unwrap()
            .verify_strict(&m, &ed25519_dalek::Signature::from_bytes(&sig));
        assert!(strict.is_err());
        let (k1, s1) = signed(1, b"x");
        let mut items = vec![
            Item {
                key: &k1,
                msg: b"x",
                sig: &s1
            };
            6
        ];
        items.push(Item {
            key: &big_a,
            msg: &m,
            sig: &sig,
        });
        assert_eq!(verify_batch(&items), vec![true; 7]);
    }
}
