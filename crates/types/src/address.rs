//! The text form of a ledger account address, shared by the ledger
//! (`Address`) and by manifests and keys (`Account`).
//!
//! An account is named by the Ed25519 public key that created it:
//!
//! ```text
//! "btl1" <64 lowercase hex digits: the 32-byte key> <8 lowercase hex digits: checksum>
//! checksum = SHA-256("btl-address" || key)[..4]
//! ```
//!
//! The checksum catches typos; only lowercase is accepted, so an address
//! has exactly one text form.

use sha2::{Digest, Sha256};

/// The prefix of an address.
pub const ADDRESS_PREFIX: &str = "btl1";
/// Length of an address's text form (4 + 64 + 8).
pub const ADDRESS_LEN: usize = 76;

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
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

fn checksum(key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(b"btl-address");
    h.update(key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The text form of the account created by `key`.
pub fn encode_address(key: &[u8; 32]) -> String {
    format!(
        "{ADDRESS_PREFIX}{}{}",
        hex::encode(key),
        hex::encode(checksum(key))
    )
}

fn lower_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// The key an address names.
///
/// # Errors
///
/// [`AddressError`] for a wrong prefix, length, case or checksum.
pub fn decode_address(s: &str) -> Result<[u8; 32], AddressError> {
    let rest = s.strip_prefix(ADDRESS_PREFIX).ok_or(AddressError::Prefix)?;
    if rest.len() != 72 || !rest.is_ascii() {
        return Err(AddressError::Format);
    }
    let key = lower_hex::<32>(&rest[..64]).ok_or(AddressError::Format)?;
    let sum = lower_hex::<4>(&rest[64..]).ok_or(AddressError::Format)?;
    if checksum(&key) != sum {
        return Err(AddressError::Checksum);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_and_refusals() {
        let s = encode_address(&[0x11; 32]);
        assert_eq!(s.len(), ADDRESS_LEN);
        // Pinned.
        assert_eq!(s, format!("btl1{}d43c5583", "11".repeat(32)));
        assert_eq!(decode_address(&s), Ok([0x11; 32]));
        assert_eq!(decode_address("x"), Err(AddressError::Prefix));
        assert_eq!(decode_address("btl1abc"), Err(AddressError::Format));
        let upper = s.to_uppercase().replace("BTL1", "btl1");
        assert_eq!(decode_address(&upper), Err(AddressError::Format));
        // A multi-byte character where the checksum starts.
        let odd = format!("btl1{}é123456", "11".repeat(32));
        assert_eq!(decode_address(&odd), Err(AddressError::Format));
        let mut typo = s.into_bytes();
        typo[10] = if typo[10] == b'1' { b'2' } else { b'1' };
        assert_eq!(
            decode_address(&String::from_utf8(typo).unwrap()),
            Err(AddressError::Checksum)
        );
    }
}
