//! `GET /metrics`: Prometheus text format (version 0.0.4). Every metric is
//! listed in [`METRICS`] with its type and help text, and documented in
//! the README's METRICS section.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use btl_node::TorrentState;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Name, type and help of every metric the node exports.
pub const METRICS: &[(&str, &str, &str)] = &[
    ("btl_up", "gauge", "1 while the node runs."),
    (
        "btl_uptime_seconds",
        "gauge",
        "Seconds since the node started.",
    ),
    ("btl_torrents", "gauge", "Torrents on the node, by state."),
    (
        "btl_download_bytes_total",
        "counter",
        "Verified payload bytes downloaded since the node started (all torrents).",
    ),
    (
        "btl_upload_bytes_total",
        "counter",
        "Payload bytes uploaded since the node started (all torrents).",
    ),
    (
        "btl_download_rate_bytes",
        "gauge",
        "Download rate over all torrents, bytes per second.",
    ),
    (
        "btl_upload_rate_bytes",
        "gauge",
        "Upload rate over all torrents, bytes per second.",
    ),
    (
        "btl_peer_connections",
        "gauge",
        "Open peer connections (handshaking ones included).",
    ),
    (
        "btl_torrent_progress_ratio",
        "gauge",
        "Fraction of a torrent's wanted pieces verified on disk, by torrent id.",
    ),
    (
        "btl_torrent_peers",
        "gauge",
        "Connected peers of a torrent, by torrent id.",
    ),
    (
        "btl_rate_limit_bytes",
        "gauge",
        "Session-wide rate limits, bytes per second (0: unlimited), by direction.",
    ),
    (
        "btl_http_requests_total",
        "counter",
        "HTTP requests answered, by status class (2xx, 4xx...).",
    ),
    (
        "btl_tracker_torrents",
        "gauge",
        "Torrents the embedded tracker tracks.",
    ),
    (
        "btl_tracker_peers",
        "gauge",
        "Peers in the embedded tracker's swarms.",
    ),
    (
        "btl_tracker_announces_total",
        "counter",
        "Announces the embedded tracker answered, by protocol.",
    ),
    (
        "btl_ledger_enabled",
        "gauge",
        "1 when the ledger runs in this node.",
    ),
];

/// Requests answered, by status class (index 1 to 5).
#[derive(Debug, Default)]
pub struct RequestCounters {
    by_class: [AtomicU64; 6],
}

impl RequestCounters {
    /// Counts a reply.
    pub fn count(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
}

fn head(out: &mut String, name: &str) {
    if let Some((_, kind, help)) = METRICS.iter().find(|(n, _, _)| *n == name) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    }
}

/// Label values are quoted; escape what must be.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric.
pub fn render(s: &AppState) -> String {
    let api = &s.api;
    let info = api.session();
    let list = api.list();
    let mut o = String::with_capacity(4096);
    head(&mut o, "btl_up");
    let _ = writeln!(o, "btl_up 1");
    head(&mut o, "btl_uptime_seconds");
    let _ = writeln!(o, "btl_uptime_seconds {}", info.uptime_seconds);
    head(&mut o, "btl_torrents");
    for (state, name) in [
        (TorrentState::FetchingMetadata, "fetching_metadata"),
        (TorrentState::Checking, "checking"),
        (TorrentState::Downloading, "downloading"),
        (TorrentState::Seeding, "seeding"),
        (TorrentState::Paused, "paused"),
        (TorrentState::Failed, "failed"),
    ] {
        let n = list.iter().filter(|t| t.state == state).count();
        let _ = writeln!(o, "btl_torrents{{state=\"{name}\"}} {n}");
    }
    head(&mut o, "btl_download_bytes_total");
    let _ = writeln!(o, "btl_download_bytes_total {}", info.downloaded);
    head(&mut o, "btl_upload_bytes_total");
    let _ = writeln!(o, "btl_upload_bytes_total {}", info.uploaded);
    head(&mut o, "btl_download_rate_bytes");
    let _ = writeln!(o, "btl_download_rate_bytes {}", info.download_rate);
    head(&mut o, "btl_upload_rate_bytes");
    let _ = writeln!(o, "btl_upload_rate_bytes {}", info.upload_rate);
    head(&mut o, "btl_peer_connections");
    let _ = writeln!(o, "btl_peer_connections {}", info.connections);
    head(&mut o, "btl_torrent_progress_ratio");
    for t in &list {
        let _ = writeln!(
            o,
            "btl_torrent_progress_ratio{{id=\"{}\"}} {}",
            label(&t.id),
            t.progress
        );
    }
    head(&mut o, "btl_torrent_peers");
    for t in &list {
        let _ = writeln!(
            o,
            "btl_torrent_peers{{id=\"{}\"}} {}",
            label(&t.id),
            t.peers
        );
    }
    head(&mut o, "btl_rate_limit_bytes");
    let _ = writeln!(
        o,
        "btl_rate_limit_bytes{{direction=\"download\"}} {}",
        info.limits.download
    );
    let _ = writeln!(
        o,
        "btl_rate_limit_bytes{{direction=\"upload\"}} {}",
        info.limits.upload
    );
    head(&mut o, "btl_http_requests_total");
    for class in 1..=5 {
        let n = s.requests.by_class[class].load(Ordering::Relaxed);
        let _ = writeln!(o, "btl_http_requests_total{{class=\"{class}xx\"}} {n}");
    }
    if let Some(t) = api.tracker_stats() {
        head(&mut o, "btl_tracker_torrents");
        let _ = writeln!(o, "btl_tracker_torrents {}", t.torrents);
        head(&mut o, "btl_tracker_peers");
        let _ = writeln!(o, "btl_tracker_peers {}", t.peers);
        head(&mut o, "btl_tracker_announces_total");
        let _ = writeln!(
            o,
            "btl_tracker_announces_total{{protocol=\"http\"}} {}",
            t.http_announces
        );
        let _ = writeln!(
            o,
            "btl_tracker_announces_total{{protocol=\"udp\"}} {}",
            t.udp_announces
        );
    }
    head(&mut o, "btl_ledger_enabled");
    let _ = writeln!(o, "btl_ledger_enabled {}", u8::from(info.ledger_enabled));
    o
}

/// `GET /metrics`.
pub async fn handler(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s),
    )
        .into_response()
}
