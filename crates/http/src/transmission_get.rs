//! Transmission's `torrent-get`: the fields `transmission-remote` asks for
//! (`-l`, `-t N -i`, `-f`, `-pi`, `-it`), mapped from the node's views.

use crate::transmission::{ids, kb, obj, RpcResult};
use btl_node::{Api, FilePriority, TorrentState, TorrentSummary};
use serde_json::{json, Map, Value};

/// Transmission's status numbers: 0 stopped, 2 checking, 4 downloading,
/// 6 seeding.
fn status(t: &TorrentSummary) -> u8 {
    match t.state {
        TorrentState::Paused | TorrentState::Failed => 0,
        TorrentState::Checking => 2,
        TorrentState::FetchingMetadata | TorrentState::Downloading => 4,
        TorrentState::Seeding => 6,
    }
}

/// The fields `torrent-get` answers when asked for none.
const DEFAULT_FIELDS: &[&str] = &["id", "name", "hashString", "status", "percentDone"];

pub(crate) async fn torrent_get(api: &Api, args: &Map<String, Value>) -> RpcResult {
    let fields: Vec<String> = match args.get("fields") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(_) => return Err("`fields` must be an array of field names".into()),
        None => DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
    };
    let mut out = Vec::new();
    for id in ids(api, args)? {
        let Ok(d) = api.details(&id) else { continue };
        let mut t = Map::new();
        for f in &fields {
            if let Some(v) = field(api, &d, f).await {
                t.insert(f.clone(), v);
            }
        }
        out.push(Value::Object(t));
    }
    Ok(obj(json!({"torrents": out})))
}

/// One `torrent-get` field of a torrent (`None`: a field we do not know,
/// left out as Transmission does).
async fn field(api: &Api, d: &btl_node::TorrentDetails, f: &str) -> Option<Value> {
    let t = &d.summary;
    let left = t.wanted_bytes.saturating_sub(t.have_bytes);
    let failed = t.state == TorrentState::Failed;
    let v = match f {
        "id" | "queuePosition" => json!(t.num),
        "name" => json!(t.name),
        "hashString" => json!(t.id),
        "status" => json!(status(t)),
        "error" => json!(if failed { 3 } else { 0 }),
        "errorString" => json!(if failed {
            t.error.clone().unwrap_or_default()
        } else {
            String::new()
        }),
        "eta" => json!(match t.eta_seconds {
            Some(s) => i64::try_from(s).unwrap_or(i64::MAX),
            None if t.state == TorrentState::Downloading => -2,
            None => -1,
        }),
        // Transmission: "finished seeding" (a ratio reached); never here.
        "isFinished" => json!(false),
        "isStalled" => json!(false),
        "leftUntilDone" => json!(left),
        "sizeWhenDone" => json!(t.wanted_bytes),
        "totalSize" => json!(t.total_bytes),
        "percentDone" => json!(t.progress),
        "metadataPercentComplete" => json!(if t.state == TorrentState::FetchingMetadata {
            0.0
        } else {
            1.0
        }),
        "rateDownload" => json!(t.download_rate),
        "rateUpload" => json!(t.upload_rate),
        "peersConnected" => json!(t.peers),
        "peersSendingToUs" => json!(if t.download_rate > 0 { t.peers } else { 0 }),
        "peersGettingFromUs" => json!(if t.upload_rate > 0 { t.peers } else { 0 }),
        "uploadRatio" => json!(if t.downloaded > 0 {
            t.uploaded as f64 / t.downloaded as f64
        } else {
            -1.0
        }),
        "downloadedEver" => json!(t.downloaded),
        "uploadedEver" => json!(t.uploaded),
        "haveValid" => json!(t.have_bytes),
        "haveUnchecked"
        | "desiredAvailable"
        | "recheckProgress"
        | "secondsDownloading"
        | "secondsSeeding"
        | "webseedsSendingToUs"
        | "bandwidthPriority"
        | "seedRatioMode" => json!(0),
        "corruptEver" => json!(u64::from(d.hash_failures) * d.piece_length),
        "addedDate" | "startDate" => json!(t.added_at),
        "doneDate" => json!(t.done_at.unwrap_or(0)),
        "activityDate" => json!(if t.download_rate + t.upload_rate > 0 {
            now()
        } else {
            0
        }),
        "dateCreated" => json!(d.creation_date.unwrap_or(0)),
        "downloadDir" => json!(d.save_dir),
        "magnetLink" => json!(t.magnet),
        "pieceCount" => json!(d.piece_count),
        "pieceSize" => json!(d.piece_length),
        "comment" => json!(d.comment.clone().unwrap_or_default()),
        "creator" => json!(d.created_by.clone().unwrap_or_default()),
        "isPrivate" => json!(d.private),
        "labels" | "webseeds" => json!([]),
        "honorsSessionLimits" => json!(true),
        "downloadLimit" => json!(kb(d.limits.download)),
        "downloadLimited" => json!(d.limits.download > 0),
        "uploadLimit" => json!(kb(d.limits.upload)),
        "uploadLimited" => json!(d.limits.upload > 0),
        "peer-limit" => json!(50),
        "seedRatioLimit" => json!(2),
        "files" | "fileStats" | "priorities" | "wanted" => {
            let files = api.files(&t.id).await.unwrap_or_default();
            let prefix = if d.file_count > 1 || files.iter().any(|f| f.path.contains('/')) {
                format!("{}/", t.name)
            } else {
                String::new()
            };
            let list: Vec<Value> = files
                .iter()
                .map(|x| match f {
                    "files" => json!({"name": if prefix.is_empty() { x.path.clone() } else { format!("{prefix}{}", x.path) },
                                      "length": x.length, "bytesCompleted": x.bytes_completed}),
                    "fileStats" => json!({"bytesCompleted": x.bytes_completed,
                                          "wanted": x.priority != FilePriority::Skip,
                                          "priority": tr_priority(x.priority)}),
                    "priorities" => json!(tr_priority(x.priority)),
                    _ => json!(u8::from(x.priority != FilePriority::Skip)),
                })
                .collect();
            json!(list)
        }
        "peers" => {
            let peers = api.peers(&t.id).await.unwrap_or_default();
            json!(peers
                .iter()
                .map(|p| json!({
                    "address": p.address.ip().to_string(), "port": p.address.port(),
                    "clientName": p.client.clone().unwrap_or_default(),
                    "clientIsChoked": p.am_choking, "clientIsInterested": p.am_interested,
                    "peerIsChoked": p.peer_choking, "peerIsInterested": p.peer_interested,
                    "isDownloadingFrom": p.download_rate > 0, "isUploadingTo": p.upload_rate > 0,
                    "isEncrypted": false, "isIncoming": !p.outgoing, "isUTP": false,
                    "flagStr": flags(p), "progress": p.progress,
                    "rateToClient": p.download_rate, "rateToPeer": p.upload_rate,
                }))
                .collect::<Vec<_>>())
        }
        "trackers" | "trackerStats" => {
            let list = api.trackers(&t.id).unwrap_or_default();
            json!(list
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let host = x.url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
                    if f == "trackers" {
                        json!({"announce": x.url, "id": i, "scrape": "", "tier": x.tier})
                    } else {
                        json!({
                            "announce": x.url, "announceState": 0, "downloadCount": -1,
                            "hasAnnounced": x.announces > 0 || x.last_error.is_some(),
                            "hasScraped": false, "host": host, "id": i, "isBackup": false,
                            "lastAnnouncePeerCount": x.last_peers,
                            "lastAnnounceResult": x.last_error.clone().unwrap_or_else(|| "Success".into()),
                            "lastAnnounceStartTime": x.last_success.unwrap_or(0),
                            "lastAnnounceSucceeded": x.last_error.is_none() && x.announces > 0,
                            "lastAnnounceTime": x.last_success.unwrap_or(0),
                            "lastAnnounceTimedOut": false, "lastScrapeResult": "",
                            "lastScrapeStartTime": 0, "lastScrapeSucceeded": false,
                            "lastScrapeTime": 0, "lastScrapeTimedOut": false,
                            "leecherCount": x.leechers.map_or(-1, i64::from),
                            "nextAnnounceTime": x.next_announce.unwrap_or(0),
                            "nextScrapeTime": 0, "scrape": "", "scrapeState": 0,
                            "seederCount": x.seeders.map_or(-1, i64::from), "tier": x.tier,
                        })
                    }
                })
                .collect::<Vec<_>>())
        }
        _ => return None,
    };
    Some(v)
}

fn flags(p: &btl_node::PeerEntry) -> String {
    let mut s = String::new();
    if p.download_rate > 0 {
        s.push('D');
    }
    if p.upload_rate > 0 {
        s.push('U');
    }
    if !p.outgoing {
        s.push('I');
    }
    s
}

fn tr_priority(p: FilePriority) -> i8 {
    match p {
        FilePriority::Low => -1,
        FilePriority::High => 1,
        _ => 0,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
