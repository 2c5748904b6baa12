//! Async HTTP client for the ledger node's routes.
//!
//! One TCP connection per request (HTTP/1.1 over hyper's connection API),
//! a timeout on every request, and every response body read with a cap, so
//! a misbehaving node cannot stall or exhaust the client. Errors name the
//! URL and, for an HTTP error, the server's `{"error": …}` message.
//!
//! Only `http://` base URLs: the ledger API is served on loopback or a
//! trusted network, and everything it returns that matters is signed
//! (manifests, receipts) and checked by [`crate::verdict`].

use std::time::{Duration, Instant};

use btl_ledger::{SignedTx, TxId};
use btl_manifest::SignedManifest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

use crate::api::{
    AccountView, KeyStatusView, ReceiptView, RecordView, Status, TorrentView, TxStatus, Verifiers,
};

/// The default ledger API (`btl ledger run` and `btl up` listen here).
pub const DEFAULT_LEDGER_URL: &str = "http://127.0.0.1:26657";
/// Largest response body read.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Default timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the waits poll.
const POLL: Duration = Duration::from_millis(100);

/// What went wrong talking to the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not usable.
    #[error("ledger URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Could not connect.
    #[error("cannot reach the ledger at {url}: {source} (is `btl ledger run` running? set --ledger or BTL_LEDGER)")]
    Unreachable {
        /// The URL.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("the ledger at {url} did not answer within {secs} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// The HTTP exchange failed.
    #[error("HTTP error talking to {url}: {detail}")]
    Protocol {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The body is larger than the cap.
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// An error status, with the server's message.
    #[error("{url}: {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The server's `error` message (or the body's start).
        message: String,
    },
    /// A transaction was refused by the node or by the ledger.
    #[error("transaction refused: {0}")]
    Rejected(String),
    /// The answer is not what the route returns.
    #[error("unexpected answer from {url}: {detail}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// A wait ran out.
    #[error("gave up waiting for {0}")]
    Deadline(String),
}

impl ClientError {
    /// The HTTP status, for [`ClientError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A raw answer.
struct Answer {
    status: StatusCode,
    body: Bytes,
    retry_after: Option<u64>,
}

/// Client of one ledger node.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: String,
    host: String,
    port: u16,
    prefix: String,
    timeout: Duration,
}

impl RegistryClient {
    /// A client of the node at `base_url` (`http://host:port[/prefix]`).
    ///
    /// # Errors
    ///
    /// [`ClientError::BadUrl`] for anything but a plain `http://` URL.
    pub fn new(base_url: &str) -> Result<RegistryClient, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let rest = if let Some(r) = base_url.strip_prefix("http://") {
            r
        } else if base_url.starts_with("https://") {
            return Err(bad(
                "https is not supported; use the http:// API of a local or trusted node",
            ));
        } else {
            return Err(bad("expected http://HOST:PORT"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected http://HOST:PORT"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in host"))?;
            (h.to_string(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (authority.to_string(), ""),
            }
        };
        let port = if port.is_empty() {
            80
        } else {
            port.parse().map_err(|_| bad("bad port"))?
        };
        Ok(RegistryClient {
            base: base_url.trim_end_matches('/').to_string(),
            host,
            port,
            prefix: path.trim_end_matches('/').to_string(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Answer, ClientError> {
        let url = self.url(path);
        let secs = self.timeout.as_secs().max(1);
        match tokio::time::timeout(self.timeout, self.exchange_inner(method, path, body, limit))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout { url, secs }),
        }
    }

    async fn exchange_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Answer, ClientError> {
        let url = self.url(path);
        let proto = |e: &dyn std::fmt::Display| ClientError::Protocol {
            url: url.clone(),
            detail: e.to_string(),
        };
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| proto(&e))?;
        let conn_task = tokio::spawn(conn);
        let host_header = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.prefix, path))
            .header(hyper::header::HOST, host_header)
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, "btl-registry");
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| proto(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| proto(&e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        if let Some(len) = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > limit as u64 {
                conn_task.abort();
                return Err(ClientError::TooLarge { url, limit });
            }
        }
        let collected = Limited::new(resp.into_body(), limit).collect().await;
        conn_task.abort();
        let body = match collected {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return Err(ClientError::TooLarge { url, limit });
                }
                return Err(proto(&e));
            }
        };
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    fn status_error(&self, path: &str, a: &Answer) -> ClientError {
        let message = serde_json::from_slice::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| {
                let s = String::from_utf8_lossy(&a.body);
                let s: String = s.chars().take(200).collect();
                if s.trim().is_empty() {
                    a.status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    s
                }
            });
        ClientError::Status {
            url: self.url(path),
            status: a.status.as_u16(),
            message,
        }
    }

    fn decode<T: DeserializeOwned>(&self, path: &str, a: &Answer) -> Result<T, ClientError> {
        serde_json::from_slice(&a.body).map_err(|e| ClientError::BadResponse {
            url: self.url(path),
            detail: e.to_string(),
        })
    }

    /// GET returning JSON; `None` on 404.
    async fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        let a = self
            .exchange(Method::GET, path, None, MAX_BODY_BYTES)
            .await?;
        if a.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !a.status.is_success() {
            return Err(self.status_error(path, &a));
        }
        self.decode(path, &a).map(Some)
    }

    /// GET returning JSON; 404 is an error.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let a = self
            .exchange(Method::GET, path, None, MAX_BODY_BYTES)
            .await?;
        if !a.status.is_success() {
            return Err(self.status_error(path, &a));
        }
        self.decode(path, &a)
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get("/status").await
    }

    /// `POST /tx`: submits a signed transaction; returns its id.
    ///
    /// # Errors
    ///
    /// [`ClientError::Rejected`] with the node's reason when admission
    /// refuses it (bad nonce, fee, signature, a registered torrent, ...).
    pub async fn submit(&self, tx: &SignedTx) -> Result<TxId, ClientError> {
        let path = "/tx";
        let body = serde_json::json!({"tx": hex::encode(tx.encode())}).to_string();
        let a = self
            .exchange(Method::POST, path, Some(body.into_bytes()), 64 << 10)
            .await?;
        if a.status == StatusCode::UNPROCESSABLE_ENTITY
            || a.status == StatusCode::TOO_MANY_REQUESTS
            || a.status == StatusCode::PAYLOAD_TOO_LARGE
        {
            let e = self.status_error(path, &a);
            let msg = match e {
                ClientError::Status { message, .. } => message,
                other => other.to_string(),
            };
            return Err(ClientError::Rejected(msg));
        }
        if !a.status.is_success() {
            return Err(self.status_error(path, &a));
        }
        let v: serde_json::Value = self.decode(path, &a)?;
        let id = v
            .get("id")
            .and_then(|i| i.as_str())
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| ClientError::BadResponse {
                url: self.url(path),
                detail: "no transaction id in the answer".into(),
            })?;
        Ok(TxId(id))
    }

    /// `GET /tx/{id}`; `None` when the node does not know it.
    pub async fn tx_status(&self, id: &TxId) -> Result<Option<TxStatus>, ClientError> {
        self.get_opt(&format!("/tx/{}", hex::encode(id.0))).await
    }

    /// Polls until the transaction is committed (final: the ledger has
    /// instant finality) or `deadline` passes.
    ///
    /// # Errors
    ///
    /// [`ClientError::Rejected`] if the node dropped it,
    /// [`ClientError::Deadline`] when time runs out.
    pub async fn wait_committed(
        &self,
        id: &TxId,
        deadline: Instant,
    ) -> Result<TxStatus, ClientError> {
        loop {
            if let Some(st) = self.tx_status(id).await? {
                match st.status.as_str() {
                    "committed" => return Ok(st),
                    "rejected" => {
                        return Err(ClientError::Rejected(
                            st.reason.unwrap_or_else(|| "rejected".into()),
                        ))
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Deadline(format!(
                    "transaction {} to be committed",
                    hex::encode(id.0)
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `GET /receipt/{tx}`, retrying while the node answers 503 (committed,
    /// no cosigned checkpoint yet) until `deadline`.
    pub async fn receipt(&self, id: &TxId, deadline: Instant) -> Result<ReceiptView, ClientError> {
        let path = format!("/receipt/{}", hex::encode(id.0));
        loop {
            let a = self
                .exchange(Method::GET, &path, None, MAX_BODY_BYTES)
                .await?;
            if a.status.is_success() {
                return self.decode(&path, &a);
            }
            if a.status != StatusCode::SERVICE_UNAVAILABLE {
                return Err(self.status_error(&path, &a));
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Deadline(format!(
                    "a cosigned receipt of {} ({})",
                    hex::encode(id.0),
                    self.status_error(&path, &a)
                )));
            }
            let wait = a
                .retry_after
                .map(|s| Duration::from_secs(s.min(1)))
                .unwrap_or(POLL)
                .max(POLL);
            tokio::time::sleep(wait).await;
        }
    }

    /// `GET /registry/torrent/{infohash}` (64 or 40 hex digits); `None`
    /// when not registered.
    pub async fn torrent(&self, infohash_hex: &str) -> Result<Option<TorrentView>, ClientError> {
        check_hex(infohash_hex, &[40, 64], "infohash")?;
        self.get_opt(&format!("/registry/torrent/{infohash_hex}"))
            .await
    }

    /// `GET /torrent/{infohash}` (the ledger's own record, without the
    /// registry extras); `None` when not registered.
    pub async fn ledger_record(
        &self,
        infohash_hex: &str,
    ) -> Result<Option<RecordView>, ClientError> {
        check_hex(infohash_hex, &[40, 64], "infohash")?;
        #[derive(serde::Deserialize)]
        struct Wrap {
            torrent: RecordView,
        }
        Ok(self
            .get_opt::<Wrap>(&format!("/torrent/{infohash_hex}"))
            .await?
            .map(|w| w.torrent))
    }

    /// `GET /registry/manifest/{id}`: the signed manifest's bytes (bounded
    /// by the manifest size limit); `None` when the node does not hold it.
    /// The caller verifies them.
    pub async fn manifest(&self, id_hex: &str) -> Result<Option<Vec<u8>>, ClientError> {
        check_hex(id_hex, &[64], "manifest id")?;
        let path = format!("/registry/manifest/{id_hex}");
        let a = self
            .exchange(
                Method::GET,
                &path,
                None,
                btl_manifest::manifest::MAX_MANIFEST_BYTES,
            )
            .await?;
        if a.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !a.status.is_success() {
            return Err(self.status_error(&path, &a));
        }
        Ok(Some(a.body.to_vec()))
    }

    /// `POST /registry/manifest`: uploads a signed manifest; returns the id
    /// the node computed (hex), checked against ours.
    pub async fn upload_manifest(&self, m: &SignedManifest) -> Result<String, ClientError> {
        let path = "/registry/manifest";
        let a = self
            .exchange(Method::POST, path, Some(m.canonical_bytes()), 64 << 10)
            .await?;
        if !a.status.is_success() {
            return Err(self.status_error(path, &a));
        }
        let v: serde_json::Value = self.decode(path, &a)?;
        let id = v.get("id").and_then(|i| i.as_str()).unwrap_or_default();
        let ours = m.id().to_hex();
        if id != ours {
            return Err(ClientError::BadResponse {
                url: self.url(path),
                detail: format!("the node stored the manifest as {id:?}, expected {ours}"),
            });
        }
        Ok(ours)
    }

    /// `GET /registry/key/{pk}` (hex or `did:key:`).
    pub async fn key_status(&self, key: &str) -> Result<KeyStatusView, ClientError> {
        if key.len() > 200 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':') {
            return Err(ClientError::BadUrl {
                url: self.url("/registry/key/"),
                reason: format!("{key:?} is not a key"),
            });
        }
        self.get(&format!("/registry/key/{key}")).await
    }

    /// `GET /registry/verifiers[?height=H]`.
    pub async fn verifiers(&self, height: Option<u64>) -> Result<Verifiers, ClientError> {
        match height {
            Some(h) => self.get(&format!("/registry/verifiers?height={h}")).await,
            None => self.get("/registry/verifiers").await,
        }
    }

    /// `GET /account/{addr}`; `None` for an account the ledger has never
    /// seen (nonce 0, nothing to spend).
    pub async fn account(
        &self,
        addr: &btl_ledger::Address,
    ) -> Result<Option<AccountView>, ClientError> {
        self.get_opt(&format!("/account/{addr}")).await
    }

    /// `GET /registry/creator/{account}` (raw JSON: `{"torrents": [...]}`).
    pub async fn creator(
        &self,
        account: &btl_ledger::Address,
        after: Option<&str>,
        limit: u32,
    ) -> Result<serde_json::Value, ClientError> {
        let mut path = format!("/registry/creator/{account}?limit={}", limit.min(100));
        if let Some(a) = after {
            check_hex(a, &[40, 64], "after")?;
            path.push_str("&after=");
            path.push_str(a);
        }
        self.get(&path).await
    }
}

fn check_hex(s: &str, lens: &[usize], what: &str) -> Result<(), ClientError> {
    if lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ClientError::BadUrl {
            url: String::new(),
            reason: format!("{what} {s:?} is not {lens:?} hex digits"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn urls() {
        let c = RegistryClient::new("http://127.0.0.1:26657").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.prefix.as_str()),
            ("127.0.0.1", 26657, "")
        );
        let c = RegistryClient::new("http://[::1]:9/api/").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.prefix.as_str()),
            ("::1", 9, "/api")
        );
        assert!(RegistryClient::new("https://x").is_err());
        assert!(RegistryClient::new("ftp://x").is_err());
        assert!(RegistryClient::new("http://a:b").is_err());
    }

    /// A one-shot server answering `response` to the first request.
    async fn serve_once(response: Vec<u8>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&response).await;
            let _ = s.shutdown().await;
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn error_message_names_url_and_server_message() {
        let body = r#"{"error":"nonce 3 expected 2"}"#;
        let resp = format!(
            "HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let url = serve_once(resp.into_bytes()).await;
        let c = RegistryClient::new(&url).unwrap();
        let e = c.status().await.unwrap_err().to_string();
        assert!(
            e.contains("/status") && e.contains("nonce 3 expected 2"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn oversized_body_refused() {
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        let url = serve_once(resp.into_bytes()).await;
        let c = RegistryClient::new(&url).unwrap();
        let e = c.status().await.unwrap_err();
        assert!(matches!(e, ClientError::TooLarge { .. }), "{e}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let c = RegistryClient::new(&format!("http://{addr}"))
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let e = c.status().await.unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{e}");
        hold.abort();
    }

    #[tokio::test]
    async fn closed_port_is_unreachable() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let c = RegistryClient::new(&format!("http://{addr}")).unwrap();
        let e = c.status().await.unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("btl ledger run"));
    }
}
