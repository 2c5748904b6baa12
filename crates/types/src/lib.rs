//! Shared identifiers for bitorrent: infohashes, digests and the text form
//! of ledger account addresses ([`address`]).
//!
//! This crate is pure: no I/O, no async, no allocation beyond what a value
//! needs. Every type here has a stable, documented text form (lowercase hex)
//! and a stable binary form (its raw bytes).

pub mod address;

use std::fmt;
use std::str::FromStr;

/// Error returned when parsing an identifier from text fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The text had the wrong number of characters.
    #[error("expected {expected} hex characters, found {found}")]
    Length {
        /// Number of hex characters required.
        expected: usize,
        /// Number found.
        found: usize,
    },
    /// The text contained a character that is not a hex digit.
    #[error("not a hexadecimal string")]
    NotHex,
}

macro_rules! digest_type {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of the digest in bytes.
            pub const LEN: usize = $len;

            /// Builds the value from a slice; `None` if the length is wrong.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(bytes).ok().map(Self)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hexadecimal text form.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != $len * 2 {
                    return Err(ParseIdError::Length { expected: $len * 2, found: s.len() });
                }
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out).map_err(|_| ParseIdError::NotHex)?;
                Ok(Self(out))
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

digest_type!(
    /// A SHA-1 digest (20 bytes): v1 piece hashes and v1 infohashes.
    Sha1Hash, 20
);
digest_type!(
    /// A SHA-256 digest (32 bytes): v2 Merkle nodes and v2 infohashes.
    Sha256Hash, 32
);

/// The BitTorrent v1 infohash: SHA-1 of the bencoded info dictionary.
pub type InfoHashV1 = Sha1Hash;
/// The BitTorrent v2 infohash: SHA-256 of the bencoded info dictionary.
pub type InfoHashV2 = Sha256Hash;

impl Sha256Hash {
    /// The first 20 bytes: the "truncated" v2 infohash that v2 peers use in
    /// the BEP 3 handshake, on trackers and in the DHT.
    pub fn truncated(&self) -> Sha1Hash {
        let mut out = [0u8; 20];
        out.copy_from_slice(&self.0[..20]);
        Sha1Hash(out)
    }
}

/// The infohashes that identify a torrent: v1, v2, or both for a hybrid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum InfoHashes {
    /// A v1-only torrent (BEP 3).
    V1(InfoHashV1),
    /// A v2-only torrent (BEP 52).
    V2(InfoHashV2),
    /// A hybrid torrent valid as both.
    Hybrid(InfoHashV1, InfoHashV2),
}

impl InfoHashes {
    /// The v1 infohash, if the torrent has one.
    pub fn v1(&self) -> Option<InfoHashV1> {
        match self {
            Self::V1(h) | Self::Hybrid(h, _) => Some(*h),
            Self::V2(_) => None,
        }
    }

    /// The v2 infohash, if the torrent has one.
    pub fn v2(&self) -> Option<InfoHashV2> {
        match self {
            Self::V2(h) | Self::Hybrid(_, h) => Some(*h),
            Self::V1(_) => None,
        }
    }

    /// The 20-byte id used on the wire: the v1 hash if present, otherwise the
    /// truncated v2 hash.
    pub fn wire_id(&self) -> Sha1Hash {
        match self {
            Self::V1(h) | Self::Hybrid(h, _) => *h,
            Self::V2(h) => h.truncated(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h: Sha1Hash = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
        assert_eq!(h.to_string(), "0123456789abcdef0123456789abcdef01234567");
        assert_eq!(
            "0123".parse::<Sha1Hash>(),
            Err(ParseIdError::Length {
                expected: 40,
                found: 4
            })
        );
        assert_eq!(
            "zz23456789abcdef0123456789abcdef01234567".parse::<Sha1Hash>(),
            Err(ParseIdError::NotHex)
        );
    }

    #[test]
    fn truncation_and_wire_id() {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        let v2 = Sha256Hash(b);
        assert_eq!(v2.truncated().0[..], b[..20]);
        assert_eq!(InfoHashes::V2(v2).wire_id(), v2.truncated());
        let v1 = Sha1Hash([7; 20]);
        assert_eq!(InfoHashes::Hybrid(v1, v2).wire_id(), v1);
        assert_eq!(InfoHashes::V1(v1).v2(), None);
    }
}
