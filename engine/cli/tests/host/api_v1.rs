//! The `/api/v1` HTTP API over real HTTP, with a running scheduler and real plugins: reads,
//! writes with and without tokens of each role, trigger, approve, rollback, live logs (SSE),
//! metrics, the OpenAPI document, and JSON errors for bad requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lockgate::api::{self, ApiConfig, Role, TokenEntry};
use lockgate::config::Vars;
use lockgate::runner::Runner;
use lockgate::scheduler::Scheduler;
use lockgate::store::Store;
use lockgate_test_artifacts as artifacts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PIPELINE: &str = r#"
environments:
  - name: development
  - name: production
    approval: required
resource_types:
  counter: ((counter_wasm))
test_types:
  assert-file: ((assert_wasm))
resources:
  - name: release
    type: counter
    source: { path: /dirs/state/release }
    check_every: never
    webhook_token: ((hook_token))
    grants: { dirs: { state: ./upstream } }
  - name: dev-env
    type: counter
    check_every: never
    source: { path: /dirs/state/deployed }
    grants: { dirs: { state: { path: ./envs/development, writable: true } } }
  - name: prod-env
    type: counter
    check_every: never
    source: { path: /dirs/state/deployed }
    grants: { dirs: { state: { path: ./envs/production, writable: true } } }
jobs:
  - name: deploy-dev
    environment: development
    plan:
      - get: release
        trigger: true
      - put: dev-env
        params: { from_file: release/number }
      - test: smoke
        type: assert-file
        config:
          suite: smoke
          assertions:
            - { name: deployed, file: dev-env/number }
  - name: deploy-prod
    environment: production
    plan:
      - get: release
        trigger: true
        passed: [deploy-dev]
      - put: prod-env
        params: { from_file: release/number }
"#;

const VIEWER: &str = "viewer-token-1";
const OPERATOR: &str = "operator-token-1";
const APPROVER: &str = "approver-token-1";

/// One HTTP/1.1 request; returns (status, raw body).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A request whose answer is JSON.
async fn json_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, text) = call(addr, method, path, token, body).await;
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: {status} not JSON ({e}): {text}"));
    (status, value)
}

async fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, v) = json_call(addr, "GET", path, None, None).await;
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

/// Asserts an error answer: status and a message containing `needle`.
fn assert_error(answer: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let message = answer.1["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {}", answer.1));
    assert!(message.contains(needle), "`{needle}` not in `{message}`");
}

/// Polls `f` until it returns `Some`, for up to a minute.
async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest build of `job` once it finished.
async fn finished_build(addr: SocketAddr, job: &str, number: i64) -> Value {
    wait_for(&format!("{job} #{number} to finish"), || async move {
        let page = get(addr, &format!("/api/v1/jobs/{job}/builds")).await;
        page["builds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["number"] == number && b["finished"] == true)
            .cloned()
    })
    .await
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    scheduler: Scheduler,
}

async fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    for d in ["upstream", "envs/development", "envs/production"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("upstream/release"), "1").unwrap();
    let file = dir.join("pipeline.yml");
    std::fs::write(&file, PIPELINE).unwrap();
    let mut vars = Vars::new();
    vars.set("counter_wasm", artifacts::COUNTER);
    vars.set("assert_wasm", artifacts::ASSERT_FILE);
    vars.set_secret("hook_token", "t0ken-of-the-hook");
    let host = crate::common::host();
    let loaded = lockgate::plan::load(&file, &vars, &host, None)
        .await
        .unwrap_or_else(|r| panic!("{}", r.render_plain()));
    let store = Store::open_sqlite(dir.join("state.db")).await.unwrap();
    let (pipeline, plugins) = (Arc::new(loaded.pipeline), Arc::new(loaded.plugins));
    let runner = Runner::new(
        store.clone(),
        pipeline.clone(),
        plugins.clone(),
        loaded.redactor,
        dir.join("work"),
    );
    let scheduler = Scheduler::new(store, pipeline, plugins, runner, "api-v1-test");
    scheduler.prepare().await.unwrap();
    Setup {
        _dir: tmp,
        dir,
        scheduler,
    }
}

fn tokens(protect_reads: bool) -> ApiConfig {
    let approver_digest = format!("sha256:{}", hex::encode(Sha256::digest(APPROVER)));
    ApiConfig::with_tokens(
        vec![
            TokenEntry {
                name: "vera".into(),
                token: VIEWER.into(),
                role: Role::Viewer,
            },
            TokenEntry {
                name: "otto".into(),
                token: OPERATOR.into(),
                role: Role::Operator,
            },
            TokenEntry {
                name: "alice".into(),
                token: approver_digest,
                role: Role::Approver,
            },
        ],
        protect_reads,
    )
    .unwrap()
}

/// Serves the API for `scheduler`; returns its address and the sender that stops it.
async fn serve(
    scheduler: &Scheduler,
    config: ApiConfig,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(api::serve_with(
        scheduler.clone(),
        config,
        "127.0.0.1:0".parse().unwrap(),
        bound_tx,
        async {
            let _ = stopped.await;
        },
    ));
    (bound_rx.await.unwrap(), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_walks_to_production_through_the_api() {
    let s = setup().await;
    let (addr, stop_api) = serve(&s.scheduler, tokens(false)).await;

    // The graph a UI draws.
    let graph = get(addr, "/api/v1/pipeline").await;
    assert_eq!(graph["environments"][1]["name"], "production");
    assert_eq!(graph["environments"][1]["approval"], "required");
    assert_eq!(graph["resources"][0]["type"], "counter");
    assert_eq!(graph["jobs"][1]["environment"], "production");
    assert_eq!(
        graph["jobs"][1]["inputs"][0]["passed"],
        json!(["deploy-dev"])
    );
    assert!(
        graph["edges"]
            .as_array()
            .unwrap()
            .contains(&json!({"from": "deploy-dev", "to": "deploy-prod", "resource": "release"})),
        "{graph}"
    );

    // Writes: 401 without a token (or with an unknown one), 403 below operator.
    let check = "/api/v1/resources/release/check";
    assert_error(
        &json_call(addr, "POST", check, None, None).await,
        401,
        "bearer token",
    );
    assert_error(
        &json_call(addr, "POST", check, Some("made-up-token"), None).await,
        401,
        "unknown bearer token",
    );
    assert_error(
        &json_call(addr, "POST", check, Some(VIEWER), None).await,
        403,
        "role `viewer`",
    );
    assert!(
        s.scheduler
            .store()
            .latest_version("release")
            .await
            .unwrap()
            .is_none()
    );
    let (status, answer) = json_call(addr, "POST", check, Some(OPERATOR), None).await;
    assert_eq!(
        (status, answer["new_versions"].clone()),
        (200, json!(1)),
        "{answer}"
    );
    let resources = get(addr, "/api/v1/resources").await;
    assert_eq!(resources[0]["latest"]["version"], json!({"number": "1"}));

    // Trigger -> a build appears; follow its logs live before any node runs it.
    let (status, build) = json_call(
        addr,
        "POST",
        "/api/v1/jobs/deploy-dev/trigger",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(status, 201, "{build}");
    assert_eq!(build["status"], "pending");
    let id = build["id"].as_i64().unwrap();
    let builds = get(addr, "/api/v1/jobs/deploy-dev/builds").await;
    assert_eq!(builds["builds"][0]["id"], id);
    let sse = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(90),
            call(
                addr,
                "GET",
                &format!("/api/v1/builds/{id}/logs/stream"),
                None,
                None,
            ),
        )
        .await
        .expect("the stream ends when the build finishes")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Now run the scheduler.
    let (stop_scheduler, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = s.scheduler.clone();
    let node = tokio::spawn(async move {
        scheduler
            .serve(async {
                let _ = scheduler_stopped.await;
            })
            .await
    });

    let (status, stream) = sse.await.unwrap();
    assert_eq!(status, 200);
    assert!(stream.contains("event: log"), "{stream}");
    assert!(stream.contains("\"seq\":1"), "{stream}");
    let end = stream
        .find("event: end")
        .unwrap_or_else(|| panic!("no end event: {stream}"));
    assert!(
        stream[end..].contains("\"status\":\"succeeded\""),
        "{stream}"
    );
    assert!(
        stream.rfind("event: log").unwrap() < end,
        "the end comes after every line: {stream}"
    );

    let dev = finished_build(addr, "deploy-dev", 1).await;
    assert_eq!(dev["status"], "succeeded", "{dev}");

    // One build, read every way.
    let detail = get(addr, &format!("/api/v1/builds/{id}")).await;
    assert_eq!(detail["inputs"][0]["resource"], "release");
    assert_eq!(detail["outputs"][0]["resource"], "dev-env");
    let steps = get(addr, &format!("/api/v1/builds/{id}/steps")).await;
    let kinds: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"test") && kinds.contains(&"put"), "{steps}");
    let reports = get(addr, &format!("/api/v1/builds/{id}/reports")).await;
    assert_eq!(reports[0]["passed"], true, "{reports}");
    assert_eq!(
        reports[0]["report"]["suites"][0]["name"], "smoke",
        "{reports}"
    );
    let first = get(addr, &format!("/api/v1/builds/{id}/logs?limit=1")).await;
    assert_eq!(first["lines"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["lines"][0]["seq"], 1);
    assert_eq!(first["next_after"], 1);
    assert_eq!(first["finished"], true);
    let rest = get(addr, &format!("/api/v1/builds/{id}/logs?after=1")).await;
    assert!(
        rest["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["seq"].as_i64().unwrap() > 1)
    );

    // Production waits for an approval.
    let prod = wait_for("production to wait for approval", || async {
        let why = get(addr, "/api/v1/environments/production/why").await;
        (!why["next"].is_null()).then_some(why)
    })
    .await;
    assert!(
        prod["blockers"][0].as_str().unwrap().contains("approval"),
        "{prod}"
    );
    let candidate = prod["next"]["id"].as_i64().unwrap();
    let envs = get(addr, "/api/v1/environments").await;
    assert_eq!(envs[0]["environment"], "development");
    assert_eq!(envs[0]["current"]["id"], candidate, "{envs}");
    assert!(envs[1]["current"].is_null(), "{envs}");
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/jobs/deploy-prod/trigger",
            Some(OPERATOR),
            None,
        )
        .await,
        409,
        "approval",
    );

    // Approving needs the approver role; the token's name is recorded.
    let approve = "/api/v1/environments/production/approve";
    let body = r#"{"comment": "ship it"}"#;
    assert_error(
        &json_call(addr, "POST", approve, None, Some(body)).await,
        401,
        "approver",
    );
    assert_error(
        &json_call(addr, "POST", approve, Some(OPERATOR), Some(body)).await,
        403,
        "role `operator`",
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            approve,
            Some(APPROVER),
            Some(r#"{"candidate": 9999}"#),
        )
        .await,
        404,
        "candidate",
    );
    let (status, approved) = json_call(addr, "POST", approve, Some(APPROVER), Some(body)).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["approved_by"], "alice");
    assert_eq!(approved["candidate"]["id"], candidate);
    let approval = s
        .scheduler
        .store()
        .approval("production", candidate)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approval.approver, "alice");
    assert_eq!(approval.comment.as_deref(), Some("ship it"));

    let prod_build = finished_build(addr, "deploy-prod", 1).await;
    assert_eq!(prod_build["status"], "succeeded", "{prod_build}");
    let envs = wait_for("production to run the candidate", || async {
        let envs = get(addr, "/api/v1/environments").await;
        (envs[1]["current"]["id"] == candidate).then_some(envs)
    })
    .await;
    assert!(envs[1]["blockers"].as_array().unwrap().is_empty(), "{envs}");

    // Nothing to roll back to yet: 409; approver only.
    let rollback = "/api/v1/environments/production/rollback";
    assert_error(
        &json_call(addr, "POST", rollback, Some(OPERATOR), None).await,
        403,
        "approver",
    );
    let (status, answer) = json_call(addr, "POST", rollback, Some(APPROVER), None).await;
    assert_eq!(status, 409, "{answer}");

    // A second release through the webhook, approved by id, then rolled back.
    std::fs::write(s.dir.join("upstream/release"), "2").unwrap();
    let (status, answer) = json_call(
        addr,
        "POST",
        "/api/v1/resources/release/check?webhook_token=t0ken-of-the-hook",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, answer["new_versions"].clone()),
        (200, json!(1)),
        "{answer}"
    );
    finished_build(addr, "deploy-dev", 2).await;
    let second = wait_for("the second candidate to wait", || async {
        let why = get(addr, "/api/v1/environments/production/why").await;
        why["next"]["id"].as_i64().filter(|id| *id != candidate)
    })
    .await;
    let (status, answer) = json_call(
        addr,
        "POST",
        approve,
        Some(APPROVER),
        Some(&format!(r#"{{"candidate": {second}}}"#)),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    finished_build(addr, "deploy-prod", 2).await;
    wait_for("production to run the second candidate", || async {
        let why = get(addr, "/api/v1/environments/production/why").await;
        (why["current"]["id"] == second).then_some(())
    })
    .await;
    let (status, answer) = json_call(addr, "POST", rollback, Some(APPROVER), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["candidate"]["id"], candidate, "{answer}");
    assert_eq!(answer["by"], "alice");
    assert_eq!(answer["builds"][0]["job"], "deploy-prod");
    let rolled = finished_build(addr, "deploy-prod", 3).await;
    assert_eq!(rolled["status"], "succeeded", "{rolled}");

    // Nodes and metrics after this activity.
    let nodes = get(addr, "/api/v1/nodes").await;
    assert_eq!(nodes["scheduler"], "api-v1-test", "{nodes}");
    assert_eq!(nodes["nodes"][0]["name"], "api-v1-test", "{nodes}");
    let (status, metrics) = call(addr, "GET", "/api/v1/metrics", None, None).await;
    assert_eq!(status, 200);
    for needle in [
        "lockgate_checks_total ",
        "lockgate_checks_failed_total ",
        "lockgate_plugin_invocation_seconds_bucket{le=\"+Inf\"} ",
        "lockgate_pending_builds ",
        "lockgate_nodes{role=\"scheduler\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in {metrics}");
    }
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(value("lockgate_checks_total ") >= 2.0, "{metrics}");
    assert!(
        value("lockgate_builds_finished_total{status=\"succeeded\"} ") >= 5.0,
        "{metrics}"
    );
    assert!(
        value("lockgate_plugin_invocations_total ") >= 10.0,
        "{metrics}"
    );
    // The same document at the path Prometheus scrapes by default.
    let (status, root) = call(addr, "GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
    assert!(
        root.contains("lockgate_nodes{role=\"scheduler\"} 1"),
        "{root}"
    );

    stop_scheduler.send(()).unwrap();
    node.await.unwrap().unwrap();
    stop_api.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_naming_the_problem() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(false)).await;
    let op = Some(OPERATOR);
    assert_error(
        &json_call(addr, "POST", "/api/v1/jobs/nope/trigger", op, None).await,
        404,
        "no job `nope`",
    );
    assert_error(
        &json_call(addr, "POST", "/api/v1/jobs/deploy-dev/trigger", op, None).await,
        409,
        "no versions",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/jobs/nope/builds", None, None).await,
        404,
        "no job `nope`",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/resources/nope/versions", None, None).await,
        404,
        "no resource `nope`",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/environments/qa/why", None, None).await,
        404,
        "no environment `qa`",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/builds/abc", None, None).await,
        400,
        "`abc` is not a build id",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/builds/4242/steps", None, None).await,
        404,
        "unknown build 4242",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/builds/4242/logs/stream", None, None).await,
        404,
        "unknown build 4242",
    );
    assert_error(
        &json_call(
            addr,
            "GET",
            "/api/v1/jobs/deploy-dev/builds?limit=0",
            None,
            None,
        )
        .await,
        400,
        "`limit`",
    );
    assert_error(
        &json_call(
            addr,
            "GET",
            "/api/v1/jobs/deploy-dev/builds?limit=x",
            None,
            None,
        )
        .await,
        400,
        "invalid query",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/nothing-here", None, None).await,
        404,
        "no such API route",
    );

    let pin = "/api/v1/resources/release/pin";
    assert_error(
        &json_call(addr, "POST", pin, op, Some("{not json")).await,
        400,
        "invalid JSON body",
    );
    assert_error(
        &json_call(addr, "POST", pin, op, Some(r#"{"version": {"number": 3}}"#)).await,
        400,
        "JSON object of strings",
    );
    assert_error(
        &json_call(addr, "POST", pin, op, None).await,
        400,
        "version is empty",
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            pin,
            op,
            Some(r#"{"version": {"number": "7"}}"#),
        )
        .await,
        404,
        "has no version",
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/environments/production/approve",
            Some(APPROVER),
            Some(r#"{"candidat": 1}"#),
        )
        .await,
        400,
        "unknown field `candidat`",
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/environments/production/approve",
            Some(APPROVER),
            None,
        )
        .await,
        409,
        "no candidate is waiting",
    );
    // Webhooks: a wrong token, or a resource without one, is refused before any check.
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/resources/release/check?webhook_token=wrong",
            None,
            None,
        )
        .await,
        403,
        "webhook_token",
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/resources/dev-env/check?webhook_token=x",
            None,
            None,
        )
        .await,
        403,
        "no `webhook_token`",
    );
    assert!(
        s.scheduler
            .store()
            .latest_version("release")
            .await
            .unwrap()
            .is_none()
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_and_disabled_versions_through_the_api() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(false)).await;
    let (status, _) = json_call(
        addr,
        "POST",
        "/api/v1/resources/release/check",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(status, 200);
    std::fs::write(s.dir.join("upstream/release"), "3").unwrap();
    let (status, answer) = json_call(
        addr,
        "POST",
        "/api/v1/resources/release/check",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["new_versions"].clone()),
        (200, json!(2)),
        "{answer}"
    );

    let page = get(addr, "/api/v1/resources/release/versions?limit=2").await;
    let numbers: Vec<&str> = page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"]["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["3", "2"], "{page}");
    let next = page["next_before"].as_i64().expect("a next page");
    let page = get(
        addr,
        &format!("/api/v1/resources/release/versions?limit=2&before={next}"),
    )
    .await;
    assert_eq!(page["versions"][0]["version"]["number"], "1", "{page}");
    assert!(page["next_before"].is_null(), "{page}");

    let pin = "/api/v1/resources/release/pin";
    let v2 = r#"{"version": {"number": "2"}}"#;
    assert_error(
        &json_call(addr, "POST", pin, None, Some(v2)).await,
        401,
        "operator",
    );
    assert_error(
        &json_call(addr, "POST", pin, Some(VIEWER), Some(v2)).await,
        403,
        "operator",
    );
    let (status, answer) = json_call(addr, "POST", pin, Some(OPERATOR), Some(v2)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["pinned"]["version"]["number"], "2");
    let resources = get(addr, "/api/v1/resources").await;
    assert_eq!(
        resources[0]["pinned"]["version"]["number"], "2",
        "{resources}"
    );
    // The version map alone is accepted too.
    let (status, _) = json_call(
        addr,
        "POST",
        pin,
        Some(OPERATOR),
        Some(r#"{"number": "1"}"#),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = json_call(addr, "DELETE", pin, Some(OPERATOR), None).await;
    assert_eq!(status, 200);
    assert!(get(addr, "/api/v1/resources").await[0]["pinned"].is_null());

    let disable = "/api/v1/resources/release/versions/disable";
    let v3 = r#"{"version": {"number": "3"}}"#;
    assert_error(
        &json_call(addr, "POST", disable, Some(VIEWER), Some(v3)).await,
        403,
        "operator",
    );
    let (status, answer) = json_call(addr, "POST", disable, Some(OPERATOR), Some(v3)).await;
    assert_eq!(
        (status, answer["disabled"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    let page = get(addr, "/api/v1/resources/release/versions").await;
    assert_eq!(page["versions"][0]["disabled"], true, "{page}");
    assert_eq!(page["versions"][1]["disabled"], false, "{page}");
    // A build triggered now gets the newest version that is not disabled.
    let (status, build) = json_call(
        addr,
        "POST",
        "/api/v1/jobs/deploy-dev/trigger",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(status, 201, "{build}");
    let detail = get(addr, &format!("/api/v1/builds/{}", build["id"])).await;
    assert_eq!(detail["inputs"][0]["version"]["number"], "2", "{detail}");
    let (status, _) = json_call(
        addr,
        "POST",
        "/api/v1/resources/release/versions/enable",
        Some(OPERATOR),
        Some(v3),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(addr, "/api/v1/resources/release/versions").await["versions"][0]["disabled"],
        false
    );
    assert_error(
        &json_call(
            addr,
            "POST",
            disable,
            Some(OPERATOR),
            Some(r#"{"version": {"number": "99"}}"#),
        )
        .await,
        404,
        "no version",
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_reads_need_a_token_of_any_role() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(true)).await;
    assert_error(
        &json_call(addr, "GET", "/api/v1/jobs", None, None).await,
        401,
        "reading",
    );
    assert_error(
        &json_call(addr, "GET", "/api/v1/jobs", Some("nope-nope"), None).await,
        401,
        "unknown",
    );
    for token in [VIEWER, OPERATOR, APPROVER] {
        let (status, jobs) = json_call(addr, "GET", "/api/v1/jobs", Some(token), None).await;
        assert_eq!(status, 200, "{jobs}");
        assert_eq!(jobs[0]["name"], "deploy-dev");
        assert_eq!(jobs[0]["environment"], "development");
    }
    // Health stays open for probes.
    assert_eq!(
        call(addr, "GET", "/healthz", None, None).await,
        (200, "ok\n".to_owned())
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, ApiConfig::open()).await;
    let doc = get(addr, "/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(doc, on_disk, "the served document is docs/openapi.json");
    let routes = api::route_list();
    assert!(routes.len() >= 24, "{routes:?}");
    for (method, path) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{} {path} is not in docs/openapi.json",
            method.to_uppercase()
        );
    }
    // Without a token file, the API is read-only.
    assert_error(
        &json_call(
            addr,
            "POST",
            "/api/v1/jobs/deploy-dev/trigger",
            Some(OPERATOR),
            None,
        )
        .await,
        401,
        "unknown bearer token",
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_the_server_stops() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(false)).await;
    let check = "/api/v1/resources/release/check";
    assert_eq!(
        json_call(addr, "POST", check, Some(OPERATOR), None).await.0,
        200
    );
    let (status, build) = json_call(
        addr,
        "POST",
        "/api/v1/jobs/deploy-dev/trigger",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(status, 201, "{build}");
    // No node runs it: the stream waits until the server stops.
    let path = format!("/api/v1/builds/{}/logs/stream", build["id"]);
    let stream = tokio::spawn(async move { call(addr, "GET", &path, None, None).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stream.is_finished(), "the stream waits for the build");
    stop.send(()).unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), stream)
        .await
        .expect("a stopping server ends live streams")
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("event: shutdown"), "{body}");
}
