//! The BEP 3 handshake and its reserved bits.
//!
//! # Layout (68 bytes)
//!
//! ```text
//! offset  size  field
//!      0     1  pstrlen = 19 (0x13)
//!      1    19  pstr    = "BitTorrent protocol"
//!     20     8  reserved (extension bits, see below)
//!     28    20  info hash (v1, or the v2 hash truncated to 20 bytes)
//!     48    20  peer id
//! ```
//!
//! # Reserved bits used here
//!
//! | byte | mask   | meaning                                   | BEP |
//! |------|--------|-------------------------------------------|-----|
//! | 5    | `0x10` | extension protocol (LTEP)                 | 10  |
//! | 7    | `0x01` | DHT (the peer sends a `port` message)      | 5   |
//! | 7    | `0x04` | fast extension                             | 6   |
//! | 7    | `0x10` | v2 upgrade: the peer also has the v2 swarm | 52  |
//!
//! Other bits are kept as received ([`Reserved::0`]) and ignored.
//!
//! # Incremental decoding
//!
//! An incoming connection learns the info hash before the peer id: the
//! initiator may wait for our handshake before it sends its peer id (old
//! clients did), and the receiver must pick the torrent by info hash before it
//! answers. [`Handshake::peek_header`] decodes the first 48 bytes;
//! [`Handshake::decode`] needs all 68. Both return `Ok(None)` while bytes are
//! missing, and fail as soon as the protocol string is wrong.

use std::fmt;

use btl_types::Sha1Hash;
use bytes::{Buf, BufMut, BytesMut};

use crate::WireError;

/// The protocol string of BEP 3.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// A 20-byte peer id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PeerId(pub [u8; 20]);

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerId(")?;
        for &b in &self.0 {
            if b.is_ascii_graphic() && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str(")")
    }
}

/// The 8 reserved bytes of the handshake.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Reserved(pub [u8; 8]);

macro_rules! reserved_bit {
    ($(#[$doc:meta])* $get:ident, $set:ident, $byte:expr, $mask:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> bool {
            self.0[$byte] & $mask != 0
        }

        /// Sets or clears the bit read by the getter of the same name.
        pub fn $set(&mut self, on: bool) -> &mut Self {
            if on {
                self.0[$byte] |= $mask;
            } else {
                self.0[$byte] &= !$mask;
            }
            self
        }
    };
}

impl Reserved {
    /// What this client sends: extension protocol, fast extension, DHT.
    pub fn ours(v2: bool) -> Self {
        let mut r = Self::default();
        r.set_extension_protocol(true)
            .set_fast(true)
            .set_dht(true)
            .set_v2(v2);
        r
    }

    reserved_bit!(
        /// BEP 10 extension protocol (byte 5, `0x10`).
        extension_protocol, set_extension_protocol, 5, 0x10
    );
    reserved_bit!(
        /// BEP 6 fast extension (byte 7, `0x04`).
        fast, set_fast, 7, 0x04
    );
    reserved_bit!(
        /// BEP 5 DHT (byte 7, `0x01`).
        dht, set_dht, 7, 0x01
    );
    reserved_bit!(
        /// BEP 52 upgrade to v2 (byte 7, `0x10`).
        v2, set_v2, 7, 0x10
    );
}

/// The first 48 bytes of a handshake: everything but the peer id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HandshakeHeader {
    /// Extension bits.
    pub reserved: Reserved,
    /// The torrent's wire id.
    pub info_hash: Sha1Hash,
}

/// A complete BEP 3 handshake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Handshake {
    /// Extension bits.
    pub reserved: Reserved,
    /// The torrent's wire id (see `InfoHashes::wire_id`).
    pub info_hash: Sha1Hash,
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Encoded length.
    pub const LEN: usize = 68;
    /// Length of [`HandshakeHeader`] on the wire.
    pub const HEADER_LEN: usize = 48;

    /// Checks the protocol string as far as `buf` goes.
    fn check_prefix(buf: &[u8]) -> Result<(), WireError> {
        let n = buf.len().min(20);
        let mut expected = [0u8; 20];
        expected[0] = 19;
        expected[1..].copy_from_slice(PROTOCOL);
        if buf[..n] != expected[..n] {
            return Err(WireError::BadProtocol);
        }
        Ok(())
    }

    /// Decodes the header (first 48 bytes); `Ok(None)` if `buf` is shorter.
    pub fn peek_header(buf: &[u8]) -> Result<Option<HandshakeHeader>, WireError> {
        Self::check_prefix(buf)?;
        if buf.len() < Self::HEADER_LEN {
            return Ok(None);
        }
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&buf[20..28]);
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&buf[28..48]);
        Ok(Some(HandshakeHeader {
            reserved: Reserved(reserved),
            info_hash: Sha1Hash(hash),
        }))
    }

    /// Decodes a handshake from the start of `buf`; `Ok(None)` if fewer than
    /// [`Handshake::LEN`] bytes are present. Bytes after the handshake are
    /// not looked at.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        let Some(header) = Self::peek_header(buf)? else {
            return Ok(None);
        };
        if buf.len() < Self::LEN {
            return Ok(None);
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&buf[48..68]);
        Ok(Some(Handshake {
            reserved: header.reserved,
            info_hash: header.info_hash,
            peer_id: PeerId(id),
        }))
    }

    /// Like [`Handshake::decode`], and on success removes the 68 bytes from
    /// `buf`, leaving the first messages that may follow.
    pub fn decode_from(buf: &mut BytesMut) -> Result<Option<Handshake>, WireError> {
        let hs = Self::decode(buf)?;
        if hs.is_some() {
            buf.advance(Self::LEN);
        }
        Ok(hs)
    }

    /// Appends the 68-byte encoding.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u8(19);
        out.put_slice(PROTOCOL);
        out.put_slice(&self.reserved.0);
        out.put_slice(&self.info_hash.0);
        out.put_slice(&self.peer_id.0);
    }

    /// The 68-byte encoding.
    pub fn to_bytes(&self) -> [u8; 68] {
        let mut out = [0u8; 68];
        let mut w = &mut out[..];
        self.encode(&mut w);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn golden_encoding() {
        let mut r = Reserved::default();
        r.set_extension_protocol(true).set_fast(true);
        let hs = Handshake {
            reserved: r,
            info_hash: Sha1Hash([0xaa; 20]),
            peer_id: PeerId(*b"-BT0001-abcdefghijkl"),
        };
        let b = hs.to_bytes();
        assert_eq!(&b[..20], b"\x13BitTorrent protocol");
        assert_eq!(&b[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert_eq!(&b[28..48], &[0xaa; 20]);
        assert_eq!(&b[48..], b"-BT0001-abcdefghijkl");
        assert_eq!(Handshake::decode(&b).unwrap(), Some(hs));
    }

    #[test]
    fn incremental() {
        let hs = Handshake {
            reserved: Reserved::ours(true),
            info_hash: Sha1Hash([1; 20]),
            peer_id: PeerId([2; 20]),
        };
        let b = hs.to_bytes();
        for n in 0..68 {
            assert_eq!(Handshake::decode(&b[..n]).unwrap(), None, "{n}");
        }
        assert_eq!(Handshake::peek_header(&b[..47]).unwrap(), None);
        let h = Handshake::peek_header(&b[..48]).unwrap().unwrap();
        assert_eq!(h.info_hash, hs.info_hash);
        assert!(h.reserved.v2() && h.reserved.dht() && h.reserved.fast());
        let mut buf = BytesMut::from(&b[..]);
        buf.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Handshake::decode_from(&mut buf).unwrap(), Some(hs));
        assert_eq!(&buf[..], &[0, 0, 0, 0]);
    }

    #[test]
    fn bad_protocol_fails_early() {
        assert_eq!(Handshake::decode(b"\x13Bit"), Ok(None));
        assert_eq!(Handshake::decode(b"\x13Bat"), Err(WireError::BadProtocol));
        assert_eq!(Handshake::decode(b"\x16\x03"), Err(WireError::BadProtocol));
        assert_eq!(Handshake::decode(b""), Ok(None));
    }

    #[test]
    fn bits_set_and_clear() {
        let mut r = Reserved([0xff; 8]);
        r.set_v2(false);
        assert!(!r.v2());
        assert!(r.fast());
        assert_eq!(r.0[7], 0xef);
        assert_eq!(
            format!("{:?}", PeerId(*b"-qB4650-\x00bcdefghijkl")),
            "PeerId(-qB4650-\\x00bcdefghijkl)"
        );
    }
}
