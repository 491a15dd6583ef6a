//! The pipeline graph, resources and their versions: pin, disable, check (also as a webhook).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{Operator, Role, Viewer, authorize};
use super::error::{ApiError, ApiResult};
use super::{AppState, Body, Q, limit, ok, service, wire};
use lockgate_engine::operations::Operations;
use lockgate_model::Version;
use lockgate_store::Page;

/// The environments in order, resources with their type, jobs with their environment, inputs
/// (with `passed`) and outputs, and the `passed` edges between jobs.
#[utoipa::path(get, path = "/api/v1/pipeline", tag = "pipeline",
    responses((status = 200, description = "The graph.", body = wire::PipelineGraph)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn graph(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<wire::PipelineGraph>> {
    ok(service::graph(&state.scheduler))
}

/// Each resource with its type, newest and pinned version.
#[utoipa::path(get, path = "/api/v1/resources", tag = "resources",
    responses((status = 200, description = "The resources, in pipeline order.", body = Vec<wire::ResourceSummary>)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn resources(
    _: Viewer,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<wire::ResourceSummary>>> {
    ok(service::resources(&state.scheduler).await?)
}

/// `?limit=&before=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
    /// Only items older than this cursor (`next_before` of the previous page).
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

/// A page of a resource's versions, newest first.
///
/// `next_before` pages on (the `check_order` cursor); it is `null` on the last page.
#[utoipa::path(get, path = "/api/v1/resources/{name}/versions", tag = "resources",
    params(("name" = String, Path, description = "Resource name."), PageQuery),
    responses(
        (status = 200, description = "A page of versions.", body = wire::VersionPage),
        (status = 400, description = "A bad `limit` or `before`.", body = wire::ErrorBody),
        (status = 404, description = "No such resource.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("viewer"))))]
pub(super) async fn versions(
    _: Viewer,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<wire::VersionPage>> {
    let page = q.page(50)?;
    ok(service::versions(&state.scheduler, &name, page).await?)
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

/// Pin a resource to a stored version: every input of the resource gets exactly that version.
#[utoipa::path(post, path = "/api/v1/resources/{name}/pin", tag = "resources",
    params(("name" = String, Path, description = "Resource name.")),
    request_body(content = wire::VersionBody, example = json!({"version": {"number": "3"}})),
    responses(
        (status = 200, description = "Pinned.", body = wire::PinAnswer),
        (status = 400, description = "The body is not a version.", body = wire::ErrorBody),
        (status = 404, description = "No such resource, or it has no such version.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator"))))]
pub(super) async fn pin(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<wire::PinAnswer>> {
    Operations::new(&state.scheduler).require_resource(&name)?;
    let version = body_version(body)?;
    ok(service::pin(&state.scheduler, &name, &version).await?)
}

/// Unpin a resource.
#[utoipa::path(delete, path = "/api/v1/resources/{name}/pin", tag = "resources",
    params(("name" = String, Path, description = "Resource name.")),
    responses(
        (status = 200, description = "Unpinned (`pinned` is null).", body = wire::PinAnswer),
        (status = 404, description = "No such resource.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator"))))]
pub(super) async fn unpin(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<wire::PinAnswer>> {
    ok(service::unpin(&state.scheduler, &name).await?)
}

async fn set_disabled(
    state: AppState,
    name: String,
    body: Value,
    disabled: bool,
) -> ApiResult<Json<wire::DisabledAnswer>> {
    Operations::new(&state.scheduler).require_resource(&name)?;
    let version = body_version(body)?;
    ok(service::set_disabled(&state.scheduler, &name, &version, disabled).await?)
}

/// Disable a version: no job gets it again.
#[utoipa::path(post, path = "/api/v1/resources/{name}/versions/disable", tag = "resources",
    params(("name" = String, Path, description = "Resource name.")),
    request_body(content = wire::VersionBody, example = json!({"version": {"number": "3"}})),
    responses(
        (status = 200, description = "Disabled.", body = wire::DisabledAnswer),
        (status = 400, description = "The body is not a version.", body = wire::ErrorBody),
        (status = 404, description = "No such resource, or it has no such version.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator"))))]
pub(super) async fn disable(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<wire::DisabledAnswer>> {
    set_disabled(state, name, body, true).await
}

/// Enable a disabled version again.
#[utoipa::path(post, path = "/api/v1/resources/{name}/versions/enable", tag = "resources",
    params(("name" = String, Path, description = "Resource name.")),
    request_body(content = wire::VersionBody, example = json!({"version": {"number": "3"}})),
    responses(
        (status = 200, description = "Enabled.", body = wire::DisabledAnswer),
        (status = 400, description = "The body is not a version.", body = wire::ErrorBody),
        (status = 404, description = "No such resource, or it has no such version.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator"))))]
pub(super) async fn enable(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<wire::DisabledAnswer>> {
    set_disabled(state, name, body, false).await
}

/// Query of the check endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WebhookQuery {
    /// The resource's `webhook_token`: a webhook needs no bearer token.
    webhook_token: Option<String>,
}

/// Check a resource for new versions now (also a webhook).
///
/// With `?webhook_token=` (the resource's `webhook_token`) no bearer token is needed;
/// otherwise the token needs the role `operator`.
#[utoipa::path(post, path = "/api/v1/resources/{name}/check", tag = "resources",
    params(("name" = String, Path, description = "Resource name."), WebhookQuery),
    responses(
        (status = 200, description = "Checked.", body = wire::CheckAnswer),
        (status = 404, description = "No such resource.", body = wire::ErrorBody),
        (status = 502, description = "The resource's plugin failed to check it.", body = wire::ErrorBody)),
    extensions(("x-lockgate-role" = json!("operator (or the resource's webhook token)"))))]
pub(super) async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Q(query): Q<WebhookQuery>,
) -> ApiResult<Json<wire::CheckAnswer>> {
    let expected = Operations::new(&state.scheduler).webhook_token(&name)?;
    match query.webhook_token {
        Some(given) => {
            let Some(expected) = expected else {
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
    ok(service::check(&state.scheduler, &name).await?)
}
