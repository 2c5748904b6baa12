//! The compact binary torrent format (`.btl`), version 1.
//!
//! # Goals
//! - **Lossless**: a `.btl` holds a `.torrent` file's whole bencode tree, so
//!   `.torrent -> .btl -> .torrent` gives back the exact input bytes: the
//!   infohashes (v1 and v2) survive, and so do keys this code has never
//!   heard of.
//! - **Carries what a `.torrent` cannot**: a versioned header with
//!   encryption flags, typed extension data, and the ledger reference (the
//!   32-byte hash of the transaction that registered the torrent; absent
//!   until the torrent is published).
//! - **Smaller**: bencode's decimal lengths and repeated key names are
//!   replaced by one-byte tags, LEB128 varints, a static table of well-known
//!   keys and back-references to repeated short strings (directory names,
//!   BEP 52 pieces roots that reappear as `piece layers` keys). Hash strings
//!   (`pieces`, layers, roots) are stored raw: they are incompressible.
//!   When raw DEFLATE makes that body smaller still (torrents with many
//!   similar file names and lengths), the writer stores it compressed.
//! - **Bounded**: every count, length and depth is checked against the
//!   remaining input and the [`BtlLimits`] before it is acted on; the output
//!   size is capped (a compressed body too: it is inflated into a buffer
//!   that never grows past the output limit); no input can make the decoder
//!   panic.
//! - **Deterministic**: the same torrent and header always give the same
//!   `.btl` bytes (the DEFLATE level is pinned, [`DEFLATE_LEVEL`]).
//!
//! Measured on synthetic but realistically shaped torrents (random hashes,
//! `tests/compact_sizes.rs`), `.btl` size / `.torrent` size, with the body
//! codec the writer picks: 0.99 for a single 4.7 GB file (the `pieces`
//! hashes are nearly everything; DEFLATE gains nothing, codec 0), 0.87 / 0.87
//! for 480 music tracks (v1 / hybrid), 0.35 / 0.43 for 5,000 photos, 0.16 /
//! 0.35 for an 8,000-file source tree (all codec 1). Without DEFLATE (codec
//! 0 only) the same set gives 0.99, 0.91 / 0.90, 0.60 / 0.58, 0.42 / 0.53.
//!
//! # Non-goals
//! Compressing hashes (they are random), and non-canonical bencode: the
//! input must be what the strict [`btl_bencode::decode`] accepts, which is
//! what makes "the same bytes come back" well defined.
//!
//! # Byte layout
//!
//! All multi-byte integers are unsigned LEB128 varints (7 bits per byte, low
//! group first, high bit set on all but the last byte, minimal length, at
//! most 64 bits) unless marked otherwise.
//!
//! ```text
//!  offset
//!  0        4        5          7
//!  +--------+--------+----------+--------+ - - - - - - - - +
//!  | magic  |version |  flags   | ref    | ledger ref      |
//!  | 89 42  |  01    |  u16 LE  | marker | 32 bytes, only  |
//!  | 54 4C  |        |          | 00/01  | if marker = 01  |
//!  +--------+--------+----------+--------+ - - - - - - - - +
//!  +----------+======================================+
//!  | ext count| ext count x extension:               |
//!  | varint   |   type varint (<= 0xFFFF)            |
//!  | (<= 64)  |   len  varint (<= 65536), len bytes  |
//!  +----------+======================================+
//!  +--------+================================+-----------+
//!  | codec  | body, to the start of the      | checksum  |
//!  | 00/01  | checksum (see `codec`)         | 4 bytes   |
//!  +--------+================================+-----------+
//! ```
//!
//! - `magic` is `0x89 'B' 'T' 'L'`. A `.torrent` starts with `d`, so the two
//!   can never be confused ([`is_btl`]).
//! - `version` is [`FORMAT_VERSION`] (1). A reader refuses other versions.
//! - `flags` are the encryption flags ([`FLAG_PAYLOAD_ENCRYPTED`],
//!   [`FLAG_ENCRYPTED_TRANSPORT`]); the other bits are reserved: writers set
//!   them to 0, readers keep them as they are and give them no meaning. No
//!   flag changes the layout.
//! - The ledger reference marker is `00` (not published) or `01` (the next
//!   32 bytes are the hash of the registering ledger transaction); any other
//!   value is an error.
//! - Extensions are opaque `(type, bytes)` records, kept in file order.
//! - `codec` says how the body is stored; other values are reserved and
//!   refused ([`CompactError::UnsupportedCodec`]):
//!   - `00` ([`CODEC_PLAIN`]): the body is one tagged value (below).
//!   - `01` ([`CODEC_DEFLATE`]): the body is a raw DEFLATE stream (RFC 1951:
//!     no zlib or gzip wrapper, no length prefix) that inflates to the
//!     codec 0 body, one tagged value. The stream must end exactly at the
//!     checksum. A reader inflates it into at most [`BtlLimits::max_output`]
//!     bytes and refuses anything larger
//!     ([`CompactError::CompressedBodyTooLarge`]) before decoding it (a
//!     tagged body is never longer than the bencode it decodes to).
//!
//!   The writer builds the codec 0 body, compresses it with `miniz_oxide` at
//!   [`DEFLATE_LEVEL`], and keeps codec 1 only when the compressed body is
//!   strictly shorter; otherwise it writes codec 0. A reader accepts any
//!   valid raw DEFLATE stream (a file is not refused because another
//!   compressor or level made it); the writer's choice and its bytes are
//!   deterministic for a given `miniz_oxide` version, which `Cargo.lock`
//!   pins and the golden vectors check.
//! - `checksum` is the first 4 bytes of SHA-256 over every preceding byte of
//!   the file (for codec 1, over the compressed bytes). It catches accidental damage to the parts the infohash does
//!   not cover (trackers, the ledger reference); it is not a signature.
//!
//! ## The tagged tree
//!
//! Each value starts with a tag byte `ttt aaaaa`: the type in the top three
//! bits, an argument in the low five. An argument of 0 to 30 is stored in
//! the tag itself; 31 means a varint follows, holding the argument minus 31.
//!
//! | `ttt` | type       | argument         | followed by                      |
//! |-------|------------|------------------|----------------------------------|
//! | 0     | integer    | zigzag(value)    | nothing                          |
//! | 1     | byte string| length           | the bytes                        |
//! | 2     | back-ref   | table index      | nothing                          |
//! | 3     | list       | item count       | the items                        |
//! | 4     | dictionary | entry count      | entries: a key, then a value     |
//! | 5-7   | reserved   |                  | (error)                          |
//!
//! zigzag maps 0, -1, 1, -2, ... to 0, 1, 2, 3, ...
//!
//! A dictionary key is a varint code `c`:
//! - `c = 0`: a literal key, `len` varint and `len` bytes;
//! - `1 <= c <= 42`: the well-known key number `c` of the static table
//!   (`info`, `name`, `piece length`, `pieces`, `length`, `path`, `files`,
//!   `file tree`, `pieces root`, `piece layers`, ... `x_cross_seed`; the
//!   complete, frozen list is in `compact/keys.rs`);
//! - `c > 42`: back-reference table entry `c - 43`.
//!
//! Keys of a dictionary must be strictly increasing in byte order, as in
//! canonical bencode; a reader refuses anything else, so its output is
//! always canonical bencode.
//!
//! The **back-reference table** starts empty. Every literal byte string
//! (value or key) of 3 to 64 bytes is appended to it, in document order,
//! until it holds 65,536 entries. A writer emits a back-reference whenever
//! an eligible string is already in the table.
//!
//! The decoded document must be a dictionary with an `info` dictionary.
//!
//! # Example
//! ```
//! use btl_metainfo::compact::{btl_to_torrent, torrent_to_btl, BtlHeader};
//! let torrent = b"d4:infod6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
//! let btl = torrent_to_btl(torrent, &BtlHeader::default())?;
//! let (header, back) = btl_to_torrent(&btl)?;
//! assert_eq!(back, torrent);
//! assert_eq!(header, BtlHeader::default());
//! # Ok::<(), btl_metainfo::compact::CompactError>(())
//! ```

mod body;
mod deflate;
mod keys;

use btl_bencode::{DecodeError, Value};
use btl_types::Sha256Hash;
use sha2::{Digest, Sha256};

use body::{put_varint, read_varint, BodyDecoder, BodyEncoder};
pub use deflate::DEFLATE_LEVEL;

/// The four bytes every `.btl` file starts with: `0x89 'B' 'T' 'L'`.
pub const MAGIC: [u8; 4] = [0x89, b'B', b'T', b'L'];

/// The format version this code reads and writes.
pub const FORMAT_VERSION: u8 = 1;

/// Flag: the payload the swarm carries is encrypted (an age-encrypted vault
/// master); the torrent describes the ciphertext.
pub const FLAG_PAYLOAD_ENCRYPTED: u16 = 1 << 0;

/// Flag: peers of this torrent should be reached only over an encrypted
/// transport (TLS 1.3 for native peers, MSE/PE for others).
pub const FLAG_ENCRYPTED_TRANSPORT: u16 = 1 << 1;

/// Most extension records in one file.
pub const MAX_EXTENSIONS: usize = 64;

/// Largest extension record, in bytes.
pub const MAX_EXTENSION_LEN: usize = 64 << 10;

/// Body codec 0: the tagged tree, stored as is.
pub const CODEC_PLAIN: u8 = 0;

/// Body codec 1: the tagged tree compressed with raw DEFLATE (RFC 1951).
pub const CODEC_DEFLATE: u8 = 1;

const CHECKSUM_LEN: usize = 4;

/// Everything in a `.btl` file besides the torrent itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtlHeader {
    /// The format version; must be [`FORMAT_VERSION`].
    pub version: u8,
    /// Encryption flags: [`FLAG_PAYLOAD_ENCRYPTED`],
    /// [`FLAG_ENCRYPTED_TRANSPORT`]; other bits reserved and kept as is.
    pub flags: u16,
    /// Typed extension records `(type, data)`, kept in order. At most
    /// [`MAX_EXTENSIONS`], each at most [`MAX_EXTENSION_LEN`] bytes.
    pub extensions: Vec<(u16, Vec<u8>)>,
    /// The hash of the ledger transaction that registered the torrent;
    /// `None` until it is published.
    pub ledger_ref: Option<Sha256Hash>,
}

impl Default for BtlHeader {
    /// Version 1, no flags, no extensions, not published.
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            flags: 0,
            extensions: Vec::new(),
            ledger_ref: None,
        }
    }
}

/// Caps applied when reading an untrusted `.btl` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtlLimits {
    /// Largest accepted `.btl` input, in bytes.
    pub max_input: usize,
    /// Largest `.torrent` output, in bytes.
    pub max_output: usize,
    /// Deepest nesting of lists and dictionaries (top level is 1).
    pub max_depth: usize,
}

impl Default for BtlLimits {
    /// The same bounds as [`btl_bencode::Limits::default`]: 64 MiB in and
    /// out, depth 128.
    fn default() -> Self {
        let b = btl_bencode::Limits::default();
        Self {
            max_input: b.max_input,
            max_output: b.max_input,
            max_depth: b.max_depth,
        }
    }
}

/// Why a conversion to or from `.btl` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    /// The input does not start with [`MAGIC`].
    #[error("not a .btl file (bad magic bytes)")]
    NotBtl,
    /// The format version is not one this code knows.
    #[error("unsupported .btl format version {0} (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// The body codec byte is not one this code knows.
    #[error("unsupported .btl body codec {0}")]
    UnsupportedCodec(u8),
    /// The ledger reference marker is neither 0 nor 1.
    #[error("invalid ledger reference marker {0:#04x}")]
    BadLedgerMarker(u8),
    /// The input ended inside the named part.
    #[error("truncated .btl file: input ends inside the {what}")]
    Truncated {
        /// The part being read.
        what: &'static str,
    },
    /// The checksum does not match: the file is damaged.
    #[error(".btl checksum mismatch: the file is damaged")]
    ChecksumMismatch,
    /// A varint is overlong, truncated or does not fit.
    #[error("invalid varint at byte {at}")]
    BadVarint {
        /// Offset in the `.btl` file (for a codec 1 body, in the inflated
        /// body).
        at: usize,
    },
    /// A tag byte with a reserved type.
    #[error("invalid tag {tag:#04x} at byte {at}")]
    BadTag {
        /// Offset in the `.btl` file (for a codec 1 body, in the inflated
        /// body).
        at: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A back-reference to a table entry that does not exist.
    #[error("back-reference {index} at byte {at} is not in the table")]
    BadReference {
        /// Offset in the `.btl` file (for a codec 1 body, in the inflated
        /// body).
        at: usize,
        /// The index referred to.
        index: u64,
    },
    /// Dictionary keys are not strictly increasing.
    #[error("dictionary keys out of order at byte {at}")]
    UnsortedKeys {
        /// Offset in the `.btl` file (for a codec 1 body, in the inflated
        /// body).
        at: usize,
    },
    /// Bytes follow the body (for codec 1: follow the DEFLATE stream, or
    /// follow the tagged value in the inflated body).
    #[error("unexpected data after the body at byte {at}")]
    TrailingData {
        /// Offset in the `.btl` file (for data after the tagged value of a
        /// codec 1 body, in the inflated body).
        at: usize,
    },
    /// Nesting deeper than the limit.
    #[error("nesting deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The `.btl` input is larger than the limit.
    #[error("input of {len} bytes exceeds the limit of {max}")]
    InputTooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The decoded `.torrent` would be larger than the limit.
    #[error("decoded torrent exceeds the limit of {max} bytes")]
    OutputTooLarge {
        /// The limit.
        max: usize,
    },
    /// A compressed (codec 1) body inflates to more than the output limit:
    /// a damaged file or a decompression bomb. Nothing past the limit is
    /// allocated.
    #[error("the compressed body inflates to more than {max} bytes (the output limit); refused")]
    CompressedBodyTooLarge {
        /// The limit ([`BtlLimits::max_output`]).
        max: usize,
    },
    /// A compressed (codec 1) body is not valid raw DEFLATE data.
    #[error("the compressed body is not valid DEFLATE data: the file is damaged")]
    BadCompressedBody,
    /// Too many extension records, or one too large.
    #[error("extension records exceed the limits ({MAX_EXTENSIONS} records of {MAX_EXTENSION_LEN} bytes)")]
    ExtensionTooLarge,
    /// The extension type does not fit in 16 bits.
    #[error("extension type {0} does not fit in 16 bits")]
    BadExtensionType(u64),
    /// The `.torrent` input is not canonical bencode.
    #[error("the torrent is not canonical bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The document is valid bencode but not a torrent.
    #[error("not a torrent: {0}")]
    NotATorrent(&'static str),
}

/// Whether `bytes` starts like a `.btl` file (checks the magic only).
pub fn is_btl(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

fn check_torrent(v: &Value<'_>) -> Result<(), CompactError> {
    let dict = v.as_dict().ok_or(CompactError::NotATorrent(
        "the top level is not a dictionary",
    ))?;
    match dict.get(b"info") {
        Some(Value::Dict(_)) => Ok(()),
        Some(_) => Err(CompactError::NotATorrent("`info` is not a dictionary")),
        None => Err(CompactError::NotATorrent("no `info` dictionary")),
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let d = Sha256::digest(bytes);
    [d[0], d[1], d[2], d[3]]
}

/// Converts a `.torrent` file (canonical bencode, a dictionary with an
/// `info` dictionary) to `.btl`, with the given header.
///
/// The body is stored with [`CODEC_DEFLATE`] when that is strictly shorter
/// than [`CODEC_PLAIN`], else plain. The output is deterministic: the same
/// torrent and header always give the same bytes.
pub fn torrent_to_btl(torrent: &[u8], header: &BtlHeader) -> Result<Vec<u8>, CompactError> {
    if header.version != FORMAT_VERSION {
        return Err(CompactError::UnsupportedVersion(header.version));
    }
    if header.extensions.len() > MAX_EXTENSIONS
        || header
            .extensions
            .iter()
            .any(|(_, d)| d.len() > MAX_EXTENSION_LEN)
    {
        return Err(CompactError::ExtensionTooLarge);
    }
    let doc = btl_bencode::decode(torrent)?;
    check_torrent(&doc)?;

    let mut out = Vec::with_capacity(torrent.len() + 64);
    out.extend_from_slice(&MAGIC);
    out.push(header.version);
    out.extend_from_slice(&header.flags.to_le_bytes());
    match &header.ledger_ref {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            out.extend_from_slice(h.as_bytes());
        }
    }
    put_varint(&mut out, header.extensions.len() as u64);
    for (ty, data) in &header.extensions {
        put_varint(&mut out, u64::from(*ty));
        put_varint(&mut out, data.len() as u64);
        out.extend_from_slice(data);
    }
    let mut enc = BodyEncoder::new(Vec::with_capacity(torrent.len()));
    enc.value(&doc);
    let body = enc.finish();
    let packed = deflate::compress(&body);
    if packed.len() < body.len() {
        out.push(CODEC_DEFLATE);
        out.extend_from_slice(&packed);
    } else {
        out.push(CODEC_PLAIN);
        out.extend_from_slice(&body);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

/// Converts a `.btl` file back to its header and the exact `.torrent` bytes,
/// with the default [`BtlLimits`].
pub fn btl_to_torrent(btl: &[u8]) -> Result<(BtlHeader, Vec<u8>), CompactError> {
    btl_to_torrent_with(btl, BtlLimits::default())
}

/// Reads just the header of a `.btl` file (checksum included, body not
/// decoded).
pub fn read_header(btl: &[u8]) -> Result<BtlHeader, CompactError> {
    parse_header(btl, BtlLimits::default()).map(|(h, _)| h)
}

/// Checks magic, size and checksum, and parses the header; returns it and
/// the offset of the body codec byte.
fn parse_header(btl: &[u8], limits: BtlLimits) -> Result<(BtlHeader, usize), CompactError> {
    if !is_btl(btl) {
        return Err(CompactError::NotBtl);
    }
    if btl.len() > limits.max_input {
        return Err(CompactError::InputTooLarge {
            len: btl.len(),
            max: limits.max_input,
        });
    }
    let content_len = btl
        .len()
        .checked_sub(CHECKSUM_LEN)
        .ok_or(CompactError::Truncated { what: "header" })?;
    let (content, sum) = btl.split_at(content_len);
    let mut r = Reader {
        buf: content,
        pos: MAGIC.len(),
    };
    let version = r.byte("header")?;
    if version != FORMAT_VERSION {
        return Err(CompactError::UnsupportedVersion(version));
    }
    if checksum(content) != sum {
        return Err(CompactError::ChecksumMismatch);
    }
    let flags = u16::from_le_bytes([r.byte("header")?, r.byte("header")?]);
    let ledger_ref = match r.byte("header")? {
        0 => None,
        1 => Some(Sha256Hash(r.array("ledger reference")?)),
        m => return Err(CompactError::BadLedgerMarker(m)),
    };
    let count = r.varint()?;
    if count > MAX_EXTENSIONS as u64 {
        return Err(CompactError::ExtensionTooLarge);
    }
    let mut extensions = Vec::new();
    for _ in 0..count {
        let ty = r.varint()?;
        let ty = u16::try_from(ty).map_err(|_| CompactError::BadExtensionType(ty))?;
        let len = r.varint()?;
        if len > MAX_EXTENSION_LEN as u64 {
            return Err(CompactError::ExtensionTooLarge);
        }
        let data = r.take(len as usize, "extension")?;
        extensions.push((ty, data.to_vec()));
    }
    let header = BtlHeader {
        version,
        flags,
        extensions,
        ledger_ref,
    };
    Ok((header, r.pos))
}

/// [`btl_to_torrent`] with explicit limits.
pub fn btl_to_torrent_with(
    btl: &[u8],
    limits: BtlLimits,
) -> Result<(BtlHeader, Vec<u8>), CompactError> {
    let (header, pos) = parse_header(btl, limits)?;
    let content = &btl[..btl.len() - CHECKSUM_LEN];
    let mut r = Reader { buf: content, pos };
    let codec = r.byte("header")?;
    let stored = &content[r.pos..];
    let torrent = match codec {
        CODEC_PLAIN => {
            BodyDecoder::new(stored, r.pos, limits.max_output, limits.max_depth).run()?
        }
        CODEC_DEFLATE => {
            // A tagged body is never longer than the bencode it decodes to,
            // so the output limit bounds the inflated body too.
            let body = deflate::inflate(stored, r.pos, limits.max_output)?;
            BodyDecoder::new(&body, 0, limits.max_output, limits.max_depth).run()?
        }
        other => return Err(CompactError::UnsupportedCodec(other)),
    };
    // The body decoder only ever writes canonical bencode; decoding it again
    // checks the torrent shape (and that claim) before anyone relies on it.
    let doc = btl_bencode::decode_with(
        &torrent,
        btl_bencode::Limits {
            max_input: limits.max_output,
            max_depth: limits.max_depth,
            ..btl_bencode::Limits::default()
        },
    )?;
    check_torrent(&doc)?;
    Ok((header, torrent))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, CompactError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(CompactError::Truncated { what })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], CompactError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(CompactError::Truncated { what })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CompactError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, CompactError> {
        let at = self.pos;
        let (v, used) = read_varint(&self.buf[self.pos..]).ok_or(CompactError::BadVarint { at })?;
        self.pos += used;
        Ok(v)
    }
}

/// Fuzz entry point for `.btl` readers: never panics on any input unless an
/// invariant is broken. Both body codecs are reached: a codec byte of 1
/// sends the rest through the bounded inflater first.
///
/// `data` is taken as a `.btl` file *without* its checksum: the correct
/// checksum is appended first, so that a fuzzer reaches the body decoder
/// instead of stopping at the checksum. Whatever decodes must be canonical
/// bencode, and encoding it again with the decoded header must give a file
/// that decodes to the same header and bytes; a failure of either is a bug
/// and panics.
pub fn fuzz_btl(data: &[u8]) {
    let mut btl = data.to_vec();
    let sum = checksum(&btl);
    btl.extend_from_slice(&sum);
    let limits = BtlLimits {
        max_input: 1 << 20,
        max_output: 4 << 20,
        max_depth: 64,
    };
    if let Ok((header, torrent)) = btl_to_torrent_with(&btl, limits) {
        let again = torrent_to_btl(&torrent, &header);
        assert!(
            again.is_ok(),
            "re-encoding a decoded .btl failed: {again:?}"
        );
        if let Ok(again) = again {
            let back = btl_to_torrent(&again);
            assert_eq!(back, Ok((header, torrent)), "re-encoded .btl differs");
        }
    }
}
