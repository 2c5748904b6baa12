//! The error type of the wire codec.

use crate::message::BlockRequest;

/// Why a handshake, frame or extension payload was refused.
///
/// Errors come in two classes, told apart by [`WireError::is_fatal`]:
///
/// - **fatal**: the byte stream can no longer be trusted or framed (bad
///   handshake, a length prefix over the cap). The connection must be
///   closed; the decoder has not consumed the offending bytes.
/// - **non-fatal**: one complete frame was read and consumed, but its content
///   is invalid (unknown id, a request over the size cap, a piece index out of
///   range, a malformed extension payload). The engine decides: reject the
///   request, ignore the message, or disconnect. The decoder can go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The handshake does not start with `0x13 "BitTorrent protocol"`.
    #[error("not a BitTorrent handshake (bad protocol string)")]
    BadProtocol,
    /// A length prefix exceeds the cap for its message id.
    #[error("message length {len} exceeds the limit of {max} bytes (id {id:?})")]
    MessageTooLong {
        /// The message id (`None` if the frame is too short to have one).
        id: Option<u8>,
        /// The announced length (id and payload, without the 4-byte prefix).
        len: u32,
        /// The cap that applied.
        max: u32,
    },
    /// A message id this codec does not know. The frame was skipped.
    #[error("unknown message id {id} ({len} bytes skipped)")]
    UnknownId {
        /// The id byte.
        id: u8,
        /// Frame length (id and payload).
        len: u32,
    },
    /// A message whose length does not fit its id (e.g. a 4-byte `have`).
    #[error("message id {id} cannot have length {len}")]
    BadLength {
        /// The id byte.
        id: u8,
        /// Frame length (id and payload).
        len: u32,
    },
    /// A request (or reject/cancel) for more bytes than the configured cap.
    /// The engine should answer with a BEP 6 reject, or disconnect.
    #[error("request for {} bytes exceeds the limit of {max}", .request.length)]
    RequestTooLong {
        /// The decoded request.
        request: BlockRequest,
        /// The cap that applied.
        max: u32,
    },
    /// A request (or reject/cancel) for zero bytes.
    #[error("request for zero bytes")]
    EmptyRequest {
        /// The decoded request.
        request: BlockRequest,
    },
    /// A piece index at or above the torrent's piece count.
    #[error("piece index {index} out of range (the torrent has {count} pieces)")]
    PieceOutOfRange {
        /// The index sent.
        index: u32,
        /// The torrent's piece count.
        count: u32,
    },
    /// A bitfield of the wrong size for the torrent's piece count.
    #[error("bitfield of {len} bytes, expected {expected}")]
    BitfieldLength {
        /// Bytes received.
        len: usize,
        /// Bytes required: `ceil(piece_count / 8)`.
        expected: usize,
    },
    /// A bitfield with bits set past the last piece.
    #[error("bitfield has spare bits set past the last piece")]
    BitfieldSpareBits,
    /// A bencoded payload (BEP 9, 10 or 11) is not valid bencode.
    #[error("invalid bencode in {context}: {source}")]
    Bencode {
        /// Which payload.
        context: &'static str,
        /// The decoder's error.
        source: btl_bencode::DecodeError,
    },
    /// A bencoded or binary extension payload is well-formed but its content
    /// is not what the extension requires.
    #[error("invalid {context}: {reason}")]
    InvalidPayload {
        /// Which payload.
        context: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A BEP 9 message with a `msg_type` this codec does not know. BEP 9 says
    /// to ignore it.
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownMetadataType(i64),
}

impl WireError {
    /// Whether the stream is desynchronised and the connection must close.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::BadProtocol | Self::MessageTooLong { .. })
    }

    pub(crate) fn invalid(context: &'static str, reason: &'static str) -> Self {
        Self::InvalidPayload { context, reason }
    }
}
