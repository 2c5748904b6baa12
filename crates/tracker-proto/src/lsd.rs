//! Local Service Discovery (BEP 14): the `BT-SEARCH` announces that peers
//! multicast on their local network, sans-IO.
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n        (or [ff15::efc0:988f]:6771)
//! Port: <listening port, decimal>\r\n
//! Infohash: <40 hex digits>\r\n        (one or more)
//! cookie: <opaque token>\r\n            (optional)
//! \r\n
//! \r\n
//! ```
//!
//! The peer's address is the datagram's source address with the `Port`
//! header's port. The `cookie` lets a client drop its own announces when
//! multicast loops them back.
//!
//! # Decoding is bounded
//! A datagram longer than [`MAX_DATAGRAM`] is refused before it is read;
//! at most [`MAX_HEADERS`] header lines and [`MAX_INFOHASHES`] infohashes
//! are taken, a cookie is at most [`MAX_COOKIE`] bytes. Header names are
//! case-insensitive (libtorrent writes `cookie`, BEP 14 `Infohash`), lines
//! may end in CRLF or a bare LF, unknown headers are ignored. The `Host`
//! header is not checked: the group is known from the socket.
//!
//! # Encoding
//! [`encode_announces`] packs infohashes into as few datagrams as fit in
//! [`MAX_PACKET`] bytes each (BEP 14: keep below 1,400 bytes to avoid
//! fragmentation).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The UDP port of BEP 14.
pub const LSD_PORT: u16 = 6771;
/// The IPv4 multicast group of BEP 14.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);
/// The IPv6 multicast group of BEP 14 (site-local scope).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f);

/// Largest datagram [`encode_announces`] writes (BEP 14: 1,400 bytes).
pub const MAX_PACKET: usize = 1400;
/// Largest datagram [`Announce::decode`] reads; longer ones are refused.
pub const MAX_DATAGRAM: usize = 4096;
/// Most header lines in a datagram.
pub const MAX_HEADERS: usize = 64;
/// Most infohashes taken from one datagram.
pub const MAX_INFOHASHES: usize = 48;
/// Longest cookie accepted (and sent).
pub const MAX_COOKIE: usize = 64;

const REQUEST_LINE: &str = "BT-SEARCH * HTTP/1.1";

/// One received or sent announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The sender's listening port (never 0 once decoded).
    pub port: u16,
    /// The swarms it is in (v1 infohashes or truncated v2 ones).
    pub info_hashes: Vec<[u8; 20]>,
    /// Its opaque cookie, when it sent one (printable ASCII, no spaces).
    pub cookie: Option<String>,
}

/// Why a datagram is not an announce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LsdError {
    /// Longer than [`MAX_DATAGRAM`].
    #[error("datagram too large")]
    TooLarge,
    /// Not text, or no `BT-SEARCH * HTTP/1.1` request line.
    #[error("not a BT-SEARCH request")]
    NotSearch,
    /// A line is not `Name: value`.
    #[error("malformed header line")]
    BadHeader,
    /// More than [`MAX_HEADERS`] header lines.
    #[error("too many headers")]
    TooManyHeaders,
    /// No `Port` header, a repeated one, or not a port in 1..=65535.
    #[error("missing or invalid Port header")]
    BadPort,
    /// An `Infohash` value is not 40 hex digits.
    #[error("invalid Infohash header")]
    BadInfohash,
    /// No `Infohash` header.
    #[error("no Infohash header")]
    NoInfohash,
    /// The cookie is too long, repeated, or not printable ASCII.
    #[error("invalid cookie")]
    BadCookie,
}

/// The multicast group a datagram is sent to, for its `Host` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `239.192.152.143:6771`
    V4,
    /// `[ff15::efc0:988f]:6771`
    V6,
}

impl Group {
    fn host(self) -> &'static str {
        match self {
            Group::V4 => "239.192.152.143:6771",
            Group::V6 => "[ff15::efc0:988f]:6771",
        }
    }
}

impl Announce {
    /// Parses one datagram.
    pub fn decode(datagram: &[u8]) -> Result<Announce, LsdError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(LsdError::TooLarge);
        }
        let text = std::str::from_utf8(datagram).map_err(|_| LsdError::NotSearch)?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        if !first.eq_ignore_ascii_case(REQUEST_LINE) {
            return Err(LsdError::NotSearch);
        }
        let mut port: Option<u16> = None;
        let mut info_hashes = Vec::new();
        let mut cookie: Option<String> = None;
        let mut headers = 0usize;
        for line in lines {
            if line.is_empty() {
                break; // end of the head; whatever follows is ignored
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Err(LsdError::TooManyHeaders);
            }
            let (name, value) = line.split_once(':').ok_or(LsdError::BadHeader)?;
            let name = name.trim();
            let value = value.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(LsdError::BadHeader);
            }
            if name.eq_ignore_ascii_case("port") {
                if port.is_some() {
                    return Err(LsdError::BadPort);
                }
                port = Some(parse_port(value)?);
            } else if name.eq_ignore_ascii_case("infohash") {
                let ih = parse_hex20(value).ok_or(LsdError::BadInfohash)?;
                if info_hashes.len() < MAX_INFOHASHES && !info_hashes.contains(&ih) {
                    info_hashes.push(ih);
                }
            } else if name.eq_ignore_ascii_case("cookie") {
                let ok = cookie.is_none()
                    && !value.is_empty()
                    && value.len() <= MAX_COOKIE
                    && value.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(LsdError::BadCookie);
                }
                cookie = Some(value.to_string());
            }
        }
        let port = port.ok_or(LsdError::BadPort)?;
        if info_hashes.is_empty() {
            return Err(LsdError::NoInfohash);
        }
        Ok(Announce {
            port,
            info_hashes,
            cookie,
        })
    }

    /// The datagram for this announce (one datagram, whatever its size: use
    /// [`encode_announces`] to stay under [`MAX_PACKET`]).
    pub fn encode(&self, group: Group) -> Vec<u8> {
        let mut out = head(group, self.port);
        for ih in &self.info_hashes {
            push_infohash(&mut out, ih);
        }
        finish(&mut out, self.cookie.as_deref());
        out
    }
}

/// Datagrams announcing `info_hashes` on `port`, each at most
/// [`MAX_PACKET`] bytes (a cookie longer than [`MAX_COOKIE`] is cut).
pub fn encode_announces(
    group: Group,
    port: u16,
    info_hashes: &[[u8; 20]],
    cookie: Option<&str>,
) -> Vec<Vec<u8>> {
    let cookie = cookie.map(|c| &c[..c.len().min(MAX_COOKIE)]);
    let fixed = head(group, port).len() + tail_len(cookie);
    const PER_HASH: usize = "Infohash: \r\n".len() + 40;
    let per_packet = ((MAX_PACKET - fixed) / PER_HASH).clamp(1, MAX_INFOHASHES);
    info_hashes
        .chunks(per_packet)
        .map(|chunk| {
            let mut out = head(group, port);
            for ih in chunk {
                push_infohash(&mut out, ih);
            }
            finish(&mut out, cookie);
            out
        })
        .collect()
}

fn head(group: Group, port: u16) -> Vec<u8> {
    format!(
        "{REQUEST_LINE}\r\nHost: {}\r\nPort: {port}\r\n",
        group.host()
    )
    .into_bytes()
}

fn push_infohash(out: &mut Vec<u8>, ih: &[u8; 20]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"Infohash: ");
    for b in ih {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.extend_from_slice(b"\r\n");
}

fn tail_len(cookie: Option<&str>) -> usize {
    cookie.map_or(0, |c| "cookie: \r\n".len() + c.len()) + 4
}

fn finish(out: &mut Vec<u8>, cookie: Option<&str>) {
    if let Some(c) = cookie {
        out.extend_from_slice(b"cookie: ");
        out.extend_from_slice(c.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n\r\n");
}

fn parse_port(v: &str) -> Result<u16, LsdError> {
    if v.is_empty() || v.len() > 5 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LsdError::BadPort);
    }
    match v.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(LsdError::BadPort),
    }
}

fn parse_hex20(v: &str) -> Option<[u8; 20]> {
    let b = v.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let nibble = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut out = [0u8; 20];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What libtorrent 2.0 sends (captured on loopback).
    const LIBTORRENT: &[u8] = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 41291\r\nInfohash: ad49379276c01c6098c822d8dfca8ad0ed9d3b21\r\ncookie: 2dc5db63\r\n\r\n\r\n";

    #[test]
    fn decodes_libtorrent() {
        let a = Announce::decode(LIBTORRENT).unwrap();
        assert_eq!(a.port, 41291);
        assert_eq!(
            a.info_hashes,
            vec![parse_hex20("ad49379276c01c6098c822d8dfca8ad0ed9d3b21").unwrap()]
        );
        assert_eq!(a.cookie.as_deref(), Some("2dc5db63"));
    }

    #[test]
    fn golden_encoding() {
        let a = Announce {
            port: 6881,
            info_hashes: vec![[0xab; 20], [0x01; 20]],
            cookie: Some("btl-1f2e".into()),
        };
        let want = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\
Infohash: abababababababababababababababababababab\r\n\
Infohash: 0101010101010101010101010101010101010101\r\n\
cookie: btl-1f2e\r\n\r\n\r\n";
        assert_eq!(String::from_utf8(a.encode(Group::V4)).unwrap(), want);
        let v6 = String::from_utf8(a.encode(Group::V6)).unwrap();
        assert!(v6.contains("\r\nHost: [ff15::efc0:988f]:6771\r\n"));
        assert_eq!(Announce::decode(want.as_bytes()).unwrap(), a);
    }

    #[test]
    fn batches_fit_in_a_packet() {
        let ids: Vec<[u8; 20]> = (0..100u8).map(|i| [i; 20]).collect();
        let cookie = "c".repeat(200);
        let packets = encode_announces(Group::V6, 65535, &ids, Some(&cookie));
        assert!(packets.len() >= 4, "{}", packets.len());
        let mut back = Vec::new();
        for p in &packets {
            assert!(p.len() <= MAX_PACKET, "{}", p.len());
            let a = Announce::decode(p).unwrap();
            assert_eq!(a.port, 65535);
            assert_eq!(a.cookie.as_ref().map(String::len), Some(MAX_COOKIE));
            back.extend(a.info_hashes);
        }
        assert_eq!(back, ids);
        assert!(encode_announces(Group::V4, 1, &[], None).is_empty());
    }

    #[test]
    fn tolerant_of_case_and_bare_newlines() {
        let a = Announce::decode(
            b"bt-search * http/1.1\nhost: x\nPORT:  7\nINFOHASH: ABABABABABABABABABABABABABABABABABABABAB\nX-Other: whatever\n\n",
        )
        .unwrap();
        assert_eq!(a.port, 7);
        assert_eq!(a.info_hashes, vec![[0xab; 20]]);
        assert_eq!(a.cookie, None);
    }

    #[test]
    fn refuses_bad_input() {
        let ih = "Infohash: abababababababababababababababababababab\r\n";
        let cases: &[(&str, LsdError)] = &[
            ("", LsdError::NotSearch),
            ("GET / HTTP/1.1\r\n\r\n", LsdError::NotSearch),
            ("BT-SEARCH * HTTP/1.1\r\n\r\n", LsdError::BadPort),
            (&format!("BT-SEARCH * HTTP/1.1\r\n{ih}\r\n"), LsdError::BadPort),
            ("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n", LsdError::NoInfohash),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n{ih}"), LsdError::BadPort),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\n{ih}"), LsdError::BadPort),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: -1\r\n{ih}"), LsdError::BadPort),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nPort: 2\r\n{ih}"), LsdError::BadPort),
            ("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: abc\r\n", LsdError::BadInfohash),
            (
                "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zzabababababababababababababababababababab\r\n",
                LsdError::BadInfohash,
            ),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n{ih}no colon\r\n"), LsdError::BadHeader),
            (&format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n{ih}cookie: a b\r\n"), LsdError::BadCookie),
            (
                &format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n{ih}cookie: {}\r\n", "x".repeat(65)),
                LsdError::BadCookie,
            ),
            (
                &format!("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n{ih}{}", "X: y\r\n".repeat(70)),
                LsdError::TooManyHeaders,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Announce::decode(input.as_bytes()).as_ref(),
                Err(want),
                "{input:?}"
            );
        }
        assert_eq!(
            Announce::decode(&vec![b'a'; MAX_DATAGRAM + 1]),
            Err(LsdError::TooLarge)
        );
        assert_eq!(Announce::decode(&[0xff, 0xfe]), Err(LsdError::NotSearch));
    }

    #[test]
    fn infohashes_are_capped_and_deduplicated() {
        let announce = |ids: &[u8]| {
            let mut s = String::from("BT-SEARCH * HTTP/1.1\r\nPort: 9\r\n");
            for &i in ids {
                s.push_str(&format!("Infohash: {}\r\n", hex20(&[i; 20])));
            }
            s.push_str("\r\n");
            Announce::decode(s.as_bytes())
        };
        let distinct: Vec<u8> = (0..60).collect();
        let a = announce(&distinct).unwrap();
        assert_eq!(a.info_hashes.len(), MAX_INFOHASHES);
        let twice: Vec<u8> = (0..60).map(|i| i / 2).collect();
        assert_eq!(announce(&twice).unwrap().info_hashes.len(), 30);
        let many: Vec<u8> = (0..70).collect();
        assert_eq!(announce(&many), Err(LsdError::TooManyHeaders));
    }

    fn hex20(b: &[u8; 20]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    proptest::proptest! {
        #[test]
        fn round_trips(port in 1u16.., ids in proptest::collection::vec(proptest::array::uniform20(0u8..), 1..40), cookie in proptest::option::of("[!-~]{1,64}")) {
            let a = Announce { port, info_hashes: ids.clone(), cookie };
            let mut dedup = ids.clone();
            let mut seen = std::collections::HashSet::new();
            dedup.retain(|x| seen.insert(*x));
            let back = Announce::decode(&a.encode(Group::V4)).unwrap();
            proptest::prop_assert_eq!(back.port, port);
            proptest::prop_assert_eq!(back.info_hashes, dedup);
            proptest::prop_assert_eq!(back.cookie, a.cookie);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(0u8.., 0..600)) {
            let _ = Announce::decode(&data);
        }
    }
}
