//! The HTTP API of `lockgate server` (axum), under `/api/v1`, JSON in and out; described by
//! the OpenAPI document `docs/openapi.json` (generated from the code by [`openapi`], served at
//! `/api/v1/openapi.json`) and the guide `docs/api.md`.
//!
//! Modules: [`wire`] (every request and response body: the contract clients read),
//! [`service`] (the answers, computed once for the handlers and the command line's local
//! backend), [`openapi`] (the document), [`auth`] (bearer tokens and roles), [`error`] (JSON
//! errors); handlers in `pipeline` (the graph, resources and their versions), `builds` (jobs,
//! builds, steps, logs, reports), `sse` (live logs), `environments` (status, why, approve,
//! rollback, nodes, metrics).
//!
//! Errors are JSON `{"error": "…"}` with a status code that says whose fault it is.

pub mod auth;
mod builds;
mod environments;
pub mod error;
pub mod metrics;
pub mod openapi;
mod pipeline;
pub mod service;
mod sse;
pub mod web;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use auth::{ApiConfig, Role, TokenEntry};
pub use error::ApiError;

use error::ApiResult;
use lockgate_engine::scheduler::Scheduler;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The scheduler (and through it the store and the pipeline).
    pub scheduler: Scheduler,
    /// Tokens and whether reads are protected.
    pub config: Arc<ApiConfig>,
    /// Becomes `true` when the server shuts down: live log streams end then.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Builds the router while recording each (method, path) it serves.
struct Routes {
    router: Router<AppState>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(
        mut self,
        methods: &[&'static str],
        path: &'static str,
        mr: MethodRouter<AppState>,
    ) -> Self {
        for m in methods {
            self.list.push((m, path));
        }
        self.router = self.router.route(path, mr);
        self
    }
}

fn routes() -> Routes {
    use axum::routing::post;
    let r = Routes {
        router: Router::new(),
        list: Vec::new(),
    };
    r.add(&["get"], "/healthz", get(healthz))
        .add(&["get"], "/api/v1/openapi.json", get(openapi_document))
        .add(&["get"], "/api/v1/metrics", get(environments::metrics))
        .add(&["get"], "/metrics", get(environments::root_metrics))
        .add(&["get"], "/api/v1/pipeline", get(pipeline::graph))
        .add(&["get"], "/api/v1/resources", get(pipeline::resources))
        .add(
            &["get"],
            "/api/v1/resources/{name}/versions",
            get(pipeline::versions),
        )
        .add(
            &["post", "delete"],
            "/api/v1/resources/{name}/pin",
            post(pipeline::pin).delete(pipeline::unpin),
        )
        .add(
            &["post"],
            "/api/v1/resources/{name}/versions/disable",
            post(pipeline::disable),
        )
        .add(
            &["post"],
            "/api/v1/resources/{name}/versions/enable",
            post(pipeline::enable),
        )
        .add(
            &["post"],
            "/api/v1/resources/{name}/check",
            post(pipeline::check),
        )
        .add(&["get"], "/api/v1/jobs", get(builds::jobs))
        .add(
            &["get"],
            "/api/v1/jobs/{name}/builds",
            get(builds::job_builds),
        )
        .add(
            &["post"],
            "/api/v1/jobs/{name}/trigger",
            post(builds::trigger),
        )
        .add(
            &["get"],
            "/api/v1/jobs/{name}/builds/{number}",
            get(builds::job_build),
        )
        .add(&["get"], "/api/v1/builds", get(builds::all_builds))
        .add(&["get"], "/api/v1/builds/{id}", get(builds::build))
        .add(&["get"], "/api/v1/builds/{id}/steps", get(builds::steps))
        .add(&["get"], "/api/v1/builds/{id}/logs", get(builds::logs))
        .add(
            &["get"],
            "/api/v1/builds/{id}/logs/stream",
            get(sse::stream),
        )
        .add(
            &["get"],
            "/api/v1/builds/{id}/reports",
            get(builds::reports),
        )
        .add(&["get"], "/api/v1/environments", get(environments::list))
        .add(
            &["get"],
            "/api/v1/environments/{env}/why",
            get(environments::why),
        )
        .add(
            &["post"],
            "/api/v1/environments/{env}/approve",
            post(environments::approve),
        )
        .add(
            &["post"],
            "/api/v1/environments/{env}/rollback",
            post(environments::rollback),
        )
        .add(&["get"], "/api/v1/nodes", get(environments::nodes))
}

/// Every (method, path) the router serves, lowercase methods, paths in axum's `{param}`
/// syntax (the same as OpenAPI's).
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    routes().list
}

/// The routes with open reads and no tokens (webhooks still work).
pub fn router(scheduler: Scheduler) -> Router {
    router_with(scheduler, ApiConfig::open())
}

/// The routes, sharing `scheduler`, with access `config`.
pub fn router_with(scheduler: Scheduler, config: ApiConfig) -> Router {
    app(
        scheduler,
        config,
        Arc::new(tokio::sync::watch::channel(false).0),
    )
}

fn app(
    scheduler: Scheduler,
    config: ApiConfig,
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
) -> Router {
    let _ = crate::metrics::recorder();
    routes()
        .router
        .merge(crate::web::router())
        .fallback(not_found)
        .with_state(AppState {
            scheduler,
            config: Arc::new(config),
            shutdown,
        })
}

/// Serves the API on `addr` until `shutdown` resolves; returns the bound address through
/// `bound` as soon as it listens (useful with port 0). Open reads, no tokens.
pub async fn serve(
    scheduler: Scheduler,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(scheduler, ApiConfig::open(), addr, bound, shutdown).await
}

/// [`serve`] with access `config` (tokens, protected reads).
pub async fn serve_with(
    scheduler: Scheduler,
    config: ApiConfig,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    let stopping = Arc::new(tokio::sync::watch::channel(false).0);
    let notify = stopping.clone();
    axum::serve(listener, app(scheduler, config, stopping))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Ends live log streams, which graceful shutdown would otherwise wait for.
            notify.send_replace(true);
        })
        .await
}

/// Health: `ok`, or `draining` (503) once the node stopped taking work and waits for its
/// running builds to end (a load balancer sends nothing more to it).
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses(
        (status = 200, description = "`ok`", body = String, content_type = "text/plain"),
        (status = 503, description = "`draining`", body = String, content_type = "text/plain")))]
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.scheduler.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI document.", body = Object,
        content_type = "application/json")),
    extensions(("x-lockgate-role" = json!("viewer"))))]
async fn openapi_document(_: auth::Viewer) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::json(),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API route (see /api/v1/openapi.json)",
    )
}

/// A JSON answer.
pub(crate) fn ok<T: Serialize>(value: T) -> ApiResult<axum::Json<T>> {
    Ok(axum::Json(value))
}

/// A JSON body that answers 400 with the parser's message when it is malformed; an empty body
/// reads as `{}` (for optional bodies).
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(Body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// Query parameters that answer 400 when malformed.
pub(crate) struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(ApiError::from)
    }
}

/// Largest page size.
pub(crate) const MAX_LIMIT: u32 = 500;

/// `?limit=` checked: default `default`, 1..=500.
pub(crate) fn limit(given: Option<u32>, default: u32) -> ApiResult<u32> {
    match given {
        None => Ok(default),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_LIMIT}, not {n}"
        ))),
    }
}

/// Compares secrets without leaking their common prefix through timing.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
