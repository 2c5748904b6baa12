//! Who may call the API, and from where.
//!
//! **Token.** A request needs the node's token (in `DATA/api-token`) when
//! any of these holds:
//! - the client is not on a loopback address;
//! - its `Host` header names something other than a loopback address,
//!   `localhost` or one of the configured `allowed_hosts` (this defeats
//!   DNS rebinding: a page on `evil.example` that resolves to 127.0.0.1
//!   sends `Host: evil.example`);
//! - the node runs with `require_token`.
//!
//! The token is sent as `Authorization: Bearer TOKEN`, as `X-Btl-Token:
//! TOKEN`, or as the password of HTTP Basic authentication (any user name:
//! that is what `transmission-remote --auth btl:TOKEN` sends).
//!
//! **Cross-site requests.** Browsers send `Sec-Fetch-Site` and `Origin`.
//! A request whose `Sec-Fetch-Site` is `cross-site` is refused; a
//! state-changing request (not GET/HEAD/OPTIONS) is also refused when
//! `Sec-Fetch-Site` is `same-site`, or when its `Origin` is not the host it
//! was sent to. The API sends no CORS headers, and JSON bodies require
//! `Content-Type: application/json`, which a cross-site form cannot send.
//! The web UI is same-origin, so none of this gets in its way.

use crate::error::HttpError;
use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use std::net::{IpAddr, SocketAddr};

/// What the guard checks against.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The token.
    pub token: String,
    /// Require the token from every client.
    pub require_token: bool,
    /// Host names that need no token (loopback names always pass).
    pub allowed_hosts: Vec<String>,
}

/// The guard, as axum middleware for the API, RPC and metrics routes.
pub async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response, HttpError> {
    let rpc = req.uri().path().starts_with("/transmission");
    check(&state.auth, peer, req.method(), req.headers(), rpc)?;
    Ok(next.run(req).await)
}

/// The checks, separately testable.
pub fn check(
    cfg: &AuthConfig,
    peer: SocketAddr,
    method: &Method,
    headers: &HeaderMap,
    rpc: bool,
) -> Result<(), HttpError> {
    cross_site(method, headers)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let needs_token = cfg.require_token
        || !peer.ip().to_canonical().is_loopback()
        || !host_allowed(host, &cfg.allowed_hosts);
    if !needs_token {
        return Ok(());
    }
    let challenge = if rpc {
        "Basic realm=\"btl\""
    } else {
        "Bearer realm=\"btl\""
    };
    match presented_token(headers) {
        None => Err(HttpError {
            challenge: Some(challenge),
            ..HttpError::new(
                StatusCode::UNAUTHORIZED,
                "token_required",
                "this request needs the node's API token (it comes from another machine, names a \
                 non-local host, or the node requires it): send `Authorization: Bearer TOKEN`; \
                 the token is in the file api-token of the node's data directory",
            )
        }),
        Some(t) if constant_time_eq(t.as_bytes(), cfg.token.as_bytes()) => Ok(()),
        Some(_) => Err(HttpError {
            challenge: Some(challenge),
            ..HttpError::new(
                StatusCode::UNAUTHORIZED,
                "bad_token",
                "the API token is wrong: use the one in the file api-token of the node's data directory",
            )
        }),
    }
}

fn cross_site(method: &Method, headers: &HeaderMap) -> Result<(), HttpError> {
    let refuse = |why: String| {
        Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            format!(
                "cross-site request refused ({why}): the API takes requests from its own web UI \
                 and from programs, not from other sites' pages"
            ),
        ))
    };
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if fetch_site == "cross-site" {
        return refuse("Sec-Fetch-Site: cross-site".into());
    }
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        return Ok(());
    }
    if fetch_site == "same-site" {
        return refuse("Sec-Fetch-Site: same-site".into());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if origin_host.is_none_or(|o| !o.eq_ignore_ascii_case(host)) {
            return refuse(format!("Origin {origin} is not this node ({host})"));
        }
    }
    Ok(())
}

/// Whether a `Host` header names this machine (or an allowed name).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if name.is_empty() {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return ip.to_canonical().is_loopback();
    }
    allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-btl-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        return text.split_once(':').map(|(_, pw)| pw.to_string());
    }
    None
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuthConfig {
        AuthConfig {
            token: "secrettoken0123456789".into(),
            require_token: false,
            allowed_hosts: vec!["nas.local".into()],
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    fn lo() -> SocketAddr {
        "127.0.0.1:5000".parse().expect("addr")
    }

    #[test]
    fn hosts() {
        let a = vec!["nas.local".to_string()];
        for ok in [
            "127.0.0.1:9091",
            "localhost",
            "LOCALHOST:1",
            "[::1]:9091",
            "127.0.0.2",
            "nas.local:80",
        ] {
            assert!(host_allowed(ok, &a), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:9091",
            "192.0.2.1:9091",
            "[2001:db8::1]:1",
        ] {
            assert!(!host_allowed(bad, &a), "{bad}");
        }
    }

    #[test]
    fn loopback_needs_no_token_but_remote_does() {
        let c = cfg();
        let h = headers(&[("host", "127.0.0.1:9091")]);
        assert!(check(&c, lo(), &Method::GET, &h, false).is_ok());
        let remote: SocketAddr = "192.0.2.9:5000".parse().expect("addr");
        let e = check(&c, remote, &Method::GET, &h, false).expect_err("needs token");
        assert_eq!(e.code, "token_required");
        let h = headers(&[
            ("host", "x"),
            ("authorization", "Bearer secrettoken0123456789"),
        ]);
        assert!(check(&c, remote, &Method::GET, &h, false).is_ok());
        let h = headers(&[("host", "x"), ("x-btl-token", "wrong")]);
        assert_eq!(
            check(&c, remote, &Method::GET, &h, false)
                .expect_err("bad")
                .code,
            "bad_token"
        );
        // Basic auth, any user: what transmission-remote --auth sends.
        let basic = base64::engine::general_purpose::STANDARD.encode("btl:secrettoken0123456789");
        let h = headers(&[("host", "x"), ("authorization", &format!("Basic {basic}"))]);
        assert!(check(&c, remote, &Method::POST, &h, true).is_ok());
    }

    #[test]
    fn rebinding_and_require_token() {
        let mut c = cfg();
        let h = headers(&[("host", "evil.example:9091")]);
        assert_eq!(
            check(&c, lo(), &Method::GET, &h, false)
                .expect_err("rebinding")
                .code,
            "token_required"
        );
        c.require_token = true;
        let h = headers(&[("host", "127.0.0.1")]);
        assert!(check(&c, lo(), &Method::GET, &h, false).is_err());
    }

    #[test]
    fn cross_site_refused() {
        let c = cfg();
        let h = headers(&[("host", "127.0.0.1:9091"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(
            check(&c, lo(), &Method::GET, &h, false)
                .expect_err("x")
                .code,
            "cross_site_request"
        );
        let h = headers(&[
            ("host", "127.0.0.1:9091"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(
            check(&c, lo(), &Method::POST, &h, false)
                .expect_err("x")
                .status,
            StatusCode::FORBIDDEN
        );
        // Reading with a foreign Origin is harmless (no CORS headers).
        assert!(check(&c, lo(), &Method::GET, &h, false).is_ok());
        let h = headers(&[
            ("host", "127.0.0.1:9091"),
            ("origin", "http://127.0.0.1:9091"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check(&c, lo(), &Method::POST, &h, false).is_ok());
        let h = headers(&[("host", "127.0.0.1:9091"), ("sec-fetch-site", "same-site")]);
        assert!(check(&c, lo(), &Method::DELETE, &h, false).is_err());
    }
}
