//! The HTTP API of `lockgate server` (axum). This first part serves what the scheduler needs
//! from the outside: `/healthz` and resource webhooks
//! (`POST /api/v1/resources/NAME/check?webhook_token=…`), which run a check at once. Errors are
//! JSON `{"error": "…"}` with a status code that says whose fault it is.

use std::net::SocketAddr;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::scheduler::{Scheduler, SchedulerError};

/// The routes, sharing `scheduler`.
pub fn router(scheduler: Scheduler) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/resources/{name}/check", post(check))
        .with_state(scheduler)
}

/// Serves the API on `addr` until `shutdown` resolves; returns the bound address through
/// `bound` as soon as it listens (useful with port 0).
pub async fn serve(
    scheduler: Scheduler,
    addr: SocketAddr,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    axum::serve(listener, router(scheduler))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Query of the webhook.
#[derive(Debug, Deserialize)]
struct WebhookQuery {
    webhook_token: Option<String>,
}

/// A JSON error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

async fn check(
    State(scheduler): State<Scheduler>,
    Path(name): Path<String>,
    Query(query): Query<WebhookQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = scheduler
        .pipeline()
        .resource(&name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no resource `{name}`")))?;
    let Some(expected) = resource.webhook_token.as_ref().map(|t| t.value.clone()) else {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("resource `{name}` has no `webhook_token`: webhooks are off for it"),
        ));
    };
    let given = query.webhook_token.unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "wrong or missing `webhook_token`".into(),
        ));
    }
    match scheduler.check(&name).await {
        Ok(new) => Ok(Json(json!({ "resource": name, "new_versions": new }))),
        Err(SchedulerError::Unknown(m)) => Err(ApiError(StatusCode::BAD_GATEWAY, m)),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Compares secrets without leaking their common prefix through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
