//! Message Stream Encryption / Protocol Encryption (MSE/PE), sans-IO.
//!
//! MSE is the obfuscation layer that Azureus/Vuze, libtorrent, uTorrent and
//! Transmission put under the BitTorrent wire protocol ("encryption
//! preferred/required"). It hides the handshake from traffic classifiers; it
//! is not authenticated and not meant to resist an active attacker (native
//! peers use TLS instead, see DESIGN.md).
//!
//! # Goals
//! - Both roles: [`MseInitiator`] (outgoing, we know the info hash) and
//!   [`MseResponder`] (incoming, the peer names one of our torrents through
//!   an [`SkeyLookup`]).
//! - Sans-IO: `receive(bytes) -> Progress`, `poll_send() -> bytes`; no
//!   sockets, no clock (the caller applies the spec's 30-second timeouts).
//!   Randomness is injected as a `FnMut(&mut [u8])` that fills buffers, so
//!   tests are deterministic.
//! - Bounded: neither side holds more than the specification lets a peer
//!   send before the next synchronisation point ([`RESPONDER_SYNC_LIMIT`],
//!   [`INITIATOR_SYNC_LIMIT`]), plus, for the responder, the initial payload
//!   whose cap is in the [`MsePolicy`]. Nothing panics on input;
//!   [`fuzz_mse`] is the fuzz entry point.
//! - Ends in [`Established`]: a [`Cipher`] for the rest of the stream (RC4
//!   continuing the handshake keystreams, or plaintext), the initial payload
//!   and the bytes that followed the handshake, already decrypted.
//!
//! # Non-goals
//! - The BitTorrent handshake carried inside ([`crate::Handshake`]), and
//!   choosing between MSE and a plain connection (the caller's policy; see
//!   [`classify_incoming`] for the listening side).
//! - The old, unpublished BitComet PHE.
//!
//! # The exchange
//!
//! A is the initiator, B the responder. `Ya`, `Yb` are Diffie-Hellman public
//! keys (see [`dh`]), `S` the shared secret, `SKEY` the torrent's 20-byte
//! info hash, `HASH` SHA-1 (see [`keys`]). `ENCRYPT` is RC4 keyed with
//! `keyA` (A to B) or `keyB` (B to A), its first 1024 keystream bytes
//! discarded; `ENCRYPT2` is the negotiated method, which continues the same
//! keystreams if it is RC4.
//!
//! ```text
//! 1  A->B  Ya (96) | PadA (0..512 random)
//! 2  B->A  Yb (96) | PadB (0..512 random)
//! 3  A->B  HASH('req1', S) (20)
//!          HASH('req2', SKEY) xor HASH('req3', S) (20)
//!          ENCRYPT( VC (8 zero bytes) | crypto_provide (u32 BE)
//!                 | len(PadC) (u16 BE, <= 512) | PadC (zeros)
//!                 | len(IA) (u16 BE) | IA )
//! 4  B->A  ENCRYPT( VC | crypto_select (u32 BE) | len(PadD) (u16 BE, <= 512) | PadD )
//!          ENCRYPT2( B's payload stream ... )
//! 5  A->B  ENCRYPT2( A's payload stream ... )
//! ```
//!
//! `crypto_provide` is a bitfield of the methods A accepts (`0x01`
//! plaintext, `0x02` RC4); `crypto_select` is the one B chose. IA, the
//! initial payload, is A's first payload bytes (normally its BitTorrent
//! handshake); it is always RC4-encrypted, whatever is selected.
//!
//! # Synchronisation and bounds
//!
//! The pads have random lengths, so each side finds the end of the other's
//! pad by scanning:
//!
//! - B scans for `HASH('req1', S)`, which must end within 512 + 20 = 532
//!   bytes after `Ya`: [`RESPONDER_SYNC_LIMIT`] = 628 bytes from the start.
//! - A scans for `ENCRYPT(VC)` (the first 8 bytes of B's keystream), which
//!   must end within 512 + 8 = 520 bytes after `Yb`:
//!   [`INITIATOR_SYNC_LIMIT`] = 616 bytes from the start.
//!
//! A peer that has not synchronised by then is refused
//! ([`MseError::Req1NotFound`], [`MseError::VcNotFound`]), and at most that
//! many bytes are ever held for the scan.
//!
//! # Use
//!
//! ```
//! use btl_types::Sha1Hash;
//! use btl_wire::mse::{KnownTorrents, MseInitiator, MsePolicy, MseResponder, Progress};
//!
//! # fn main() -> Result<(), btl_wire::mse::MseError> {
//! let info_hash = Sha1Hash([7; 20]);
//! // Use the OS's random source in real code; anything that fills buffers works.
//! let mut seed = 1u8;
//! let mut rng = |buf: &mut [u8]| {
//!     for b in buf {
//!         seed = seed.wrapping_mul(13).wrapping_add(7);
//!         *b = seed;
//!     }
//! };
//! let ia = b"IA: our BitTorrent handshake";
//! let mut a = MseInitiator::new(info_hash, ia, MsePolicy::default(), &mut rng)?;
//! let known: KnownTorrents = [info_hash].into_iter().collect();
//! let mut b = MseResponder::new(&known, MsePolicy::default(), &mut rng);
//!
//! let (mut est_a, mut est_b) = (None, None);
//! while est_a.is_none() || est_b.is_none() {
//!     if let Some(bytes) = a.poll_send() {
//!         if let Progress::Established(e) = b.receive(&bytes)? { est_b = Some(e) }
//!     }
//!     if let Some(bytes) = b.poll_send() {
//!         if let Progress::Established(e) = a.receive(&bytes)? { est_a = Some(e) }
//!     }
//! }
//! let (mut est_a, est_b) = (est_a.unwrap(), est_b.unwrap());
//! assert_eq!(est_b.initial_payload, ia);
//! assert_eq!(est_b.info_hash, info_hash);
//! let mut msg = *b"hello";
//! est_a.cipher.encrypt(&mut msg);
//! let mut cipher_b = est_b.cipher;
//! cipher_b.decrypt(&mut msg);
//! assert_eq!(&msg, b"hello");
//! # Ok(())
//! # }
//! ```

pub mod dh;
mod error;
mod initiator;
pub mod keys;
mod rc4;
mod responder;

pub use error::MseError;
pub use initiator::MseInitiator;
pub use rc4::{Cipher, StreamCipher, DISCARD};
pub use responder::{KnownTorrents, LookupFn, MseResponder, SkeyLookup};

use btl_types::Sha1Hash;

use dh::{PrivateKey, KEY_LEN, PRIVATE_KEY_LEN};

/// The verification constant: 8 zero bytes.
pub const VC: [u8; 8] = [0; 8];

/// Largest `PadA`, `PadB`, `PadC` or `PadD`.
pub const MAX_PAD: usize = 512;

/// `HASH('req1', S)` must end within this many bytes from the start of the
/// connection: `Ya` (96) + `PadA` (512) + 20.
pub const RESPONDER_SYNC_LIMIT: usize = KEY_LEN + MAX_PAD + 20;

/// `ENCRYPT(VC)` must end within this many bytes from the start of the
/// connection: `Yb` (96) + `PadB` (512) + 8.
pub const INITIATOR_SYNC_LIMIT: usize = KEY_LEN + MAX_PAD + VC.len();

/// A method of `crypto_provide` / `crypto_select`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CryptoMethod {
    /// `0x01`: after the handshake the stream is not encrypted.
    Plaintext,
    /// `0x02`: after the handshake the stream stays RC4-encrypted.
    Rc4,
}

impl CryptoMethod {
    /// The bit in `crypto_provide` / `crypto_select`.
    pub fn bit(self) -> u32 {
        match self {
            CryptoMethod::Plaintext => 0x01,
            CryptoMethod::Rc4 => 0x02,
        }
    }

    /// The method whose bit is exactly `bits`.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            0x01 => Some(CryptoMethod::Plaintext),
            0x02 => Some(CryptoMethod::Rc4),
            _ => None,
        }
    }
}

/// Which methods we offer (initiator) or accept (responder), and sizes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MsePolicy {
    /// Offer/accept RC4 for the stream after the handshake.
    pub allow_rc4: bool,
    /// Offer/accept plaintext after the handshake (the handshake itself is
    /// always obfuscated).
    pub allow_plaintext: bool,
    /// The responder's choice when the peer provides both and both are
    /// allowed.
    pub prefer: CryptoMethod,
    /// Our padding lengths are drawn uniformly from `0..=max_pad` (capped at
    /// 512). 0 makes the handshake shorter and easier to fingerprint.
    pub max_pad: u16,
    /// Responder: the largest initial payload (IA) accepted. The default,
    /// 65535, is what its length field can say.
    pub max_initial_payload: u16,
}

impl Default for MsePolicy {
    /// RC4 preferred, plaintext allowed, full-size padding.
    fn default() -> Self {
        MsePolicy {
            allow_rc4: true,
            allow_plaintext: true,
            prefer: CryptoMethod::Rc4,
            max_pad: MAX_PAD as u16,
            max_initial_payload: u16::MAX,
        }
    }
}

impl MsePolicy {
    /// Only RC4 ("encryption required").
    pub fn rc4_only() -> Self {
        MsePolicy {
            allow_plaintext: false,
            ..Self::default()
        }
    }

    /// Only plaintext after an obfuscated handshake.
    pub fn plaintext_only() -> Self {
        MsePolicy {
            allow_rc4: false,
            prefer: CryptoMethod::Plaintext,
            ..Self::default()
        }
    }

    /// Whether `method` is allowed.
    pub fn allows(&self, method: CryptoMethod) -> bool {
        match method {
            CryptoMethod::Rc4 => self.allow_rc4,
            CryptoMethod::Plaintext => self.allow_plaintext,
        }
    }

    /// Our `crypto_provide` bitfield.
    pub fn provide(&self) -> u32 {
        [CryptoMethod::Plaintext, CryptoMethod::Rc4]
            .into_iter()
            .filter(|m| self.allows(*m))
            .map(CryptoMethod::bit)
            .fold(0, |a, b| a | b)
    }

    /// The responder's choice for a peer's `crypto_provide`; unknown bits
    /// are ignored.
    pub fn select(&self, provided: u32) -> Option<CryptoMethod> {
        let ok = |m: CryptoMethod| self.allows(m) && provided & m.bit() != 0;
        let other = match self.prefer {
            CryptoMethod::Rc4 => CryptoMethod::Plaintext,
            CryptoMethod::Plaintext => CryptoMethod::Rc4,
        };
        [self.prefer, other].into_iter().find(|m| ok(*m))
    }
}

/// The result of feeding bytes to a handshake.
#[derive(Debug)]
pub enum Progress {
    /// More bytes are needed (send what `poll_send` returns first).
    NeedMore,
    /// The handshake is complete.
    Established(Box<Established>),
}

/// A completed handshake.
#[derive(Debug)]
pub struct Established {
    /// The cipher for everything after the handshake.
    pub cipher: Cipher,
    /// The torrent (`SKEY`): ours as initiator, the one the peer named as
    /// responder.
    pub info_hash: Sha1Hash,
    /// Responder: the initiator's initial payload (IA), decrypted; the first
    /// bytes of its BitTorrent stream. Initiator: empty.
    pub initial_payload: Vec<u8>,
    /// Bytes received after the handshake, decrypted with `cipher`: they
    /// follow `initial_payload` in the peer's BitTorrent stream.
    pub leftover_plaintext: Vec<u8>,
}

impl Established {
    /// The peer's BitTorrent stream so far: `initial_payload` followed by
    /// `leftover_plaintext` (both are emptied).
    pub fn take_received(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.initial_payload);
        out.append(&mut self.leftover_plaintext);
        out
    }
}

/// What the first bytes of an incoming connection are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Incoming {
    /// A plain BitTorrent handshake: `0x13 "BitTorrent protocol"`.
    PlainBitTorrent,
    /// A TLS ClientHello record: `0x16 0x03 0x00..=0x04 len len 0x01`.
    Tls,
    /// Anything else: an MSE public key (`Ya`), or garbage that the
    /// responder will refuse within [`RESPONDER_SYNC_LIMIT`] bytes.
    Mse,
    /// Too few bytes to tell; read more (never more than
    /// [`CLASSIFY_MAX_BYTES`]).
    NeedMore,
}

/// The most bytes [`classify_incoming`] needs to decide.
pub const CLASSIFY_MAX_BYTES: usize = 20;

/// Tells a plain BitTorrent handshake from a TLS ClientHello from MSE, by the
/// first bytes of an incoming connection (DESIGN.md, "One listening port").
///
/// It needs at most [`CLASSIFY_MAX_BYTES`] bytes, fewer for most inputs; every
/// candidate sends at least that many before waiting for us, so reading
/// until it decides never deadlocks. An MSE key that happens to begin like a
/// TLS record (chance 2^-34) or a BitTorrent handshake (2^-160) is
/// misclassified; the connection then fails and the peer retries.
pub fn classify_incoming(first: &[u8]) -> Incoming {
    let mut bt = [0u8; 20];
    bt[0] = 19;
    bt[1..].copy_from_slice(crate::handshake::PROTOCOL);
    match first.first() {
        None => Incoming::NeedMore,
        Some(0x13) => {
            let n = first.len().min(bt.len());
            if first[..n] != bt[..n] {
                Incoming::Mse
            } else if n == bt.len() {
                Incoming::PlainBitTorrent
            } else {
                Incoming::NeedMore
            }
        }
        Some(0x16) => {
            // Record type handshake, version 3.x, length, then handshake type
            // ClientHello.
            let checks: [fn(u8) -> bool; 6] = [
                |b| b == 0x16,
                |b| b == 0x03,
                |b| b <= 0x04,
                |_| true,
                |_| true,
                |b| b == 0x01,
            ];
            for (i, check) in checks.iter().enumerate() {
                match first.get(i) {
                    None => return Incoming::NeedMore,
                    Some(&b) if !check(b) => return Incoming::Mse,
                    Some(_) => {}
                }
            }
            Incoming::Tls
        }
        Some(_) => Incoming::Mse,
    }
}

/// Draws, in this order: the private key (20 bytes), the first pad's length
/// (2 bytes) and its bytes, the encrypted pad's length (2 bytes).
fn draw_handshake_randomness(
    rng: &mut impl FnMut(&mut [u8]),
    policy: &MsePolicy,
) -> (PrivateKey, Vec<u8>, u16) {
    let max = usize::from(policy.max_pad).min(MAX_PAD);
    let draw_len = |rng: &mut dyn FnMut(&mut [u8])| {
        let mut b = [0u8; 2];
        rng(&mut b);
        // max <= 512, so the result fits a u16.
        (usize::from(u16::from_be_bytes(b)) % (max + 1)) as u16
    };
    let mut key = [0u8; PRIVATE_KEY_LEN];
    rng(&mut key);
    let mut pad = vec![0u8; usize::from(draw_len(rng))];
    rng(&mut pad);
    let encrypted_pad_len = draw_len(rng);
    (PrivateKey::from_bytes(key), pad, encrypted_pad_len)
}

/// Removes and returns the first `n` bytes of `buf`, if there are that many.
fn take(buf: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    (buf.len() >= n).then(|| buf.drain(..n).collect())
}

/// Position of the first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Fuzz entry point: MSE handshakes fed arbitrary bytes.
///
/// The first byte selects a scenario, the second how the rest is split into
/// `receive` calls:
///
/// - `0`: a responder fed the bytes raw (they must fail to synchronise or be
///   refused, and never be buffered past the bound);
/// - `1`: a responder fed a valid `Ya`, `HASH('req1', S)` and `SKEY` hash,
///   then the fuzz bytes encrypted with `keyA`, so the fuzzer controls the
///   decrypted `VC`, `crypto_provide`, pads and IA;
/// - `2`: an initiator fed a valid `Yb` and the fuzz bytes encrypted with
///   `keyB` (it controls `crypto_select` and `PadD`);
/// - otherwise, an initiator fed the bytes raw.
///
/// Panics only if a bound is broken, which is what a fuzzer should report.
pub fn fuzz_mse(data: &[u8]) {
    let (mode, split, rest) = match data {
        [m, s, rest @ ..] => (*m, usize::from(*s % 64) + 1, rest),
        _ => return,
    };
    let info_hash = Sha1Hash([0x42; 20]);
    let known: KnownTorrents = [info_hash, Sha1Hash([0x17; 20])].into_iter().collect();
    let mut counter = 0u8;
    let mut rng = |buf: &mut [u8]| {
        for b in buf {
            counter = counter.wrapping_add(0x9d);
            *b = counter.rotate_left(3) ^ 0x5a;
        }
    };
    let peer_key = PrivateKey::from_bytes([0x33; PRIVATE_KEY_LEN]);
    let peer_public = peer_key.public_key();
    let policy = MsePolicy {
        max_initial_payload: 1024,
        ..MsePolicy::default()
    };
    match mode {
        0 | 1 => {
            let mut responder = MseResponder::new(&known, policy, &mut rng);
            let input = if mode == 0 {
                rest.to_vec()
            } else {
                // Learn the responder's key from its reply to our Ya.
                let _ = responder.receive(&peer_public);
                let reply = responder.poll_send().unwrap_or_default();
                let Some(yb) = reply.get(..KEY_LEN) else {
                    return;
                };
                let mut yb_arr = [0u8; KEY_LEN];
                yb_arr.copy_from_slice(yb);
                let Ok(secret) = peer_key.shared_secret(&yb_arr) else {
                    return;
                };
                let mut input = keys::req1(&secret).to_vec();
                input
                    .extend_from_slice(&keys::xor20(&keys::req2(&info_hash), &keys::req3(&secret)));
                let mut tail = rest.to_vec();
                rc4::Rc4::mse(&keys::key_a(&secret, &info_hash)).apply(&mut tail);
                input.extend_from_slice(&tail);
                input
            };
            let bound = RESPONDER_SYNC_LIMIT.max(MAX_PAD + 2).max(1024);
            for chunk in input.chunks(split) {
                match responder.receive(chunk) {
                    Ok(Progress::NeedMore) => assert!(responder.buffered() <= bound),
                    Ok(Progress::Established(_)) | Err(_) => break,
                }
                let _ = responder.poll_send();
            }
        }
        _ => {
            let Ok(mut initiator) = MseInitiator::new(info_hash, b"ia", policy, &mut rng) else {
                return;
            };
            let input = if mode == 2 {
                let Some(ya) = initiator.poll_send() else {
                    return;
                };
                let Some(ya) = ya.get(..KEY_LEN) else {
                    return;
                };
                let mut ya_arr = [0u8; KEY_LEN];
                ya_arr.copy_from_slice(ya);
                let Ok(secret) = peer_key.shared_secret(&ya_arr) else {
                    return;
                };
                let mut input = peer_public.to_vec();
                let mut tail = VC.to_vec();
                tail.extend_from_slice(rest);
                rc4::Rc4::mse(&keys::key_b(&secret, &info_hash)).apply(&mut tail);
                input.extend_from_slice(&tail);
                input
            } else {
                rest.to_vec()
            };
            for chunk in input.chunks(split) {
                match initiator.receive(chunk) {
                    Ok(Progress::NeedMore) => {
                        assert!(initiator.buffered() <= INITIATOR_SYNC_LIMIT)
                    }
                    Ok(Progress::Established(_)) | Err(_) => break,
                }
                let _ = initiator.poll_send();
            }
        }
    }
}
