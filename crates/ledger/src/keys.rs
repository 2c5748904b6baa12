//! Keys and addresses.
//!
//! An account is named by an Ed25519 public key: its **address** is the key
//! that created it. The account's *current* signing key starts as that key
//! and can be rotated ([`crate::TxBody::RotateKey`]); the address never
//! changes.
//!
//! Text form of an address (documented, pinned by a golden vector):
//!
//! ```text
//! btl1 <64 lowercase hex digits: the 32-byte key> <8 hex digits: checksum>
//! checksum = SHA-256("btl-address" || key)[..4]
//! ```
//!
//! The checksum catches typos; parsing accepts lowercase only, so one
//! address has one text form. A bare public key's text form is 64 lowercase
//! hex digits.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors from parsing keys and addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The text does not start with `btl1`.
    #[error("an address starts with \"btl1\"")]
    Prefix,
    /// Wrong length or not lowercase hex.
    #[error("expected {0} lowercase hex digits")]
    Hex(usize),
    /// The checksum does not match.
    #[error("address checksum does not match (a typo?)")]
    Checksum,
}

/// An Ed25519 public key (32 bytes). Text form: 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PublicKey(pub [u8; 32]);

/// An account address: the Ed25519 public key that created the account.
/// Text form: `btl1…` (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 32]);

impl PublicKey {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The address of the account this key created.
    pub fn address(&self) -> Address {
        Address(self.0)
    }

    /// Whether `sig` is a valid signature over `msg` under the ledger's
    /// rule ([`crate::sig`]: Ed25519, cofactored, as in ZIP 215). Invalid
    /// and small-order keys never verify.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        crate::sig::verify(&self.0, msg, sig)
    }

    /// The public key of a signing key.
    pub fn from_signing_key(key: &SigningKey) -> Self {
        Self(key.verifying_key().to_bytes())
    }
}

impl Address {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key that created the account.
    pub fn key(&self) -> PublicKey {
        PublicKey(self.0)
    }
}

fn parse_lower_hex<const N: usize>(s: &str) -> Result<[u8; N], KeyParseError> {
    if s.len() != N * 2 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyParseError::Hex(N * 2));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| KeyParseError::Hex(N * 2))?;
    Ok(out)
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_lower_hex::<32>(s).map(Self)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&btl_types::address::encode_address(&self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use btl_types::address::{decode_address, AddressError};
        decode_address(s).map(Address).map_err(|e| match e {
            AddressError::Prefix => KeyParseError::Prefix,
            AddressError::Checksum => KeyParseError::Checksum,
            _ => KeyParseError::Hex(72),
        })
    }
}

macro_rules! serde_via_str {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse()
                    .map_err(|e| serde::de::Error::custom(format!("{}: {e}", $what)))
            }
        }
    };
}
serde_via_str!(PublicKey, "public key");
serde_via_str!(Address, "address");

/// Serde helpers: fixed-size byte arrays as lowercase hex strings.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as lowercase hex.
    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Deserializes from hex (either case).
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }

    /// The same for `Option<[u8; N]>`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes as lowercase hex or null.
        pub fn serialize<S: Serializer, const N: usize>(
            v: &Option<[u8; N]>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_str(&hex::encode(v)),
                None => s.serialize_none(),
            }
        }

        /// Deserializes from hex or null.
        pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
            d: D,
        ) -> Result<Option<[u8; N]>, D::Error> {
            let Some(s) = Option::<String>::deserialize(d)? else {
                return Ok(None);
            };
            let mut out = [0u8; N];
            hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
            Ok(Some(out))
        }
    }

    /// The same for `Vec<[u8; N]>`.
    pub mod vec {
        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes as a list of lowercase hex strings.
        pub fn serialize<S: Serializer, const N: usize>(
            v: &[[u8; N]],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for x in v {
                seq.serialize_element(&hex::encode(x))?;
            }
            seq.end()
        }

        /// Deserializes from a list of hex strings.
        pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
            d: D,
        ) -> Result<Vec<[u8; N]>, D::Error> {
            let v = Vec::<String>::deserialize(d)?;
            v.iter()
                .map(|s| {
                    let mut out = [0u8; N];
                    hex::decode_to_slice(s, &mut out).map(|_| out)
                })
                .collect::<Result<_, _>>()
                .map_err(serde::de::Error::custom)
        }
    }
}
