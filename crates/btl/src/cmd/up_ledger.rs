//! The ledger that `btl up` embeds: one validator of its own chain, in
//! `DATA/ledger/` (key, genesis, node.json, database, WAL), running the
//! real Malachite consensus and the ledger node's HTTP API in-process.
//!
//! The first start makes the validator key and a genesis (chain
//! `btl-local`, the validator staked and funded); later starts reuse them,
//! so the chain resumes at its height, after a crash too (the consensus
//! WAL and redb store are crash-safe).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use btl_consensus::config::{
    parse_key, read_json, write_json, DataDir, Genesis, GenesisValidator, KeyFile, NodeFile,
};
use btl_consensus::node::{self, NodeHandle, RunOptions};

/// Chain id of the ledger `btl up` creates.
pub const CHAIN_ID: &str = "btl-local";
/// Default address of the embedded ledger's HTTP API (the default of
/// `btl ledger run` and of `--ledger` in the other commands).
pub const DEFAULT_HTTP: &str = "127.0.0.1:26657";
/// Default address of the embedded ledger's consensus listener.
pub const DEFAULT_P2P: &str = "127.0.0.1:26656";
/// Voting power (stake) of the one validator.
const POWER: u64 = 100;
/// Balance of the validator's account at genesis.
const BALANCE: u64 = 1_000_000_000_000;
/// Default of `--ledger-idle-ms`: with no transactions, one empty block
/// this often (a busy chain commits as soon as transactions arrive).
pub const DEFAULT_IDLE_MS: u64 = 30_000;

/// Where the embedded ledger listens, and its idle block interval.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// HTTP API.
    pub http: SocketAddr,
    /// Consensus (libp2p) listener.
    pub p2p: SocketAddr,
    /// With no transactions, wait this long (ms) before an empty block.
    pub idle_ms: u64,
}

/// The embedded ledger's directory under a node's data directory.
pub fn dir(data_dir: &Path) -> DataDir {
    DataDir(data_dir.join("ledger"))
}

/// `addr`, or a free port on its IP when `addr` is `default` and taken
/// (another ledger on this machine): the same rule as the tracker's.
fn free_if_default_taken(addr: SocketAddr, default: &str, what: &str) -> SocketAddr {
    if addr.to_string() != default || TcpListener::bind(addr).is_ok() {
        return addr;
    }
    eprintln!(
        "warning: {what} port {} is taken; using a free port",
        addr.port()
    );
    SocketAddr::new(addr.ip(), 0)
}

/// Creates the ledger on first start (key, genesis, node.json) and
/// updates node.json's consensus address and idle interval when they
/// changed.
pub fn prepare(dir: &DataDir, ports: Ports) -> Result<bool> {
    std::fs::create_dir_all(&dir.0)
        .with_context(|| format!("cannot create {}", dir.0.display()))?;
    let fresh = !dir.genesis().exists();
    if fresh {
        let key: KeyFile = if dir.key().exists() {
            read_json(&dir.key()).map_err(|e| anyhow!(e))?
        } else {
            let k = KeyFile::generate();
            write_json(&dir.key(), &k, true).map_err(|e| anyhow!(e))?;
            k
        };
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let validators = vec![GenesisValidator {
            public_key: key.public_key.clone(),
            power: POWER,
        }];
        let app = ledger_genesis(&key.public_key, time_ms)?;
        let genesis = Genesis {
            chain_id: CHAIN_ID.into(),
            time_ms,
            validators,
            app,
        };
        write_json(&dir.node(), &node_file(ports), false).map_err(|e| anyhow!(e))?;
        // The genesis last: its presence means "initialised".
        write_json(&dir.genesis(), &genesis, false).map_err(|e| anyhow!(e))?;
    } else {
        let mut nf: NodeFile = read_json(&dir.node()).map_err(|e| anyhow!(e))?;
        if nf.p2p_listen != ports.p2p || nf.empty_block_ms != ports.idle_ms {
            nf.p2p_listen = ports.p2p;
            nf.empty_block_ms = ports.idle_ms;
            write_json(&dir.node(), &nf, false).map_err(|e| anyhow!(e))?;
        }
    }
    Ok(fresh)
}

fn node_file(ports: Ports) -> NodeFile {
    NodeFile {
        moniker: "btl-up".into(),
        p2p_listen: ports.p2p,
        peers: Vec::new(),
        http_listen: SocketAddr::from(([127, 0, 0, 1], 26657)),
        relay_to: Vec::new(),
        empty_block_ms: ports.idle_ms,
        max_block_txs: 10_000,
    }
}

/// The ledger section of the genesis: the validator staked and funded.
fn ledger_genesis(public_key: &str, time_ms: u64) -> Result<serde_json::Value> {
    use btl_ledger as l;
    let pk = l::PublicKey(parse_key(public_key).map_err(|e| anyhow!(e))?);
    let g = l::Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: time_ms,
        validators: vec![l::GenesisValidator {
            pubkey: pk,
            stake: POWER,
        }],
        accounts: vec![l::GenesisAccount {
            address: pk.address(),
            balance: BALANCE,
        }],
        params: l::Params::default(),
    };
    g.validate().map_err(|e| anyhow!("genesis: {e}"))?;
    Ok(serde_json::to_value(&g)?)
}

/// Starts the embedded ledger (creating it on first start).
pub async fn start(data_dir: &Path, ports: Ports) -> Result<NodeHandle> {
    let dir = dir(data_dir);
    let ports = Ports {
        http: free_if_default_taken(ports.http, DEFAULT_HTTP, "ledger HTTP"),
        p2p: free_if_default_taken(ports.p2p, DEFAULT_P2P, "ledger consensus"),
        idle_ms: ports.idle_ms,
    };
    prepare(&dir, ports)?;
    let genesis: Genesis = read_json(&dir.genesis()).map_err(|e| anyhow!(e))?;
    let app = crate::cmd::ledger_app::make(&genesis)?;
    let opts = RunOptions {
        http_listen: Some(ports.http),
        ..Default::default()
    };
    node::start(&dir, app, opts)
        .await
        .map_err(|e| anyhow!(e))
        .with_context(|| {
            format!(
                "cannot start the embedded ledger in {} (set --ledger-http/--ledger-p2p, follow \
                 another ledger with --ledger-url, or run without one: --no-ledger)",
                dir.0.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_once_and_keeps_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path());
        let ports = Ports {
            http: "127.0.0.1:0".parse().unwrap(),
            p2p: "127.0.0.1:0".parse().unwrap(),
            idle_ms: 500,
        };
        assert!(prepare(&d, ports).unwrap());
        let key = std::fs::read(d.key()).unwrap();
        let genesis = std::fs::read(d.genesis()).unwrap();
        let later = Ports {
            p2p: "127.0.0.1:40000".parse().unwrap(),
            ..ports
        };
        assert!(!prepare(&d, later).unwrap());
        assert_eq!(std::fs::read(d.key()).unwrap(), key);
        assert_eq!(std::fs::read(d.genesis()).unwrap(), genesis);
        let nf: NodeFile = read_json(&d.node()).unwrap();
        assert_eq!(nf.p2p_listen, later.p2p);
        assert_eq!(nf.empty_block_ms, 500);
        let g: Genesis = read_json(&d.genesis()).unwrap();
        assert_eq!(g.chain_id, CHAIN_ID);
        crate::cmd::ledger_app::make(&g).unwrap();
    }
}
