//! Fuzz targets: functions that take arbitrary bytes and drive one input surface of the
//! engine, panicking only on a defect (a crash, or an invariant broken). Two drivers run them:
//! `fuzz/` (cargo-fuzz, coverage-guided libFuzzer, nightly) and `tests/stable.rs` (the
//! committed corpus plus seeded mutations, on the stable toolchain, in CI).
//!
//! - [`pipeline`]: the pipeline parser and validator, on any text.
//! - [`plugin_results`]: the checks and conversions of what a plugin hands back.
//! - [`api_request`]: the HTTP API, a request of any method, path and body against a real
//!   router on a real store.
//! - [`registry_files`]: the registry's `plugin.toml` manifests, `index.json` and
//!   `lockgate.lock`.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use lockgate_config::{StaticSchemas, Vars, parse_str, validate};

/// A fuzz target: takes any bytes, panics only on a defect.
pub type Target = fn(&[u8]);

/// The targets by name, as the drivers and the corpus directories name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("pipeline", pipeline),
    ("plugin_results", plugin_results),
    ("api_request", api_request),
    ("registry_files", registry_files),
];

/// Parses and validates `data` as a pipeline file and renders its diagnostics.
pub fn pipeline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut vars = Vars::new();
    vars.set("v", "value");
    vars.set_secret("s", "s3cr3t-value");
    let parsed = parse_str(Path::new("fuzz.yml"), text, &vars);
    let checks = validate(&parsed.pipeline, &StaticSchemas::default());
    for diagnostic in parsed.report.diagnostics().into_iter().chain(checks.iter()) {
        // Positions point into the file.
        let span = diagnostic.span();
        assert!(
            span.offset <= text.len(),
            "a diagnostic points past the end of the file: {diagnostic:?}"
        );
    }
    let _ = parsed.report.render_plain();
    let _ = parsed.report.render_human(false);
}

/// See [`lockgate_plugin_host::fuzz::plugin_results`].
pub fn plugin_results(data: &[u8]) {
    lockgate_plugin_host::fuzz::plugin_results(data);
}

/// Parses `data` as each of the registry's files; what parses renders and parses again.
pub fn registry_files(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = lockgate_registry::Manifest::parse(text);
    if let Ok(index) = lockgate_registry::Index::parse(text) {
        let again = lockgate_registry::Index::parse(&index.render());
        assert!(again.is_ok(), "a rendered index does not parse: {again:?}");
    }
    let _ = lockgate_registry::lockfile::Lockfile::parse(text);
    let _ = lockgate_registry::parse_spec(text);
}

/// The pipeline the API target serves.
const API_PIPELINE: &str = "\
environments:
  - development
  - {name: production, approval: required}
resource_types: {counter: counter.wasm}
resources:
  - {name: release, type: counter, source: {path: /dirs/x}, webhook_token: hook-token}
jobs:
  - {name: deploy-dev, environment: development, plan: [{get: release, trigger: true}]}
  - {name: deploy-prod, environment: production, plan: [{get: release, passed: [deploy-dev]}]}
";

/// A router on a real store, built once.
struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("pipeline.yml");
        std::fs::write(&file, API_PIPELINE).expect("writing the pipeline");
        let loaded = lockgate_engine::plan::load_without_plugins(&file, &Vars::new())
            .unwrap_or_else(|r| panic!("{}", r.render_plain()));
        let router = runtime.block_on(async {
            let store = lockgate_store::Store::open_sqlite(dir.path().join("state.db"))
                .await
                .expect("the store");
            let runner = lockgate_engine::runner::Runner::new(
                store.clone(),
                loaded.plan.clone(),
                dir.path().join("work"),
            );
            let scheduler =
                lockgate_engine::scheduler::Scheduler::new(store, loaded.plan, runner, "fuzz");
            scheduler.prepare().await.expect("recording the pipeline");
            lockgate_api::router(scheduler)
        });
        Self {
            runtime,
            router,
            _dir: dir,
        }
    }
}

/// One HTTP request from `data`: the first byte chooses the method, the bytes up to the first
/// newline are the path and query (under `/api/v1/` unless they start with `/`), the rest is a
/// JSON body. Any answer is fine but an internal server error: bad input is the client's
/// (4xx); a failed check answers 502 and a draining server 503 on purpose.
pub fn api_request(data: &[u8]) {
    static API: OnceLock<Api> = OnceLock::new();
    let api = API.get_or_init(Api::new);
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = match first % 4 {
        0 => http::Method::GET,
        1 => http::Method::POST,
        2 => http::Method::PUT,
        _ => http::Method::DELETE,
    };
    let (target, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    // Bytes a URI cannot hold are percent-encoded, so that nearly every input reaches the
    // router.
    let mut path = String::new();
    for &b in target {
        if b.is_ascii_alphanumeric() || b"/?&=-_.~%+:,".contains(&b) {
            path.push(b as char);
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    let uri = if path.starts_with('/') {
        path
    } else {
        format!("/api/v1/{path}")
    };
    let Ok(request) = http::Request::builder()
        .method(method.clone())
        .uri(&uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_vec()))
    else {
        return; // Not a request HTTP can carry.
    };
    let router = api.router.clone();
    let answer = api.runtime.block_on(async {
        use tower::ServiceExt as _;
        // Only the head: a log stream's body never ends.
        tokio::time::timeout(Duration::from_secs(10), router.oneshot(request)).await
    });
    let response = answer
        .unwrap_or_else(|_| panic!("{method} {uri} got no answer within 10 s"))
        .unwrap_or_else(|never| match never {});
    assert!(
        response.status() != http::StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri} with body {:?}: {}",
        String::from_utf8_lossy(body),
        response.status()
    );
}
