//! The Diffie-Hellman exchange of MSE: a 768-bit prime, generator 2, 160-bit
//! private keys, 96-byte big-endian public keys and shared secrets.

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Limb, Odd, U192, U768};

use super::MseError;

/// Length of a public key and of the shared secret on the wire: 96 bytes,
/// big-endian, zero-padded on the left.
pub const KEY_LEN: usize = 96;

/// Length of a private key: 160 bits.
pub const PRIVATE_KEY_LEN: usize = 20;

/// The prime `P` of the MSE specification (768 bits), big-endian hex.
pub const PRIME_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1\
                             29024E088A67CC74020BBEA63B139B22514A08798E3404DD\
                             EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245\
                             E485B576625E7EC6F44C42E9A63A36210000000000090563";

/// The generator `G`.
pub const GENERATOR: u8 = 2;

fn prime() -> Odd<U768> {
    Odd::<U768>::from_be_hex(PRIME_HEX)
}

fn to_be_bytes(x: &U768) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    // Words are least significant first; fill the output from its end.
    for (chunk, word) in out.rchunks_exact_mut(Limb::BYTES).zip(x.as_words()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// `base ^ exponent mod P`, with a 160-bit exponent.
fn mod_pow(base: &U768, exponent: &[u8; PRIVATE_KEY_LEN]) -> [u8; KEY_LEN] {
    // The prime is public, so the variable-time setup is fine; the
    // exponentiation itself is constant-time in the exponent.
    let params = MontyParams::new_vartime(prime());
    let mut wide = [0u8; 24];
    wide[24 - PRIVATE_KEY_LEN..].copy_from_slice(exponent);
    let e = U192::from_be_slice(&wide);
    let r = MontyForm::new(base, params).pow_bounded_exp(&e, 8 * PRIVATE_KEY_LEN as u32);
    to_be_bytes(&r.retrieve())
}

/// A 160-bit Diffie-Hellman private key.
#[derive(Clone)]
pub(crate) struct PrivateKey([u8; PRIVATE_KEY_LEN]);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// A key from 20 random bytes. The all-zero key (public key 1) is
    /// replaced by 1.
    pub(crate) fn from_bytes(mut bytes: [u8; PRIVATE_KEY_LEN]) -> Self {
        if bytes == [0; PRIVATE_KEY_LEN] {
            bytes[PRIVATE_KEY_LEN - 1] = 1;
        }
        PrivateKey(bytes)
    }

    /// `G ^ x mod P`, 96 bytes big-endian.
    pub(crate) fn public_key(&self) -> [u8; KEY_LEN] {
        mod_pow(&U768::from_u8(GENERATOR), &self.0)
    }

    /// `Y ^ x mod P` for the peer's public key `Y`: the secret `S`.
    ///
    /// Refuses `Y` in `{0, 1, P - 1}` or `Y >= P`, which would make `S`
    /// guessable.
    pub(crate) fn shared_secret(&self, peer: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], MseError> {
        let y = U768::from_be_slice(peer);
        let p: U768 = prime().get();
        let p_minus_1 = p.wrapping_sub(&U768::ONE);
        if y <= U768::ONE || y >= p_minus_1 {
            return Err(MseError::BadPublicKey);
        }
        Ok(mod_pow(&y, &self.0))
    }
}

/// Computes the public key of a private key (for tests and tools).
pub fn public_key(private_key: &[u8; PRIVATE_KEY_LEN]) -> [u8; KEY_LEN] {
    PrivateKey::from_bytes(*private_key).public_key()
}

/// Computes the shared secret `S` from our private key and the peer's
/// public key (for tests and tools).
pub fn shared_secret(
    private_key: &[u8; PRIVATE_KEY_LEN],
    peer_public_key: &[u8; KEY_LEN],
) -> Result<[u8; KEY_LEN], MseError> {
    PrivateKey::from_bytes(*private_key).shared_secret(peer_public_key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prime_round_trips() {
        let p = to_be_bytes(&prime().get());
        let hex: String = p.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, PRIME_HEX);
    }

    #[test]
    fn small_exponents() {
        let mut x = [0u8; 20];
        x[19] = 10;
        let y = public_key(&x);
        let mut expected = [0u8; 96];
        expected[94] = 4; // 2^10 = 1024
        assert_eq!(y, expected);
        // (2^10)^10 = 2^100.
        let s = shared_secret(&x, &y).unwrap();
        let mut expected = [0u8; 96];
        expected[96 - 13] = 0x10;
        assert_eq!(s, expected);
    }

    #[test]
    fn agreement() {
        let a = [0x5a; 20];
        let b = [0xc3; 20];
        let ya = public_key(&a);
        let yb = public_key(&b);
        assert_eq!(
            shared_secret(&a, &yb).unwrap(),
            shared_secret(&b, &ya).unwrap()
        );
    }

    #[test]
    fn degenerate_keys_refused() {
        let x = [7u8; 20];
        let mut y = [0u8; 96];
        assert_eq!(shared_secret(&x, &y), Err(MseError::BadPublicKey));
        y[95] = 1;
        assert_eq!(shared_secret(&x, &y), Err(MseError::BadPublicKey));
        y[95] = 2;
        assert!(shared_secret(&x, &y).is_ok());
        let mut p = to_be_bytes(&prime().get());
        assert_eq!(shared_secret(&x, &p), Err(MseError::BadPublicKey));
        p[95] -= 1; // P - 1
        assert_eq!(shared_secret(&x, &p), Err(MseError::BadPublicKey));
        p[95] -= 1; // P - 2
        assert!(shared_secret(&x, &p).is_ok());
        assert_eq!(shared_secret(&x, &[0xff; 96]), Err(MseError::BadPublicKey));
    }
}
