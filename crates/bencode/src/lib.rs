//! Strict, bounded, zero-copy bencode (BEP 3).
//!
//! # Goals
//! - **Strict**: only the canonical encoding is accepted: dictionary keys are
//!   byte strings in strictly increasing byte order (so sorted and unique),
//!   integers have no leading zeros and no `-0`, string lengths have no
//!   leading zeros, and no bytes may follow the top-level value. A canonical
//!   decoder means that re-encoding a decoded value gives back the same
//!   bytes, which is what makes an infohash (the hash of the `info`
//!   dictionary's bytes as they appear) well defined.
//! - **Bounded**: nesting depth and the total number of values are capped by
//!   [`Limits`] before anything is allocated; byte strings are borrowed from
//!   the input, so the only allocations are the vectors of list items and
//!   dictionary entries, whose total size is bounded by the input length.
//! - **Zero-copy**: byte strings are slices of the input, and every list and
//!   dictionary remembers the exact span of input it was decoded from
//!   ([`Dict::raw`], [`List::raw`]).
//!
//! # Non-goals
//! Accepting non-canonical encodings (some very old torrents have unsorted
//! keys); such input is refused with an error that names the offset.
//!
//! Empty dictionary keys are valid (BEP 52's `file tree` uses them).

mod decode;
mod encode;
mod value;

pub use decode::{decode, decode_with, DecodeError, DecodeErrorKind, Limits};
pub use encode::{encode_bytes, encode_int, Encoder};
pub use value::{Dict, List, Owned, Value};

#[cfg(test)]
mod tests;
