//! The streaming frame decoder and its limits.
//!
//! Feed received bytes into a `BytesMut`, then call
//! [`FrameDecoder::decode`] until it returns `Ok(None)`:
//!
//! ```
//! use btl_wire::{FrameDecoder, FrameLimits, Message};
//! use bytes::BytesMut;
//!
//! let mut dec = FrameDecoder::new(FrameLimits::default());
//! let mut buf = BytesMut::new();
//! buf.extend_from_slice(&[0, 0, 0, 5, 4, 0, 0]); // half a `have`
//! assert_eq!(dec.decode(&mut buf), Ok(None));
//! buf.extend_from_slice(&[0, 7]);
//! assert_eq!(dec.decode(&mut buf), Ok(Some(Message::Have(7))));
//! ```
//!
//! # Bounds
//!
//! The length prefix is checked against the cap for the message id (read from
//! the fifth byte) before any buffer space is reserved, so a peer can make us
//! hold at most one capped frame. A frame over its cap is a fatal error and is
//! not consumed. Payloads (blocks, bitfields, extension payloads) are returned
//! as `Bytes` that share the receive buffer's allocation.

use bytes::{Buf, BytesMut};

use crate::message::{bitfield_len, id, Message};
use crate::WireError;

/// Default cap on a requested or received block: 16 KiB.
pub const DEFAULT_BLOCK_LEN: u32 = 16 * 1024;

/// Caps applied while decoding frames from a peer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameLimits {
    /// The torrent's piece count, once known (it is not while fetching the
    /// metadata of a magnet link). When set, bitfields must have the exact
    /// size with zero spare bits, and piece indices must be in range.
    pub piece_count: Option<u32>,
    /// Largest block a peer may request; larger requests decode to
    /// [`WireError::RequestTooLong`]. Default 16 KiB.
    pub max_request_len: u32,
    /// Largest block accepted in a piece message. Default 16 KiB.
    pub max_block_len: u32,
    /// Largest bitfield (bytes) while the piece count is unknown.
    /// Default 1 MiB (8 Mi pieces).
    pub max_bitfield_len: u32,
    /// Largest BEP 10 payload (after the extended id byte). Default 1 MiB.
    pub max_extended_len: u32,
    /// Most hashes in a BEP 52 hashes message (base layer and proof).
    /// Default 8192 + 64.
    pub max_hashes: u32,
    /// Largest frame with an unknown id; such frames are skipped.
    /// Default 16 KiB + 13.
    pub max_unknown_len: u32,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            piece_count: None,
            max_request_len: DEFAULT_BLOCK_LEN,
            max_block_len: DEFAULT_BLOCK_LEN,
            max_bitfield_len: 1 << 20,
            max_extended_len: 1 << 20,
            max_hashes: 8192 + 64,
            max_unknown_len: DEFAULT_BLOCK_LEN + 13,
        }
    }
}

impl FrameLimits {
    /// Limits for a torrent with a known piece count.
    pub fn with_piece_count(piece_count: u32) -> Self {
        Self {
            piece_count: Some(piece_count),
            ..Self::default()
        }
    }

    /// The largest frame body (id and payload) accepted for message `id`.
    pub fn max_body_len(&self, mid: u8) -> u32 {
        match mid {
            id::CHOKE
            | id::UNCHOKE
            | id::INTERESTED
            | id::NOT_INTERESTED
            | id::HAVE_ALL
            | id::HAVE_NONE => 1,
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => 5,
            id::REQUEST | id::CANCEL | id::REJECT => 13,
            id::PORT => 3,
            id::BITFIELD => match self.piece_count {
                Some(n) => u32::try_from(bitfield_len(n))
                    .unwrap_or(u32::MAX)
                    .saturating_add(1),
                None => self.max_bitfield_len.saturating_add(1),
            },
            id::PIECE => self.max_block_len.saturating_add(9),
            id::EXTENDED => self.max_extended_len.saturating_add(2),
            id::HASH_REQUEST | id::HASH_REJECT => 49,
            id::HASHES => self.max_hashes.saturating_mul(32).saturating_add(49),
            _ => self.max_unknown_len,
        }
    }

    pub(crate) fn check_index(&self, index: u32) -> Result<(), WireError> {
        match self.piece_count {
            Some(count) if index >= count => Err(WireError::PieceOutOfRange { index, count }),
            _ => Ok(()),
        }
    }
}

/// Splits a byte stream into [`Message`]s. Stateless apart from its limits.
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    limits: FrameLimits,
}

impl FrameDecoder {
    /// A decoder with these limits.
    pub fn new(limits: FrameLimits) -> Self {
        Self { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Changes the limits (e.g. once the metadata, and so the piece count,
    /// is known).
    pub fn limits_mut(&mut self) -> &mut FrameLimits {
        &mut self.limits
    }

    /// Sets the piece count (see [`FrameLimits::piece_count`]).
    pub fn set_piece_count(&mut self, piece_count: u32) {
        self.limits.piece_count = Some(piece_count);
    }

    /// Decodes the next message from the front of `buf`.
    ///
    /// - `Ok(Some(msg))`: one frame was removed from `buf`.
    /// - `Ok(None)`: more bytes are needed; if the length is already known
    ///   and within its cap, `buf` has been reserved room for the whole frame.
    /// - `Err(e)` with `e.is_fatal()`: nothing was consumed; close the
    ///   connection.
    /// - `Err(e)` otherwise: the offending frame was removed from `buf`; the
    ///   next call continues with the following frame.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WireError> {
        let Some(len) = buf
            .get(..4)
            .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
        else {
            return Ok(None);
        };
        if len == 0 {
            buf.advance(4);
            return Ok(Some(Message::KeepAlive));
        }
        let Some(&mid) = buf.get(4) else {
            return Ok(None);
        };
        let max = self.limits.max_body_len(mid);
        if len > max {
            return Err(WireError::MessageTooLong {
                id: Some(mid),
                len,
                max,
            });
        }
        // `len <= max <= u32::MAX`, and usize is at least 32 bits here.
        let total = 4 + len as usize;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        let body = buf.split_to(len as usize).freeze();
        Message::decode_body(body, &self.limits).map(Some)
    }
}
