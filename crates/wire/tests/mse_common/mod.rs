//! Helpers shared by the MSE test files: a deterministic RNG, an
//! independent RC4, and a driver that runs two handshakes against each other
//! with arbitrary splits of the byte streams.

#![allow(dead_code, clippy::unwrap_used)]

use btl_wire::mse::{Established, MseError, MseInitiator, MseResponder, Progress, SkeyLookup};
use sha1::{Digest, Sha1};

/// SHA-1 in counter mode: a deterministic byte source for `rng` arguments.
pub struct TestRng {
    seed: u64,
    counter: u64,
    block: Vec<u8>,
}

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng {
            seed,
            counter: 0,
            block: Vec::new(),
        }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            if self.block.is_empty() {
                let mut h = Sha1::new();
                h.update(self.seed.to_be_bytes());
                h.update(self.counter.to_be_bytes());
                self.counter += 1;
                self.block = h.finalize().to_vec();
            }
            *b = self.block.remove(0);
        }
    }

    /// A closure for the `rng` arguments.
    pub fn as_fn(&mut self) -> impl FnMut(&mut [u8]) + '_ {
        move |buf| self.fill(buf)
    }
}

/// A plain RC4 written from the algorithm's description, independent of the
/// crate's.
pub struct TestRc4 {
    s: Vec<u8>,
    i: u8,
    j: u8,
}

impl TestRc4 {
    pub fn new(key: &[u8], discard: usize) -> Self {
        let mut s: Vec<u8> = (0..=255).collect();
        let mut j: u8 = 0;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, j as usize);
        }
        let mut r = TestRc4 { s, i: 0, j: 0 };
        r.xor(&mut vec![0; discard]);
        r
    }

    pub fn xor(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[self.i as usize]);
            self.s.swap(self.i as usize, self.j as usize);
            let t = self.s[self.i as usize].wrapping_add(self.s[self.j as usize]);
            *b ^= self.s[t as usize];
        }
    }
}

pub fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Cuts `data` into chunks whose sizes cycle through `splits` (each at
/// least 1).
pub fn chunks<'a>(data: &'a [u8], splits: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        let n = if splits.is_empty() {
            rest.len()
        } else {
            splits[k % splits.len()].max(1)
        };
        k += 1;
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

/// The outcome of [`run`]: both sides' results and everything each sent.
pub struct Outcome {
    pub initiator: Result<Box<Established>, MseError>,
    pub responder: Result<Box<Established>, MseError>,
    /// Initiator -> responder bytes, in order.
    pub a_to_b: Vec<u8>,
    /// Responder -> initiator bytes, in order.
    pub b_to_a: Vec<u8>,
}

/// Runs the two state machines against each other; every chunk of output is
/// delivered in pieces cut by `splits`. `b_payload` is what the responder
/// sends (encrypted with its new cipher) right after it is established, in
/// the same flight as its last handshake message.
pub fn run<L: SkeyLookup>(
    mut a: MseInitiator,
    mut b: MseResponder<L>,
    splits: &[usize],
    b_payload: &[u8],
) -> Outcome {
    let mut ea: Option<Result<Box<Established>, MseError>> = None;
    let mut eb: Option<Result<Box<Established>, MseError>> = None;
    let (mut a_to_b, mut b_to_a) = (Vec::new(), Vec::new());
    for _round in 0..10 {
        if ea.is_some() && eb.is_some() {
            break;
        }
        if let Some(bytes) = a.poll_send() {
            a_to_b.extend_from_slice(&bytes);
            for c in chunks(&bytes, splits) {
                if let Some(Ok(e)) = &mut eb {
                    // After the handshake, the test plays the connection.
                    let mut c = c.to_vec();
                    e.cipher.decrypt(&mut c);
                    e.leftover_plaintext.extend_from_slice(&c);
                    continue;
                }
                if eb.is_some() {
                    break;
                }
                match b.receive(c) {
                    Ok(Progress::NeedMore) => {}
                    Ok(Progress::Established(e)) => eb = Some(Ok(e)),
                    Err(e) => eb = Some(Err(e)),
                }
            }
        }
        if let Some(mut bytes) = b.poll_send() {
            if let Some(Ok(e)) = &mut eb {
                let mut p = b_payload.to_vec();
                e.cipher.encrypt(&mut p);
                bytes.extend_from_slice(&p);
            }
            b_to_a.extend_from_slice(&bytes);
            for c in chunks(&bytes, splits) {
                if let Some(Ok(e)) = &mut ea {
                    let mut c = c.to_vec();
                    e.cipher.decrypt(&mut c);
                    e.leftover_plaintext.extend_from_slice(&c);
                    continue;
                }
                if ea.is_some() {
                    break;
                }
                match a.receive(c) {
                    Ok(Progress::NeedMore) => {}
                    Ok(Progress::Established(e)) => ea = Some(Ok(e)),
                    Err(e) => ea = Some(Err(e)),
                }
            }
        }
        if matches!(eb, Some(Err(_))) {
            break;
        }
    }
    Outcome {
        initiator: ea.unwrap_or(Err(MseError::Finished)),
        responder: eb.unwrap_or(Err(MseError::Finished)),
        a_to_b,
        b_to_a,
    }
}
