//! The ledger's binary encoding: deterministic, versioned, bounded.
//!
//! Every signed or stored structure (transactions, block headers, blocks,
//! state records) uses the same primitives, so one value has exactly one
//! encoding:
//!
//! | primitive | bytes |
//! |---|---|
//! | `u8`, `u16`, `u32`, `u64` | fixed width, big endian |
//! | `bool` | `0x00` or `0x01` (any other byte is an error) |
//! | `[u8; N]` | the N bytes |
//! | `Option<T>` | `0x00`, or `0x01` then `T` |
//! | string | `u16` length, then that many bytes of UTF-8 (each field has its own maximum) |
//! | list | `u16` or `u32` count (per field), then the items |
//!
//! A decoder checks every length against its maximum before it allocates,
//! and rejects trailing bytes.

/// Errors from decoding untrusted bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("input ends early (reading {0})")]
    Truncated(&'static str),
    /// Bytes were left after the value.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// The input is larger than the maximum for its type.
    #[error("{what} is larger than {max} bytes")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// The maximum in bytes.
        max: usize,
    },
    /// A length or count is above the field's maximum.
    #[error("{what}: {len} is above the maximum {max}")]
    LengthLimit {
        /// The field.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The format version is not one this build reads.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// The structure.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// A tag byte (transaction kind, option flag, bool, enum) is unknown.
    #[error("unknown {what} tag {tag:#04x}")]
    UnknownTag {
        /// The field.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A string field is not UTF-8, or breaks the field's rules.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Appends encoded values to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// A `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A `u16`, big endian.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `u32`, big endian.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `u64`, big endian.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A bool as `0x00`/`0x01`.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Raw bytes (fixed-size fields).
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// A string with a `u16` length. Callers check the field maximum (at
    /// most 65,535) before encoding; longer strings are cut at the limit,
    /// which a decoder then rejects.
    pub fn str16(&mut self, s: &str) {
        let n = s.len().min(usize::from(u16::MAX));
        self.u16(n as u16);
        self.buf.extend_from_slice(&s.as_bytes()[..n]);
    }

    /// A string with a `u8` length.
    pub fn str8(&mut self, s: &str) {
        let n = s.len().min(usize::from(u8::MAX));
        self.u8(n as u8);
        self.buf.extend_from_slice(&s.as_bytes()[..n]);
    }
}

/// Reads encoded values from a slice, with bounds.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated(what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A bool (`0x00`/`0x01` only).
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag { what, tag }),
        }
    }

    /// An option flag: `Ok(true)` if a value follows.
    pub fn option(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        self.bool(what)
    }

    /// A `u16`-length UTF-8 string of at most `max` bytes.
    pub fn str16(&mut self, max: usize, what: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u16(what)?);
        self.string(len, max, what)
    }

    /// A `u8`-length UTF-8 string of at most `max` bytes.
    pub fn str8(&mut self, max: usize, what: &'static str) -> Result<String, DecodeError> {
        let len = usize::from(self.u8(what)?);
        self.string(len, max, what)
    }

    fn string(
        &mut self,
        len: usize,
        max: usize,
        what: &'static str,
    ) -> Result<String, DecodeError> {
        if len > max {
            return Err(DecodeError::LengthLimit { what, len, max });
        }
        let b = self.take(len, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Invalid(what))
    }

    /// A count (already read) checked against `max` and against the bytes
    /// left, given the minimum encoded size of one item.
    pub fn check_count(
        &self,
        count: usize,
        max: usize,
        min_item: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        if count > max {
            return Err(DecodeError::LengthLimit {
                what,
                len: count,
                max,
            });
        }
        if count.saturating_mul(min_item) > self.remaining() {
            return Err(DecodeError::Truncated(what));
        }
        Ok(count)
    }
}
