//! The router over a real node (no peers): the OpenAPI description lists
//! exactly the routes that exist, the UI assets are served with their
//! headers, and the metrics are well-formed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use btl_http::{router, AuthConfig};
use btl_node::{Node, NodeConfig};
use std::net::SocketAddr;
use tower::ServiceExt;

async fn node(dir: &std::path::Path) -> Node {
    let mut c = NodeConfig::with_data_dir(dir.to_path_buf());
    c.peer_listen = "127.0.0.1:0".parse().unwrap();
    c.tracker_http = Some("127.0.0.1:0".parse().unwrap());
    c.tracker_udp = None;
    Node::start(c).await.unwrap()
}

async fn send(app: &axum::Router, method: &str, path: &str) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9091")
        .body(Body::empty())
        .unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_lists_exactly_the_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let node = node(tmp.path()).await;
    let app = router(
        node.api(),
        AuthConfig {
            token: node.token().to_string(),
            require_token: false,
            allowed_hosts: vec![],
        },
    );
    let spec: serde_json::Value = serde_json::from_str(btl_http::routes::OPENAPI).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 19, "{}", paths.len());
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", "0123456789abcdef0123456789abcdef01234567")
            .replace("{height}", "1");
        for method in ops.as_object().unwrap().keys() {
            let (status, body) =
                send(&app, &method.to_uppercase(), &format!("/api/v1{concrete}")).await;
            // Every documented route exists: it may refuse the empty body
            // or the unknown torrent, but it is never "no such endpoint"
            // or "method not allowed".
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .map(|v| v["error"]["code"].clone())
                .unwrap_or_default();
            assert!(
                code != "no_such_endpoint" && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {body}"
            );
        }
    }
    // And nothing undocumented answers.
    let (status, body) = send(&app, "GET", "/api/v1/undocumented").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_assets_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let node = node(tmp.path()).await;
    let app = router(
        node.api(),
        AuthConfig {
            token: node.token().to_string(),
            require_token: false,
            allowed_hosts: vec![],
        },
    );
    let (status, html) = send(&app, "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/ui/app.js") && html.contains("id=\"torrents\""));
    for asset in ["/ui/app.js", "/ui/style.css", "/ui/icon.svg"] {
        let (status, body) = send(&app, "GET", asset).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (status, text) = send(&app, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    // Every metric listed is documented in the output with HELP and TYPE,
    // and every sample line parses as `name{labels} value`.
    for (name, kind, _) in btl_http::metrics::METRICS {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} missing:\n{text}"
        );
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let base = name.split('{').next().unwrap();
        assert!(
            btl_http::metrics::METRICS
                .iter()
                .any(|(n, _, _)| *n == base),
            "undocumented metric {base}"
        );
    }
    // The README documents every metric.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for (name, _, _) in btl_http::metrics::METRICS {
        assert!(
            readme.contains(name),
            "README's METRICS section lacks {name}"
        );
    }
    node.shutdown().await.unwrap();
}

/// Every error code the node's API returns and every provenance status
/// are in the OpenAPI description.
#[test]
fn openapi_documents_every_error_code_and_badge() {
    use btl_node::{ApiError, Provenance};
    let spec: serde_json::Value = serde_json::from_str(btl_http::routes::OPENAPI).unwrap();
    let codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
        ["description"]
        .as_str()
        .unwrap()
        .to_string();
    let errors = [
        ApiError::BadRequest(String::new()),
        ApiError::UnknownTorrent(String::new()),
        ApiError::Conflict(String::new()),
        ApiError::LedgerNotEnabled,
        ApiError::ShuttingDown,
        ApiError::NotFound(String::new()),
        ApiError::LedgerUnavailable(String::new()),
        ApiError::Internal(String::new()),
    ];
    let http_codes = [
        "malformed_json",
        "invalid_body",
        "bad_body",
        "unsupported_media_type",
        "no_such_endpoint",
        "method_not_allowed",
        "token_required",
        "bad_token",
        "cross_site_request",
    ];
    for code in errors.iter().map(ApiError::code).chain(http_codes) {
        assert!(codes.contains(code), "{code} is not documented: {codes}");
    }
    let statuses = &spec["components"]["schemas"]["Provenance"]["properties"]["status"]["enum"];
    let badges = [
        Provenance::Verified {
            creator: String::new(),
            license: None,
            pay_to: None,
        },
        Provenance::Unregistered,
        Provenance::Revoked {
            reason: String::new(),
        },
        Provenance::Mismatch {
            reason: String::new(),
        },
        Provenance::Unknown {
            reason: String::new(),
        },
    ];
    for b in badges {
        let v = serde_json::to_value(&b).unwrap();
        assert!(
            statuses.as_array().unwrap().contains(&v["status"]),
            "{} is not documented: {statuses}",
            v["status"]
        );
        for k in v.as_object().unwrap().keys() {
            assert!(
                spec["components"]["schemas"]["Provenance"]["properties"]
                    .get(k)
                    .is_some(),
                "Provenance member {k} is not documented"
            );
        }
    }
}
