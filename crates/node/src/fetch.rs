//! Fetching a `.torrent` by `http://` URL (adding by URL): a small,
//! bounded HTTP/1.1 GET. No TLS (`https://` is refused with a message), at
//! most [`MAX_REDIRECTS`] redirects, [`FETCH_TIMEOUT`] in all, and a body of
//! at most [`crate::MAX_TORRENT_BYTES`].

use crate::ApiError;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The whole fetch, redirects included, must finish within this.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed.
pub const MAX_REDIRECTS: usize = 3;
/// Largest reply head read.
const MAX_HEAD: usize = 16 << 10;

/// GETs `url` and returns the body of its 200 reply.
pub async fn fetch_torrent(url: &str) -> Result<Vec<u8>, ApiError> {
    tokio::time::timeout(FETCH_TIMEOUT, follow(url))
        .await
        .map_err(|_| ApiError::BadRequest(format!("fetching {url} took more than 30 s")))?
}

async fn follow(url: &str) -> Result<Vec<u8>, ApiError> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        match get(&url).await? {
            Reply::Body(b) => return Ok(b),
            Reply::Redirect(to) => {
                url = if to.starts_with('/') {
                    let (authority, _) = split(&url)?;
                    format!("http://{authority}{to}")
                } else {
                    to
                };
            }
        }
    }
    Err(ApiError::BadRequest(format!(
        "more than {MAX_REDIRECTS} redirects fetching the torrent"
    )))
}

enum Reply {
    Body(Vec<u8>),
    Redirect(String),
}

fn split(url: &str) -> Result<(&str, &str), ApiError> {
    if url.starts_with("https://") {
        return Err(ApiError::BadRequest(format!(
            "cannot fetch {url}: https is not supported; download the .torrent and add the file"
        )));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        ApiError::BadRequest(format!(
            "cannot add {url}: give a magnet link or an http:// URL of a .torrent"
        ))
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
        && path.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::BadRequest(format!("{url} is not a valid URL")));
    }
    Ok((authority, path))
}

async fn get(url: &str) -> Result<Reply, ApiError> {
    let limit = crate::MAX_TORRENT_BYTES + MAX_HEAD;
    let raw = read_reply(url, "application/x-bittorrent, */*", limit)
        .await
        .map_err(|e| ApiError::BadRequest(format!("fetching {url}: {e}")))?;
    parse(&raw).map_err(|e| ApiError::BadRequest(format!("fetching {url}: {e}")))
}

/// Sends a GET and reads the whole reply (head and body), at most `limit`
/// bytes.
async fn read_reply(url: &str, accept: &str, limit: usize) -> Result<Vec<u8>, String> {
    send(url, "GET", &[("Accept", accept)], b"", limit).await
}

/// Sends one request (`Connection: close`) and reads the whole reply, at
/// most `limit` bytes.
async fn send(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, String> {
    let (authority, path) = split(url).map_err(|e| e.to_string())?;
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut s = tokio::net::TcpStream::connect(&target)
        .await
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: btl/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\nContent-Length: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        if k.contains(['\r', '\n']) || v.contains(['\r', '\n']) {
            return Err(format!("header {k:?} has a line break"));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(body).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > limit {
            return Err(format!(
                "the reply is larger than the {} byte limit",
                limit.saturating_sub(MAX_HEAD)
            ));
        }
        if let Some(done) = complete(&raw) {
            raw.truncate(done);
            break;
        }
    }
    Ok(raw)
}

/// GETs a JSON document: its status and parsed body (any status; a body
/// that is not JSON is an error). At most `max_body` bytes, within
/// `timeout`. For the ledger's HTTP API.
pub async fn get_json(
    url: &str,
    max_body: usize,
    timeout: Duration,
) -> Result<(u16, serde_json::Value), String> {
    let raw = tokio::time::timeout(
        timeout,
        read_reply(url, "application/json", max_body + MAX_HEAD),
    )
    .await
    .map_err(|_| format!("no answer within {} s", timeout.as_secs()))??;
    let (status, body) = status_body(&raw)?;
    let v = serde_json::from_slice(&body).map_err(|e| format!("HTTP {status}: not JSON: {e}"))?;
    Ok((status, v))
}

/// Sends a request with `headers` and `body` and returns the reply's
/// status and (de-chunked) body, at most `max_body` bytes, within
/// `timeout`. For `btl remote`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    max_body: usize,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let raw = tokio::time::timeout(
        timeout,
        send(url, method, headers, body, max_body + MAX_HEAD),
    )
    .await
    .map_err(|_| format!("no answer within {} s", timeout.as_secs()))??;
    status_body(&raw)
}

/// A reply's status and (de-chunked) body.
pub(crate) fn status_body(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|&e| e <= MAX_HEAD)
        .ok_or("no valid HTTP reply")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status: u16 = head
        .split("\r\n")
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP status")?;
    let chunked = head
        .split("\r\n")
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = &raw[end + 4..];
    Ok((
        status,
        if chunked {
            dechunk(body)?
        } else {
            body.to_vec()
        },
    ))
}

/// Where the reply ends, when its `Content-Length` says and it is all here.
fn complete(raw: &[u8]) -> Option<usize> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&raw[..end]).ok()?.to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))?
        .trim()
        .parse()
        .ok()?;
    (raw.len() >= end + len).then_some(end + len)
}

fn parse(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|&e| e <= MAX_HEAD)
        .ok_or("no valid HTTP reply")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP status")?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let body = raw[end + 4..].to_vec();
    match status {
        200 => {
            let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
            Ok(Reply::Body(if chunked { dechunk(&body)? } else { body }))
        }
        301 | 302 | 303 | 307 | 308 => header("location")
            .map(Reply::Redirect)
            .ok_or_else(|| "a redirect without a Location".to_string()),
        s => Err(format!("the server answered HTTP {s}")),
    }
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let nl = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a truncated chunked body")?;
        let size_text = std::str::from_utf8(&rest[..nl]).map_err(|_| "a bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "a bad chunk size")?;
        rest = &rest[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or("a truncated chunk")?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").expect("ok");
        assert!(matches!(r, Reply::Body(b) if b == b"abc"));
        let r = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert!(matches!(r, Reply::Body(b) if b == b"abc"));
        let r = parse(b"HTTP/1.1 302 Found\r\nLocation: /x.torrent\r\n\r\n").expect("redirect");
        assert!(matches!(r, Reply::Redirect(l) if l == "/x.torrent"));
        assert!(parse(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse(b"garbage").is_err());
        assert!(dechunk(b"ff\r\nab").is_err());
        assert_eq!(
            complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"),
            Some(40)
        );
    }

    #[test]
    fn status_and_body_of_any_reply() {
        let (s, b) =
            status_body(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}").expect("ok");
        assert_eq!((s, b.as_slice()), (404, &b"{}"[..]));
        let (s, b) = status_body(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!((s, b.as_slice()), (200, &b"{}"[..]));
        assert!(status_body(b"HTTP/1.1 xx\r\n\r\n").is_err());
        assert!(status_body(b"no head").is_err());
    }

    #[test]
    fn urls() {
        assert!(split("https://x/y")
            .expect_err("https")
            .to_string()
            .contains("https"));
        assert!(split("ftp://x/y").is_err());
        assert!(split("http://a b/").is_err());
        assert_eq!(split("http://h:8/p?q=1").expect("ok"), ("h:8", "/p?q=1"));
    }
}
