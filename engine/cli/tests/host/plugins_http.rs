//! The HTTP plugins of `plugins/` (`http-probe`, `http-deploy`, `acceptance`) and the
//! manifest test steps (`manifest-assert`, `upgrade-check`) through the real host: against
//! a local HTTP server each test starts (a fake platform API for `http-deploy`), and refused
//! by the sandbox when the server's `host:port` is not granted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::common::{load, plugin_failure};
use crate::test_server::{Received, Reply, Server};
use lockgate::plugin_host::{
    CaseStatus, Grants, Invocation, LogSource, MemorySink, PluginFailure, PluginKind, TestReport,
    Version,
};
use lockgate_test_artifacts as artifacts;
use serde_json::{Value, json};

// ---------------------------------------------------------------- harness

fn case_statuses(report: &TestReport) -> Vec<(String, CaseStatus)> {
    report.cases().map(|c| (c.name.clone(), c.status)).collect()
}

fn message<'a>(report: &'a TestReport, name: &str) -> &'a str {
    report
        .cases()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}: {report:?}"))
        .message
        .as_deref()
        .unwrap_or_default()
}

/// The host logged, as the engine, that it refused a connection to `addr`.
fn assert_refusal_logged(sink: &MemorySink, addr: &str) {
    assert!(
        sink.lines().iter().any(|l| l.source == LogSource::Engine
            && l.message.contains("refused")
            && l.message.contains(addr)),
        "the refusal of {addr} should be logged: {:?}",
        sink.lines()
    );
}

/// An input directory holding `files`.
fn input_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

// ---------------------------------------------------------------- http-probe

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_probe_checks_status_body_and_retries() {
    let flaky = Arc::new(Mutex::new(0u32));
    let counter = flaky.clone();
    let server = Server::start(move |r| match r.target.as_str() {
        "/health" => Reply::text(200, "ok version 1.2.3").chunked(),
        "/flaky" => {
            let mut n = counter.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Reply::text(503, "warming up")
            } else {
                Reply::text(200, "ready")
            }
        }
        _ => Reply::text(404, "no such page"),
    })
    .await;
    let probe = load(artifacts::HTTP_PROBE).await;
    let d = probe.description();
    assert_eq!(
        (d.name.as_str(), d.kind),
        ("http-probe", PluginKind::TestStep)
    );
    assert_eq!(
        d.capabilities.network[0].reason,
        "the URLs of config.checks"
    );

    let config = json!({
        "checks": [
            {"name": "health", "url": server.url("/health"), "body_regex": "version \\d+\\.\\d+\\.\\d+"},
            {"name": "flaky", "url": server.url("/flaky"), "max_latency_ms": 5000},
            {"name": "missing", "url": server.url("/missing")}
        ],
        "retries": 2,
        "backoff_ms": 10
    });
    let inv = Invocation::new(Grants::none().network(server.grant()));
    let report = probe.run(&inv, &config).await.unwrap();
    assert_eq!(
        case_statuses(&report),
        [
            ("health".to_string(), CaseStatus::Passed),
            ("flaky".to_string(), CaseStatus::Passed),
            ("missing".to_string(), CaseStatus::Failed),
        ]
    );
    assert_eq!(report.suites[0].name, "smoke");
    assert!(message(&report, "health").contains("body matches"));
    assert!(
        message(&report, "flaky").contains("attempt 3 of 3"),
        "{report:?}"
    );
    assert!(
        message(&report, "missing")
            .starts_with("failed after 3 attempt(s): attempt 1: expected status 200, got 404"),
        "{report:?}"
    );
    assert_eq!(*flaky.lock().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_probe_reports_an_ungranted_host_as_a_failed_case() {
    let server = Server::start(|_| Reply::text(200, "ok")).await;
    let other = Server::start(|_| Reply::text(200, "ok")).await;
    let probe = load(artifacts::HTTP_PROBE).await;
    let sink = MemorySink::new();
    // `other` is granted, `server` is not.
    let inv = Invocation::new(Grants::none().network(other.grant())).log(Arc::new(sink.clone()));
    let config = json!({"checks": [{"name": "health", "url": server.url("/")}], "backoff_ms": 10});
    let report = probe.run(&inv, &config).await.unwrap();
    assert_eq!(report.count(CaseStatus::Failed), 1);
    let m = message(&report, "health");
    assert!(
        m.contains("the sandbox refused the connection") && m.contains(&server.addr()),
        "{m}"
    );
    assert_refusal_logged(&sink, &server.addr());

    // A bad config is the step's error, naming the field.
    let err = probe
        .run(&inv, &json!({"checks": [{"url": "ftp://example.org/"}]}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::InvalidConfig(m) if m.starts_with("config.checks[0].url: ") && m.contains("only `http://` and `https://`"))
    );
}

// ---------------------------------------------------------------- http-deploy

/// A deployment on the fake platform.
struct Deployment {
    /// Status polls left before the deployment settles.
    polls_left: u32,
    /// Status polls answered `503` first (the platform is busy).
    busy_polls: u32,
    /// Whether it settles as `failed`.
    fails: bool,
    digest: String,
}

#[derive(Default)]
struct PlatformState {
    next_id: u32,
    deployments: BTreeMap<String, Deployment>,
    /// `(id, digest)` of what is deployed.
    current: Option<(String, String)>,
    posted: Vec<Value>,
}

/// A fake platform API for app `web` with token `t0ken`: deployments finish after three
/// polls, or fail when the manifest contains `broken`; the first two polls answer `503` when
/// it contains `busy`, and it never finishes when it contains `stuck`.
fn platform(state: Arc<Mutex<PlatformState>>) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |r| {
        if r.header("authorization") != Some("Bearer t0ken") {
            return Reply::json(401, &json!({"error": "bad token"}));
        }
        let mut s = state.lock().unwrap();
        match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/v1/apps/web") => match &s.current {
                Some((id, digest)) => {
                    Reply::json(200, &json!({"deployment": id, "digest": digest})).chunked()
                }
                None => Reply::json(404, &json!({"error": "nothing deployed"})),
            },
            ("POST", "/v1/apps/web/deployments") => {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                s.next_id += 1;
                let id = format!("d{}", s.next_id);
                let manifest = body["manifest"].as_str().unwrap_or_default();
                let deployment = Deployment {
                    polls_left: if manifest.contains("stuck") {
                        u32::MAX
                    } else {
                        3
                    },
                    busy_polls: if manifest.contains("busy") { 2 } else { 0 },
                    fails: manifest.contains("broken"),
                    digest: body["digest"].as_str().unwrap_or_default().to_string(),
                };
                s.deployments.insert(id.clone(), deployment);
                s.posted.push(body);
                Reply::json(201, &json!({"id": id}))
            }
            ("GET", path) if path.starts_with("/v1/apps/web/deployments/") => {
                let id = path.rsplit('/').next().unwrap().to_string();
                let Some(d) = s.deployments.get_mut(&id) else {
                    return Reply::json(404, &json!({"error": "no such deployment"}));
                };
                if d.busy_polls > 0 {
                    d.busy_polls -= 1;
                    return Reply::text(503, "busy");
                }
                d.polls_left = d.polls_left.saturating_sub(1);
                let (state_name, fails, digest) = match (d.polls_left, d.fails) {
                    (0, true) => ("failed", true, d.digest.clone()),
                    (0, false) => ("finished", false, d.digest.clone()),
                    _ => ("running", false, d.digest.clone()),
                };
                if state_name == "finished" {
                    s.current = Some((id.clone(), digest.clone()));
                }
                let mut body = json!({"id": id, "state": state_name, "digest": digest});
                if fails {
                    body["message"] = json!("image registry.local/web:broken not found");
                }
                Reply::json(200, &body)
            }
            _ => Reply::json(404, &json!({"error": "no route"})),
        }
    }
}

fn deploy_source(server: &Server) -> Value {
    json!({"api": server.url(""), "app": "web", "token": "t0ken", "poll_ms": 20, "timeout_s": 20})
}

/// The platform API behind TLS with a certificate of a test CA the step's grants trust: a
/// deployment through `https://`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deploy_deploys_over_https() {
    let state = Arc::new(Mutex::new(PlatformState::default()));
    let server = Server::start(platform(state.clone())).await;
    let ca = lockgate_test_tls::TestCa::new("Lockgate test CA");
    let certs = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(certs.path(), "ca.pem");
    let front = lockgate_test_tls::HttpsServer::start(
        ca.server_config(&["localhost"]),
        lockgate_test_tls::Behaviour::Forward(server.addr().parse().unwrap()),
    )
    .await;
    let source = json!({"api": front.url("localhost", ""), "app": "web", "token": "t0ken", "poll_ms": 20, "timeout_s": 20});
    let cache = tempfile::tempdir().unwrap();
    let input = input_dir(&[(
        "manifest.yml",
        "app: web\nimage: registry.local/web:2.0.0\n",
    )]);
    let grants = Grants::none()
        .network(format!("localhost:{}", front.port()).parse().unwrap())
        .ca_certificate(&ca_file)
        .cache(cache.path())
        .input("release", input.path());
    let deploy = load(artifacts::HTTP_DEPLOY).await;
    let fetched = deploy
        .put(
            &Invocation::new(grants),
            &source,
            &json!({"manifest": "release/manifest.yml"}),
        )
        .await
        .unwrap();
    assert_eq!(fetched.version.get("deployment"), Some("d1"));
    assert_eq!(
        state.lock().unwrap().current.as_ref().map(|c| c.0.as_str()),
        Some("d1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deploy_puts_waits_checks_and_gets() {
    let state = Arc::new(Mutex::new(PlatformState::default()));
    let server = Server::start(platform(state.clone())).await;
    let deploy = load(artifacts::HTTP_DEPLOY).await;
    assert_eq!(deploy.description().kind, PluginKind::ResourceType);
    assert_eq!(
        deploy.description().capabilities.network[0].reason,
        "the platform API host (source.api)"
    );
    let source = deploy_source(&server);
    let cache = tempfile::tempdir().unwrap();
    let grants = || Grants::none().network(server.grant()).cache(cache.path());

    // Nothing deployed yet.
    let inv = Invocation::new(grants());
    assert_eq!(deploy.check(&inv, &source, None).await.unwrap(), []);

    let manifest = "app: web\nimage: registry.local/web:1.4.0\n";
    let input = input_dir(&[
        ("manifest.yml", manifest),
        ("versions.json", r#"{"web": "1.4.0"}"#),
    ]);
    let sink = MemorySink::new();
    let inv = Invocation::new(grants().input("release", input.path())).log(Arc::new(sink.clone()));
    let params = json!({"manifest": "release/manifest.yml", "versions": "release/versions.json"});
    let fetched = deploy.put(&inv, &source, &params).await.unwrap();
    let digest = {
        let s = state.lock().unwrap();
        assert_eq!(s.posted[0]["app"], "web");
        assert_eq!(s.posted[0]["manifest"], manifest);
        assert_eq!(s.posted[0]["versions"], json!({"web": "1.4.0"}));
        s.posted[0]["digest"].as_str().unwrap().to_string()
    };
    assert!(
        digest.starts_with("sha256:") && digest.len() == 7 + 64,
        "{digest}"
    );
    let version = Version::new()
        .with("deployment", "d1")
        .with("digest", &digest);
    assert_eq!(fetched.version, version);
    assert!(
        sink.text().contains("deployment d1 of `web` started"),
        "{}",
        sink.text()
    );

    // check reports what is deployed now.
    let inv = Invocation::new(grants());
    assert_eq!(
        deploy.check(&inv, &source, Some(&version)).await.unwrap(),
        std::slice::from_ref(&version)
    );

    // get writes the deployment record.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(grants().output(out.path()));
    let got = deploy
        .get(&inv, &source, &version, &json!({}))
        .await
        .unwrap();
    assert_eq!(got.version, version);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("deployment.json")).unwrap())
            .unwrap();
    assert_eq!(record["id"], "d1");
    let unknown = Version::new().with("deployment", "d99").with("digest", "x");
    let err = deploy
        .get(&inv, &source, &unknown, &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(err), PluginFailure::NotFound(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deploy_reports_a_failed_deployment_a_bad_token_and_bad_params() {
    let state = Arc::new(Mutex::new(PlatformState::default()));
    let server = Server::start(platform(state.clone())).await;
    let deploy = load(artifacts::HTTP_DEPLOY).await;
    let source = deploy_source(&server);
    let input = input_dir(&[("manifest.yml", "image: registry.local/web:broken\n")]);
    let inv = Invocation::new(
        Grants::none()
            .network(server.grant())
            .input("release", input.path()),
    );
    let params = json!({"manifest": "release/manifest.yml", "versions": {"web": "9.9.9"}});
    let err = deploy.put(&inv, &source, &params).await.unwrap_err();
    match plugin_failure(err) {
        PluginFailure::Failed(m) => assert_eq!(
            m,
            "deployment d1 of `web` failed: image registry.local/web:broken not found"
        ),
        other => panic!("{other:?}"),
    }
    assert!(state.lock().unwrap().current.is_none());

    let mut bad_token = source.clone();
    bad_token["token"] = json!("wrong");
    let err = deploy.put(&inv, &bad_token, &params).await.unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::Failed(m) if m.contains("the platform refused the token: 401") && !m.contains("wrong"))
    );

    let err = deploy
        .put(&inv, &source, &json!({"manifest": "../etc/passwd"}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::InvalidConfig(m) if m.starts_with("params.manifest: "))
    );
    let mut ftp = source.clone();
    ftp["api"] = json!("ftp://platform.example");
    let err = deploy.check(&inv, &ftp, None).await.unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::InvalidConfig(m) if m.starts_with("source.api: ") && m.contains("only `http://` and `https://`"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deploy_tolerates_failed_polls_and_gives_up_at_its_timeout() {
    let state = Arc::new(Mutex::new(PlatformState::default()));
    let server = Server::start(platform(state.clone())).await;
    let deploy = load(artifacts::HTTP_DEPLOY).await;
    let input = input_dir(&[
        ("busy.yml", "app: web # busy\n"),
        ("stuck.yml", "app: web # stuck\n"),
    ]);
    let sink = MemorySink::new();
    let inv = Invocation::new(
        Grants::none()
            .network(server.grant())
            .input("release", input.path()),
    )
    .log(Arc::new(sink.clone()));
    let mut source = deploy_source(&server);

    // Two polls answered 503 are retried; the deployment then finishes.
    let fetched = deploy
        .put(&inv, &source, &json!({"manifest": "release/busy.yml"}))
        .await
        .unwrap();
    assert_eq!(fetched.version.get("deployment"), Some("d1"));
    assert!(
        sink.text()
            .contains("the platform answered 503 Service Unavailable \"busy\"; retrying"),
        "{}",
        sink.text()
    );

    // A deployment that never finishes fails at `timeout_s`, naming its last state.
    source["timeout_s"] = json!(1);
    let err = deploy
        .put(&inv, &source, &json!({"manifest": "release/stuck.yml"}))
        .await
        .unwrap_err();
    match plugin_failure(err) {
        PluginFailure::Failed(m) => assert!(
            m.starts_with(
                "deployment d2 of `web` did not finish within 1 s (last state: running, "
            ),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_deploy_is_refused_when_the_platform_is_not_granted() {
    let state = Arc::new(Mutex::new(PlatformState::default()));
    let server = Server::start(platform(state.clone())).await;
    let other = Server::start(|_| Reply::text(200, "")).await;
    let deploy = load(artifacts::HTTP_DEPLOY).await;
    let input = input_dir(&[("manifest.yml", "app: web\n")]);
    let sink = MemorySink::new();
    let inv = Invocation::new(
        Grants::none()
            .network(other.grant())
            .input("release", input.path()),
    )
    .log(Arc::new(sink.clone()));
    let err = deploy
        .put(
            &inv,
            &deploy_source(&server),
            &json!({"manifest": "release/manifest.yml"}),
        )
        .await
        .unwrap_err();
    match plugin_failure(err) {
        PluginFailure::Failed(m) => assert!(
            m.contains("the sandbox refused the connection") && m.contains(&server.addr()),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_refusal_logged(&sink, &server.addr());
    assert!(state.lock().unwrap().posted.is_empty());
}

// ---------------------------------------------------------------- acceptance

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_runs_a_scenario_one_case_per_step() {
    let items = Arc::new(Mutex::new(Vec::<Value>::new()));
    let store = items.clone();
    let server = Server::start(move |r| match (r.method.as_str(), r.target.as_str()) {
        ("POST", "/items") => {
            let mut item: Value = serde_json::from_str(&r.body).unwrap();
            let mut items = store.lock().unwrap();
            item["id"] = json!(items.len() + 1);
            items.push(item.clone());
            Reply::json(201, &item)
        }
        ("GET", "/items") => Reply::json(200, &json!({"items": *store.lock().unwrap()})).chunked(),
        _ => Reply::text(404, "not found"),
    })
    .await;
    let scenario = json!([
        {"name": "create", "request": {"method": "POST", "url": "/items", "body": {"name": "widget"}},
         "expect": {"status": 201, "json": {"/id": 1, "/name": "widget"}}},
        {"name": "list", "request": {"url": "/items", "headers": {"Accept": "application/json"}},
         "expect": {"body_contains": "widget", "json": {"/items/0/name": "widget"}}},
        {"name": "delete is not supported", "request": {"method": "DELETE", "url": "/items/1"},
         "expect": {"status": 204}}
    ]);
    let input = input_dir(&[("scenario.json", &scenario.to_string())]);
    let acceptance = load(artifacts::ACCEPTANCE).await;
    let inv = Invocation::new(
        Grants::none()
            .network(server.grant())
            .input("tests", input.path()),
    );
    let config = json!({"scenario": "tests/scenario.json", "base_url": server.url("")});
    let report = acceptance.run(&inv, &config).await.unwrap();
    assert_eq!(
        case_statuses(&report),
        [
            ("create".to_string(), CaseStatus::Passed),
            ("list".to_string(), CaseStatus::Passed),
            ("delete is not supported".to_string(), CaseStatus::Failed),
        ]
    );
    assert!(
        message(&report, "delete is not supported").contains("expected status 204, got 404"),
        "{report:?}"
    );

    // Not granted: every step is a failed case naming the refusal.
    let sink = MemorySink::new();
    let other = Server::start(|_| Reply::text(200, "")).await;
    let inv = Invocation::new(
        Grants::none()
            .network(other.grant())
            .input("tests", input.path()),
    )
    .log(Arc::new(sink.clone()));
    let report = acceptance.run(&inv, &config).await.unwrap();
    assert_eq!(report.count(CaseStatus::Failed), 3);
    assert!(message(&report, "create").contains("the sandbox refused the connection"));
    assert_refusal_logged(&sink, &server.addr());
}

// ---------------------------------------------------------------- manifest-assert

#[tokio::test]
async fn manifest_assert_checks_versions_and_schema() {
    let manifest = "env: staging\nreleases:\n  app: \"1.2.3\"\n  db: \"14.2\"\n";
    let input = input_dir(&[("deployed/manifest.yml", manifest)]);
    let plugin = load(artifacts::MANIFEST_ASSERT).await;
    let inv = Invocation::new(Grants::none().input("env", input.path()));
    let config = json!({
        "manifest": "env/deployed/manifest.yml",
        "expect_versions": {"releases.app": "1.2.3", "releases.db": "15.0"},
        "schema": {"type": "object", "required": ["env", "releases"],
                   "properties": {"env": {"enum": ["staging", "production"]},
                                  "releases": {"additionalProperties": {"type": "string"}}}}
    });
    let report = plugin.run(&inv, &config).await.unwrap();
    assert_eq!(
        case_statuses(&report),
        [
            ("manifest".to_string(), CaseStatus::Passed),
            ("releases.app".to_string(), CaseStatus::Passed),
            ("releases.db".to_string(), CaseStatus::Failed),
            ("schema".to_string(), CaseStatus::Passed),
        ]
    );
    assert_eq!(
        message(&report, "releases.db"),
        r#"expected `releases.db` = "15.0", found "14.2""#
    );

    let err = plugin
        .run(
            &inv,
            &json!({"manifest": "env/deployed/manifest.yml", "schema": {"$ref": "#/x"}}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::InvalidConfig(m) if m.starts_with("config.schema: keyword `$ref` is not supported"))
    );
}

// ---------------------------------------------------------------- upgrade-check

#[tokio::test]
async fn upgrade_check_refuses_major_jumps_removed_keys_and_downgrades() {
    let input = input_dir(&[
        (
            "prod/versions.json",
            r#"{"app": "1.2.3", "db": "14.1.0", "cache": "2.0.0", "queue": "3.0.0"}"#,
        ),
        (
            "cand/versions.json",
            r#"{"app": "1.3.0", "db": "15.0.0", "cache": "1.9.0", "search": "0.1.0"}"#,
        ),
    ]);
    let plugin = load(artifacts::UPGRADE_CHECK).await;
    let inv = Invocation::new(Grants::none().input("v", input.path()));
    let config = json!({"current": "v/prod/versions.json", "candidate": "v/cand/versions.json"});
    let report = plugin.run(&inv, &config).await.unwrap();
    let statuses: Vec<(String, CaseStatus)> = case_statuses(&report);
    assert_eq!(
        statuses,
        [
            ("app".to_string(), CaseStatus::Passed),
            ("cache".to_string(), CaseStatus::Failed),
            ("db".to_string(), CaseStatus::Failed),
            ("queue".to_string(), CaseStatus::Failed),
            ("search".to_string(), CaseStatus::Passed),
        ]
    );
    assert!(message(&report, "cache").starts_with("downgrade from 2.0.0"));

    let allowed = json!({"current": "v/prod/versions.json", "candidate": "v/cand/versions.json",
                         "allow_major": true, "allow_removed_keys": true});
    let report = plugin.run(&inv, &allowed).await.unwrap();
    let failed: Vec<&str> = report
        .cases()
        .filter(|c| c.status == CaseStatus::Failed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["cache"], "a downgrade is never allowed");
}
