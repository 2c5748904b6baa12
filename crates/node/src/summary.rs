//! A torrent's list entry, from its supervisor's snapshot.

use crate::supervisor::{Phase, View};
use crate::types::{Provenance, TorrentState, TorrentSummary};
use btl_metainfo::magnet::Magnet;

pub(crate) fn info_hashes(v: &View) -> Option<btl_types::InfoHashes> {
    if let Some(t) = &v.torrent {
        return Some(t.info_hashes());
    }
    v.record
        .magnet
        .as_deref()
        .and_then(|m| m.parse::<Magnet>().ok())
        .and_then(|m| m.infohashes())
}

/// The list entry of a torrent.
pub(crate) fn summarize(num: u32, v: &View) -> TorrentSummary {
    let s = &v.stats;
    let t = v.torrent.as_deref();
    let levels = v.record.file_priorities.as_deref();
    let wanted_bytes: u64 = t.map_or(0, |t| {
        t.files()
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                !f.is_pad() && levels.is_none_or(|l| l.get(*i).copied().unwrap_or(2) > 0)
            })
            .map(|(_, f)| f.length)
            .sum()
    });
    let done = v.record.done_at.is_some() && s.wanted_pieces == 0;
    let progress = if s.wanted_pieces > 0 {
        f64::from(s.wanted_have) / f64::from(s.wanted_pieces)
    } else if done {
        1.0
    } else {
        0.0
    };
    let have_bytes = if done {
        wanted_bytes
    } else {
        (u64::from(s.wanted_have) * t.map_or(0, |t| t.piece_length())).min(wanted_bytes)
    };
    let state = match v.phase {
        Phase::FetchingMetadata => TorrentState::FetchingMetadata,
        Phase::Starting => {
            if v.record.paused {
                TorrentState::Paused
            } else {
                TorrentState::Checking
            }
        }
        Phase::Paused | Phase::Ended => TorrentState::Paused,
        Phase::Failed => TorrentState::Failed,
        Phase::Running => match &s.state {
            btl_net::torrent::State::Checking => TorrentState::Checking,
            btl_net::torrent::State::Downloading => TorrentState::Downloading,
            btl_net::torrent::State::Seeding => TorrentState::Seeding,
            btl_net::torrent::State::Failed(_) => TorrentState::Failed,
        },
    };
    let down = s.down_rate as u64;
    let eta_seconds = (state == TorrentState::Downloading && down > 0)
        .then(|| wanted_bytes.saturating_sub(have_bytes) / down);
    let hashes = info_hashes(v);
    let magnet = match &v.record.magnet {
        Some(m) => m.clone(),
        None => hashes.map_or_else(String::new, |h| {
            let mut m = Magnet::new(h);
            m.name = Some(v.record.name.clone());
            m.trackers = t.map_or_else(Vec::new, |t| {
                t.trackers().iter().flatten().cloned().collect()
            });
            m.to_string()
        }),
    };
    TorrentSummary {
        id: v.record.id.clone(),
        num,
        name: v.record.name.clone(),
        state,
        error: v.error.clone(),
        progress,
        wanted_bytes,
        have_bytes,
        total_bytes: t.map_or(0, |t| t.total_length()),
        downloaded: s.downloaded,
        uploaded: s.uploaded,
        download_rate: down,
        upload_rate: s.up_rate as u64,
        peers: s.peers,
        eta_seconds,
        added_at: v.record.added_at,
        done_at: v.record.done_at,
        info_hash_v1: hashes.and_then(|h| h.v1()).map(|h| h.to_hex()),
        info_hash_v2: hashes.and_then(|h| h.v2()).map(|h| h.to_hex()),
        magnet,
        provenance: Provenance::not_checked(),
    }
}
