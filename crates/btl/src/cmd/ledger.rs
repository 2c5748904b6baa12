//! `btl ledger`: create and run ledger validators.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use btl_consensus::config::{
    parse_key, read_json, write_json, DataDir, Genesis, GenesisValidator, KeyFile, NodeFile,
};
use btl_consensus::node::{self, RunOptions};
use serde_json::json;

/// Create and run validators of the bitorrent ledger (Malachite BFT).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// `btl ledger` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a genesis, keys and node configuration.
    ///
    /// With no options: one validator in the default data directory, the
    /// one-machine setup. With --validators N: N validators on loopback in
    /// DIR/node0 … DIR/node{N-1}, all sharing one genesis (a local test
    /// cluster). With --validator-key: a genesis listing the given public
    /// keys (each operator made theirs with `btl ledger keygen`).
    Init(InitArgs),
    /// Make a validator key in a data directory and print its public key.
    Keygen(KeygenArgs),
    /// Run a validator (or a full node when the data directory has no
    /// key) with its HTTP API.
    ///
    /// With no arguments: the one-machine default, one validator in the
    /// default data directory, initialised on first run.
    Run(RunArgs),
    /// Re-execute every stored block from the genesis into a scratch
    /// database and compare the state with the node's, and the replayed
    /// state root with the one in the tip block's header (the node must be
    /// stopped). Exits non-zero on a mismatch.
    Replay(ReplayArgs),
    /// Measure register-torrent throughput and finality latency against
    /// running nodes (see scripts/bench-ledger.sh).
    Bench(crate::cmd::ledger_bench::BenchArgs),
    /// Send coins from this machine's validator account to an account
    /// (so a new key can pay fees on a local chain).
    Fund(crate::cmd::ledger_fund::FundArgs),
}

/// `btl ledger replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Data directory [default: as for init].
    #[arg(long, env = "BTL_LEDGER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// `btl ledger init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Data directory [default: $XDG_DATA_HOME/btl/ledger or
    /// ~/.local/share/btl/ledger].
    #[arg(long, env = "BTL_LEDGER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Number of local validators to create (each in DIR/nodeI).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub validators: usize,
    /// A validator public key (hex) for the genesis, optionally with its
    /// power as HEX:POWER; repeat for each validator.
    #[arg(
        long = "validator-key",
        value_name = "HEX[:POWER]",
        conflicts_with = "validators"
    )]
    pub validator_keys: Vec<String>,
    /// Chain id.
    #[arg(long, default_value = "btl-local", env = "BTL_CHAIN_ID")]
    pub chain_id: String,
    /// First port: validator I listens for consensus on BASE+2I and serves
    /// HTTP on BASE+2I+1 (127.0.0.1).
    #[arg(long, default_value_t = 26656, value_name = "PORT")]
    pub base_port: u16,
    /// Voting power of each created validator.
    #[arg(long, default_value_t = 100)]
    pub power: u64,
    /// Wait this long (ms) for a transaction before proposing an empty block.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub empty_block_ms: u64,
    /// Fund an account in the genesis: HEX_KEY:BALANCE (repeatable).
    #[arg(long, value_name = "HEX:BALANCE")]
    pub fund: Vec<String>,
    /// Fund N deterministic benchmark accounts (secret i = SHA-256("btl-bench" ‖ u32 i)).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub bench_accounts: u32,
    /// Overwrite an existing genesis.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// `btl ledger keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Data directory [default: as for init].
    #[arg(long, env = "BTL_LEDGER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `btl ledger run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Data directory [default: as for init].
    #[arg(long, env = "BTL_LEDGER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// HTTP API address, overriding node.json (port 0: any free port).
    #[arg(long, env = "BTL_LEDGER_HTTP", value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Print events as JSON lines (the first says where the API listens).
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Init(a) => init(a),
        Command::Keygen(a) => keygen(a),
        Command::Run(a) => run_node(a),
        Command::Replay(a) => replay(a),
        Command::Bench(a) => crate::cmd::ledger_bench::run(a),
        Command::Fund(a) => crate::cmd::ledger_fund::run(a),
    }
}

fn replay(a: ReplayArgs) -> Result<()> {
    let dir = DataDir(match a.dir {
        Some(d) => d,
        None => default_dir()?,
    });
    let genesis: Genesis = read_json(&dir.genesis()).map_err(|e| anyhow!(e))?;
    let app = crate::cmd::ledger_app::make(&genesis)?;
    let store = btl_consensus::store::Store::open(&dir.db())
        .map_err(|e| anyhow!("{}: {e} (is the node still running?)", dir.db().display()))?;
    let scratch = tempfile_dir(&dir)?;
    let r = btl_consensus::replay::replay(&store, app.as_ref(), &scratch.join("replay.redb"))
        .map_err(|e| anyhow!(e));
    let _ = std::fs::remove_dir_all(&scratch);
    let r = r?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        eprintln!(
            "replayed {} blocks: state {}",
            r.height,
            if r.matches { "matches" } else { "DIFFERS" }
        );
        if let (Some(tip), Some(replayed)) = (&r.state_root, &r.replayed_state_root) {
            eprintln!("state root: tip header {tip}, replayed {replayed}");
        }
    }
    if !r.matches {
        bail!("replayed state differs from the stored state");
    }
    Ok(())
}

fn tempfile_dir(dir: &DataDir) -> Result<PathBuf> {
    let p = dir.0.join(format!("replay-{}", std::process::id()));
    std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(p)
}

/// The default data directory.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(x).join("btl/ledger"));
    }
    let home =
        std::env::var_os("HOME").context("cannot find a data directory: set --dir or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/btl/ledger"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn loopback(port: u32) -> Result<SocketAddr> {
    let p = u16::try_from(port).map_err(|_| anyhow!("port {port} out of range"))?;
    Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
}

fn init(a: InitArgs) -> Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => default_dir()?,
    };
    if a.validators == 0 || a.validators > 100 {
        bail!("--validators must be between 1 and 100");
    }
    let cluster = a.validators > 1;
    let dirs: Vec<DataDir> = if cluster {
        (0..a.validators)
            .map(|i| DataDir(dir.join(format!("node{i}"))))
            .collect()
    } else {
        vec![DataDir(dir.clone())]
    };
    for d in &dirs {
        if d.genesis().exists() && !a.force {
            bail!(
                "{} exists; use --force to overwrite (the chain's data stays)",
                d.genesis().display()
            );
        }
    }
    // Keys: existing ones are kept.
    let mut keys = Vec::new();
    for d in &dirs {
        let k: KeyFile = if d.key().exists() {
            read_json(&d.key()).map_err(|e| anyhow!(e))?
        } else {
            let k = KeyFile::generate();
            write_json(&d.key(), &k, true).map_err(|e| anyhow!(e))?;
            k
        };
        keys.push(k);
    }
    let validators: Vec<GenesisValidator> = if a.validator_keys.is_empty() {
        keys.iter()
            .map(|k| GenesisValidator {
                public_key: k.public_key.clone(),
                power: a.power,
            })
            .collect()
    } else {
        a.validator_keys
            .iter()
            .map(|s| {
                let (k, p) = match s.split_once(':') {
                    Some((k, p)) => (k, p.parse().with_context(|| format!("power in {s:?}"))?),
                    None => (s.as_str(), a.power),
                };
                parse_key(k).map_err(|e| anyhow!("--validator-key {k}: {e}"))?;
                Ok(GenesisValidator {
                    public_key: k.to_lowercase(),
                    power: p,
                })
            })
            .collect::<Result<_>>()?
    };
    let time_ms = now_ms();
    let app = ledger_genesis(&a, &validators, time_ms)?;
    let genesis = Genesis {
        chain_id: a.chain_id.clone(),
        time_ms,
        validators,
        app,
    };
    let base = u32::from(a.base_port);
    let p2p: Vec<SocketAddr> = (0..dirs.len() as u32)
        .map(|i| loopback(base + 2 * i))
        .collect::<Result<_>>()?;
    for (i, d) in dirs.iter().enumerate() {
        write_json(&d.genesis(), &genesis, false).map_err(|e| anyhow!(e))?;
        let node = NodeFile {
            moniker: format!("node{i}"),
            p2p_listen: p2p[i],
            peers: p2p
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, a)| *a)
                .collect(),
            http_listen: loopback(base + 2 * i as u32 + 1)?,
            relay_to: (0..dirs.len() as u32)
                .filter(|&j| j != i as u32)
                .map(|j| loopback(base + 2 * j + 1))
                .collect::<Result<_>>()?,
            empty_block_ms: a.empty_block_ms,
            max_block_txs: 10_000,
        };
        write_json(&d.node(), &node, false).map_err(|e| anyhow!(e))?;
    }
    if a.json {
        let nodes: Vec<_> = dirs
            .iter()
            .zip(&keys)
            .map(|(d, k)| json!({"dir": d.0, "public_key": k.public_key}))
            .collect();
        println!(
            "{}",
            json!({"event": "initialized", "chain_id": a.chain_id, "nodes": nodes})
        );
    } else {
        for (d, k) in dirs.iter().zip(&keys) {
            eprintln!("validator {} in {}", k.public_key, d.0.display());
        }
        eprintln!(
            "genesis for chain {:?} with {} validator(s); start with: btl ledger run{}",
            a.chain_id,
            genesis.validators.len(),
            if cluster {
                format!(" --dir {}", dirs[0].0.display())
            } else if a.dir.is_some() {
                format!(" --dir {}", dir.display())
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The secret of benchmark account `i`.
pub fn bench_secret(i: u32) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"btl-bench");
    h.update(i.to_be_bytes());
    h.finalize().into()
}

/// Balance of each validator account and benchmark account.
const DEFAULT_BALANCE: u64 = 1_000_000_000_000;

fn ledger_genesis(
    a: &InitArgs,
    validators: &[GenesisValidator],
    time_ms: u64,
) -> Result<serde_json::Value> {
    use btl_ledger as l;
    let mut g = l::Genesis {
        chain_id: a.chain_id.clone(),
        genesis_time_ms: time_ms,
        validators: Vec::new(),
        accounts: Vec::new(),
        params: l::Params::default(),
    };
    for v in validators {
        let pk = l::PublicKey(parse_key(&v.public_key).map_err(|e| anyhow!(e))?);
        g.validators.push(l::GenesisValidator {
            pubkey: pk,
            stake: v.power,
        });
        g.accounts.push(l::GenesisAccount {
            address: pk.address(),
            balance: DEFAULT_BALANCE,
        });
    }
    for f in &a.fund {
        let (k, b) = f
            .split_once(':')
            .ok_or_else(|| anyhow!("--fund {f}: want HEX:BALANCE"))?;
        let pk = l::PublicKey(parse_key(k).map_err(|e| anyhow!("--fund {k}: {e}"))?);
        let balance = b.parse().with_context(|| format!("--fund balance {b:?}"))?;
        g.accounts.push(l::GenesisAccount {
            address: pk.address(),
            balance,
        });
    }
    for i in 0..a.bench_accounts {
        let sk = l::ed25519_dalek::SigningKey::from_bytes(&bench_secret(i));
        let pk = l::PublicKey::from_signing_key(&sk);
        g.accounts.push(l::GenesisAccount {
            address: pk.address(),
            balance: DEFAULT_BALANCE,
        });
    }
    g.validate().map_err(|e| anyhow!("genesis: {e}"))?;
    Ok(serde_json::to_value(&g)?)
}

fn keygen(a: KeygenArgs) -> Result<()> {
    let dir = DataDir(match a.dir {
        Some(d) => d,
        None => default_dir()?,
    });
    if dir.key().exists() {
        bail!("{} exists; not overwriting a key", dir.key().display());
    }
    let k = KeyFile::generate();
    write_json(&dir.key(), &k, true).map_err(|e| anyhow!(e))?;
    println!("{}", k.public_key);
    Ok(())
}

fn run_node(a: RunArgs) -> Result<()> {
    let explicit = a.dir.is_some();
    let dir = DataDir(match a.dir.clone() {
        Some(d) => d,
        None => default_dir()?,
    });
    if !dir.genesis().exists() {
        if explicit {
            bail!(
                "{} has no genesis.json: run `btl ledger init --dir {}` first",
                dir.0.display(),
                dir.0.display()
            );
        }
        init(InitArgs {
            dir: Some(dir.0.clone()),
            validators: 1,
            validator_keys: vec![],
            chain_id: "btl-local".into(),
            base_port: 26656,
            power: 100,
            empty_block_ms: 1000,
            fund: vec![],
            bench_accounts: 0,
            force: false,
            json: false,
        })?;
    }
    let genesis: Genesis = read_json(&dir.genesis()).map_err(|e| anyhow!(e))?;
    let app = crate::cmd::ledger_app::make(&genesis)?;
    let rt = crate::cmd::engine::runtime()?;
    rt.block_on(async move {
        let opts = RunOptions {
            http_listen: a.http,
            ..Default::default()
        };
        let handle = node::start(&dir, app, opts)
            .await
            .map_err(|e| anyhow!(e))
            .context("cannot start the ledger node")?;
        let status = handle
            .shared
            .status
            .read()
            .map(|s| s.clone())
            .unwrap_or_default();
        if a.json {
            println!(
                "{}",
                json!({"event": "listening", "http": handle.http_addr.to_string(),
                       "chain_id": status.chain_id, "address": status.address})
            );
        } else {
            eprintln!(
                "ledger node for chain {:?}: API at http://{} (validator {})",
                status.chain_id,
                handle.http_addr,
                status.address.as_deref().unwrap_or("none: full node")
            );
        }
        let shared = handle.shared.clone();
        tokio::select! {
            r = handle.wait() => r.map_err(|e| anyhow!(e)),
            _ = shutdown_signal() => {
                let tip = shared.store.tip().unwrap_or(0);
                if a.json {
                    println!("{}", json!({"event": "stopped", "height": tip}));
                } else {
                    eprintln!("stopped at height {tip}");
                }
                Ok(())
            }
        }
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
