//! RC4 and the post-handshake stream ciphers.
//!
//! RC4 is a few lines and has no configuration, so it is written here rather
//! than pulled in. MSE keys it with a 20-byte SHA-1 output and throws away
//! the first 1024 bytes of keystream ([`DISCARD`]).

use std::fmt;

use super::CryptoMethod;

/// Keystream bytes discarded after keying, as the MSE specification says.
pub const DISCARD: usize = 1024;

/// The RC4 keystream generator.
#[derive(Clone)]
pub(crate) struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    /// Keys RC4 (key scheduling). An empty key is treated as one zero byte.
    pub(crate) fn new(key: &[u8]) -> Self {
        let key: &[u8] = if key.is_empty() { &[0] } else { key };
        let mut s = [0u8; 256];
        for (i, x) in s.iter_mut().enumerate() {
            *x = i as u8;
        }
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, usize::from(j));
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// RC4 keyed with an MSE key, [`DISCARD`] bytes already dropped.
    pub(crate) fn mse(key: &[u8; 20]) -> Self {
        let mut rc4 = Rc4::new(key);
        let mut scratch = [0u8; DISCARD];
        rc4.apply(&mut scratch);
        rc4
    }

    /// XORs `data` with the next `data.len()` keystream bytes.
    pub(crate) fn apply(&mut self, data: &mut [u8]) {
        // The state in locals: the loop then runs on registers and one
        // 256-byte table (about 3x faster than updating `self` per byte).
        let s = &mut self.s;
        let (mut i, mut j) = (self.i, self.j);
        for b in data {
            i = i.wrapping_add(1);
            let si = s[usize::from(i)];
            j = j.wrapping_add(si);
            let sj = s[usize::from(j)];
            s[usize::from(i)] = sj;
            s[usize::from(j)] = si;
            *b ^= s[usize::from(si.wrapping_add(sj))];
        }
        self.i = i;
        self.j = j;
    }
}

impl fmt::Debug for Rc4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rc4 { .. }")
    }
}

/// One direction of an established MSE stream: RC4 continuing the
/// handshake's keystream, or plaintext (the identity).
#[derive(Clone, Debug)]
pub struct StreamCipher(Option<Rc4>);

impl StreamCipher {
    /// The identity transform (plaintext was negotiated).
    pub fn plaintext() -> Self {
        StreamCipher(None)
    }

    pub(crate) fn rc4(rc4: Rc4) -> Self {
        StreamCipher(Some(rc4))
    }

    /// Encrypts or decrypts (the same operation) `data` in place, advancing
    /// the keystream by `data.len()` bytes. Bytes must be passed in stream
    /// order, each exactly once.
    pub fn apply(&mut self, data: &mut [u8]) {
        if let Some(rc4) = &mut self.0 {
            rc4.apply(data);
        }
    }

    /// The negotiated method.
    pub fn method(&self) -> CryptoMethod {
        match self.0 {
            Some(_) => CryptoMethod::Rc4,
            None => CryptoMethod::Plaintext,
        }
    }
}

/// Both directions of an established MSE stream.
///
/// [`Cipher::encrypt`] is applied to every byte we send after the
/// handshake, [`Cipher::decrypt`] to every byte we receive after the bytes
/// the handshake consumed (its `leftover` is already decrypted). Use
/// [`Cipher::split`] when the reading and writing halves of a connection are
/// owned separately.
#[derive(Clone, Debug)]
pub struct Cipher {
    send: StreamCipher,
    recv: StreamCipher,
}

impl Cipher {
    pub(crate) fn new(send: StreamCipher, recv: StreamCipher) -> Self {
        Cipher { send, recv }
    }

    /// No encryption in either direction.
    pub fn plaintext() -> Self {
        Cipher::new(StreamCipher::plaintext(), StreamCipher::plaintext())
    }

    /// Encrypts outgoing bytes in place.
    pub fn encrypt(&mut self, data: &mut [u8]) {
        self.send.apply(data);
    }

    /// Decrypts incoming bytes in place.
    pub fn decrypt(&mut self, data: &mut [u8]) {
        self.recv.apply(data);
    }

    /// The negotiated method (the same in both directions).
    pub fn method(&self) -> CryptoMethod {
        self.send.method()
    }

    /// The sending and the receiving halves.
    pub fn split(self) -> (StreamCipher, StreamCipher) {
        (self.send, self.recv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc4_hex(key: &[u8], plain: &[u8]) -> String {
        let mut d = plain.to_vec();
        Rc4::new(key).apply(&mut d);
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The classic published test vectors.
    #[test]
    fn known_vectors() {
        assert_eq!(rc4_hex(b"Key", b"Plaintext"), "bbf316e8d940af0ad3");
        assert_eq!(rc4_hex(b"Wiki", b"pedia"), "1021bf0420");
        assert_eq!(
            rc4_hex(b"Secret", b"Attack at dawn"),
            "45a01f645fc35b383552544b9bf5"
        );
    }

    /// RFC 6229, 40-bit key 0x0102030405: keystream at offsets 0 and 1024.
    #[test]
    fn rfc6229_offsets() {
        let key = [1u8, 2, 3, 4, 5];
        assert_eq!(rc4_hex(&key, &[0; 16]), "b2396305f03dc027ccc3524a0a1118a8");
        let mut rc4 = Rc4::new(&key);
        rc4.apply(&mut [0u8; DISCARD]);
        let mut d = [0u8; 16];
        rc4.apply(&mut d);
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "30abbcc7c20b01609f23ee2d5f6bb7df");
    }

    #[test]
    fn split_calls_equal_one_call() {
        let mut a = Rc4::new(b"k");
        let mut b = a.clone();
        let mut x = [7u8; 100];
        let mut y = [7u8; 100];
        a.apply(&mut x);
        b.apply(&mut y[..33]);
        b.apply(&mut y[33..34]);
        b.apply(&mut y[34..]);
        assert_eq!(x, y);
        assert_eq!(format!("{a:?}"), "Rc4 { .. }");
    }
}

#[cfg(test)]
mod speed {
    /// Throughput of RC4 (run with `--release --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn rc4_throughput() {
        let mut rc4 = super::Rc4::mse(&[7; 20]);
        let mut buf = vec![0u8; 64 << 20];
        let t = std::time::Instant::now();
        rc4.apply(&mut buf);
        let secs = t.elapsed().as_secs_f64();
        println!("RC4: {:.0} MB/s", buf.len() as f64 / secs / 1e6);
    }
}
