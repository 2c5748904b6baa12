//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! The canonical form of a JSON value is its serialization with:
//!
//! - **no whitespace** between tokens;
//! - **literals** `null`, `true`, `false` as is;
//! - **strings** as ECMAScript's `JSON.stringify` writes them: `"` and `\`
//!   escaped as `\"` and `\\`; U+0008, U+0009, U+000A, U+000C, U+000D as
//!   `\b`, `\t`, `\n`, `\f`, `\r`; every other control character below
//!   U+0020 as `\u00xx` with lowercase hex; everything else (including
//!   `/`, U+007F and all non-ASCII) as raw UTF-8. No Unicode normalization.
//! - **numbers** as ECMAScript's `Number.prototype.toString` writes the
//!   IEEE-754 binary64 value: the shortest digit string that reads back as
//!   the same double (the closest one if there are several), in plain
//!   notation for decimal exponents from -7 to 20 and `d.ddde±x` otherwise;
//!   `-0` is `0`; NaN and infinities are errors. See [`format_number`].
//! - **object members sorted** by their names compared as arrays of UTF-16
//!   code units (not UTF-8 bytes, not by locale); arrays keep their order.
//!
//! The input domain is I-JSON; [`crate::json::parse`] enforces it (unique
//! member names, valid Unicode, finite binary64 numbers).

use crate::json::{self, JsonError, Limits, Value};

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// NaN or an infinity: not representable in JSON.
    #[error("the number {0} has no JSON form (NaN and infinities are not allowed)")]
    NonFinite(String),
    /// The JSON text could not be parsed.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// A value could not be serialized to JSON.
    #[error("cannot serialize to JSON: {0}")]
    Serialize(String),
}

/// The canonical form of `value`, as UTF-8 bytes.
///
/// # Errors
///
/// [`JcsError::NonFinite`] if the value holds a NaN or infinite number.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut s = String::new();
    write_value(&mut s, value)?;
    Ok(s.into_bytes())
}

/// Parses a JSON text under `limits` and returns its canonical form.
///
/// # Errors
///
/// A [`JcsError::Json`] if the text is not I-JSON within the limits.
pub fn canonicalize_text(text: &[u8], limits: Limits) -> Result<Vec<u8>, JcsError> {
    canonicalize(&json::parse(text, limits)?)
}

/// The canonical form of anything `serde` can serialize (through
/// `serde_json`). Numbers are read as binary64, as JCS requires.
///
/// # Errors
///
/// [`JcsError::Serialize`] if `serde_json` cannot represent the value
/// (for example a map with non-string keys).
pub fn canonicalize_serde<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, JcsError> {
    let v = serde_json::to_value(value).map_err(|e| JcsError::Serialize(e.to_string()))?;
    canonicalize(&Value::from_serde(&v))
}

/// Appends the canonical form of `value` to `out`.
///
/// # Errors
///
/// [`JcsError::NonFinite`] for NaN or an infinity anywhere in `value`.
pub fn write_value(out: &mut String, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            out.push_str(&format_number(*n).ok_or_else(|| JcsError::NonFinite(n.to_string()))?)
        }
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            write_object(out, members.iter().map(|(k, v)| (k.as_str(), v)).collect())?
        }
    }
    Ok(())
}

/// Appends the canonical form of an object given as its members (names
/// must be unique).
///
/// # Errors
///
/// [`JcsError::NonFinite`] for NaN or an infinity anywhere in a value.
pub fn write_object(out: &mut String, mut members: Vec<(&str, &Value)>) -> Result<(), JcsError> {
    members.sort_by(|a, b| cmp_utf16(a.0, b.0));
    out.push('{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, v)?;
    }
    out.push('}');
    Ok(())
}

/// Compares two strings as sequences of UTF-16 code units (the JCS member
/// order). Equal to byte order except that code points U+E000..U+FFFF sort
/// after supplementary characters (whose surrogates are 0xD800..0xDFFF).
pub fn cmp_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Appends a string in its canonical JSON form (with the quotes).
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    // Every character that is escaped is ASCII, so scanning bytes is
    // enough, and slicing at an escaped byte is always a char boundary.
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Formats a binary64 number as ECMAScript's `Number.prototype.toString`
/// does (ECMA-262, Number::toString), which is what JCS requires.
/// `None` for NaN and infinities.
///
/// Let the shortest decimal that reads back as `v` be `s × 10^(n−k)`, with
/// `s` of `k` digits. Then, for `v > 0`:
///
/// | condition | form | example |
/// |---|---|---|
/// | `k ≤ n ≤ 21` | the digits, then `n−k` zeros | `295147905179352830000` |
/// | `0 < n ≤ 21` | digits with a point after `n` of them | `333333333.3333333` |
/// | `−6 < n ≤ 0` | `0.`, `−n` zeros, the digits | `0.000001` |
/// | otherwise | `d[.ddd]e±(n−1)` | `1e+21`, `9.999999999999997e-7` |
///
/// Negative numbers get a `-`; both zeros are `0`.
pub fn format_number(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    if v == 0.0 {
        return Some("0".to_string());
    }
    // Integers below 2^53 are their own shortest digits, in plain form.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        return Some((v as i64).to_string());
    }
    let mut out = String::with_capacity(26);
    if v < 0.0 {
        out.push('-');
    }
    let (digits, exp) = shortest_digits(v.abs())?;
    let k = i32::try_from(digits.len()).ok()?;
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
    Some(out)
}

/// The shortest decimal digits `s` (no leading or trailing zeros) and
/// exponent `e` with `v = s[0].s[1..] × 10^e` that read back as `v > 0`,
/// chosen as ECMA-262 requires: fewest digits, then closest to `v`, then
/// an even last digit.
fn shortest_digits(v: f64) -> Option<(String, i32)> {
    // Rust's `{:e}` without a precision writes a shortest digit string that
    // round-trips, but breaks an exact tie between two such strings upward
    // (1424953923781206.25 prints as ...206.3), where ECMAScript takes
    // the even one (...206.2). So look at both neighbours.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // Consecutive candidates with as many digits, lowest first; all read
    // back as `v`, so they are equally short.
    let candidates: Vec<String> = [decrement(&digits), Some(digits.clone()), increment(&digits)]
        .into_iter()
        .flatten()
        .filter(|d| reads_back(d, exp, v))
        .collect();
    let mut best = digits;
    if candidates.len() > 1 {
        let (exact, exact_exp) = exact_digits(v)?;
        best = candidates[0].clone();
        for next in &candidates[1..] {
            // `best` and `next` are adjacent: `next` is closer if `v` lies
            // above their midpoint, and wins an exact tie if it is even.
            let mid = format!("{best}5");
            let next_wins = match cmp_decimal(&exact, exact_exp, &mid, exp) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => next.bytes().last().is_some_and(|d| d % 2 == 0),
            };
            if !next_wins {
                break;
            }
            best = next.clone();
        }
    }
    Some((best, exp))
}

/// Whether `digits` × 10^(exp − len + 1) parses back to exactly `v`.
fn reads_back(digits: &str, exp: i32, v: f64) -> bool {
    let (first, rest) = digits.split_at(1);
    format!("{first}.{rest}e{exp}").parse::<f64>() == Ok(v)
}

/// The digit string minus one in its last place, if that keeps its length
/// and leaves no leading zero.
fn decrement(d: &str) -> Option<String> {
    let mut b = d.as_bytes().to_vec();
    for x in b.iter_mut().rev() {
        if *x == b'0' {
            *x = b'9';
        } else {
            *x -= 1;
            break;
        }
    }
    (b.first() != Some(&b'0') && b.last() != Some(&b'0')).then(|| String::from_utf8(b).ok())?
}

/// The digit string plus one in its last place, if that keeps its length.
fn increment(d: &str) -> Option<String> {
    let mut b = d.as_bytes().to_vec();
    for x in b.iter_mut().rev() {
        if *x == b'9' {
            *x = b'0';
        } else {
            *x += 1;
            return (b.last() != Some(&b'0')).then(|| String::from_utf8(b).ok())?;
        }
    }
    None
}

/// The exact decimal expansion of `v > 0` as (significant digits without
/// trailing zeros, exponent of the first digit). A binary64 value has at
/// most 767 significant decimal digits, so 800 are exact.
fn exact_digits(v: f64) -> Option<(String, i32)> {
    let sci = format!("{v:.800e}");
    let (mantissa, exp) = sci.split_once('e')?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    Some((digits.trim_end_matches('0').to_string(), exp.parse().ok()?))
}

/// Compares `a[0].a[1..] × 10^ea` with `b[0].b[1..] × 10^eb` (digit strings
/// with a non-zero first digit).
fn cmp_decimal(a: &str, ea: i32, b: &str, eb: i32) -> std::cmp::Ordering {
    ea.cmp(&eb).then_with(|| {
        let n = a.len().max(b.len());
        let pad = |s: &str| format!("{s:0<n$}");
        pad(a).cmp(&pad(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_forms() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (123e-9, "1.23e-7"),
            (1.5e-6, "0.0000015"),
            (0.1, "0.1"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1e300, "1e+300"),
        ];
        for (v, want) in cases {
            assert_eq!(format_number(*v).unwrap(), *want, "{v}");
        }
        assert_eq!(format_number(f64::NAN), None);
        assert_eq!(format_number(f64::NEG_INFINITY), None);
    }

    #[test]
    fn escapes() {
        let mut s = String::new();
        write_string(&mut s, "a\"b\\c/\u{1}\u{1f}\u{7f}\u{80}\u{8}\t\n\u{c}\r€");
        assert_eq!(
            s,
            "\"a\\\"b\\\\c/\\u0001\\u001f\u{7f}\u{80}\\b\\t\\n\\f\\r€\""
        );
    }

    #[test]
    fn utf16_order_differs_from_bytes() {
        use std::cmp::Ordering;
        // U+FB33 (one UTF-16 unit 0xFB33) sorts after U+1F600 (0xD83D...).
        assert_eq!(cmp_utf16("\u{fb33}", "\u{1f600}"), Ordering::Greater);
        assert_eq!("\u{fb33}".cmp("\u{1f600}"), Ordering::Less);
        assert_eq!(cmp_utf16("a", "b"), Ordering::Less);
        assert_eq!(cmp_utf16("", "a"), Ordering::Less);
    }
}
