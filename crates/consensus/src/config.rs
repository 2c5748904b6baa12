//! On-disk node files: the genesis, the validator key and the node
//! configuration, all JSON in the node's data directory:
//!
//! ```text
//! DATA/genesis.json      chain id, time, validators (public key, power), app genesis
//! DATA/node_key.json     {"secret_key": hex 32 bytes, "public_key": hex} (mode 0600)
//! DATA/node.json         p2p/HTTP listen addresses, peers, block timing
//! DATA/db/ledger.redb    blocks, certificates, state (see crate::store)
//! DATA/wal/              Malachite's write-ahead log
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A validator in the genesis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisValidator {
    /// Ed25519 public key, lowercase hex.
    pub public_key: String,
    /// Voting power (stake).
    pub power: u64,
}

/// The genesis file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Genesis {
    /// Chain id: part of every signature.
    pub chain_id: String,
    /// Genesis time (ms since the Unix epoch).
    pub time_ms: u64,
    /// The first validators.
    pub validators: Vec<GenesisValidator>,
    /// Application genesis (accounts, parameters), as the app defines it.
    #[serde(default)]
    pub app: serde_json::Value,
}

impl Genesis {
    /// The validators as (public key, power).
    pub fn validator_keys(&self) -> Result<Vec<([u8; 32], u64)>, String> {
        self.validators
            .iter()
            .map(|v| Ok((parse_key(&v.public_key)?, v.power)))
            .collect()
    }
}

/// Parses 32 bytes of hex.
pub fn parse_key(s: &str) -> Result<[u8; 32], String> {
    let b = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| format!("{} bytes, want 32", b.len()))
}

/// The validator key file.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyFile {
    /// Ed25519 secret key (seed), hex.
    pub secret_key: String,
    /// Its public key, hex.
    pub public_key: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyFile({})", self.public_key)
    }
}

impl KeyFile {
    /// A fresh random key.
    pub fn generate() -> Self {
        let sk = malachitebft_signing_ed25519::PrivateKey::generate(rand::rngs::OsRng);
        Self::from_secret(sk.inner().to_bytes())
    }

    /// The key file of a secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let sk = malachitebft_signing_ed25519::PrivateKey::from(secret);
        KeyFile {
            secret_key: hex::encode(secret),
            public_key: hex::encode(sk.public_key().as_bytes()),
        }
    }

    /// The secret bytes.
    pub fn secret(&self) -> Result<[u8; 32], String> {
        parse_key(&self.secret_key).map_err(|e| format!("secret_key: {e}"))
    }
}

/// Node configuration (`node.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NodeFile {
    /// A name for logs.
    pub moniker: String,
    /// Consensus p2p listen address.
    pub p2p_listen: SocketAddr,
    /// Peers to stay connected to (`IP:PORT`).
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
    /// HTTP API listen address.
    pub http_listen: SocketAddr,
    /// The other validators' HTTP API addresses: transactions submitted
    /// here are forwarded to their mempools (see `relay`), so the next
    /// proposer, whoever it is, can include them.
    #[serde(default)]
    pub relay_to: Vec<SocketAddr>,
    /// With an empty mempool, the proposer waits up to this long for a
    /// transaction before proposing an empty block.
    #[serde(default = "default_empty_block_ms")]
    pub empty_block_ms: u64,
    /// Most transactions in one block.
    #[serde(default = "default_max_block_txs")]
    pub max_block_txs: usize,
}

fn default_empty_block_ms() -> u64 {
    1000
}

fn default_max_block_txs() -> usize {
    10_000
}

/// Paths of a data directory.
#[derive(Clone, Debug)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// `genesis.json`.
    pub fn genesis(&self) -> PathBuf {
        self.0.join("genesis.json")
    }
    /// `node_key.json`.
    pub fn key(&self) -> PathBuf {
        self.0.join("node_key.json")
    }
    /// `node.json`.
    pub fn node(&self) -> PathBuf {
        self.0.join("node.json")
    }
    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.0.join("db").join("ledger.redb")
    }
    /// The WAL directory.
    pub fn wal(&self) -> PathBuf {
        self.0.join("wal")
    }
}

/// Reads a JSON file with a clear error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let s = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&s).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a JSON file (pretty), creating parent directories; `private`
/// makes it readable by the owner only.
pub fn write_json<T: Serialize>(path: &Path, v: &T, private: bool) -> Result<(), String> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(path, s + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}
