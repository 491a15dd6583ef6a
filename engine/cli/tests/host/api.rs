//! The HTTP API over real HTTP, through the typed client of `lockgate --server`: health, and
//! resource webhooks that run a check at once.

use lockgate::client::{Client, ClientError};
use lockgate::config::Vars;
use lockgate::runner::Runner;
use lockgate::scheduler::Scheduler;
use lockgate::store::Store;
use lockgate_test_artifacts as artifacts;

const PIPELINE: &str = r#"
environments: [development]
resource_types:
  counter: ((counter_wasm))
resources:
  - name: release
    type: counter
    source: { path: /dirs/state/release }
    check_every: never
    webhook_token: ((hook_token))
    grants: { dirs: { state: ./upstream } }
  - name: quiet
    type: counter
    source: { path: /dirs/state/other }
    grants: { dirs: { state: ./upstream } }
jobs:
  - name: deploy
    environment: development
    plan:
      - get: release
        trigger: true
      - get: quiet
"#;

/// The status and message of an error answer.
fn refusal<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r.expect_err("expected an error answer") {
        ClientError::TokenNeeded { message, .. } | ClientError::TokenRejected { message, .. } => {
            (401, message)
        }
        ClientError::Forbidden { message } => (403, message),
        ClientError::Api { status, message } => (status, message),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_check_at_once_with_the_right_token_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("upstream")).unwrap();
    std::fs::write(dir.path().join("upstream/release"), "1").unwrap();
    std::fs::write(dir.path().join("upstream/other"), "1").unwrap();
    let file = dir.path().join("pipeline.yml");
    std::fs::write(&file, PIPELINE).unwrap();
    let mut vars = Vars::new();
    vars.set("counter_wasm", artifacts::COUNTER);
    vars.set_secret("hook_token", "t0ken-of-the-hook");
    let host = crate::common::host();
    let loaded = lockgate::plan::load(&file, &vars, &host, None)
        .await
        .unwrap_or_else(|r| panic!("{}", r.render_plain()));
    let store = Store::open_sqlite(dir.path().join("state.db"))
        .await
        .unwrap();
    let runner = Runner::new(store.clone(), loaded.plan.clone(), dir.path().join("work"));
    let scheduler = Scheduler::new(store.clone(), loaded.plan, runner, "api-test");
    scheduler.prepare().await.unwrap();

    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lockgate::api::serve(
        scheduler.clone(),
        "127.0.0.1:0".parse().unwrap(),
        bound_tx,
        async {
            let _ = stopped.await;
        },
    ));
    let addr = bound_rx.await.unwrap();
    let api = Client::new(&format!("http://{addr}"), None).unwrap();

    assert_eq!(api.health().await.unwrap(), "ok\n");

    let (status, message) = refusal(api.webhook("release", "wrong").await);
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("webhook_token"), "{message}");
    assert_eq!(
        store.latest_version("release").await.unwrap(),
        None,
        "a refused hook checks nothing"
    );

    let (status, message) = refusal(api.check("release").await);
    assert_eq!(
        status, 401,
        "neither a webhook token nor a bearer token: {message}"
    );

    let answer = api.webhook("release", "t0ken-of-the-hook").await.unwrap();
    assert_eq!(answer.resource, "release");
    assert_eq!(answer.new_versions, 1);
    let latest = store.latest_version("release").await.unwrap().unwrap();
    assert_eq!(latest.version.get("number"), Some("1"));

    std::fs::write(dir.path().join("upstream/release"), "3").unwrap();
    let answer = api.webhook("release", "t0ken-of-the-hook").await.unwrap();
    assert_eq!(answer.new_versions, 2, "versions 2 and 3 are new");

    let (status, message) = refusal(api.webhook("quiet", "x").await);
    assert_eq!(status, 403, "no webhook_token configured: {message}");
    let (status, message) = refusal(api.webhook("nope", "x").await);
    assert_eq!(status, 404, "{message}");
    assert!(message.contains("no resource `nope`"), "{message}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
