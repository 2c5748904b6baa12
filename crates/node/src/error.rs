//! Errors of the [`crate::Api`]: each says what was wrong and what to do,
//! and has a kind that the HTTP layer turns into a status code.

/// Why an [`crate::Api`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request itself is wrong (a bad magnet, a corrupt torrent file,
    /// an index out of range): the message says what.
    #[error("{0}")]
    BadRequest(String),
    /// No torrent has this id.
    #[error("no torrent {0} on this node (list them with GET /api/v1/torrents)")]
    UnknownTorrent(String),
    /// The request is fine but cannot be done in the torrent's state (e.g.
    /// files of a magnet whose metadata is not known yet).
    #[error("{0}")]
    Conflict(String),
    /// The ledger does not run in this node.
    #[error("ledger not enabled: this node runs without the ledger")]
    LedgerNotEnabled,
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// What was asked for does not exist (a ledger block, account...).
    #[error("{0}")]
    NotFound(String),
    /// The ledger is configured but does not answer.
    #[error("the ledger does not answer: {0}")]
    LedgerUnavailable(String),
    /// Something failed inside the node (a disk error...).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A stable machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnknownTorrent(_) => "unknown_torrent",
            ApiError::Conflict(_) => "conflict",
            ApiError::LedgerNotEnabled => "ledger_not_enabled",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::NotFound(_) => "not_found",
            ApiError::LedgerUnavailable(_) => "ledger_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// Why the node could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A file or directory of the data directory.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is for.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The saved torrent list is unreadable.
    #[error("the torrent list {path} is corrupt: {why} (fix or move it away to start empty)")]
    CorruptList {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The peer listener could not start.
    #[error("cannot listen for peers on {addr}: {source} (set peer_listen / --peer-port)")]
    PeerListen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The embedded tracker could not start.
    #[error("cannot start the tracker: {0} (set --tracker-http/--tracker-udp, or --no-tracker)")]
    Tracker(String),
}
