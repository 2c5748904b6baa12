//! BEP 44: storing small items in the DHT.
//!
//! - An **immutable** item is a value stored under the SHA-1 of its
//!   bencoding; anyone can check it against its target.
//! - A **mutable** item is a value signed with an Ed25519 key, stored under
//!   SHA-1(public key ‖ salt); a higher `seq` replaces a lower one, and
//!   `cas` makes a write conditional on the `seq` it replaces.
//!
//! Values here are byte strings (the item's `v` is the bencoded string),
//! at most [`MAX_VALUE`] bytes so that `v` fits BEP 44's 1000-byte limit;
//! salts are at most [`MAX_SALT`] bytes. Items coming from the network are
//! verified (hash, or key, signature and target) before they are returned.
//!
//! The types here are ours: callers never see `mainline`'s, so its version
//! can change under them.

use super::{Dht, DhtError};
use btl_types::Sha1Hash;
use futures_lite::StreamExt;
use mainline::Id;
use sha1::{Digest, Sha1};

/// Largest value: `v` (a bencoded string: `996:` and 996 bytes) is then
/// BEP 44's 1000 bytes.
pub const MAX_VALUE: usize = 996;
/// Largest salt (BEP 44).
pub const MAX_SALT: usize = 64;

/// Bad input to a BEP 44 call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// The value is too long.
    #[error("a DHT item value is at most {MAX_VALUE} bytes, not {0}")]
    ValueTooLong(usize),
    /// The salt is too long.
    #[error("a DHT item salt is at most {MAX_SALT} bytes, not {0}")]
    SaltTooLong(usize),
    /// `seq` must not be negative.
    #[error("a mutable item's seq must not be negative ({0})")]
    NegativeSeq(i64),
}

/// The target of an immutable item: SHA-1 of the bencoded value.
pub fn immutable_target(value: &[u8]) -> Sha1Hash {
    let mut h = Sha1::new();
    h.update(format!("{}:", value.len()).as_bytes());
    h.update(value);
    Sha1Hash(h.finalize().into())
}

/// The target of a mutable item: SHA-1 of the public key and the salt.
pub fn mutable_target(public_key: &[u8; 32], salt: Option<&[u8]>) -> Sha1Hash {
    let mut h = Sha1::new();
    h.update(public_key);
    if let Some(s) = salt {
        h.update(s);
    }
    Sha1Hash(h.finalize().into())
}

/// A signed mutable item.
#[derive(Clone, PartialEq, Eq)]
pub struct MutableItem {
    key: [u8; 32],
    salt: Option<Vec<u8>>,
    seq: i64,
    value: Vec<u8>,
    signature: [u8; 64],
}

impl std::fmt::Debug for MutableItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutableItem")
            .field("target", &self.target())
            .field("seq", &self.seq)
            .field("value_len", &self.value.len())
            .finish_non_exhaustive()
    }
}

impl MutableItem {
    /// Signs `value` at `seq` with the Ed25519 key whose 32-byte secret
    /// seed is `secret`.
    pub fn sign(
        secret: &[u8; 32],
        value: &[u8],
        seq: i64,
        salt: Option<&[u8]>,
    ) -> Result<MutableItem, ItemError> {
        check(value, salt)?;
        if seq < 0 {
            return Err(ItemError::NegativeSeq(seq));
        }
        let key = mainline::SigningKey::from_bytes(secret);
        Ok(MutableItem::from_mainline(&mainline::MutableItem::new(
            key, value, seq, salt,
        )))
    }

    fn from_mainline(m: &mainline::MutableItem) -> MutableItem {
        MutableItem {
            key: *m.key(),
            salt: m.salt().map(<[u8]>::to_vec),
            seq: m.seq(),
            value: m.value().to_vec(),
            signature: *m.signature(),
        }
    }

    fn to_mainline(&self) -> mainline::MutableItem {
        mainline::MutableItem::new_signed_unchecked(
            self.key,
            self.signature,
            &self.value,
            self.seq,
            self.salt.as_deref(),
        )
    }

    /// Where the item is stored.
    pub fn target(&self) -> Sha1Hash {
        mutable_target(&self.key, self.salt.as_deref())
    }

    /// The signer's Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The salt, if any.
    pub fn salt(&self) -> Option<&[u8]> {
        self.salt.as_deref()
    }

    /// The sequence number.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The Ed25519 signature over the salt, `seq` and value (BEP 44).
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

fn check(value: &[u8], salt: Option<&[u8]>) -> Result<(), ItemError> {
    if value.len() > MAX_VALUE {
        return Err(ItemError::ValueTooLong(value.len()));
    }
    if let Some(s) = salt {
        if s.len() > MAX_SALT {
            return Err(ItemError::SaltTooLong(s.len()));
        }
    }
    Ok(())
}

impl Dht {
    /// Stores an immutable item at the nodes closest to its target;
    /// returns the target.
    pub async fn put_immutable(&self, value: &[u8]) -> Result<Sha1Hash, DhtError> {
        check(value, None)?;
        let id = self.mainline().put_immutable(value).await?;
        Ok(Sha1Hash(*id.as_bytes()))
    }

    /// Fetches an immutable item (verified against `target`); `None` when
    /// no node has it.
    pub async fn get_immutable(&self, target: Sha1Hash) -> Option<Vec<u8>> {
        let v = self.mainline().get_immutable(Id::from(target.0)).await?;
        // mainline checks the hash; check again, it costs nothing.
        (immutable_target(&v) == target).then(|| v.into_vec())
    }

    /// Stores a mutable item. With `cas`, nodes holding an item with
    /// another `seq` refuse it ([`DhtError::Conflict`]).
    pub async fn put_mutable(
        &self,
        item: &MutableItem,
        cas: Option<i64>,
    ) -> Result<Sha1Hash, DhtError> {
        check(&item.value, item.salt.as_deref())?;
        use mainline::errors::PutMutableError as E;
        match self.mainline().put_mutable(item.to_mainline(), cas).await {
            Ok(o) => Ok(Sha1Hash(*o.target.as_bytes())),
            Err(E::Query(q)) => Err(q.into()),
            Err(E::Concurrency(c)) => Err(DhtError::Conflict(c.to_string())),
        }
    }

    /// Fetches the most recent mutable item of `public_key` and `salt`
    /// (signature and target verified), or `None`.
    pub async fn get_mutable(
        &self,
        public_key: &[u8; 32],
        salt: Option<&[u8]>,
    ) -> Option<MutableItem> {
        if salt.is_some_and(|s| s.len() > MAX_SALT) {
            return None;
        }
        let mut stream = self.mainline().get_mutable(public_key, salt, None);
        let mut best: Option<MutableItem> = None;
        while let Some(m) = stream.next().await {
            let item = MutableItem::from_mainline(&m);
            if item.key != *public_key || item.salt.as_deref() != salt {
                continue;
            }
            let newer = best
                .as_ref()
                .is_none_or(|b| (item.seq, item.value.as_slice()) > (b.seq, b.value.as_slice()));
            if newer {
                best = Some(item);
            }
        }
        best
    }
}
