//! `btl ledger fund`: pay coins from this machine's validator account to
//! another account, so that a key made after the genesis can pay fees on
//! a local chain (the one `btl up` embeds, or one from `btl ledger init`).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use btl_consensus::config::{parse_key, read_json, DataDir, KeyFile};
use btl_ledger::{Address, PublicKey, TxBody};
use btl_manifest::{DidKey, SigningKey};
use serde_json::json;

use crate::cmd::key;
use crate::cmd::registry_common::{self as rc, LedgerArgs};

/// Default amount: enough for a million registrations at the default fee.
const DEFAULT_AMOUNT: u64 = 1_000_000;

/// Send coins from this machine's validator account to an account.
///
/// The validator's key pays: the one in the ledger data directory (for
/// `btl up`, DATA_DIR/ledger, which is also this command's default). Use
/// it on a local chain to let a key made after the genesis pay
/// registration fees, e.g. before `btl publish`.
///
/// TO is a key name from your keystore, a did:key, or a btl1… account.
///
/// Example: btl key new alice && btl ledger fund alice && btl publish album.torrent --key alice --license CC-BY-4.0
#[derive(Debug, clap::Args)]
pub struct FundArgs {
    /// Who to fund: a key name (see btl key list), a did:key or a btl1… account.
    pub to: String,
    /// How many coins to send.
    #[arg(long, default_value_t = DEFAULT_AMOUNT, value_name = "COINS")]
    pub amount: u64,
    /// The validator's data directory (holding key.json) [default:
    /// $XDG_DATA_HOME/btl/ledger or ~/.local/share/btl/ledger, the ledger
    /// of btl up's default data directory].
    #[arg(long, env = "BTL_LEDGER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The keys directory, to look TO up by name [default: $XDG_DATA_HOME/btl/keys].
    #[arg(long, env = "BTL_KEYS_DIR", value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// The account TO names: a btl1 address, a did:key, or a key's name.
fn recipient(a: &FundArgs) -> Result<Address> {
    if a.to.starts_with("btl1") {
        return a
            .to
            .parse()
            .map_err(|e| anyhow!("{:?} is not a valid account: {e}", a.to));
    }
    if a.to.starts_with(btl_manifest::did::DID_KEY_PREFIX) {
        let did: DidKey =
            a.to.parse()
                .map_err(|e| anyhow!("{:?} is not a valid did:key: {e}", a.to))?;
        return Ok(PublicKey(did.public_bytes()).address());
    }
    let ks = key::store(a.keys_dir.as_deref())?;
    let info = ks.info(&a.to).with_context(|| {
        format!(
            "{:?} is neither an account (btl1…), a did:key, nor a key in {}",
            a.to,
            ks.dir().display()
        )
    })?;
    Ok(PublicKey(info.did.public_bytes()).address())
}

/// The validator's signing key from its data directory.
fn validator_key(dir: &DataDir) -> Result<SigningKey> {
    let path = dir.key();
    if !path.exists() {
        bail!(
            "no validator key at {} (start the ledger once with btl up or btl ledger run, or \
             point --dir at the validator's data directory)",
            path.display()
        );
    }
    let kf: KeyFile = read_json(&path).map_err(|e| anyhow!(e))?;
    let secret: [u8; 32] = hex::decode(kf.secret_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{}: secret_key is not 32 bytes of hex", path.display()))?;
    let sk = SigningKey::from_bytes(&secret);
    let public = parse_key(&kf.public_key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if sk.verifying_key().to_bytes() != public {
        bail!(
            "{}: public_key does not belong to secret_key",
            path.display()
        );
    }
    Ok(sk)
}

/// Runs `btl ledger fund`.
pub fn run(a: FundArgs) -> Result<()> {
    if a.amount == 0 {
        bail!("--amount must be at least 1");
    }
    let to = recipient(&a)?;
    let dir = DataDir(match &a.dir {
        Some(d) => d.clone(),
        None => crate::cmd::ledger::default_dir()?,
    });
    let signing = validator_key(&dir)?;
    let from = rc::address_of(&signing);
    let rt = rc::runtime()?;
    let (client, chain_id) = rt.block_on(rc::connect(&a.ledger.ledger))?;
    let body = TxBody::Transfer {
        to,
        amount: a.amount,
    };
    let (tx, status) =
        rc::submit_blocking(&rt, &client, &chain_id, &signing, &a.ledger, body, a.json)
            .with_context(|| {
                format!(
                    "cannot pay from the validator account {from} (key {}) on {chain_id}",
                    dir.key().display()
                )
            })?;
    let height = status.height.unwrap_or_default();
    let balance = rt
        .block_on(client.account(&to))
        .ok()
        .flatten()
        .map(|v| v.account.balance);
    if a.json {
        let v = json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "amount": a.amount,
            "balance": balance,
            "tx_id": tx.to_string(),
            "height": height,
            "chain_id": chain_id,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Sent {} coins to {to} on {chain_id}", a.amount);
        if let Some(b) = balance {
            println!("Balance:      {b}");
        }
        println!("From:         {from} (validator)");
        println!("Transaction:  {tx} (height {height})");
    }
    Ok(())
}
