//! The node's one typed facade: what the HTTP routes, the Transmission RPC
//! shim and the web UI (through the routes) call.

use crate::ledger::{LedgerHandle, LedgerQuery};
use crate::persist::{DataDir, ListFile, Record, LIST_VERSION};
use crate::summary::{info_hashes, summarize};
use crate::supervisor::{self, Cmd, Phase, Slot, View};
use crate::types::*;
use crate::{unix_now, ApiError, NodeConfig};
use btl_metainfo::magnet::Magnet;
use btl_metainfo::torrent::Torrent;
use btl_net::Session;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};

/// Largest `.torrent` accepted (a multi-terabyte payload's is tens of MiB).
pub const MAX_TORRENT_BYTES: usize = 64 << 20;

/// The node's API. Cheap to clone; every clone talks to the same node.
#[derive(Clone)]
pub struct Api {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Entry {
    pub id: String,
    pub slot: Slot,
}

pub(crate) struct Inner {
    pub config: NodeConfig,
    pub data: DataDir,
    pub session: Session,
    /// Each torrent's provenance status.
    pub provenance: crate::provenance::Cache,
    /// The DHT node and LSD every torrent uses.
    pub discovery: crate::supervisor::Discovery,
    /// The torrents, by number. Locked only for lookups and inserts, never
    /// across an await.
    pub slots: Mutex<BTreeMap<u32, Entry>>,
    pub next_num: AtomicU32,
    /// Serialises writes of the torrent list.
    pub save_lock: tokio::sync::Mutex<()>,
    /// Wakes the saver when a torrent's record changed on its own.
    pub dirty: Arc<Notify>,
    pub started: Instant,
    pub ledger: Option<LedgerHandle>,
    pub tracker: Mutex<Option<btl_tracker::Tracker>>,
    pub tracker_http: Option<std::net::SocketAddr>,
    pub tracker_udp: Option<std::net::SocketAddr>,
    pub shutting_down: AtomicBool,
}

impl Api {
    fn check_running(&self) -> Result<(), ApiError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            Err(ApiError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// The node as a whole.
    pub fn session(&self) -> SessionInfo {
        let list = self.list();
        let (d, u) = self.inner.session.rate_limits();
        SessionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            peer_addrs: self.inner.session.local_addrs().to_vec(),
            tracker_http: self.inner.tracker_http,
            tracker_udp: self.inner.tracker_udp,
            data_dir: self.inner.data.root().to_path_buf(),
            download_dir: self.inner.config.download_dir.clone(),
            limits: Limits {
                download: d,
                upload: u,
            },
            torrents: list.len(),
            active_torrents: list
                .iter()
                .filter(|t| t.state != TorrentState::Paused)
                .count(),
            download_rate: list.iter().map(|t| t.download_rate).sum(),
            upload_rate: list.iter().map(|t| t.upload_rate).sum(),
            downloaded: list.iter().map(|t| t.downloaded).sum(),
            uploaded: list.iter().map(|t| t.uploaded).sum(),
            connections: self.inner.session.connections(),
            uptime_seconds: self.inner.started.elapsed().as_secs(),
            ledger_enabled: self.inner.ledger.is_some(),
            ledger_url: self.inner.ledger.as_ref().map(|l| l.url().to_string()),
            dht_addr: self
                .inner
                .discovery
                .dht
                .as_ref()
                .map(|d| d.local_addr().into()),
            lsd: self.inner.discovery.lsd.is_some(),
        }
    }

    /// Changes the session-wide limits (until the node restarts; the
    /// configuration sets them at start).
    pub fn set_session_limits(&self, patch: LimitsPatch) -> Limits {
        let (d, u) = self.inner.session.rate_limits();
        let l = Limits {
            download: patch.download.unwrap_or(d),
            upload: patch.upload.unwrap_or(u),
        };
        self.inner.session.set_rate_limits(l.download, l.upload);
        l
    }

    /// The embedded tracker's counters, when it runs.
    pub fn tracker_stats(&self) -> Option<btl_tracker::Stats> {
        self.inner
            .tracker
            .lock()
            .ok()
            .and_then(|t| t.as_ref().map(|t| t.stats()))
    }

    fn views(&self) -> Vec<(u32, View)> {
        let Ok(slots) = self.inner.slots.lock() else {
            return Vec::new();
        };
        slots
            .iter()
            .map(|(n, e)| (*n, e.slot.view.borrow().clone()))
            .collect()
    }

    /// Every torrent, by number.
    pub fn list(&self) -> Vec<TorrentSummary> {
        self.views()
            .iter()
            .map(|(n, v)| self.with_provenance(summarize(*n, v)))
            .collect()
    }

    fn with_provenance(&self, mut s: TorrentSummary) -> TorrentSummary {
        if let Some(p) = self.inner.provenance.get(&s.id) {
            s.provenance = p;
        } else if self.inner.ledger.is_some() {
            s.provenance = Provenance::Unknown {
                reason: "not checked yet".into(),
            };
        }
        s
    }

    /// Computes the missing or stale provenance statuses (the node's
    /// background task calls this every few seconds).
    pub(crate) async fn refresh_provenance(&self) {
        let views = self.views();
        let ids: Vec<String> = views.iter().map(|(_, v)| v.record.id.clone()).collect();
        self.inner.provenance.retain(&ids);
        for (_, v) in views {
            let Some(t) = v.torrent.clone() else {
                continue;
            };
            let id = v.record.id.clone();
            if !self.inner.provenance.stale(&id) {
                continue;
            }
            let v2 = t.info_hashes().v2().map(|h| h.to_hex());
            let paths = crate::provenance::prov_paths(
                &self.inner.data,
                &id,
                &v.record.save_dir,
                t.name(),
                v2.as_deref(),
            );
            let p = crate::provenance::compute(&t, &paths, self.inner.ledger.as_ref()).await;
            self.inner.provenance.put(&id, p);
        }
    }

    /// Finds a torrent by id (40 hex digits), v2 infohash (64 hex digits)
    /// or number.
    fn resolve(&self, id: &str) -> Result<(u32, View, tokio::sync::mpsc::Sender<Cmd>), ApiError> {
        let slots = self
            .inner
            .slots
            .lock()
            .map_err(|_| ApiError::Internal("torrent table poisoned".into()))?;
        let key = id.trim().to_ascii_lowercase();
        let found = if let Ok(n) = key.parse::<u32>() {
            slots.get_key_value(&n)
        } else {
            slots.iter().find(|(_, e)| {
                e.id == key
                    || (key.len() == 64 && {
                        let v = e.slot.view.borrow();
                        info_hashes(&v).and_then(|h| h.v2()).map(|h| h.to_hex())
                            == Some(key.clone())
                    })
            })
        };
        match found {
            Some((n, e)) => Ok((*n, e.slot.view.borrow().clone(), e.slot.tx.clone())),
            None => Err(ApiError::UnknownTorrent(id.to_string())),
        }
    }

    /// One torrent in full.
    pub fn details(&self, id: &str) -> Result<TorrentDetails, ApiError> {
        let (n, v, _) = self.resolve(id)?;
        let summary = self.with_provenance(summarize(n, &v));
        let t = v.torrent.as_deref();
        Ok(TorrentDetails {
            summary,
            save_dir: v.record.save_dir.clone(),
            piece_length: t.map_or(0, |t| t.piece_length()),
            piece_count: t.map_or(0, |t| t.piece_count() as u32),
            have_pieces: v.stats.have_pieces,
            file_count: t.map_or(0, |t| t.files().iter().filter(|f| !f.is_pad()).count()),
            private: t.is_some_and(|t| t.is_private()),
            comment: t.and_then(|t| t.comment().map(str::to_string)),
            created_by: t.and_then(|t| t.created_by().map(str::to_string)),
            creation_date: t.and_then(|t| t.creation_date()),
            limits: Limits {
                download: v.record.max_download_rate,
                upload: v.record.max_upload_rate,
            },
            hash_failures: v.stats.hash_failures,
            banned_peers: v.stats.banned,
        })
    }

    async fn ask<T>(
        &self,
        tx: &tokio::sync::mpsc::Sender<Cmd>,
        make: impl FnOnce(oneshot::Sender<T>) -> Cmd,
    ) -> Result<T, ApiError> {
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply))
            .await
            .map_err(|_| ApiError::Conflict("the torrent is being removed".into()))?;
        rx.await
            .map_err(|_| ApiError::Conflict("the torrent is being removed".into()))
    }

    /// Adds a torrent (a duplicate is reported, not added twice). The
    /// torrent is saved in the list before this returns.
    pub async fn add(&self, req: AddRequest) -> Result<Added, ApiError> {
        self.check_running()?;
        let parsed = match &req.source {
            AddSource::Url(u) if !u.trim_start().starts_with("magnet:") => {
                let bytes = crate::fetch::fetch_torrent(u.trim()).await?;
                parse_source(&AddSource::TorrentFile(bytes))?
            }
            other => parse_source(other)?,
        };
        let (hashes, name) = match &parsed {
            Parsed::Torrent(t, _) => (t.info_hashes(), t.name().to_string()),
            Parsed::Magnet(m) => {
                let h = m.infohashes().ok_or_else(|| {
                    ApiError::BadRequest(
                        "the magnet link has no infohash (xt=urn:btih:... or xt=urn:btmh:...)"
                            .into(),
                    )
                })?;
                let name = m.name.clone().unwrap_or_else(|| h.wire_id().to_hex());
                (h, name)
            }
        };
        let id = hashes.wire_id().to_hex();
        if let Ok((n, v, tx)) = self.resolve(&id) {
            // A duplicate: the peers given are still useful.
            if !req.peers.is_empty() {
                self.ask(&tx, |r| Cmd::AddPeers(req.peers.clone(), r))
                    .await?;
                self.save_list().await?;
            }
            return Ok(Added {
                id,
                num: n,
                name: v.record.name,
                duplicate: true,
            });
        }
        let save_dir = match &req.save_dir {
            Some(d) if !d.is_absolute() => {
                return Err(ApiError::BadRequest(format!(
                    "save_dir {} is not an absolute path",
                    d.display()
                )))
            }
            Some(d) => d.clone(),
            None => self.inner.config.download_dir.clone(),
        };
        let (torrent, magnet) = match parsed {
            Parsed::Torrent(t, bytes) => {
                if let Some(p) = &req.file_priorities {
                    if p.len() > t.files().len() {
                        return Err(ApiError::BadRequest(format!(
                            "{} file priorities given, the torrent has {} files",
                            p.len(),
                            t.files().len()
                        )));
                    }
                }
                let path = self.inner.data.torrent_path(&id);
                tokio::task::spawn_blocking(move || crate::persist::write_atomic(&path, &bytes))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .map_err(|e| ApiError::Internal(format!("cannot save the torrent: {e}")))?;
                (Some(Arc::new(*t)), None)
            }
            Parsed::Magnet(m) => (None, Some(*m)),
        };
        let mut peers: Vec<String> = req.peers.iter().map(|a| a.to_string()).collect();
        let mut trackers = Vec::new();
        if let Some(m) = &magnet {
            peers.extend(m.peers.iter().map(|p| p.to_string()));
            trackers = m.trackers.clone();
        }
        let record = Record {
            id: id.clone(),
            num: 0,
            name: name.clone(),
            magnet: magnet.as_ref().map(|m| m.to_string()),
            save_dir,
            paused: req.paused,
            file_priorities: req
                .file_priorities
                .as_ref()
                .map(|p| p.iter().map(|x| x.level()).collect()),
            max_download_rate: req.limits.download,
            max_upload_rate: req.limits.upload,
            added_at: unix_now(),
            done_at: None,
            peers,
            trackers,
        };
        let num = {
            let mut slots = self
                .inner
                .slots
                .lock()
                .map_err(|_| ApiError::Internal("torrent table poisoned".into()))?;
            // Checked again under the lock: two adds of one torrent race.
            if let Some((n, e)) = slots.iter().find(|(_, e)| e.id == id) {
                return Ok(Added {
                    id,
                    num: *n,
                    name: e.slot.view.borrow().record.name.clone(),
                    duplicate: true,
                });
            }
            let num = self.inner.next_num.fetch_add(1, Ordering::Relaxed);
            let record = Record { num, ..record };
            let slot = supervisor::spawn(
                self.inner.session.clone(),
                self.inner.discovery.clone(),
                self.inner.data.clone(),
                record,
                torrent,
                self.inner.dirty.clone(),
            );
            slots.insert(
                num,
                Entry {
                    id: id.clone(),
                    slot,
                },
            );
            num
        };
        self.save_list().await?;
        Ok(Added {
            id,
            num,
            name,
            duplicate: false,
        })
    }

    /// Stops a torrent, saving its progress; it stays stopped across
    /// restarts until resumed.
    pub async fn pause(&self, id: &str) -> Result<(), ApiError> {
        self.check_running()?;
        let (_, _, tx) = self.resolve(id)?;
        self.ask(&tx, Cmd::Pause).await?;
        self.save_list().await
    }

    /// Starts a paused (or failed) torrent.
    pub async fn resume(&self, id: &str) -> Result<(), ApiError> {
        self.check_running()?;
        let (_, _, tx) = self.resolve(id)?;
        self.ask(&tx, Cmd::Resume).await?;
        self.save_list().await
    }

    /// Removes a torrent, and its downloaded files if `delete_data`.
    pub async fn remove(&self, id: &str, delete_data: bool) -> Result<(), ApiError> {
        self.check_running()?;
        let (n, _, tx) = self.resolve(id)?;
        // Out of the list first: a crash after this leaves at worst files
        // nobody tracks, never a torrent without its state.
        if let Ok(mut slots) = self.inner.slots.lock() {
            slots.remove(&n);
        }
        self.save_list().await?;
        let (reply, rx) = oneshot::channel();
        if tx.send(Cmd::Remove { delete_data, reply }).await.is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// The torrent's files (pad files left out).
    pub async fn files(&self, id: &str) -> Result<Vec<FileEntry>, ApiError> {
        let (_, v, tx) = self.resolve(id)?;
        let Some(t) = v.torrent.clone() else {
            return Err(ApiError::Conflict(
                "the torrent's metadata is not known yet (a magnet still fetching it)".into(),
            ));
        };
        let have = if v.phase == Phase::Running {
            self.ask(&tx, Cmd::Have).await?
        } else {
            None
        };
        let levels = v.record.file_priorities.clone().unwrap_or_default();
        let pl = t.piece_length().max(1);
        let total = t.total_length();
        Ok(t.files()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.is_pad())
            .map(|(i, f)| {
                let done = match (&have, f.length) {
                    (_, 0) => 0,
                    (None, _) => {
                        if v.record.done_at.is_some() && levels.get(i).copied().unwrap_or(2) > 0 {
                            f.length
                        } else {
                            0
                        }
                    }
                    (Some(h), len) => {
                        let (start, end) = (f.offset, f.offset + len);
                        let mut done = 0;
                        let mut p = start / pl;
                        while p * pl < end {
                            if h.get(p as usize).copied().unwrap_or(false) {
                                let ps = p * pl;
                                let pe = (ps + pl).min(total.max(end));
                                done += pe.min(end) - ps.max(start);
                            }
                            p += 1;
                        }
                        done
                    }
                };
                FileEntry {
                    index: i,
                    path: f.display_path(),
                    length: f.length,
                    bytes_completed: done,
                    priority: FilePriority::from_level(levels.get(i).copied().unwrap_or(2)),
                }
            })
            .collect())
    }

    /// Changes file priorities (a running torrent restarts with them).
    pub async fn set_file_priorities(
        &self,
        id: &str,
        changes: &[FilePriorityChange],
    ) -> Result<Vec<FileEntry>, ApiError> {
        self.check_running()?;
        let (_, v, tx) = self.resolve(id)?;
        let Some(t) = v.torrent.clone() else {
            return Err(ApiError::Conflict(
                "the torrent's metadata is not known yet: set file priorities once it is".into(),
            ));
        };
        let count = t.files().len();
        let mut levels = v
            .record
            .file_priorities
            .clone()
            .unwrap_or_else(|| vec![2; count]);
        levels.resize(count, 2);
        for c in changes {
            for &i in &c.indices {
                if i >= count || t.files()[i].is_pad() {
                    return Err(ApiError::BadRequest(format!(
                        "file index {i} is out of range (the torrent has {count} files; see its file list)"
                    )));
                }
                levels[i] = c.priority.level();
            }
        }
        self.ask(&tx, |r| Cmd::SetPriorities(levels, r)).await?;
        self.save_list().await?;
        self.files(id).await
    }

    /// The connected peers.
    pub async fn peers(&self, id: &str) -> Result<Vec<PeerEntry>, ApiError> {
        let (_, v, tx) = self.resolve(id)?;
        let pieces = v.torrent.as_ref().map_or(0, |t| t.piece_count()).max(1);
        let list = self.ask(&tx, Cmd::Peers).await?;
        Ok(list
            .into_iter()
            .map(|p| {
                let s = p.stats;
                PeerEntry {
                    address: p.addr,
                    client: p.client,
                    outgoing: p.outgoing,
                    progress: s
                        .as_ref()
                        .map_or(0.0, |s| (f64::from(s.pieces) / pieces as f64).min(1.0)),
                    download_rate: s.as_ref().map_or(0, |s| s.download_rate),
                    upload_rate: s.as_ref().map_or(0, |s| s.upload_rate),
                    downloaded: s.as_ref().map_or(0, |s| s.downloaded),
                    uploaded: s.as_ref().map_or(0, |s| s.uploaded),
                    am_choking: s.as_ref().is_none_or(|s| s.am_choking),
                    am_interested: s.as_ref().is_some_and(|s| s.am_interested),
                    peer_choking: s.as_ref().is_none_or(|s| s.peer_choking),
                    peer_interested: s.as_ref().is_some_and(|s| s.peer_interested),
                }
            })
            .collect())
    }

    /// The torrent's trackers and their status.
    pub fn trackers(&self, id: &str) -> Result<Vec<TrackerEntry>, ApiError> {
        let (_, v, _) = self.resolve(id)?;
        let secs = |t: Option<SystemTime>| {
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
        };
        if let Some(board) = &v.trackers {
            let list = board.lock().map(|b| b.clone()).unwrap_or_default();
            return Ok(list
                .into_iter()
                .map(|t| TrackerEntry {
                    url: t.url,
                    tier: t.tier,
                    announces: t.announces,
                    last_success: secs(t.last_success),
                    last_error: t.last_error,
                    last_peers: t.last_peers,
                    seeders: t.seeders,
                    leechers: t.leechers,
                    next_announce: secs(t.next_announce),
                })
                .collect());
        }
        // Not running: the configured trackers, not announced.
        let mut urls: Vec<(usize, String)> = v
            .torrent
            .as_ref()
            .map(|t| {
                t.trackers()
                    .iter()
                    .enumerate()
                    .flat_map(|(i, tier)| tier.iter().map(move |u| (i, u.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let base = urls.len();
        for (i, u) in v.record.trackers.iter().enumerate() {
            urls.push((base + i, u.clone()));
        }
        Ok(urls
            .into_iter()
            .map(|(tier, url)| TrackerEntry {
                url,
                tier,
                announces: 0,
                last_success: None,
                last_error: None,
                last_peers: 0,
                seeders: None,
                leechers: None,
                next_announce: None,
            })
            .collect())
    }

    /// Changes a torrent's limits; returns them.
    pub async fn set_limits(&self, id: &str, patch: LimitsPatch) -> Result<Limits, ApiError> {
        self.check_running()?;
        let (_, v, tx) = self.resolve(id)?;
        let l = Limits {
            download: patch.download.unwrap_or(v.record.max_download_rate),
            upload: patch.upload.unwrap_or(v.record.max_upload_rate),
        };
        self.ask(&tx, |r| Cmd::SetLimits(l, r)).await?;
        self.save_list().await?;
        Ok(l)
    }

    /// The torrent's provenance status.
    pub fn provenance(&self, id: &str) -> Result<Provenance, ApiError> {
        let (n, v, _) = self.resolve(id)?;
        Ok(self.with_provenance(summarize(n, &v)).provenance)
    }

    /// Asks the ledger; [`ApiError::LedgerNotEnabled`] while the node runs
    /// without it.
    pub async fn ledger(&self, query: LedgerQuery) -> Result<serde_json::Value, ApiError> {
        match &self.inner.ledger {
            None => Err(ApiError::LedgerNotEnabled),
            Some(l) => l.query(&query).await,
        }
    }

    /// Writes the torrent list durably.
    pub(crate) async fn save_list(&self) -> Result<(), ApiError> {
        let _guard = self.inner.save_lock.lock().await;
        let list = ListFile {
            version: LIST_VERSION,
            next_num: self.inner.next_num.load(Ordering::Relaxed),
            torrents: self.views().into_iter().map(|(_, v)| v.record).collect(),
        };
        let data = self.inner.data.clone();
        tokio::task::spawn_blocking(move || data.save_list(&list))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(format!("cannot save the torrent list: {e}")))
    }
}

enum Parsed {
    Torrent(Box<Torrent>, Vec<u8>),
    Magnet(Box<Magnet>),
}

fn parse_source(source: &AddSource) -> Result<Parsed, ApiError> {
    match source {
        AddSource::Magnet(s) => parse_magnet(s),
        AddSource::Url(u) if u.starts_with("magnet:") => parse_magnet(u),
        AddSource::Url(u) => Err(ApiError::BadRequest(format!(
            "cannot add {u}: give a magnet link or an http:// URL of a .torrent"
        ))),
        AddSource::TorrentFile(raw) => {
            if raw.len() > MAX_TORRENT_BYTES {
                return Err(ApiError::BadRequest(format!(
                    "the torrent file is {} bytes, over the {MAX_TORRENT_BYTES} byte limit",
                    raw.len()
                )));
            }
            let bytes = if btl_metainfo::compact::is_btl(raw) {
                btl_metainfo::compact::btl_to_torrent(raw)
                    .map_err(|e| ApiError::BadRequest(format!("not a valid .btl file: {e}")))?
                    .1
            } else {
                raw.clone()
            };
            let t = Torrent::from_bytes(&bytes)
                .map_err(|e| ApiError::BadRequest(format!("not a valid torrent file: {e}")))?;
            Ok(Parsed::Torrent(Box::new(t), bytes))
        }
    }
}

fn parse_magnet(s: &str) -> Result<Parsed, ApiError> {
    let m: Magnet = s
        .trim()
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid magnet link: {e}")))?;
    Ok(Parsed::Magnet(Box::new(m)))
}
