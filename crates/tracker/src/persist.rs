//! Saving and restoring swarms, so that a restart does not forget them.
//!
//! File format (all integers big-endian), written to `FILE.tmp` and
//! renamed over `FILE`, so a crash leaves the old file or the new one:
//!
//! ```text
//! "BTLTRK01"                                   8 bytes, magic and version
//! per torrent:
//!   info_hash [20] | downloaded u32 | peer count u32
//!   per peer:
//!     ip [16] (IPv4 mapped) | port u16 | flags u8 (1: seeder) | peer_id [20]
//! ```
//!
//! Restored peers count as just seen, so a peer that has gone is dropped
//! one peer timeout after the restart. Reading stops at the first
//! truncated record (a torn write of an older version), keeping what came
//! before; the shard limits bound what is restored.

use crate::swarm::Peer;
use crate::{Ctx, TrackerError};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"BTLTRK01";

/// Writes every swarm to `path`.
pub(crate) fn save(ctx: &Ctx, path: &Path) -> Result<(), TrackerError> {
    let err = |source| TrackerError::State {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp).map_err(err)?;
    let mut w = BufWriter::new(f);
    w.write_all(MAGIC).map_err(err)?;
    let mut result = Ok(());
    ctx.for_each_shard(|s| {
        if result.is_err() {
            return;
        }
        let mut buf = Vec::new();
        for (h, t) in &s.torrents {
            buf.extend_from_slice(h);
            buf.extend_from_slice(&t.downloaded.to_be_bytes());
            buf.extend_from_slice(&(t.peers.len() as u32).to_be_bytes());
            for p in &t.peers {
                buf.extend_from_slice(&p.ip);
                buf.extend_from_slice(&p.port.to_be_bytes());
                buf.push(u8::from(p.seeder));
                buf.extend_from_slice(&p.id);
            }
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
    let Some(mut rest) = data.strip_prefix(MAGIC.as_slice()) else {
        return Err(err(std::io::Error::other(
            "not a btl tracker state file (bad magic); move it away to start empty",
        )));
    };
    let now = ctx.now_secs();
    const PEER: usize = 16 + 2 + 1 + 20;
    while rest.len() >= 28 {
        let mut h = [0u8; 20];
        h.copy_from_slice(&rest[..20]);
        let downloaded = u32::from_be_bytes([rest[20], rest[21], rest[22], rest[23]]);
        let n = u32::from_be_bytes([rest[24], rest[25], rest[26], rest[27]]) as usize;
        rest = &rest[28..];
        let Some(need) = n.checked_mul(PEER).filter(|&need| need <= rest.len()) else {
            break;
        };
        for c in rest[..need].chunks_exact(PEER) {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&c[..16]);
            let mut id = [0u8; 20];
            id.copy_from_slice(&c[19..39]);
            ctx.restore(
                h,
                downloaded,
                Peer {
                    ip,
                    port: u16::from_be_bytes([c[16], c[17]]),
                    seeder: c[18] & 1 == 1,
                    last_seen: now,
                    id,
                },
            );
        }
        rest = &rest[need..];
    }
    Ok(())
}
