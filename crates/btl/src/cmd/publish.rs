//! `btl publish`: sign a torrent's manifest and register it on the ledger.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use btl_ledger::{RegisterTorrent, TxBody, TxId};
use btl_manifest::{Account, Manifest, ProvFile, SignedManifest};
use btl_metainfo::torrent::Torrent;
use btl_registry::ClientError;
use btl_types::Sha256Hash;
use serde_json::json;

use crate::cmd::key::{self, now};
use crate::cmd::manifest::LicenseArgs;
use crate::cmd::registry_common::{self as rc, LedgerArgs};
use crate::input::{self, Source};
use crate::passphrase::PassArgs;

/// Publish a torrent: sign its provenance manifest and register it on the
/// ledger.
///
/// Builds the manifest (the torrent's v2 infohash, every file's BEP 52
/// pieces root, you as the creator, the license and payment terms), signs
/// it with your key (eddsa-jcs-2022), uploads it to the ledger node,
/// submits a RegisterTorrent transaction from your key's account (it pays
/// --fee), waits until it is final and cosigned by the validators, and
/// writes <v2 infohash>.prov (manifest + receipt) beside the torrent. Prints
/// a magnet link that carries the ledger reference (x.btl=<transaction id>).
///
/// Anyone can then check it with `btl verify`, online or offline. The
/// torrent must be v2 or hybrid (btl create makes hybrids by default; use
/// btl create --hybrid or --v2 to remake a v1 torrent).
///
/// Example: btl publish album.torrent --key me --license CC-BY-4.0
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent or .btl file.
    pub torrent: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Who signs a manifest, under which terms, and which ledger registers it
/// (shared by `btl publish` and `btl license amend`).
#[derive(Debug, clap::Args)]
pub struct SignerArgs {
    /// The name of your key (see btl key list); its account registers the
    /// torrent and pays the fee.
    #[arg(long, env = "BTL_KEY")]
    pub key: String,
    #[command(flatten)]
    pub license: LicenseArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long, env = "BTL_JSON")]
    pub json: bool,
    /// The keys directory [default: $XDG_DATA_HOME/btl/keys].
    #[arg(long, env = "BTL_KEYS_DIR", value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
}

/// What `btl publish` and `btl license amend` have before they ask for the
/// passphrase: the torrent, its unsigned manifest, the ledger, and the
/// torrent's registration there (if any), so that either can refuse
/// before signing.
pub struct Prepared {
    /// The torrent.
    pub torrent: Box<Torrent>,
    /// The manifest to sign.
    pub manifest: Manifest,
    /// When it was made (also the signature's creation time).
    pub created: i64,
    /// The key store holding the signer's key.
    store: btl_keystore::KeyStore,
    /// The runtime the ledger client runs on.
    pub rt: tokio::runtime::Runtime,
    /// The ledger.
    pub client: btl_registry::RegistryClient,
    /// Its chain id.
    pub chain_id: String,
    /// The torrent's current registration.
    pub record: Option<btl_registry::api::RecordView>,
}

impl SignerArgs {
    /// Loads the torrent, builds its manifest (offline checks first),
    /// connects to the ledger and looks the torrent up there.
    pub fn prepare(&self, torrent: &Path) -> Result<Prepared> {
        let torrent = load_v2_torrent(torrent)?;
        let store = key::store(self.keys_dir.as_deref())?;
        let creator = store.info(&self.key)?.did;
        let (license, payment) = self.license.build(&creator)?;
        let created = now();
        let manifest = Manifest::from_torrent(&torrent, creator, created, license, payment)?;
        let rt = rc::runtime()?;
        let (client, chain_id) = rt.block_on(rc::connect(&self.ledger.ledger))?;
        let record = rt.block_on(client.ledger_record(&manifest.infohash_v2.to_hex()))?;
        Ok(Prepared {
            torrent,
            manifest,
            created,
            store,
            rt,
            client,
            chain_id,
            record,
        })
    }
}

impl Prepared {
    /// Asks for the passphrase and signs the manifest.
    pub fn sign(&self, a: &SignerArgs) -> Result<(btl_manifest::SigningKey, SignedManifest)> {
        let signing = key::load(&self.store, &a.key, &a.pass)?;
        let signed = self.manifest.clone().sign(&signing, self.created)?;
        Ok((signing, signed))
    }
}

/// Writes `<v2 infohash>.prov` (the manifest and its receipt, if any)
/// beside `torrent`; returns its path.
pub fn write_prov(
    torrent: &Path,
    signed: &SignedManifest,
    receipt: Option<String>,
) -> Result<PathBuf> {
    let out = torrent
        .parent()
        .unwrap_or(Path::new("."))
        .join(btl_manifest::prov::file_name(
            &signed.manifest().infohash_v2,
        ));
    let mut prov = ProvFile::new(signed);
    prov.receipt = receipt;
    std::fs::write(&out, prov.to_json_pretty())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}

/// The file roots a registration carries: each file's pieces root, in file
/// order (empty files have none).
pub fn file_roots(m: &Manifest) -> Vec<[u8; 32]> {
    m.files
        .iter()
        .filter_map(|f| f.pieces_root.map(|r| r.0))
        .collect()
}

/// The RegisterTorrent body of a signed manifest.
pub fn registration(signed: &SignedManifest) -> RegisterTorrent {
    let m = signed.manifest();
    RegisterTorrent {
        manifest_hash: signed.id().0,
        infohash_v2: m.infohash_v2.0,
        infohash_v1: m.infohash_v1.map(|h| h.0),
        creator: btl_ledger::Address(Account::of(&m.creator).0),
        file_roots: file_roots(m),
        name: m.name.clone(),
        size: m.files.iter().map(|f| f.length).sum(),
        license: m.license.spdx.clone(),
    }
}

/// Loads a torrent that can carry a manifest (v2 or hybrid).
pub fn load_v2_torrent(path: &Path) -> Result<Box<Torrent>> {
    let torrent = match input::load(&path.to_string_lossy())? {
        Source::Torrent { torrent, .. } => torrent,
        Source::Magnet(_) => bail!("this needs a .torrent or .btl file, not a magnet link"),
    };
    if torrent.info_hashes().v2().is_none() {
        bail!(
            "{} is a v1-only torrent: provenance anchors the BEP 52 (v2) infohash and Merkle roots; \
             recreate it with `btl create --hybrid` (the default) or `btl create --v2`",
            path.display()
        );
    }
    Ok(torrent)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let a = &args.signer;
    let p = a.prepare(&args.torrent)?;
    let (torrent, chain_id, client, rt) = (&p.torrent, &p.chain_id, &p.client, &p.rt);
    let ih = p.manifest.infohash_v2;
    if let Some(rec) = &p.record {
        bail!(
            "{} is already registered on {chain_id}: by {} at height {} (transaction {}); \
             to change its license use btl license amend",
            torrent.name(),
            rec.registration.creator,
            rec.height,
            rec.tx_id
        );
    }
    let (signing, signed) = p.sign(a)?;
    let pb = rc::spinner(a.json);
    let started = Instant::now();
    let body = TxBody::RegisterTorrent(registration(&signed));
    let result = rt.block_on(submit_manifest(
        client, chain_id, &signing, &signed, body, &a.ledger, &pb,
    ));
    pb.finish_and_clear();
    let Submitted {
        tx_id,
        height,
        receipt,
        warning,
        to_commit,
    } = result?;
    let elapsed = started.elapsed();

    let out = write_prov(&args.torrent, &signed, receipt.clone())?;

    let mut magnet = crate::cmd::info::magnet_for(torrent);
    magnet.ledger_ref = Some(Sha256Hash(tx_id.0));
    let m = signed.manifest();
    if a.json {
        let v = json!({
            "infohash_v2": ih.to_hex(),
            "name": m.name,
            "tx_id": tx_id.to_string(),
            "height": height,
            "chain_id": chain_id,
            "manifest_id": signed.id().to_hex(),
            "creator": m.creator.to_string(),
            "account": Account::of(&m.creator).to_string(),
            "license": m.license.spdx,
            "prov": out.display().to_string(),
            "receipt": receipt.is_some(),
            "magnet": magnet.to_string(),
            "seconds": elapsed.as_secs_f64(),
            "seconds_to_commit": to_commit.as_secs_f64(),
            "warning": warning,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Published {} on {chain_id}", m.name);
        println!("Creator:      {}", m.creator);
        println!("Account:      {}", Account::of(&m.creator));
        println!("License:      {}", m.license.spdx);
        println!("Transaction:  {tx_id} (height {height})");
        println!("Manifest id:  {}", signed.id());
        println!(
            "Wrote:        {}{}",
            out.display(),
            if receipt.is_some() {
                " (manifest + receipt)"
            } else {
                " (manifest; no receipt yet)"
            }
        );
        if let Some(w) = &warning {
            println!("Warning:      {w}");
        }
        println!("Took:         {:.2} s", elapsed.as_secs_f64());
        println!("Magnet:       {magnet}");
        println!("Check it with: btl verify {}", out.display());
    }
    Ok(())
}

/// What [`submit_manifest`] got from the ledger.
pub struct Submitted {
    /// The registry transaction.
    pub tx_id: TxId,
    /// Its block height.
    pub height: u64,
    /// The receipt, if the node served one in time.
    pub receipt: Option<String>,
    /// Something the user should know (no receipt yet, manifest not stored).
    pub warning: Option<String>,
    /// From the upload to the final commit.
    pub to_commit: Duration,
}

/// Uploads the manifest, submits `body` (the registration or amendment that
/// names it), waits for the final commit, then fetches the receipt.
pub async fn submit_manifest(
    client: &btl_registry::RegistryClient,
    chain_id: &str,
    key: &btl_manifest::SigningKey,
    signed: &SignedManifest,
    body: TxBody,
    l: &LedgerArgs,
    pb: &indicatif::ProgressBar,
) -> Result<Submitted> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(l.wait);
    let mut warnings = Vec::new();
    pb.set_message("uploading the manifest");
    match client.upload_manifest(signed).await {
        Ok(_) => {}
        Err(
            e @ ClientError::Status {
                status: 404 | 405, ..
            },
        ) => {
            warnings.push(format!(
                "the ledger node does not store manifests ({e}); the .prov file carries it"
            ));
        }
        Err(e) => return Err(e).context("uploading the manifest"),
    }
    let (id, st) = rc::submit_and_wait(client, chain_id, key, l.fee, body, deadline, pb).await?;
    let height = st.height.unwrap_or_default();
    let to_commit = started.elapsed();
    pb.set_message("waiting for the validators' cosigned receipt");
    let receipt = match client.receipt(&id, deadline).await {
        Ok(r) => Some(r.receipt),
        Err(e) => {
            warnings.push(format!(
                "registered, but no receipt yet ({e}); fetch it later with btl verify"
            ));
            None
        }
    };
    let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
    Ok(Submitted {
        tx_id: id,
        height,
        receipt,
        warning,
        to_commit,
    })
}
