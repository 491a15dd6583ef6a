//! The state store (`lockgate_store`): every test body runs on SQLite (a temporary file) and,
//! when `LOCKGATE_TEST_DATABASE_URL` names a PostgreSQL database, on PostgreSQL too, each run in
//! its own schema (created for the test, dropped after it, even when it fails).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lockgate_model::{
    CaseStatus, Fetched, TestCase, TestReport, TestSuite, Version, VersionPolicy,
};
use lockgate_store::{
    Backend, BuildStatus, CandidateEvent, Claim, ClaimLimits, GateRule, InputSpec, JobConfig,
    NewCandidateEvent, NewLogLine, Page, Produced, PromotionRules, ResolvedInput, ResourceConfig,
    StepStatus, Store, StoreError, StoreOptions,
};
use serde_json::json;

/// Where PostgreSQL tests connect; unset means they are skipped, except in CI (`CI` set),
/// where that is a failure.
const PG_ENV: &str = "LOCKGATE_TEST_DATABASE_URL";

/// A store under test and what it takes to reopen it.
struct Db {
    store: Store,
    place: Place,
}

enum Place {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres(PgSchema),
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/lockgate.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        Db {
            store,
            place: Place::Sqlite { path, _dir: dir },
        }
    }

    async fn postgres(url: &str, test: &str) -> Db {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let short: String = test.chars().take(30).collect();
        let schema = format!(
            "lg_{short}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000
        );
        let guard = PgSchema {
            url: url.to_string(),
            schema: schema.clone(),
        };
        let store = Store::connect_with(url, pg_options(&schema)).await.unwrap();
        Db {
            store,
            place: Place::Postgres(guard),
        }
    }

    /// Simulates a restart: closes the store and opens the same database again.
    async fn reopen(&mut self) {
        self.store.close().await;
        self.store = match &self.place {
            Place::Sqlite { path, .. } => Store::open_sqlite(path).await.unwrap(),
            Place::Postgres(pg) => Store::connect_with(&pg.url, pg_options(&pg.schema))
                .await
                .unwrap(),
        };
    }
}

fn pg_options(schema: &str) -> StoreOptions {
    StoreOptions {
        max_connections: Some(4),
        pg_schema: Some(schema.to_string()),
        ..StoreOptions::default()
    }
}

/// Drops the test's PostgreSQL schema when the test ends, passed or failed.
struct PgSchema {
    url: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::{Connection, Executor};
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&url).await?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop PostgreSQL schema {}: {dropped:?}",
                self.schema
            );
        }
    }
}

/// Runs `body` on SQLite, then on PostgreSQL when configured (saying so when not).
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let mut db = Db::sqlite().await;
            assert_eq!(db.store.backend(), Backend::Sqlite);
            $body(&mut db).await;
            db.store.close().await;
            match std::env::var(PG_ENV) {
                Ok(url) if !url.is_empty() => {
                    let mut db = Db::postgres(&url, stringify!($name)).await;
                    assert_eq!(db.store.backend(), Backend::Postgres);
                    $body(&mut db).await;
                    db.store.close().await;
                }
                _ if std::env::var_os("CI").is_some() => panic!(
                    "{PG_ENV} is not set, and in CI the PostgreSQL run of `{}` may not be \
                     skipped (e.g. {PG_ENV}=postgres://postgres@127.0.0.1:5432/test)",
                    stringify!($name)
                ),
                _ => eprintln!(
                    "SKIPPED the PostgreSQL run of `{}`: {PG_ENV} is not set \
                     (e.g. {PG_ENV}=postgres://postgres@127.0.0.1:5432/test); SQLite run passed",
                    stringify!($name)
                ),
            }
        }
    )+};
}

on_both_backends! {
    versions_are_saved_once_in_check_order => versions_are_saved_once_in_check_order_body;
    a_changed_source_starts_a_new_history => a_changed_source_starts_a_new_history_body;
    pinning_and_disabling_steer_resolution => pinning_and_disabling_steer_resolution_body;
    resolution_without_passed_latest_and_every => resolution_without_passed_body;
    resolution_through_one_upstream_job => resolution_through_one_upstream_job_body;
    resolution_through_two_upstream_jobs => resolution_through_two_upstream_jobs_body;
    inputs_sharing_an_upstream_job_come_from_one_build => shared_upstream_job_body;
    resolution_every_with_passed_and_disabled_versions => every_with_passed_body;
    resolution_pages_through_long_histories => long_history_body;
    concurrent_builds_of_a_job_get_distinct_numbers => concurrent_build_numbers_body;
    build_lifecycle_rejects_invalid_transitions => build_lifecycle_body;
    interrupted_builds_are_requeued_exactly_once => interrupted_recovery_body;
    candidate_events_are_recorded_exactly_once_under_races => candidate_events_body;
    logs_page_from_a_sequence_number => logs_paging_body;
    log_retention_keeps_the_newest_builds_per_job => log_pruning_body;
    steps_and_test_reports_round_trip => steps_and_reports_body;
    reopening_keeps_everything => reopen_body;
    one_node_holds_the_scheduler_lease_until_it_expires => lease_body;
    nodes_report_role_capacity_and_heartbeat => nodes_body;
    claims_respect_max_in_flight_and_serial_groups_across_nodes => claims_body;
    gate_jobs_finishing_at_once_qualify_the_candidate_exactly_once => concurrent_qualification_body;
    a_late_deployment_never_moves_the_environment_back => late_deployment_body;
    a_node_whose_claim_was_taken_over_records_nothing => claim_lost_body;
}

/// Development with a deploy job (gets `app`, puts `env`) and `tests` test jobs (get `env`):
/// the rules of the deploy job (`deploys`) or of a test job.
fn rules(deploys: bool, tests: usize) -> PromotionRules {
    let deploy = GateRule {
        job: "deploy".into(),
        promoted: vec!["app".into()],
        produced: vec![],
    };
    let mut gates = vec![deploy.clone()];
    for i in 0..tests {
        gates.push(GateRule {
            job: format!("test{i}"),
            promoted: vec![],
            produced: vec![Produced {
                resource: "env".into(),
                by: vec![deploy.clone()],
            }],
        });
    }
    PromotionRules {
        environment: "development".into(),
        resources: vec!["app".into()],
        sets_state: if deploys { vec!["app".into()] } else { vec![] },
        deploys,
        gates,
    }
}

/// Claims build `id` of `job` for `node` through the promotion transaction.
async fn claim(store: &Store, id: i64, job: &str, node: &str, r: &PromotionRules) {
    let claim = store
        .claim_build_promoting(id, job, node, &ClaimLimits::default(), r)
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Started(_)), "{job}: {claim:?}");
}

async fn promotion_pipeline(store: &Store, tests: usize) -> Vec<ResolvedInput> {
    let mut jobs = vec!["deploy".to_string()];
    jobs.extend((0..tests).map(|i| format!("test{i}")));
    let jobs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    pipeline(store, &["app", "env"], &jobs).await;
    save(store, "app", &["a1"]).await;
    let app = store.find_version("app", &v("a1")).await.unwrap().unwrap();
    vec![ResolvedInput {
        name: "app".into(),
        resource: "app".into(),
        version_id: app.id,
        version: app.version,
    }]
}

async fn concurrent_qualification_body(db: &mut Db) {
    // As many as the pool has connections (4): all of them in their transactions at once.
    const TESTS: usize = 4;
    let s = &db.store;
    let inputs = promotion_pipeline(s, TESTS).await;
    let deploy = s.create_build("deploy", "test", &inputs).await.unwrap();
    let r = rules(true, TESTS);
    claim(s, deploy.id, "deploy", "n", &r).await;
    s.save_output(deploy.id, "env", &fetched("e1"))
        .await
        .unwrap();
    s.finish_build_promoting(deploy.id, BuildStatus::Succeeded, Some("n"), &r)
        .await
        .unwrap();
    let env = s.find_version("env", &v("e1")).await.unwrap().unwrap();
    let env_input = ResolvedInput {
        name: "env".into(),
        resource: "env".into(),
        version_id: env.id,
        version: env.version,
    };
    // Every test job finishes at the same moment, each on a node of its own: whichever commits
    // last sees the others (the environment lock), so the candidate is qualified, once.
    let mut builds = Vec::new();
    for i in 0..TESTS {
        let job = format!("test{i}");
        let b = s
            .create_build(&job, "test", std::slice::from_ref(&env_input))
            .await
            .unwrap();
        let r = rules(false, TESTS);
        claim(s, b.id, &job, &format!("n{i}"), &r).await;
        builds.push((b.id, r, format!("n{i}")));
    }
    let start = Arc::new(tokio::sync::Barrier::new(TESTS));
    let mut tasks = Vec::new();
    for (id, r, node) in builds {
        let (s, start) = (s.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            s.finish_build_promoting(id, BuildStatus::Succeeded, Some(&node), &r)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let history = s
        .environment_history("development", Page::first(100))
        .await
        .unwrap();
    let qualified: Vec<_> = history
        .iter()
        .filter(|e| e.event == CandidateEvent::Qualified)
        .collect();
    assert_eq!(qualified.len(), 1, "{history:?}");
    let envs = vec!["development".to_string()];
    assert_eq!(
        s.audit_promotion(&envs).await.unwrap(),
        Vec::<String>::new()
    );
}

async fn late_deployment_body(db: &mut Db) {
    let s = &db.store;
    promotion_pipeline(s, 0).await;
    save(s, "app", &["a2"]).await;
    let input = |r: &str| {
        let s = s.clone();
        let r = r.to_string();
        async move {
            let stored = s.find_version("app", &v(&r)).await.unwrap().unwrap();
            vec![ResolvedInput {
                name: "app".into(),
                resource: "app".into(),
                version_id: stored.id,
                version: stored.version,
            }]
        }
    };
    let r = rules(true, 0);
    // Build #1 (a1) starts, its node dies; it is re-queued (keeping its order) while #2 (a2)
    // was created meanwhile and succeeds first.
    let first = s
        .create_build("deploy", "test", &input("a1").await)
        .await
        .unwrap();
    let second = s
        .create_build("deploy", "test", &input("a2").await)
        .await
        .unwrap();
    claim(s, first.id, "deploy", "dead", &r).await;
    let requeued = s.recover_claimed_by("dead").await.unwrap();
    let requeued = requeued[0].requeued.clone();
    assert_eq!(
        requeued.order, first.id,
        "a re-queued build keeps its order"
    );
    claim(s, second.id, "deploy", "n", &r).await;
    s.save_output(second.id, "env", &fetched("e2"))
        .await
        .unwrap();
    s.finish_build_promoting(second.id, BuildStatus::Succeeded, Some("n"), &r)
        .await
        .unwrap();
    let (runs, _) = s.current_candidate("development").await.unwrap().unwrap();
    // The late build is aborted when claimed: it would deploy a1 over a2.
    let claim = s
        .claim_build_promoting(requeued.id, "deploy", "n", &ClaimLimits::default(), &r)
        .await
        .unwrap();
    assert_eq!(claim, Claim::Superseded);
    assert_eq!(
        s.build(requeued.id).await.unwrap().status,
        BuildStatus::Aborted
    );
    let (still, _) = s.current_candidate("development").await.unwrap().unwrap();
    assert_eq!(still.id, runs.id);
    assert_eq!(still.versions[0].version, v("a2"));
}

async fn claim_lost_body(db: &mut Db) {
    let s = &db.store;
    let inputs = promotion_pipeline(s, 0).await;
    let r = rules(true, 0);
    let b = s.create_build("deploy", "test", &inputs).await.unwrap();
    claim(s, b.id, "deploy", "old", &r).await;
    // Another node declares `old` gone and re-queues the build.
    s.recover_claimed_by("old").await.unwrap();
    let err = s
        .begin_step(b.id, "plan.0", "get", "app")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("begin step refused"), "{err}");
    let err = s
        .finish_build_promoting(b.id, BuildStatus::Succeeded, Some("old"), &r)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert!(s.current_candidate("development").await.unwrap().is_none());
}

async fn lease_body(db: &mut Db) {
    let s = &db.store;
    assert_eq!(s.lease("scheduler").await.unwrap(), None);
    assert!(s.try_lease("scheduler", "a:1", 60_000).await.unwrap());
    let first = s.lease("scheduler").await.unwrap().unwrap();
    assert_eq!(first.holder, "a:1");
    // Another node is refused while the lease is valid; the holder renews it.
    assert!(!s.try_lease("scheduler", "b:2", 60_000).await.unwrap());
    assert!(s.try_lease("scheduler", "a:1", 60_000).await.unwrap());
    let renewed = s.lease("scheduler").await.unwrap().unwrap();
    assert_eq!(
        renewed.acquired_at, first.acquired_at,
        "renewal keeps acquired_at"
    );
    assert!(renewed.expires_at >= first.expires_at);
    // Expired: the first node to ask takes it over, exactly one of many.
    assert!(s.try_lease("scheduler", "a:1", -1).await.unwrap());
    assert_eq!(
        s.lease("scheduler").await.unwrap(),
        None,
        "expired leases are not held"
    );
    let mut tasks = Vec::new();
    for n in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.try_lease("scheduler", &format!("n:{n}"), 60_000)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one node takes an expired lease over");
    let holder = s.lease("scheduler").await.unwrap().unwrap().holder;
    // Releasing by a non-holder does nothing; by the holder frees it at once.
    s.release_lease("scheduler", "a:1").await.unwrap();
    assert_eq!(s.lease("scheduler").await.unwrap().unwrap().holder, holder);
    s.release_lease("scheduler", &holder).await.unwrap();
    assert!(s.try_lease("scheduler", "b:2", 60_000).await.unwrap());
    // Leases are independent by name.
    assert!(s.try_lease("other", "a:1", 60_000).await.unwrap());
}

async fn nodes_body(db: &mut Db) {
    let s = &db.store;
    s.node_heartbeat("b:2", "worker", 4, 0).await.unwrap();
    s.node_heartbeat("a:1", "standby", 2, 0).await.unwrap();
    let first = s.nodes().await.unwrap();
    s.node_heartbeat("a:1", "scheduler", 2, 1).await.unwrap();
    let nodes = s.nodes().await.unwrap();
    assert_eq!(
        nodes
            .iter()
            .map(|n| (n.name.as_str(), n.role.as_str(), n.capacity, n.running))
            .collect::<Vec<_>>(),
        [("a:1", "scheduler", 2, 1), ("b:2", "worker", 4, 0)]
    );
    assert_eq!(
        nodes[0].started_at, first[0].started_at,
        "a heartbeat keeps started_at"
    );
    assert!(nodes[0].heartbeat_at >= first[0].heartbeat_at);
    s.remove_node("b:2").await.unwrap();
    assert_eq!(s.nodes().await.unwrap().len(), 1);
}

async fn claims_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["deploy", "migrate", "smoke"]).await;
    save(s, "repo", &["a"]).await;
    let inputs = s
        .resolve_inputs("deploy", &[input("repo", &[])])
        .await
        .unwrap()
        .unwrap();
    let create = |job: &'static str| {
        let (s, inputs) = (s.clone(), inputs.clone());
        async move { s.create_build(job, "test", &inputs).await.unwrap().id }
    };
    let serial = ClaimLimits {
        max_in_flight: Some(1),
        exclusive_with: vec![],
    };
    // Many nodes race for four pending builds of a serial job: exactly one starts.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(create("deploy").await);
    }
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for node in ["a:1", "b:2", "c:3"] {
            let (s, limits, id) = (s.clone(), serial.clone(), *id);
            let node = format!("{node}-{n}");
            tasks.push(tokio::spawn(async move {
                s.claim_build(id, "deploy", &node, &limits).await.unwrap()
            }));
        }
    }
    let mut claimed = 0;
    for t in tasks {
        claimed += usize::from(t.await.unwrap());
    }
    assert_eq!(
        claimed, 1,
        "a serial job runs one build at a time across nodes"
    );
    assert_eq!(
        s.builds_of_job_with_status("deploy", BuildStatus::Started)
            .await
            .unwrap(),
        1
    );
    // A serial group: `migrate` may not start while `deploy` runs, `smoke` (no group) may.
    let migrate = create("migrate").await;
    let group = ClaimLimits {
        max_in_flight: Some(1),
        exclusive_with: vec!["deploy".into()],
    };
    assert!(
        !s.claim_build(migrate, "migrate", "a:1", &group)
            .await
            .unwrap()
    );
    let smoke = create("smoke").await;
    assert!(
        s.claim_build(smoke, "smoke", "b:2", &ClaimLimits::default())
            .await
            .unwrap()
    );
    // Once deploy's build finished, migrate's claim goes through; a started build is never
    // claimed twice.
    let started = s
        .builds_with_status(BuildStatus::Started, 10)
        .await
        .unwrap();
    let running_deploy = started.iter().find(|b| b.job == "deploy").unwrap().id;
    s.finish_build(running_deploy, BuildStatus::Succeeded)
        .await
        .unwrap();
    assert!(
        s.claim_build(migrate, "migrate", "a:1", &group)
            .await
            .unwrap()
    );
    assert!(
        !s.claim_build(migrate, "migrate", "b:2", &ClaimLimits::default())
            .await
            .unwrap()
    );
    assert_eq!(
        s.build(migrate).await.unwrap().claimed_by.as_deref(),
        Some("a:1")
    );
    // max_in_flight 2 lets two of the remaining deploy builds start, not three.
    let two = ClaimLimits {
        max_in_flight: Some(2),
        exclusive_with: vec![],
    };
    let pending: Vec<i64> = s
        .builds_with_status(BuildStatus::Pending, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.job == "deploy")
        .map(|b| b.id)
        .collect();
    assert_eq!(pending.len(), 3);
    let mut ok = 0;
    for id in pending {
        ok += usize::from(s.claim_build(id, "deploy", "c:3", &two).await.unwrap());
    }
    assert_eq!(ok, 2);
}

// ---------------------------------------------------------------------------------------------
// helpers

fn v(r: &str) -> Version {
    Version::new().with("ref", r)
}

fn fetched(r: &str) -> Fetched {
    Fetched {
        version: v(r),
        metadata: vec![],
    }
}

fn resource(name: &str, uri: &str) -> ResourceConfig {
    ResourceConfig::new(name, "git", &json!({ "uri": uri, "branch": "main" }))
}

async fn pipeline(store: &Store, resources: &[&str], jobs: &[&str]) {
    let resources: Vec<_> = resources.iter().map(|r| resource(r, r)).collect();
    let jobs: Vec<_> = jobs
        .iter()
        .map(|j| JobConfig {
            name: j.to_string(),
            environment: Some("development".into()),
        })
        .collect();
    store.sync_pipeline(&resources, &jobs).await.unwrap();
}

async fn save(store: &Store, resource: &str, refs: &[&str]) {
    let list: Vec<Fetched> = refs.iter().map(|r| fetched(r)).collect();
    store.save_versions(resource, &list).await.unwrap();
}

fn input(name: &str, passed: &[&str]) -> InputSpec {
    InputSpec {
        name: name.to_string(),
        resource: name.to_string(),
        passed: passed.iter().map(|p| p.to_string()).collect(),
        version: VersionPolicy::Latest,
    }
}

/// Runs a build of `job` with `inputs` (input name = resource name, version ref), optional
/// `put` outputs, finishing with `status`.
async fn run_build(
    store: &Store,
    job: &str,
    inputs: &[(&str, &str)],
    outputs: &[(&str, &str)],
    status: BuildStatus,
) -> i64 {
    let mut resolved = Vec::new();
    for (name, r) in inputs {
        let stored = store.find_version(name, &v(r)).await.unwrap().unwrap();
        resolved.push(ResolvedInput {
            name: name.to_string(),
            resource: name.to_string(),
            version_id: stored.id,
            version: stored.version,
        });
    }
    let build = store.create_build(job, "test", &resolved).await.unwrap();
    assert!(store.start_build(build.id, "node-a").await.unwrap());
    for (resource, r) in outputs {
        store
            .save_output(build.id, resource, &fetched(r))
            .await
            .unwrap();
    }
    if status != BuildStatus::Started {
        store.finish_build(build.id, status).await.unwrap();
    }
    build.id
}

/// The refs of the resolved inputs, by input order; `None` when unresolvable.
async fn resolve(store: &Store, job: &str, specs: &[InputSpec]) -> Option<Vec<String>> {
    store
        .resolve_inputs(job, specs)
        .await
        .unwrap()
        .map(|inputs| {
            inputs
                .iter()
                .map(|i| i.version.get("ref").unwrap().to_string())
                .collect()
        })
}

fn refs(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

// ---------------------------------------------------------------------------------------------
// versions

async fn versions_are_saved_once_in_check_order_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit"]).await;
    let first = s
        .save_versions("repo", &[fetched("a"), fetched("b"), fetched("c")])
        .await
        .unwrap();
    let orders: Vec<i64> = first.new_versions.iter().map(|v| v.check_order).collect();
    assert_eq!(orders, [1, 2, 3]);
    // Idempotent: the same list again changes nothing.
    let again = s
        .save_versions("repo", &[fetched("a"), fetched("b"), fetched("c")])
        .await
        .unwrap();
    assert!(again.new_versions.is_empty());
    assert_eq!(again.updated_metadata, 0);
    // Only the unseen version is appended, after the others, even if listed first.
    let more = s
        .save_versions("repo", &[fetched("d"), fetched("b")])
        .await
        .unwrap();
    assert_eq!(more.new_versions.len(), 1);
    assert_eq!(more.new_versions[0].check_order, 4);
    let page: Vec<_> = s.versions("repo", Page::first(10)).await.unwrap();
    let order: Vec<&str> = page.iter().map(|v| v.version.get("ref").unwrap()).collect();
    assert_eq!(order, ["d", "c", "b", "a"]);
    let first_two = s.versions("repo", Page::first(2)).await.unwrap();
    assert_eq!(first_two.len(), 2);
    let next = s
        .versions("repo", Page::before(first_two[1].check_order, 2))
        .await
        .unwrap();
    let next: Vec<&str> = next.iter().map(|v| v.version.get("ref").unwrap()).collect();
    assert_eq!(next, ["b", "a"]);
    let latest = s.latest_version("repo").await.unwrap().unwrap();
    assert_eq!(latest.version, v("d"));
    // Metadata arriving later (from `get`) replaces empty metadata, once.
    let with_meta = Fetched {
        version: v("a"),
        metadata: vec![("author".into(), "ana".into())],
    };
    let updated = s
        .save_versions("repo", std::slice::from_ref(&with_meta))
        .await
        .unwrap();
    assert_eq!(updated.updated_metadata, 1);
    let updated = s.save_versions("repo", &[with_meta]).await.unwrap();
    assert_eq!(updated.updated_metadata, 0);
    let a = s.find_version("repo", &v("a")).await.unwrap().unwrap();
    assert_eq!(a.metadata, vec![("author".to_string(), "ana".to_string())]);
    assert_eq!(a.check_order, 1);
    // Unknown resources are named in the error.
    let err = s.save_versions("nope", &[fetched("x")]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownResource(r) if r == "nope"),
        "{err}"
    );
}

async fn a_changed_source_starts_a_new_history_body(db: &mut Db) {
    let s = &db.store;
    let jobs = [JobConfig {
        name: "unit".into(),
        environment: None,
    }];
    let report = s
        .sync_pipeline(&[resource("repo", "one"), resource("twin", "one")], &jobs)
        .await
        .unwrap();
    assert_eq!(report.added_resources, ["repo", "twin"]);
    assert_eq!(report.added_jobs, ["unit"]);
    save(s, "repo", &["a", "b"]).await;
    // Identical (type, source): one history, checked once.
    assert_eq!(
        s.latest_version("twin").await.unwrap().unwrap().version,
        v("b")
    );
    let report = s
        .sync_pipeline(&[resource("repo", "two"), resource("twin", "one")], &jobs)
        .await
        .unwrap();
    assert_eq!(report.new_histories, ["repo"]);
    assert!(s.latest_version("repo").await.unwrap().is_none());
    save(s, "repo", &["x"]).await;
    let x = s.latest_version("repo").await.unwrap().unwrap();
    assert_eq!((x.version, x.check_order), (v("x"), 1));
    // Going back to the old source finds the old history again.
    let report = s
        .sync_pipeline(&[resource("repo", "one")], &[])
        .await
        .unwrap();
    assert_eq!(report.new_histories, ["repo"]);
    assert_eq!(report.deactivated_resources, ["twin"]);
    assert_eq!(report.deactivated_jobs, ["unit"]);
    assert_eq!(
        s.latest_version("repo").await.unwrap().unwrap().version,
        v("b")
    );
    assert!(!s.resource("twin").await.unwrap().active);
    // Syncing the same configuration twice changes nothing.
    let report = s
        .sync_pipeline(&[resource("repo", "one")], &[])
        .await
        .unwrap();
    assert_eq!(report, Default::default());
}

async fn pinning_and_disabling_steer_resolution_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit"]).await;
    save(s, "repo", &["a", "b", "c"]).await;
    let specs = [input("repo", &[])];
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["c"]));
    s.pin_version("repo", &v("a")).await.unwrap();
    assert_eq!(
        s.pinned_version("repo").await.unwrap().unwrap().version,
        v("a")
    );
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["a"]));
    // The resource pin wins over the step's own `version:`.
    let mut every = input("repo", &[]);
    every.version = VersionPolicy::Every;
    assert_eq!(resolve(s, "unit", &[every]).await, refs(&["a"]));
    s.unpin("repo").await.unwrap();
    assert!(s.pinned_version("repo").await.unwrap().is_none());
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["c"]));
    // A step-level pin.
    let mut pinned = input("repo", &[]);
    pinned.version = VersionPolicy::Pinned(v("b"));
    assert_eq!(resolve(s, "unit", &[pinned.clone()]).await, refs(&["b"]));
    // Disabled versions are skipped, and a disabled pin resolves to nothing.
    s.set_version_disabled("repo", &v("c"), true).await.unwrap();
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["b"]));
    assert_eq!(
        s.latest_version("repo").await.unwrap().unwrap().version,
        v("b")
    );
    s.set_version_disabled("repo", &v("b"), true).await.unwrap();
    assert_eq!(resolve(s, "unit", &[pinned]).await, None);
    s.set_version_disabled("repo", &v("c"), false)
        .await
        .unwrap();
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["c"]));
    // Unknown versions are refused by name.
    let err = s.pin_version("repo", &v("zzz")).await.unwrap_err();
    assert!(err.to_string().contains("zzz"), "{err}");
    let mut unknown = input("repo", &[]);
    unknown.version = VersionPolicy::Pinned(v("zzz"));
    assert_eq!(resolve(s, "unit", &[unknown]).await, None);
}

// ---------------------------------------------------------------------------------------------
// resolution

async fn resolution_without_passed_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo", "img"], &["unit"]).await;
    assert_eq!(resolve(s, "unit", &[input("repo", &[])]).await, None);
    save(s, "repo", &["a", "b", "c"]).await;
    save(s, "img", &["1"]).await;
    let specs = [input("repo", &[]), input("img", &[])];
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["c", "1"]));
    let mut every = input("repo", &[]);
    every.version = VersionPolicy::Every;
    let specs = [every, input("img", &[])];
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["a", "1"]));
    run_build(
        s,
        "unit",
        &[("repo", "a"), ("img", "1")],
        &[],
        BuildStatus::Failed,
    )
    .await;
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["b", "1"]));
    run_build(
        s,
        "unit",
        &[("repo", "b"), ("img", "1")],
        &[],
        BuildStatus::Succeeded,
    )
    .await;
    run_build(
        s,
        "unit",
        &[("repo", "c"), ("img", "1")],
        &[],
        BuildStatus::Succeeded,
    )
    .await;
    // Every version used: the newest.
    assert_eq!(resolve(s, "unit", &specs).await, refs(&["c", "1"]));
    // Which builds ran with these versions, and how many are in which state.
    let c_id = s.find_version("repo", &v("c")).await.unwrap().unwrap().id;
    let img_id = s.find_version("img", &v("1")).await.unwrap().unwrap().id;
    let with_c = s
        .builds_with_versions("unit", &[("repo", c_id), ("img", img_id)])
        .await
        .unwrap();
    assert_eq!(with_c.len(), 1);
    assert_eq!(
        (with_c[0].number, with_c[0].status),
        (3, BuildStatus::Succeeded)
    );
    let with_img = s
        .builds_with_versions("unit", &[("img", img_id)])
        .await
        .unwrap();
    assert_eq!(
        with_img.iter().map(|b| b.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        s.builds_of_job_with_status("unit", BuildStatus::Succeeded)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.builds_of_job_with_status("unit", BuildStatus::Failed)
            .await
            .unwrap(),
        1
    );
    // "Is this input set new for the job?"
    let resolved = s.resolve_inputs("unit", &specs).await.unwrap().unwrap();
    assert!(s.has_build_with_inputs("unit", &resolved).await.unwrap());
    assert!(
        s.version_used_by_job("unit", resolved[0].version_id)
            .await
            .unwrap()
    );
    save(s, "repo", &["d"]).await;
    let fresh = s
        .resolve_inputs("unit", &[input("repo", &[]), input("img", &[])])
        .await
        .unwrap()
        .unwrap();
    assert!(!s.has_build_with_inputs("unit", &fresh).await.unwrap());
    assert!(
        !s.version_used_by_job("unit", fresh[0].version_id)
            .await
            .unwrap()
    );
}

async fn resolution_through_one_upstream_job_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo", "out"], &["unit", "deploy"]).await;
    save(s, "repo", &["a", "b", "c"]).await;
    let specs = [input("repo", &["unit"])];
    assert_eq!(resolve(s, "deploy", &specs).await, None);
    run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Succeeded).await;
    run_build(s, "unit", &[("repo", "b")], &[], BuildStatus::Failed).await;
    let running = run_build(s, "unit", &[("repo", "c")], &[], BuildStatus::Started).await;
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["a"]));
    s.finish_build(running, BuildStatus::Succeeded)
        .await
        .unwrap();
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["c"]));
    // A version a build created with `put` passed that job as well.
    assert_eq!(resolve(s, "deploy", &[input("out", &["unit"])]).await, None);
    run_build(
        s,
        "unit",
        &[("repo", "c")],
        &[("out", "artifact-1")],
        BuildStatus::Succeeded,
    )
    .await;
    assert_eq!(
        resolve(s, "deploy", &[input("out", &["unit"])]).await,
        refs(&["artifact-1"])
    );
    assert_eq!(
        s.latest_version("out").await.unwrap().unwrap().version,
        v("artifact-1")
    );
}

async fn resolution_through_two_upstream_jobs_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["a", "b", "c"]).await;
    save(s, "repo", &["v1", "v2", "v3"]).await;
    run_build(s, "a", &[("repo", "v1")], &[], BuildStatus::Succeeded).await;
    run_build(s, "a", &[("repo", "v2")], &[], BuildStatus::Succeeded).await;
    run_build(s, "a", &[("repo", "v3")], &[], BuildStatus::Succeeded).await;
    run_build(s, "b", &[("repo", "v1")], &[], BuildStatus::Succeeded).await;
    run_build(s, "b", &[("repo", "v3")], &[], BuildStatus::Failed).await;
    // v3 and v2 passed `a` but not `b`: not picked.
    let specs = [input("repo", &["a", "b"])];
    assert_eq!(resolve(s, "c", &specs).await, refs(&["v1"]));
    run_build(s, "b", &[("repo", "v2")], &[], BuildStatus::Succeeded).await;
    assert_eq!(resolve(s, "c", &specs).await, refs(&["v2"]));
    let only_b = [input("repo", &["b"])];
    assert_eq!(resolve(s, "c", &only_b).await, refs(&["v2"]));
    // Unknown upstream jobs are an error, not an empty result.
    let err = s
        .resolve_inputs("c", &[input("repo", &["nope"])])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownJob(j) if j == "nope"),
        "{err}"
    );
}

async fn shared_upstream_job_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["app", "cfg"], &["build", "scan", "deploy"]).await;
    save(s, "app", &["a1", "a2", "a3"]).await;
    save(s, "cfg", &["c1", "c2", "c3"]).await;
    run_build(
        s,
        "build",
        &[("app", "a1"), ("cfg", "c2")],
        &[],
        BuildStatus::Succeeded,
    )
    .await;
    run_build(
        s,
        "build",
        &[("app", "a2"), ("cfg", "c1")],
        &[],
        BuildStatus::Succeeded,
    )
    .await;
    run_build(
        s,
        "build",
        &[("app", "a3"), ("cfg", "c3")],
        &[],
        BuildStatus::Failed,
    )
    .await;
    // The newest of each alone would be (a2, c2), a pair no build of `build` ever had.
    let specs = [input("app", &["build"]), input("cfg", &["build"])];
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["a2", "c1"]));
    // The input order does not matter for the pairing.
    let swapped = [input("cfg", &["build"]), input("app", &["build"])];
    assert_eq!(resolve(s, "deploy", &swapped).await, refs(&["c1", "a2"]));
    // With cfg also required to pass `scan`, which only c2 did: the search backtracks to the
    // older build of `build` that had c2.
    run_build(s, "scan", &[("cfg", "c2")], &[], BuildStatus::Succeeded).await;
    let specs = [input("app", &["build"]), input("cfg", &["build", "scan"])];
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["a1", "c2"]));
    // Nothing satisfies everything: no inputs.
    let specs = [input("app", &["build", "scan"]), input("cfg", &["build"])];
    assert_eq!(resolve(s, "deploy", &specs).await, None);
    // An input without `passed` does not constrain the others.
    let specs = [input("app", &["build"]), input("cfg", &[])];
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["a2", "c3"]));
}

async fn every_with_passed_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit", "deploy"]).await;
    save(s, "repo", &["v1", "v2", "v3", "v4"]).await;
    for r in ["v1", "v2", "v3"] {
        run_build(s, "unit", &[("repo", r)], &[], BuildStatus::Succeeded).await;
    }
    let mut every = input("repo", &["unit"]);
    every.version = VersionPolicy::Every;
    let specs = [every];
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["v1"]));
    run_build(s, "deploy", &[("repo", "v1")], &[], BuildStatus::Succeeded).await;
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["v2"]));
    s.set_version_disabled("repo", &v("v2"), true)
        .await
        .unwrap();
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["v3"]));
    run_build(s, "deploy", &[("repo", "v3")], &[], BuildStatus::Succeeded).await;
    // All passed versions used: the newest.
    assert_eq!(resolve(s, "deploy", &specs).await, refs(&["v3"]));
    // Disabled versions are skipped under `passed` with `latest` too.
    s.set_version_disabled("repo", &v("v3"), true)
        .await
        .unwrap();
    assert_eq!(
        resolve(s, "deploy", &[input("repo", &["unit"])]).await,
        refs(&["v1"])
    );
}

async fn long_history_body(db: &mut Db) {
    // More succeeded upstream builds than one page (100): the only version that also passed
    // `b` is in the oldest build of `a`.
    let s = &db.store;
    pipeline(s, &["repo"], &["a", "b", "c"]).await;
    let names: Vec<String> = (0..250).map(|i| format!("v{i:03}")).collect();
    let list: Vec<Fetched> = names.iter().map(|n| fetched(n)).collect();
    s.save_versions("repo", &list).await.unwrap();
    for n in &names {
        run_build(s, "a", &[("repo", n)], &[], BuildStatus::Succeeded).await;
    }
    run_build(s, "b", &[("repo", "v000")], &[], BuildStatus::Succeeded).await;
    assert_eq!(
        resolve(s, "c", &[input("repo", &["a", "b"])]).await,
        refs(&["v000"])
    );
    assert_eq!(
        resolve(s, "c", &[input("repo", &["a"])]).await,
        refs(&["v249"])
    );

    // A list longer than one save batch keeps its order across batches, and saving it again
    // adds nothing.
    let many: Vec<String> = (0..lockgate_store::SAVE_BATCH * 2 + 7)
        .map(|i| format!("w{i:05}"))
        .collect();
    let list: Vec<Fetched> = many.iter().map(|n| fetched(n)).collect();
    let saved = s.save_versions("repo", &list).await.unwrap();
    assert_eq!(saved.new_versions.len(), many.len());
    assert!(
        saved
            .new_versions
            .windows(2)
            .all(|w| w[0].check_order < w[1].check_order)
    );
    assert!(
        s.save_versions("repo", &list)
            .await
            .unwrap()
            .new_versions
            .is_empty()
    );
    let newest = s.latest_version("repo").await.unwrap().unwrap();
    assert_eq!(newest.version, v(many.last().unwrap()));
}

// ---------------------------------------------------------------------------------------------
// builds

async fn concurrent_build_numbers_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit", "other"]).await;
    save(s, "repo", &["a"]).await;
    let inputs = s
        .resolve_inputs("unit", &[input("repo", &[])])
        .await
        .unwrap()
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (s, inputs) = (s.clone(), inputs.clone());
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for _ in 0..5 {
                let build = s
                    .create_build("unit", &format!("task {t}"), &inputs)
                    .await
                    .unwrap();
                numbers.push(build.number);
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (1..=40).collect::<Vec<i64>>());
    // Numbering is per job.
    let other = s.create_build("other", "manual", &inputs).await.unwrap();
    assert_eq!(other.number, 1);
    let listed = s.builds(Some("unit"), Page::first(100)).await.unwrap();
    assert_eq!(listed.len(), 40);
    assert_eq!(listed[0].number, 40);
    let older = s.builds(None, Page::before(listed[0].id, 3)).await.unwrap();
    assert_eq!(older.len(), 3);
    assert!(older.iter().all(|b| b.id < listed[0].id));
    let by_number = s.build_by_number("unit", 7).await.unwrap();
    assert_eq!((by_number.job.as_str(), by_number.number), ("unit", 7));
    assert_eq!(
        s.builds_with_status(BuildStatus::Pending, 100)
            .await
            .unwrap()
            .len(),
        41
    );
}

async fn build_lifecycle_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo", "out"], &["unit"]).await;
    save(s, "repo", &["a"]).await;
    let inputs = s
        .resolve_inputs("unit", &[input("repo", &[])])
        .await
        .unwrap()
        .unwrap();
    let build = s.create_build("unit", "trigger", &inputs).await.unwrap();
    assert_eq!((build.status, build.number), (BuildStatus::Pending, 1));
    let stored_inputs = s.build_inputs(build.id).await.unwrap();
    assert_eq!(stored_inputs.len(), 1);
    assert_eq!(
        (stored_inputs[0].name.as_str(), &stored_inputs[0].version),
        ("repo", &v("a"))
    );
    // Outputs need a started build.
    let err = s
        .save_output(build.id, "out", &fetched("o1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BuildNotRunning {
                status: BuildStatus::Pending,
                ..
            }
        ),
        "{err}"
    );
    let err = s
        .finish_build(build.id, BuildStatus::Succeeded)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert!(s.start_build(build.id, "node-a").await.unwrap());
    // A second node cannot claim it.
    assert!(!s.start_build(build.id, "node-b").await.unwrap());
    assert!(s.heartbeat(build.id, "node-a").await.unwrap());
    assert!(!s.heartbeat(build.id, "node-b").await.unwrap());
    s.save_output(build.id, "out", &fetched("o1"))
        .await
        .unwrap();
    let outputs = s.build_outputs(build.id).await.unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].version, v("o1"));
    let done = s
        .finish_build(build.id, BuildStatus::Succeeded)
        .await
        .unwrap();
    assert_eq!(done.status, BuildStatus::Succeeded);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert_eq!(done.claimed_by.as_deref(), Some("node-a"));
    let err = s
        .finish_build(build.id, BuildStatus::Failed)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                from: BuildStatus::Succeeded,
                to: BuildStatus::Failed,
                ..
            }
        ),
        "{err}"
    );
    // A pending build can be aborted.
    let pending = s.create_build("unit", "manual", &inputs).await.unwrap();
    let aborted = s
        .finish_build(pending.id, BuildStatus::Aborted)
        .await
        .unwrap();
    assert_eq!(aborted.status, BuildStatus::Aborted);
    assert!(matches!(
        s.build(9_999_999).await.unwrap_err(),
        StoreError::UnknownBuild(_)
    ));
}

async fn interrupted_recovery_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo", "img"], &["unit"]).await;
    save(s, "repo", &["a"]).await;
    save(s, "img", &["1"]).await;
    let started = run_build(
        s,
        "unit",
        &[("repo", "a"), ("img", "1")],
        &[],
        BuildStatus::Started,
    )
    .await;
    let step = s
        .begin_step(started, "plan.0", "get", "repo")
        .await
        .unwrap();
    let pending = run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Started).await;
    s.finish_build(pending, BuildStatus::Succeeded)
        .await
        .unwrap();

    db.reopen().await; // as after kill -9: the started build is still `started`
    let s = &db.store;
    let recovered = s.recover_interrupted().await.unwrap();
    assert_eq!(recovered.len(), 1);
    let r = &recovered[0];
    assert_eq!(r.interrupted.id, started);
    assert_eq!(r.interrupted.status, BuildStatus::Interrupted);
    assert_eq!(r.requeued.status, BuildStatus::Pending);
    assert_eq!(r.requeued.retry_of, Some(started));
    assert_eq!(r.requeued.number, 3);
    assert!(r.requeued.reason.contains("#1"), "{}", r.requeued.reason);
    let old_inputs = s.build_inputs(started).await.unwrap();
    let new_inputs = s.build_inputs(r.requeued.id).await.unwrap();
    assert_eq!(old_inputs, new_inputs);
    assert_eq!(
        s.step(step.id).await.unwrap().status,
        StepStatus::Interrupted
    );
    // The interrupted build's node can no longer heartbeat it.
    assert!(!s.heartbeat(started, "node-a").await.unwrap());
    // Idempotent: nothing more to do, nothing duplicated.
    assert!(s.recover_interrupted().await.unwrap().is_empty());
    let all = s.builds(Some("unit"), Page::first(10)).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter()
            .filter(|b| b.status == BuildStatus::Pending)
            .count(),
        1
    );
    // The re-queued build runs; if its node dies too, it is re-queued in turn (once).
    assert!(s.start_build(r.requeued.id, "node-b").await.unwrap());
    let stale = s.recover_stale_builds(0).await.unwrap();
    assert!(stale.is_empty(), "a fresh heartbeat is not stale");
    let again = s.recover_stale_builds(i64::MAX).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].requeued.retry_of, Some(r.requeued.id));
    assert!(s.recover_interrupted().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// candidates

async fn candidate_events_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["app", "cfg"], &["deploy-dev"]).await;
    save(s, "app", &["a1", "a2"]).await;
    save(s, "cfg", &["c1"]).await;
    let id = |r: &'static str, x: &'static str| async move {
        s.find_version(r, &v(x)).await.unwrap().unwrap().id
    };
    let (a1, a2, c1) = (
        id("app", "a1").await,
        id("app", "a2").await,
        id("cfg", "c1").await,
    );
    let first = s.candidate(&[("app", a1), ("cfg", c1)]).await.unwrap();
    // Same pairs in another order: the same candidate.
    let same = s.candidate(&[("cfg", c1), ("app", a1)]).await.unwrap();
    assert_eq!(first, same);
    assert_eq!(first.versions.len(), 2);
    assert_eq!(first.versions[0].resource, "app");
    assert_eq!(s.candidate_by_digest(&first.digest).await.unwrap(), first);
    let second = s.candidate(&[("app", a2), ("cfg", c1)]).await.unwrap();
    assert_ne!(first.id, second.id);

    // Eight tasks race to promote the same candidate: exactly one records it.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let s = s.clone();
        let candidate = first.id;
        tasks.push(tokio::spawn(async move {
            s.record_event(&NewCandidateEvent {
                candidate_id: candidate,
                environment: "staging".into(),
                event: CandidateEvent::Promoted,
                by: Some(format!("node-{n}")),
                build_id: None,
                detail: Some(json!({ "from": "development" })),
            })
            .await
            .unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
    let event = |candidate: i64, env: &str, event: CandidateEvent| NewCandidateEvent {
        candidate_id: candidate,
        environment: env.into(),
        event,
        by: Some("scheduler".into()),
        build_id: None,
        detail: None,
    };
    // Deployments may repeat; qualification happens once per environment.
    assert!(
        s.record_event(&event(first.id, "staging", CandidateEvent::Deployed))
            .await
            .unwrap()
    );
    assert!(
        s.record_event(&event(first.id, "staging", CandidateEvent::Deployed))
            .await
            .unwrap()
    );
    assert!(
        s.record_event(&event(first.id, "staging", CandidateEvent::Qualified))
            .await
            .unwrap()
    );
    assert!(
        !s.record_event(&event(first.id, "staging", CandidateEvent::Qualified))
            .await
            .unwrap()
    );
    assert!(
        s.record_event(&event(first.id, "production", CandidateEvent::Qualified))
            .await
            .unwrap()
    );
    assert!(
        s.record_event(&event(second.id, "staging", CandidateEvent::Qualified))
            .await
            .unwrap()
    );

    let (newest, ev) = s.newest_qualified("staging").await.unwrap().unwrap();
    assert_eq!(
        (newest.id, ev.event),
        (second.id, CandidateEvent::Qualified)
    );
    let (running, ev) = s.current_candidate("staging").await.unwrap().unwrap();
    assert_eq!((running.id, ev.event), (first.id, CandidateEvent::Deployed));
    assert!(s.current_candidate("production").await.unwrap().is_none());
    // A rollback is a request: the environment runs the candidate once it is deployed.
    s.record_event(&event(second.id, "staging", CandidateEvent::RolledBack))
        .await
        .unwrap();
    assert_eq!(
        s.current_candidate("staging").await.unwrap().unwrap().0.id,
        first.id
    );
    s.record_event(&event(second.id, "staging", CandidateEvent::Deployed))
        .await
        .unwrap();
    assert_eq!(
        s.current_candidate("staging").await.unwrap().unwrap().0.id,
        second.id
    );

    let history = s
        .environment_history("staging", Page::first(100))
        .await
        .unwrap();
    assert_eq!(history.len(), 7);
    assert!(history.windows(2).all(|w| w[0].id > w[1].id));
    let older = s
        .environment_history("staging", Page::before(history[1].id, 100))
        .await
        .unwrap();
    assert_eq!(older.len(), 5);

    // Approvals: recorded once, with their event.
    assert!(
        s.approve("production", first.id, "ana", Some("LGTM"))
            .await
            .unwrap()
    );
    assert!(
        !s.approve("production", first.id, "bob", None)
            .await
            .unwrap()
    );
    let approval = s.approval("production", first.id).await.unwrap().unwrap();
    assert_eq!(
        (approval.approver.as_str(), approval.comment.as_deref()),
        ("ana", Some("LGTM"))
    );
    assert!(s.approval("production", second.id).await.unwrap().is_none());

    let events = s.candidate_events(first.id).await.unwrap();
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.environment.as_str(), e.event))
        .collect();
    assert_eq!(
        kinds,
        [
            ("staging", CandidateEvent::Promoted),
            ("staging", CandidateEvent::Deployed),
            ("staging", CandidateEvent::Deployed),
            ("staging", CandidateEvent::Qualified),
            ("production", CandidateEvent::Qualified),
            ("production", CandidateEvent::Approved),
        ]
    );
    assert_eq!(events[0].detail, Some(json!({ "from": "development" })));
    assert_eq!(events[5].by.as_deref(), Some("ana"));
}

// ---------------------------------------------------------------------------------------------
// steps, logs, reports

fn line(text: &str) -> NewLogLine {
    NewLogLine {
        at: 1_700_000_000_000,
        stream: "stdout".into(),
        text: text.into(),
    }
}

async fn logs_paging_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit"]).await;
    save(s, "repo", &["a"]).await;
    let build = run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Started).await;
    let step = s.begin_step(build, "plan.0", "get", "repo").await.unwrap();
    assert_eq!(
        s.append_logs(
            build,
            Some(step.id),
            &[line("one"), line("two"), line("three")]
        )
        .await
        .unwrap(),
        3
    );
    assert_eq!(s.append_logs(build, None, &[]).await.unwrap(), 3);
    assert_eq!(
        s.append_logs(build, None, &[line("four"), line("five")])
            .await
            .unwrap(),
        5
    );
    let all = s.logs(build, 0, 100).await.unwrap();
    let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three", "four", "five"]);
    assert_eq!(all[0].step_id, Some(step.id));
    assert_eq!(all[4].step_id, None);
    let seqs: Vec<i64> = all.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let page = s.logs(build, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|l| l.seq).collect::<Vec<_>>(), [3, 4]);
    assert!(s.logs(build, 5, 10).await.unwrap().is_empty());
    // Concurrent writers still get gapless, distinct numbers.
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.append_logs(
                build,
                None,
                &[line(&format!("t{t}a")), line(&format!("t{t}b"))],
            )
            .await
            .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = s.logs(build, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.seq).collect::<Vec<_>>(),
        (1..=13).collect::<Vec<i64>>()
    );
    assert!(matches!(
        s.append_logs(9_999_999, None, &[line("x")])
            .await
            .unwrap_err(),
        StoreError::UnknownBuild(_)
    ));
}

async fn log_pruning_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit", "other"]).await;
    save(s, "repo", &["a"]).await;
    let mut unit = Vec::new();
    for status in [
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::Succeeded,
        BuildStatus::Succeeded,
    ] {
        let b = run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Started).await;
        s.append_logs(b, None, &[line("x"), line("y")])
            .await
            .unwrap();
        s.finish_build(b, status).await.unwrap();
        unit.push(b);
    }
    // Oldest build of the job, but still running: never pruned.
    let running = run_build(s, "other", &[("repo", "a")], &[], BuildStatus::Started).await;
    s.append_logs(running, None, &[line("r")]).await.unwrap();
    let mut other = Vec::new();
    for _ in 0..3 {
        let b = run_build(s, "other", &[("repo", "a")], &[], BuildStatus::Succeeded).await;
        s.append_logs(b, None, &[line("z")]).await.unwrap();
        other.push(b);
    }
    let deleted = s.prune_logs(2).await.unwrap();
    // unit #1 and #2 (two lines each) and other #2 (one line); other #1 still runs.
    assert_eq!(deleted, 2 + 2 + 1);
    assert!(s.logs(other[0], 0, 10).await.unwrap().is_empty());
    assert_eq!(s.logs(other[1], 0, 10).await.unwrap().len(), 1);
    assert!(s.logs(unit[0], 0, 10).await.unwrap().is_empty());
    assert!(s.logs(unit[1], 0, 10).await.unwrap().is_empty());
    assert_eq!(s.logs(unit[2], 0, 10).await.unwrap().len(), 2);
    assert_eq!(s.logs(unit[3], 0, 10).await.unwrap().len(), 2);
    assert_eq!(s.logs(running, 0, 10).await.unwrap().len(), 1);
    assert_eq!(s.prune_logs(2).await.unwrap(), 0);
    // The pruned builds themselves are kept.
    assert_eq!(
        s.build(unit[0]).await.unwrap().status,
        BuildStatus::Succeeded
    );
    s.finish_build(running, BuildStatus::Failed).await.unwrap();
    assert_eq!(s.prune_logs(2).await.unwrap(), 1);
    assert_eq!(s.prune_logs(0).await.unwrap(), 4 + 2);
}

async fn steps_and_reports_body(db: &mut Db) {
    let s = &db.store;
    pipeline(s, &["repo"], &["unit"]).await;
    save(s, "repo", &["a"]).await;
    let build = run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Started).await;
    let get = s.begin_step(build, "plan.0", "get", "repo").await.unwrap();
    assert_eq!(get.status, StepStatus::Running);
    s.finish_step(get.id, StepStatus::Succeeded, None)
        .await
        .unwrap();
    let test = s
        .begin_step(build, "plan.1.in_parallel.0", "test", "smoke")
        .await
        .unwrap();
    let report = TestReport {
        suites: vec![TestSuite {
            name: "smoke".into(),
            cases: vec![
                TestCase {
                    name: "health".into(),
                    status: CaseStatus::Passed,
                    duration_ms: 12,
                    message: None,
                },
                TestCase {
                    name: "login".into(),
                    status: CaseStatus::Failed,
                    duration_ms: 40,
                    message: Some("401".into()),
                },
            ],
        }],
    };
    assert!(s.save_test_report(test.id, &report).await.unwrap());
    assert!(
        !s.save_test_report(test.id, &TestReport::default())
            .await
            .unwrap()
    );
    s.finish_step(test.id, StepStatus::Failed, Some("1 of 2 cases failed"))
        .await
        .unwrap();
    // A retried attempt restarts the same step row.
    let retry = s
        .begin_step(build, "plan.1.in_parallel.0", "test", "smoke")
        .await
        .unwrap();
    assert_eq!(retry.id, test.id);
    assert_eq!((retry.status, retry.error), (StepStatus::Running, None));
    s.finish_step(test.id, StepStatus::Failed, Some("1 of 2 cases failed"))
        .await
        .unwrap();
    let steps = s.steps(build).await.unwrap();
    let summary: Vec<_> = steps
        .iter()
        .map(|st| (st.path.as_str(), st.kind.as_str(), st.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("plan.0", "get", StepStatus::Succeeded),
            ("plan.1.in_parallel.0", "test", StepStatus::Failed),
        ]
    );
    assert_eq!(steps[1].error.as_deref(), Some("1 of 2 cases failed"));
    let reports = s.test_reports(build).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].report, report);
    assert!(!reports[0].passed);
    assert!(matches!(
        s.finish_step(9_999_999, StepStatus::Failed, None)
            .await
            .unwrap_err(),
        StoreError::UnknownStep(9_999_999)
    ));
}

// ---------------------------------------------------------------------------------------------
// restart

async fn reopen_body(db: &mut Db) {
    let (build, candidate) = {
        let s = &db.store;
        pipeline(s, &["repo"], &["unit", "deploy"]).await;
        save(s, "repo", &["a", "b"]).await;
        s.pin_version("repo", &v("a")).await.unwrap();
        let build = run_build(s, "unit", &[("repo", "a")], &[], BuildStatus::Succeeded).await;
        s.append_logs(build, None, &[line("kept")]).await.unwrap();
        let id = s.find_version("repo", &v("a")).await.unwrap().unwrap().id;
        let candidate = s.candidate(&[("repo", id)]).await.unwrap();
        s.approve("production", candidate.id, "ana", None)
            .await
            .unwrap();
        (build, candidate)
    };
    db.reopen().await;
    let s = &db.store;
    assert_eq!(s.schema_version().await.unwrap(), 3);
    let versions = s.versions("repo", Page::first(10)).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        s.pinned_version("repo").await.unwrap().unwrap().version,
        v("a")
    );
    assert_eq!(s.build(build).await.unwrap().status, BuildStatus::Succeeded);
    assert_eq!(s.logs(build, 0, 10).await.unwrap()[0].text, "kept");
    assert_eq!(s.candidate_by_id(candidate.id).await.unwrap(), candidate);
    assert!(
        s.approval("production", candidate.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !s.approve("production", candidate.id, "ana", None)
            .await
            .unwrap()
    );
    assert_eq!(
        resolve(s, "deploy", &[input("repo", &["unit"])]).await,
        refs(&["a"])
    );
    // Numbering continues after the restart.
    let next = run_build(s, "unit", &[("repo", "b")], &[], BuildStatus::Succeeded).await;
    assert_eq!(s.build(next).await.unwrap().number, 2);
    assert_eq!(s.jobs().await.unwrap().len(), 2);
    assert_eq!(s.resources().await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// SQLite specifics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_works_while_another_connection_writes() {
    // A CLI command reads while the server writes: WAL lets the reader through, and writers
    // from two processes' worth of pools queue on the busy timeout instead of failing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let server = Store::open_sqlite(&path).await.unwrap();
    let cli = Store::open(path.to_str().unwrap()).await.unwrap();
    pipeline(&server, &["repo"], &["unit"]).await;
    let writer = {
        let server = server.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                server
                    .save_versions("repo", &[fetched(&format!("w{i}"))])
                    .await
                    .unwrap();
            }
        })
    };
    let other_writer = {
        let cli = cli.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                cli.create_build("unit", "manual", &[]).await.unwrap();
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() {
        let page = cli.versions("repo", Page::first(5)).await.unwrap();
        assert!(page.len() <= 5);
        seen += 1;
    }
    writer.await.unwrap();
    other_writer.await.unwrap();
    assert!(seen > 0);
    assert_eq!(
        cli.latest_version("repo")
            .await
            .unwrap()
            .unwrap()
            .check_order,
        200
    );
    assert_eq!(
        server
            .builds(Some("unit"), Page::first(100))
            .await
            .unwrap()
            .len(),
        20
    );
}

#[tokio::test]
async fn postgres_urls_are_recognised_and_errors_name_the_target() {
    // Nothing listens on port 1: the error names the URL without its password.
    let options = StoreOptions {
        acquire_timeout: Some(std::time::Duration::from_millis(500)),
        ..StoreOptions::default()
    };
    let err = Store::open_with("postgres://user:secret@127.0.0.1:1/db", options)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("postgres://user:***@127.0.0.1:1/db"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    // The driver's error is the source, not repeated in the message; shown with its causes,
    // each appears once.
    let cause = std::error::Error::source(&err)
        .expect("the driver's error is the source")
        .to_string();
    assert!(!text.contains(&cause), "{text} repeats {cause}");
    let full = lockgate_model::ErrorReport::report(&err).to_string();
    assert!(full.starts_with(&format!("{text}: {cause}")), "{full}");
    assert_eq!(full.matches(&cause).count(), 1, "{full}");
}
