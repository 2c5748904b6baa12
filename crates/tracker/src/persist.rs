//! Saving and restoring swarms, so that a restart does not forget them.
//!
//! The file format is [`btl_tracker_proto::state`]'s (drawn and pinned by
//! a golden vector there). It is written to `FILE.tmp`, synced, and
//! renamed over `FILE`, so a crash leaves the old file or the new one; it
//! is written every `Config::save_every` and at shutdown, so a `kill -9`
//! loses at most the changes since the last save.
//!
//! Restored peers count as just seen, so a peer that has gone is dropped
//! one peer timeout after the restart. Reading stops at the first
//! truncated record, keeping what came before; the shard limits bound
//! what is restored.

use crate::swarm::Peer;
use crate::{Ctx, TrackerError};
use btl_tracker_proto::state::{self, SavedPeer};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Writes every swarm to `path`.
pub(crate) fn save(ctx: &Ctx, path: &Path) -> Result<(), TrackerError> {
    let err = |source| TrackerError::State {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp).map_err(err)?;
    let mut w = BufWriter::new(f);
    let mut head = Vec::new();
    state::encode_header(&mut head);
    w.write_all(&head).map_err(err)?;
    let mut result = Ok(());
    let mut saved: Vec<SavedPeer> = Vec::new();
    let mut buf = Vec::new();
    ctx.for_each_shard(|s| {
        if result.is_err() {
            return;
        }
        buf.clear();
        for (h, t) in &s.torrents {
            saved.clear();
            saved.extend(t.peers.iter().map(|p| SavedPeer {
                ip: p.ip,
                port: p.port,
                seeder: p.seeder,
                id: p.id,
            }));
            state::encode_torrent(&mut buf, h, t.downloaded, saved.iter());
        }
        result = w.write_all(&buf);
    });
    result.map_err(err)?;
    let f = w.into_inner().map_err(|e| err(e.into_error()))?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}

/// Reads swarms saved by [`save`]; a missing file is an empty tracker.
pub(crate) fn load(ctx: &Ctx, path: &Path) -> Result<(), TrackerError> {
    let err = |source| TrackerError::State {
        path: path.to_path_buf(),
        source,
    };
    let mut data = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut data).map_err(err)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    }
    let now = ctx.now_secs();
    let d = state::decode(
        &data,
        |_, _| {},
        |h, downloaded, p| {
            ctx.restore(
                *h,
                downloaded,
                Peer {
                    ip: p.ip,
                    port: p.port,
                    seeder: p.seeder,
                    last_seen: now,
                    id: p.id,
                },
            )
        },
    )
    .map_err(|e| err(std::io::Error::other(e)))?;
    if d.truncated {
        tracing::warn!(path = %path.display(), torrents = d.torrents, "state file ends inside a record; the rest is dropped");
    }
    tracing::info!(path = %path.display(), torrents = d.torrents, peers = d.peers, "swarms restored");
    Ok(())
}
