//! Canonical encoding helpers.

use std::io::Write as _;

/// Appends `i<n>e`.
pub fn encode_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn encode_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let _ = write!(out, "{}:", b.len());
    out.extend_from_slice(b);
}

/// A streaming encoder that writes canonical bencode into a buffer.
///
/// The caller is responsible for emitting dictionary keys in sorted order;
/// [`Encoder::finish`] does not re-check it. Use [`crate::Owned`] when the
/// order is not known up front.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// A new, empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes an integer.
    pub fn int(&mut self, n: i64) -> &mut Self {
        encode_int(&mut self.buf, n);
        self
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        encode_bytes(&mut self.buf, b);
        self
    }

    /// Opens a list.
    pub fn begin_list(&mut self) -> &mut Self {
        self.buf.push(b'l');
        self
    }

    /// Opens a dictionary.
    pub fn begin_dict(&mut self) -> &mut Self {
        self.buf.push(b'd');
        self
    }

    /// Closes the innermost list or dictionary.
    pub fn end(&mut self) -> &mut Self {
        self.buf.push(b'e');
        self
    }

    /// Writes already-encoded bytes verbatim.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(encoded);
        self
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}
