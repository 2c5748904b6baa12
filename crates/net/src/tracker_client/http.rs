//! One HTTP(S) GET to a tracker: connect (from the bind address, when
//! given), TLS for `https://` (rustls, see [`TrackerTls`]), send the
//! request, and read the reply through
//! [`btl_tracker_proto::reply::parse_reply`] (Content-Length, chunked, or
//! until close; at most [`MAX_HTTP_REPLY`] bytes in all).

use super::{TrackerError, TrackerTls};
use btl_tracker_proto::reply::{parse_reply, Reply, ReplyLimits};
use rustls_pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest HTTP reply we read (head and body, as sent).
pub const MAX_HTTP_REPLY: usize = 1 << 20;

/// The parts of an `http://` or `https://` URL that a GET needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl<'a> {
    /// TLS or not.
    pub tls: bool,
    /// `host[:port]` as written (the `Host` header).
    pub authority: &'a str,
    /// The host alone, without brackets (name resolution and SNI).
    pub host: &'a str,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: &'a str,
}

/// Splits an HTTP(S) URL; `None` if it is not one we can use.
pub(crate) fn split_http_url(url: &str) -> Option<HttpUrl<'_>> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(_) => return None, // a query without a path
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse().ok()?),
            None if after.is_empty() => (h, default_port),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p.parse().ok()?),
            Some(_) => return None, // an IPv6 literal needs brackets
            None => (authority, default_port),
        }
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some(HttpUrl {
        tls,
        authority,
        host,
        port,
        target,
    })
}

/// GETs `url` and returns the reply, whatever its status.
pub(crate) async fn get(
    url: &str,
    bind: Option<IpAddr>,
    tls: &TrackerTls,
) -> Result<Reply, TrackerError> {
    let u = split_http_url(url).ok_or_else(|| TrackerError::Url(url.to_string()))?;
    let io = |e| TrackerError::Io(url.to_string(), e);
    let addr = tokio::net::lookup_host((u.host, u.port))
        .await
        .map_err(io)?
        .next()
        .ok_or_else(|| io(std::io::Error::other("the name has no address")))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(io)?;
    if let Some(ip) = bind.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        socket.bind(SocketAddr::new(ip, 0)).map_err(io)?;
    }
    let stream = socket.connect(addr).await.map_err(io)?;
    let _ = stream.set_nodelay(true);
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: btl/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        u.target,
        u.authority,
        env!("CARGO_PKG_VERSION")
    );
    if u.tls {
        let name = ServerName::try_from(u.host.to_string())
            .map_err(|_| TrackerError::Url(url.to_string()))?;
        let config = tls
            .config()
            .map_err(|why| TrackerError::Tls(url.to_string(), why.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| TrackerError::Tls(url.to_string(), e.to_string()))?;
        exchange(url, stream, head.as_bytes()).await
    } else {
        exchange(url, stream, head.as_bytes()).await
    }
}

/// Sends `head` and reads one reply.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    mut s: S,
    head: &[u8],
) -> Result<Reply, TrackerError> {
    let io = |e| TrackerError::Io(url.to_string(), e);
    s.write_all(head).await.map_err(io)?;
    s.flush().await.map_err(io)?;
    let limits = ReplyLimits {
        max_body: MAX_HTTP_REPLY,
        ..ReplyLimits::default()
    };
    let malformed = |e: btl_tracker_proto::reply::ReplyError| {
        TrackerError::Malformed(url.to_string(), e.to_string())
    };
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(n) => n,
            // A TLS server that closes without close_notify: the framing
            // (length or chunks) still tells a complete reply from a cut
            // one; an until-close body is taken as it is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            return parse_reply(&reply, true, &limits)
                .map_err(malformed)?
                .ok_or_else(|| TrackerError::Malformed(url.into(), "reply cut short".into()));
        }
        if reply.len() + n > MAX_HTTP_REPLY + limits.max_head {
            return Err(TrackerError::Malformed(
                url.into(),
                "reply too large".into(),
            ));
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(r) = parse_reply(&reply, false, &limits).map_err(malformed)? {
            return Ok(r);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_split() {
        let u = split_http_url("http://t.example:6969/announce?pk=1").unwrap();
        assert_eq!(
            (u.tls, u.authority, u.host, u.port, u.target),
            (false, "t.example:6969", "t.example", 6969, "/announce?pk=1")
        );
        let u = split_http_url("https://t.example/a").unwrap();
        assert_eq!(
            (u.tls, u.host, u.port, u.target),
            (true, "t.example", 443, "/a")
        );
        let u = split_http_url("https://[::1]:8443").unwrap();
        assert_eq!(
            (u.authority, u.host, u.port, u.target),
            ("[::1]:8443", "::1", 8443, "/")
        );
        let u = split_http_url("http://[::1]/x").unwrap();
        assert_eq!((u.host, u.port), ("::1", 80));
        for bad in [
            "http:///x",
            "ftp://x/",
            "http://::1/x",
            "http://h:0/",
            "http://h:99999/",
            "http://user@h/",
            "http://h?x",
            "https://[::1/",
            "https://[::1]x/",
        ] {
            assert_eq!(split_http_url(bad), None, "{bad}");
        }
    }
}
