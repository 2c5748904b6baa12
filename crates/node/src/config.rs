//! The node's configuration: a TOML file, then environment variables, then
//! flags (the last two are merged by the command line; this module reads
//! the file and holds the defaults).
//!
//! ```toml
//! # every key is optional
//! download_dir = "/srv/torrents"
//! api = "127.0.0.1:9091"            # HTTP API, web UI, Transmission RPC
//! peer_listen = "0.0.0.0:6881"      # BitTorrent peers (TCP)
//! tracker = true                    # run the embedded tracker
//! tracker_http = "127.0.0.1:6969"
//! tracker_udp = "127.0.0.1:6969"
//! require_token = false             # token even for loopback clients
//! allowed_hosts = ["nas.local"]     # Host names that need no token
//! max_download_rate = 0             # bytes/s, 0: unlimited
//! max_upload_rate = 0
//! max_connections = 200
//! dht = true                        # the mainline DHT (BEP 5)
//! dht_bootstrap = ["router.bittorrent.com:6881"]
//! lsd = true                        # local service discovery (BEP 14)
//! ledger = true                     # run the embedded one-validator ledger
//! ledger_http = "127.0.0.1:26657"   # its HTTP API
//! ledger_p2p = "127.0.0.1:26656"    # its consensus listener
//! ledger_url = "http://10.0.0.5:26657" # follow this ledger instead
//! ledger_idle_ms = 30000            # idle: one empty block this often
//! ```

use crate::NodeError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default address of the HTTP API and web UI: Transmission's port, so
/// that `transmission-remote` with no arguments finds the node.
pub const DEFAULT_API: &str = "127.0.0.1:9091";
/// Default peer listening address.
pub const DEFAULT_PEER_LISTEN: &str = "0.0.0.0:6881";
/// Default address of the embedded tracker (HTTP and UDP).
pub const DEFAULT_TRACKER: &str = "127.0.0.1:6969";

/// The configuration file's keys (all optional).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory (only meaningful in a file named with `--config`).
    pub data_dir: Option<PathBuf>,
    /// Where new torrents are saved.
    pub download_dir: Option<PathBuf>,
    /// HTTP API address.
    pub api: Option<SocketAddr>,
    /// Peer listening address.
    pub peer_listen: Option<SocketAddr>,
    /// Run the embedded tracker.
    pub tracker: Option<bool>,
    /// Tracker HTTP address.
    pub tracker_http: Option<SocketAddr>,
    /// Tracker UDP address.
    pub tracker_udp: Option<SocketAddr>,
    /// Require the API token from every client.
    pub require_token: Option<bool>,
    /// Host names (besides loopback ones) that need no token.
    pub allowed_hosts: Option<Vec<String>>,
    /// Session download limit, bytes/s.
    pub max_download_rate: Option<u64>,
    /// Session upload limit, bytes/s.
    pub max_upload_rate: Option<u64>,
    /// Most peer connections.
    pub max_connections: Option<usize>,
    /// Use the mainline DHT.
    pub dht: Option<bool>,
    /// DHT bootstrap nodes (HOST:PORT).
    pub dht_bootstrap: Option<Vec<String>>,
    /// Use local service discovery.
    pub lsd: Option<bool>,
    /// Run the embedded ledger (default true).
    pub ledger: Option<bool>,
    /// The embedded ledger's HTTP API address.
    pub ledger_http: Option<SocketAddr>,
    /// The embedded ledger's consensus (p2p) address.
    pub ledger_p2p: Option<SocketAddr>,
    /// Follow the ledger at this URL instead of running one.
    pub ledger_url: Option<String>,
    /// The embedded ledger's idle block interval, in milliseconds.
    pub ledger_idle_ms: Option<u64>,
}

impl FileConfig {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<FileConfig, NodeError> {
        toml::from_str(text).map_err(|e| NodeError::Config(e.to_string()))
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<FileConfig, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|source| NodeError::Io {
            what: "config file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))
    }
}

/// The node's resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Everything the node keeps: the torrent list, metadata, resume data,
    /// the API token, the tracker's state.
    pub data_dir: PathBuf,
    /// Where new torrents are saved (default `DATA/downloads`).
    pub download_dir: PathBuf,
    /// Peer listening address (port 0: any free port; the default port
    /// falls back to a free one when taken).
    pub peer_listen: SocketAddr,
    /// Run the embedded tracker.
    pub tracker: bool,
    /// Tracker HTTP address (`None`: no HTTP).
    pub tracker_http: Option<SocketAddr>,
    /// Tracker UDP address (`None`: no UDP).
    pub tracker_udp: Option<SocketAddr>,
    /// Session download limit, bytes/s (0: unlimited).
    pub max_download_rate: u64,
    /// Session upload limit, bytes/s (0: unlimited).
    pub max_upload_rate: u64,
    /// Most peer connections.
    pub max_connections: usize,
    /// The DHT node to run (`None`: no DHT). Off in [`Self::with_data_dir`];
    /// `btl up` turns it on.
    pub dht: Option<DhtSettings>,
    /// Run local service discovery (BEP 14) on the peer listener's
    /// interface. Off in [`Self::with_data_dir`]; `btl up` turns it on.
    pub lsd: bool,
}

/// The DHT node's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtSettings {
    /// Bootstrap nodes (HOST:PORT); empty: the public routers.
    pub bootstrap: Vec<String>,
    /// UDP port (`None`: the peer port, or any free port when taken).
    pub port: Option<u16>,
}

impl NodeConfig {
    /// Defaults for a data directory.
    pub fn with_data_dir(data_dir: PathBuf) -> NodeConfig {
        let tracker: Option<SocketAddr> = DEFAULT_TRACKER.parse().ok();
        NodeConfig {
            download_dir: data_dir.join("downloads"),
            data_dir,
            peer_listen: DEFAULT_PEER_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 6881))),
            tracker: true,
            tracker_http: tracker,
            tracker_udp: tracker,
            max_download_rate: 0,
            max_upload_rate: 0,
            max_connections: 200,
            dht: None,
            lsd: false,
        }
    }

    /// The default data directory: `$XDG_DATA_HOME/btl`, else
    /// `~/.local/share/btl`.
    pub fn default_data_dir() -> Option<PathBuf> {
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return Some(PathBuf::from(x).join("btl"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/btl"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_refuses_unknown_ones() {
        let c = FileConfig::parse(
            r#"
            download_dir = "/srv/t"
            api = "127.0.0.1:8000"
            peer_listen = "0.0.0.0:7000"
            tracker = false
            require_token = true
            allowed_hosts = ["nas.local"]
            max_download_rate = 1000
            "#,
        )
        .expect("valid");
        assert_eq!(c.api, Some("127.0.0.1:8000".parse().expect("addr")));
        assert_eq!(c.tracker, Some(false));
        assert_eq!(c.allowed_hosts, Some(vec!["nas.local".to_string()]));
        let e = FileConfig::parse("apii = \"x\"").expect_err("unknown key");
        assert!(e.to_string().contains("apii"), "{e}");
        let e = FileConfig::parse("api = 5").expect_err("wrong type");
        assert!(e.to_string().contains("api"), "{e}");
    }
}
