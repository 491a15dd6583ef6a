//! The runner through the scheduler and real plugins: `try`, `attempts`, hooks, step
//! `timeout`, `in_parallel` with `fail_fast`, and secret redaction of stored logs.

use std::path::Path;

use lockgate::config::Vars;
use lockgate::runner::Runner;
use lockgate::scheduler::Scheduler;
use lockgate::store::{BuildStatus, Page, StepStatus, Store};
use lockgate_test_artifacts as artifacts;

const HEADER: &str = r#"
environments: [development]
resource_types:
  counter: ((counter_wasm))
  hostile: ((hostile_wasm))
test_types:
  assert-file: ((assert_file_wasm))
resources:
  - name: release
    type: counter
    source: { path: /dirs/state/release }
    grants: { dirs: { state: ./upstream } }
  - name: slow
    type: hostile
    check_every: never
    source: { attack: sleep, ms: 0 }
    grants: { dirs: { record: { path: ./record, writable: true } } }
"#;

/// Runs `jobs` (YAML of the `jobs:` list) until idle in a fresh directory; returns the store.
async fn run_jobs(dir: &Path, jobs: &str, secrets: &[(&str, &str)]) -> Store {
    for d in ["upstream", "record"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("upstream/release"), "7").unwrap();
    let file = dir.join("pipeline.yml");
    std::fs::write(&file, format!("{HEADER}\njobs:\n{jobs}")).unwrap();
    let mut vars = Vars::new();
    vars.set("counter_wasm", artifacts::COUNTER);
    vars.set("hostile_wasm", artifacts::HOSTILE);
    vars.set("assert_file_wasm", artifacts::ASSERT_FILE);
    for (k, v) in secrets {
        vars.set_secret(*k, *v);
    }
    let host = crate::common::host();
    let loaded = match lockgate::plan::load(&file, &vars, &host, None).await {
        Ok(l) => l,
        Err(report) => panic!("invalid test pipeline:\n{}", report.render_plain()),
    };
    let store = Store::open_sqlite(dir.join("state.db")).await.unwrap();
    let runner = Runner::new(store.clone(), loaded.plan.clone(), dir.join("work"));
    let scheduler = Scheduler::new(store.clone(), loaded.plan, runner, "test-node");
    scheduler.run_until_idle().await.unwrap();
    store
}

/// The only build of `job`.
async fn only_build(store: &Store, job: &str) -> lockgate::store::Build {
    let builds = store.builds(Some(job), Page::first(10)).await.unwrap();
    assert_eq!(builds.len(), 1, "{builds:?}");
    builds.into_iter().next().unwrap()
}

async fn log_text(store: &Store, build: i64) -> String {
    store
        .logs(build, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|l| format!("[{}] {}\n", l.stream, l.text))
        .collect()
}

/// A test step (flow mapping) that fails: the release is 7, not 8.
const FAILING_TEST: &str = "{ test: wrong-number, type: assert-file, config: { assertions: [ { file: release/number, equals: \"8\" } ] } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_swallows_a_failure_and_the_build_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = format!(
        "  - name: j
    environment: development
    plan:
      - get: release
        trigger: true
      - try: {FAILING_TEST}
"
    );
    let store = run_jobs(dir.path(), &jobs, &[]).await;
    let build = only_build(&store, "j").await;
    assert_eq!(build.status, BuildStatus::Succeeded);
    let steps = store.steps(build.id).await.unwrap();
    let test = steps.iter().find(|s| s.kind == "test").unwrap();
    assert_eq!(test.status, StepStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_retry_a_failing_step_and_hooks_run_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = "  - name: j
    environment: development
    plan:
      - get: release
        trigger: true
      - test: wrong-number
        attempts: 3
        type: assert-file
        config: { assertions: [ { file: release/number, equals: \"8\" } ] }
        on_failure:
          put: slow
          params: { attack: sleep, ms: 1, dir: /dirs/record, label: on-failure }
        on_success:
          put: slow
          params: { attack: sleep, ms: 1, dir: /dirs/record, label: on-success }
    ensure:
      put: slow
      params: { attack: sleep, ms: 1, dir: /dirs/record, label: ensure }
";
    let store = run_jobs(dir.path(), jobs, &[]).await;
    let build = only_build(&store, "j").await;
    assert_eq!(build.status, BuildStatus::Failed);
    let log = log_text(&store, build.id).await;
    // Retries name the step, and each attempt's last line says which it was and how long it took.
    assert!(
        log.contains("test `wrong-number`: attempt 1 of 3 did not pass; retrying"),
        "{log}"
    );
    assert!(log.contains("attempt 2 of 3"), "{log}");
    for n in 1..=3 {
        assert!(
            log.contains(&format!(
                "test `wrong-number` (attempt {n} of 3) failed in "
            )),
            "{log}"
        );
    }
    assert!(log.contains("get `release` succeeded in "), "{log}");
    let records: Vec<String> = std::fs::read_dir(dir.path().join("record"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        records.iter().any(|r| r.starts_with("on-failure-")),
        "{records:?}"
    );
    assert!(
        records.iter().any(|r| r.starts_with("ensure-")),
        "{records:?}"
    );
    assert!(
        !records.iter().any(|r| r.starts_with("on-success-")),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_timeout_stops_a_slow_plugin_and_errors_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = "  - name: j
    environment: development
    plan:
      - get: release
        trigger: true
      - put: slow
        timeout: 1s
        params: { attack: sleep, ms: 30000, dir: /dirs/record, label: slow }
";
    let started = std::time::Instant::now();
    let store = run_jobs(dir.path(), jobs, &[]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let build = only_build(&store, "j").await;
    assert_eq!(build.status, BuildStatus::Errored);
    let steps = store.steps(build.id).await.unwrap();
    let put = steps.iter().find(|s| s.kind == "put").unwrap();
    assert_eq!(put.status, StepStatus::Errored);
    assert!(
        put.error.as_deref().unwrap().contains("deadline"),
        "{:?}",
        put.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_parallel_runs_every_step_and_fails_when_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = format!(
        "  - name: j
    environment: development
    plan:
      - get: release
        trigger: true
      - in_parallel:
          steps:
            - test: right-number
              type: assert-file
              config: {{ assertions: [ {{ file: release/number, equals: \"7\" }} ] }}
            - {FAILING_TEST}
"
    );
    let store = run_jobs(dir.path(), &jobs, &[]).await;
    let build = only_build(&store, "j").await;
    assert_eq!(build.status, BuildStatus::Failed);
    let steps = store.steps(build.id).await.unwrap();
    let status = |name: &str| steps.iter().find(|s| s.name == name).map(|s| s.status);
    assert_eq!(status("right-number"), Some(StepStatus::Succeeded));
    assert_eq!(status("wrong-number"), Some(StepStatus::Failed));
    let reports = store.test_reports(build.id).await.unwrap();
    assert_eq!(reports.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_stored_log() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = "  - name: j
    environment: development
    plan:
      - get: release
        trigger: true
      - test: leak
        type: assert-file
        config: { assertions: [ { file: release/number, equals: ((api_token)) } ] }
";
    let store = run_jobs(dir.path(), jobs, &[("api_token", "s3cr3t-t0ken")]).await;
    let build = only_build(&store, "j").await;
    assert_eq!(
        build.status,
        BuildStatus::Failed,
        "the assertion compares with the secret and fails"
    );
    let log = log_text(&store, build.id).await;
    assert!(!log.contains("s3cr3t-t0ken"), "{log}");
    assert!(log.contains("((redacted))"), "{log}");
    let steps = store.steps(build.id).await.unwrap();
    assert!(
        steps
            .iter()
            .all(|s| !s.error.as_deref().unwrap_or("").contains("s3cr3t-t0ken"))
    );
}
