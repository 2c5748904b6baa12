//! The strict, bounded decoder.

use crate::value::{Dict, List, Value};

/// Caps applied while decoding untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_input: usize,
    /// Deepest accepted nesting of lists and dictionaries (the top-level
    /// container is depth 1).
    pub max_depth: usize,
    /// Largest accepted total number of values (integers, strings, lists and
    /// dictionaries, at any depth).
    pub max_values: usize,
}

impl Default for Limits {
    /// Limits suited to `.torrent` files: 64 MiB, depth 128, 4 M values.
    fn default() -> Self {
        Limits {
            max_input: 64 << 20,
            max_depth: 128,
            max_values: 4 << 20,
        }
    }
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// A byte that cannot start a value.
    #[error("unexpected byte {0:#04x}")]
    UnexpectedByte(u8),
    /// An integer was not canonical (leading zero, `-0`, empty).
    #[error("non-canonical integer")]
    NonCanonicalInt,
    /// An integer does not fit in 64 bits.
    #[error("integer out of range")]
    IntOverflow,
    /// A string length was malformed (leading zero, missing `:`).
    #[error("malformed string length")]
    BadLength,
    /// A string length runs past the end of the input.
    #[error("string length {0} runs past the end of the input")]
    LengthPastEnd(u64),
    /// A dictionary key is not a byte string.
    #[error("dictionary key is not a byte string")]
    KeyNotString,
    /// Dictionary keys are not in strictly increasing order.
    #[error("dictionary keys are not sorted")]
    UnsortedKeys,
    /// The same key occurs twice in one dictionary.
    #[error("duplicate dictionary key")]
    DuplicateKey,
    /// Bytes follow the top-level value.
    #[error("trailing data after the value")]
    TrailingData,
    /// The input is larger than [`Limits::max_input`].
    #[error("input of {0} bytes exceeds the limit")]
    InputTooLarge(usize),
    /// Nesting is deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// More values than [`Limits::max_values`].
    #[error("more than {0} values")]
    TooManyValues(usize),
}

/// A decoding error and the input offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bencode at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// Decodes one complete value with the default [`Limits`].
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    decode_with(input, Limits::default())
}

/// Decodes one complete value with explicit limits.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Value<'_>, DecodeError> {
    if input.len() > limits.max_input {
        return Err(DecodeError {
            offset: 0,
            kind: DecodeErrorKind::InputTooLarge(input.len()),
        });
    }
    let mut d = Decoder {
        input,
        pos: 0,
        limits,
        values: 0,
    };
    let v = d.value(0)?;
    if d.pos != input.len() {
        return Err(d.err(DecodeErrorKind::TrailingData));
    }
    Ok(v)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    limits: Limits,
    values: usize,
}

impl<'a> Decoder<'a> {
    fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err(DecodeErrorKind::UnexpectedEof))
    }

    fn count(&mut self) -> Result<(), DecodeError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(self.err(DecodeErrorKind::TooManyValues(self.limits.max_values)));
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.count()?;
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => self.list(depth + 1).map(Value::List),
            b'd' => self.dict(depth + 1).map(Value::Dict),
            other => Err(self.err(DecodeErrorKind::UnexpectedByte(other))),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), DecodeError> {
        if depth > self.limits.max_depth {
            return Err(self.err(DecodeErrorKind::TooDeep(self.limits.max_depth)));
        }
        Ok(())
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        self.pos += 1; // 'i'
        let rest = &self.input[self.pos..];
        let end = rest.iter().position(|&b| b == b'e').ok_or(DecodeError {
            offset: self.input.len(),
            kind: DecodeErrorKind::UnexpectedEof,
        })?;
        let digits = &rest[..end];
        let fail = |kind| DecodeError {
            offset: start,
            kind,
        };
        let (neg, mag) = match digits.split_first() {
            Some((b'-', m)) => (true, m),
            _ => (false, digits),
        };
        if mag.is_empty() || !mag.iter().all(u8::is_ascii_digit) {
            return Err(fail(DecodeErrorKind::NonCanonicalInt));
        }
        if (mag[0] == b'0' && mag.len() > 1) || (neg && mag == b"0") {
            return Err(fail(DecodeErrorKind::NonCanonicalInt));
        }
        // Accumulate negatively so that i64::MIN parses.
        let mut acc: i64 = 0;
        for &c in mag {
            acc = acc
                .checked_mul(10)
                .and_then(|a| a.checked_sub(i64::from(c - b'0')))
                .ok_or_else(|| fail(DecodeErrorKind::IntOverflow))?;
        }
        let v = if neg {
            acc
        } else {
            acc.checked_neg()
                .ok_or_else(|| fail(DecodeErrorKind::IntOverflow))?
        };
        self.pos += end + 1;
        Ok(v)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let rest = &self.input[self.pos..];
        let colon = rest
            .iter()
            .take(21)
            .position(|&b| b == b':')
            .ok_or_else(|| {
                if rest.len() < 21 && rest.iter().all(u8::is_ascii_digit) {
                    DecodeError {
                        offset: self.input.len(),
                        kind: DecodeErrorKind::UnexpectedEof,
                    }
                } else {
                    self.err(DecodeErrorKind::BadLength)
                }
            })?;
        let digits = &rest[..colon];
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits[0] == b'0' && digits.len() > 1)
        {
            return Err(self.err(DecodeErrorKind::BadLength));
        }
        let mut len: u64 = 0;
        for &c in digits {
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| self.err(DecodeErrorKind::BadLength))?;
        }
        let body = start + colon + 1;
        let avail = (self.input.len() - body) as u64;
        if len > avail {
            return Err(DecodeError {
                offset: start,
                kind: DecodeErrorKind::LengthPastEnd(len),
            });
        }
        let end = body + len as usize;
        self.pos = end;
        Ok(&self.input[body..end])
    }

    fn list(&mut self, depth: usize) -> Result<List<'a>, DecodeError> {
        self.enter(depth)?;
        let start = self.pos;
        self.pos += 1; // 'l'
        let mut items = Vec::new();
        loop {
            if self.peek()? == b'e' {
                self.pos += 1;
                break;
            }
            items.push(self.value(depth)?);
        }
        Ok(List {
            raw: &self.input[start..self.pos],
            items,
        })
    }

    fn dict(&mut self, depth: usize) -> Result<Dict<'a>, DecodeError> {
        self.enter(depth)?;
        let start = self.pos;
        self.pos += 1; // 'd'
        let mut entries: Vec<(&'a [u8], Value<'a>)> = Vec::new();
        loop {
            let c = self.peek()?;
            if c == b'e' {
                self.pos += 1;
                break;
            }
            if !c.is_ascii_digit() {
                return Err(self.err(DecodeErrorKind::KeyNotString));
            }
            let key_at = self.pos;
            self.count()?;
            let key = self.bytes()?;
            if let Some((prev, _)) = entries.last() {
                match (*prev).cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return Err(DecodeError {
                            offset: key_at,
                            kind: DecodeErrorKind::DuplicateKey,
                        })
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(DecodeError {
                            offset: key_at,
                            kind: DecodeErrorKind::UnsortedKeys,
                        })
                    }
                }
            }
            let v = self.value(depth)?;
            entries.push((key, v));
        }
        Ok(Dict {
            raw: &self.input[start..self.pos],
            entries,
        })
    }
}
