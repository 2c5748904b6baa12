//! The responder (side B, the incoming connection): learns which torrent the
//! peer wants from `HASH('req2', SKEY) xor HASH('req3', S)`.

use std::collections::HashMap;
use std::sync::Arc;

use btl_types::Sha1Hash;

use super::dh::{PrivateKey, KEY_LEN};
use super::rc4::{Cipher, Rc4, StreamCipher};
use super::{
    draw_handshake_randomness, find, keys, take, CryptoMethod, Established, MseError, MsePolicy,
    Progress, MAX_PAD, RESPONDER_SYNC_LIMIT, VC,
};

/// Finds the torrent a peer asks for by `HASH('req2', SKEY)`.
///
/// Implemented by [`KnownTorrents`] (a precomputed map), by shared
/// references and `Arc`s of implementations, and by closures wrapped in
/// [`LookupFn`] (e.g. over the node's own torrent table, keyed with
/// [`keys::req2`]).
pub trait SkeyLookup {
    /// The info hash `SKEY` with `HASH('req2', SKEY) == req2`, if we serve it.
    fn find_skey(&self, req2: &[u8; 20]) -> Option<Sha1Hash>;
}

impl<T: SkeyLookup + ?Sized> SkeyLookup for &T {
    fn find_skey(&self, req2: &[u8; 20]) -> Option<Sha1Hash> {
        (**self).find_skey(req2)
    }
}

impl<T: SkeyLookup + ?Sized> SkeyLookup for Arc<T> {
    fn find_skey(&self, req2: &[u8; 20]) -> Option<Sha1Hash> {
        (**self).find_skey(req2)
    }
}

/// A closure as an [`SkeyLookup`]: `LookupFn(|req2| table.get(req2).copied())`.
#[derive(Clone, Copy, Debug)]
pub struct LookupFn<F>(pub F);

impl<F: Fn(&[u8; 20]) -> Option<Sha1Hash>> SkeyLookup for LookupFn<F> {
    fn find_skey(&self, req2: &[u8; 20]) -> Option<Sha1Hash> {
        (self.0)(req2)
    }
}

/// The info hashes we serve, keyed by `HASH('req2', info_hash)`.
#[derive(Clone, Debug, Default)]
pub struct KnownTorrents {
    by_req2: HashMap<[u8; 20], Sha1Hash>,
}

impl KnownTorrents {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a torrent (its 20-byte wire info hash).
    pub fn insert(&mut self, info_hash: Sha1Hash) {
        self.by_req2.insert(keys::req2(&info_hash), info_hash);
    }

    /// Removes a torrent; true if it was there.
    pub fn remove(&mut self, info_hash: &Sha1Hash) -> bool {
        self.by_req2.remove(&keys::req2(info_hash)).is_some()
    }

    /// Number of torrents.
    pub fn len(&self) -> usize {
        self.by_req2.len()
    }

    /// True if there is none.
    pub fn is_empty(&self) -> bool {
        self.by_req2.is_empty()
    }
}

impl FromIterator<Sha1Hash> for KnownTorrents {
    fn from_iter<I: IntoIterator<Item = Sha1Hash>>(iter: I) -> Self {
        let mut t = KnownTorrents::new();
        for ih in iter {
            t.insert(ih);
        }
        t
    }
}

impl SkeyLookup for KnownTorrents {
    fn find_skey(&self, req2: &[u8; 20]) -> Option<Sha1Hash> {
        self.by_req2.get(req2).copied()
    }
}

/// Where the responder is.
#[derive(Debug)]
enum State {
    /// Waiting for the 96 bytes of `Ya`.
    PublicKey,
    /// Sent `Yb, PadB`; scanning for `HASH('req1', S)` behind `PadA`.
    Req1 {
        secret: Box<[u8; KEY_LEN]>,
        req1: [u8; 20],
    },
    /// Waiting for `HASH('req2', SKEY) xor HASH('req3', S)`.
    Skey { secret: Box<[u8; KEY_LEN]> },
    /// Waiting for `VC, crypto_provide, len(PadC)` (14 bytes).
    Provide { skey: Sha1Hash, enc: Rc4, dec: Rc4 },
    /// Waiting for `PadC, len(IA)`.
    PadC {
        skey: Sha1Hash,
        enc: Rc4,
        dec: Rc4,
        provided: u32,
        len: usize,
    },
    /// Waiting for `IA`.
    Ia {
        skey: Sha1Hash,
        enc: Rc4,
        dec: Rc4,
        provided: u32,
        len: usize,
    },
    /// Established, or failed.
    Finished,
}

/// The MSE/PE handshake of an incoming connection, sans-IO.
///
/// ```text
/// receive(Ya, PadA...)  -> poll_send(): Yb, PadB
/// receive(... HASH('req1',S), HASH('req2',SKEY) xor HASH('req3',S),
///         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA), IA))
///                       -> Progress::Established, poll_send(): ENCRYPT(VC, crypto_select, len(PadD), PadD)
/// ```
///
/// Call [`MseResponder::poll_send`] after every [`MseResponder::receive`] and
/// send what it returns before anything else; in particular the last
/// handshake message is queued when `Established` is returned, and must go
/// out before the first bytes encrypted with the returned cipher.
#[derive(Debug)]
pub struct MseResponder<L> {
    lookup: L,
    policy: MsePolicy,
    private_key: PrivateKey,
    pad_b: Vec<u8>,
    pad_d_len: u16,
    out: Vec<u8>,
    buf: Vec<u8>,
    state: State,
}

impl<L: SkeyLookup> MseResponder<L> {
    /// Starts the handshake of an incoming connection; `lookup` knows the
    /// torrents we serve.
    ///
    /// `rng` fills buffers with random bytes; it is called here only (the
    /// private key, `PadB`, and the length of `PadD`).
    pub fn new(lookup: L, policy: MsePolicy, rng: &mut impl FnMut(&mut [u8])) -> Self {
        let (private_key, pad_b, pad_d_len) = draw_handshake_randomness(rng, &policy);
        MseResponder {
            lookup,
            policy,
            private_key,
            pad_b,
            pad_d_len,
            out: Vec::new(),
            buf: Vec::new(),
            state: State::PublicKey,
        }
    }

    /// Bytes to send to the peer, if any are pending.
    pub fn poll_send(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// Feeds bytes received from the peer (from the first byte of the
    /// connection on, in any split).
    ///
    /// After an error, or once [`Progress::Established`] was returned, the
    /// handshake is finished and further calls return
    /// [`MseError::Finished`].
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Progress, MseError> {
        if matches!(self.state, State::Finished) {
            return Err(MseError::Finished);
        }
        self.buf.extend_from_slice(bytes);
        let result = self.advance();
        if result.is_err() {
            self.state = State::Finished;
            self.buf = Vec::new();
        }
        result
    }

    /// Bytes received and held until the next step can be parsed. After a
    /// `receive` that returned [`Progress::NeedMore`] this is at most
    /// `max(RESPONDER_SYNC_LIMIT, 514, policy.max_initial_payload)`.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True once the handshake has been established or has failed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    fn advance(&mut self) -> Result<Progress, MseError> {
        loop {
            match std::mem::replace(&mut self.state, State::Finished) {
                State::PublicKey => {
                    let Some(ya) = take(&mut self.buf, KEY_LEN) else {
                        self.state = State::PublicKey;
                        return Ok(Progress::NeedMore);
                    };
                    let mut peer = [0u8; KEY_LEN];
                    peer.copy_from_slice(&ya);
                    let secret = Box::new(self.private_key.shared_secret(&peer)?);
                    self.out.extend_from_slice(&self.private_key.public_key());
                    self.out.append(&mut self.pad_b);
                    let req1 = keys::req1(&secret);
                    self.state = State::Req1 { secret, req1 };
                }
                State::Req1 { secret, req1 } => {
                    // HASH('req1', S) must end within PadA's maximum + 20
                    // bytes after Ya.
                    let window = MAX_PAD + req1.len();
                    let scan = &self.buf[..self.buf.len().min(window)];
                    match find(scan, &req1) {
                        Some(at) => {
                            self.buf.drain(..at + req1.len());
                            self.state = State::Skey { secret };
                        }
                        None if self.buf.len() >= window => {
                            return Err(MseError::Req1NotFound {
                                limit: RESPONDER_SYNC_LIMIT,
                            })
                        }
                        None => {
                            self.state = State::Req1 { secret, req1 };
                            return Ok(Progress::NeedMore);
                        }
                    }
                }
                State::Skey { secret } => {
                    let Some(b) = take(&mut self.buf, 20) else {
                        self.state = State::Skey { secret };
                        return Ok(Progress::NeedMore);
                    };
                    let mut obfuscated = [0u8; 20];
                    obfuscated.copy_from_slice(&b);
                    let req2 = keys::xor20(&obfuscated, &keys::req3(&secret));
                    let skey = self
                        .lookup
                        .find_skey(&req2)
                        .ok_or(MseError::UnknownInfoHash)?;
                    let dec = Rc4::mse(&keys::key_a(&secret, &skey));
                    let enc = Rc4::mse(&keys::key_b(&secret, &skey));
                    self.state = State::Provide { skey, enc, dec };
                }
                State::Provide { skey, enc, mut dec } => {
                    let Some(mut b) = take(&mut self.buf, 14) else {
                        self.state = State::Provide { skey, enc, dec };
                        return Ok(Progress::NeedMore);
                    };
                    dec.apply(&mut b);
                    if b[..8] != VC {
                        return Err(MseError::BadVc);
                    }
                    let provided = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                    let pad = u16::from_be_bytes([b[12], b[13]]);
                    if usize::from(pad) > MAX_PAD {
                        return Err(MseError::PadTooLong { len: pad });
                    }
                    // Fail before reading the rest if we cannot agree.
                    self.policy
                        .select(provided)
                        .ok_or(MseError::NoCommonMethod { provided })?;
                    self.state = State::PadC {
                        skey,
                        enc,
                        dec,
                        provided,
                        len: usize::from(pad),
                    };
                }
                State::PadC {
                    skey,
                    enc,
                    mut dec,
                    provided,
                    len,
                } => {
                    let Some(mut b) = take(&mut self.buf, len + 2) else {
                        self.state = State::PadC {
                            skey,
                            enc,
                            dec,
                            provided,
                            len,
                        };
                        return Ok(Progress::NeedMore);
                    };
                    dec.apply(&mut b);
                    let ia_len = usize::from(u16::from_be_bytes([b[len], b[len + 1]]));
                    let max = usize::from(self.policy.max_initial_payload);
                    if ia_len > max {
                        return Err(MseError::InitialPayloadTooLong { len: ia_len, max });
                    }
                    self.state = State::Ia {
                        skey,
                        enc,
                        dec,
                        provided,
                        len: ia_len,
                    };
                }
                State::Ia {
                    skey,
                    enc,
                    dec,
                    provided,
                    len,
                } => {
                    if self.buf.len() < len {
                        self.state = State::Ia {
                            skey,
                            enc,
                            dec,
                            provided,
                            len,
                        };
                        return Ok(Progress::NeedMore);
                    }
                    return Ok(Progress::Established(Box::new(
                        self.finish(skey, enc, dec, provided, len)?,
                    )));
                }
                State::Finished => return Err(MseError::Finished),
            }
        }
    }

    /// Decrypts IA, selects the method and queues the fourth message.
    fn finish(
        &mut self,
        skey: Sha1Hash,
        mut enc: Rc4,
        mut dec: Rc4,
        provided: u32,
        ia_len: usize,
    ) -> Result<Established, MseError> {
        let mut initial_payload: Vec<u8> = self.buf.drain(..ia_len).collect();
        dec.apply(&mut initial_payload);
        let method = self
            .policy
            .select(provided)
            .ok_or(MseError::NoCommonMethod { provided })?;

        let start = self.out.len();
        self.out.extend_from_slice(&VC);
        self.out.extend_from_slice(&method.bit().to_be_bytes());
        self.out.extend_from_slice(&self.pad_d_len.to_be_bytes());
        self.out
            .resize(self.out.len() + usize::from(self.pad_d_len), 0);
        enc.apply(&mut self.out[start..]);

        let mut cipher = match method {
            CryptoMethod::Rc4 => Cipher::new(StreamCipher::rc4(enc), StreamCipher::rc4(dec)),
            CryptoMethod::Plaintext => Cipher::plaintext(),
        };
        let mut leftover = std::mem::take(&mut self.buf);
        cipher.decrypt(&mut leftover);
        Ok(Established {
            cipher,
            info_hash: skey,
            initial_payload,
            leftover_plaintext: leftover,
        })
    }
}
