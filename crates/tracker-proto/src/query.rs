//! Query strings: splitting, percent-decoding and percent-encoding.
//!
//! `+` is kept as a literal byte (RFC 3986 queries; trackers' binary ids
//! are not HTML form data), and every byte outside RFC 3986's unreserved
//! set is escaped when encoding.

/// Splits `a=1&b=2` into `(key, raw_value)` pairs, skipping empty pieces.
pub(crate) fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &p[p.len()..]),
        })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` into exactly `N` bytes; `None` if it is malformed
/// or decodes to another length.
pub(crate) fn decode_fixed<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        if n == N {
            return None;
        }
        let b = raw[i];
        if b == b'%' {
            let hi = hex_val(*raw.get(i + 1)?)?;
            let lo = hex_val(*raw.get(i + 2)?)?;
            out[n] = hi << 4 | lo;
            i += 3;
        } else {
            out[n] = b;
            i += 1;
        }
        n += 1;
    }
    (n == N).then_some(out)
}

/// Percent-decodes `raw` into at most `max` bytes; `None` if malformed or
/// too long.
pub(crate) fn decode_bytes(raw: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len().min(max));
    let mut i = 0;
    while i < raw.len() {
        if out.len() == max {
            return None;
        }
        let b = raw[i];
        if b == b'%' {
            let hi = hex_val(*raw.get(i + 1)?)?;
            let lo = hex_val(*raw.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Percent-decodes `raw` into a string of at most `max` bytes; `None` if
/// malformed, too long or not UTF-8.
pub(crate) fn decode_string(raw: &[u8], max: usize) -> Option<String> {
    String::from_utf8(decode_bytes(raw, max)?).ok()
}

/// Parses an unsigned decimal (digits only, at most 20 of them).
pub(crate) fn decode_u64(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in raw {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Appends `bytes` percent-encoded (unreserved bytes stay as they are).
pub(crate) fn encode_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_strings() {
        assert_eq!(decode_fixed::<3>(b"a%2Bc"), Some(*b"a+c"));
        assert_eq!(decode_fixed::<3>(b"a+c"), Some(*b"a+c"));
        assert_eq!(decode_fixed::<3>(b"a%2"), None);
        assert_eq!(decode_fixed::<3>(b"a%zzc"), None);
        assert_eq!(decode_fixed::<3>(b"abcd"), None);
        assert_eq!(decode_fixed::<3>(b"ab"), None);
        assert_eq!(decode_string(b"x%20y", 8).as_deref(), Some("x y"));
        assert_eq!(decode_string(b"%ff", 8), None);
        assert_eq!(decode_string(b"abcdefghi", 8), None);
        assert_eq!(decode_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(decode_u64(b"18446744073709551616"), None);
        assert_eq!(decode_u64(b"-1"), None);
        assert_eq!(decode_u64(b""), None);
        let mut s = String::new();
        encode_into(&mut s, b"a b~\x00\xff");
        assert_eq!(s, "a%20b~%00%FF");
        let v: Vec<_> = pairs(b"a=1&&b&c=").collect();
        assert_eq!(v, vec![(&b"a"[..], &b"1"[..]), (b"b", b""), (b"c", b"")]);
    }
}
