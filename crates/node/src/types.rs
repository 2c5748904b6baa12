//! What the [`crate::Api`] takes and returns. These are also the JSON
//! shapes of the HTTP API (`/api/v1`), so renaming a field is a breaking
//! change of that API: the OpenAPI description (`crates/http`) lists them.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What a torrent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TorrentState {
    /// A magnet link: asking peers for the info dictionary.
    FetchingMetadata,
    /// Opening and verifying the data on disk.
    Checking,
    /// Fetching wanted pieces.
    Downloading,
    /// Every wanted piece is here; serving peers.
    Seeding,
    /// Stopped by the user.
    Paused,
    /// Stopped by an error (see `error`).
    Failed,
}

/// Where a torrent came from and whether its origin checks out (issue 6):
/// what the web UI's badge shows. Serialized with a `status` tag:
/// `verified`, `unregistered`, `revoked`, `mismatch` or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Provenance {
    /// A signed manifest matches the torrent and every check passed.
    Verified {
        /// The creator (`did:key:…`, with the btl1 account when known).
        creator: String,
        /// The license (SPDX id or terms URL), when the manifest has one.
        license: Option<String>,
        /// Where payments go (btl1 account), when the manifest says.
        pay_to: Option<String>,
    },
    /// The ledger has no registration for this torrent.
    Unregistered,
    /// The creator's key was revoked.
    Revoked {
        /// Why, for people.
        reason: String,
    },
    /// A manifest or registration exists but does not match the torrent
    /// (or a signature fails).
    Mismatch {
        /// What failed, for people.
        reason: String,
    },
    /// Nothing is known about the torrent's origin.
    Unknown {
        /// Why, for people.
        reason: String,
    },
}

impl Provenance {
    /// The placeholder used while provenance checks are not built in.
    pub fn not_checked() -> Provenance {
        Provenance::Unknown {
            reason: "provenance checks are not enabled on this node".into(),
        }
    }

    /// The status from a registry verdict: verified when every check
    /// passed; revoked when the creator key check failed on a revoked key;
    /// unregistered when the torrent is not on the ledger; a mismatch
    /// otherwise.
    pub fn from_verdict(v: &btl_registry::verdict::Verdict) -> Provenance {
        use btl_registry::verdict::CheckStatus;
        if v.ok {
            let creator = match (&v.creator, &v.creator_account) {
                (Some(d), Some(a)) => format!("{d} ({a})"),
                (Some(d), None) => d.clone(),
                (None, Some(a)) => a.clone(),
                (None, None) => "unknown creator".into(),
            };
            return Provenance::Verified {
                creator,
                license: v.license.clone(),
                pay_to: v.pay_to.clone(),
            };
        }
        let failed: Vec<_> = v
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .collect();
        if let Some(c) = failed
            .iter()
            .find(|c| c.detail.to_ascii_lowercase().contains("revoked"))
        {
            return Provenance::Revoked {
                reason: c.detail.clone(),
            };
        }
        if !v.registered
            && failed
                .iter()
                .all(|c| c.name.contains("ledger") || c.name.contains("regist"))
        {
            return Provenance::Unregistered;
        }
        Provenance::Mismatch {
            reason: v.reasons(),
        }
    }
}

/// A torrent in the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TorrentSummary {
    /// The torrent's id: the 40 hex digits of its wire infohash (the v1
    /// infohash, or the truncated v2 infohash of a v2-only torrent).
    pub id: String,
    /// A small number, stable for the life of the torrent on this node
    /// (Transmission's `id`).
    pub num: u32,
    /// The torrent's name (the magnet's `dn` until the metadata is known).
    pub name: String,
    /// What it is doing.
    pub state: TorrentState,
    /// Why it failed, or the last metadata error while fetching.
    pub error: Option<String>,
    /// Fraction of the wanted pieces verified on disk, 0 to 1.
    pub progress: f64,
    /// Bytes of the wanted files (0 while the metadata is unknown).
    pub wanted_bytes: u64,
    /// Bytes of the wanted files verified on disk (approximate: whole
    /// pieces).
    pub have_bytes: u64,
    /// Bytes of the whole torrent (0 while the metadata is unknown).
    pub total_bytes: u64,
    /// Payload bytes downloaded since the node started.
    pub downloaded: u64,
    /// Payload bytes uploaded since the node started.
    pub uploaded: u64,
    /// Download rate, bytes/s.
    pub download_rate: u64,
    /// Upload rate, bytes/s.
    pub upload_rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Seconds until done at the current rate, when downloading.
    pub eta_seconds: Option<u64>,
    /// When it was added, seconds since the Unix epoch.
    pub added_at: u64,
    /// When it completed, seconds since the Unix epoch.
    pub done_at: Option<u64>,
    /// The v1 infohash (hex), if any.
    pub info_hash_v1: Option<String>,
    /// The v2 infohash (hex), if any.
    pub info_hash_v2: Option<String>,
    /// A magnet link for the torrent.
    pub magnet: String,
    /// Provenance status (see [`Provenance`]).
    pub provenance: Provenance,
}

/// Download and upload limits, bytes/s; 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Download limit, bytes/s (0: unlimited).
    pub download: u64,
    /// Upload limit, bytes/s (0: unlimited).
    pub upload: u64,
}

/// A change of limits: absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    /// New download limit, bytes/s (0: unlimited).
    pub download: Option<u64>,
    /// New upload limit, bytes/s (0: unlimited).
    pub upload: Option<u64>,
}

/// Everything about one torrent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TorrentDetails {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: TorrentSummary,
    /// Directory the payload is saved in (the torrent's name inside it).
    pub save_dir: PathBuf,
    /// Bytes per piece (0 while the metadata is unknown).
    pub piece_length: u64,
    /// Pieces in the torrent.
    pub piece_count: u32,
    /// Pieces verified on disk.
    pub have_pieces: u32,
    /// Files in the torrent (pad files excluded).
    pub file_count: usize,
    /// BEP 27 private torrent.
    pub private: bool,
    /// The torrent's comment.
    pub comment: Option<String>,
    /// The program that made it.
    pub created_by: Option<String>,
    /// When it was made, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// This torrent's own limits.
    pub limits: Limits,
    /// Pieces that failed their hash check since the node started.
    pub hash_failures: u32,
    /// Peers banned for sending bad data.
    pub banned_peers: usize,
}

/// How much a file matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilePriority {
    /// Not downloaded.
    Skip,
    /// Downloaded after the others.
    Low,
    /// The default.
    Normal,
    /// Downloaded first.
    High,
}

impl FilePriority {
    /// The engine's piece priority for a file of this priority.
    pub fn level(self) -> u8 {
        match self {
            FilePriority::Skip => 0,
            FilePriority::Low => 1,
            FilePriority::Normal => 2,
            FilePriority::High => 3,
        }
    }

    /// The priority of an engine level (see [`FilePriority::level`]).
    pub fn from_level(level: u8) -> FilePriority {
        match level {
            0 => FilePriority::Skip,
            1 => FilePriority::Low,
            2 => FilePriority::Normal,
            _ => FilePriority::High,
        }
    }
}

/// One file of a torrent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file's index in the torrent (pad files count, but are not
    /// listed).
    pub index: usize,
    /// Path inside the torrent, `/`-separated.
    pub path: String,
    /// Bytes.
    pub length: u64,
    /// Bytes verified on disk (whole pieces).
    pub bytes_completed: u64,
    /// Priority.
    pub priority: FilePriority,
}

/// A change of file priorities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePriorityChange {
    /// File indices (as listed by `files`).
    pub indices: Vec<usize>,
    /// Their new priority.
    pub priority: FilePriority,
}

/// A connected peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerEntry {
    /// The peer's address.
    pub address: SocketAddr,
    /// Its client name, when it told us.
    pub client: Option<String>,
    /// We dialled it (else it connected to us).
    pub outgoing: bool,
    /// Fraction of the pieces it has, 0 to 1.
    pub progress: f64,
    /// Download rate from it, bytes/s.
    pub download_rate: u64,
    /// Upload rate to it, bytes/s.
    pub upload_rate: u64,
    /// Bytes received from it.
    pub downloaded: u64,
    /// Bytes sent to it.
    pub uploaded: u64,
    /// We choke it.
    pub am_choking: bool,
    /// We want pieces it has.
    pub am_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It wants pieces we have.
    pub peer_interested: bool,
}

/// A tracker of a torrent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackerEntry {
    /// Announce URL.
    pub url: String,
    /// BEP 12 tier.
    pub tier: usize,
    /// Announces answered since the torrent started.
    pub announces: u32,
    /// When the last answer came, seconds since the Unix epoch.
    pub last_success: Option<u64>,
    /// Why the last announce failed.
    pub last_error: Option<String>,
    /// Peers in the last answer.
    pub last_peers: usize,
    /// Seeders the tracker reported.
    pub seeders: Option<u32>,
    /// Leechers the tracker reported.
    pub leechers: Option<u32>,
    /// When the next announce is due, seconds since the Unix epoch.
    pub next_announce: Option<u64>,
}

/// The node as a whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `btl` version.
    pub version: String,
    /// Peer listening addresses.
    pub peer_addrs: Vec<SocketAddr>,
    /// The embedded tracker's HTTP address, when it runs.
    pub tracker_http: Option<SocketAddr>,
    /// The embedded tracker's UDP address, when it runs.
    pub tracker_udp: Option<SocketAddr>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where new torrents are saved by default.
    pub download_dir: PathBuf,
    /// Session-wide limits.
    pub limits: Limits,
    /// Torrents on the node.
    pub torrents: usize,
    /// Torrents not paused.
    pub active_torrents: usize,
    /// Download rate over all torrents, bytes/s.
    pub download_rate: u64,
    /// Upload rate over all torrents, bytes/s.
    pub upload_rate: u64,
    /// Payload bytes downloaded since the node started.
    pub downloaded: u64,
    /// Payload bytes uploaded since the node started.
    pub uploaded: u64,
    /// Open peer connections.
    pub connections: usize,
    /// Seconds since the node started.
    pub uptime_seconds: u64,
    /// Whether the ledger runs in this node.
    pub ledger_enabled: bool,
    /// The ledger's HTTP API (embedded or followed), when there is one.
    pub ledger_url: Option<String>,
    /// The DHT node's UDP address, when it runs.
    pub dht_addr: Option<SocketAddr>,
    /// Whether local service discovery runs.
    pub lsd: bool,
}

/// What to add.
#[derive(Debug, Clone)]
pub enum AddSource {
    /// The bytes of a `.torrent` (or `.btl`) file.
    TorrentFile(Vec<u8>),
    /// A magnet link.
    Magnet(String),
    /// An `http://` URL of a `.torrent` file (or a magnet link).
    Url(String),
}

/// A request to add a torrent.
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// The torrent.
    pub source: AddSource,
    /// Directory to save into; default: the node's download directory.
    pub save_dir: Option<PathBuf>,
    /// Add without starting.
    pub paused: bool,
    /// Extra peers to dial.
    pub peers: Vec<SocketAddr>,
    /// Initial file priorities, by file index (missing: normal).
    pub file_priorities: Option<Vec<FilePriority>>,
    /// This torrent's limits.
    pub limits: Limits,
}

impl AddRequest {
    /// A request with default options.
    pub fn new(source: AddSource) -> AddRequest {
        AddRequest {
            source,
            save_dir: None,
            paused: false,
            peers: Vec::new(),
            file_priorities: None,
            limits: Limits::default(),
        }
    }
}

/// What adding did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Added {
    /// The torrent's id.
    pub id: String,
    /// Its number.
    pub num: u32,
    /// Its name (so far).
    pub name: String,
    /// It was already on the node (nothing changed).
    pub duplicate: bool,
}
