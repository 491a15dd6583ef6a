//! The pipeline graph, resources and their versions: pin, disable, check (also as a webhook).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Operator, Role, Viewer, authorize};
use super::error::{ApiError, ApiResult};
use super::{AppState, Body, Q, limit, ok};
use lockgate_config::{Approval, CheckEvery};
use lockgate_engine::scheduler::SchedulerError;
use lockgate_plugin_host::Version;
use lockgate_store::{Page, StoredVersion};

/// A stored version as JSON.
pub(super) fn version_json(v: &StoredVersion) -> Value {
    json!({
        "id": v.id,
        "version": v.version,
        "digest": v.digest,
        "metadata": v.metadata.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
        "check_order": v.check_order,
        "first_seen_at": v.first_seen_at,
        "disabled": v.disabled,
    })
}

/// 404 unless the pipeline has resource `name`.
fn known_resource<'a>(
    state: &'a AppState,
    name: &str,
) -> ApiResult<&'a lockgate_engine::plan::ResourcePlan> {
    state
        .scheduler
        .plan()
        .resource(name)
        .ok_or_else(|| ApiError::not_found(format!("no resource `{name}` in the pipeline")))
}

/// `GET /api/v1/pipeline`: environments in order, resources with their type, jobs with their
/// environment, inputs (with `passed`) and outputs, and the `passed` edges between jobs.
pub(super) async fn graph(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let p = state.scheduler.plan();
    let environments: Vec<Value> = p
        .environments
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "approval": match e.approval { Approval::Automatic => "automatic", Approval::Required => "required" },
                "soak_ms": e.soak.map(|s| s.as_millis() as u64),
                "gate": e.gate_jobs,
                "jobs": p.jobs_in(&e.name).map(|j| j.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let resources: Vec<Value> = p
        .resources
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "type": r.type_name,
                "check_every": check_every(r.check_every),
                "webhook": r.webhook_token.is_some(),
            })
        })
        .collect();
    let mut edges = Vec::new();
    let jobs: Vec<Value> = p
        .jobs
        .iter()
        .map(|j| {
            let inputs: Vec<Value> = j
                .inputs
                .iter()
                .map(|g| {
                    for from in &g.passed {
                        edges.push(json!({"from": from, "to": j.name, "resource": g.resource}));
                    }
                    json!({
                        "name": g.name,
                        "resource": g.resource,
                        "passed": g.passed,
                        "trigger": g.trigger,
                    })
                })
                .collect();
            let outputs = &j.outputs;
            json!({
                "name": j.name,
                "environment": j.environment,
                "serial": j.max_in_flight == Some(1),
                "inputs": inputs,
                "outputs": outputs,
            })
        })
        .collect();
    ok(json!({
        "environments": environments,
        "resources": resources,
        "jobs": jobs,
        "edges": edges,
    }))
}

fn check_every(c: CheckEvery) -> Value {
    match c {
        CheckEvery::Never => json!("never"),
        CheckEvery::Interval(d) => json!(format!("{}ms", d.as_millis())),
    }
}

/// `GET /api/v1/resources`: each resource with its type, newest and pinned version.
pub(super) async fn resources(_: Viewer, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let store = state.scheduler.store();
    let mut out = Vec::new();
    for r in &state.scheduler.plan().resources {
        let name = &r.name;
        let latest = store.latest_version(name).await?;
        let pinned = store.pinned_version(name).await?;
        out.push(json!({
            "name": name,
            "type": r.type_name,
            "check_every": check_every(r.check_every),
            "webhook": r.webhook_token.is_some(),
            "latest": latest.as_ref().map(version_json),
            "pinned": pinned.as_ref().map(version_json),
        }));
    }
    ok(json!(out))
}

/// `?limit=&before=`.
#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

impl PageQuery {
    pub(super) fn page(&self, default: u32) -> ApiResult<Page> {
        let limit = limit(self.limit, default)?;
        Ok(match self.before {
            Some(b) => Page::before(b, limit),
            None => Page::first(limit),
        })
    }
}

/// `GET /api/v1/resources/{name}/versions?limit=&before=`: newest first; `next_before` pages
/// on (the `check_order` cursor), `null` on the last page.
pub(super) async fn versions(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    known_resource(&state, &name)?;
    let page = q.page(50)?;
    let versions = state.scheduler.store().versions(&name, page).await?;
    let next = (versions.len() as u32 == page.limit)
        .then(|| versions.last().map(|v| v.check_order))
        .flatten();
    ok(json!({
        "resource": name,
        "versions": versions.iter().map(version_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}

/// A version from a body: `{"version": {"number": "3"}}`, or the version object itself.
fn body_version(body: Value) -> ApiResult<Version> {
    let inner = match &body {
        Value::Object(m) if m.len() == 1 && m.get("version").is_some_and(Value::is_object) => {
            m["version"].clone()
        }
        _ => body,
    };
    let version: Version = serde_json::from_value(inner).map_err(|_| {
        ApiError::bad_request(
            "the version must be a JSON object of strings, e.g. {\"version\": {\"number\": \"3\"}}",
        )
    })?;
    if version.0.is_empty() {
        return Err(ApiError::bad_request(
            "the version is empty: give it as {\"version\": {\"field\": \"value\"}}",
        ));
    }
    Ok(version)
}

/// `POST /api/v1/resources/{name}/pin` (body: the version): every input of the resource gets
/// exactly that version.
pub(super) async fn pin(
    Operator { .. }: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Value>> {
    known_resource(&state, &name)?;
    let version = body_version(body)?;
    let pinned = state.scheduler.store().pin_version(&name, &version).await?;
    state.scheduler.wake();
    ok(json!({ "resource": name, "pinned": version_json(&pinned) }))
}

/// `DELETE /api/v1/resources/{name}/pin`.
pub(super) async fn unpin(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    known_resource(&state, &name)?;
    state.scheduler.store().unpin(&name).await?;
    state.scheduler.wake();
    ok(json!({ "resource": name, "pinned": null }))
}

async fn set_disabled(
    state: AppState,
    name: String,
    body: Value,
    disabled: bool,
) -> ApiResult<Json<Value>> {
    known_resource(&state, &name)?;
    let version = body_version(body)?;
    state
        .scheduler
        .store()
        .set_version_disabled(&name, &version, disabled)
        .await?;
    state.scheduler.wake();
    ok(json!({ "resource": name, "version": version, "disabled": disabled }))
}

/// `POST /api/v1/resources/{name}/versions/disable` (body: the version).
pub(super) async fn disable(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Value>> {
    set_disabled(state, name, body, true).await
}

/// `POST /api/v1/resources/{name}/versions/enable` (body: the version).
pub(super) async fn enable(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Value>> {
    set_disabled(state, name, body, false).await
}

/// Query of the check endpoint.
#[derive(Debug, Deserialize)]
pub(super) struct WebhookQuery {
    webhook_token: Option<String>,
}

/// `POST /api/v1/resources/{name}/check`: with `?webhook_token=` (the resource's
/// `webhook_token`, no bearer token needed), or with an operator token.
pub(super) async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Q(query): Q<WebhookQuery>,
) -> ApiResult<Json<Value>> {
    let resource = known_resource(&state, &name)?;
    match query.webhook_token {
        Some(given) => {
            let Some(expected) = resource.webhook_token.clone() else {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("resource `{name}` has no `webhook_token`: webhooks are off for it"),
                ));
            };
            if !super::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "wrong `webhook_token`",
                ));
            }
        }
        None => {
            authorize(&state.config, &headers, Role::Operator)?;
        }
    }
    match state.scheduler.check(&name).await {
        Ok(new) => {
            state.scheduler.wake();
            ok(json!({ "resource": name, "new_versions": new }))
        }
        Err(SchedulerError::Unknown(m)) => Err(ApiError::new(StatusCode::BAD_GATEWAY, m)),
        Err(e) => Err(e.into()),
    }
}
