//! The HTTP API over real HTTP: health, and resource webhooks that run a check at once.

use lockgate::config::Vars;
use lockgate::runner::Runner;
use lockgate::scheduler::Scheduler;
use lockgate::store::Store;
use lockgate_test_artifacts as artifacts;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// One HTTP/1.1 request; returns (status, body).
async fn request(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
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

    assert_eq!(
        request(addr, "GET", "/healthz").await,
        (200, "ok\n".to_owned())
    );

    let (status, body) = request(
        addr,
        "POST",
        "/api/v1/resources/release/check?webhook_token=wrong",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("webhook_token"), "{body}");
    assert_eq!(
        store.latest_version("release").await.unwrap(),
        None,
        "a refused hook checks nothing"
    );

    let (status, body) = request(addr, "POST", "/api/v1/resources/release/check").await;
    assert_eq!(
        status, 401,
        "neither a webhook token nor a bearer token: {body}"
    );

    let (status, body) = request(
        addr,
        "POST",
        "/api/v1/resources/release/check?webhook_token=t0ken-of-the-hook",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["new_versions"], 1);
    let latest = store.latest_version("release").await.unwrap().unwrap();
    assert_eq!(latest.version.get("number"), Some("1"));

    std::fs::write(dir.path().join("upstream/release"), "3").unwrap();
    let (_, body) = request(
        addr,
        "POST",
        "/api/v1/resources/release/check?webhook_token=t0ken-of-the-hook",
    )
    .await;
    assert!(
        body.contains("\"new_versions\":2"),
        "versions 2 and 3 are new: {body}"
    );

    let (status, body) = request(
        addr,
        "POST",
        "/api/v1/resources/quiet/check?webhook_token=x",
    )
    .await;
    assert_eq!(status, 403, "no webhook_token configured: {body}");
    let (status, body) =
        request(addr, "POST", "/api/v1/resources/nope/check?webhook_token=x").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no resource `nope`"), "{body}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
