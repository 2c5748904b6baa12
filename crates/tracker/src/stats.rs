//! Metrics: a snapshot of the swarms and the request counters, as JSON
//! (`/stats`) and Prometheus text (`/metrics`).

use crate::Ctx;
use std::sync::atomic::Ordering;

/// A snapshot of the tracker's counts. Request counts are totals since
/// start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Torrents with at least one peer.
    pub torrents: u64,
    /// Peers in all torrents.
    pub peers: u64,
    /// Of which seeders.
    pub seeders: u64,
    /// HTTP announces answered (failures included).
    pub http_announces: u64,
    /// HTTP scrapes answered.
    pub http_scrapes: u64,
    /// HTTP requests answered with a failure or an HTTP error.
    pub http_failures: u64,
    /// HTTP connections accepted.
    pub http_connections: u64,
    /// UDP connect requests answered.
    pub udp_connects: u64,
    /// UDP announces answered.
    pub udp_announces: u64,
    /// UDP scrapes answered.
    pub udp_scrapes: u64,
    /// UDP error replies sent.
    pub udp_errors: u64,
    /// UDP requests with a connection id we did not issue (or expired).
    pub udp_bad_connection_id: u64,
    /// UDP packets dropped without a reply (malformed or oversized).
    pub udp_dropped: u64,
    /// Requests refused by the per-address rate limit.
    pub rate_limited: u64,
    /// Peers dropped for silence.
    pub peers_expired: u64,
}

impl Stats {
    pub(crate) fn collect(ctx: &Ctx) -> Stats {
        let (torrents, peers, seeders) = ctx.totals();
        let c = &ctx.counters;
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            uptime_secs: u64::from(ctx.now_secs()),
            torrents,
            peers,
            seeders,
            http_announces: g(&c.http_announces),
            http_scrapes: g(&c.http_scrapes),
            http_failures: g(&c.http_failures),
            http_connections: g(&c.http_connections),
            udp_connects: g(&c.udp_connects),
            udp_announces: g(&c.udp_announces),
            udp_scrapes: g(&c.udp_scrapes),
            udp_errors: g(&c.udp_errors),
            udp_bad_connection_id: g(&c.udp_bad_connection_id),
            udp_dropped: g(&c.udp_dropped),
            rate_limited: g(&c.rate_limited),
            peers_expired: g(&c.peers_expired),
        }
    }

    fn fields(&self) -> [(&'static str, &'static str, u64, &'static str); 16] {
        [
            (
                "uptime_secs",
                "gauge",
                self.uptime_secs,
                "Seconds since start",
            ),
            (
                "torrents",
                "gauge",
                self.torrents,
                "Torrents with at least one peer",
            ),
            ("peers", "gauge", self.peers, "Peers in all torrents"),
            ("seeders", "gauge", self.seeders, "Seeders in all torrents"),
            (
                "http_announces",
                "counter",
                self.http_announces,
                "HTTP announces answered",
            ),
            (
                "http_scrapes",
                "counter",
                self.http_scrapes,
                "HTTP scrapes answered",
            ),
            (
                "http_failures",
                "counter",
                self.http_failures,
                "HTTP requests refused",
            ),
            (
                "http_connections",
                "counter",
                self.http_connections,
                "HTTP connections accepted",
            ),
            (
                "udp_connects",
                "counter",
                self.udp_connects,
                "UDP connects answered",
            ),
            (
                "udp_announces",
                "counter",
                self.udp_announces,
                "UDP announces answered",
            ),
            (
                "udp_scrapes",
                "counter",
                self.udp_scrapes,
                "UDP scrapes answered",
            ),
            (
                "udp_errors",
                "counter",
                self.udp_errors,
                "UDP error replies sent",
            ),
            (
                "udp_bad_connection_id",
                "counter",
                self.udp_bad_connection_id,
                "UDP requests with a bad connection id",
            ),
            (
                "udp_dropped",
                "counter",
                self.udp_dropped,
                "UDP packets dropped unanswered",
            ),
            (
                "rate_limited",
                "counter",
                self.rate_limited,
                "Requests refused by the rate limit",
            ),
            (
                "peers_expired",
                "counter",
                self.peers_expired,
                "Peers dropped for silence",
            ),
        ]
    }

    /// The snapshot as a JSON object (the `/stats` body).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .fields()
            .iter()
            .map(|(k, _, v, _)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The snapshot in the Prometheus text format (the `/metrics` body);
    /// every name is prefixed `btl_tracker_`.
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        for (k, kind, v, help) in self.fields() {
            let name = if kind == "counter" {
                format!("btl_tracker_{k}_total")
            } else {
                format!("btl_tracker_{k}")
            };
            s.push_str(&format!(
                "# HELP {name} {help}.\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The metric names and the JSON keys are an interface (dashboards,
    /// alerts): pinned here.
    #[test]
    fn formats_are_pinned() {
        let s = Stats {
            uptime_secs: 5,
            torrents: 2,
            peers: 3,
            seeders: 1,
            http_announces: 10,
            rate_limited: 4,
            ..Stats::default()
        };
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "http_announces",
                "http_connections",
                "http_failures",
                "http_scrapes",
                "peers",
                "peers_expired",
                "rate_limited",
                "seeders",
                "torrents",
                "udp_announces",
                "udp_bad_connection_id",
                "udp_connects",
                "udp_dropped",
                "udp_errors",
                "udp_scrapes",
                "uptime_secs"
            ]
        );
        assert_eq!(
            (json["peers"].as_u64(), json["rate_limited"].as_u64()),
            (Some(3), Some(4))
        );
        let text = s.to_prometheus();
        assert!(text.starts_with(
            "# HELP btl_tracker_uptime_secs Seconds since start.\n\
             # TYPE btl_tracker_uptime_secs gauge\n\
             btl_tracker_uptime_secs 5\n\
             # HELP btl_tracker_torrents Torrents with at least one peer.\n"
        ));
        assert!(text.contains(
            "# TYPE btl_tracker_http_announces_total counter\nbtl_tracker_http_announces_total 10\n"
        ));
        assert!(text.ends_with("btl_tracker_peers_expired_total 0\n"));
        assert_eq!(text.lines().count(), 16 * 3);
    }
}
