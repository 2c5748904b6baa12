//! `btl seed`: serve a torrent whose data is on disk.

use crate::cmd::engine::{self, EngineArgs};
use crate::input::{self, Source};
use crate::units::format_bytes;
use anyhow::{bail, Context, Result};
use btl_net::torrent::{add_torrent, AddTorrent, State};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

/// Seed a torrent from data already on disk.
///
/// The data is checked first (quickly, when resume data from an earlier
/// run says it is intact), then served to every peer that asks until
/// Ctrl-C.
///
/// With a provenance file (--prov FILE, or <v2 infohash>.prov beside the
/// torrent), its signed manifest is verified against the torrent and then
/// offered to peers through the btl_prov extension, so `btl get` by magnet
/// can verify the content; other clients ignore it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent or .btl file.
    pub torrent: String,
    /// The directory that contains the payload (the torrent's name inside it).
    #[arg(long, env = "BTL_DATA")]
    pub data: PathBuf,
    /// Hash everything on disk even if resume data says it is intact.
    #[arg(long)]
    pub recheck: bool,
    /// The provenance file (.prov) to offer to peers [default:
    /// <v2 infohash>.prov beside the torrent, if there is one].
    #[arg(long, value_name = "FILE")]
    pub prov: Option<PathBuf>,
    /// Offer the .prov without verifying it first (to test how downloaders
    /// refuse a bad one).
    #[arg(long, hide = true)]
    pub unchecked_prov: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rt = engine::runtime()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<()> {
    let torrent = match input::load(&args.torrent)? {
        Source::Torrent { torrent, .. } => Arc::new(*torrent),
        Source::Magnet(_) => bail!("btl seed needs a .torrent or .btl file, not a magnet link"),
    };
    let payload = args.data.join(torrent.name());
    if !payload.exists() {
        bail!(
            "{} does not exist: --data must be the directory that contains `{}`",
            payload.display(),
            torrent.name()
        );
    }
    let prov_doc = load_prov(&args, &torrent).await?;
    let peers = args.engine.peer_addrs()?;
    let state_dir = args.engine.state_dir()?;
    let tls = engine::tracker_tls(args.engine.tracker_ca.as_deref())?;
    let session = args.engine.session().await?;
    let port = session.local_addrs().first().map(|a| a.port()).unwrap_or(0);
    let dht = args
        .engine
        .dht
        .start(args.engine.listen, port, &state_dir)
        .await?;
    let resume_path = state_dir
        .join("resume")
        .join(format!("{}.journal", torrent.info_hashes().wire_id()));
    let handle = add_torrent(
        &session,
        AddTorrent {
            torrent: torrent.clone(),
            save_dir: args.data.clone(),
            resume_path,
            peers,
            wanted_files: None,
            file_priorities: None,
            sequential: false,
            recheck: args.recheck,
            max_download_rate: 0,
            max_upload_rate: 0,
            metadata_path: None,
            trackers: args.engine.tracker_tiers(torrent.trackers()),
            lsd: args.engine.lsd(&session).await,
            tracker_tls: tls.clone(),
            dht: dht.clone(),
        },
    )
    .await
    .with_context(|| format!("cannot start {}", torrent.name()))?;
    if let Some((doc, _)) = &prov_doc {
        handle
            .set_provenance(doc.clone())
            .await
            .context("cannot offer the provenance file")?;
    }
    let mut stats = handle.stats();
    // Wait for the check to finish.
    let s = loop {
        let s = stats.borrow_and_update().clone();
        if s.state != State::Checking {
            break s;
        }
        if stats.changed().await.is_err() {
            bail!("the torrent stopped while checking");
        }
    };
    if let State::Failed(e) = &s.state {
        bail!("cannot seed: {e}");
    }
    let pct = 100.0 * f64::from(s.have_pieces) / f64::from(s.wanted_pieces.max(1));
    if args.engine.json {
        engine::event(json!({
            "event": "seeding",
            "port": port,
            "dht_port": dht.as_ref().map(|d| d.local_addr().port()),
            "name": torrent.name(),
            "have_pieces": s.have_pieces,
            "pieces": s.wanted_pieces,
            "prov": prov_doc.as_ref().map(|(_, p)| p.display().to_string()),
        }));
    } else {
        println!(
            "seeding {} on port {port}: {:.1}% of {} verified on disk; Ctrl-C to stop",
            torrent.name(),
            pct,
            format_bytes(torrent.total_length())
        );
        if let Some((_, p)) = &prov_doc {
            println!(
                "offering the provenance manifest {} to peers (btl_prov)",
                p.display()
            );
        }
        if s.have_pieces < s.wanted_pieces {
            eprintln!(
                "warning: only {} of {} pieces are on disk; peers get what is there",
                s.have_pieces, s.wanted_pieces
            );
        }
    }
    let mut dht_stats = dht.as_ref().filter(|_| args.engine.json).map(|d| d.stats());
    let interrupted = engine::interrupted();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            s = engine::dht_changed(&mut dht_stats) => engine::dht_event(&s),
            _ = &mut interrupted => break,
        }
    }
    let s = stats.borrow().clone();
    handle.shutdown().await.context("cannot save state")?;
    engine::save_dht(dht.as_ref()).await;
    if args.engine.json {
        engine::event(json!({"event": "stopped", "uploaded": s.uploaded}));
    } else {
        println!(
            "stopped; uploaded {} this session",
            format_bytes(s.uploaded)
        );
    }
    Ok(())
}

/// The `.prov` to offer: --prov, else the one beside the torrent; verified
/// against the torrent unless --unchecked-prov.
async fn load_prov(
    args: &Args,
    torrent: &btl_metainfo::torrent::Torrent,
) -> Result<Option<(Vec<u8>, PathBuf)>> {
    let path = match &args.prov {
        Some(p) => p.clone(),
        None => match crate::cmd::get_prov::beside(&args.torrent, torrent) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    if args.unchecked_prov {
        let len = std::fs::metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        if len == 0 || len > btl_manifest::prov::MAX_PROV_BYTES as u64 {
            bail!(
                "{}: {len} bytes is not a servable .prov size",
                path.display()
            );
        }
        let doc =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(Some((doc, path)));
    }
    let v = crate::cmd::get_prov::from_file(&path, torrent, None)
        .await
        .context("the provenance file cannot be offered")?;
    Ok(Some((v.doc, path)))
}
