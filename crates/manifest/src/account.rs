//! Ledger account addresses, as manifests name them (payment address,
//! revenue splits) and as `btl key` shows them.
//!
//! An account is named by the Ed25519 public key that created it; its text
//! form is the ledger's (`btl1…`, see [`btl_types::address`]).

use btl_types::address::{decode_address, encode_address};

use crate::did::DidKey;

pub use btl_types::address::{ADDRESS_LEN, ADDRESS_PREFIX};

/// Why an address was refused.
pub type AccountError = btl_types::address::AddressError;

/// A ledger account: the Ed25519 public key that created it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account(pub [u8; 32]);

impl Account {
    /// The account created by `key`.
    pub fn of(key: &DidKey) -> Account {
        Account(key.public_bytes())
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&encode_address(&self.0))
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({self})")
    }
}

impl std::str::FromStr for Account {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Account, AccountError> {
        decode_address(s).map(Account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_the_ledger() {
        let a = Account([0x11; 32]);
        let s = a.to_string();
        assert_eq!(s, btl_types::address::encode_address(&[0x11; 32]));
        assert_eq!(s.parse::<Account>(), Ok(a));
        assert_eq!("x".parse::<Account>(), Err(AccountError::Prefix));
    }
}
