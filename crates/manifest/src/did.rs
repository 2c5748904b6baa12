//! `did:key` identifiers for Ed25519 keys, and the Multikey text forms of
//! Ed25519 public and secret keys.
//!
//! # Formats
//!
//! ```text
//! public Multikey   = "z" base58btc( 0xed 0x01 || public key (32 bytes) )    e.g. z6Mk…  (48 chars)
//! secret Multikey   = "z" base58btc( 0x80 0x26 || secret seed (32 bytes) )  e.g. z3u2…  (48 chars)
//! did:key           = "did:key:" public-Multikey
//! verification method id = did:key "#" public-Multikey
//! ```
//!
//! `0xed01` is the unsigned-varint multicodec `ed25519-pub` (0xed) and
//! `0x8026` is `ed25519-priv` (0x1300). Any other header is refused, and so
//! is a public key that is not a valid curve point or is of small order
//! (a "weak" key, for which signatures prove nothing).

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::base58::{self, Base58Error};

/// Multicodec header of an Ed25519 public key (`ed25519-pub`, varint).
pub const ED25519_PUB_HEADER: [u8; 2] = [0xed, 0x01];
/// Multicodec header of an Ed25519 secret seed (`ed25519-priv`, varint).
pub const ED25519_PRIV_HEADER: [u8; 2] = [0x80, 0x26];
/// The `did:key` scheme prefix.
pub const DID_KEY_PREFIX: &str = "did:key:";

/// Longest base58 text accepted for a 34-byte Multikey (it is 47 or 48
/// characters long); anything longer is refused before decoding.
const MAX_MULTIKEY_CHARS: usize = 60;

/// Why a key or identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidError {
    /// Not a `did:key:` identifier.
    #[error("not a did:key identifier (it must start with \"did:key:z\")")]
    NotDidKey,
    /// The Multikey text is not valid base58btc multibase.
    #[error("invalid Multikey encoding: {0}")]
    Base58(#[from] Base58Error),
    /// The decoded key has the wrong multicodec header or length.
    #[error("not an Ed25519 {what} Multikey (header 0x{header} and {len} bytes; expected 0x{expected} and 34 bytes)")]
    WrongCodec {
        /// "public" or "secret".
        what: &'static str,
        /// The header found, hex.
        header: String,
        /// The decoded length.
        len: usize,
        /// The header expected, hex.
        expected: &'static str,
    },
    /// 32 bytes that are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key (not a point on the curve)")]
    InvalidKey,
    /// A small-order public key, which would make any signature meaningless.
    #[error("weak Ed25519 public key (small order): refused")]
    WeakKey,
    /// A verification method whose fragment is not the key itself.
    #[error("verification method {0:?} must be did:key:<key>#<key> with the same key twice")]
    BadVerificationMethod(String),
}

/// An Ed25519 public key named as a `did:key`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DidKey {
    key: VerifyingKey,
}

impl DidKey {
    /// From a public key. Refuses weak (small-order) keys.
    ///
    /// # Errors
    ///
    /// [`DidError::WeakKey`].
    pub fn from_verifying_key(key: VerifyingKey) -> Result<DidKey, DidError> {
        if key.is_weak() {
            return Err(DidError::WeakKey);
        }
        Ok(DidKey { key })
    }

    /// From the 32 public key bytes.
    ///
    /// # Errors
    ///
    /// [`DidError::InvalidKey`] or [`DidError::WeakKey`].
    pub fn from_public_bytes(bytes: &[u8; 32]) -> Result<DidKey, DidError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| DidError::InvalidKey)?;
        DidKey::from_verifying_key(key)
    }

    /// The public key of a signing key.
    pub fn of(signing: &SigningKey) -> DidKey {
        DidKey {
            key: signing.verifying_key(),
        }
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 32 public key bytes.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public Multikey, `z6Mk…`.
    pub fn multikey(&self) -> String {
        let mut b = Vec::with_capacity(34);
        b.extend_from_slice(&ED25519_PUB_HEADER);
        b.extend_from_slice(self.key.as_bytes());
        base58::multibase_encode(&b)
    }

    /// The verification method id: `did:key:z6Mk…#z6Mk…`.
    pub fn verification_method(&self) -> String {
        let mk = self.multikey();
        format!("{DID_KEY_PREFIX}{mk}#{mk}")
    }

    /// Parses a public Multikey (`z6Mk…`).
    ///
    /// # Errors
    ///
    /// A [`DidError`] naming what is wrong.
    pub fn from_multikey(text: &str) -> Result<DidKey, DidError> {
        let bytes = base58::multibase_decode(text, MAX_MULTIKEY_CHARS)?;
        let key = strip_header(&bytes, ED25519_PUB_HEADER, "public", "ed01")?;
        DidKey::from_public_bytes(&key)
    }

    /// Parses a verification method id `did:key:<mk>#<mk>` (both the same).
    ///
    /// # Errors
    ///
    /// [`DidError::BadVerificationMethod`] or a key error.
    pub fn from_verification_method(text: &str) -> Result<DidKey, DidError> {
        let bad = || DidError::BadVerificationMethod(truncate(text));
        let (did, fragment) = text.split_once('#').ok_or_else(bad)?;
        // base58btc text is canonical (one text per byte string), so the
        // texts must be equal.
        if did.strip_prefix(DID_KEY_PREFIX) != Some(fragment) {
            return Err(bad());
        }
        did.parse()
    }
}

impl std::str::FromStr for DidKey {
    type Err = DidError;

    /// Parses `did:key:z6Mk…` (no fragment, no path, no query).
    fn from_str(s: &str) -> Result<DidKey, DidError> {
        let mk = s.strip_prefix(DID_KEY_PREFIX).ok_or(DidError::NotDidKey)?;
        if !mk.starts_with('z') {
            return Err(DidError::NotDidKey);
        }
        DidKey::from_multikey(mk)
    }
}

impl std::fmt::Display for DidKey {
    /// `did:key:z6Mk…`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{DID_KEY_PREFIX}{}", self.multikey())
    }
}

impl std::fmt::Debug for DidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DidKey({self})")
    }
}

/// The secret Multikey of a signing key's seed (`z3u2…`). Handle with care:
/// this is the secret.
pub fn secret_multikey(key: &SigningKey) -> String {
    let mut b = Vec::with_capacity(34);
    b.extend_from_slice(&ED25519_PRIV_HEADER);
    b.extend_from_slice(key.as_bytes());
    base58::multibase_encode(&b)
}

/// Parses a secret Multikey (`z3u2…`) into a signing key.
///
/// # Errors
///
/// A [`DidError`] naming what is wrong.
pub fn signing_key_from_secret_multikey(text: &str) -> Result<SigningKey, DidError> {
    let bytes = base58::multibase_decode(text, MAX_MULTIKEY_CHARS)?;
    let seed = strip_header(&bytes, ED25519_PRIV_HEADER, "secret", "8026")?;
    Ok(SigningKey::from_bytes(&seed))
}

fn strip_header(
    bytes: &[u8],
    header: [u8; 2],
    what: &'static str,
    expected: &'static str,
) -> Result<[u8; 32], DidError> {
    let wrong = || DidError::WrongCodec {
        what,
        header: hex::encode(bytes.get(..2).unwrap_or(bytes)),
        len: bytes.len(),
        expected,
    };
    if bytes.len() != 34 || bytes[..2] != header {
        return Err(wrong());
    }
    <[u8; 32]>::try_from(&bytes[2..]).map_err(|_| wrong())
}

/// At most 100 characters of untrusted text, for error messages.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the W3C vc-di-eddsa test vectors (Appendix B).
    const PUB: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    const SECRET: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";

    #[test]
    fn w3c_key_pair() {
        let sk = signing_key_from_secret_multikey(SECRET).unwrap();
        let did = DidKey::of(&sk);
        assert_eq!(did.multikey(), PUB);
        assert_eq!(secret_multikey(&sk), SECRET);
        assert_eq!(did.to_string(), format!("did:key:{PUB}"));
        assert_eq!(did.verification_method(), format!("did:key:{PUB}#{PUB}"));
        let parsed: DidKey = format!("did:key:{PUB}").parse().unwrap();
        assert_eq!(parsed, did);
        assert_eq!(
            DidKey::from_verification_method(&format!("did:key:{PUB}#{PUB}")).unwrap(),
            did
        );
    }

    #[test]
    fn refusals() {
        assert_eq!("did:web:x".parse::<DidKey>(), Err(DidError::NotDidKey));
        assert_eq!("did:key:f00".parse::<DidKey>(), Err(DidError::NotDidKey));
        // A secret key where a public one is expected.
        assert!(matches!(
            DidKey::from_multikey(SECRET),
            Err(DidError::WrongCodec { .. })
        ));
        assert!(matches!(
            signing_key_from_secret_multikey(PUB),
            Err(DidError::WrongCodec { .. })
        ));
        assert!(matches!(
            DidKey::from_verification_method(&format!("did:key:{PUB}#key-1")),
            Err(DidError::BadVerificationMethod(_))
        ));
        assert!(DidKey::from_verification_method(&format!("did:key:{PUB}")).is_err());
        // The identity point (small order) is refused.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        assert_eq!(DidKey::from_public_bytes(&ident), Err(DidError::WeakKey));
        // Too long.
        let long = format!("did:key:z{}", "2".repeat(100));
        assert!(long.parse::<DidKey>().is_err());
    }
}
