//! The BitTorrent peer wire protocol, sans-IO.
//!
//! # Goals
//! - **Complete codec** for what a modern client speaks on a plain TCP
//!   connection: the BEP 3 handshake and messages, BEP 5 `port`, BEP 6 fast
//!   extension (with the allowed-fast set algorithm), BEP 10 extension
//!   protocol, BEP 9 `ut_metadata`, BEP 11 `ut_pex` and BEP 52 hash
//!   exchange. Every message encodes and decodes; decoding then encoding gives
//!   the same bytes back.
//! - **Sans-IO**: functions take bytes and return values or bytes. No sockets,
//!   no clock, no tasks; the connection actor one layer up owns the socket.
//! - **Bounded**: every length a peer sends is checked against a cap
//!   ([`FrameLimits`], [`ExtensionConfig`]) before any buffer is reserved.
//!   Nothing here panics on input; [`fuzz_decode`] is the fuzz entry point.
//! - **Zero-copy**: blocks, bitfields and extension payloads are `Bytes`
//!   slices of the receive buffer.
//! - **Typed errors** ([`WireError`]), which say whether the connection can go
//!   on ([`WireError::is_fatal`]).
//!
//! # Non-goals
//! - Connection state (choking, interest, which message may come when: e.g.
//!   that a bitfield is only valid right after the handshake, or that fast
//!   messages need the fast bit on both sides). That is the swarm's job.
//! - The TLS transport, and applying the MSE/PE cipher to a socket (the
//!   [`mse`] module negotiates it; the I/O layer wraps the stream).
//! - uTP, DHT messages, tracker protocols.
//!
//! # Map
//!
//! | module          | what                                             |
//! |-----------------|--------------------------------------------------|
//! | [`handshake`]   | the 68-byte handshake, reserved bits              |
//! | [`message`]     | frame layout and the message table                |
//! | [`frame`]       | streaming decoder and its limits                  |
//! | [`fast`]        | BEP 6 allowed-fast set                            |
//! | [`extended`]    | BEP 10 handshake and extended message dispatch    |
//! | [`metadata`]    | BEP 9 `ut_metadata`                               |
//! | [`pex`]         | BEP 11 `ut_pex` and compact peers                 |
//! | [`prov`]        | `btl_prov`: `.prov` document exchange (ut_metadata layout) |
//! | [`hashes`]      | BEP 52 hash request / hashes / hash reject        |
//! | [`mse`]         | MSE/PE handshake (DH, RC4), both directions       |
//!
//! # A connection, in order
//!
//! ```text
//! -> handshake (68 bytes)            <- handshake
//! -> [extended handshake, id 20/0]   <- [extended handshake]     (both set bit 0x10 of byte 5)
//! -> bitfield | have all | have none <- ...                      (first message, optional)
//! -> messages ...                    <- messages ...
//! ```

pub mod error;
pub mod extended;
pub mod fast;
pub mod frame;
pub mod handshake;
pub mod hashes;
pub mod message;
pub mod metadata;
pub mod mse;
pub mod pex;
pub mod prov;

pub use error::WireError;
pub use extended::{ExtendedHandshake, ExtendedMessage, ExtensionConfig};
pub use fast::allowed_fast_set;
pub use frame::{FrameDecoder, FrameLimits};
pub use handshake::{Handshake, HandshakeHeader, PeerId, Reserved};
pub use hashes::{HashRequest, Hashes};
pub use message::{bitfield_len, validate_bitfield, Block, BlockRequest, Message};
pub use metadata::MetadataMessage;
pub use pex::{PexFlags, PexMessage};
pub use prov::ProvMessage;

use bytes::BytesMut;

/// Fuzz entry point: runs every decoder of this crate over arbitrary bytes.
///
/// It decodes `data` as a handshake, then (from byte 0 and from after a
/// handshake) as a stream of frames, trying each extended message as an
/// extension handshake, `ut_metadata` and `ut_pex` payload. Every message that
/// decodes is re-encoded and must decode to the same value: a mismatch
/// panics, which is what a fuzzer should report. The first byte selects the
/// piece count (`None` if 0), so both bitfield modes are exercised.
///
/// Apart from that self-check, it never panics and its memory is bounded by
/// the default limits.
pub fn fuzz_decode(data: &[u8]) {
    let _ = Handshake::peek_header(data);
    let after_handshake = match Handshake::decode(data) {
        Ok(Some(hs)) => {
            assert_eq!(Handshake::decode(&hs.to_bytes()), Ok(Some(hs)));
            Some(&data[Handshake::LEN..])
        }
        _ => None,
    };
    let piece_count = data.first().map(|&b| u32::from(b) * 3).filter(|&n| n != 0);
    let limits = FrameLimits {
        piece_count,
        ..FrameLimits::default()
    };
    fuzz_frames(data, limits);
    if let Some(rest) = after_handshake {
        fuzz_frames(rest, limits);
    }
}

fn fuzz_frames(data: &[u8], limits: FrameLimits) {
    let ext = ExtensionConfig {
        btl_prov: Some(3),
        ..ExtensionConfig::default()
    };
    let mut dec = FrameDecoder::new(limits);
    let mut buf = BytesMut::from(data);
    // Each successful step consumes at least 4 bytes, so this terminates.
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(msg)) => {
                let again = Message::decode_body(msg.to_bytes().slice(4..), &limits);
                assert_eq!(again.as_ref(), Ok(&msg), "message round trip");
                if let Message::Extended { id, payload } = msg {
                    for try_id in [id, 0, 1, 2, 3] {
                        if let Ok(m) = ext.decode(try_id, payload.clone()) {
                            fuzz_extended_round_trip(&ext, m);
                        }
                    }
                }
            }
            Ok(None) => break,
            Err(e) if e.is_fatal() => break,
            Err(_) => {}
        }
    }
}

fn fuzz_extended_round_trip(ext: &ExtensionConfig, m: ExtendedMessage) {
    let (id, payload) = match &m {
        ExtendedMessage::Handshake(h) => (0, h.encode().into()),
        ExtendedMessage::Metadata(md) => (ext.ut_metadata.unwrap_or(1), md.to_bytes()),
        ExtendedMessage::Pex(p) => (ext.ut_pex.unwrap_or(2), p.encode().into()),
        ExtendedMessage::Prov(p) => (ext.btl_prov.unwrap_or(3), p.to_bytes()),
        _ => return,
    };
    assert_eq!(
        ext.decode(id, payload).as_ref(),
        Ok(&m),
        "extension round trip"
    );
}
