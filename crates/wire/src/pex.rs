//! BEP 11 `ut_pex`: peer exchange, and the compact peer formats.
//!
//! The payload is a bencoded dictionary:
//!
//! | key         | value                                             |
//! |-------------|---------------------------------------------------|
//! | `added`     | compact IPv4 peers, 6 bytes each                  |
//! | `added.f`   | one flag byte per `added` peer                    |
//! | `added6`    | compact IPv6 peers, 18 bytes each                 |
//! | `added6.f`  | one flag byte per `added6` peer                   |
//! | `dropped`   | compact IPv4 peers                                |
//! | `dropped6`  | compact IPv6 peers                                |
//!
//! Compact peer: the address bytes in network order, then the port as a
//! big-endian `u16`:
//!
//! ```text
//! IPv4: | a b c d | port_hi port_lo |            (6 bytes)
//! IPv6: | 16 address bytes | port_hi port_lo |  (18 bytes)
//! ```
//!
//! A peer list whose length is not a multiple of the entry size is an error.
//! Missing flag bytes count as 0 and surplus ones are ignored; every key is
//! optional and unknown keys are ignored. BEP 11 limits a message to 50 added
//! and 50 dropped peers; the codec does not enforce that (the frame cap bounds
//! the size), the engine may.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use btl_bencode::{Owned, Value};
use bytes::Bytes;

use crate::extended::ExtendedHandshake;
use crate::{Message, WireError};

const CTX: &str = "ut_pex message";

/// The per-peer flag byte of `added.f` / `added6.f`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// The peer prefers encrypted connections.
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    /// The peer is a seed or upload-only.
    pub const SEED: u8 = 0x02;
    /// The peer supports uTP.
    pub const UTP: u8 = 0x04;
    /// The peer supports `ut_holepunch`.
    pub const HOLEPUNCH: u8 = 0x08;
    /// The sender reached this peer by an outgoing connection (so the peer is
    /// reachable).
    pub const REACHABLE: u8 = 0x10;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// Decodes compact IPv4 peers (6 bytes each).
pub fn decode_compact_v4(b: &[u8]) -> Result<Vec<SocketAddrV4>, WireError> {
    if !b.len().is_multiple_of(6) {
        return Err(WireError::invalid(
            CTX,
            "IPv4 peer list not a multiple of 6 bytes",
        ));
    }
    Ok(b.chunks_exact(6)
        .map(|c| {
            SocketAddrV4::new(
                Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect())
}

/// Decodes compact IPv6 peers (18 bytes each).
pub fn decode_compact_v6(b: &[u8]) -> Result<Vec<SocketAddrV6>, WireError> {
    if !b.len().is_multiple_of(18) {
        return Err(WireError::invalid(
            CTX,
            "IPv6 peer list not a multiple of 18 bytes",
        ));
    }
    Ok(b.chunks_exact(18)
        .map(|c| {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&c[..16]);
            SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes([c[16], c[17]]), 0, 0)
        })
        .collect())
}

/// Appends compact IPv4 peers.
pub fn encode_compact_v4<'a>(peers: impl IntoIterator<Item = &'a SocketAddrV4>, out: &mut Vec<u8>) {
    for p in peers {
        out.extend_from_slice(&p.ip().octets());
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

/// Appends compact IPv6 peers (flow info and scope id are not carried).
pub fn encode_compact_v6<'a>(peers: impl IntoIterator<Item = &'a SocketAddrV6>, out: &mut Vec<u8>) {
    for p in peers {
        out.extend_from_slice(&p.ip().octets());
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

/// A BEP 11 message.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PexMessage {
    /// IPv4 peers that joined, with their flags.
    pub added: Vec<(SocketAddrV4, PexFlags)>,
    /// IPv6 peers that joined, with their flags.
    pub added6: Vec<(SocketAddrV6, PexFlags)>,
    /// IPv4 peers that left.
    pub dropped: Vec<SocketAddrV4>,
    /// IPv6 peers that left.
    pub dropped6: Vec<SocketAddrV6>,
}

fn with_flags<A>(addrs: Vec<A>, flags: &[u8]) -> Vec<(A, PexFlags)> {
    addrs
        .into_iter()
        .enumerate()
        .map(|(i, a)| (a, PexFlags(flags.get(i).copied().unwrap_or(0))))
        .collect()
}

impl PexMessage {
    /// Decodes a `ut_pex` payload.
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let v = btl_bencode::decode_with(payload, ExtendedHandshake::bencode_limits(payload.len()))
            .map_err(|source| WireError::Bencode {
                context: CTX,
                source,
            })?;
        let d = v
            .as_dict()
            .ok_or_else(|| WireError::invalid(CTX, "not a dictionary"))?;
        let bytes = |k: &[u8]| -> Result<&[u8], WireError> {
            match d.get(k) {
                None => Ok(&[]),
                Some(v) => v
                    .as_bytes()
                    .ok_or_else(|| WireError::invalid(CTX, "peer list is not a byte string")),
            }
        };
        let flags = |k: &[u8]| d.get(k).and_then(Value::as_bytes).unwrap_or(&[]);
        Ok(Self {
            added: with_flags(decode_compact_v4(bytes(b"added")?)?, flags(b"added.f")),
            added6: with_flags(decode_compact_v6(bytes(b"added6")?)?, flags(b"added6.f")),
            dropped: decode_compact_v4(bytes(b"dropped")?)?,
            dropped6: decode_compact_v6(bytes(b"dropped6")?)?,
        })
    }

    /// Canonical bencoding. Empty lists are omitted, except that `added`,
    /// `added.f` and `dropped` are always present (some clients expect them).
    pub fn encode(&self) -> Vec<u8> {
        let mut d = BTreeMap::new();
        let mut put = |k: &str, v: Vec<u8>| {
            d.insert(k.as_bytes().to_vec(), Owned::Bytes(v));
        };
        let mut b = Vec::new();
        encode_compact_v4(self.added.iter().map(|(a, _)| a), &mut b);
        put("added", b);
        put("added.f", self.added.iter().map(|(_, f)| f.0).collect());
        if !self.added6.is_empty() {
            let mut b = Vec::new();
            encode_compact_v6(self.added6.iter().map(|(a, _)| a), &mut b);
            put("added6", b);
            put("added6.f", self.added6.iter().map(|(_, f)| f.0).collect());
        }
        let mut b = Vec::new();
        encode_compact_v4(&self.dropped, &mut b);
        put("dropped", b);
        if !self.dropped6.is_empty() {
            let mut b = Vec::new();
            encode_compact_v6(&self.dropped6, &mut b);
            put("dropped6", b);
        }
        Owned::Dict(d).encode()
    }

    /// The extended message carrying this, addressed with the id the peer
    /// assigned to `ut_pex` in its handshake.
    pub fn to_message(&self, peer_ext_id: u8) -> Message {
        Message::Extended {
            id: peer_ext_id,
            payload: Bytes::from(self.encode()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn golden() {
        let m = PexMessage {
            added: vec![(
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6881),
                PexFlags(PexFlags::SEED | PexFlags::REACHABLE),
            )],
            added6: vec![],
            dropped: vec![SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 0x0102)],
            dropped6: vec![SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0)],
        };
        let enc = m.encode();
        let mut expected = b"d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f1:\x127:dropped6:\x01\x02\x03\x04\x01\x028:dropped618:".to_vec();
        expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        expected.extend_from_slice(b"\x00\x50e");
        assert_eq!(enc, expected);
        assert_eq!(PexMessage::decode(&enc).unwrap(), m);
        assert!(m.added[0].1.has(PexFlags::SEED));
        assert!(!m.added[0].1.has(PexFlags::UTP));
    }

    #[test]
    fn lenient_flags_strict_lists() {
        let m = PexMessage::decode(b"d5:added12:abcdefghijkl7:added.f1:\x01e").unwrap();
        assert_eq!(m.added.len(), 2);
        assert_eq!(m.added[1].1, PexFlags(0));
        assert!(PexMessage::decode(b"d5:added5:abcdee").is_err());
        assert!(PexMessage::decode(b"d6:added65:abcdee").is_err());
        assert!(PexMessage::decode(b"d5:addedi1ee").is_err());
        assert_eq!(PexMessage::decode(b"de").unwrap(), PexMessage::default());
    }
}
