//! Transmission's RPC (protocol version 16, as Transmission 3.00 speaks
//! it) at `/transmission/rpc`, for the operations that existing tools use:
//! `transmission-remote` can list, add, start, stop, remove torrents, show
//! their details, files, peers and trackers, and set limits.
//!
//! The session-id dance: a request without the current
//! `X-Transmission-Session-Id` gets a 409 carrying it, and the client
//! repeats the request with it (Transmission's guard against cross-site
//! requests; ours in [`crate::auth`] applies too).
//!
//! Torrent ids are the node's torrent numbers; `hashString` is the wire
//! infohash. Speeds are in kB/s (1000 bytes), as `units` says.

use crate::error::HttpError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use btl_node::{
    AddRequest, AddSource, Api, ApiError, FilePriority, FilePriorityChange, LimitsPatch,
};
use serde_json::{json, Map, Value};

/// The header that carries the session id.
pub const SESSION_HEADER: &str = "x-transmission-session-id";

/// Remembered `speed-limit-*` values while the limit is disabled (the
/// engine only knows the enabled limit); 100 kB/s at first, as in
/// Transmission.
#[derive(Debug, Clone, Copy)]
pub struct SpeedMemory {
    down_kb: u64,
    up_kb: u64,
}

impl Default for SpeedMemory {
    fn default() -> Self {
        SpeedMemory {
            down_kb: 100,
            up_kb: 100,
        }
    }
}

/// `POST /transmission/rpc`.
pub async fn rpc(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let sid = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    if sid != Some(&*s.rpc_session_id) {
        let mut r = (
            StatusCode::CONFLICT,
            format!(
                "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>\
                 <p>Repeat it with <code>X-Transmission-Session-Id: {}</code>.</p>",
                s.rpc_session_id
            ),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&s.rpc_session_id) {
            r.headers_mut().insert(SESSION_HEADER, v);
        }
        return r;
    }
    // transmission-remote sends JSON labelled as a form: read the body as
    // JSON whatever the content type says.
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return HttpError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the RPC request is not valid JSON: {e}"),
            )
            .into_response()
        }
    };
    let tag = req.get("tag").cloned();
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let args = req
        .get("arguments")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let (result, arguments) = match dispatch(&s, method, &args).await {
        Ok(a) => ("success".to_string(), a),
        Err(msg) => (msg, Map::new()),
    };
    let mut out = json!({"result": result, "arguments": arguments});
    if let Some(t) = tag {
        out["tag"] = t;
    }
    let mut r = axum::Json(out).into_response();
    if let Ok(v) = HeaderValue::from_str(&s.rpc_session_id) {
        r.headers_mut().insert(SESSION_HEADER, v);
    }
    r
}

pub(crate) type RpcResult = Result<Map<String, Value>, String>;

async fn dispatch(s: &AppState, method: &str, args: &Map<String, Value>) -> RpcResult {
    let api = &s.api;
    match method {
        "session-get" => Ok(session_get(s)),
        "session-set" => session_set(s, args),
        "session-stats" => Ok(session_stats(api)),
        "torrent-get" => crate::transmission_get::torrent_get(api, args).await,
        "torrent-add" => torrent_add(api, args).await,
        "torrent-start" | "torrent-start-now" => {
            for id in ids(api, args)? {
                api.resume(&id).await.map_err(msg)?;
            }
            Ok(Map::new())
        }
        "torrent-stop" => {
            for id in ids(api, args)? {
                api.pause(&id).await.map_err(msg)?;
            }
            Ok(Map::new())
        }
        "torrent-remove" => {
            let delete = args
                .get("delete-local-data")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            for id in ids(api, args)? {
                api.remove(&id, delete).await.map_err(msg)?;
            }
            Ok(Map::new())
        }
        "torrent-set" => torrent_set(api, args).await,
        // Accepted and ignored: the engine re-announces and verifies on
        // its own schedule.
        "torrent-verify" | "torrent-reannounce" | "queue-move-top" | "queue-move-up"
        | "queue-move-down" | "queue-move-bottom" => {
            ids(api, args)?;
            Ok(Map::new())
        }
        "port-test" => Ok(obj(json!({"port-is-open": true}))),
        "free-space" => Ok(obj(json!({
            "path": args.get("path").cloned().unwrap_or(Value::Null),
            "size-bytes": -1
        }))),
        "" => Err("no method given".into()),
        other => Err(format!("method name not recognized: {other}")),
    }
}

fn msg(e: ApiError) -> String {
    e.to_string()
}

pub(crate) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The torrents an `ids` argument names (all when absent).
pub(crate) fn ids(api: &Api, args: &Map<String, Value>) -> Result<Vec<String>, String> {
    let all = || api.list().into_iter().map(|t| t.id).collect::<Vec<_>>();
    let one = |v: &Value| -> Result<String, String> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .map(|n| n.to_string())
                .ok_or_else(|| format!("invalid torrent id {n}")),
            Value::String(h) => Ok(h.clone()),
            other => Err(format!("invalid torrent id {other}")),
        }
    };
    match args.get("ids") {
        None => Ok(all()),
        Some(Value::String(s)) if s == "recently-active" => Ok(all()),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for v in a {
                out.push(one(v)?);
            }
            // Unknown ids are skipped, as Transmission does.
            Ok(out
                .into_iter()
                .filter_map(|id| api.details(&id).ok().map(|d| d.summary.id))
                .collect())
        }
        Some(v) => {
            let id = one(v)?;
            Ok(api
                .details(&id)
                .ok()
                .map(|d| d.summary.id)
                .into_iter()
                .collect())
        }
    }
}

pub(crate) fn kb(bytes: u64) -> u64 {
    bytes.div_ceil(1000)
}

fn session_get(s: &AppState) -> Map<String, Value> {
    let info = s.api.session();
    let mem = s.speed.lock().map(|m| *m).unwrap_or_default();
    let down_kb = if info.limits.download > 0 {
        kb(info.limits.download)
    } else {
        mem.down_kb
    };
    let up_kb = if info.limits.upload > 0 {
        kb(info.limits.upload)
    } else {
        mem.up_kb
    };
    obj(json!({
        "alt-speed-down": 50, "alt-speed-enabled": false, "alt-speed-time-begin": 540,
        "alt-speed-time-day": 127, "alt-speed-time-enabled": false, "alt-speed-time-end": 1020,
        "alt-speed-up": 50, "blocklist-enabled": false, "blocklist-size": 0, "blocklist-url": "",
        "cache-size-mb": 4, "config-dir": info.data_dir, "dht-enabled": false,
        "download-dir": info.download_dir, "download-dir-free-space": -1,
        "download-queue-enabled": false, "download-queue-size": 5, "encryption": "preferred",
        "idle-seeding-limit": 30, "idle-seeding-limit-enabled": false,
        "incomplete-dir": info.download_dir, "incomplete-dir-enabled": false,
        "lpd-enabled": false, "peer-limit-global": 200, "peer-limit-per-torrent": 50,
        "peer-port": info.peer_addrs.first().map_or(0, |a| a.port()),
        "peer-port-random-on-start": false, "pex-enabled": true,
        "port-forwarding-enabled": false, "queue-stalled-enabled": false,
        "queue-stalled-minutes": 30, "rename-partial-files": false,
        "rpc-version": 16, "rpc-version-minimum": 1,
        "script-torrent-done-enabled": false, "script-torrent-done-filename": "",
        "seed-queue-enabled": false, "seed-queue-size": 10,
        "seedRatioLimit": 2, "seedRatioLimited": false,
        "session-id": &*s.rpc_session_id,
        "speed-limit-down": down_kb, "speed-limit-down-enabled": info.limits.download > 0,
        "speed-limit-up": up_kb, "speed-limit-up-enabled": info.limits.upload > 0,
        "start-added-torrents": true, "trash-original-torrent-files": false,
        "units": {
            "memory-bytes": 1024, "memory-units": ["KiB", "MiB", "GiB", "TiB"],
            "size-bytes": 1000, "size-units": ["kB", "MB", "GB", "TB"],
            "speed-bytes": 1000, "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"]
        },
        "utp-enabled": false,
        "version": format!("3.00 (btl {})", info.version),
    }))
}

fn session_set(s: &AppState, args: &Map<String, Value>) -> RpcResult {
    let info = s.api.session();
    let mut mem = s.speed.lock().map(|m| *m).unwrap_or_default();
    let num = |k: &str| args.get(k).and_then(Value::as_u64);
    let flag = |k: &str| args.get(k).and_then(Value::as_bool);
    if let Some(v) = num("speed-limit-down") {
        mem.down_kb = v;
    }
    if let Some(v) = num("speed-limit-up") {
        mem.up_kb = v;
    }
    let pick = |enabled: Option<bool>, current: u64, kb_value: u64| -> Option<u64> {
        match enabled {
            Some(false) => Some(0),
            Some(true) => Some(kb_value * 1000),
            None if current > 0 => Some(kb_value * 1000),
            None => None,
        }
    };
    let patch = LimitsPatch {
        download: pick(
            flag("speed-limit-down-enabled"),
            info.limits.download,
            mem.down_kb,
        ),
        upload: pick(
            flag("speed-limit-up-enabled"),
            info.limits.upload,
            mem.up_kb,
        ),
    };
    s.api.set_session_limits(patch);
    if let Ok(mut m) = s.speed.lock() {
        *m = mem;
    }
    Ok(Map::new())
}

fn session_stats(api: &Api) -> Map<String, Value> {
    let info = api.session();
    let stats = json!({
        "uploadedBytes": info.uploaded, "downloadedBytes": info.downloaded,
        "filesAdded": info.torrents, "sessionCount": 1, "secondsActive": info.uptime_seconds
    });
    obj(json!({
        "activeTorrentCount": info.active_torrents,
        "pausedTorrentCount": info.torrents - info.active_torrents,
        "torrentCount": info.torrents,
        "downloadSpeed": info.download_rate,
        "uploadSpeed": info.upload_rate,
        "current-stats": stats,
        "cumulative-stats": stats,
    }))
}

async fn torrent_add(api: &Api, args: &Map<String, Value>) -> RpcResult {
    let source = if let Some(m) = args.get("metainfo").and_then(Value::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(m.trim())
            .map_err(|e| format!("metainfo is not valid base64: {e}"))?;
        AddSource::TorrentFile(bytes)
    } else if let Some(f) = args.get("filename").and_then(Value::as_str) {
        if f.starts_with("magnet:") || f.contains("://") {
            AddSource::Url(f.to_string())
        } else {
            // A path on the node's machine, as Transmission reads it.
            let meta = std::fs::metadata(f).map_err(|e| format!("cannot read {f}: {e}"))?;
            if meta.len() > btl_node::MAX_TORRENT_BYTES as u64 {
                return Err(format!("{f} is too large for a torrent file"));
            }
            AddSource::TorrentFile(std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"))?)
        }
    } else {
        return Err("torrent-add needs `filename` or `metainfo`".into());
    };
    let mut req = AddRequest::new(source);
    req.paused = args.get("paused").and_then(Value::as_bool).unwrap_or(false);
    if let Some(d) = args.get("download-dir").and_then(Value::as_str) {
        req.save_dir = Some(d.into());
    }
    let added = api.add(req).await.map_err(msg)?;
    if !added.duplicate {
        apply_file_args(api, &added.id, args).await?;
    }
    let key = if added.duplicate {
        "torrent-duplicate"
    } else {
        "torrent-added"
    };
    Ok(obj(
        json!({key: {"id": added.num, "name": added.name, "hashString": added.id}}),
    ))
}

/// `files-wanted`, `files-unwanted` and `priority-*` arguments.
async fn apply_file_args(api: &Api, id: &str, args: &Map<String, Value>) -> Result<(), String> {
    let list = |k: &str| -> Vec<usize> {
        args.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64().map(|n| n as usize))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut changes = Vec::new();
    for (k, p) in [
        ("priority-low", FilePriority::Low),
        ("priority-normal", FilePriority::Normal),
        ("priority-high", FilePriority::High),
        ("files-wanted", FilePriority::Normal),
        ("files-unwanted", FilePriority::Skip),
    ] {
        let indices = list(k);
        if !indices.is_empty() {
            changes.push(FilePriorityChange {
                indices,
                priority: p,
            });
        }
    }
    if !changes.is_empty() {
        api.set_file_priorities(id, &changes).await.map_err(msg)?;
    }
    Ok(())
}

async fn torrent_set(api: &Api, args: &Map<String, Value>) -> RpcResult {
    let num = |k: &str| args.get(k).and_then(Value::as_u64);
    let flag = |k: &str| args.get(k).and_then(Value::as_bool);
    for id in ids(api, args)? {
        let d = api.details(&id).map_err(msg)?;
        let pick = |limited: Option<bool>, value: Option<u64>, current: u64| match (limited, value)
        {
            (Some(false), _) => Some(0),
            (_, Some(v)) if limited == Some(true) || current > 0 => Some(v * 1000),
            (Some(true), None) => Some(current),
            _ => None,
        };
        let patch = LimitsPatch {
            download: pick(
                flag("downloadLimited"),
                num("downloadLimit"),
                d.limits.download,
            ),
            upload: pick(flag("uploadLimited"), num("uploadLimit"), d.limits.upload),
        };
        if patch.download.is_some() || patch.upload.is_some() {
            api.set_limits(&id, patch).await.map_err(msg)?;
        }
        apply_file_args(api, &id, args).await?;
    }
    Ok(Map::new())
}

/// Answers anything but POST with the session id (Transmission's web
/// client fetches it this way).
pub async fn other(State(s): State<AppState>) -> Response {
    let mut r = (
        StatusCode::CONFLICT,
        "use POST with X-Transmission-Session-Id",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&s.rpc_session_id) {
        r.headers_mut().insert(SESSION_HEADER, v);
    }
    r
}
