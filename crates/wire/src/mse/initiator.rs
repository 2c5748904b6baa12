//! The initiator (side A, the outgoing connection): knows the info hash.

use btl_types::Sha1Hash;

use super::dh::{PrivateKey, KEY_LEN};
use super::rc4::{Cipher, Rc4, StreamCipher};
use super::{
    draw_handshake_randomness, find, keys, take, CryptoMethod, Established, MseError, MsePolicy,
    Progress, INITIATOR_SYNC_LIMIT, MAX_PAD, VC,
};

/// Where the initiator is.
#[derive(Debug)]
enum State {
    /// Sent `Ya, PadA`; waiting for the 96 bytes of `Yb`.
    PublicKey,
    /// Sent step 3; scanning for `ENCRYPT(VC)` (`vc`) behind `PadB`. `dec`
    /// has already been advanced past `VC`.
    Vc { enc: Rc4, dec: Rc4, vc: [u8; 8] },
    /// Waiting for `crypto_select` and `len(PadD)` (6 bytes).
    Select { enc: Rc4, dec: Rc4 },
    /// Waiting for `PadD`.
    PadD {
        enc: Rc4,
        dec: Rc4,
        method: CryptoMethod,
        len: usize,
    },
    /// Established, or failed.
    Finished,
}

/// The MSE/PE handshake of an outgoing connection, sans-IO.
///
/// ```text
/// new()            -> poll_send(): Ya, PadA
/// receive(Yb, PadB...) -> poll_send(): HASH('req1',S), HASH('req2',SKEY) xor HASH('req3',S),
///                                      ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA), IA)
/// receive(... ENCRYPT(VC, crypto_select, len(PadD), PadD), payload)
///                  -> Progress::Established
/// ```
///
/// Call [`MseInitiator::poll_send`] after construction and after every
/// [`MseInitiator::receive`], and send what it returns before anything else.
#[derive(Debug)]
pub struct MseInitiator {
    info_hash: Sha1Hash,
    policy: MsePolicy,
    private_key: PrivateKey,
    pad_c_len: u16,
    initial_payload: Vec<u8>,
    out: Vec<u8>,
    buf: Vec<u8>,
    state: State,
}

impl MseInitiator {
    /// Starts a handshake for the torrent `info_hash` (the `SKEY`: the v1
    /// info hash, or the v2 one truncated to 20 bytes, as in the BitTorrent
    /// handshake).
    ///
    /// `initial_payload` (IA) is sent encrypted with the third message,
    /// before the peer has chosen a method; normally it is our 68-byte
    /// BitTorrent handshake, possibly followed by first messages. It may be
    /// empty, and is at most 65535 bytes.
    ///
    /// `rng` fills buffers with random bytes; it is called here only (the
    /// private key, `PadA`, and the length of `PadC`), so a deterministic
    /// `rng` gives a deterministic handshake.
    pub fn new(
        info_hash: Sha1Hash,
        initial_payload: &[u8],
        policy: MsePolicy,
        rng: &mut impl FnMut(&mut [u8]),
    ) -> Result<Self, MseError> {
        if initial_payload.len() > usize::from(u16::MAX) {
            return Err(MseError::InitialPayloadTooLong {
                len: initial_payload.len(),
                max: usize::from(u16::MAX),
            });
        }
        let (private_key, pad_a, pad_c_len) = draw_handshake_randomness(rng, &policy);
        let mut out = Vec::with_capacity(KEY_LEN + pad_a.len());
        out.extend_from_slice(&private_key.public_key());
        out.extend_from_slice(&pad_a);
        Ok(MseInitiator {
            info_hash,
            policy,
            private_key,
            pad_c_len,
            initial_payload: initial_payload.to_vec(),
            out,
            buf: Vec::new(),
            state: State::PublicKey,
        })
    }

    /// Bytes to send to the peer, if any are pending.
    pub fn poll_send(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// Feeds bytes received from the peer, in any split.
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

    /// Bytes received and held until the next step can be parsed. Never
    /// more than [`INITIATOR_SYNC_LIMIT`] after a `receive` that returned
    /// [`Progress::NeedMore`].
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
                    let Some(yb) = take(&mut self.buf, KEY_LEN) else {
                        self.state = State::PublicKey;
                        return Ok(Progress::NeedMore);
                    };
                    let mut peer = [0u8; KEY_LEN];
                    peer.copy_from_slice(&yb);
                    self.state = self.send_step3(&peer)?;
                }
                State::Vc { enc, dec, vc } => {
                    // ENCRYPT(VC) must end within PadB's maximum + 8 bytes
                    // after Yb.
                    let window = MAX_PAD + VC.len();
                    let scan = &self.buf[..self.buf.len().min(window)];
                    match find(scan, &vc) {
                        Some(at) => {
                            self.buf.drain(..at + vc.len());
                            self.state = State::Select { enc, dec };
                        }
                        None if self.buf.len() >= window => {
                            return Err(MseError::VcNotFound {
                                limit: INITIATOR_SYNC_LIMIT,
                            })
                        }
                        None => {
                            self.state = State::Vc { enc, dec, vc };
                            return Ok(Progress::NeedMore);
                        }
                    }
                }
                State::Select { enc, mut dec } => {
                    let Some(mut b) = take(&mut self.buf, 6) else {
                        self.state = State::Select { enc, dec };
                        return Ok(Progress::NeedMore);
                    };
                    dec.apply(&mut b);
                    let selected = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let pad = u16::from_be_bytes([b[4], b[5]]);
                    let method = CryptoMethod::from_bits(selected)
                        .filter(|m| self.policy.allows(*m))
                        .ok_or(MseError::BadSelect { selected })?;
                    if usize::from(pad) > MAX_PAD {
                        return Err(MseError::PadTooLong { len: pad });
                    }
                    self.state = State::PadD {
                        enc,
                        dec,
                        method,
                        len: usize::from(pad),
                    };
                }
                State::PadD {
                    enc,
                    mut dec,
                    method,
                    len,
                } => {
                    let Some(mut pad) = take(&mut self.buf, len) else {
                        self.state = State::PadD {
                            enc,
                            dec,
                            method,
                            len,
                        };
                        return Ok(Progress::NeedMore);
                    };
                    dec.apply(&mut pad);
                    let mut cipher = match method {
                        CryptoMethod::Rc4 => {
                            Cipher::new(StreamCipher::rc4(enc), StreamCipher::rc4(dec))
                        }
                        CryptoMethod::Plaintext => Cipher::plaintext(),
                    };
                    let mut leftover = std::mem::take(&mut self.buf);
                    cipher.decrypt(&mut leftover);
                    return Ok(Progress::Established(Box::new(Established {
                        cipher,
                        info_hash: self.info_hash,
                        initial_payload: Vec::new(),
                        leftover_plaintext: leftover,
                    })));
                }
                State::Finished => return Err(MseError::Finished),
            }
        }
    }

    /// Computes the keys from `Yb` and queues the third message.
    fn send_step3(&mut self, peer: &[u8; KEY_LEN]) -> Result<State, MseError> {
        let secret = self.private_key.shared_secret(peer)?;
        let mut enc = Rc4::mse(&keys::key_a(&secret, &self.info_hash));
        let mut dec = Rc4::mse(&keys::key_b(&secret, &self.info_hash));
        // What ENCRYPT(VC) looks like; `dec` is then positioned after it.
        let mut vc = VC;
        dec.apply(&mut vc);

        let out = &mut self.out;
        out.extend_from_slice(&keys::req1(&secret));
        out.extend_from_slice(&keys::xor20(
            &keys::req2(&self.info_hash),
            &keys::req3(&secret),
        ));
        let start = out.len();
        out.extend_from_slice(&VC);
        out.extend_from_slice(&self.policy.provide().to_be_bytes());
        out.extend_from_slice(&self.pad_c_len.to_be_bytes());
        out.resize(out.len() + usize::from(self.pad_c_len), 0);
        // The length was checked in `new`.
        let ia_len = u16::try_from(self.initial_payload.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&ia_len.to_be_bytes());
        out.extend_from_slice(&self.initial_payload);
        enc.apply(&mut out[start..]);
        self.initial_payload = Vec::new();
        Ok(State::Vc { enc, dec, vc })
    }
}
