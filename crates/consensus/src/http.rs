//! The node's HTTP JSON API (axum). Described by [`openapi`], served at
//! `/openapi.json`.
//!
//! Errors are JSON `{"error": "..."}` with a 4xx status for bad input
//! (400 malformed, 404 unknown, 413 too large, 422 refused by the ledger,
//! 429 rate-limited) and 503 when the mempool is full.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::QueryError;
use crate::mempool::AdmitError;
use crate::node::Shared;

/// Most transactions in one batch submission.
pub const MAX_BATCH: usize = 2000;

/// An API error.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({"error": self.1}))).into_response();
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 here is transient (mempool full, receipt not cosigned yet).
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        r
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let code = match e {
            QueryError::NotFound(_) => StatusCode::NOT_FOUND,
            QueryError::BadInput(_) => StatusCode::BAD_REQUEST,
            QueryError::NotYet(..) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::NOT_IMPLEMENTED,
        };
        ApiError(code, e.to_string())
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// The API's routes.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = (shared.app.max_tx_size() * 2 + 64) * MAX_BATCH.min(64) + 4096;
    Router::new()
        .route("/status", get(status))
        .route("/validators", get(validators))
        .route("/tx", post(submit))
        .route("/txs", post(submit_batch))
        .route(
            "/txs/relay",
            post(relay).layer(DefaultBodyLimit::max(
                crate::relay::MAX_BODY + shared.app.max_tx_size() + 4,
            )),
        )
        .route("/tx/{id}", get(tx_status))
        .route("/block/{height}", get(block))
        .route("/account/{addr}", get(account))
        .route("/torrent/{infohash}", get(torrent))
        .route("/receipt/{id}", get(receipt))
        .route("/checkpoint", get(checkpoint))
        .route("/registry/verifiers", get(verifiers))
        .route("/registry/torrent/{infohash}", get(registry_torrent))
        .route("/registry/creator/{account}", get(registry_creator))
        .route("/registry/key/{key}", get(registry_key))
        .route("/registry/manifest/{id}", get(registry_manifest))
        .route(
            "/registry/manifest",
            post(upload_manifest).layer(DefaultBodyLimit::max(MAX_MANIFEST)),
        )
        .route("/proof/{kind}/{key}", get(proof))
        .route("/openapi.json", get(openapi_json))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

async fn status(State(s): State<Arc<Shared>>) -> ApiResult {
    let mut st = s.status.read().map_err(internal)?.clone();
    st.mempool = s.mempool.lock().map(|m| m.len()).unwrap_or(0);
    st.relay = s.relay.as_ref().map(|r| r.stats()).unwrap_or_default();
    Ok(Json(serde_json::to_value(st).map_err(internal)?))
}

/// `?height=N`.
#[derive(Deserialize)]
struct HeightQuery {
    height: Option<u64>,
}

async fn validators(
    State(s): State<Arc<Shared>>,
    q: Result<axum::extract::Query<HeightQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let axum::extract::Query(q) = q.map_err(|e| bad(e.body_text()))?;
    if let Some(h) = q.height {
        let snap = s.store.snapshot().map_err(internal)?;
        let vs = s.app.validators(&snap, h).map_err(internal)?;
        let vs: Vec<Value> = vs
            .iter()
            .map(|(k, p)| json!({"address": hex::encode(k), "public_key": hex::encode(k), "power": p}))
            .collect();
        return Ok(Json(json!({"height": h, "validators": vs})));
    }
    let st = s.status.read().map_err(internal)?;
    let vs: Vec<Value> = st
        .validators
        .iter()
        .map(|(a, p)| json!({"address": a, "public_key": a, "power": p}))
        .collect();
    Ok(Json(
        json!({"height": st.consensus_height, "validators": vs}),
    ))
}

/// A transaction submission.
#[derive(Deserialize)]
struct SubmitTx {
    /// The signed transaction, hex.
    tx: String,
}

/// A batch submission.
#[derive(Deserialize)]
struct SubmitBatch {
    txs: Vec<String>,
}

/// A submitted transaction: hex text from a client, or raw bytes relayed
/// by another validator.
trait Submitted: Sync {
    /// Its bytes, at most `max` of them.
    fn bytes(&self, max: usize) -> Result<Vec<u8>, ApiError>;
}

fn too_large(max: usize) -> ApiError {
    ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("transaction over {max} bytes"),
    )
}

impl Submitted for String {
    fn bytes(&self, max: usize) -> Result<Vec<u8>, ApiError> {
        if self.len() > max * 2 {
            return Err(too_large(max));
        }
        hex::decode(self.trim()).map_err(|e| bad(format!("tx is not hex: {e}")))
    }
}

impl Submitted for &[u8] {
    fn bytes(&self, max: usize) -> Result<Vec<u8>, ApiError> {
        if self.len() > max {
            return Err(too_large(max));
        }
        Ok(self.to_vec())
    }
}

/// Decodes and checks submitted transactions against `snap`: their
/// signatures first as one batch (see [`crate::app::App::preverify`]), then
/// each transaction.
fn check_chunk(
    s: &Shared,
    snap: &crate::store::Snapshot,
    subs: &[impl Submitted],
) -> Vec<Result<(Vec<u8>, crate::app::TxMeta), ApiError>> {
    let max = s.app.max_tx_size();
    let raw: Vec<Result<Vec<u8>, ApiError>> = subs.iter().map(|t| t.bytes(max)).collect();
    let ok: Vec<&[u8]> = raw.iter().filter_map(|r| r.as_deref().ok()).collect();
    if ok.len() > 1 {
        s.app.preverify(&ok);
    }
    raw.into_iter()
        .map(|tx| {
            let tx = tx?;
            let meta = s
                .app
                .check_tx(snap, &tx)
                .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
            Ok((tx, meta))
        })
        .collect()
}

/// A transaction's id, and the transaction if it is new in the mempool.
type Entered = ([u8; 32], Option<Arc<Vec<u8>>>);

/// Puts a checked transaction in the mempool.
fn enter(
    m: &mut crate::mempool::Mempool,
    tx: Vec<u8>,
    meta: crate::app::TxMeta,
    now: Instant,
) -> Result<Entered, ApiError> {
    let id = meta.id;
    match m.admit(tx, meta, now) {
        Ok(tx) => Ok((id, Some(tx))),
        Err(AdmitError::Duplicate) => Ok((id, None)),
        Err(e @ AdmitError::Full(_)) => {
            Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(ApiError(StatusCode::TOO_MANY_REQUESTS, e.to_string())),
    }
}

/// Batches at least this large are checked on several threads.
const PARALLEL_CHECK_MIN: usize = 64;

/// Checks and admits a batch: one state snapshot for all its checks (split
/// over the machine's cores for a large batch), then one mempool lock for
/// all its admissions. CPU-bound (signature checks), so callers run it off
/// the async workers.
///
/// With `relay`, the transactions new to this mempool are also queued for
/// the other validators (see [`crate::relay`]).
fn admit_all<T: Submitted>(
    s: &Shared,
    txs: &[T],
    relay: bool,
) -> Result<Vec<Result<[u8; 32], ApiError>>, ApiError> {
    let snap = s.store.snapshot().map_err(internal)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let checked: Vec<_> = if threads > 1 && txs.len() >= PARALLEL_CHECK_MIN {
        let per = txs.len().div_ceil(threads);
        let snap = &snap;
        std::thread::scope(|sc| {
            let parts: Vec<_> = txs
                .chunks(per)
                .map(|c| sc.spawn(move || check_chunk(s, snap, c)))
                .collect();
            parts
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err(internal("admission thread panicked"))])
                })
                .collect()
        })
    } else {
        check_chunk(s, &snap, txs)
    };
    if checked.len() != txs.len() {
        return Err(internal("admission thread panicked"));
    }
    drop(snap);
    let now = Instant::now();
    let mut fresh = Vec::new();
    let ids = {
        let mut m = s.mempool.lock().map_err(internal)?;
        checked
            .into_iter()
            .map(|c| {
                let (id, new) = c.and_then(|(tx, meta)| enter(&mut m, tx, meta, now))?;
                fresh.extend(new);
                Ok(id)
            })
            .collect()
    };
    if let (true, Some(r)) = (relay, s.relay.as_ref()) {
        for tx in &fresh {
            r.send(tx);
        }
    }
    Ok(ids)
}

async fn submit(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitTx>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| bad(e.body_text()))?;
    let s2 = s.clone();
    let r = tokio::task::spawn_blocking(move || admit_all(&s2, &[body.tx], true))
        .await
        .map_err(internal)??;
    let id = r
        .into_iter()
        .next()
        .ok_or_else(|| internal("no result"))??;
    s.tx_arrived.notify_waiters();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": hex::encode(id), "status": "pending"})),
    ))
}

async fn submit_batch(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitBatch>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| bad(e.body_text()))?;
    if body.txs.len() > MAX_BATCH {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_BATCH} transactions per batch"),
        ));
    }
    let s2 = s.clone();
    let admitted = tokio::task::spawn_blocking(move || admit_all(&s2, &body.txs, true))
        .await
        .map_err(internal)??;
    let results: Vec<Value> = admitted
        .into_iter()
        .map(|r| match r {
            Ok(id) => json!({"id": hex::encode(id), "status": "pending"}),
            Err(ApiError(code, e)) => {
                json!({"status": "rejected", "code": code.as_u16(), "error": e})
            }
        })
        .collect();
    s.tx_arrived.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(json!({"results": results}))))
}

/// `POST /txs/relay`: transactions another validator forwards (a binary
/// body of [`crate::relay`] frames). Checked like any submission; not
/// forwarded again.
async fn relay(
    State(s): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s2 = s.clone();
    let (received, admitted) = tokio::task::spawn_blocking(move || {
        let max = s2.app.max_tx_size();
        let frames = crate::relay::decode_frames(&body, max, crate::relay::MAX_FRAMES)
            .map_err(|e| bad(e.to_string()))?;
        let r = admit_all(&s2, &frames, false)?;
        Ok::<_, ApiError>((frames.len(), r.iter().filter(|r| r.is_ok()).count()))
    })
    .await
    .map_err(internal)??;
    s.tx_arrived.notify_waiters();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"received": received, "admitted": admitted})),
    ))
}

fn parse_id(s: &str) -> Result<[u8; 32], ApiError> {
    crate::config::parse_key(s).map_err(|e| bad(format!("transaction id: {e}")))
}

async fn tx_status(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    if let Some((h, i)) = s.store.tx_location(&id).map_err(internal)? {
        return Ok(Json(
            json!({"id": hex::encode(id), "status": "committed", "height": h, "index": i}),
        ));
    }
    let m = s.mempool.lock().map_err(internal)?;
    if m.contains(&id) {
        return Ok(Json(json!({"id": hex::encode(id), "status": "pending"})));
    }
    if let Some(r) = m.rejection(&id) {
        return Ok(Json(
            json!({"id": hex::encode(id), "status": "rejected", "reason": r}),
        ));
    }
    Err(ApiError(
        StatusCode::NOT_FOUND,
        "unknown transaction".into(),
    ))
}

/// `?raw=true`: the block's bytes and certificate only, without the JSON
/// rendering of its header and transactions.
#[derive(Deserialize)]
struct BlockQuery {
    raw: Option<bool>,
}

async fn block(
    State(s): State<Arc<Shared>>,
    Path(h): Path<String>,
    q: Result<axum::extract::Query<BlockQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let axum::extract::Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let height: u64 = if h == "latest" {
        s.store.tip().map_err(internal)?
    } else {
        h.parse()
            .map_err(|_| bad(format!("height {h:?} is not a number or \"latest\"")))?
    };
    let Some(b) = s.store.block(height).map_err(internal)? else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no block at height {height}"),
        ));
    };
    let cert = s.store.cert(height).map_err(internal)?.unwrap_or_default();
    if q.raw == Some(true) {
        return Ok(Json(json!({
            "height": height,
            "hash": crate::context::BlockHash::of(&b).to_string(),
            "block_hex": hex::encode(&b),
            "certificate_hex": hex::encode(&cert),
        })));
    }
    let summary = s.app.summarize(&b).map_err(internal)?;
    let signers: Vec<String> = crate::codec::decode_commit_cert(&cert)
        .map(|c| {
            c.commit_signatures
                .iter()
                .map(|x| x.address.to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "height": height,
        "hash": crate::context::BlockHash::of(&b).to_string(),
        "header": summary,
        "block_hex": hex::encode(&b),
        "certificate_hex": hex::encode(&cert),
        "signers": signers,
    })))
}

fn query(s: &Shared, kind: &str, arg: &str) -> ApiResult {
    let snap = s.store.snapshot().map_err(internal)?;
    let store = s.store.clone();
    let loc = move |id: &[u8; 32]| store.tx_location(id).ok().flatten();
    Ok(Json(s.app.query(&snap, kind, arg, &loc)?))
}

async fn account(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "account", &a)
}

async fn torrent(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "torrent", &a)
}

async fn receipt(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "receipt", &a)
}

async fn checkpoint(State(s): State<Arc<Shared>>) -> ApiResult {
    query(&s, "checkpoint", "")
}

async fn verifiers(
    State(s): State<Arc<Shared>>,
    q: Result<axum::extract::Query<HeightQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let axum::extract::Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let arg = q.height.map(|h| h.to_string()).unwrap_or_default();
    query(&s, "verifiers", &arg)
}

/// Largest manifest upload (bytes).
pub const MAX_MANIFEST: usize = 1 << 20;
/// Manifest uploads per client address per minute.
pub const MANIFESTS_PER_MINUTE: u32 = 60;
/// Bounds of the unreferenced manifest store.
pub const MANIFEST_BOUNDS: crate::store::ManifestBounds = crate::store::ManifestBounds {
    max_count: 100_000,
    max_bytes: 512 << 20,
};

async fn registry_torrent(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "registry_torrent", &a)
}

async fn registry_key(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "registry_key", &a)
}

async fn registry_manifest(State(s): State<Arc<Shared>>, Path(a): Path<String>) -> ApiResult {
    query(&s, "registry_manifest", &a)
}

/// `?after=INFOHASH&limit=N`.
#[derive(Deserialize)]
struct PageQuery {
    after: Option<String>,
    limit: Option<usize>,
}

async fn registry_creator(
    State(s): State<Arc<Shared>>,
    Path(a): Path<String>,
    q: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let axum::extract::Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 100 {
        return Err(bad("limit must be 1..=100"));
    }
    let arg = format!("{a}\n{}\n{limit}", q.after.unwrap_or_default());
    query(&s, "registry_creator", &arg)
}

/// Counts an upload from `ip`; false when over the per-minute limit.
fn allow_upload(s: &Shared, ip: std::net::IpAddr) -> bool {
    let Ok(mut m) = s.upload_limits.lock() else {
        return false;
    };
    let now = Instant::now();
    if m.len() > 10_000 {
        m.retain(|_, (t, _)| now.duration_since(*t).as_secs() < 60);
    }
    let e = m.entry(ip).or_insert((now, 0));
    if now.duration_since(e.0).as_secs() >= 60 {
        *e = (now, 0);
    }
    e.1 += 1;
    e.1 <= MANIFESTS_PER_MINUTE
}

async fn upload_manifest(
    State(s): State<Arc<Shared>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult {
    let body = body.map_err(|e| ApiError(e.status(), e.body_text()))?;
    if !allow_upload(&s, peer.ip()) {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("at most {MANIFESTS_PER_MINUTE} manifest uploads a minute"),
        ));
    }
    let (id, doc) = s.app.check_manifest(&body).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("manifest refused: {e}"),
        )
    })?;
    let snap = s.store.snapshot().map_err(internal)?;
    let app = s.app.clone();
    let referenced = move |id: &[u8; 32]| app.manifest_referenced(&snap, id);
    s.store
        .put_manifest(&id, &doc, MANIFEST_BOUNDS, &referenced)
        .map_err(internal)?;
    Ok(Json(json!({"id": hex::encode(id)})))
}

async fn proof(
    State(s): State<Arc<Shared>>,
    Path((kind, key)): Path<(String, String)>,
) -> ApiResult {
    query(&s, "proof", &format!("{kind}/{key}"))
}

async fn openapi_json() -> Json<Value> {
    Json(openapi())
}

fn err_resp(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn path_param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": desc, "schema": {"type": "string"}})
}

/// The OpenAPI 3.1 description of the API.
pub fn openapi() -> Value {
    let obj = json!({"type": "object"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "btl ledger node API",
            "version": "1",
            "description": "Submit transactions to the bitorrent ledger and read its committed state. Hashes, ids and keys are lowercase hex. Errors are {\"error\": message}."
        },
        "paths": {
            "/status": {"get": {"summary": "Node and chain status", "responses": {"200": ok_json("status", json!({"$ref": "#/components/schemas/Status"}))}}},
            "/validators": {"get": {"summary": "Validators with voting power, of the height in progress or of ?height=N (from the next height to commit on)", "parameters": [{"name": "height", "in": "query", "required": false, "schema": {"type": "integer"}}], "responses": {"200": ok_json("validators", obj.clone()), "400": err_resp("bad height")}}},
            "/tx": {"post": {
                "summary": "Submit one signed transaction",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tx"], "properties": {"tx": {"type": "string", "description": "the signed transaction, hex"}}}}}},
                "responses": {
                    "202": ok_json("accepted into the mempool", json!({"$ref": "#/components/schemas/Submitted"})),
                    "400": err_resp("malformed request or transaction"),
                    "413": err_resp("transaction too large"),
                    "422": err_resp("refused by the ledger rules (signature, nonce, balance...)"),
                    "429": err_resp("rate limit for the sender exceeded"),
                    "503": err_resp("mempool full")
                }}},
            "/txs": {"post": {
                "summary": "Submit up to 2000 signed transactions; one result each",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["txs"], "properties": {"txs": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": {"202": ok_json("per-transaction results", obj.clone()), "400": err_resp("malformed request"), "413": err_resp("too many transactions")}}},
            "/txs/relay": {"post": {
                "summary": "Transactions forwarded by another validator: checked like any submission, not forwarded again",
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary",
                    "description": "up to 2000 transactions, each a 4-byte big-endian length followed by the signed transaction's bytes"}}}},
                "responses": {"202": ok_json("how many were received and admitted", json!({"type": "object", "properties": {"received": {"type": "integer"}, "admitted": {"type": "integer"}}})),
                    "400": err_resp("malformed frames"), "413": err_resp("body too large")}}},
            "/tx/{id}": {"get": {
                "summary": "Transaction status: pending, committed (height, index) or rejected (reason)",
                "parameters": [path_param("id", "transaction id, hex")],
                "responses": {"200": ok_json("status", obj.clone()), "400": err_resp("bad id"), "404": err_resp("unknown transaction")}}},
            "/block/{height}": {"get": {
                "summary": "A committed block with its commit certificate",
                "parameters": [path_param("height", "block height or \"latest\""),
                    {"name": "raw", "in": "query", "required": false, "schema": {"type": "boolean"},
                     "description": "true: only block_hex and certificate_hex, no JSON rendering of the header and transactions"}],
                "responses": {"200": ok_json("block", obj.clone()), "400": err_resp("bad height"), "404": err_resp("no such block")}}},
            "/account/{address}": {"get": {
                "summary": "An account's balance, nonce and stake",
                "parameters": [path_param("address", "account address")],
                "responses": {"200": ok_json("account", obj.clone()), "400": err_resp("bad address"), "404": err_resp("unknown account")}}},
            "/torrent/{infohash}": {"get": {
                "summary": "A registered torrent by v2 (or v1) infohash",
                "parameters": [path_param("infohash", "infohash, hex")],
                "responses": {"200": ok_json("registration", obj.clone()), "400": err_resp("bad infohash"), "404": err_resp("not registered")}}},
            "/receipt/{id}": {"get": {
                "summary": "The receipt of a registration transaction: a C2SP tlog-proof whose extra line is the registry entry, under a checkpoint cosigned by validators holding more than 2/3 of the power; verify it offline with the keys of /registry/verifiers",
                "parameters": [path_param("id", "transaction id, hex")],
                "responses": {
                    "200": ok_json("receipt", json!({"type": "object", "properties": {"tx_id": {"type": "string"}, "height": {"type": "integer"}, "log_index": {"type": "integer"}, "checkpoint_height": {"type": "integer"}, "checkpoint_size": {"type": "integer"}, "receipt": {"type": "string", "description": "C2SP tlog-proof text"}}})),
                    "400": err_resp("bad id"),
                    "404": err_resp("unknown, uncommitted, or not a registry transaction"),
                    "503": err_resp("committed but no cosigned checkpoint covers it yet (see Retry-After)")}}},
            "/checkpoint": {"get": {
                "summary": "The latest registry checkpoint cosigned by the validators (C2SP signed note)",
                "responses": {"200": ok_json("checkpoint", json!({"type": "object", "properties": {"height": {"type": "integer"}, "size": {"type": "integer"}, "note": {"type": "string"}}})), "503": err_resp("no cosigned checkpoint yet")}}},
            "/registry/verifiers": {"get": {
                "summary": "The validators whose checkpoint cosignatures receipts carry (of the latest cosigned checkpoint, or of ?height=H): save as a trust file for offline receipt checks",
                "parameters": [{"name": "height", "in": "query", "required": false, "schema": {"type": "integer"}}],
                "responses": {"200": ok_json("verifiers", json!({"type": "object", "properties": {"chain_id": {"type": "string"}, "origin": {"type": "string"}, "height": {"type": "integer"}, "validators": {"type": "array", "items": {"type": "object", "properties": {"public_key": {"type": "string"}, "address": {"type": "string"}, "power": {"type": "integer"}, "vkey": {"type": "string"}}}}}})), "400": err_resp("bad height"), "404": err_resp("nothing known at that height")}}},
            "/proof/{kind}/{key}": {"get": {
                "summary": "A state proof against the latest state root (kind: account, torrent, key)",
                "parameters": [path_param("kind", "account, torrent or key"), path_param("key", "the key, hex")],
                "responses": {"200": ok_json("proof", obj.clone()), "400": err_resp("bad kind or key"), "404": err_resp("nothing to prove")}}},
            "/registry/torrent/{infohash}": {"get": {
                "summary": "A registered torrent with its history (registration and license amendments), the receipt of its latest registry transaction (or null until cosigned), its stored manifest (or null) and, as creator_key, the status of the key that signed that manifest (current, rotated, revoked or unknown; null when the node does not store the manifest: ask /registry/key/{key} with the manifest's creator)",
                "parameters": [path_param("infohash", "v2 (64 hex) or v1 (40 hex) infohash")],
                "responses": {"200": ok_json("torrent", json!({"$ref": "#/components/schemas/RegistryTorrent"})), "400": err_resp("bad infohash"), "404": err_resp("not registered")}}},
            "/registry/creator/{account}": {"get": {
                "summary": "A creator's torrents in infohash order, paged",
                "parameters": [path_param("account", "btl1… or 64 hex"), {"name": "after", "in": "query", "required": false, "schema": {"type": "string"}, "description": "last infohash of the previous page"}, {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": ok_json("torrents", obj.clone()), "400": err_resp("bad account, after or limit")}}},
            "/registry/key/{key}": {"get": {
                "summary": "A key's status: current, rotated, revoked or unknown",
                "parameters": [path_param("key", "public key, 64 hex, or did:key")],
                "responses": {"200": ok_json("key status", json!({"$ref": "#/components/schemas/KeyStatus"})), "400": err_resp("bad key")}}},
            "/registry/manifest": {"post": {
                "summary": "Store a signed provenance manifest (JSON, at most 1 MiB); it is verified first and stored under its id (SHA-256 of its JCS form). Rate-limited per client address",
                "requestBody": {"required": true, "content": {"application/json": {"schema": obj.clone()}}},
                "responses": {"200": ok_json("stored", json!({"type": "object", "properties": {"id": {"type": "string"}}})), "400": err_resp("unreadable body"), "413": err_resp("over 1 MiB"), "422": err_resp("not a valid signed manifest"), "429": err_resp("too many uploads")}}},
            "/registry/manifest/{id}": {"get": {
                "summary": "A stored signed manifest",
                "parameters": [path_param("id", "manifest id, hex")],
                "responses": {"200": ok_json("the signed manifest", obj.clone()), "400": err_resp("bad id"), "404": err_resp("not stored")}}},
            "/openapi.json": {"get": {"summary": "This description", "responses": {"200": ok_json("OpenAPI document", obj)}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "KeyStatus": {"type": "object", "required": ["public_key", "status"], "properties": {
                "public_key": {"type": "string", "description": "the key, 64 hex"},
                "account": {"type": ["string", "null"], "description": "the account it signs (or signed) for"},
                "status": {"type": "string", "enum": ["current", "rotated", "revoked", "unknown"]},
                "since_height": {"type": ["integer", "null"], "description": "height it became current, was rotated out or was revoked"},
                "replaced_by": {"type": ["string", "null"], "description": "the key it was rotated to, 64 hex"},
                "reason": {"type": ["string", "null"], "description": "why it was revoked"}
            }},
            "RegistryTorrent": {"type": "object", "required": ["height", "torrent", "tx_id", "manifest_hash", "history", "manifest", "receipt", "creator_key"], "properties": {
                "height": {"type": "integer", "description": "height of the state read"},
                "torrent": {"type": "object", "description": "the record (registration fields, tx_id, height, log_index)"},
                "tx_id": {"type": "string", "description": "the latest registry transaction (registration or amendment)"},
                "manifest_hash": {"type": "string", "description": "id of the record's current manifest"},
                "history": {"type": "array", "items": {"type": "object", "properties": {"height": {"type": "integer"}, "tx_id": {"type": "string"}, "manifest_hash": {"type": "string"}, "license": {"type": "string"}, "log_index": {"type": "integer"}, "kind": {"type": "string", "enum": ["register", "amend"]}}}},
                "manifest": {"type": ["object", "null"], "description": "the stored signed manifest of manifest_hash"},
                "receipt": {"type": ["string", "null"], "description": "C2SP tlog-proof of tx_id, once a cosigned checkpoint covers it"},
                "creator_key": {"oneOf": [{"$ref": "#/components/schemas/KeyStatus"}, {"type": "null"}], "description": "the status of the key that signed manifest (its creator did:key), not the account's current key; null without a stored manifest"}
            }},
            "Submitted": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["pending"]}}},
            "Status": {"type": "object", "properties": {
                "chain_id": {"type": "string"},
                "address": {"type": ["string", "null"]},
                "height": {"type": "integer", "description": "last committed height"},
                "tip_hash": {"type": "string"},
                "consensus_height": {"type": "integer"},
                "consensus_round": {"type": "integer"},
                "mempool": {"type": "integer"},
                "last_commit_ms": {"type": "integer"},
                "validators": {"type": "array"},
                "relay": {"type": "array", "description": "transactions forwarded to each other validator (relay_to in node.json)", "items": {"type": "object", "properties": {
                    "peer": {"type": "string"}, "sent": {"type": "integer"}, "dropped": {"type": "integer"}, "up": {"type": "boolean"}}}}
            }}
        }}
    })
}
