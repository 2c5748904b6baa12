//! `/api/v1`: JSON routes over [`btl_node::Api`]. Each handler parses,
//! calls one Api method, and replies; the shapes are `btl_node::types`,
//! described in `openapi.json`.

use crate::error::{json_rejection, ApiJson, HttpError};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use btl_node::ledger::LedgerQuery;
use btl_node::{AddRequest, AddSource, FilePriority, FilePriorityChange, Limits, LimitsPatch};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

type R<T> = Result<T, HttpError>;

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/openapi.json", get(openapi))
        .route("/session", get(session).patch(set_session))
        .route("/torrents", get(list).post(add))
        .route("/torrents/{id}", get(details).delete(remove))
        .route("/torrents/{id}/pause", post(pause))
        .route("/torrents/{id}/resume", post(resume))
        .route("/torrents/{id}/files", get(files).patch(set_files))
        .route("/torrents/{id}/peers", get(peers))
        .route("/torrents/{id}/trackers", get(trackers))
        .route("/torrents/{id}/limits", get(limits).patch(set_limits))
        .route("/torrents/{id}/provenance", get(provenance))
        .route("/ledger/status", get(ledger_status))
        .route("/ledger/blocks", get(ledger_blocks))
        .route("/ledger/blocks/{height}", get(ledger_block))
        .route("/ledger/accounts/{id}", get(ledger_account))
        .route("/ledger/validators", get(ledger_validators))
        .route("/ledger/torrents/{id}", get(ledger_torrent))
        .route("/reputation/{id}", get(reputation))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The OpenAPI description (hand-written; a test checks that it lists
/// exactly the routes above).
pub const OPENAPI: &str = include_str!("../assets/openapi.json");

async fn index(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "btl",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "/api/v1",
        "openapi": "/api/v1/openapi.json",
        "ledger_enabled": s.api.session().ledger_enabled,
    }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "no_such_endpoint",
        "no such endpoint: see /api/v1/openapi.json for the list",
    )
}

async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method: see /api/v1/openapi.json",
    )
}

async fn session(State(s): State<AppState>) -> Json<btl_node::SessionInfo> {
    Json(s.api.session())
}

async fn set_session(
    State(s): State<AppState>,
    ApiJson(patch): ApiJson<LimitsPatch>,
) -> Json<Limits> {
    Json(s.api.set_session_limits(patch))
}

async fn list(State(s): State<AppState>) -> Json<Vec<btl_node::TorrentSummary>> {
    Json(s.api.list())
}

/// The JSON body of `POST /torrents`: exactly one of `magnet`, `torrent`
/// (base64 of the file) and `url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    magnet: Option<String>,
    torrent: Option<String>,
    url: Option<String>,
    save_dir: Option<PathBuf>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    peers: Vec<SocketAddr>,
    file_priorities: Option<Vec<FilePriority>>,
    limits: Option<Limits>,
}

async fn add(State(s): State<AppState>, req: Request) -> R<Response> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let request = if ctype.starts_with("application/x-bittorrent") {
        let bytes = Bytes::from_request(req, &s)
            .await
            .map_err(|e| HttpError::new(e.status(), "bad_body", e.body_text()))?;
        AddRequest::new(AddSource::TorrentFile(bytes.to_vec()))
    } else {
        let body = match Json::<AddBody>::from_request(req, &s).await {
            Ok(Json(b)) => b,
            Err(e) => return Err(json_rejection(e)),
        };
        let given = [&body.magnet, &body.torrent, &body.url]
            .iter()
            .filter(|x| x.is_some())
            .count();
        if given != 1 {
            return Err(HttpError::bad_request(
                "give exactly one of `magnet` (a magnet link), `torrent` (the .torrent file in base64) and `url`",
            ));
        }
        let source = if let Some(m) = body.magnet {
            AddSource::Magnet(m)
        } else if let Some(t) = body.torrent {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .map_err(|e| {
                    HttpError::bad_request(format!("`torrent` is not valid base64: {e}"))
                })?;
            AddSource::TorrentFile(bytes)
        } else {
            AddSource::Url(body.url.unwrap_or_default())
        };
        AddRequest {
            source,
            save_dir: body.save_dir,
            paused: body.paused,
            peers: body.peers,
            file_priorities: body.file_priorities,
            limits: body.limits.unwrap_or_default(),
        }
    };
    let added = s.api.add(request).await?;
    let status = if added.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(added)).into_response())
}

async fn details(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<btl_node::TorrentDetails>> {
    Ok(Json(s.api.details(&id)?))
}

async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> R<Json<serde_json::Value>> {
    let delete_data = match q.get("delete_data").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(HttpError::bad_request(format!(
                "delete_data must be true or false, not `{other}`"
            )))
        }
    };
    let details = s.api.details(&id)?;
    s.api.remove(&id, delete_data).await?;
    Ok(Json(serde_json::json!({
        "removed": details.summary.id,
        "data_deleted": delete_data,
    })))
}

async fn pause(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<btl_node::TorrentSummary>> {
    s.api.pause(&id).await?;
    Ok(Json(s.api.details(&id)?.summary))
}

async fn resume(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<btl_node::TorrentSummary>> {
    s.api.resume(&id).await?;
    Ok(Json(s.api.details(&id)?.summary))
}

async fn files(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<Vec<btl_node::FileEntry>>> {
    Ok(Json(s.api.files(&id).await?))
}

async fn set_files(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(changes): ApiJson<Vec<FilePriorityChange>>,
) -> R<Json<Vec<btl_node::FileEntry>>> {
    Ok(Json(s.api.set_file_priorities(&id, &changes).await?))
}

async fn peers(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<Vec<btl_node::PeerEntry>>> {
    Ok(Json(s.api.peers(&id).await?))
}

async fn trackers(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<Vec<btl_node::TrackerEntry>>> {
    Ok(Json(s.api.trackers(&id)?))
}

async fn limits(State(s): State<AppState>, Path(id): Path<String>) -> R<Json<Limits>> {
    Ok(Json(s.api.details(&id)?.limits))
}

async fn set_limits(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<LimitsPatch>,
) -> R<Json<Limits>> {
    Ok(Json(s.api.set_limits(&id, patch).await?))
}

async fn provenance(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<btl_node::Provenance>> {
    Ok(Json(s.api.provenance(&id)?))
}

async fn ledger(s: &AppState, q: LedgerQuery) -> R<Json<serde_json::Value>> {
    Ok(Json(s.api.ledger(q).await?))
}

async fn ledger_status(State(s): State<AppState>) -> R<Json<serde_json::Value>> {
    ledger(&s, LedgerQuery::Status).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocksQuery {
    before: Option<u64>,
    limit: Option<u32>,
}

async fn ledger_blocks(
    State(s): State<AppState>,
    q: Result<Query<BlocksQuery>, axum::extract::rejection::QueryRejection>,
) -> R<Json<serde_json::Value>> {
    let Query(q) =
        q.map_err(|e| HttpError::bad_request(format!("bad query: {}", e.body_text())))?;
    ledger(
        &s,
        LedgerQuery::Blocks {
            before: q.before,
            limit: q.limit.unwrap_or(20).min(100),
        },
    )
    .await
}

async fn ledger_block(
    State(s): State<AppState>,
    Path(height): Path<String>,
) -> R<Json<serde_json::Value>> {
    let height = height
        .parse()
        .map_err(|_| HttpError::bad_request(format!("block height `{height}` is not a number")))?;
    ledger(&s, LedgerQuery::Block { height }).await
}

async fn ledger_account(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<serde_json::Value>> {
    ledger(&s, LedgerQuery::Account { id }).await
}

async fn ledger_validators(State(s): State<AppState>) -> R<Json<serde_json::Value>> {
    ledger(&s, LedgerQuery::Validators).await
}

async fn ledger_torrent(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<serde_json::Value>> {
    ledger(&s, LedgerQuery::Torrent { id }).await
}

async fn reputation(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> R<Json<serde_json::Value>> {
    ledger(&s, LedgerQuery::Reputation { id }).await
}
