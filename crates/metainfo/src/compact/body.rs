//! The body codec: a compact, lossless re-encoding of a bencode tree.
//!
//! See the module documentation of [`crate::compact`] for the byte layout.

use std::collections::HashMap;

use btl_bencode::{encode_bytes, encode_int, Value};

use super::keys::{static_code, static_key, STATIC_KEYS};
use super::CompactError;

/// Value types, in the top three bits of a tag byte.
pub(crate) const T_INT: u8 = 0;
pub(crate) const T_STR: u8 = 1;
pub(crate) const T_REF: u8 = 2;
pub(crate) const T_LIST: u8 = 3;
pub(crate) const T_DICT: u8 = 4;

/// Low five bits of a tag: `0..=30` is the argument itself, `31` means a
/// varint follows holding `argument - 31`.
const IMM_MAX: u64 = 30;
const IMM_ESCAPE: u8 = 31;

/// Byte strings whose length is in this range enter the back-reference table.
pub(crate) const REF_MIN_LEN: usize = 3;
pub(crate) const REF_MAX_LEN: usize = 64;
/// The back-reference table stops growing at this many entries.
pub(crate) const REF_TABLE_MAX: usize = 1 << 16;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn put_tag(out: &mut Vec<u8>, ty: u8, arg: u64) {
    if arg <= IMM_MAX {
        out.push((ty << 5) | arg as u8);
    } else {
        out.push((ty << 5) | IMM_ESCAPE);
        put_varint(out, arg - (IMM_MAX + 1));
    }
}

/// Encodes a decoded (hence canonical) bencode value.
pub(crate) struct BodyEncoder<'a> {
    out: Vec<u8>,
    table: HashMap<&'a [u8], u64>,
}

impl<'a> BodyEncoder<'a> {
    pub(crate) fn new(out: Vec<u8>) -> Self {
        Self {
            out,
            table: HashMap::new(),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Index of `s` in the back-reference table, or `None` after recording
    /// it (if eligible) for later occurrences.
    fn lookup_or_insert(&mut self, s: &'a [u8]) -> Option<u64> {
        if !(REF_MIN_LEN..=REF_MAX_LEN).contains(&s.len()) {
            return None;
        }
        if let Some(&i) = self.table.get(s) {
            return Some(i);
        }
        if self.table.len() < REF_TABLE_MAX {
            let i = self.table.len() as u64;
            self.table.insert(s, i);
        }
        None
    }

    pub(crate) fn value(&mut self, v: &Value<'a>) {
        match v {
            Value::Int(i) => put_tag(&mut self.out, T_INT, zigzag(*i)),
            Value::Bytes(b) => match self.lookup_or_insert(b) {
                Some(i) => put_tag(&mut self.out, T_REF, i),
                None => {
                    put_tag(&mut self.out, T_STR, b.len() as u64);
                    self.out.extend_from_slice(b);
                }
            },
            Value::List(l) => {
                put_tag(&mut self.out, T_LIST, l.len() as u64);
                for item in l.iter() {
                    self.value(item);
                }
            }
            Value::Dict(d) => {
                put_tag(&mut self.out, T_DICT, d.len() as u64);
                for (k, item) in d.iter() {
                    self.key(k);
                    self.value(item);
                }
            }
        }
    }

    fn key(&mut self, k: &'a [u8]) {
        if let Some(code) = static_code(k) {
            put_varint(&mut self.out, code);
        } else if let Some(i) = self.lookup_or_insert(k) {
            put_varint(&mut self.out, STATIC_KEYS.len() as u64 + 1 + i);
        } else {
            put_varint(&mut self.out, 0);
            put_varint(&mut self.out, k.len() as u64);
            self.out.extend_from_slice(k);
        }
    }
}

/// Reads a body back into canonical bencode, with every count, length and
/// depth checked against the remaining input and the limits first.
pub(crate) struct BodyDecoder<'a> {
    input: &'a [u8],
    /// Offset of `input[0]` in the whole `.btl` file, for error messages.
    base: usize,
    pos: usize,
    table: Vec<&'a [u8]>,
    out: Vec<u8>,
    max_output: usize,
    max_depth: usize,
}

impl<'a> BodyDecoder<'a> {
    pub(crate) fn new(input: &'a [u8], base: usize, max_output: usize, max_depth: usize) -> Self {
        Self {
            input,
            base,
            pos: 0,
            table: Vec::new(),
            out: Vec::new(),
            max_output,
            max_depth,
        }
    }

    /// Decodes exactly one value that must span the whole input.
    pub(crate) fn run(mut self) -> Result<Vec<u8>, CompactError> {
        self.value(1)?;
        if self.pos != self.input.len() {
            return Err(CompactError::TrailingData {
                at: self.base + self.pos,
            });
        }
        Ok(self.out)
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, CompactError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(CompactError::Truncated { what: "body" })?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CompactError> {
        let start = self.at();
        let (v, used) =
            read_varint(&self.input[self.pos..]).ok_or(CompactError::BadVarint { at: start })?;
        self.pos += used;
        Ok(v)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], CompactError> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.remaining())
            .ok_or(CompactError::Truncated {
                what: "byte string",
            })?;
        let s = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }

    fn reserve_output(&self, extra: usize) -> Result<(), CompactError> {
        if self.out.len().saturating_add(extra) > self.max_output {
            return Err(CompactError::OutputTooLarge {
                max: self.max_output,
            });
        }
        Ok(())
    }

    fn remember(&mut self, s: &'a [u8]) {
        if (REF_MIN_LEN..=REF_MAX_LEN).contains(&s.len()) && self.table.len() < REF_TABLE_MAX {
            self.table.push(s);
        }
    }

    fn lookup(&self, index: u64, at: usize) -> Result<&'a [u8], CompactError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .ok_or(CompactError::BadReference { at, index })
    }

    fn write_bytes(&mut self, s: &[u8]) -> Result<(), CompactError> {
        // Length prefix: at most 20 digits and a colon.
        self.reserve_output(s.len().saturating_add(21))?;
        encode_bytes(&mut self.out, s);
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), CompactError> {
        let at = self.at();
        let tag = self.byte()?;
        let ty = tag >> 5;
        let arg = match tag & 0x1f {
            IMM_ESCAPE => self
                .varint()?
                .checked_add(IMM_MAX + 1)
                .ok_or(CompactError::BadVarint { at })?,
            imm => u64::from(imm),
        };
        match ty {
            T_INT => {
                self.reserve_output(22)?;
                encode_int(&mut self.out, unzigzag(arg));
            }
            T_STR => {
                let s = self.take(arg)?;
                self.remember(s);
                self.write_bytes(s)?;
            }
            T_REF => {
                let s = self.lookup(arg, at)?;
                self.write_bytes(s)?;
            }
            T_LIST | T_DICT => {
                if depth > self.max_depth {
                    return Err(CompactError::TooDeep {
                        max: self.max_depth,
                    });
                }
                // Every item takes at least one byte (an entry two), so a
                // count larger than what is left is a lie: refuse it early.
                let min_bytes = if ty == T_DICT { 2 } else { 1 };
                if arg > (self.remaining() / min_bytes) as u64 {
                    return Err(CompactError::Truncated {
                        what: if ty == T_DICT { "dictionary" } else { "list" },
                    });
                }
                self.reserve_output(2)?;
                if ty == T_LIST {
                    self.out.push(b'l');
                    for _ in 0..arg {
                        self.value(depth + 1)?;
                    }
                } else {
                    self.out.push(b'd');
                    let mut prev: Option<&'a [u8]> = None;
                    for _ in 0..arg {
                        let key_at = self.at();
                        let key = self.key()?;
                        if prev.is_some_and(|p| p >= key) {
                            return Err(CompactError::UnsortedKeys { at: key_at });
                        }
                        prev = Some(key);
                        self.write_bytes(key)?;
                        self.value(depth + 1)?;
                    }
                }
                self.out.push(b'e');
            }
            _ => return Err(CompactError::BadTag { at, tag }),
        }
        Ok(())
    }

    fn key(&mut self) -> Result<&'a [u8], CompactError> {
        let at = self.at();
        let code = self.varint()?;
        if code == 0 {
            let len = self.varint()?;
            let k = self.take(len)?;
            self.remember(k);
            Ok(k)
        } else if let Some(k) = static_key(code) {
            Ok(k)
        } else {
            self.lookup(code - STATIC_KEYS.len() as u64 - 1, at)
        }
    }
}

/// Reads a minimal LEB128 varint of at most 64 bits; returns the value and
/// the number of bytes used, or `None` if it is truncated, overlong or too
/// large.
pub(crate) fn read_varint(input: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in input.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && part > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            // Minimal: a multi-byte varint may not end in a zero byte.
            if i > 0 && b == 0 {
                return None;
            }
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
        assert_eq!(read_varint(&[0x80, 0x00]), None, "overlong");
        assert_eq!(read_varint(&[0x80]), None, "truncated");
        assert_eq!(read_varint(&[0xff; 10]), None, "too large");
    }

    #[test]
    fn zigzag_round_trips() {
        for i in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(i)), i);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}
