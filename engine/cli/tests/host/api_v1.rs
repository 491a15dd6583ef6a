//! The `/api/v1` HTTP API over real HTTP, with a running scheduler and real plugins, through
//! the typed client of `lockgate --server` (`lockgate::client`): reads, writes with and
//! without tokens of each role, trigger, approve, rollback, live logs (SSE), metrics, the
//! OpenAPI document, and JSON errors. Raw requests remain where a test needs malformed input
//! or raw headers.

use std::net::SocketAddr;
use std::time::Duration;

use lockgate::api::wire::{self, BuildStatus, Version};
use lockgate::api::{self, ApiConfig, Role, TokenEntry};
use lockgate::client::{Client, ClientError, LogEvent};
use lockgate::config::Vars;
use lockgate::runner::Runner;
use lockgate::scheduler::Scheduler;
use lockgate::store::Store;
use lockgate_test_artifacts as artifacts;
use serde_json::Value;
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

/// A client of the server at `addr` with `token`.
fn client(addr: SocketAddr, token: Option<&str>) -> Client {
    Client::new(&format!("http://{addr}"), token).unwrap()
}

/// One raw HTTP/1.1 request (for malformed input and raw headers); returns (status, raw
/// head, raw body).
async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
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
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

/// A raw request whose answer must be an API error: asserts its status and that its
/// `{"error"}` message contains `needle`.
async fn raw_error(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    status: u16,
    needle: &str,
) {
    let (got, _, text) = raw(addr, method, path, token, body).await;
    assert_eq!(got, status, "{method} {path}: {text}");
    let answer: wire::ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
    assert!(
        answer.error.contains(needle),
        "`{needle}` not in `{}`",
        answer.error
    );
}

/// The status and message of an error answer.
fn status_of(e: &ClientError) -> (u16, &str) {
    match e {
        ClientError::TokenNeeded { message, .. } | ClientError::TokenRejected { message, .. } => {
            (401, message)
        }
        ClientError::Forbidden { message } => (403, message),
        ClientError::Api { status, message } => (*status, message),
        other => panic!("not an API error: {other}"),
    }
}

/// Asserts that `result` is an API error with `status` whose message contains `needle`.
fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>, status: u16, needle: &str) {
    let e = result.expect_err("expected an error answer");
    let (got, message) = status_of(&e);
    assert_eq!(got, status, "{e}");
    assert!(message.contains(needle), "`{needle}` not in `{message}`");
}

/// Polls `f` until it returns `Some`, for up to 90 s.
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

/// Build `number` of `job` once it finished.
async fn finished_build(api: &Client, job: &str, number: i64) -> wire::Build {
    wait_for(&format!("{job} #{number} to finish"), || async move {
        let page = api.builds(Some(job), None, None).await.unwrap();
        page.builds
            .into_iter()
            .find(|b| b.number == number && b.finished)
    })
    .await
}

fn number(n: &str) -> Version {
    Version::new().with("number", n)
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
    let runner = Runner::new(store.clone(), loaded.plan.clone(), dir.join("work"));
    let scheduler = Scheduler::new(store, loaded.plan, runner, "api-v1-test");
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
    let anonymous = client(addr, None);
    let viewer = client(addr, Some(VIEWER));
    let operator = client(addr, Some(OPERATOR));
    let approver = client(addr, Some(APPROVER));

    // The graph a UI draws.
    let graph = anonymous.pipeline().await.unwrap();
    assert_eq!(graph.environments[1].name, "production");
    assert_eq!(graph.environments[1].approval, wire::Approval::Required);
    assert_eq!(graph.resources[0].type_name, "counter");
    assert_eq!(graph.jobs[1].environment, "production");
    assert_eq!(graph.jobs[1].inputs[0].passed, ["deploy-dev"]);
    assert!(
        graph.edges.contains(&wire::GraphEdge {
            from: "deploy-dev".into(),
            to: "deploy-prod".into(),
            resource: "release".into()
        }),
        "{graph:?}"
    );

    // Writes: 401 without a token (or with an unknown one), 403 below operator.
    refused(anonymous.check("release").await, 401, "bearer token");
    refused(
        client(addr, Some("made-up-token")).check("release").await,
        401,
        "unknown bearer token",
    );
    refused(viewer.check("release").await, 403, "role `viewer`");
    assert!(
        s.scheduler
            .store()
            .latest_version("release")
            .await
            .unwrap()
            .is_none()
    );
    let checked = operator.check("release").await.unwrap();
    assert_eq!(checked.new_versions, 1);
    let resources = anonymous.resources().await.unwrap();
    assert_eq!(resources[0].latest.as_ref().unwrap().version, number("1"));

    // Trigger -> a build appears; follow its logs live before any node runs it.
    let build = operator.trigger("deploy-dev").await.unwrap();
    assert_eq!(build.status, BuildStatus::Pending);
    let (status, _, _) = raw(
        addr,
        "POST",
        "/api/v1/jobs/deploy-dev/trigger",
        Some(OPERATOR),
        None,
    )
    .await;
    assert_eq!(status, 201, "a trigger answers 201 Created");
    let id = build.id;
    let builds = anonymous
        .builds(Some("deploy-dev"), None, None)
        .await
        .unwrap();
    assert_eq!(builds.job.as_deref(), Some("deploy-dev"));
    assert_eq!(builds.builds.last().unwrap().id, id);
    let follower = client(addr, None);
    let sse = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(90), async move {
            let mut stream = follower.log_stream(id, 0).await.unwrap();
            let mut events = Vec::new();
            while let Some(e) = stream.next().await.unwrap() {
                events.push(e);
            }
            events
        })
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

    let events = sse.await.unwrap();
    let Some((LogEvent::End(end), lines)) = events.split_last() else {
        panic!("the stream ends with an end event: {events:?}");
    };
    assert_eq!(*end, BuildStatus::Succeeded, "{events:?}");
    assert!(!lines.is_empty(), "{events:?}");
    for (i, e) in lines.iter().enumerate() {
        let LogEvent::Line(l) = e else {
            panic!("only lines before the end: {events:?}")
        };
        assert_eq!(l.seq, i as i64 + 1, "every line once, in order: {events:?}");
    }

    let dev = finished_build(&anonymous, "deploy-dev", 1).await;
    assert_eq!(dev.status, BuildStatus::Succeeded, "{dev:?}");

    // One build, read every way.
    let detail = anonymous.build(id).await.unwrap();
    assert_eq!(detail.build, dev);
    assert_eq!(detail.inputs[0].resource, "release");
    assert_eq!(detail.outputs[0].resource, "dev-env");
    let steps = anonymous.steps(id).await.unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s.kind.as_str()).collect();
    assert!(
        kinds.contains(&"test") && kinds.contains(&"put"),
        "{steps:?}"
    );
    let reports = anonymous.reports(id).await.unwrap();
    assert!(reports[0].passed, "{reports:?}");
    assert_eq!(reports[0].report.suites[0].name, "smoke", "{reports:?}");
    let first = anonymous.logs(id, 0, Some(1)).await.unwrap();
    assert_eq!(first.lines.len(), 1, "{first:?}");
    assert_eq!(first.lines[0].seq, 1);
    assert_eq!(first.next_after, 1);
    assert!(first.finished && first.more);
    let rest = anonymous.logs(id, 1, None).await.unwrap();
    assert!(rest.lines.iter().all(|l| l.seq > 1));
    assert_eq!(
        rest.lines.len(),
        lines.len() - 1,
        "the stream sent every line"
    );
    let by_number = anonymous.build_by_number("deploy-dev", 1).await.unwrap();
    assert_eq!(by_number, dev);

    // Production waits for an approval.
    let prod = wait_for("production to wait for approval", || async {
        let why = anonymous.why("production").await.unwrap();
        why.next.is_some().then_some(why)
    })
    .await;
    assert!(prod.blockers[0].contains("approval"), "{prod:?}");
    let candidate = prod.next.as_ref().unwrap().id;
    let envs = anonymous.environments().await.unwrap();
    assert_eq!(envs[0].environment, "development");
    assert_eq!(envs[0].current.as_ref().unwrap().id, candidate, "{envs:?}");
    assert!(envs[1].current.is_none(), "{envs:?}");
    refused(operator.trigger("deploy-prod").await, 409, "approval");
    let jobs = anonymous.jobs().await.unwrap();
    let blocked = jobs[1].blocked.as_ref().expect("deploy-prod is blocked");
    assert_eq!(
        blocked.detail,
        wire::Blocker::Approval {
            environment: "production".into(),
            candidate
        },
        "{jobs:?}"
    );

    // Approving needs the approver role; the token's name is recorded.
    let ship_it = wire::ApproveBody {
        candidate: None,
        comment: Some("ship it".into()),
    };
    refused(
        anonymous.approve("production", &ship_it).await,
        401,
        "approver",
    );
    refused(
        operator.approve("production", &ship_it).await,
        403,
        "role `operator`",
    );
    let unknown = wire::ApproveBody {
        candidate: Some(9999),
        comment: None,
    };
    refused(
        approver.approve("production", &unknown).await,
        404,
        "candidate",
    );
    refused(
        approver.approve("prod", &ship_it).await,
        404,
        "no environment `prod` in the pipeline (it has `development` and `production`); did you mean `production`?",
    );
    let approved = approver.approve("production", &ship_it).await.unwrap();
    assert_eq!(approved.approved_by, "alice");
    assert_eq!(approved.candidate.id, candidate);
    assert!(approved.first_approval);
    let approval = s
        .scheduler
        .store()
        .approval("production", candidate)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approval.approver, "alice");
    assert_eq!(approval.comment.as_deref(), Some("ship it"));

    let prod_build = finished_build(&anonymous, "deploy-prod", 1).await;
    assert_eq!(prod_build.status, BuildStatus::Succeeded, "{prod_build:?}");
    let envs = wait_for("production to run the candidate", || async {
        let envs = anonymous.environments().await.unwrap();
        (envs[1].current.as_ref().map(|c| c.id) == Some(candidate)).then_some(envs)
    })
    .await;
    assert!(envs[1].blockers.is_empty(), "{envs:?}");

    // Nothing to roll back to yet: 409; approver only.
    refused(operator.rollback("production").await, 403, "approver");
    refused(approver.rollback("production").await, 409, "no earlier");

    // A second release through the webhook, approved by id, then rolled back.
    std::fs::write(s.dir.join("upstream/release"), "2").unwrap();
    let hooked = anonymous
        .webhook("release", "t0ken-of-the-hook")
        .await
        .unwrap();
    assert_eq!(hooked.new_versions, 1);
    finished_build(&anonymous, "deploy-dev", 2).await;
    let second = wait_for("the second candidate to wait", || async {
        let why = anonymous.why("production").await.unwrap();
        why.next.map(|c| c.id).filter(|id| *id != candidate)
    })
    .await;
    let by_id = wire::ApproveBody {
        candidate: Some(second),
        comment: None,
    };
    approver.approve("production", &by_id).await.unwrap();
    finished_build(&anonymous, "deploy-prod", 2).await;
    wait_for("production to run the second candidate", || async {
        let why = anonymous.why("production").await.unwrap();
        (why.current.map(|c| c.id) == Some(second)).then_some(())
    })
    .await;
    let rolled = approver.rollback("production").await.unwrap();
    assert_eq!(rolled.candidate.id, candidate, "{rolled:?}");
    assert_eq!(rolled.by, "alice");
    assert_eq!(rolled.builds[0].job, "deploy-prod");
    let rolled = finished_build(&anonymous, "deploy-prod", 3).await;
    assert_eq!(rolled.status, BuildStatus::Succeeded, "{rolled:?}");

    // Nodes and metrics after this activity.
    let nodes = anonymous.nodes().await.unwrap();
    assert_eq!(nodes.scheduler.as_deref(), Some("api-v1-test"), "{nodes:?}");
    assert_eq!(nodes.lease.as_ref().unwrap().holder, "api-v1-test");
    assert_eq!(nodes.nodes[0].name, "api-v1-test", "{nodes:?}");
    let metrics = anonymous.metrics().await.unwrap();
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
    // The same document at the path Prometheus scrapes by default (outside /api/v1).
    let (status, _, root) = raw(addr, "GET", "/metrics", None, None).await;
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
    let api = client(addr, None);
    let op = client(addr, Some(OPERATOR));
    refused(
        op.trigger("nope").await,
        404,
        "no job `nope` in the pipeline",
    );
    refused(
        op.trigger("deploy-devv").await,
        404,
        "no job `deploy-devv` in the pipeline; did you mean `deploy-dev`?",
    );
    refused(op.trigger("deploy-dev").await, 409, "no versions");
    refused(
        api.builds(Some("nope"), None, None).await,
        404,
        "no job `nope`",
    );
    refused(
        api.versions("releese", None, None).await,
        404,
        "no resource `releese` in the pipeline; did you mean `release`?",
    );
    refused(
        op.pin("nope", &number("1")).await,
        404,
        "no resource `nope`",
    );
    refused(op.unpin("nope").await, 404, "no resource `nope`");
    refused(api.why("qa").await, 404, "no environment `qa`");
    refused(api.steps(4242).await, 404, "unknown build 4242");
    refused(
        api.log_stream(4242, 0).await.map(|_| ()),
        404,
        "unknown build 4242",
    );
    refused(
        api.builds(Some("deploy-dev"), Some(0), None).await,
        400,
        "`limit`",
    );
    refused(
        op.pin("release", &number("7")).await,
        404,
        "resource `release` has no version {number: 7}",
    );
    refused(
        client(addr, Some(APPROVER))
            .approve("production", &wire::ApproveBody::default())
            .await,
        409,
        "no candidate waits for approval",
    );

    // Malformed requests the typed client cannot send.
    raw_error(
        addr,
        "GET",
        "/api/v1/builds/abc",
        None,
        None,
        400,
        "`abc` is not a build id",
    )
    .await;
    raw_error(
        addr,
        "GET",
        "/api/v1/jobs/deploy-dev/builds?limit=x",
        None,
        None,
        400,
        "invalid query",
    )
    .await;
    raw_error(
        addr,
        "GET",
        "/api/v1/nothing-here",
        None,
        None,
        404,
        "no such API route",
    )
    .await;
    let pin = "/api/v1/resources/release/pin";
    let opt = Some(OPERATOR);
    raw_error(
        addr,
        "POST",
        pin,
        opt,
        Some("{not json"),
        400,
        "invalid JSON body",
    )
    .await;
    raw_error(
        addr,
        "POST",
        pin,
        opt,
        Some(r#"{"version": {"number": 3}}"#),
        400,
        "JSON object of strings",
    )
    .await;
    raw_error(addr, "POST", pin, opt, None, 400, "version is empty").await;
    raw_error(
        addr,
        "POST",
        "/api/v1/environments/production/approve",
        Some(APPROVER),
        Some(r#"{"candidat": 1}"#),
        400,
        "unknown field `candidat`",
    )
    .await;
    // A 401 says how to authenticate.
    let (status, head, _) = raw(addr, "POST", pin, None, Some("{}")).await;
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer realm=\"lockgate\""),
        "{head}"
    );

    // Webhooks: a wrong token, or a resource without one, is refused before any check.
    refused(api.webhook("release", "wrong").await, 403, "webhook_token");
    refused(api.webhook("dev-env", "x").await, 403, "no `webhook_token`");
    refused(api.webhook("nope", "x").await, 404, "no resource `nope`");
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
    let api = client(addr, None);
    let viewer = client(addr, Some(VIEWER));
    let op = client(addr, Some(OPERATOR));
    op.check("release").await.unwrap();
    std::fs::write(s.dir.join("upstream/release"), "3").unwrap();
    assert_eq!(op.check("release").await.unwrap().new_versions, 2);

    let page = api.versions("release", Some(2), None).await.unwrap();
    let numbers: Vec<&str> = page
        .versions
        .iter()
        .map(|v| v.version.get("number").unwrap())
        .collect();
    assert_eq!(numbers, ["3", "2"], "{page:?}");
    let next = page.next_before.expect("a next page");
    let page = api.versions("release", Some(2), Some(next)).await.unwrap();
    assert_eq!(page.versions[0].version, number("1"), "{page:?}");
    assert!(page.next_before.is_none(), "{page:?}");

    refused(api.pin("release", &number("2")).await, 401, "operator");
    refused(viewer.pin("release", &number("2")).await, 403, "operator");
    let pinned = op.pin("release", &number("2")).await.unwrap();
    assert_eq!(pinned.resource, "release");
    assert_eq!(pinned.pinned.unwrap().version, number("2"));
    let resources = api.resources().await.unwrap();
    assert_eq!(
        resources[0].pinned.as_ref().unwrap().version,
        number("2"),
        "{resources:?}"
    );
    // The version map alone is accepted too.
    let (status, _, body) = raw(
        addr,
        "POST",
        "/api/v1/resources/release/pin",
        Some(OPERATOR),
        Some(r#"{"number": "1"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let unpinned = op.unpin("release").await.unwrap();
    assert!(unpinned.pinned.is_none());
    assert!(api.resources().await.unwrap()[0].pinned.is_none());

    refused(
        viewer.set_disabled("release", &number("3"), true).await,
        403,
        "operator",
    );
    let disabled = op
        .set_disabled("release", &number("3"), true)
        .await
        .unwrap();
    assert!(disabled.disabled, "{disabled:?}");
    assert_eq!(disabled.version, number("3"));
    let page = api.versions("release", None, None).await.unwrap();
    assert!(page.versions[0].disabled, "{page:?}");
    assert!(!page.versions[1].disabled, "{page:?}");
    // A build triggered now gets the newest version that is not disabled.
    let build = op.trigger("deploy-dev").await.unwrap();
    let detail = api.build(build.id).await.unwrap();
    assert_eq!(detail.inputs[0].version, number("2"), "{detail:?}");
    let enabled = op
        .set_disabled("release", &number("3"), false)
        .await
        .unwrap();
    assert!(!enabled.disabled);
    assert!(!api.versions("release", None, None).await.unwrap().versions[0].disabled);
    refused(
        op.set_disabled("release", &number("99"), true).await,
        404,
        "resource `release` has no version {number: 99} (its newest is {number: 3})",
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_reads_need_a_token_of_any_role() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(true)).await;
    refused(client(addr, None).jobs().await, 401, "reading");
    refused(client(addr, Some("nope-nope")).jobs().await, 401, "unknown");
    for token in [VIEWER, OPERATOR, APPROVER] {
        let jobs = client(addr, Some(token)).jobs().await.unwrap();
        assert_eq!(jobs[0].name, "deploy-dev");
        assert_eq!(jobs[0].environment, "development");
    }
    // Health stays open for probes.
    assert_eq!(client(addr, None).health().await.unwrap(), "ok\n");
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, ApiConfig::open()).await;
    let doc = client(addr, None).openapi().await.unwrap();
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
    refused(
        client(addr, Some(OPERATOR)).trigger("deploy-dev").await,
        401,
        "unknown bearer token",
    );
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_the_server_stops() {
    let s = setup().await;
    let (addr, stop) = serve(&s.scheduler, tokens(false)).await;
    let op = client(addr, Some(OPERATOR));
    op.check("release").await.unwrap();
    let build = op.trigger("deploy-dev").await.unwrap();
    // No node runs it: the stream waits until the server stops.
    let mut live = client(addr, None).log_stream(build.id, 0).await.unwrap();
    let stream = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = live.next().await.unwrap() {
            events.push(e);
        }
        events
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stream.is_finished(), "the stream waits for the build");
    stop.send(()).unwrap();
    let events = tokio::time::timeout(Duration::from_secs(10), stream)
        .await
        .expect("a stopping server ends live streams")
        .unwrap();
    assert_eq!(events, [LogEvent::Shutdown]);
}
