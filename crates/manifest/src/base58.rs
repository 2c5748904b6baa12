//! Base58 with the Bitcoin alphabet (`base58btc`), and the multibase form
//! that prefixes it with `z`.
//!
//! The encoding treats the bytes as one big-endian number written in base
//! 58 with the alphabet `123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz`;
//! every leading zero byte becomes one leading `1`. The quadratic
//! conversion is fine for the short values used here (keys, signatures),
//! and [`decode`] refuses inputs longer than a caller-given bound.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Why a base58 string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base58Error {
    /// A character outside the base58btc alphabet.
    #[error("invalid base58 character {0:?}")]
    BadChar(char),
    /// Longer than the caller allowed.
    #[error("base58 text longer than {0} characters")]
    TooLong(usize),
    /// A multibase string that does not start with `z` (base58btc).
    #[error("not multibase base58btc (it must start with 'z')")]
    NotBase58Btc,
}

/// Encodes bytes as base58btc (no multibase prefix).
pub fn encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // The number in little-endian limbs of base 58^5 (< 2^32), fed one
    // byte at a time.
    const BIG: u64 = 58u64.pow(5);
    let mut limbs: Vec<u32> = Vec::with_capacity(bytes.len() / 3 + 1);
    for &b in &bytes[zeros..] {
        let mut carry = u64::from(b);
        for l in limbs.iter_mut() {
            carry += u64::from(*l) << 8;
            *l = (carry % BIG) as u32;
            carry /= BIG;
        }
        while carry > 0 {
            limbs.push((carry % BIG) as u32);
            carry /= BIG;
        }
    }
    // Each limb is five base-58 digits (little-endian); drop the leading
    // zero digits of the top limb.
    let mut digits: Vec<u8> = Vec::with_capacity(limbs.len() * 5);
    for &l in &limbs {
        let mut v = l;
        for _ in 0..5 {
            digits.push((v % 58) as u8);
            v /= 58;
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|&d| char::from(ALPHABET[usize::from(d)])),
    );
    out
}

/// The value of each ASCII byte in the alphabet, or 0xff.
const fn decode_table() -> [u8; 128] {
    let mut t = [0xffu8; 128];
    let mut i = 0;
    while i < 58 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}
const DECODE: [u8; 128] = decode_table();

/// Decodes base58btc text (no multibase prefix) of at most `max_chars`
/// characters.
///
/// # Errors
///
/// [`Base58Error::TooLong`] or [`Base58Error::BadChar`].
pub fn decode(text: &str, max_chars: usize) -> Result<Vec<u8>, Base58Error> {
    if text.len() > max_chars {
        return Err(Base58Error::TooLong(max_chars));
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    // The number in little-endian 32-bit limbs.
    let mut limbs: Vec<u32> = Vec::with_capacity(text.len() / 5 + 1);
    for c in text.chars().skip(zeros) {
        let v = u8::try_from(c)
            .ok()
            .and_then(|b| DECODE.get(usize::from(b)).copied())
            .filter(|&v| v != 0xff)
            .ok_or(Base58Error::BadChar(c))?;
        let mut carry = u64::from(v);
        for l in limbs.iter_mut() {
            carry += u64::from(*l) * 58;
            *l = carry as u32;
            carry >>= 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut be: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let lead = be.iter().take_while(|&&b| b == 0).count();
    be.drain(..lead);
    let mut out = vec![0u8; zeros];
    out.extend_from_slice(&be);
    Ok(out)
}

/// Multibase base58btc: `z` followed by [`encode`].
pub fn multibase_encode(bytes: &[u8]) -> String {
    let mut s = String::from("z");
    s.push_str(&encode(bytes));
    s
}

/// Decodes multibase base58btc (`z...`) of at most `max_chars` characters
/// after the prefix.
///
/// # Errors
///
/// [`Base58Error::NotBase58Btc`] without the `z` prefix, else as [`decode`].
pub fn multibase_decode(text: &str, max_chars: usize) -> Result<Vec<u8>, Base58Error> {
    let rest = text.strip_prefix('z').ok_or(Base58Error::NotBase58Btc)?;
    decode(rest, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(&[0]), "1");
        assert_eq!(encode(&[0, 0, 1]), "112");
        assert_eq!(encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(decode("2NEpo7TZRRrLZSi2U", 100).unwrap(), b"Hello World!");
        assert_eq!(decode("112", 100).unwrap(), vec![0, 0, 1]);
        assert_eq!(decode("0", 100), Err(Base58Error::BadChar('0')));
        assert_eq!(decode("l", 100), Err(Base58Error::BadChar('l')));
        assert_eq!(decode("é", 100), Err(Base58Error::BadChar('é')));
        assert_eq!(decode("1111", 3), Err(Base58Error::TooLong(3)));
        assert_eq!(multibase_decode("f00", 10), Err(Base58Error::NotBase58Btc));
    }

    /// The textbook conversion, one byte limb at a time.
    fn reference_encode(bytes: &[u8]) -> String {
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        let mut digits: Vec<u8> = Vec::new();
        for &b in &bytes[zeros..] {
            let mut carry = u32::from(b);
            for d in digits.iter_mut() {
                carry += u32::from(*d) << 8;
                *d = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let mut out = "1".repeat(zeros);
        out.extend(
            digits
                .iter()
                .rev()
                .map(|&d| char::from(ALPHABET[usize::from(d)])),
        );
        out
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let s = encode(&bytes);
            prop_assert_eq!(&s, &reference_encode(&bytes));
            prop_assert_eq!(decode(&s, 200).unwrap(), bytes);
        }

        #[test]
        fn decode_is_canonical(text in "[1-9A-HJ-NP-Za-km-z]{0,60}") {
            // Every alphabet string decodes, and encodes back to itself.
            let b = decode(&text, 100).unwrap();
            prop_assert_eq!(encode(&b), text);
        }
    }
}
