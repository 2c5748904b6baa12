//! `btl key rotate`: move a ledger account to a new key.

use anyhow::Result;
use btl_ledger::{PublicKey, TxBody};
use serde_json::json;

use crate::cmd::key;
use crate::cmd::registry_common::{self as rc, LedgerArgs};
use crate::passphrase::PassArgs;

/// Move your ledger account to a new key.
///
/// Submits a RotateKey transaction signed by the account's current key
/// (NAME): from then on the account signs with --to. Manifests signed with
/// the old key before the rotation stay valid. With --revoke-old the old key
/// is also marked revoked (use it when the key leaked): every manifest it
/// signed is then flagged by `btl verify`, `btl get` and the node.
///
/// Example: btl key rotate alice --to alice-2026 --revoke-old
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The account's current key.
    pub name: String,
    /// The new key (create it first with btl key new).
    #[arg(long, value_name = "NAME")]
    pub to: String,
    /// Also revoke the old key (compromise response).
    #[arg(long)]
    pub revoke_old: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub pass: PassArgs,
}

/// Runs `btl key rotate`.
pub fn rotate(ks: &btl_keystore::KeyStore, a: RotateArgs) -> Result<()> {
    let new = ks.info(&a.to)?;
    let old = ks.info(&a.name)?;
    let rt = rc::runtime()?;
    let (client, chain_id) = rt.block_on(rc::connect(&a.ledger.ledger))?;
    let signing = key::load(ks, &a.name, &a.pass)?;
    let body = TxBody::RotateKey {
        new_key: PublicKey(new.did.verifying_key().to_bytes()),
        revoke_old: a.revoke_old,
    };
    let (tx, status) =
        rc::submit_blocking(&rt, &client, &chain_id, &signing, &a.ledger, body, a.json)?;
    let height = status.height.unwrap_or_default();
    if a.json {
        let v = json!({
            "account": old.account.to_string(),
            "old_key": old.did.to_string(),
            "new_key": new.did.to_string(),
            "revoked_old": a.revoke_old,
            "tx_id": tx.to_string(),
            "height": height,
            "chain_id": chain_id,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Rotated account {} on {chain_id}", old.account);
        println!(
            "Old key:      {}{}",
            old.did,
            if a.revoke_old { " (revoked)" } else { "" }
        );
        println!("New key:      {} ({})", new.did, a.to);
        println!("Transaction:  {tx} (height {height})");
    }
    Ok(())
}
