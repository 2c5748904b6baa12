//! `btl get`: download a torrent or magnet.

use crate::cmd::engine::{self, EngineArgs, Progress};
use crate::cmd::get_prov;
use crate::input::{self, Source};
use crate::units::format_bytes;
use anyhow::{bail, Context, Result};
use btl_metainfo::torrent::Torrent;
use btl_net::metadata::fetch_metadata;
use btl_net::torrent::{add_torrent, AddTorrent, State};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Download a torrent (.torrent, .btl or magnet link), verified against
/// its creator's signed manifest.
///
/// Before downloading, the provenance manifest is found — the --prov file,
/// else the ledger's registry (--ledger), else <v2 infohash>.prov beside
/// the .torrent, else from peers that offer it (the btl_prov extension) —
/// and verified: its signature by the creator, the torrent's infohashes,
/// files and BEP 52 pieces roots against the manifest (for a magnet, the
/// info dictionary fetched from peers), and with the ledger, the receipt
/// against the validators' keys, the ledger's record, the creator key's
/// status (of the key that signed), and that a magnet's ledger reference
/// (x.btl, as btl publish prints it) is one of the torrent's registry
/// transactions. The creator, license and suggested payment are printed.
/// Content that is unregistered (no ledger anchor), revoked, or whose
/// manifest does not verify or is for another torrent is refused unless
/// --allow-unverified (--allow-unregistered accepts a manifest that is
/// validly signed and matches but is not on the ledger).
///
/// Pieces are verified before they are written (against the roots the
/// creator signed); progress is recorded durably, so an interrupted
/// download (Ctrl-C, a crash, a power cut) resumes where it stopped when
/// the same command runs again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .torrent file, a .btl file, or a magnet link (quote it).
    pub input: String,
    /// Directory to download into (the torrent's name is created inside).
    #[arg(short, long, default_value = ".", env = "BTL_OUTPUT_DIR")]
    pub output: PathBuf,
    /// Download only files whose path matches GLOB (`*` within a name,
    /// `**` across directories, `?` one character); repeat for several.
    #[arg(long = "only", value_name = "GLOB")]
    pub only: Vec<String>,
    /// Fetch pieces in order, for playing while downloading.
    #[arg(long)]
    pub sequential: bool,
    /// Keep seeding after the download completes (until Ctrl-C).
    #[arg(long)]
    pub seed: bool,
    /// Hash everything already on disk before downloading.
    #[arg(long)]
    pub recheck: bool,
    /// The torrent's provenance file (.prov: the signed manifest)
    /// [default: <v2 infohash>.prov beside the .torrent, else from peers].
    #[arg(long, value_name = "FILE")]
    pub prov: Option<PathBuf>,
    /// Download even when no valid provenance manifest is found (or it
    /// does not match): a warning is printed instead of refusing.
    #[arg(long)]
    pub allow_unverified: bool,
    /// Accept a manifest that is validly signed by its creator and matches
    /// the torrent but is not anchored on the ledger (no receipt or record
    /// that verifies, or the ledger not reachable).
    #[arg(long)]
    pub allow_unregistered: bool,
    /// The ledger node to resolve and check the manifest with.
    #[arg(long, env = "BTL_LEDGER", value_name = "URL", default_value = btl_registry::DEFAULT_LEDGER_URL)]
    pub ledger: String,
    /// Do not contact the ledger (the manifest must come from --prov, a
    /// .prov beside the torrent, or peers; it counts as unregistered).
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let rt = engine::runtime()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<()> {
    let mut peers = args.engine.peer_addrs()?;
    let state_dir = args.engine.state_dir()?;
    let tls = engine::tracker_tls(args.engine.tracker_ca.as_deref())?;
    let session = args.engine.session().await?;
    let port = session.local_addrs().first().map(|a| a.port()).unwrap_or(0);
    let dht = args
        .engine
        .dht
        .start(args.engine.listen, port, &state_dir)
        .await?;
    if args.engine.json {
        engine::event(json!({
            "event": "listening",
            "port": port,
            "dht_port": dht.as_ref().map(|d| d.local_addr().port()),
        }));
    }

    // Where the engine saves the metadata once the piece layers missing
    // from a magnet's info dictionary have come from peers (BEP 52).
    let mut metadata_path: Option<PathBuf> = None;
    let mut magnet_trackers: Vec<Vec<String>> = Vec::new();
    let mut from_file = false;
    // The registration a magnet names (x.btl), checked against the ledger.
    let mut ledger_ref: Option<String> = None;
    let torrent: Torrent = match input::load(&args.input)? {
        Source::Torrent { torrent, .. } => {
            from_file = true;
            *torrent
        }
        Source::Magnet(m) => {
            let hashes = m.infohashes().context("the magnet link has no infohash")?;
            ledger_ref = m.ledger_ref.map(|h| h.to_hex());
            for p in &m.peers {
                if let Ok(a) = p.to_string().parse() {
                    peers.push(a);
                }
            }
            magnet_trackers = m.trackers.iter().map(|t| vec![t.clone()]).collect();
            // Peers for the metadata: ask the magnet's trackers first.
            for tier in args.engine.tracker_tiers(&magnet_trackers) {
                for url in tier {
                    let params = btl_net::tracker_client::AnnounceParams {
                        info_hash: hashes.wire_id(),
                        peer_id: session.peer_id(),
                        port,
                        uploaded: 0,
                        downloaded: 0,
                        left: u64::MAX >> 1,
                        event: btl_tracker_proto::Event::None,
                        numwant: 50,
                        key: 0,
                        bind: Some(args.engine.listen).filter(|ip| !ip.is_unspecified()),
                        tls: tls.clone(),
                    };
                    match btl_net::tracker_client::announce(&url, &params, Duration::from_secs(15))
                        .await
                    {
                        Ok(r) => peers.extend(r.peers),
                        Err(e) => eprintln!("warning: {e}"),
                    }
                }
            }
            let cached = state_dir
                .join("torrents")
                .join(format!("{}.torrent", hashes.wire_id()));
            let t = if let Ok(bytes) = std::fs::read(&cached) {
                Torrent::from_bytes(&bytes).context("the cached metadata is invalid")?
            } else {
                if let Some(d) = &dht {
                    if !args.engine.json {
                        eprintln!("looking for peers in the DHT...");
                    }
                    for id in btl_net::dht::torrent_ids(&hashes) {
                        peers.extend(d.get_peers(id, Duration::from_secs(20)).await);
                    }
                    if args.engine.json {
                        engine::dht_event(&d.stats().borrow());
                    }
                }
                if !args.engine.json {
                    eprintln!("fetching metadata from {} peer(s)...", peers.len());
                }
                let info = fetch_metadata(&session, hashes, &peers, Duration::from_secs(20))
                    .await
                    .context("cannot fetch the torrent's metadata")?;
                let t = Torrent::from_info_bytes(&info)
                    .context("the metadata from peers is not a valid torrent")?;
                // A restart need not ask peers again (best effort).
                let _ = btl_net::layers::save_metadata(&cached, &t);
                t
            };
            if t.version().has_v2() && !t.has_piece_layers() {
                metadata_path = Some(cached);
            }
            t
        }
    };
    let provenance = resolve_provenance(
        &args,
        from_file,
        ledger_ref.as_deref(),
        &session,
        &torrent,
        &peers,
    )
    .await?;
    let torrent = Arc::new(torrent);
    let wanted_files = select_files(&torrent, &args.only)?;
    let wanted_bytes: u64 = torrent
        .files()
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.attr.pad && wanted_files.as_ref().is_none_or(|w| w[*i]))
        .map(|(_, f)| f.length)
        .sum();
    let resume_path = state_dir
        .join("resume")
        .join(format!("{}.journal", torrent.info_hashes().wire_id()));
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let started = Instant::now();
    let handle = add_torrent(
        &session,
        AddTorrent {
            torrent: torrent.clone(),
            save_dir: args.output.clone(),
            resume_path,
            peers,
            wanted_files,
            file_priorities: None,
            sequential: args.sequential,
            recheck: args.recheck,
            max_download_rate: 0,
            max_upload_rate: 0,
            metadata_path,
            trackers: {
                let mut tiers = torrent.trackers().to_vec();
                tiers.extend(magnet_trackers);
                args.engine.tracker_tiers(&tiers)
            },
            lsd: args.engine.lsd(&session).await,
            tracker_tls: tls.clone(),
            dht: dht.clone(),
        },
    )
    .await
    .with_context(|| format!("cannot start {}", torrent.name()))?;
    if let Some(v) = &provenance {
        // Pass the verified document on to peers that ask.
        let _ = handle.set_provenance(v.doc.clone()).await;
    }

    let progress = Progress::new(args.engine.json, wanted_bytes, torrent.name());
    let piece_length = torrent.piece_length();
    let piece_bytes = |n: u32| u64::from(n) * piece_length;
    let mut stats = handle.stats();
    let mut completed_at = None;
    let mut dht_stats = dht.as_ref().filter(|_| args.engine.json).map(|d| d.stats());
    let interrupted = engine::interrupted();
    tokio::pin!(interrupted);
    let final_stats = loop {
        tokio::select! {
            changed = stats.changed() => {
                if changed.is_err() {
                    bail!("the download stopped unexpectedly");
                }
                let s = stats.borrow_and_update().clone();
                progress.update(&s, piece_bytes);
                match &s.state {
                    State::Failed(e) => {
                        progress.finish();
                        let _ = handle.shutdown().await;
                        bail!("download failed: {e}");
                    }
                    State::Seeding if completed_at.is_none() => {
                        completed_at = Some(started.elapsed());
                        if !args.seed {
                            break s;
                        }
                        progress.finish();
                        summary(&torrent, &s, wanted_bytes, started.elapsed(), args.engine.json);
                        if !args.engine.json {
                            eprintln!("seeding on port {port}; press Ctrl-C to stop");
                        }
                    }
                    _ => {}
                }
            }
            s = engine::dht_changed(&mut dht_stats) => engine::dht_event(&s),
            _ = &mut interrupted => {
                let s = stats.borrow().clone();
                progress.finish();
                handle.shutdown().await.context("cannot save progress")?;
                engine::save_dht(dht.as_ref()).await;
                if completed_at.is_some() {
                    return Ok(());
                }
                let pct = 100.0 * f64::from(s.wanted_have) / f64::from(s.wanted_pieces.max(1));
                if args.engine.json {
                    engine::event(json!({"event": "interrupted", "percent": pct}));
                }
                bail!("interrupted at {pct:.1}%; progress is saved, run the same command to resume");
            }
        }
    };
    progress.finish();
    handle.shutdown().await.context("cannot save progress")?;
    engine::save_dht(dht.as_ref()).await;
    summary(
        &torrent,
        &final_stats,
        wanted_bytes,
        started.elapsed(),
        args.engine.json,
    );
    Ok(())
}

/// Finds and verifies the manifest; `None` when the user allowed an
/// unverified download and none verified (the warning is printed here).
async fn resolve_provenance(
    args: &Args,
    from_file: bool,
    ledger_ref: Option<&str>,
    session: &btl_net::Session,
    torrent: &Torrent,
    peers: &[std::net::SocketAddr],
) -> Result<Option<get_prov::Verified>> {
    let mut ledger_note = String::from("--offline");
    let ledger = match torrent.info_hashes().v2() {
        Some(v2) if !args.offline => {
            match get_prov::LedgerCtx::fetch(&args.ledger, &v2.to_hex()).await {
                Ok(l) => Some(l),
                Err(e) => {
                    ledger_note = format!("ledger {} not reachable: {e}", args.ledger);
                    if !args.engine.json {
                        eprintln!("warning: {ledger_note}");
                    }
                    None
                }
            }
        }
        _ => None,
    };
    let ledger = ledger.as_ref();
    let from_ledger = match ledger {
        Some(l) if args.prov.is_none() => get_prov::from_ledger(l, torrent).await,
        _ => None,
    };
    let found: Result<get_prov::Verified, String> = if let Some(p) = &args.prov {
        get_prov::from_file(p, torrent, ledger)
            .await
            .map_err(|e| format!("{e:#}"))
    } else if let Some(r) = from_ledger {
        r.map_err(|e| format!("ledger {}: {e}", args.ledger))
    } else if let Some(p) = from_file
        .then(|| get_prov::beside(&args.input, torrent))
        .flatten()
    {
        get_prov::from_file(&p, torrent, ledger)
            .await
            .map_err(|e| format!("{e:#}"))
    } else if torrent.info_hashes().v2().is_none() {
        Err("unregistered: a v1-only torrent has no provenance manifest (manifests name the v2 infohash)".into())
    } else if peers.is_empty() {
        Err("unregistered: no provenance manifest (not on the ledger, no --prov, no .prov beside the torrent, no peer to ask)".into())
    } else {
        if !args.engine.json {
            eprintln!(
                "fetching the provenance manifest from {} peer(s)...",
                peers.len()
            );
        }
        match btl_net::prov::fetch_prov(
            session,
            torrent.info_hashes(),
            peers,
            PROV_PER_PEER,
            btl_manifest::prov::MAX_PROV_BYTES as u64,
            |doc| get_prov::verify_peer_doc(doc, torrent, ledger),
        )
        .await
        {
            Ok((mut v, addr)) => {
                v.source = format!("peer {addr}");
                Ok(v)
            }
            Err(e) if e.any_refused() => Err(e.to_string()),
            Err(e) => Err(format!("unregistered: no provenance manifest found ({e})")),
        }
    };
    // A magnet that names its registration (x.btl, as btl publish prints
    // it) must name one of this torrent's registry transactions here.
    let view = ledger.and_then(|l| l.view.as_ref());
    let found = match (found, ledger_ref, view) {
        (Ok(_), Some(r), Some(view))
            if !view.torrent.tx_id.to_string().eq_ignore_ascii_case(r)
                && !view.history.iter().any(|h| h.tx_id.eq_ignore_ascii_case(r)) =>
        {
            Err(format!(
                "the magnet's ledger reference x.btl={r} is not a registry transaction of this torrent on {} (it was registered by {}): the link was made for another ledger, or altered",
                args.ledger, view.torrent.tx_id
            ))
        }
        (f, ..) => f,
    };
    let found = match found {
        Ok(v) if !v.verdict.registered && !args.allow_unregistered => Err(format!(
            "unregistered: the manifest is signed by {} and matches, but is not anchored on the ledger ({}); --allow-unregistered accepts it",
            v.verdict.creator.as_deref().unwrap_or("?"),
            if ledger.is_some() {
                format!("no receipt or record on {} verifies it", args.ledger)
            } else {
                ledger_note.clone()
            }
        )),
        r => r,
    };
    match found {
        Ok(v) => {
            if args.engine.json {
                let mut j = get_prov::to_json(&v);
                j["event"] = json!("provenance");
                engine::event(j);
            } else {
                get_prov::print(&v);
            }
            Ok(Some(v))
        }
        Err(reason) if args.allow_unverified => {
            eprintln!(
                "warning: UNVERIFIED download of {}: {reason}; proceeding because of --allow-unverified",
                torrent.name()
            );
            if args.engine.json {
                engine::event(json!({"event": "provenance", "verified": false, "reason": reason}));
            }
            Ok(None)
        }
        Err(reason) => bail!(
            "refusing to download {}: {reason}\n(give the .prov with --prov FILE, or --allow-unverified to download anyway)",
            torrent.name()
        ),
    }
}

/// How long one peer may take to deliver the manifest.
const PROV_PER_PEER: Duration = Duration::from_secs(10);

fn summary(t: &Torrent, s: &btl_net::TorrentStats, bytes: u64, took: Duration, json: bool) {
    let secs = took.as_secs_f64().max(1e-3);
    if json {
        engine::event(json!({
            "event": "complete",
            "name": t.name(),
            "bytes": bytes,
            "downloaded": s.downloaded,
            "seconds": secs,
            "hash_failures": s.hash_failures,
            "banned": s.banned,
        }));
    } else {
        println!(
            "done: {} ({}) in {:.2}s, {}/s; downloaded {}, {} hash failure{}, {} peer{} banned",
            t.name(),
            format_bytes(bytes),
            secs,
            format_bytes((s.downloaded as f64 / secs) as u64),
            format_bytes(s.downloaded),
            s.hash_failures,
            if s.hash_failures == 1 { "" } else { "s" },
            s.banned,
            if s.banned == 1 { "" } else { "s" },
        );
    }
}

/// Which files `--only` selects (`None`: all).
fn select_files(t: &Torrent, globs: &[String]) -> Result<Option<Vec<bool>>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let sel: Vec<bool> = t
        .files()
        .iter()
        .map(|f| {
            let path = f.path.join("/");
            !f.attr.pad
                && globs
                    .iter()
                    .any(|g| glob_match(g.as_bytes(), path.as_bytes()))
        })
        .collect();
    if !sel.iter().any(|&b| b) {
        bail!(
            "--only {} matches no file of {} (see `btl info` for the file list)",
            globs.join(" --only "),
            t.name()
        );
    }
    Ok(Some(sel))
}

/// Glob matching on `/`-separated paths: `*` and `?` stay within one
/// component, `**` spans components.
pub fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    match pat.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = &rest[1..];
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=text.len()).any(|i| glob_match(rest, &text[i..]))
        }
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if glob_match(rest, &text[i..]) {
                    return true;
                }
                if i >= text.len() || text[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((b'?', rest)) => {
            matches!(text.first(), Some(&c) if c != b'/') && glob_match(rest, &text[1..])
        }
        Some((&c, rest)) => text.first() == Some(&c) && glob_match(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("*.flac", "track.flac"));
        assert!(!m("*.flac", "cd1/track.flac"));
        assert!(m("**/*.flac", "cd1/track.flac"));
        assert!(m("**.flac", "cd1/track.flac"));
        assert!(m("cd?/*", "cd1/a"));
        assert!(!m("cd?/*", "cd1/a/b"));
        assert!(m("cd1/**", "cd1/a/b"));
        assert!(m("exact.txt", "exact.txt"));
        assert!(!m("exact.txt", "exact.txt2"));
    }
}
