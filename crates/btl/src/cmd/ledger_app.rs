//! Which state machine `btl ledger run` runs.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use btl_consensus::app::{App, DemoApp};
use btl_consensus::config::Genesis;

/// The app for a genesis.
pub fn make(genesis: &Genesis) -> Result<Arc<dyn App>> {
    let validators = genesis
        .validator_keys()
        .map_err(|e| anyhow!("genesis: {e}"))?;
    Ok(Arc::new(DemoApp { validators }))
}
