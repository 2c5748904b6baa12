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
        (self.0, Json(json!({"error": self.1}))).into_response()
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
        .route("/tx/{id}", get(tx_status))
        .route("/block/{height}", get(block))
        .route("/account/{addr}", get(account))
        .route("/torrent/{infohash}", get(torrent))
        .route("/receipt/{id}", get(receipt))
        .route("/proof/{kind}/{key}", get(proof))
        .route("/openapi.json", get(openapi_json))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

async fn status(State(s): State<Arc<Shared>>) -> ApiResult {
    let mut st = s.status.read().map_err(internal)?.clone();
    st.mempool = s.mempool.lock().map(|m| m.len()).unwrap_or(0);
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

fn admit(s: &Shared, hex_tx: &str) -> Result<[u8; 32], ApiError> {
    let max = s.app.max_tx_size();
    if hex_tx.len() > max * 2 {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("transaction over {max} bytes"),
        ));
    }
    let tx = hex::decode(hex_tx.trim()).map_err(|e| bad(format!("tx is not hex: {e}")))?;
    let snap = s.store.snapshot().map_err(internal)?;
    let meta = s
        .app
        .check_tx(&snap, &tx)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let id = meta.id;
    let r = s
        .mempool
        .lock()
        .map_err(internal)?
        .admit(tx, meta, Instant::now());
    match r {
        Ok(()) => Ok(id),
        Err(AdmitError::Duplicate) => Ok(id),
        Err(e @ AdmitError::Full(_)) => {
            Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(ApiError(StatusCode::TOO_MANY_REQUESTS, e.to_string())),
    }
}

async fn submit(
    State(s): State<Arc<Shared>>,
    body: Result<Json<SubmitTx>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| bad(e.body_text()))?;
    let id = admit(&s, &body.tx)?;
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
    let results: Vec<Value> = body
        .txs
        .iter()
        .map(|t| match admit(&s, t) {
            Ok(id) => json!({"id": hex::encode(id), "status": "pending"}),
            Err(ApiError(code, e)) => {
                json!({"status": "rejected", "code": code.as_u16(), "error": e})
            }
        })
        .collect();
    s.tx_arrived.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(json!({"results": results}))))
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

async fn block(State(s): State<Arc<Shared>>, Path(h): Path<String>) -> ApiResult {
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
            "/tx/{id}": {"get": {
                "summary": "Transaction status: pending, committed (height, index) or rejected (reason)",
                "parameters": [path_param("id", "transaction id, hex")],
                "responses": {"200": ok_json("status", obj.clone()), "400": err_resp("bad id"), "404": err_resp("unknown transaction")}}},
            "/block/{height}": {"get": {
                "summary": "A committed block with its commit certificate",
                "parameters": [path_param("height", "block height or \"latest\"")],
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
                "summary": "The receipt (C2SP tlog-proof) of a registration transaction",
                "parameters": [path_param("id", "transaction id, hex")],
                "responses": {"200": ok_json("receipt", obj.clone()), "400": err_resp("bad id"), "404": err_resp("no receipt")}}},
            "/proof/{kind}/{key}": {"get": {
                "summary": "A state proof against the latest state root (kind: account, torrent, key)",
                "parameters": [path_param("kind", "account, torrent or key"), path_param("key", "the key, hex")],
                "responses": {"200": ok_json("proof", obj.clone()), "400": err_resp("bad kind or key"), "404": err_resp("nothing to prove")}}},
            "/openapi.json": {"get": {"summary": "This description", "responses": {"200": ok_json("OpenAPI document", obj)}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
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
                "validators": {"type": "array"}
            }}
        }}
    })
}
