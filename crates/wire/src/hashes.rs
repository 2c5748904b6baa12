//! BEP 52 Merkle hash exchange: hash request (21), hashes (22), hash reject
//! (23).
//!
//! # Layout
//!
//! All three share a 48-byte header after the id byte:
//!
//! ```text
//! offset  size  field
//!      0    32  pieces root (the file's Merkle root)
//!     32     4  base layer   (0 = 16 KiB block layer), big-endian
//!     36     4  index        (first hash requested in the base layer)
//!     40     4  length       (number of base-layer hashes requested)
//!     44     4  proof layers (number of uncle layers requested)
//!     48  32*n  hashes       (message 22 only: the `length` base hashes
//!                             followed by the uncle hashes, bottom up)
//! ```
//!
//! The frame is `<len = 49 (+ 32n)><id><header>[hashes]`. The codec checks
//! only the framing (the header size, and that the hashes are whole 32-byte
//! values); whether `index`/`length` fit the file's tree is the swarm's job,
//! helped by [`HashRequest::check_shape`].

use btl_types::Sha256Hash;
use bytes::{Buf, BufMut};

use crate::WireError;

/// Size of the shared header (without the id byte).
pub const HASH_HEADER_LEN: usize = 48;

/// The parameters of a hash request, hashes or hash reject message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct HashRequest {
    /// The Merkle root of the file (its `pieces root`).
    pub pieces_root: Sha256Hash,
    /// Layer of the requested hashes; 0 is the 16 KiB block layer.
    pub base_layer: u32,
    /// Index of the first requested hash within the base layer.
    pub index: u32,
    /// Number of base-layer hashes requested.
    pub length: u32,
    /// Number of uncle layers to include as a proof.
    pub proof_layers: u32,
}

impl HashRequest {
    /// Checks the shape BEP 52 asks of a request: `length` is a non-zero
    /// power of two no larger than `max_length`, and `index` is a multiple of
    /// `length`. Geometry against the file's tree is not checked here.
    pub fn check_shape(&self, max_length: u32) -> Result<(), WireError> {
        const CTX: &str = "hash request";
        if self.length == 0 || !self.length.is_power_of_two() {
            return Err(WireError::invalid(CTX, "length is not a power of two"));
        }
        if self.length > max_length {
            return Err(WireError::invalid(CTX, "length over the limit"));
        }
        if !self.index.is_multiple_of(self.length) {
            return Err(WireError::invalid(CTX, "index is not a multiple of length"));
        }
        Ok(())
    }

    pub(crate) fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.pieces_root.0);
        out.put_u32(self.base_layer);
        out.put_u32(self.index);
        out.put_u32(self.length);
        out.put_u32(self.proof_layers);
    }

    /// Reads the header; `buf` must hold at least [`HASH_HEADER_LEN`] bytes.
    pub(crate) fn decode(mut buf: &[u8]) -> Option<Self> {
        if buf.len() < HASH_HEADER_LEN {
            return None;
        }
        let root = Sha256Hash::from_slice(&buf[..32])?;
        buf.advance(32);
        Some(Self {
            pieces_root: root,
            base_layer: buf.get_u32(),
            index: buf.get_u32(),
            length: buf.get_u32(),
            proof_layers: buf.get_u32(),
        })
    }
}

/// A hashes message (22): the request it answers and the hashes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Hashes {
    /// The parameters, echoed from the request.
    pub request: HashRequest,
    /// The `length` base-layer hashes, then the uncle hashes of the proof.
    pub hashes: Vec<Sha256Hash>,
}

impl Hashes {
    pub(crate) fn encode<B: BufMut>(&self, out: &mut B) {
        self.request.encode(out);
        for h in &self.hashes {
            out.put_slice(&h.0);
        }
    }

    /// Decodes the body after the id byte. The caller has capped its size.
    pub(crate) fn decode(body: &[u8]) -> Option<Self> {
        let request = HashRequest::decode(body)?;
        let rest = &body[HASH_HEADER_LEN..];
        if !rest.len().is_multiple_of(32) {
            return None;
        }
        let hashes = rest
            .chunks_exact(32)
            .filter_map(Sha256Hash::from_slice)
            .collect();
        Some(Self { request, hashes })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shape() {
        let mut r = HashRequest {
            pieces_root: Sha256Hash([0; 32]),
            base_layer: 0,
            index: 512,
            length: 512,
            proof_layers: 3,
        };
        assert!(r.check_shape(512).is_ok());
        assert!(r.check_shape(256).is_err());
        r.index = 3;
        assert!(r.check_shape(512).is_err());
        r.index = 0;
        r.length = 3;
        assert!(r.check_shape(512).is_err());
        r.length = 0;
        assert!(r.check_shape(512).is_err());
    }
}
