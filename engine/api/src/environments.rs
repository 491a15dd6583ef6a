//! Environments (status, why, approve, rollback), engine nodes and the metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Approver, Viewer};
use super::builds::build_json;
use super::error::{ApiError, ApiResult};
use super::{AppState, Body, ok};
use lockgate_engine::scheduler::EnvironmentStatus;
use lockgate_store::{BuildStatus, Candidate};

fn known_env(state: &AppState, env: &str) -> ApiResult<()> {
    let p = state.scheduler.plan();
    if p.environment(env).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = p.environments.iter().map(|e| e.name.as_str()).collect();
    Err(ApiError::not_found(format!(
        "no environment `{env}` in the pipeline (it has {})",
        names.join(", ")
    )))
}

fn candidate_json(c: &Candidate) -> Value {
    json!({
        "id": c.id,
        "digest": c.digest,
        "created_at": c.created_at,
        "versions": c.versions.iter().map(|v| json!({
            "resource": v.resource, "version_id": v.version_id, "version": v.version,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/environments`: where each environment stands (as `lockgate status --json`).
pub(super) async fn list(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<EnvironmentStatus>>> {
    let mut out = Vec::new();
    for env in &state.scheduler.plan().environments {
        out.push(state.scheduler.environment_status(&env.name).await?);
    }
    ok(out)
}

/// `GET /api/v1/environments/{env}/why`: what holds its next candidate back.
pub(super) async fn why(
    _: Viewer,
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> ApiResult<Json<EnvironmentStatus>> {
    known_env(&state, &env)?;
    ok(state.scheduler.environment_status(&env).await?)
}

/// Body of an approval.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApproveBody {
    candidate: Option<i64>,
    comment: Option<String>,
}

/// `POST /api/v1/environments/{env}/approve` (body optional: `candidate`, `comment`): approves
/// the given candidate, or the one waiting at the gate, as the token's name.
pub(super) async fn approve(
    Approver { 0: caller }: Approver,
    State(state): State<AppState>,
    Path(env): Path<String>,
    Body(body): Body<ApproveBody>,
) -> ApiResult<Json<Value>> {
    known_env(&state, &env)?;
    let approver = caller.actor();
    let (candidate, first) = state
        .scheduler
        .approve(&env, body.candidate, &approver, body.comment.as_deref())
        .await?;
    ok(json!({
        "environment": env,
        "candidate": candidate_json(&candidate),
        "approved_by": approver,
        "first_approval": first,
    }))
}

/// `POST /api/v1/environments/{env}/rollback`: re-deploys the previous qualified candidate.
pub(super) async fn rollback(
    Approver { 0: caller }: Approver,
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> ApiResult<Json<Value>> {
    known_env(&state, &env)?;
    let by = caller.actor();
    let (candidate, builds) = state.scheduler.rollback(&env, &by).await?;
    state.scheduler.wake();
    ok(json!({
        "environment": env,
        "candidate": candidate_json(&candidate),
        "builds": builds.iter().map(build_json).collect::<Vec<_>>(),
        "by": by,
    }))
}

/// `GET /api/v1/nodes`: engine nodes and the holder of the scheduler lease.
pub(super) async fn nodes(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let store = state.scheduler.store();
    let nodes = store.nodes().await?;
    let lease = store
        .lease(lockgate_engine::scheduler::SCHEDULER_LEASE)
        .await?;
    ok(json!({
        "scheduler": lease.as_ref().map(|l| &l.holder),
        "lease": lease.as_ref().map(|l| json!({
            "holder": l.holder, "acquired_at": l.acquired_at, "expires_at": l.expires_at,
        })),
        "nodes": nodes,
    }))
}

/// `GET /api/v1/metrics`: Prometheus text.
pub(super) async fn metrics(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<impl IntoResponse> {
    let store = state.scheduler.store();
    let mut gauges = crate::metrics::Gauges::default();
    for job in &state.scheduler.plan().jobs {
        let name = &job.name;
        gauges.pending_builds += store
            .builds_of_job_with_status(name, BuildStatus::Pending)
            .await? as u64;
        gauges.running_builds += store
            .builds_of_job_with_status(name, BuildStatus::Started)
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
