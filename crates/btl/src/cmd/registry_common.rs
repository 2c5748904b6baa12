//! Shared by `btl publish`, `btl license` and `btl verify`: the ledger
//! flag, the runtime, building and submitting registry transactions.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use btl_ledger::{Address, PublicKey, SignedTx, Tx, TxBody, TxId};
use btl_manifest::SigningKey;
use btl_registry::api::TxStatus;
use btl_registry::{ClientError, RegistryClient};
use indicatif::{ProgressBar, ProgressStyle};

/// The ledger to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerArgs {
    /// The ledger node's HTTP API.
    #[arg(long, env = "BTL_LEDGER", value_name = "URL", default_value = btl_registry::DEFAULT_LEDGER_URL)]
    pub ledger: String,
    /// The transaction fee to offer (the chain's minimum is 1 unless its
    /// genesis says otherwise).
    #[arg(long, default_value_t = 1, value_name = "AMOUNT")]
    pub fee: u64,
    /// How long to wait for the ledger to commit and cosign, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub wait: u64,
}

/// A single-threaded runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A spinner on stderr (hidden when stderr is not a terminal or with --json).
pub fn spinner(quiet: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

/// The ledger account a key signs for: the account its address names.
pub fn address_of(key: &SigningKey) -> Address {
    PublicKey::from_signing_key(key).address()
}

/// Signs `body` as the next transaction of the key's account, checks the
/// fee is affordable, submits it and waits for it to be committed.
pub async fn submit_and_wait(
    client: &RegistryClient,
    chain_id: &str,
    key: &SigningKey,
    fee: u64,
    body: TxBody,
    deadline: Instant,
    pb: &ProgressBar,
) -> Result<(TxId, TxStatus)> {
    let from = address_of(key);
    let acc = client.account(&from).await?;
    let (nonce, balance) = acc
        .map(|a| (a.account.nonce, a.account.balance))
        .unwrap_or((0, 0));
    if balance < fee {
        bail!(
            "account {from} cannot pay the fee: its balance is {balance}, the transaction costs {fee} \
             (on a local chain, such as btl up's: btl ledger fund {from}; elsewhere, a transfer \
             from a funded account)"
        );
    }
    let kind = body.kind_name();
    let tx: SignedTx = Tx {
        from,
        nonce,
        fee,
        body,
    }
    .sign(chain_id, key);
    pb.set_message(format!("submitting the {kind} transaction"));
    let id = match client.submit(&tx).await {
        Ok(id) => id,
        Err(ClientError::Rejected(why)) => {
            bail!("the ledger refused the {kind} transaction: {why}")
        }
        Err(e) => return Err(e.into()),
    };
    pb.set_message(format!("waiting for {} to be final", short(&id)));
    let st = match client.wait_committed(&id, deadline).await {
        Ok(s) => s,
        Err(ClientError::Rejected(why)) => {
            bail!("the ledger refused the {kind} transaction: {why}")
        }
        Err(e) => return Err(e.into()),
    };
    Ok((id, st))
}

/// [`submit_and_wait`] for a command: a spinner on stderr (unless
/// `quiet`) while it runs, the fee and deadline from `ledger`.
pub fn submit_blocking(
    rt: &tokio::runtime::Runtime,
    client: &RegistryClient,
    chain_id: &str,
    key: &SigningKey,
    ledger: &LedgerArgs,
    body: TxBody,
    quiet: bool,
) -> Result<(TxId, TxStatus)> {
    let pb = spinner(quiet);
    let deadline = Instant::now() + Duration::from_secs(ledger.wait);
    let r = rt.block_on(submit_and_wait(
        client, chain_id, key, ledger.fee, body, deadline, &pb,
    ));
    pb.finish_and_clear();
    r
}

/// The first 12 hex digits of a transaction id.
pub fn short(id: &TxId) -> String {
    hex::encode(&id.0[..6])
}

/// The ledger client, with the chain id it serves.
pub async fn connect(url: &str) -> Result<(RegistryClient, String)> {
    let client = RegistryClient::new(url)?;
    let st = client.status().await?;
    Ok((client, st.chain_id))
}
