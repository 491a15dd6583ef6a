//! Jobs and their builds: list, trigger, one build with its inputs and outputs, steps, logs
//! (paged by sequence number) and test reports.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Operator, Viewer};
use super::error::{ApiError, ApiResult};
use super::pipeline::PageQuery;
use super::{AppState, Q, limit, ok};
use lockgate_store::{Build, LogEntry, Page, Step};

/// A build as JSON (the fields of `lockgate builds --json`).
pub(super) fn build_json(b: &Build) -> Value {
    json!({
        "id": b.id,
        "job": b.job,
        "number": b.number,
        "status": b.status.as_str(),
        "finished": b.status.is_finished(),
        "reason": b.reason,
        "retry_of": b.retry_of,
        "node": b.claimed_by,
        "created_at": b.created_at,
        "started_at": b.started_at,
        "finished_at": b.finished_at,
    })
}

fn step_json(s: &Step) -> Value {
    json!({
        "id": s.id,
        "build_id": s.build_id,
        "path": s.path,
        "kind": s.kind,
        "name": s.name,
        "status": s.status.as_str(),
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "error": s.error,
    })
}

/// A log line as JSON.
pub(super) fn log_json(l: &LogEntry) -> Value {
    json!({
        "seq": l.seq,
        "step_id": l.step_id,
        "at": l.at,
        "stream": l.stream,
        "text": l.text,
    })
}

fn known_job(state: &AppState, name: &str) -> ApiResult<()> {
    match state.scheduler.plan().job(name) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "no job `{name}` in the pipeline"
        ))),
    }
}

/// A build id from the path: 400 when it is not a number.
pub(super) fn build_id(text: &str) -> ApiResult<i64> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a build id (a number)")))
}

/// `GET /api/v1/jobs`: each job with its environment, last build and what blocked it at the
/// scheduler's last pass.
pub(super) async fn jobs(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let store = state.scheduler.store();
    let blocked = state.scheduler.blocked();
    let mut out = Vec::new();
    for job in &state.scheduler.plan().jobs {
        let name = &job.name;
        let last = store.builds(Some(name), Page::first(1)).await?;
        let blocker = blocked.get(name);
        out.push(json!({
            "name": name,
            "environment": job.environment,
            "last_build": last.first().map(build_json),
            "blocked": blocker.map(|b| json!({"detail": b, "message": b.to_string()})),
        }));
    }
    ok(json!(out))
}

/// `GET /api/v1/jobs/{name}/builds?limit=&before=`: newest first; `next_before` (a build id)
/// pages on.
pub(super) async fn job_builds(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    known_job(&state, &name)?;
    let page = q.page(50)?;
    let builds = state.scheduler.store().builds(Some(&name), page).await?;
    let next = (builds.len() as u32 == page.limit)
        .then(|| builds.last().map(|b| b.id))
        .flatten();
    ok(json!({
        "job": name,
        "builds": builds.iter().map(build_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}

/// `GET /api/v1/builds?limit=&before=`: the builds of every job, newest first (as
/// `lockgate builds`); `next_before` (a build id) pages on.
pub(super) async fn all_builds(
    _: Viewer,
    State(state): State<AppState>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let page = q.page(50)?;
    let builds = state.scheduler.store().builds(None, page).await?;
    let next = (builds.len() as u32 == page.limit)
        .then(|| builds.last().map(|b| b.id))
        .flatten();
    ok(json!({
        "builds": builds.iter().map(build_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}

/// `GET /api/v1/jobs/{name}/builds/{number}`: a build by its number within the job (`lockgate
/// logs JOB/NUMBER`).
pub(super) async fn job_build(
    _: Viewer,
    State(state): State<AppState>,
    Path((name, number)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let number: i64 = number.trim_start_matches('#').parse().map_err(|_| {
        ApiError::bad_request(format!("`{number}` is not a build number (a number)"))
    })?;
    let build = state
        .scheduler
        .store()
        .build_by_number(&name, number)
        .await?;
    ok(build_json(&build))
}

/// `POST /api/v1/jobs/{name}/trigger`: queues a build with the newest resolvable inputs (201);
/// 409 when no versions satisfy its inputs or an environment gate holds them back.
pub(super) async fn trigger(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    known_job(&state, &name)?;
    let build = state.scheduler.trigger(&name).await?;
    Ok((StatusCode::CREATED, Json(build_json(&build))))
}

/// `GET /api/v1/builds/{id}`: the build, its inputs and outputs.
pub(super) async fn build(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = build_id(&id)?;
    let store = state.scheduler.store();
    let build = store.build(id).await?;
    let inputs = store.build_inputs(id).await?;
    let outputs = store.build_outputs(id).await?;
    let mut out = build_json(&build);
    out["inputs"] = json!(
        inputs
            .iter()
            .map(|i| json!({"name": i.name, "resource": i.resource, "version_id": i.version_id, "version": i.version}))
            .collect::<Vec<_>>()
    );
    out["outputs"] = json!(
        outputs
            .iter()
            .map(|o| json!({"resource": o.resource, "version_id": o.version_id, "version": o.version}))
            .collect::<Vec<_>>()
    );
    ok(out)
}

/// `GET /api/v1/builds/{id}/steps`.
pub(super) async fn steps(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = build_id(&id)?;
    let store = state.scheduler.store();
    store.build(id).await?;
    let steps = store.steps(id).await?;
    ok(json!(steps.iter().map(step_json).collect::<Vec<_>>()))
}

/// `?after=&limit=` of the logs.
#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    pub(super) after: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/builds/{id}/logs?after=SEQ&limit=N`: lines with a sequence number above
/// `after`, oldest first; `next_after` is the last one returned (pass it back as `after`).
pub(super) async fn logs(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Q(q): Q<LogQuery>,
) -> ApiResult<Json<Value>> {
    let id = build_id(&id)?;
    let limit = limit(q.limit, 500)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("`after` must not be negative"));
    }
    let store = state.scheduler.store();
    let build = store.build(id).await?;
    let lines = store.logs(id, after, limit).await?;
    let next_after = lines.last().map_or(after, |l| l.seq);
    ok(json!({
        "build_id": id,
        "status": build.status.as_str(),
        "finished": build.status.is_finished(),
        "lines": lines.iter().map(log_json).collect::<Vec<_>>(),
        "next_after": next_after,
        "more": lines.len() as u32 == limit,
    }))
}

/// `GET /api/v1/builds/{id}/reports`: the test reports of the build's test steps.
pub(super) async fn reports(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = build_id(&id)?;
    let store = state.scheduler.store();
    store.build(id).await?;
    let reports = store.test_reports(id).await?;
    ok(json!(
        reports
            .iter()
            .map(|r| json!({
                "step_id": r.step_id,
                "build_id": r.build_id,
                "passed": r.passed,
                "created_at": r.created_at,
                "report": r.report,
            }))
            .collect::<Vec<_>>()
    ))
}
