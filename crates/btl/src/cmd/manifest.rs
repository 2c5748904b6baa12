//! `btl manifest sign`: the offline half of publishing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use btl_manifest::{Account, License, Manifest, Payment, ProvFile, SignedManifest, Split, Terms};
use serde_json::json;

use crate::cmd::key::{self, now};
use crate::input::{self, Source};
use crate::passphrase::PassArgs;

/// Provenance manifests.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ManifestCommand,
}

/// The `btl manifest` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ManifestCommand {
    /// Sign a provenance manifest for a torrent and write <infohash>.prov
    /// beside it.
    Sign(SignArgs),
}

/// Sign a provenance manifest for a torrent, offline.
///
/// The manifest names the torrent (v2 infohash, v1 infohash for a hybrid,
/// every file's length and BEP 52 pieces root), its creator (your key, as a
/// did:key), the license and where payments go, and is signed with the
/// W3C Data Integrity cryptosuite eddsa-jcs-2022. It is written as
/// <v2 infohash>.prov beside the torrent; `btl verify` checks it. Until the
/// torrent is registered on the ledger the .prov file has no receipt.
///
/// The torrent must be v2 or hybrid (btl create makes hybrids by default).
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The .torrent or .btl file.
    pub torrent: PathBuf,
    /// The name of your key (see btl key list).
    #[arg(long, env = "BTL_KEY")]
    pub key: String,
    #[command(flatten)]
    pub license: LicenseArgs,
    /// Where to write the .prov file [default: <infohash>.prov beside the
    /// torrent].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    /// The keys directory [default: $XDG_DATA_HOME/btl/keys].
    #[arg(long, env = "BTL_KEYS_DIR", value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
}

/// The license and payment flags, shared by `btl manifest sign`, `btl
/// publish` and `btl license amend`.
#[derive(Debug, Clone, clap::Args)]
pub struct LicenseArgs {
    /// The license, as an SPDX expression: CC-BY-4.0, MIT, "CC-BY-NC-4.0 OR
    /// LicenseRef-commercial", ...
    #[arg(long)]
    pub license: String,
    /// A region where use is allowed (ISO 3166-1 alpha-2, e.g. DE); repeat
    /// or separate with commas. Leave out for anywhere.
    #[arg(long = "region", value_name = "CC", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Whether commercial use is allowed (true or false); leave out to let
    /// the license decide.
    #[arg(long, value_name = "BOOL")]
    pub commercial_use: Option<bool>,
    /// The most copies a licensee may distribute.
    #[arg(long, value_name = "N")]
    pub distribution_limit: Option<u64>,
    /// The account that receives payments [default: your key's account,
    /// when --split is given].
    #[arg(long, value_name = "ACCOUNT")]
    pub pay_to: Option<String>,
    /// A revenue share: ACCOUNT=BPS, in basis points (1/100 of a percent);
    /// repeat; the shares must add up to 10000.
    #[arg(long = "split", value_name = "ACCOUNT=BPS")]
    pub splits: Vec<String>,
}

impl LicenseArgs {
    /// The license and payment of a manifest by `creator`.
    pub fn build(&self, creator: &btl_manifest::DidKey) -> Result<(License, Option<Payment>)> {
        let a = self;
        let terms =
            (!a.regions.is_empty() || a.commercial_use.is_some() || a.distribution_limit.is_some())
                .then(|| Terms {
                    regions: (!a.regions.is_empty())
                        .then(|| a.regions.iter().map(|r| r.trim().to_string()).collect()),
                    commercial_use: a.commercial_use,
                    distribution_limit: a.distribution_limit,
                });
        let license = License {
            spdx: a.license.clone(),
            terms,
        };
        let splits: Vec<Split> = a
            .splits
            .iter()
            .map(|s| parse_split(s))
            .collect::<Result<_>>()?;
        let payment = match (&a.pay_to, splits.is_empty()) {
            (None, true) => None,
            (pay_to, _) => Some(Payment {
                address: match pay_to {
                    Some(p) => p
                        .parse()
                        .with_context(|| format!("--pay-to {p:?}: bad account"))?,
                    None => Account::of(creator),
                },
                splits,
            }),
        };
        Ok((license, payment))
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        ManifestCommand::Sign(a) => sign(a),
    }
}

fn parse_split(s: &str) -> Result<Split> {
    let (acc, bps) = s
        .split_once('=')
        .with_context(|| format!("--split {s:?}: expected ACCOUNT=BPS"))?;
    let account: Account = acc
        .parse()
        .with_context(|| format!("--split {s:?}: bad account"))?;
    let bps: u16 = bps
        .parse()
        .ok()
        .filter(|b| (1..=10_000).contains(b))
        .with_context(|| format!("--split {s:?}: BPS must be a whole number from 1 to 10000"))?;
    Ok(Split { account, bps })
}

fn sign(a: SignArgs) -> Result<()> {
    let torrent = match input::load(&a.torrent.to_string_lossy())? {
        Source::Torrent { torrent, .. } => torrent,
        Source::Magnet(_) => bail!("btl manifest sign needs a .torrent or .btl file"),
    };
    let store = key::store(a.keys_dir.as_deref())?;
    let info = store.info(&a.key)?;
    let creator = info.did;
    let (license, payment) = a.license.build(&creator)?;
    let created = now();
    // Check everything before asking for the passphrase.
    let manifest = Manifest::from_torrent(&torrent, creator, created, license, payment)?;
    let out = match &a.output {
        Some(p) => p.clone(),
        None => a
            .torrent
            .parent()
            .unwrap_or(Path::new("."))
            .join(btl_manifest::prov::file_name(&manifest.infohash_v2)),
    };
    if out.exists() && !a.force {
        bail!("{} exists (use --force to replace it)", out.display());
    }
    let signing = key::load(&store, &a.key, &a.pass)?;
    let signed = manifest.sign(&signing, created)?;
    // What we wrote must read back, verified.
    let text = ProvFile::new(&signed).to_json_pretty();
    ProvFile::parse(text.as_bytes())
        .ok()
        .and_then(|p| p.manifest().ok())
        .context("internal error: the signed manifest does not verify")?;
    std::fs::write(&out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    print_signed(&signed, &out, a.json)
}

fn print_signed(signed: &SignedManifest, out: &Path, json: bool) -> Result<()> {
    let m = signed.manifest();
    if json {
        let v = json!({
            "prov": out.display().to_string(),
            "manifest_id": signed.id().to_hex(),
            "creator": m.creator.to_string(),
            "account": Account::of(&m.creator).to_string(),
            "name": m.name,
            "infohash_v2": m.infohash_v2.to_hex(),
            "infohash_v1": m.infohash_v1.map(|h| h.to_hex()),
            "license": m.license.spdx,
            "files": m.files.len(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Signed the manifest of {}", m.name);
        println!("Creator:     {}", m.creator);
        println!("License:     {}", m.license.spdx);
        println!("Manifest id: {}", signed.id());
        println!("Wrote:       {}", out.display());
        println!("Check it with: btl verify {}", out.display());
    }
    Ok(())
}
