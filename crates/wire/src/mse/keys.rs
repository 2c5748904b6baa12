//! Hashes and keys derived from the shared secret `S` and the torrent's
//! `SKEY` (its 20-byte info hash), as the MSE specification names them.
//!
//! ```text
//! HASH(a, b, ...) = SHA-1(a || b || ...)
//! req1  = HASH("req1", S)                 sent in clear: the responder syncs on it
//! req2  = HASH("req2", SKEY)              sent as req2 xor req3: names the torrent
//! req3  = HASH("req3", S)
//! keyA  = HASH("keyA", S, SKEY)           RC4 key, initiator -> responder
//! keyB  = HASH("keyB", S, SKEY)           RC4 key, responder -> initiator
//! ```

use btl_types::Sha1Hash;
use sha1::{Digest, Sha1};

use super::dh::KEY_LEN;

fn hash(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `HASH('req1', S)`.
pub fn req1(secret: &[u8; KEY_LEN]) -> [u8; 20] {
    hash(&[b"req1", secret])
}

/// `HASH('req2', SKEY)`: what a responder looks torrents up by (see
/// [`super::SkeyLookup`]).
pub fn req2(skey: &Sha1Hash) -> [u8; 20] {
    hash(&[b"req2", &skey.0])
}

/// `HASH('req3', S)`.
pub fn req3(secret: &[u8; KEY_LEN]) -> [u8; 20] {
    hash(&[b"req3", secret])
}

/// `HASH('keyA', S, SKEY)`: the RC4 key of the initiator-to-responder
/// direction.
pub fn key_a(secret: &[u8; KEY_LEN], skey: &Sha1Hash) -> [u8; 20] {
    hash(&[b"keyA", secret, &skey.0])
}

/// `HASH('keyB', S, SKEY)`: the RC4 key of the responder-to-initiator
/// direction.
pub fn key_b(secret: &[u8; KEY_LEN], skey: &Sha1Hash) -> [u8; 20] {
    hash(&[b"keyB", secret, &skey.0])
}

/// `a xor b`.
pub(crate) fn xor20(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}
