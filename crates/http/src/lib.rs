//! bitorrent's HTTP face: thin axum routes over [`btl_node::Api`].
//!
//! | path | what |
//! |---|---|
//! | `/` | the web UI (plain HTML, JS and CSS compiled into the binary) |
//! | `/api/v1/...` | the JSON API; its OpenAPI description at `/api/v1/openapi.json` |
//! | `/transmission/rpc` | Transmission's RPC, for `transmission-remote` and friends |
//! | `/metrics` | Prometheus metrics ([`metrics::METRICS`]) |
//!
//! Who may call what is in [`auth`]. Every API error is JSON with a code
//! and a message ([`error`]).

#![recursion_limit = "256"]

pub mod auth;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod transmission;
mod transmission_get;
pub mod ui;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use btl_node::Api;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use auth::AuthConfig;

/// Largest request body: a 64 MiB torrent file in base64, with room.
pub const MAX_BODY: usize = 96 << 20;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub api: Api,
    /// Who may call.
    pub auth: Arc<AuthConfig>,
    /// Transmission's `X-Transmission-Session-Id` for this process.
    pub rpc_session_id: Arc<str>,
    /// Transmission's remembered speed-limit values.
    pub speed: Arc<Mutex<transmission::SpeedMemory>>,
    /// Replies by status class.
    pub requests: Arc<metrics::RequestCounters>,
}

/// The whole router: UI, API, RPC, metrics.
pub fn router(api: Api, auth: AuthConfig) -> Router {
    let state = AppState {
        api,
        auth: Arc::new(auth),
        rpc_session_id: hex::encode(rand::random::<[u8; 24]>()).into(),
        speed: Arc::new(Mutex::new(transmission::SpeedMemory::default())),
        requests: Arc::new(metrics::RequestCounters::default()),
    };
    let guarded = Router::new()
        .nest("/api/v1", routes::router())
        .route(
            "/transmission/rpc",
            axum::routing::post(transmission::rpc).fallback(transmission::other),
        )
        .route(
            "/transmission/rpc/",
            axum::routing::post(transmission::rpc).fallback(transmission::other),
        )
        .route("/metrics", get(metrics::handler))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::guard));
    Router::new()
        .merge(ui::router())
        .merge(guarded)
        .route("/api", any(api_root))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            common_headers,
        ))
        .with_state(state)
}

async fn api_root() -> axum::response::Redirect {
    axum::response::Redirect::permanent("/api/v1/")
}

/// Counts replies and adds the headers every reply carries: no framing by
/// other sites (clickjacking), no content sniffing, and a content security
/// policy that allows only the node's own scripts.
async fn common_headers(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    s.requests.count(r.status().as_u16());
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
