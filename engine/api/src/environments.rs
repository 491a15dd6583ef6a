//! Environments (status, why, approve, rollback), engine nodes and the metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::auth::{Approver, Viewer};
use super::error::ApiResult;
use super::{AppState, Body, ok, service, wire};
use lockgate_engine::operations::Operations;
use lockgate_store::BuildStatus;

/// Where each environment stands (as `lockgate status --json`).
#[utoipa::path(get, path = "/api/v1/environments", tag = "environments",
    responses((status = 200, description = "Each environment, in promotion order.", body = Vec<wire::EnvironmentStatus>)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn list(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<wire::EnvironmentStatus>>> {
    ok(service::environments(&state.scheduler).await?)
}

/// What holds an environment's next candidate back.
#[utoipa::path(get, path = "/api/v1/environments/{env}/why", tag = "environments",
    params(("env" = String, Path, description = "Environment name.")),
    responses(
        (status = 200, description = "Where it stands.", body = wire::EnvironmentStatus),
        (status = 404, description = "No such environment.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn why(
    _: Viewer,
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> ApiResult<Json<wire::EnvironmentStatus>> {
    ok(service::why(&state.scheduler, &env).await?)
}

/// Approve a candidate for an environment, as the token's name.
///
/// The body is optional: without `candidate`, the candidate waiting at the gate is approved.
#[utoipa::path(post, path = "/api/v1/environments/{env}/approve", tag = "environments",
    params(("env" = String, Path, description = "Environment name.")),
    request_body(content = wire::ApproveBody, example = json!({"comment": "ship it"})),
    responses(
        (status = 200, description = "Approved (`first_approval` is false when it was already).", body = wire::ApproveAnswer),
        (status = 400, description = "A malformed body.", body = wire::ErrorBody),
        (status = 404, description = "No such environment or candidate.", body = wire::ErrorBody),
        (status = 409, description = "No candidate waits at the gate.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("approver"))))]
pub(super) async fn approve(
    Approver { 0: caller }: Approver,
    State(state): State<AppState>,
    Path(env): Path<String>,
    Body(body): Body<wire::ApproveBody>,
) -> ApiResult<Json<wire::ApproveAnswer>> {
    ok(service::approve(&state.scheduler, &env, &body, &caller.actor()).await?)
}

/// Re-deploy the previous qualified candidate of an environment.
#[utoipa::path(post, path = "/api/v1/environments/{env}/rollback", tag = "environments",
    params(("env" = String, Path, description = "Environment name.")),
    responses(
        (status = 200, description = "The builds that re-deploy it were queued.", body = wire::RollbackAnswer),
        (status = 404, description = "No such environment.", body = wire::ErrorBody),
        (status = 409, description = "Nothing to roll back to.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("approver"))))]
pub(super) async fn rollback(
    Approver { 0: caller }: Approver,
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> ApiResult<Json<wire::RollbackAnswer>> {
    ok(service::rollback(&state.scheduler, &env, &caller.actor()).await?)
}

/// The engine nodes and the holder of the scheduler lease.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "server",
    responses((status = 200, description = "The nodes.", body = wire::Nodes)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn nodes(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<wire::Nodes>> {
    ok(service::nodes(state.scheduler.store()).await?)
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/api/v1/metrics", tag = "server",
    responses((status = 200, description = "The metrics.", body = String,
        content_type = "text/plain; version=0.0.4")),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn metrics(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<impl IntoResponse> {
    let store = state.scheduler.store();
    let mut gauges = crate::metrics::Gauges::default();
    for job in Operations::new(&state.scheduler).jobs() {
        gauges.pending_builds += store
            .builds_of_job_with_status(&job.name, BuildStatus::Pending)
            .await? as u64;
        gauges.running_builds += store
            .builds_of_job_with_status(&job.name, BuildStatus::Started)
            .await? as u64;
    }
    let mut by_role: BTreeMap<String, u64> = BTreeMap::new();
    for n in store.nodes().await? {
        *by_role.entry(n.role).or_insert(0) += 1;
    }
    gauges.nodes = by_role;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&gauges),
    ))
}

/// The same metrics at the path Prometheus scrapes by default.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "The metrics.", body = String,
        content_type = "text/plain; version=0.0.4")),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn root_metrics(
    viewer: Viewer,
    state: State<AppState>,
) -> ApiResult<impl IntoResponse> {
    metrics(viewer, state).await
}
