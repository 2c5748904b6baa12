//! Replay from genesis: re-executes every stored block into a fresh store
//! and compares the resulting state with the node's, entry by entry (as
//! a SHA-256 digest over the sorted state), and the state root the tip
//! header commits to with the root of the replayed state. Used after a
//! crash to show that nothing committed was lost or changed.
//!
//! Also here: [`recover_state`], which brings the state database up to the
//! chain's tip after a stop (state is written behind the chain).

use std::path::Path;

use serde::Serialize;

use crate::app::App;
use crate::context::BlockHash;
use crate::store::{CommitBatch, Store};

/// The outcome of a replay.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    /// Blocks replayed.
    pub height: u64,
    /// Digest of the node's stored state.
    pub stored_digest: String,
    /// Digest of the replayed state.
    pub replayed_digest: String,
    /// The state root in the tip block's header (hex), if the app has
    /// state roots.
    pub state_root: Option<String>,
    /// The state root of the replayed state (hex), if the app has state
    /// roots.
    pub replayed_state_root: Option<String>,
    /// Whether the digests are equal, and the roots too.
    pub matches: bool,
}

/// The stored block at `h`.
fn stored_block(store: &Store, h: u64) -> Result<Vec<u8>, String> {
    store
        .block(h)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block {h} missing"))
}

/// Executes block `h` (whose parent hash is `prev`) over the state of
/// `state`.
fn execute(
    state: &Store,
    app: &dyn App,
    h: u64,
    prev: [u8; 32],
    block: &[u8],
) -> Result<crate::app::Executed, String> {
    let snap = state.snapshot().map_err(|e| e.to_string())?;
    app.check(&snap, h, prev, block)
        .map_err(|e| format!("stored block {h} does not re-execute: {e}"))
}

/// Brings the state of `store` (not in use by a running node) up to its
/// chain's tip by re-executing the blocks above the stored state height,
/// starting from the genesis state if none is stored. Returns how many
/// blocks were re-executed.
pub fn recover_state(store: &Store, app: &dyn App) -> Result<u64, String> {
    let tip = store.tip().map_err(|e| e.to_string())?;
    let from = match store.state_height().map_err(|e| e.to_string())? {
        Some(h) if h >= tip => return Ok(0),
        Some(h) => h + 1,
        None => {
            store
                .write_state_now(0, &app.genesis_state())
                .map_err(|e| e.to_string())?;
            1
        }
    };
    let mut prev = match from {
        1 => [0u8; 32],
        _ => BlockHash::of(&stored_block(store, from - 1)?).0,
    };
    for h in from..=tip {
        let block = stored_block(store, h)?;
        // The store's state is that of h - 1: nothing is queued above the
        // stored state during recovery.
        let x = execute(store, app, h, prev, &block)?;
        store
            .write_state_now(h, &x.diff)
            .map_err(|e| e.to_string())?;
        prev = BlockHash::of(&block).0;
    }
    Ok(tip + 1 - from)
}

/// Replays the blocks of `store` (which must not be in use by a running
/// node) into a scratch store under `scratch`.
pub fn replay(store: &Store, app: &dyn App, scratch: &Path) -> Result<ReplayReport, String> {
    recover_state(store, app)?;
    let tip = store.tip().map_err(|e| e.to_string())?;
    let fresh = Store::open(scratch).map_err(|e| e.to_string())?;
    fresh
        .commit(CommitBatch {
            height: 0,
            diff: app.genesis_state(),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    let mut prev = [0u8; 32];
    for h in 1..=tip {
        let block = stored_block(store, h)?;
        let x = execute(&fresh, app, h, prev, &block)?;
        prev = BlockHash::of(&block).0;
        fresh
            .commit(CommitBatch {
                height: h,
                block,
                cert: store
                    .cert(h)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default(),
                diff: x.diff,
                tx_ids: x.tx_ids,
                misses: Vec::new(),
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
    }
    let a = store.state_digest().map_err(|e| e.to_string())?;
    let b = fresh.state_digest().map_err(|e| e.to_string())?;
    let state_root = match store.block(tip).map_err(|e| e.to_string())? {
        Some(block) if tip > 0 => app.summarize(&block)?.state_root,
        _ => None,
    };
    let snap = fresh.snapshot().map_err(|e| e.to_string())?;
    let replayed_state_root = app.state_root(&snap).map(hex::encode);
    Ok(ReplayReport {
        height: tip,
        stored_digest: hex::encode(a),
        replayed_digest: hex::encode(b),
        matches: a == b && state_root == replayed_state_root,
        state_root,
        replayed_state_root,
    })
}
