//! Starting a node: Malachite's engine (network, WAL, sync, consensus
//! actors, as shipped) plus our application loop ([`crate::handler`]) and
//! the HTTP API ([`crate::http`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, P2pConfig, ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    ConsensusContext, NetworkContext, NetworkIdentity, RequestContext, Signer, SyncContext,
    WalContext,
};
use malachitebft_signing_ed25519::PrivateKey;
use serde::Serialize;
use tokio::sync::Notify;

use crate::app::App;
use crate::codec::BtlCodec;
use crate::config::{read_json, DataDir, Genesis, KeyFile, NodeFile};
use crate::context::{Address, BtlContext, MissRecord};
use crate::handler::Handler;
use crate::mempool::{Mempool, MempoolConfig};
use crate::signing::Ed25519Provider;
use crate::store::Store;

/// Malachite's node configuration.
#[derive(Clone, Debug)]
struct MalConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl malachitebft_app_channel::app::config::NodeConfig for MalConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn multiaddr(a: &SocketAddr) -> Result<malachitebft_engine::network::Multiaddr, String> {
    let s = match a {
        SocketAddr::V4(v) => format!("/ip4/{}/tcp/{}", v.ip(), v.port()),
        SocketAddr::V6(v) => format!("/ip6/{}/tcp/{}", v.ip(), v.port()),
    };
    s.parse().map_err(|e| format!("{a}: {e}"))
}

/// What the node reports about itself (the API's `/status`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeStatus {
    /// Chain id.
    pub chain_id: String,
    /// This node's validator address (hex), if it has a key.
    pub address: Option<String>,
    /// Height of the last committed block (0: none yet).
    pub height: u64,
    /// Hash of the last committed block (hex).
    pub tip_hash: String,
    /// Height and round consensus is working on.
    pub consensus_height: u64,
    /// Round consensus is in.
    pub consensus_round: i64,
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Time of the last commit (ms since the Unix epoch).
    pub last_commit_ms: u64,
    /// Validators of the current height: (address hex, voting power).
    pub validators: Vec<(String, u64)>,
    /// The transaction relay to each other validator (`relay_to`).
    pub relay: Vec<crate::relay::PeerStats>,
}

/// Shared between the consensus loop and the API.
pub struct Shared {
    /// The store.
    pub store: Store,
    /// The app.
    pub app: Arc<dyn App>,
    /// The mempool.
    pub mempool: Mutex<Mempool>,
    /// Signals a new transaction (the proposer may be waiting for one).
    pub tx_arrived: Notify,
    /// Status, updated by the consensus loop.
    pub status: RwLock<NodeStatus>,
    /// Signalled after each commit.
    pub committed: Notify,
    /// Genesis.
    pub genesis: Genesis,
    /// Manifest uploads per client address (window start, count).
    pub upload_limits:
        Mutex<std::collections::HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
    /// Forwards submitted transactions to the other validators.
    pub relay: Option<crate::relay::Relay>,
}

/// A running node.
pub struct NodeHandle {
    /// Shared state (store, mempool, status).
    pub shared: Arc<Shared>,
    /// The HTTP API's address.
    pub http_addr: SocketAddr,
    app_task: tokio::task::JoinHandle<Result<(), String>>,
    engine: malachitebft_app_channel::EngineHandle,
}

impl NodeHandle {
    /// Waits until the application loop ends (an error, or the engine
    /// stopped).
    pub async fn wait(self) -> Result<(), String> {
        let r = match self.app_task.await {
            Ok(r) => r,
            Err(e) => Err(format!("application task failed: {e}")),
        };
        self.engine.actor.stop(None);
        r
    }

    /// Stops the engine and the loop.
    pub async fn stop(self) {
        self.engine.actor.stop(None);
        self.app_task.abort();
        let _ = self.engine.handle.await;
    }
}

/// Options that are not in the data directory.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Override the HTTP listen address from node.json.
    pub http_listen: Option<SocketAddr>,
    /// Mempool limits.
    pub mempool: MempoolConfig,
}

/// Starts a node from its data directory.
pub async fn start(
    dir: &DataDir,
    app: Arc<dyn App>,
    opts: RunOptions,
) -> Result<NodeHandle, String> {
    let genesis: Genesis = read_json(&dir.genesis())?;
    let node: NodeFile = read_json(&dir.node())?;
    let key: Option<KeyFile> = if dir.key().exists() {
        Some(read_json(&dir.key())?)
    } else {
        None
    };
    let secret = key.as_ref().map(|k| k.secret()).transpose()?;

    std::fs::create_dir_all(dir.0.join("db")).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let store = Store::open(&dir.db()).map_err(|e| e.to_string())?;
    if store.meta("genesis").map_err(|e| e.to_string())?.is_none() {
        // First start: apply the genesis state.
        let batch = crate::store::CommitBatch {
            height: 0,
            diff: app.genesis_state(),
            ..Default::default()
        };
        store.commit(batch).map_err(|e| e.to_string())?;
        store.flush_state().map_err(|e| e.to_string())?;
        store
            .set_meta("state_layout", &app.state_layout().to_be_bytes())
            .map_err(|e| e.to_string())?;
        let gj = serde_json::to_vec(&genesis).map_err(|e| e.to_string())?;
        store.set_meta("genesis", &gj).map_err(|e| e.to_string())?;
    } else if let Some(stored) = store.meta("genesis").map_err(|e| e.to_string())? {
        check_layout(&store, app.state_layout(), dir)?;
        let g: Genesis =
            serde_json::from_slice(&stored).map_err(|e| format!("stored genesis: {e}"))?;
        if g != genesis {
            return Err(format!(
                "{} differs from the genesis this database was started with",
                dir.genesis().display()
            ));
        }
        let n = crate::replay::recover_state(&store, app.as_ref())?;
        if n > 0 {
            tracing::info!(
                blocks = n,
                "re-executed blocks whose state was not stored before a stop"
            );
        }
    }

    let ctx = BtlContext::new(&genesis.chain_id);
    if let Some(m) = store.meta("misses").map_err(|e| e.to_string())? {
        if let Ok(mut w) = ctx.misses.write() {
            *w = MissRecord::decode(&m);
        }
    }

    let private = secret.map(PrivateKey::from);
    let address = private
        .as_ref()
        .map(|k| Address::from_public_key(&k.public_key()));

    let consensus = ConsensusConfig {
        enabled: true,
        value_payload: ValuePayload::ProposalAndParts,
        p2p: P2pConfig {
            listen_addr: multiaddr(&node.p2p_listen)?,
            persistent_peers: node.peers.iter().map(multiaddr).collect::<Result<_, _>>()?,
            discovery: DiscoveryConfig {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let value_sync = ValueSyncConfig {
        enabled: true,
        status_update_interval: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        inactive_threshold: Duration::from_secs(30),
        batch_size: 10,
        ..Default::default()
    };
    let cfg = MalConfig {
        moniker: node.moniker.clone(),
        consensus,
        value_sync,
    };

    // Network identity: the libp2p key is the validator key (a full node
    // without one gets a fresh libp2p key).
    let (keypair, provider) = match &private {
        Some(k) => (
            Keypair::ed25519_from_bytes(k.inner().to_bytes())
                .map_err(|e| format!("libp2p key: {e}"))?,
            Ed25519Provider::new(k.clone(), &genesis.chain_id),
        ),
        None => (
            Keypair::generate_ed25519(),
            Ed25519Provider::verifier(&genesis.chain_id),
        ),
    };
    let identity = match (&private, address) {
        (Some(k), Some(addr)) => {
            let peer_id = keypair.public().to_peer_id().to_bytes();
            let proof = provider
                .sign_validator_proof(k.public_key().as_bytes().to_vec(), peer_id)
                .await
                .map_err(|e| format!("validator proof: {e}"))?;
            let proof_bytes: Bytes = BtlCodec
                .encode(&proof)
                .map_err(|e| format!("validator proof: {e}"))?;
            NetworkIdentity::new_validator(
                node.moniker.clone(),
                keypair,
                addr.to_string(),
                proof_bytes,
            )
        }
        _ => NetworkIdentity::new(node.moniker.clone(), keypair, None),
    };
    let consensus_ctx = match address {
        Some(addr) => ConsensusContext::new_validator(
            addr,
            Box::new(provider.clone()),
            Box::new(provider.clone()),
        ),
        None => ConsensusContext::new_full_node(Address([0; 32]), Box::new(provider.clone())),
    };

    let (channels, engine) = malachitebft_app_channel::start_engine(
        ctx.clone(),
        cfg,
        WalContext::new(dir.wal(), BtlCodec),
        NetworkContext::new(identity, BtlCodec),
        consensus_ctx,
        SyncContext::new(BtlCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| format!("cannot start consensus: {e}"))?;

    let shared = Arc::new(Shared {
        store: store.clone(),
        app: app.clone(),
        mempool: Mutex::new(Mempool::new(opts.mempool.clone())),
        tx_arrived: Notify::new(),
        status: RwLock::new(NodeStatus {
            chain_id: genesis.chain_id.clone(),
            address: address.map(|a| a.to_string()),
            ..Default::default()
        }),
        committed: Notify::new(),
        genesis: genesis.clone(),
        upload_limits: Mutex::new(Default::default()),
        relay: crate::relay::Relay::start(&node.relay_to),
    });

    let http_listen = opts.http_listen.unwrap_or(node.http_listen);
    let listener = tokio::net::TcpListener::bind(http_listen)
        .await
        .map_err(|e| format!("HTTP {http_listen}: {e}"))?;
    let http_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let router = crate::http::router(shared.clone());
    tokio::spawn(async move {
        let svc = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, svc).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });

    let handler = Handler::new(
        ctx,
        shared.clone(),
        address,
        private.map(|k| Ed25519Provider::new(k, &genesis.chain_id)),
        Duration::from_millis(node.empty_block_ms),
        node.max_block_txs,
    )?;
    let app_task = tokio::spawn(handler.run(channels));

    Ok(NodeHandle {
        shared,
        http_addr,
        app_task,
        engine,
    })
}

/// Refuses a database whose state layout is not the app's (a database
/// from before layouts were stamped counts as layout 1).
fn check_layout(store: &Store, want: u32, dir: &DataDir) -> Result<(), String> {
    let stored = match store.meta("state_layout").map_err(|e| e.to_string())? {
        None => 1,
        Some(b) => <[u8; 4]>::try_from(b.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| "stored state layout is corrupt".to_string())?,
    };
    if stored != want {
        return Err(format!(
            "{} holds state in layout {stored}, and this btl uses layout {want}: \
             move the directory aside, create a new one with `btl ledger init` \
             (same genesis) and let it sync the blocks from the other validators",
            dir.db().display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_database_in_another_state_layout_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir(tmp.path().to_path_buf());
        std::fs::create_dir_all(tmp.path().join("db")).unwrap();
        let store = Store::open(&dir.db()).unwrap();
        // Unstamped (from before stamping): layout 1.
        check_layout(&store, 1, &dir).unwrap();
        let e = check_layout(&store, 2, &dir).unwrap_err();
        assert!(
            e.contains("layout 1") && e.contains("btl ledger init"),
            "{e}"
        );
        store.set_meta("state_layout", &2u32.to_be_bytes()).unwrap();
        check_layout(&store, 2, &dir).unwrap();
        assert!(check_layout(&store, 3, &dir).is_err());
        store.set_meta("state_layout", b"x").unwrap();
        assert!(check_layout(&store, 2, &dir)
            .unwrap_err()
            .contains("corrupt"));
    }
}
