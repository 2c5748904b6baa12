//! `btl_prov`: exchanging a torrent's provenance document (`.prov` file)
//! between peers, over BEP 10.
//!
//! A peer that holds the `.prov` for a torrent advertises `btl_prov` in its
//! extension handshake's `m` dictionary and the document's size as
//! `btl_prov_size` (like BEP 9's `metadata_size`). The messages have
//! exactly the layout of BEP 9 `ut_metadata` (see [`crate::metadata`]):
//!
//! ```text
//! request: d8:msg_typei0e5:piecei<n>ee
//! data:    d8:msg_typei1e5:piecei<n>e10:total_sizei<size>ee<≤ 16 KiB of the .prov>
//! reject:  d8:msg_typei2e5:piecei<n>ee
//! ```
//!
//! The document is cut into 16 KiB pieces; `total_size` is at most
//! [`MAX_PROV_SIZE`] (the `.prov` format's own bound) and never 0. This
//! codec only moves bytes: the receiver must verify the assembled document
//! as a whole (signature, torrent roots) before using any of it. Peers that
//! do not advertise `btl_prov` never receive these messages.

use bytes::Bytes;

use crate::metadata::MetadataMessage;
use crate::{Message, WireError};

/// Name of the extension in the handshake's `m` dictionary.
pub const BTL_PROV: &str = "btl_prov";
/// Handshake key carrying the size of the sender's `.prov` document.
pub const BTL_PROV_SIZE: &str = "btl_prov_size";
/// Largest document exchanged: the `.prov` format's bound (33 MiB, the
/// same as `btl_manifest::prov::MAX_PROV_BYTES`).
pub const MAX_PROV_SIZE: u64 = (32 << 20) + (1 << 20);
/// Size of a piece (all but the last).
pub const PROV_PIECE_LEN: usize = crate::metadata::METADATA_PIECE_LEN;

const CTX: &str = "btl_prov message";

/// A `btl_prov` message (same shapes as BEP 9's).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProvMessage(pub MetadataMessage);

impl ProvMessage {
    /// Decodes a payload; `total_size` must be in `1..=max_total_size` (and
    /// never over [`MAX_PROV_SIZE`]).
    pub fn decode(payload: Bytes, max_total_size: u64) -> Result<Self, WireError> {
        let max = max_total_size.min(MAX_PROV_SIZE);
        let m = MetadataMessage::decode_as(payload, max, CTX)?;
        Ok(ProvMessage(m))
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Bytes {
        self.0.to_bytes()
    }

    /// The extended message carrying this, addressed with the id the peer
    /// assigned to `btl_prov` in its handshake.
    pub fn to_message(&self, peer_ext_id: u8) -> Message {
        self.0.to_message(peer_ext_id)
    }

    /// The data message for piece `piece` of `doc`, or a reject if there is
    /// no such piece.
    pub fn serve(doc: &[u8], piece: u32) -> ProvMessage {
        let start = (piece as usize).saturating_mul(PROV_PIECE_LEN);
        if start >= doc.len() {
            return ProvMessage(MetadataMessage::Reject { piece });
        }
        let end = (start + PROV_PIECE_LEN).min(doc.len());
        ProvMessage(MetadataMessage::Data {
            piece,
            total_size: doc.len() as u64,
            data: Bytes::copy_from_slice(&doc[start..end]),
        })
    }
}

/// Reassembles a document from `btl_prov` data pieces, bounded by the size
/// announced in the handshake.
#[derive(Debug)]
pub struct ProvAssembler {
    total: u64,
    pieces: Vec<Option<Bytes>>,
}

impl ProvAssembler {
    /// An assembler for a document of `total` bytes, if `total` is in
    /// `1..=max` (and `max` ≤ [`MAX_PROV_SIZE`]).
    pub fn new(total: u64, max: u64) -> Option<ProvAssembler> {
        if total == 0 || total > max.min(MAX_PROV_SIZE) {
            return None;
        }
        let n = usize::try_from(crate::metadata::metadata_piece_count(total)).ok()?;
        Some(ProvAssembler {
            total,
            pieces: vec![None; n],
        })
    }

    /// Number of pieces to request.
    pub fn piece_count(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Takes a data piece. An error means the peer is inconsistent (another
    /// size, a piece that does not exist or has the wrong length).
    pub fn add(&mut self, piece: u32, total_size: u64, data: Bytes) -> Result<(), WireError> {
        if total_size != self.total {
            return Err(WireError::invalid(
                CTX,
                "total_size differs from the handshake",
            ));
        }
        let want = crate::metadata::metadata_piece_len(self.total, piece)
            .ok_or_else(|| WireError::invalid(CTX, "piece past total_size"))?;
        if data.len() != want {
            return Err(WireError::invalid(CTX, "data has the wrong length"));
        }
        let slot = self
            .pieces
            .get_mut(piece as usize)
            .ok_or_else(|| WireError::invalid(CTX, "piece past total_size"))?;
        *slot = Some(data);
        Ok(())
    }

    /// The whole document once every piece has arrived.
    pub fn finish(&self) -> Option<Vec<u8>> {
        if !self.pieces.iter().all(Option::is_some) {
            return None;
        }
        let mut doc = Vec::with_capacity(self.total as usize);
        for p in self.pieces.iter().flatten() {
            doc.extend_from_slice(p);
        }
        Some(doc)
    }
}

/// Fuzz entry point: decodes `data` as a `btl_prov` payload (with a small
/// and the full cap) and feeds data messages to an assembler; every decoded
/// message must round-trip. Never panics otherwise; memory is bounded.
pub fn fuzz_prov(data: &[u8]) {
    for max in [40_000, MAX_PROV_SIZE] {
        if let Ok(m) = ProvMessage::decode(Bytes::copy_from_slice(data), max) {
            assert_eq!(
                ProvMessage::decode(m.to_bytes(), max).as_ref(),
                Ok(&m),
                "btl_prov round trip"
            );
            if let MetadataMessage::Data {
                piece,
                total_size,
                data,
            } = m.0
            {
                if let Some(mut a) = ProvAssembler::new(total_size, 40_000) {
                    let _ = a.add(piece, total_size, data);
                    let _ = a.finish();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::extended::{ExtendedHandshake, ExtendedMessage, ExtensionConfig};

    /// Golden vectors: the exact bytes on the wire.
    #[test]
    fn golden_vectors() {
        let req = ProvMessage(MetadataMessage::Request { piece: 1 });
        assert_eq!(&req.to_bytes()[..], b"d8:msg_typei0e5:piecei1ee");
        let rej = ProvMessage(MetadataMessage::Reject { piece: 9 });
        assert_eq!(&rej.to_bytes()[..], b"d8:msg_typei2e5:piecei9ee");
        let doc = b"{\"type\":\"BtlProvenance\"}";
        let data = ProvMessage::serve(doc, 0);
        assert_eq!(
            &data.to_bytes()[..],
            &b"d8:msg_typei1e5:piecei0e10:total_sizei24ee{\"type\":\"BtlProvenance\"}"[..]
        );
        assert_eq!(
            ProvMessage::serve(doc, 1),
            ProvMessage(MetadataMessage::Reject { piece: 1 })
        );
        // The handshake: m entry and size key.
        let hs = ExtendedHandshake {
            m: [(BTL_PROV.to_owned(), 3)].into_iter().collect(),
            btl_prov_size: Some(24),
            ..ExtendedHandshake::default()
        };
        assert_eq!(hs.encode(), b"d13:btl_prov_sizei24e1:md8:btl_provi3eee");
        let back = ExtendedHandshake::decode(&hs.encode()).unwrap();
        assert_eq!(back, hs);
        assert_eq!(back.extension_id(BTL_PROV), Some(3));
    }

    #[test]
    fn bounds() {
        let at = |size: u64| format!("d8:msg_typei1e5:piecei0e10:total_sizei{size}ee");
        assert!(ProvMessage::decode(Bytes::from(at(MAX_PROV_SIZE + 1)), u64::MAX).is_err());
        let mut ok = at(100).into_bytes();
        ok.extend_from_slice(&[b'x'; 100]);
        assert!(ProvMessage::decode(Bytes::from(ok.clone()), 100).is_ok());
        assert!(ProvMessage::decode(Bytes::from(ok), 99).is_err());
        assert!(ProvAssembler::new(0, 100).is_none());
        assert!(ProvAssembler::new(101, 100).is_none());
        assert!(ProvAssembler::new(MAX_PROV_SIZE + 1, u64::MAX).is_none());
        let err = ProvMessage::decode(Bytes::from_static(b"d8:msg_typei0ee"), 100).unwrap_err();
        assert!(err.to_string().contains("btl_prov"), "{err}");
    }

    #[test]
    fn assembles_and_refuses_inconsistent_pieces() {
        let doc: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let mut a = ProvAssembler::new(doc.len() as u64, MAX_PROV_SIZE).unwrap();
        assert_eq!(a.piece_count(), 3);
        for p in (0..3).rev() {
            assert!(a.finish().is_none());
            let ProvMessage(MetadataMessage::Data {
                piece,
                total_size,
                data,
            }) = ProvMessage::serve(&doc, p)
            else {
                panic!("no data");
            };
            a.add(piece, total_size, data).unwrap();
        }
        assert_eq!(a.finish().unwrap(), doc);
        assert!(a
            .add(0, 39_999, Bytes::from(vec![0; PROV_PIECE_LEN]))
            .is_err());
        assert!(a.add(3, 40_000, Bytes::from(vec![0; 10])).is_err());
        assert!(a.add(2, 40_000, Bytes::from(vec![0; 10])).is_err());
    }

    #[test]
    fn dispatch_only_when_offered() {
        let req = Bytes::from_static(b"d8:msg_typei0e5:piecei0ee");
        let plain = ExtensionConfig::default();
        assert!(!plain.m().contains_key(BTL_PROV));
        assert!(matches!(
            plain.decode(3, req.clone()).unwrap(),
            ExtendedMessage::Other { .. }
        ));
        let ours = ExtensionConfig {
            btl_prov: Some(3),
            ..ExtensionConfig::default()
        };
        assert_eq!(ours.m().get(BTL_PROV), Some(&3));
        assert_eq!(
            ours.decode(3, req).unwrap(),
            ExtendedMessage::Prov(ProvMessage(MetadataMessage::Request { piece: 0 }))
        );
    }

    #[test]
    fn fuzz_entry_point_survives_samples() {
        for s in [
            &b""[..],
            b"d8:msg_typei1e5:piecei0e10:total_sizei3eeabc",
            b"d8:msg_typei1e5:piecei9e10:total_sizei3eeabc",
            b"d8:msg_typei1e5:piecei0e10:total_sizei99999999999eeabc",
            b"d8:msg_typei2e5:piecei0ee",
        ] {
            fuzz_prov(s);
        }
    }
}
