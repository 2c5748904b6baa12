//! A strict, bounded JSON parser (RFC 8259) restricted to I-JSON (RFC 7493),
//! the input domain of JCS (RFC 8785).
//!
//! # What is accepted
//!
//! - Exactly one JSON value, optionally surrounded by JSON whitespace
//!   (space, tab, LF, CR). No comments, no trailing commas, no BOM.
//! - Strings are valid Unicode: a `\u` escape of a lone surrogate is
//!   refused, and so are raw control characters (`< 0x20`).
//! - Numbers follow the RFC 8259 grammar and are read as IEEE-754 binary64
//!   (correctly rounded); a number that overflows to infinity is refused.
//!   As in ECMAScript, `-0` reads as zero.
//! - Object member names are unique (after unescaping); a duplicate is
//!   refused, as I-JSON requires.
//!
//! # Bounds
//!
//! [`Limits`] caps the input length, the nesting depth, and the number of
//! values, so a hostile input can neither recurse the stack away nor
//! allocate much more than its own size. Nothing here panics on any input.

use std::fmt;

/// A parsed JSON value. Object members keep their input order (the
/// canonical form sorts them; see [`crate::jcs`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as IEEE-754 binary64 (always finite).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: members in input order, names unique.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `name` of an object, if this is an object that has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Removes member `name` from an object and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        match self {
            Value::Object(m) => {
                let i = m.iter().position(|(k, _)| k == name)?;
                Some(m.remove(i).1)
            }
            _ => None,
        }
    }

    /// Sets member `name` of an object (replacing an existing one in
    /// place, or appending). Does nothing if this is not an object.
    pub fn insert(&mut self, name: &str, value: Value) {
        if let Value::Object(m) = self {
            if let Some(slot) = m.iter_mut().find(|(k, _)| k == name) {
                slot.1 = value;
            } else {
                m.push((name.to_string(), value));
            }
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Converts from a `serde_json` value (numbers become binary64, as JCS
    /// reads them; `serde_json` numbers are always finite).
    pub fn from_serde(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_serde).collect()),
            serde_json::Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_serde(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to a `serde_json` value, for typed deserialization. A
    /// number that is an integer of at most 2^53 in magnitude becomes an
    /// integer; any other number a float.
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => {
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if n.fract() == 0.0 && n.abs() <= EXACT {
                    serde_json::Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_serde).collect()),
            Value::Object(o) => serde_json::Value::Object(
                o.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect(),
            ),
        }
    }
}

/// Caps applied while parsing untrusted JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest input, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects (the top level is depth 1).
    pub max_depth: usize,
    /// Most values in the document (every scalar, array and object counts).
    pub max_values: usize,
}

impl Default for Limits {
    /// 1 MiB, depth 32, 100,000 values.
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_values: 100_000,
        }
    }
}

/// Why a JSON text was refused. Offsets are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The input is longer than [`Limits::max_bytes`].
    #[error("JSON text is {len} bytes, more than the {max} byte limit")]
    TooLong {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("JSON nests deeper than {max} levels (at byte {at})")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Where.
        at: usize,
    },
    /// More values than [`Limits::max_values`].
    #[error("JSON has more than {max} values")]
    TooManyValues {
        /// The limit.
        max: usize,
    },
    /// The text is not valid JSON.
    #[error("invalid JSON at byte {at}: {what}")]
    Syntax {
        /// Where.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// An object has the same member name twice (I-JSON forbids it).
    #[error("duplicate member name {name:?} at byte {at}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the second one starts.
        at: usize,
    },
    /// A number too large for binary64.
    #[error("number at byte {at} is out of range for IEEE-754 binary64")]
    NumberOutOfRange {
        /// Where.
        at: usize,
    },
}

/// Parses one JSON document under `limits`.
///
/// # Errors
///
/// A [`JsonError`] saying what was wrong and where.
pub fn parse(input: &[u8], limits: Limits) -> Result<Value, JsonError> {
    if input.len() > limits.max_bytes {
        return Err(JsonError::TooLong {
            len: input.len(),
            max: limits.max_bytes,
        });
    }
    let mut p = Parser {
        s: input,
        i: 0,
        limits,
        values: 0,
    };
    p.ws();
    let v = p.value(1)?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err("trailing characters after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    limits: Limits,
    values: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::Syntax { at: self.i, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, lit: &'static [u8], what: &'static str) -> Result<(), JsonError> {
        if self.s.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn count(&mut self) -> Result<(), JsonError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(JsonError::TooManyValues {
                max: self.limits.max_values,
            });
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.count()?;
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.expect(b"null", "expected null").map(|()| Value::Null),
            Some(b't') => self
                .expect(b"true", "expected true")
                .map(|()| Value::Bool(true)),
            Some(b'f') => self
                .expect(b"false", "expected false")
                .map(|()| Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.limits.max_depth {
            Err(JsonError::TooDeep {
                max: self.limits.max_depth,
                at: self.i,
            })
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1; // '['
        let mut out = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(out));
        }
        loop {
            self.ws();
            out.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(out));
                }
                _ => return Err(self.err("expected , or ] in an array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1; // '{'
        let mut out: Vec<(String, Value)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(out));
        }
        // Where each name starts, for the duplicate check at the end.
        let mut starts: Vec<usize> = Vec::new();
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a member name"));
            }
            starts.push(self.i);
            let name = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected : after a member name"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            out.push((name, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    check_unique(&out, &starts)?;
                    return Ok(Value::Object(out));
                }
                _ => return Err(self.err("expected , or } in an object")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let mut v = 0u16;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err("invalid hex digit in \\u escape")),
            };
            v = (v << 4) | u16::from(d);
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // opening quote
        let start = self.i;
        // The common case: no escapes, one copy.
        while let Some(&c) = self.s.get(self.i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                break;
            }
            self.i += 1;
        }
        if self.peek() == Some(b'"') {
            let text =
                std::str::from_utf8(&self.s[start..self.i]).map_err(|_| JsonError::Syntax {
                    at: start,
                    what: "string is not valid UTF-8",
                })?;
            self.i += 1;
            return Ok(text.to_owned());
        }
        let mut out: Vec<u8> = self.s[start..self.i].to_vec();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| JsonError::Syntax {
                        at: start,
                        what: "string is not valid UTF-8",
                    });
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.i -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(c) if c < 0x20 => return Err(self.err("control character in a string")),
                Some(_) => {
                    // A run of plain bytes.
                    let run = self.i;
                    while let Some(&c) = self.s.get(self.i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.i += 1;
                    }
                    out.extend_from_slice(&self.s[run..self.i]);
                }
            }
        }
    }

    /// After `\u`: one code point, from one escape or a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        let cp = match hi {
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(self.err("lone high surrogate in \\u escape"));
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(self.err("high surrogate not followed by a low surrogate"));
                }
                0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("lone low surrogate in \\u escape")),
            _ => u32::from(hi),
        };
        char::from_u32(cp).ok_or_else(|| self.err("invalid code point"))
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("expected a digit after the decimal point"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("expected a digit in the exponent"));
            }
            self.digits();
        }
        // The grammar above admits only ASCII, so this cannot fail; Rust's
        // float parser is correctly rounded.
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| JsonError::Syntax {
            at: start,
            what: "number",
        })?;
        let v: f64 = text.parse().map_err(|_| JsonError::Syntax {
            at: start,
            what: "number",
        })?;
        if !v.is_finite() {
            return Err(JsonError::NumberOutOfRange { at: start });
        }
        // -0 is 0 in JCS's model (ECMAScript prints both as "0").
        Ok(Value::Number(if v == 0.0 { 0.0 } else { v }))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }
}

/// Indented JSON (two spaces, members in their order, strings and numbers
/// as in the canonical form), for files people read. `None` if a number is
/// not finite.
pub fn to_pretty(value: &Value) -> Option<String> {
    let mut out = String::new();
    pretty(&mut out, value, 0)?;
    Some(out)
}

fn pretty(out: &mut String, value: &Value, indent: usize) -> Option<()> {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', 2 * n));
    match value {
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, v) in a.iter().enumerate() {
                pad(out, indent + 1);
                pretty(out, v, indent + 1)?;
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(m) if !m.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                pad(out, indent + 1);
                crate::jcs::write_string(out, k);
                out.push_str(": ");
                pretty(out, v, indent + 1)?;
                out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        other => crate::jcs::write_value(out, other).ok()?,
    }
    Some(())
}

/// Refuses an object whose member names repeat (I-JSON); `starts` are
/// where the names begin, for the error. Small objects compare pairwise;
/// larger ones sort their names, so the cost stays O(n log n) without
/// copying any name.
fn check_unique(members: &[(String, Value)], starts: &[usize]) -> Result<(), JsonError> {
    let dup = |i: usize, j: usize| {
        let later = i.max(j);
        Err(JsonError::DuplicateName {
            name: members[later].0.clone(),
            at: starts.get(later).copied().unwrap_or(0),
        })
    };
    if members.len() <= 16 {
        for i in 1..members.len() {
            for j in 0..i {
                if members[i].0 == members[j].0 {
                    return dup(i, j);
                }
            }
        }
        return Ok(());
    }
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_unstable_by(|&a, &b| members[a].0.cmp(&members[b].0));
    for w in order.windows(2) {
        if members[w[0]].0 == members[w[1]].0 {
            return dup(w[0], w[1]);
        }
    }
    Ok(())
}

impl fmt::Display for Value {
    /// The canonical (JCS) form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::jcs::write_value(&mut s, self).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Value, JsonError> {
        parse(s.as_bytes(), Limits::default())
    }

    #[test]
    fn scalars_and_structures() {
        assert_eq!(p(" null ").unwrap(), Value::Null);
        assert_eq!(p("true").unwrap(), Value::Bool(true));
        assert_eq!(p("-0").unwrap(), Value::Number(0.0));
        assert_eq!(p("1.5e3").unwrap(), Value::Number(1500.0));
        assert_eq!(
            p(r#"{"a":[1,"x"],"b":{}}"#).unwrap(),
            Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![Value::Number(1.0), Value::String("x".into())])
                ),
                ("b".into(), Value::Object(vec![])),
            ])
        );
        assert_eq!(
            p(r#""\ud83d\ude00\u00e9\n""#).unwrap(),
            Value::String("😀é\n".into())
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "nul",
            "01",
            "1.",
            "1e",
            "-",
            "+1",
            ".5",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "\"\\x\"",
            "\"\u{1}\"",
            "\"abc",
            "1 2",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "NaN",
            "Infinity",
            "\u{feff}1",
            "[1]//",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(
            p(r#"{"a":1,"\u0061":2}"#),
            Err(JsonError::DuplicateName { .. })
        ));
        assert!(matches!(
            p("1e400"),
            Err(JsonError::NumberOutOfRange { .. })
        ));
    }

    #[test]
    fn limits_hold() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(matches!(p(&deep), Err(JsonError::TooDeep { .. })));
        let lim = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            parse(b"[1,2,3,4,5,6]", lim),
            Err(JsonError::TooLong { .. })
        ));
        let lim = Limits {
            max_values: 3,
            ..Limits::default()
        };
        assert!(matches!(
            parse(b"[1,2,3]", lim),
            Err(JsonError::TooManyValues { .. })
        ));
        assert!(parse(b"[1,2]", lim).is_ok());
        // Invalid UTF-8 inside a string.
        assert!(parse(b"\"\xff\"", Limits::default()).is_err());
    }
}
