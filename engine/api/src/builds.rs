//! Jobs and their builds: list, trigger, one build with its inputs and outputs, steps, logs
//! (paged by sequence number) and test reports.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Operator, Viewer};
use super::error::{ApiError, ApiResult};
use super::pipeline::PageQuery;
use super::{AppState, Q, limit, ok, service, wire};
use lockgate_engine::operations::Operations;

/// A build id from the path: 400 when it is not a number.
pub(super) fn build_id(text: &str) -> ApiResult<i64> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a build id (a number)")))
}

/// Each job with its environment, last build, and what blocked it at the scheduler's last
/// pass.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    responses((status = 200, description = "The jobs, in pipeline order.", body = Vec<wire::JobSummary>)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn jobs(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<wire::JobSummary>>> {
    ok(service::jobs(&state.scheduler).await?)
}

/// A page of a job's builds, newest first; `next_before` (a build id) pages on.
#[utoipa::path(get, path = "/api/v1/jobs/{name}/builds", tag = "jobs",
    params(("name" = String, Path, description = "Job name."), PageQuery),
    responses(
        (status = 200, description = "A page of builds.", body = wire::BuildPage),
        (status = 400, description = "A bad `limit` or `before`.", body = wire::ErrorBody),
        (status = 404, description = "No such job.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn job_builds(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<wire::BuildPage>> {
    Operations::new(&state.scheduler).require_job(&name)?;
    let page = q.page(50)?;
    ok(service::builds(state.scheduler.store(), Some(&name), page).await?)
}

/// A page of every job's builds, newest first (as `lockgate builds`); `next_before` (a build
/// id) pages on.
#[utoipa::path(get, path = "/api/v1/builds", tag = "builds",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of builds.", body = wire::BuildPage),
        (status = 400, description = "A bad `limit` or `before`.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn all_builds(
    _: Viewer,
    State(state): State<AppState>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<wire::BuildPage>> {
    let page = q.page(50)?;
    ok(service::builds(state.scheduler.store(), None, page).await?)
}

/// A build by its number within its job (`lockgate logs JOB/NUMBER`).
#[utoipa::path(get, path = "/api/v1/jobs/{name}/builds/{number}", tag = "jobs",
    params(("name" = String, Path, description = "Job name."),
           ("number" = i64, Path, description = "Build number within the job.")),
    responses(
        (status = 200, description = "The build.", body = wire::Build),
        (status = 400, description = "The number is not a number.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn job_build(
    _: Viewer,
    State(state): State<AppState>,
    Path((name, number)): Path<(String, String)>,
) -> ApiResult<Json<wire::Build>> {
    let number: i64 = number.trim_start_matches('#').parse().map_err(|_| {
        ApiError::bad_request(format!("`{number}` is not a build number (a number)"))
    })?;
    ok(service::build_by_number(state.scheduler.store(), &name, number).await?)
}

/// Queue a build with the newest inputs.
///
/// 409 when no versions satisfy its inputs or an environment gate holds them back.
#[utoipa::path(post, path = "/api/v1/jobs/{name}/trigger", tag = "jobs",
    params(("name" = String, Path, description = "Job name.")),
    responses(
        (status = 201, description = "The build, queued.", body = wire::Build),
        (status = 404, description = "No such job.", body = wire::ErrorBody),
        (status = 409, description = "No versions satisfy its inputs, or a gate holds them back.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator"))))]
pub(super) async fn trigger(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<wire::Build>)> {
    let build = service::trigger(&state.scheduler, &name).await?;
    Ok((StatusCode::CREATED, Json(build)))
}

/// A build with its inputs and outputs.
#[utoipa::path(get, path = "/api/v1/builds/{id}", tag = "builds",
    params(("id" = i64, Path, description = "Build id.")),
    responses(
        (status = 200, description = "The build.", body = wire::BuildDetail),
        (status = 400, description = "The id is not a number.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn build(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::BuildDetail>> {
    let id = build_id(&id)?;
    ok(service::build_detail(state.scheduler.store(), id).await?)
}

/// The steps of a build.
#[utoipa::path(get, path = "/api/v1/builds/{id}/steps", tag = "builds",
    params(("id" = i64, Path, description = "Build id.")),
    responses(
        (status = 200, description = "Its steps, in the order they started.", body = Vec<wire::Step>),
        (status = 400, description = "The id is not a number.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn steps(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<wire::Step>>> {
    let id = build_id(&id)?;
    ok(service::steps(state.scheduler.store(), id).await?)
}

/// `?after=&limit=` of the logs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LogQuery {
    /// Lines after this sequence number (default 0: from the start).
    pub(super) after: Option<i64>,
    /// Page size, 1 to 500 (default 500).
    limit: Option<u32>,
}

/// A page of a build's log: lines after sequence number `after`, oldest first.
///
/// `next_after` is the last one returned: pass it back as `after`.
#[utoipa::path(get, path = "/api/v1/builds/{id}/logs", tag = "builds",
    params(("id" = i64, Path, description = "Build id."), LogQuery),
    responses(
        (status = 200, description = "A page of log lines.", body = wire::LogPage),
        (status = 400, description = "A bad id, `after` or `limit`.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn logs(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<LogQuery>,
) -> ApiResult<Json<wire::LogPage>> {
    let id = build_id(&id)?;
    let limit = limit(q.limit, 500)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("`after` must not be negative"));
    }
    ok(service::logs(state.scheduler.store(), id, after, limit).await?)
}

/// The test reports of a build's test steps.
#[utoipa::path(get, path = "/api/v1/builds/{id}/reports", tag = "builds",
    params(("id" = i64, Path, description = "Build id.")),
    responses(
        (status = 200, description = "One report per test step that finished.", body = Vec<wire::StepReport>),
        (status = 400, description = "The id is not a number.", body = wire::ErrorBody),
        (status = 404, description = "No such build.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn reports(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<wire::StepReport>>> {
    let id = build_id(&id)?;
    ok(service::reports(state.scheduler.store(), id).await?)
}
