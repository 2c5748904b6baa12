//! Length-prefixed peer messages (BEP 3, 5, 6, 10, 52).
//!
//! # Frame
//!
//! ```text
//! <length: u32 big-endian><id: u8><payload: length - 1 bytes>
//! ```
//!
//! A length of 0 is a keep-alive (no id). All integers are big-endian.
//!
//! # Messages
//!
//! | id | name           | payload                                   | len  | BEP |
//! |----|----------------|-------------------------------------------|------|-----|
//! | -  | keep-alive     | none (length 0, no id)                    | 0    | 3   |
//! | 0  | choke          | none                                      | 1    | 3   |
//! | 1  | unchoke        | none                                      | 1    | 3   |
//! | 2  | interested     | none                                      | 1    | 3   |
//! | 3  | not interested | none                                      | 1    | 3   |
//! | 4  | have           | `index: u32`                              | 5    | 3   |
//! | 5  | bitfield       | one bit per piece, high bit of byte 0 first | 1+n  | 3   |
//! | 6  | request        | `index: u32, begin: u32, length: u32`     | 13   | 3   |
//! | 7  | piece          | `index: u32, begin: u32, block`           | 9+n  | 3   |
//! | 8  | cancel         | `index: u32, begin: u32, length: u32`     | 13   | 3   |
//! | 9  | port           | `port: u16` (the sender's DHT port)       | 3    | 5   |
//! | 13 | suggest piece  | `index: u32`                              | 5    | 6   |
//! | 14 | have all       | none                                      | 1    | 6   |
//! | 15 | have none      | none                                      | 1    | 6   |
//! | 16 | reject request | `index: u32, begin: u32, length: u32`     | 13   | 6   |
//! | 17 | allowed fast   | `index: u32`                              | 5    | 6   |
//! | 20 | extended       | `ext id: u8, payload` (see [`crate::extended`]) | 2+n | 10 |
//! | 21 | hash request   | see [`crate::hashes`]                     | 49   | 52  |
//! | 22 | hashes         | see [`crate::hashes`]                     | 49+32n | 52 |
//! | 23 | hash reject    | see [`crate::hashes`]                     | 49   | 52  |
//!
//! Bitfield spare bits (past the last piece) must be zero; the codec checks it
//! when the piece count is known ([`crate::FrameLimits::piece_count`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::frame::FrameLimits;
use crate::hashes::{HashRequest, Hashes, HASH_HEADER_LEN};
use crate::WireError;

/// Message id bytes.
pub mod id {
    /// BEP 3 choke.
    pub const CHOKE: u8 = 0;
    /// BEP 3 unchoke.
    pub const UNCHOKE: u8 = 1;
    /// BEP 3 interested.
    pub const INTERESTED: u8 = 2;
    /// BEP 3 not interested.
    pub const NOT_INTERESTED: u8 = 3;
    /// BEP 3 have.
    pub const HAVE: u8 = 4;
    /// BEP 3 bitfield.
    pub const BITFIELD: u8 = 5;
    /// BEP 3 request.
    pub const REQUEST: u8 = 6;
    /// BEP 3 piece.
    pub const PIECE: u8 = 7;
    /// BEP 3 cancel.
    pub const CANCEL: u8 = 8;
    /// BEP 5 port.
    pub const PORT: u8 = 9;
    /// BEP 6 suggest piece.
    pub const SUGGEST: u8 = 13;
    /// BEP 6 have all.
    pub const HAVE_ALL: u8 = 14;
    /// BEP 6 have none.
    pub const HAVE_NONE: u8 = 15;
    /// BEP 6 reject request.
    pub const REJECT: u8 = 16;
    /// BEP 6 allowed fast.
    pub const ALLOWED_FAST: u8 = 17;
    /// BEP 10 extended.
    pub const EXTENDED: u8 = 20;
    /// BEP 52 hash request.
    pub const HASH_REQUEST: u8 = 21;
    /// BEP 52 hashes.
    pub const HASHES: u8 = 22;
    /// BEP 52 hash reject.
    pub const HASH_REJECT: u8 = 23;
}

/// A block request: used by request, cancel and reject request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockRequest {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// Number of bytes.
    pub length: u32,
}

/// A block of piece data (the piece message).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// The data: a zero-copy slice of the receive buffer.
    pub data: Bytes,
}

/// One peer wire message.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Message {
    /// Keep-alive (length 0).
    KeepAlive,
    /// The sender will not serve requests.
    Choke,
    /// The sender will serve requests.
    Unchoke,
    /// The sender wants data.
    Interested,
    /// The sender does not want data.
    NotInterested,
    /// The sender has this piece.
    Have(u32),
    /// The sender's pieces, one bit per piece, most significant bit first.
    Bitfield(Bytes),
    /// A request for a block.
    Request(BlockRequest),
    /// A block of data.
    Piece(Block),
    /// Withdraws a request.
    Cancel(BlockRequest),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// BEP 6: the sender suggests downloading this piece.
    Suggest(u32),
    /// BEP 6: the sender has every piece.
    HaveAll,
    /// BEP 6: the sender has no piece.
    HaveNone,
    /// BEP 6: the sender will not serve this request.
    Reject(BlockRequest),
    /// BEP 6: this piece may be requested while choked.
    AllowedFast(u32),
    /// BEP 10 extended message: `id` 0 is the extension handshake, others are
    /// the ids the receiver assigned in its handshake's `m` dictionary.
    Extended {
        /// Extended message id.
        id: u8,
        /// The payload (zero-copy).
        payload: Bytes,
    },
    /// BEP 52 hash request.
    HashRequest(HashRequest),
    /// BEP 52 hashes.
    Hashes(Hashes),
    /// BEP 52 hash reject.
    HashReject(HashRequest),
}

impl Message {
    /// The id byte, `None` for keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece(_) => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::Suggest(_) => id::SUGGEST,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::Reject(_) => id::REJECT,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::HashRequest(_) => id::HASH_REQUEST,
            Message::Hashes(_) => id::HASHES,
            Message::HashReject(_) => id::HASH_REJECT,
        })
    }

    /// Length of the frame body (id and payload), i.e. the value of the
    /// length prefix.
    pub fn body_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Bitfield(b) => 1 + b.len(),
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Piece(b) => 9 + b.data.len(),
            Message::Port(_) => 3,
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::HashRequest(_) | Message::HashReject(_) => 1 + HASH_HEADER_LEN,
            Message::Hashes(h) => 1 + HASH_HEADER_LEN + 32 * h.hashes.len(),
        }
    }

    /// Length of the whole frame, prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Appends the frame (length prefix, id, payload) to `out`.
    ///
    /// Encoding does not check limits: a message built by this process is
    /// trusted. Lengths above `u32::MAX` cannot be represented and are the
    /// caller's bug; they are truncated in the prefix.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(u32::try_from(self.body_len()).unwrap_or(u32::MAX));
        let Some(id) = self.id() else {
            return;
        };
        out.put_u8(id);
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => out.put_u32(*i),
            Message::Bitfield(b) => out.put_slice(b),
            Message::Request(r) | Message::Cancel(r) | Message::Reject(r) => {
                out.put_u32(r.index);
                out.put_u32(r.begin);
                out.put_u32(r.length);
            }
            Message::Piece(b) => {
                out.put_u32(b.index);
                out.put_u32(b.begin);
                out.put_slice(&b.data);
            }
            Message::Port(p) => out.put_u16(*p),
            Message::Extended { id, payload } => {
                out.put_u8(*id);
                out.put_slice(payload);
            }
            Message::HashRequest(r) | Message::HashReject(r) => r.encode(out),
            Message::Hashes(h) => h.encode(out),
        }
    }

    /// The frame as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes a frame body (the bytes after the length prefix: id and
    /// payload). An empty body is a keep-alive. `Bytes` payloads (bitfield,
    /// block, extended) are slices of `body`, not copies.
    ///
    /// Checks every limit of `limits` (see [`FrameLimits`]), so it is safe on
    /// untrusted input even without [`crate::FrameDecoder`].
    pub fn decode_body(mut body: Bytes, limits: &FrameLimits) -> Result<Message, WireError> {
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let Some(&mid) = body.first() else {
            return Ok(Message::KeepAlive);
        };
        let max = limits.max_body_len(mid);
        if len > max {
            return Err(WireError::MessageTooLong {
                id: Some(mid),
                len,
                max,
            });
        }
        let bad_len = || WireError::BadLength { id: mid, len };
        let fixed = |n: u32| if len == n { Ok(()) } else { Err(bad_len()) };
        body.advance(1);
        let msg = match mid {
            id::CHOKE => fixed(1).map(|()| Message::Choke)?,
            id::UNCHOKE => fixed(1).map(|()| Message::Unchoke)?,
            id::INTERESTED => fixed(1).map(|()| Message::Interested)?,
            id::NOT_INTERESTED => fixed(1).map(|()| Message::NotInterested)?,
            id::HAVE_ALL => fixed(1).map(|()| Message::HaveAll)?,
            id::HAVE_NONE => fixed(1).map(|()| Message::HaveNone)?,
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => {
                fixed(5)?;
                let index = body.get_u32();
                limits.check_index(index)?;
                match mid {
                    id::HAVE => Message::Have(index),
                    id::SUGGEST => Message::Suggest(index),
                    _ => Message::AllowedFast(index),
                }
            }
            id::BITFIELD => {
                if let Some(count) = limits.piece_count {
                    validate_bitfield(&body, count)?;
                }
                Message::Bitfield(body)
            }
            id::REQUEST | id::CANCEL | id::REJECT => {
                fixed(13)?;
                let r = BlockRequest {
                    index: body.get_u32(),
                    begin: body.get_u32(),
                    length: body.get_u32(),
                };
                limits.check_index(r.index)?;
                if r.begin.checked_add(r.length).is_none() {
                    return Err(WireError::invalid("request", "begin + length overflows"));
                }
                match mid {
                    id::REQUEST => {
                        if r.length == 0 {
                            return Err(WireError::EmptyRequest { request: r });
                        }
                        if r.length > limits.max_request_len {
                            return Err(WireError::RequestTooLong {
                                request: r,
                                max: limits.max_request_len,
                            });
                        }
                        Message::Request(r)
                    }
                    id::CANCEL => Message::Cancel(r),
                    _ => Message::Reject(r),
                }
            }
            id::PIECE => {
                if len < 9 {
                    return Err(bad_len());
                }
                let index = body.get_u32();
                let begin = body.get_u32();
                limits.check_index(index)?;
                Message::Piece(Block {
                    index,
                    begin,
                    data: body,
                })
            }
            id::PORT => {
                fixed(3)?;
                Message::Port(body.get_u16())
            }
            id::EXTENDED => {
                if len < 2 {
                    return Err(bad_len());
                }
                let ext = body.get_u8();
                Message::Extended {
                    id: ext,
                    payload: body,
                }
            }
            id::HASH_REQUEST | id::HASH_REJECT => {
                fixed(1 + HASH_HEADER_LEN as u32)?;
                let r = HashRequest::decode(&body).ok_or_else(bad_len)?;
                if mid == id::HASH_REQUEST {
                    Message::HashRequest(r)
                } else {
                    Message::HashReject(r)
                }
            }
            id::HASHES => Message::Hashes(Hashes::decode(&body).ok_or_else(bad_len)?),
            other => return Err(WireError::UnknownId { id: other, len }),
        };
        Ok(msg)
    }
}

impl From<Block> for Message {
    fn from(b: Block) -> Self {
        Message::Piece(b)
    }
}

/// Number of bytes of a bitfield for `piece_count` pieces: `ceil(n / 8)`.
pub fn bitfield_len(piece_count: u32) -> usize {
    (piece_count as usize).div_ceil(8)
}

/// Checks a bitfield against the torrent's piece count: its size must be
/// exactly `ceil(piece_count / 8)` bytes and the spare bits past the last
/// piece must be zero (BEP 3: "Clients should drop the connection if they
/// receive bitfields that are not of the correct size, or if the bitfield has
/// any of the spare bits set").
pub fn validate_bitfield(bits: &[u8], piece_count: u32) -> Result<(), WireError> {
    let expected = bitfield_len(piece_count);
    if bits.len() != expected {
        return Err(WireError::BitfieldLength {
            len: bits.len(),
            expected,
        });
    }
    let used = piece_count % 8;
    if used != 0 {
        if let Some(&last) = bits.last() {
            let spare_mask = 0xffu8 >> used;
            if last & spare_mask != 0 {
                return Err(WireError::BitfieldSpareBits);
            }
        }
    }
    Ok(())
}
