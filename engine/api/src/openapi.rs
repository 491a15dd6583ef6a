//! The OpenAPI 3 document of the API, generated from the [wire](crate::wire) types and the
//! handlers' `#[utoipa::path]` attributes, and served at `/api/v1/openapi.json`.
//!
//! `docs/openapi.json` is this document, checked in: a test regenerates it and fails with
//! the differences when the file is stale (`LOCKGATE_BLESS=1` rewrites it). Conventions are
//! applied here once rather than on every handler: each operation's role (the
//! `x-lockgate-role` extension its attribute gives) sets its security requirement and its
//! 401/403 answers; every operation but `/healthz` may answer 500; operation ids are made
//! from the method and the path.

use std::sync::OnceLock;

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::{builds, environments, pipeline, sse, wire};

/// The extension each operation's attribute sets to the role it needs.
const ROLE: &str = "x-lockgate-role";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lockgate API",
        version = "1",
        description = "The HTTP API of `lockgate server`. JSON in and out; errors are `{\"error\": \"message\"}`. Bearer tokens (`lockgate server --tokens FILE`) carry a role: viewer < operator < approver. Reads are open unless `--protect-reads`; writes need operator; approve and rollback need approver. See docs/api.md.",
    ),
    servers((url = "http://127.0.0.1:7080")),
    paths(
        crate::healthz,
        crate::openapi_document,
        environments::metrics,
        environments::root_metrics,
        pipeline::graph,
        pipeline::resources,
        pipeline::versions,
        pipeline::pin,
        pipeline::unpin,
        pipeline::disable,
        pipeline::enable,
        pipeline::check,
        builds::jobs,
        builds::job_builds,
        builds::job_build,
        builds::trigger,
        builds::all_builds,
        builds::build,
        builds::steps,
        builds::logs,
        sse::stream,
        builds::reports,
        environments::list,
        environments::why,
        environments::approve,
        environments::rollback,
        environments::nodes,
    ),
    components(schemas(wire::ErrorBody, wire::StreamEnd, wire::StreamShutdown)),
    tags(
        (name = "pipeline", description = "The pipeline as a graph."),
        (name = "resources", description = "Resources and their versions: check, pin, disable."),
        (name = "jobs", description = "Jobs: their builds, trigger."),
        (name = "builds", description = "Builds: steps, logs (paged and live), test reports."),
        (name = "environments", description = "Where each environment stands: why, approve, rollback."),
        (name = "server", description = "Health, this document, nodes, metrics."),
    ),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as pretty JSON (what `docs/openapi.json` holds), built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Through `Value` so the text does not depend on map orders inside the generator.
        let value = serde_json::to_value(document()).unwrap_or_default();
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    })
}

/// Security, shared error answers and operation ids, from each operation's role.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            "bearer".into(),
            RefOr::T(SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token of the server's token file."))
                    .build(),
            )),
        );
        for (name, description) in [
            ("Unauthorized", "No bearer token, or an unknown one."),
            (
                "Forbidden",
                "The token's role is too low (or a wrong webhook token).",
            ),
            ("Internal", "The engine or its store failed."),
        ] {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build();
            components.responses.insert(name.into(), RefOr::T(response));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                apply(path, method, op);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("post", item.post.as_mut()),
        ("put", item.put.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

fn reference(name: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}

fn apply(path: &str, method: &str, op: &mut Operation) {
    op.operation_id = Some(operation_id(path, method));
    let role = op
        .extensions
        .as_ref()
        .and_then(|e| e.get(ROLE))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let responses = &mut op.responses.responses;
    let Some(role) = role else {
        // Open: health.
        op.security = Some(vec![SecurityRequirement::default()]);
        return;
    };
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    if role == "viewer" {
        op.security = Some(vec![SecurityRequirement::default(), bearer]);
        responses.insert("401".into(), reference("Unauthorized"));
        if let Some(ext) = op.extensions.as_mut() {
            ext.insert(
                ROLE.into(),
                "viewer (open unless the server runs with --protect-reads)".into(),
            );
        }
    } else {
        op.security = Some(if role.contains("webhook") {
            vec![bearer, SecurityRequirement::default()]
        } else {
            vec![bearer]
        });
        responses.insert("401".into(), reference("Unauthorized"));
        responses.insert("403".into(), reference("Forbidden"));
    }
    responses.insert("500".into(), reference("Internal"));
}

/// `getBuildsIdLogsStream` for `GET /api/v1/builds/{id}/logs/stream`; the Prometheus path
/// outside the API is `getMetricsRoot`.
fn operation_id(path: &str, method: &str) -> String {
    let (rest, suffix) = match path.strip_prefix("/api/v1") {
        Some(rest) => (rest, ""),
        None if path == "/metrics" => (path, "Root"),
        None => (path, ""),
    };
    let mut id = method.to_owned();
    for word in rest.split(['/', '.', '-', '_']).filter(|w| !w.is_empty()) {
        let word = word.trim_matches(['{', '}']);
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id + suffix
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const ON_DISK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

    /// Where two JSON values differ, as `pointer: expected != found` lines.
    fn differences(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
        match (want, got) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    match b.get(k) {
                        Some(w) => differences(&p, v, w, out),
                        None => out.push(format!("{p}: only in the generated document")),
                    }
                }
                for k in b.keys().filter(|k| !a.contains_key(*k)) {
                    out.push(format!("{path}/{k}: only in docs/openapi.json"));
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (v, w)) in a.iter().zip(b).enumerate() {
                    differences(&format!("{path}/{i}"), v, w, out);
                }
            }
            _ if want != got => out.push(format!(
                "{path}: generated {want}, docs/openapi.json has {got}"
            )),
            _ => {}
        }
    }

    #[test]
    fn docs_openapi_json_is_the_generated_document() {
        let generated = json();
        if std::env::var_os("LOCKGATE_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(ON_DISK, generated).unwrap();
            return;
        }
        let on_disk = std::fs::read_to_string(ON_DISK).unwrap_or_default();
        let want: Value = serde_json::from_str(generated).unwrap();
        let got: Value = serde_json::from_str(&on_disk).unwrap_or(Value::Null);
        let mut diff = Vec::new();
        differences("", &want, &got, &mut diff);
        assert!(
            diff.is_empty(),
            "docs/openapi.json is not the document the code generates; run \
             `LOCKGATE_BLESS=1 cargo test -p lockgate-api openapi` to rewrite it:\n{}",
            diff.join("\n")
        );
    }

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_served() {
        let doc: Value = serde_json::from_str(json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let routes = crate::route_list();
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{} {path} is served but not in the OpenAPI document",
                method.to_uppercase()
            );
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    routes.iter().any(|(m, p)| m == method && p == path),
                    "{} {path} is documented but not served",
                    method.to_uppercase()
                );
            }
        }
    }

    #[test]
    fn operation_ids_read_like_the_path() {
        assert_eq!(
            operation_id("/api/v1/builds/{id}/logs/stream", "get"),
            "getBuildsIdLogsStream"
        );
        assert_eq!(
            operation_id("/api/v1/openapi.json", "get"),
            "getOpenapiJson"
        );
        assert_eq!(operation_id("/metrics", "get"), "getMetricsRoot");
        assert_eq!(operation_id("/healthz", "get"), "getHealthz");
    }
}
