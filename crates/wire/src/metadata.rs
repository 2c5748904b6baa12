//! BEP 9 `ut_metadata`: fetching the info dictionary from peers.
//!
//! The info dictionary is cut into 16 KiB pieces (the last may be shorter).
//! Each message is a bencoded dictionary; a data message has the raw piece
//! appended right after the dictionary's closing `e`:
//!
//! ```text
//! request: d8:msg_typei0e5:piecei<n>ee
//! data:    d8:msg_typei1e5:piecei<n>e10:total_sizei<size>ee<piece bytes>
//! reject:  d8:msg_typei2e5:piecei<n>ee
//! ```
//!
//! The end of the dictionary is found by [`split_bencoded_prefix`], a bounded
//! scanner that walks the value without allocating; the prefix is then
//! decoded by the strict decoder. The codec checks that `total_size` is within
//! the configured cap, that `piece` exists for that size, and that the data
//! has exactly the piece's length. Unknown keys are ignored.

use btl_bencode::{Owned, Value};
use bytes::{BufMut, Bytes, BytesMut};

use crate::extended::ExtendedHandshake;
use crate::{Message, WireError};

/// Size of a metadata piece (all but the last).
pub const METADATA_PIECE_LEN: usize = 16 * 1024;

const CTX: &str = "ut_metadata message";

/// A BEP 9 message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MetadataMessage {
    /// `msg_type` 0: asks for a piece.
    Request {
        /// Piece index.
        piece: u32,
    },
    /// `msg_type` 1: a piece.
    Data {
        /// Piece index.
        piece: u32,
        /// Size of the whole info dictionary.
        total_size: u64,
        /// The piece bytes (zero-copy slice of the payload).
        data: Bytes,
    },
    /// `msg_type` 2: the sender will not send this piece.
    Reject {
        /// Piece index.
        piece: u32,
    },
}

/// Number of metadata pieces for an info dictionary of `total_size` bytes.
pub fn metadata_piece_count(total_size: u64) -> u64 {
    total_size.div_ceil(METADATA_PIECE_LEN as u64)
}

/// Length of metadata piece `piece`, or `None` if there is no such piece.
pub fn metadata_piece_len(total_size: u64, piece: u32) -> Option<usize> {
    let start = u64::from(piece).checked_mul(METADATA_PIECE_LEN as u64)?;
    if start >= total_size {
        return None;
    }
    let len = (total_size - start).min(METADATA_PIECE_LEN as u64);
    usize::try_from(len).ok()
}

/// Splits `buf` into its leading bencoded value and the bytes after it.
///
/// The scan is bounded: nesting deeper than `max_depth` is refused, string
/// lengths are checked against the bytes present, and nothing is allocated.
/// The prefix is *located*, not validated: decode it with `btl-bencode`.
pub fn split_bencoded_prefix(buf: &[u8], max_depth: usize) -> Result<(&[u8], &[u8]), WireError> {
    let bad = |reason| WireError::invalid("bencoded prefix", reason);
    let mut pos = 0usize;
    let mut depth = 0usize;
    loop {
        let c = *buf.get(pos).ok_or_else(|| bad("truncated"))?;
        match c {
            b'd' | b'l' => {
                depth += 1;
                if depth > max_depth {
                    return Err(bad("nested too deeply"));
                }
                pos += 1;
                continue;
            }
            b'e' if depth > 0 => {
                depth -= 1;
                pos += 1;
            }
            b'i' => {
                let rel = buf[pos..]
                    .iter()
                    .position(|&b| b == b'e')
                    .ok_or_else(|| bad("truncated"))?;
                pos += rel + 1;
            }
            b'0'..=b'9' => {
                let rest = &buf[pos..];
                let colon = rest
                    .iter()
                    .take(21)
                    .position(|&b| b == b':')
                    .ok_or_else(|| bad("bad string length"))?;
                let mut len: usize = 0;
                for &d in &rest[..colon] {
                    if !d.is_ascii_digit() {
                        return Err(bad("bad string length"));
                    }
                    len = len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(d - b'0')))
                        .ok_or_else(|| bad("bad string length"))?;
                }
                let body = pos + colon + 1;
                if len > buf.len() - body {
                    return Err(bad("truncated"));
                }
                pos = body + len;
            }
            _ => return Err(bad("unexpected byte")),
        }
        if depth == 0 {
            return Ok(buf.split_at(pos));
        }
    }
}

fn get_u32(d: &btl_bencode::Dict<'_>, key: &[u8], ctx: &'static str) -> Result<u32, WireError> {
    d.get(key)
        .and_then(Value::as_int)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| WireError::invalid(ctx, "missing or out-of-range integer"))
}

impl MetadataMessage {
    /// Decodes a `ut_metadata` payload. `max_total_size` caps `total_size`.
    pub fn decode(payload: Bytes, max_total_size: u64) -> Result<Self, WireError> {
        Self::decode_as(payload, max_total_size, CTX)
    }

    /// Decodes a payload with ut_metadata's layout for the extension named
    /// by `ctx` (errors name it); `btl_prov` shares the layout.
    pub(crate) fn decode_as(
        payload: Bytes,
        max_total_size: u64,
        ctx: &'static str,
    ) -> Result<Self, WireError> {
        let (head, rest) = split_bencoded_prefix(&payload, 32)?;
        let head_len = head.len();
        let has_rest = !rest.is_empty();
        let v = btl_bencode::decode_with(head, ExtendedHandshake::bencode_limits(head_len))
            .map_err(|source| WireError::Bencode {
                context: ctx,
                source,
            })?;
        let d = v
            .as_dict()
            .ok_or_else(|| WireError::invalid(ctx, "not a dictionary"))?;
        let msg_type = d
            .get(b"msg_type")
            .and_then(Value::as_int)
            .ok_or_else(|| WireError::invalid(ctx, "missing msg_type"))?;
        let piece = get_u32(d, b"piece", ctx)?;
        let no_trailer = || {
            if has_rest {
                Err(WireError::invalid(ctx, "bytes after the dictionary"))
            } else {
                Ok(())
            }
        };
        match msg_type {
            0 => no_trailer().map(|()| Self::Request { piece }),
            2 => no_trailer().map(|()| Self::Reject { piece }),
            1 => {
                let total_size = d
                    .get(b"total_size")
                    .and_then(Value::as_int)
                    .and_then(|i| u64::try_from(i).ok())
                    .ok_or_else(|| WireError::invalid(ctx, "missing total_size"))?;
                if total_size > max_total_size {
                    return Err(WireError::invalid(ctx, "total_size over the limit"));
                }
                let expected = metadata_piece_len(total_size, piece)
                    .ok_or_else(|| WireError::invalid(ctx, "piece past total_size"))?;
                if payload.len() - head_len != expected {
                    return Err(WireError::invalid(ctx, "data has the wrong length"));
                }
                Ok(Self::Data {
                    piece,
                    total_size,
                    data: payload.slice(head_len..),
                })
            }
            other => Err(WireError::UnknownMetadataType(other)),
        }
    }

    /// Appends the payload (dictionary, then data for a data message).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        let mut d = Owned::dict();
        let (t, piece) = match self {
            Self::Request { piece } => (0, piece),
            Self::Data { piece, .. } => (1, piece),
            Self::Reject { piece } => (2, piece),
        };
        d.insert("msg_type", Owned::Int(t));
        d.insert("piece", Owned::Int(i64::from(*piece)));
        if let Self::Data { total_size, .. } = self {
            d.insert(
                "total_size",
                Owned::Int(i64::try_from(*total_size).unwrap_or(i64::MAX)),
            );
        }
        out.put_slice(&d.encode());
        if let Self::Data { data, .. } = self {
            out.put_slice(data);
        }
    }

    /// The payload as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// The extended message carrying this, addressed with the id the peer
    /// assigned to `ut_metadata` in its handshake.
    pub fn to_message(&self, peer_ext_id: u8) -> Message {
        Message::Extended {
            id: peer_ext_id,
            payload: self.to_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MAX: u64 = 16 << 20;

    #[test]
    fn spec_examples() {
        let req = b"d8:msg_typei0e5:piecei0ee";
        assert_eq!(
            MetadataMessage::decode(Bytes::from_static(req), MAX).unwrap(),
            MetadataMessage::Request { piece: 0 }
        );
        let mut data = b"d8:msg_typei1e5:piecei0e10:total_sizei34256ee".to_vec();
        data.extend_from_slice(&[7u8; METADATA_PIECE_LEN]);
        let m = MetadataMessage::decode(Bytes::from(data.clone()), MAX).unwrap();
        assert_eq!(
            m,
            MetadataMessage::Data {
                piece: 0,
                total_size: 34256,
                data: Bytes::from(vec![7u8; METADATA_PIECE_LEN])
            }
        );
        assert_eq!(&m.to_bytes()[..], &data[..]);
        let rej = b"d8:msg_typei2e5:piecei0ee";
        assert_eq!(
            MetadataMessage::decode(Bytes::from_static(rej), MAX).unwrap(),
            MetadataMessage::Reject { piece: 0 }
        );
    }

    #[test]
    fn last_piece_and_bounds() {
        assert_eq!(metadata_piece_count(34256), 3);
        assert_eq!(metadata_piece_len(34256, 2), Some(34256 - 32768));
        assert_eq!(metadata_piece_len(34256, 3), None);
        assert_eq!(metadata_piece_len(0, 0), None);
        let mut data = b"d8:msg_typei1e5:piecei2e10:total_sizei34256ee".to_vec();
        data.extend_from_slice(&[1u8; 34256 - 32768]);
        assert!(MetadataMessage::decode(Bytes::from(data.clone()), MAX).is_ok());
        data.push(0);
        assert!(MetadataMessage::decode(Bytes::from(data), MAX).is_err());
        let past = b"d8:msg_typei1e5:piecei3e10:total_sizei34256ee";
        assert!(MetadataMessage::decode(Bytes::from_static(past), MAX).is_err());
        let huge = b"d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee";
        assert!(MetadataMessage::decode(Bytes::from_static(huge), MAX).is_err());
    }

    #[test]
    fn malformed() {
        for bad in [
            &b""[..],
            b"d8:msg_typei0e",
            b"d8:msg_typei0e5:piecei-1ee",
            b"d5:piecei0ee",
            b"d8:msg_typei0e5:piecei0eeXX",
            b"i0e",
            b"d99999999999999999999:x",
            b"x",
        ] {
            assert!(
                MetadataMessage::decode(Bytes::copy_from_slice(bad), MAX).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            MetadataMessage::decode(Bytes::from_static(b"d8:msg_typei7e5:piecei0ee"), MAX),
            Err(WireError::UnknownMetadataType(7))
        );
        let deep = "l".repeat(40) + &"e".repeat(40);
        assert!(split_bencoded_prefix(deep.as_bytes(), 32).is_err());
        assert!(split_bencoded_prefix(b"li1e4:spamexyz", 32).is_ok());
        assert_eq!(
            split_bencoded_prefix(b"li1e4:spamexyz", 32).unwrap(),
            (&b"li1e4:spame"[..], &b"xyz"[..])
        );
    }
}
