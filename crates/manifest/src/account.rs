//! Ledger account addresses, as manifests name them (payment address,
//! revenue splits) and as `btl key` shows them.
//!
//! An account is named by the Ed25519 public key that created it. Text
//! form (the ledger's `Address` form):
//!
//! ```text
//! "btl1" <64 lowercase hex digits: the 32-byte key> <8 lowercase hex digits: checksum>
//! checksum = SHA-256("btl-address" || key)[..4]
//! ```
//!
//! The checksum catches typos; only lowercase is accepted, so an address
//! has exactly one text form.

use sha2::{Digest, Sha256};

use crate::did::DidKey;

/// The prefix of an address.
pub const ADDRESS_PREFIX: &str = "btl1";
/// Length of an address's text form (4 + 64 + 8).
pub const ADDRESS_LEN: usize = 76;

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// Does not start with `btl1`.
    #[error("an account address starts with \"btl1\"")]
    Prefix,
    /// Wrong length or not lowercase hex after the prefix.
    #[error("an account address is \"btl1\" and 72 lowercase hex digits")]
    Format,
    /// The checksum does not match (a typo?).
    #[error("account address checksum does not match (a typo?)")]
    Checksum,
}

/// A ledger account: the Ed25519 public key that created it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account(pub [u8; 32]);

impl Account {
    /// The account created by `key`.
    pub fn of(key: &DidKey) -> Account {
        Account(key.public_bytes())
    }

    fn checksum(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(b"btl-address");
        h.update(self.0);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{ADDRESS_PREFIX}{}{}",
            hex::encode(self.0),
            hex::encode(self.checksum())
        )
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({self})")
    }
}

fn lower_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl std::str::FromStr for Account {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Account, AccountError> {
        let rest = s.strip_prefix(ADDRESS_PREFIX).ok_or(AccountError::Prefix)?;
        if rest.len() != 72 || !rest.is_ascii() {
            return Err(AccountError::Format);
        }
        let key = lower_hex::<32>(&rest[..64]).ok_or(AccountError::Format)?;
        let sum = lower_hex::<4>(&rest[64..]).ok_or(AccountError::Format)?;
        let a = Account(key);
        if a.checksum() != sum {
            return Err(AccountError::Checksum);
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_and_refusals() {
        let a = Account([0x11; 32]);
        let s = a.to_string();
        assert_eq!(s.len(), ADDRESS_LEN);
        // Pinned: the same text form as the ledger's `Address`.
        assert_eq!(s, format!("btl1{}d43c5583", "11".repeat(32)));
        assert_eq!(s.parse::<Account>(), Ok(a));
        assert_eq!("x".parse::<Account>(), Err(AccountError::Prefix));
        assert_eq!("btl1abc".parse::<Account>(), Err(AccountError::Format));
        assert_eq!(
            s.to_uppercase().replace("BTL1", "btl1").parse::<Account>(),
            Err(AccountError::Format)
        );
        let mut typo = s.clone().into_bytes();
        typo[10] = if typo[10] == b'1' { b'2' } else { b'1' };
        assert_eq!(
            String::from_utf8(typo).unwrap().parse::<Account>(),
            Err(AccountError::Checksum)
        );
    }
}
