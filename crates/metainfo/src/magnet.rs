//! Magnet links (BEP 9, BEP 52).
//!
//! A magnet link names a torrent by its infohash(es) and carries hints for
//! finding it:
//!
//! | parameter          | meaning                                           |
//! |--------------------|---------------------------------------------------|
//! | `xt=urn:btih:H`    | v1 infohash, 40 hex or 32 base32 characters       |
//! | `xt=urn:btmh:1220H`| v2 infohash as a sha2-256 multihash (64 hex)      |
//! | `dn`               | display name                                      |
//! | `tr`, `tr.N`       | tracker URLs, in order (repeatable)               |
//! | `ws`               | web seed URLs (repeatable)                        |
//! | `x.pe`             | peer addresses `host:port`, `a.b.c.d:port`, `[v6]:port` |
//! | `so`               | file indices to select, e.g. `0,2,4-6`            |
//! | `x.btl`            | ours: hash of the ledger transaction that registered the torrent (64 hex); other clients ignore unknown `x.` parameters |
//!
//! A hybrid torrent carries both `xt` forms. Numbered forms (`xt.1`,
//! `tr.2`, ...) are accepted for `xt` and `tr`. Any other parameter,
//! including an `xt` with another URN, is kept verbatim in
//! [`Magnet::extra`] and written back out, so it survives a round trip.
//!
//! # Text form
//! - Parsing: the scheme is case-insensitive; a fragment (`#...`) is
//!   ignored; empty `&&` segments are skipped; values are percent-decoded
//!   and must be UTF-8; in `dn` only, `+` also means a space (as produced
//!   by HTML forms). Hex is accepted in either case.
//! - Output ([`Display`](fmt::Display)) is canonical and follows libtorrent's
//!   `make_magnet_uri` order: `xt` (btih, then btmh), `dn`, `tr`, `ws`,
//!   `x.pe`, `so`, then `x.btl` and the unknown parameters in their original
//!   order. Hex is lowercase; every byte outside RFC 3986's unreserved set
//!   and `: / @ ! $ ' ( ) * , ; ?` is percent-encoded (uppercase), so `&`,
//!   `=`, `+`, `#`, `%`, spaces and non-ASCII are always escaped (except
//!   the brackets of an IPv6 `x.pe`, written literally like libtorrent).
//!
//! # Bounds
//! Input is capped at [`MAX_URI_LEN`] bytes and [`MAX_PARAMS`] parameters;
//! `so` at [`MAX_SELECTION_RANGES`] ranges.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;

use btl_types::{InfoHashes, Sha1Hash, Sha256Hash};

/// Longest accepted magnet URI, in bytes (64 KiB).
pub const MAX_URI_LEN: usize = 64 << 10;

/// Most `&`-separated parameters accepted in one URI.
pub const MAX_PARAMS: usize = 1024;

/// Most ranges accepted in one `so` parameter.
pub const MAX_SELECTION_RANGES: usize = 4096;

/// The multihash prefix of a sha2-256 digest: code `0x12`, length `0x20`.
const MULTIHASH_SHA256: &str = "1220";

/// Why a magnet URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MagnetError {
    /// The URI is longer than [`MAX_URI_LEN`].
    #[error("magnet URI of {len} bytes is longer than the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The URI does not start with `magnet:?`.
    #[error("not a magnet link: it must start with `magnet:?`")]
    NotMagnet,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("more than {max} parameters")]
    TooManyParams {
        /// The limit.
        max: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("parameter `{param}`: invalid percent-encoding")]
    BadPercentEncoding {
        /// The parameter (as far as it could be decoded).
        param: String,
    },
    /// The decoded text is not UTF-8.
    #[error("parameter `{param}`: not valid UTF-8 after percent-decoding")]
    NotUtf8 {
        /// The parameter.
        param: String,
    },
    /// A known parameter without `=value`.
    #[error("parameter `{param}` has no value")]
    MissingValue {
        /// The parameter.
        param: String,
    },
    /// A `urn:btih:` hash is neither 40 hex nor 32 base32 characters.
    #[error("parameter `{param}`: invalid btih infohash `{value}` (need 40 hex or 32 base32 characters)")]
    BadBtih {
        /// The parameter.
        param: String,
        /// The hash text.
        value: String,
    },
    /// A `urn:btmh:` value is not a sha2-256 multihash in hex.
    #[error(
        "parameter `{param}`: invalid btmh infohash `{value}` (need `1220` and 64 hex characters)"
    )]
    BadBtmh {
        /// The parameter.
        param: String,
        /// The multihash text.
        value: String,
    },
    /// A parameter that may occur once occurs with two different values.
    #[error("parameter `{param}` is given twice with different values")]
    Conflict {
        /// The parameter.
        param: String,
    },
    /// An `x.pe` value is not `host:port`.
    #[error("parameter `x.pe`: invalid peer address `{value}` (need host:port, a.b.c.d:port or [v6]:port)")]
    BadPeer {
        /// The value.
        value: String,
    },
    /// An `so` value is not a list of indices and ranges.
    #[error("parameter `so`: invalid file selection `{value}` ({reason})")]
    BadSelection {
        /// The value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An `x.btl` value is not 64 hex characters.
    #[error("parameter `x.btl`: invalid ledger reference `{value}` (need 64 hex characters)")]
    BadLedgerRef {
        /// The value.
        value: String,
    },
}

/// A peer address from `x.pe`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// An IP literal and port (`1.2.3.4:6881`, `[::1]:6881`).
    Ip(SocketAddr),
    /// A host name and port (`peer.example:6881`).
    Host {
        /// The host name: ASCII letters, digits, `-`, `.` and `_`.
        host: String,
        /// The port.
        port: u16,
    },
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // SocketAddr prints IPv6 as `[addr]:port`.
            PeerAddr::Ip(a) => write!(f, "{a}"),
            PeerAddr::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl FromStr for PeerAddr {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, MagnetError> {
        let bad = || MagnetError::BadPeer {
            value: s.to_owned(),
        };
        if s.starts_with('[') {
            return s.parse::<SocketAddr>().map(PeerAddr::Ip).map_err(|_| bad());
        }
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let port: u16 = port.parse().map_err(|_| bad())?;
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(PeerAddr::Ip(SocketAddr::new(IpAddr::V4(ip), port)));
        }
        let valid_host = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid_host {
            return Err(bad());
        }
        Ok(PeerAddr::Host {
            host: host.to_owned(),
            port,
        })
    }
}

/// A parsed magnet link.
///
/// `Magnet::default()` is an empty link; [`Magnet::new`] starts one from
/// infohashes. `to_string()` gives the canonical URI and `parse()` reads one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Magnet {
    /// The v1 infohash (`xt=urn:btih:`).
    pub v1: Option<Sha1Hash>,
    /// The v2 infohash (`xt=urn:btmh:1220`).
    pub v2: Option<Sha256Hash>,
    /// The display name (`dn`).
    pub name: Option<String>,
    /// Tracker URLs (`tr`, `tr.N`), in order.
    pub trackers: Vec<String>,
    /// Web seed URLs (`ws`), in order.
    pub web_seeds: Vec<String>,
    /// Peer addresses (`x.pe`), in order.
    pub peers: Vec<PeerAddr>,
    /// File selection (`so`): inclusive index ranges, as given (not merged or
    /// sorted). Empty means no `so` parameter.
    pub select_only: Vec<RangeInclusive<u32>>,
    /// Our ledger reference (`x.btl`): hash of the transaction that
    /// registered the torrent.
    pub ledger_ref: Option<Sha256Hash>,
    /// Every other parameter (and `xt` with a URN other than btih/btmh), as
    /// `(key, value)` in percent-encoded form, in order: as it appeared in
    /// the URI, except that bytes which are not printable ASCII, and a `%`
    /// that starts no valid escape, are escaped. When writing, `&`, `#`, `=`
    /// in keys and those bytes are escaped too; entries whose key names a
    /// known parameter are skipped.
    pub extra: Vec<(String, String)>,
}

impl Magnet {
    /// A magnet link for the given infohashes and nothing else.
    pub fn new(hashes: InfoHashes) -> Self {
        let mut m = Self::default();
        m.set_infohashes(hashes);
        m
    }

    /// The infohashes, if the link carries a v1 or v2 hash.
    pub fn infohashes(&self) -> Option<InfoHashes> {
        match (self.v1, self.v2) {
            (Some(a), Some(b)) => Some(InfoHashes::Hybrid(a, b)),
            (Some(a), None) => Some(InfoHashes::V1(a)),
            (None, Some(b)) => Some(InfoHashes::V2(b)),
            (None, None) => None,
        }
    }

    /// Replaces both infohashes.
    pub fn set_infohashes(&mut self, hashes: InfoHashes) {
        self.v1 = hashes.v1();
        self.v2 = hashes.v2();
    }

    /// Whether file `index` is selected: true for every file when there is
    /// no `so` parameter.
    pub fn selects(&self, index: u32) -> bool {
        self.select_only.is_empty() || self.select_only.iter().any(|r| r.contains(&index))
    }
}

/// Which known parameter a key names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Xt,
    Dn,
    Tr,
    Ws,
    Pe,
    So,
    Btl,
}

fn classify(key: &str) -> Option<Known> {
    let numbered = |base: &str| {
        key.strip_prefix(base)
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    Some(match key {
        "xt" => Known::Xt,
        "dn" => Known::Dn,
        "tr" => Known::Tr,
        "ws" => Known::Ws,
        "x.pe" => Known::Pe,
        "so" => Known::So,
        "x.btl" => Known::Btl,
        _ if numbered("xt") => Known::Xt,
        _ if numbered("tr") => Known::Tr,
        _ => return None,
    })
}

/// Percent-decodes `s` (and `+` as space if `plus_is_space`) into UTF-8.
fn decode(s: &str, plus_is_space: bool, param: &str) -> Result<String, MagnetError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).and_then(|&c| hex_val(c));
                let lo = b.get(i + 2).and_then(|&c| hex_val(c));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h << 4) | l),
                    _ => {
                        return Err(MagnetError::BadPercentEncoding {
                            param: param.to_owned(),
                        })
                    }
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| MagnetError::NotUtf8 {
        param: param.to_owned(),
    })
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes written literally; everything else is percent-encoded.
fn is_plain(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'/'
                | b'@'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b';'
                | b'?'
        )
}

fn write_escaped(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    write_escaped_but(f, s, b"")
}

/// [`write_escaped`], also writing the bytes in `keep` literally.
fn write_escaped_but(f: &mut impl fmt::Write, s: &str, keep: &[u8]) -> fmt::Result {
    for &c in s.as_bytes() {
        if is_plain(c) || keep.contains(&c) {
            f.write_char(char::from(c))?;
        } else {
            write!(f, "%{c:02X}")?;
        }
    }
    Ok(())
}

/// Writes an already-encoded (raw) key or value, escaping only what would
/// change the URI's structure or not survive a parse: a `%` that does not
/// start a valid escape, `&`, `#`, `=` (when `in_key`), and anything outside
/// printable ASCII. Idempotent: its output is written unchanged.
fn write_raw(f: &mut impl fmt::Write, s: &str, in_key: bool) -> fmt::Result {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let escape = match c {
            b'%' => {
                !(b.get(i + 1).is_some_and(|&x| hex_val(x).is_some())
                    && b.get(i + 2).is_some_and(|&x| hex_val(x).is_some()))
            }
            b'&' | b'#' => true,
            b'=' => in_key,
            0x21..=0x7e => false,
            _ => true,
        };
        if escape {
            write!(f, "%{c:02X}")?;
        } else {
            f.write_char(char::from(c))?;
        }
    }
    Ok(())
}

/// The form in which an unknown parameter is stored: what [`write_raw`]
/// writes, so that writing it again changes nothing.
fn normalize_raw(s: &str, in_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing to a String cannot fail.
    let _ = write_raw(&mut out, s, in_key);
    out
}

fn parse_btih(param: &str, h: &str) -> Result<Sha1Hash, MagnetError> {
    let bad = || MagnetError::BadBtih {
        param: param.to_owned(),
        value: h.to_owned(),
    };
    match h.len() {
        40 => {
            let mut out = [0u8; 20];
            for (o, pair) in out.iter_mut().zip(h.as_bytes().chunks_exact(2)) {
                let hi = hex_val(pair[0]).ok_or_else(bad)?;
                let lo = hex_val(pair[1]).ok_or_else(bad)?;
                *o = (hi << 4) | lo;
            }
            Ok(Sha1Hash(out))
        }
        32 => base32_decode(h.as_bytes()).map(Sha1Hash).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// RFC 4648 base32 (no padding), case-insensitive: 32 characters, 20 bytes.
fn base32_decode(s: &[u8]) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut n = 0;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            acc &= (1 << bits) - 1;
            n += 1;
        }
    }
    (n == 20 && bits == 0).then_some(out)
}

fn parse_hex32(s: &str) -> Option<Sha256Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *o = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(Sha256Hash(out))
}

fn parse_btmh(param: &str, h: &str) -> Result<Sha256Hash, MagnetError> {
    let digest = h
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(MULTIHASH_SHA256))
        .and_then(|_| h.get(4..))
        .and_then(parse_hex32);
    digest.ok_or_else(|| MagnetError::BadBtmh {
        param: param.to_owned(),
        value: h.to_owned(),
    })
}

fn parse_selection(value: &str) -> Result<Vec<RangeInclusive<u32>>, MagnetError> {
    let bad = |reason| MagnetError::BadSelection {
        value: value.to_owned(),
        reason,
    };
    let num = |s: &str| -> Result<u32, MagnetError> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("an index is not a decimal number"));
        }
        s.parse().map_err(|_| bad("an index is too large"))
    };
    let mut out = Vec::new();
    for part in value.split(',') {
        if out.len() == MAX_SELECTION_RANGES {
            return Err(bad("too many ranges"));
        }
        let range = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad("a range ends before it starts"));
                }
                a..=b
            }
            None => {
                let a = num(part)?;
                a..=a
            }
        };
        out.push(range);
    }
    Ok(out)
}

/// Sets `slot` to `v`, or fails if it already holds a different value.
fn set_once<T: PartialEq>(slot: &mut Option<T>, v: T, param: &str) -> Result<(), MagnetError> {
    match slot {
        Some(old) if *old != v => Err(MagnetError::Conflict {
            param: param.to_owned(),
        }),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

impl FromStr for Magnet {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, MagnetError> {
        if s.len() > MAX_URI_LEN {
            return Err(MagnetError::TooLong {
                len: s.len(),
                max: MAX_URI_LEN,
            });
        }
        let query = s
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .and_then(|_| s.get(8..))
            .ok_or(MagnetError::NotMagnet)?;
        let query = query.split_once('#').map_or(query, |(q, _)| q);

        let mut m = Magnet::default();
        let mut so_seen = false;
        for (n, segment) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
            if n == MAX_PARAMS {
                return Err(MagnetError::TooManyParams { max: MAX_PARAMS });
            }
            let (raw_key, raw_value) = match segment.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (segment, None),
            };
            let key = decode(raw_key, false, raw_key)?;
            let Some(known) = classify(&key) else {
                m.extra.push((
                    normalize_raw(raw_key, true),
                    normalize_raw(raw_value.unwrap_or(""), false),
                ));
                continue;
            };
            let raw_value =
                raw_value.ok_or_else(|| MagnetError::MissingValue { param: key.clone() })?;
            let value = decode(raw_value, known == Known::Dn, &key)?;
            match known {
                Known::Xt => {
                    let urn = value.get(..9).map(str::to_ascii_lowercase);
                    let rest = value.get(9..).unwrap_or("");
                    match urn.as_deref() {
                        Some("urn:btih:") => set_once(&mut m.v1, parse_btih(&key, rest)?, &key)?,
                        Some("urn:btmh:") => set_once(&mut m.v2, parse_btmh(&key, rest)?, &key)?,
                        _ => m.extra.push((
                            normalize_raw(raw_key, true),
                            normalize_raw(raw_value, false),
                        )),
                    }
                }
                Known::Dn => set_once(&mut m.name, value, &key)?,
                Known::Tr => m.trackers.push(value),
                Known::Ws => m.web_seeds.push(value),
                Known::Pe => m.peers.push(value.parse()?),
                Known::So => {
                    if so_seen {
                        return Err(MagnetError::Conflict { param: key });
                    }
                    so_seen = true;
                    m.select_only = parse_selection(&value)?;
                }
                Known::Btl => {
                    let h = parse_hex32(&value).ok_or(MagnetError::BadLedgerRef {
                        value: value.clone(),
                    })?;
                    set_once(&mut m.ledger_ref, h, &key)?;
                }
            }
        }
        Ok(m)
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?")?;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if !std::mem::take(&mut first) {
                f.write_char('&')?;
            }
            Ok(())
        };
        if let Some(h) = &self.v1 {
            sep(f)?;
            write!(f, "xt=urn:btih:{h}")?;
        }
        if let Some(h) = &self.v2 {
            sep(f)?;
            write!(f, "xt=urn:btmh:{MULTIHASH_SHA256}{h}")?;
        }
        if let Some(name) = &self.name {
            sep(f)?;
            f.write_str("dn=")?;
            write_escaped(f, name)?;
        }
        for (key, list) in [("tr", &self.trackers), ("ws", &self.web_seeds)] {
            for url in list {
                sep(f)?;
                write!(f, "{key}=")?;
                write_escaped(f, url)?;
            }
        }
        for p in &self.peers {
            sep(f)?;
            f.write_str("x.pe=")?;
            // Brackets literal, as libtorrent writes them.
            write_escaped_but(f, &p.to_string(), b"[]")?;
        }
        if !self.select_only.is_empty() {
            sep(f)?;
            f.write_str("so=")?;
            for (i, r) in self.select_only.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                if r.start() == r.end() {
                    write!(f, "{}", r.start())?;
                } else {
                    write!(f, "{}-{}", r.start(), r.end())?;
                }
            }
        }
        if let Some(h) = &self.ledger_ref {
            sep(f)?;
            write!(f, "x.btl={h}")?;
        }
        for (key, value) in &self.extra {
            // A known key here would be read back as that parameter (or
            // clash with it); an `xt` with a foreign URN is the exception.
            let decoded = decode(key, false, key).ok();
            let keep = match decoded.as_deref().map(classify) {
                Some(Some(Known::Xt)) => {
                    let v = decode(value, false, key).unwrap_or_default();
                    let urn = v.get(..9).map(str::to_ascii_lowercase);
                    !matches!(urn.as_deref(), Some("urn:btih:" | "urn:btmh:"))
                }
                Some(Some(_)) => false,
                _ => true,
            };
            if keep {
                sep(f)?;
                write_raw(f, key, true)?;
                f.write_char('=')?;
                write_raw(f, value, false)?;
            }
        }
        Ok(())
    }
}

/// Fuzz entry point for the magnet parser: never panics on any input unless
/// an invariant is broken.
///
/// Non-UTF-8 input is ignored. A link that parses must print to a link that
/// parses back to an equal [`Magnet`] which prints identically; a failure is
/// a bug and panics.
pub fn fuzz_magnet(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = s.parse::<Magnet>() {
        let text = m.to_string();
        let again = text.parse::<Magnet>();
        assert!(
            again.is_ok(),
            "canonical output {text:?} does not parse: {again:?}"
        );
        if let Ok(again) = again {
            assert_eq!(again, m, "parse(display(m)) differs from m");
            assert_eq!(again.to_string(), text, "output is not stable");
        }
    }
}
