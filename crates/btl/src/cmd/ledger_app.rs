//! Which state machine `btl ledger run` runs.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use btl_consensus::app::App;
use btl_consensus::config::Genesis;

/// The app for a genesis: the bitorrent ledger of its ledger section
/// (`app`); a genesis without one is refused.
pub fn make(genesis: &Genesis) -> Result<Arc<dyn App>> {
    if genesis.app.get("chain_id").is_none() {
        return Err(anyhow!(
            "genesis.json has no ledger section (app.chain_id): write one with `btl ledger init`"
        ));
    }
    let g: btl_ledger::Genesis = serde_json::from_value(genesis.app.clone())
        .map_err(|e| anyhow!("genesis.json: ledger section: {e}"))?;
    if g.chain_id != genesis.chain_id {
        return Err(anyhow!(
            "genesis.json: the ledger's chain id differs from the node's"
        ));
    }
    let app = btl_consensus::ledger_app::LedgerApp::new(g).map_err(|e| anyhow!(e))?;
    Ok(app)
}
