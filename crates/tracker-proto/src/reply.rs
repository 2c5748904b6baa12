//! HTTP/1.1 response framing for the tracker client: the status line, the
//! headers, and a body delimited by `Content-Length`, by
//! `Transfer-Encoding: chunked` (RFC 9112 §7.1), or by the end of the
//! connection.
//!
//! [`parse_reply`] is called with everything received so far; it answers
//! `Ok(None)` until the reply is complete, then the status and the decoded
//! body. No content coding is supported (the client asks for `identity`):
//! a `Transfer-Encoding` other than `chunked` is refused.
//!
//! # Bounded and strict
//! - The head is at most [`ReplyLimits::max_head`] bytes and
//!   [`ReplyLimits::max_headers`] lines; the body, however framed, at most
//!   [`ReplyLimits::max_body`] bytes, checked before anything is copied.
//! - A chunk size is 1 to 8 hex digits and nothing else (no sign, no
//!   `0x`, no spaces); extensions after `;` are skipped; every line ends in
//!   CRLF; chunk data is followed by CRLF. The trailer section is bounded
//!   like the head and ignored.
//! - Two different `Content-Length`s, or a `Content-Length` beside
//!   `Transfer-Encoding`, are refused (a sign of request smuggling).

/// Caps on what a reply may hold.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    /// Longest head (status line and headers, with the blank line).
    pub max_head: usize,
    /// Most header lines.
    pub max_headers: usize,
    /// Longest decoded body.
    pub max_body: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_head: 16 * 1024,
            max_headers: 64,
            max_body: 1 << 20,
        }
    }
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Bytes of the input the reply took (a server that sends more after
    /// it is misbehaving; the rest is ignored).
    pub len: usize,
}

/// Why a reply cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The head is longer than the limit.
    #[error("reply head too large")]
    HeadTooLarge,
    /// Not `HTTP/1.x NNN reason`.
    #[error("bad status line")]
    BadStatus,
    /// A header line is malformed, or there are too many.
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// The body is longer than the limit.
    #[error("reply body too large")]
    BodyTooLarge,
    /// A framing error in a chunked body.
    #[error("bad chunked encoding: {0}")]
    BadChunk(&'static str),
    /// A transfer coding other than `chunked`.
    #[error("unsupported transfer encoding `{0}`")]
    Unsupported(String),
    /// The connection ended before the reply was complete.
    #[error("reply cut short")]
    Truncated,
}

/// How the body of a reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses the reply at the start of `buf`. `eof`: the server closed the
/// connection after these bytes. `Ok(None)`: more bytes are needed.
pub fn parse_reply(
    buf: &[u8],
    eof: bool,
    limits: &ReplyLimits,
) -> Result<Option<Reply>, ReplyError> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let Some(head_len) = find(window, b"\r\n\r\n").map(|i| i + 4) else {
        return if buf.len() >= limits.max_head {
            Err(ReplyError::HeadTooLarge)
        } else if eof {
            Err(ReplyError::Truncated)
        } else {
            Ok(None)
        };
    };
    let head =
        std::str::from_utf8(&buf[..head_len - 4]).map_err(|_| ReplyError::BadHeader("not text"))?;
    let mut lines = head.split("\r\n");
    let status = parse_status(lines.next().unwrap_or_default())?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for (i, line) in lines.enumerate() {
        if i >= limits.max_headers {
            return Err(ReplyError::BadHeader("too many headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(ReplyError::BadHeader("no colon"))?;
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(ReplyError::BadHeader("bad name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_decimal(value).ok_or(ReplyError::BadHeader("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ReplyError::BadHeader("conflicting Content-Length"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case("chunked") {
                return Err(ReplyError::Unsupported(value.chars().take(40).collect()));
            }
            chunked = true;
        }
    }
    let framing = match (length, chunked) {
        (Some(_), true) => {
            return Err(ReplyError::BadHeader(
                "both Content-Length and Transfer-Encoding",
            ))
        }
        _ if status == 204 || status == 304 => Framing::Length(0),
        (Some(n), false) => Framing::Length(n),
        (None, true) => Framing::Chunked,
        (None, false) => Framing::UntilClose,
    };
    let rest = &buf[head_len..];
    let (body, used) = match framing {
        Framing::Length(n) => {
            if n > limits.max_body {
                return Err(ReplyError::BodyTooLarge);
            }
            if rest.len() < n {
                return if eof {
                    Err(ReplyError::Truncated)
                } else {
                    Ok(None)
                };
            }
            (rest[..n].to_vec(), n)
        }
        Framing::UntilClose => {
            if rest.len() > limits.max_body {
                return Err(ReplyError::BodyTooLarge);
            }
            if !eof {
                return Ok(None);
            }
            (rest.to_vec(), rest.len())
        }
        Framing::Chunked => match dechunk(rest, limits)? {
            Some(x) => x,
            None if eof => return Err(ReplyError::Truncated),
            None => return Ok(None),
        },
    };
    Ok(Some(Reply {
        status,
        body,
        len: head_len + used,
    }))
}

fn parse_status(line: &str) -> Result<u16, ReplyError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !(version == "HTTP/1.1" || version == "HTTP/1.0") {
        return Err(ReplyError::BadStatus);
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReplyError::BadStatus);
    }
    let code: u16 = code.parse().map_err(|_| ReplyError::BadStatus)?;
    // Interim (1xx) replies are not expected for a GET without
    // `Expect`; they are refused rather than skipped.
    if !(200..=599).contains(&code) {
        return Err(ReplyError::BadStatus);
    }
    Ok(code)
}

/// RFC 9110 token characters (header names, chunk extension names).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_decimal(v: &str) -> Option<usize> {
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Longest chunk-size line (size, extensions and CRLF).
const MAX_CHUNK_LINE: usize = 1024;

/// Decodes a chunked body at the start of `b`: `Ok(None)` while
/// incomplete, else the body and the bytes it took. The sizes are walked
/// first, and the data copied once the whole body is here.
fn dechunk(b: &[u8], limits: &ReplyLimits) -> Result<Option<(Vec<u8>, usize)>, ReplyError> {
    let mut pos = 0;
    let mut total = 0usize;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    loop {
        let window = &b[pos..b.len().min(pos + MAX_CHUNK_LINE)];
        let Some(eol) = find(window, b"\r\n") else {
            return if window.len() >= MAX_CHUNK_LINE {
                Err(ReplyError::BadChunk("chunk-size line too long"))
            } else {
                Ok(None)
            };
        };
        let size = parse_chunk_line(&window[..eol])?;
        pos += eol + 2;
        if size == 0 {
            break;
        }
        total = total
            .checked_add(size)
            .filter(|&t| t <= limits.max_body)
            .ok_or(ReplyError::BodyTooLarge)?;
        if b.len() < pos + size + 2 {
            return Ok(None);
        }
        if &b[pos + size..pos + size + 2] != b"\r\n" {
            return Err(ReplyError::BadChunk("no CRLF after chunk data"));
        }
        spans.push((pos, size));
        pos += size + 2;
    }
    // Trailer fields, then the final CRLF.
    let mut trailer = 0usize;
    loop {
        let window = &b[pos..];
        let Some(eol) = find(&window[..window.len().min(limits.max_head)], b"\r\n") else {
            return if window.len() >= limits.max_head {
                Err(ReplyError::BadChunk("trailer too large"))
            } else {
                Ok(None)
            };
        };
        if eol == 0 {
            pos += 2;
            break;
        }
        trailer += eol + 2;
        if trailer > limits.max_head {
            return Err(ReplyError::BadChunk("trailer too large"));
        }
        if !window[..eol].contains(&b':') {
            return Err(ReplyError::BadChunk("bad trailer field"));
        }
        pos += eol + 2;
    }
    let mut body = Vec::with_capacity(total);
    for (start, len) in spans {
        body.extend_from_slice(&b[start..start + len]);
    }
    Ok(Some((body, pos)))
}

/// `1*8HEXDIG *( ";" ext )`: the size; extensions are checked loosely
/// (printable, no CR/LF) and ignored.
fn parse_chunk_line(line: &[u8]) -> Result<usize, ReplyError> {
    let (size, ext) = match line.iter().position(|&c| c == b';') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    if size.is_empty() || size.len() > 8 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(ReplyError::BadChunk("bad chunk size"));
    }
    if let Some(ext) = ext {
        if !ext.iter().all(|&c| c == b'\t' || (0x20..0x7f).contains(&c)) {
            return Err(ReplyError::BadChunk("bad chunk extension"));
        }
    }
    let text = std::str::from_utf8(size).map_err(|_| ReplyError::BadChunk("bad chunk size"))?;
    usize::from_str_radix(text, 16).map_err(|_| ReplyError::BadChunk("bad chunk size"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(b: &[u8], eof: bool) -> Result<Option<Reply>, ReplyError> {
        parse_reply(b, eof, &ReplyLimits::default())
    }

    #[test]
    fn content_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA";
        let got = parse(r, false).unwrap().unwrap();
        assert_eq!((got.status, &got.body[..], got.len), (200, &b"abc"[..], 41));
        assert_eq!(parse(&r[..40], false), Ok(None));
        assert_eq!(parse(&r[..40], true), Err(ReplyError::Truncated));
        let same_twice =
            b"HTTP/1.0 404 Not Found\r\ncontent-length: 1\r\nContent-Length:1\r\n\r\nx";
        assert_eq!(parse(same_twice, false).unwrap().unwrap().status, 404);
    }

    #[test]
    fn until_close() {
        let r = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nd8:intervali1ee";
        assert_eq!(parse(r, false), Ok(None));
        assert_eq!(parse(r, true).unwrap().unwrap().body, b"d8:intervali1ee");
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n", true),
            Err(ReplyError::Truncated)
        );
    }

    #[test]
    fn chunked() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
4\r\nd8:i\r\nB;name=value\r\nntervali60e\r\n1\r\ne\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let got = parse(r, false).unwrap().unwrap();
        assert_eq!(got.body, b"d8:intervali60ee");
        assert_eq!(got.len, r.len());
        // Every proper prefix is incomplete, never an error.
        for n in 0..r.len() {
            assert_eq!(parse(&r[..n], false), Ok(None), "prefix {n}");
            assert_eq!(
                parse(&r[..n], true),
                Err(ReplyError::Truncated),
                "prefix {n}"
            );
        }
        let upper =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(parse(upper, false).unwrap().unwrap().body, b"0123456789");
    }

    #[test]
    fn strict_chunk_framing() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let bad: &[(&str, ReplyError)] = &[
            ("x\r\n", ReplyError::BadChunk("bad chunk size")),
            ("\r\n", ReplyError::BadChunk("bad chunk size")),
            (
                " 4\r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk size"),
            ),
            (
                "4 \r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk size"),
            ),
            (
                "0x4\r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk size"),
            ),
            (
                "-4\r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk size"),
            ),
            (
                "+4\r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk size"),
            ),
            ("123456789\r\n", ReplyError::BadChunk("bad chunk size")),
            (
                "4\r\nabcdXY0\r\n\r\n",
                ReplyError::BadChunk("no CRLF after chunk data"),
            ),
            (
                "4;\x01\r\nabcd\r\n0\r\n\r\n",
                ReplyError::BadChunk("bad chunk extension"),
            ),
            (
                "0\r\nno colon\r\n\r\n",
                ReplyError::BadChunk("bad trailer field"),
            ),
            ("100001\r\n", ReplyError::BodyTooLarge),
        ];
        for (body, want) in bad {
            let r = format!("{head}{body}");
            assert_eq!(parse(r.as_bytes(), false).as_ref(), Err(want), "{body:?}");
        }
        let long_line = format!("{head}1;{}", "a".repeat(2000));
        assert_eq!(
            parse(long_line.as_bytes(), false),
            Err(ReplyError::BadChunk("chunk-size line too long"))
        );
        // Chunks that add up past the cap are refused before any copy.
        let mut many = String::from(head);
        for _ in 0..20 {
            many.push_str("10000\r\n");
            many.push_str(&"z".repeat(0x10000));
            many.push_str("\r\n");
        }
        assert_eq!(parse(many.as_bytes(), false), Err(ReplyError::BodyTooLarge));
    }

    #[test]
    fn refuses_bad_heads() {
        let cases: &[(&[u8], ReplyError)] = &[
            (b"HTTP/2 200 OK\r\n\r\n", ReplyError::BadStatus),
            (b"HTTP/1.1 20 OK\r\n\r\n", ReplyError::BadStatus),
            (b"HTTP/1.1 100 Continue\r\n\r\n", ReplyError::BadStatus),
            (b"SIP/2.0 200 OK\r\n\r\n", ReplyError::BadStatus),
            (b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", ReplyError::BadHeader("no colon")),
            (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", ReplyError::BadHeader("bad name")),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ReplyError::BadHeader("conflicting Content-Length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ReplyError::BadHeader("bad Content-Length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                ReplyError::BadHeader("both Content-Length and Transfer-Encoding"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                ReplyError::Unsupported("gzip, chunked".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                ReplyError::Unsupported("chunked".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
                ReplyError::BodyTooLarge,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input, false).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let huge = vec![b'a'; 20_000];
        assert_eq!(parse(&huge, false), Err(ReplyError::HeadTooLarge));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        many.extend(b"X: y\r\n".repeat(65));
        many.extend(b"\r\n");
        assert_eq!(
            parse(&many, false),
            Err(ReplyError::BadHeader("too many headers"))
        );
        assert_eq!(
            parse(b"HTTP/1.1 204 No Content\r\n\r\n", false)
                .unwrap()
                .unwrap()
                .body,
            b""
        );
    }

    proptest::proptest! {
        /// Any body, cut into any chunks, comes back whole.
        #[test]
        fn chunked_round_trip(body in proptest::collection::vec(0u8.., 0..3000), cuts in proptest::collection::vec(1usize..700, 0..10)) {
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let mut rest = &body[..];
            for c in cuts {
                if rest.is_empty() { break; }
                let n = c.min(rest.len());
                r.extend(format!("{n:x}\r\n").as_bytes());
                r.extend(&rest[..n]);
                r.extend(b"\r\n");
                rest = &rest[n..];
            }
            if !rest.is_empty() {
                r.extend(format!("{:X}\r\n", rest.len()).as_bytes());
                r.extend(rest);
                r.extend(b"\r\n");
            }
            r.extend(b"0\r\n\r\n");
            let got = parse(&r, false).unwrap().unwrap();
            proptest::prop_assert_eq!(got.body, body);
            proptest::prop_assert_eq!(got.len, r.len());
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(0u8.., 0..400), eof: bool) {
            let _ = parse(&data, eof);
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            r.extend(&data);
            let _ = parse(&r, eof);
        }
    }
}
