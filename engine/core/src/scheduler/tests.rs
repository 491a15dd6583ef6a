//! Scheduling decisions tested alone: a plan compiled from a pipeline text without plugins, a
//! temporary SQLite store, and a fake [`InputResolver`] that answers what each test says.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use lockgate_config::{Vars, parse_str};
use lockgate_model::{BuildStatus, Fetched, Version};
use lockgate_store::{Claim, ClaimLimits, InputSpec, ResolvedInput, Store, StoreError};

use super::{Blocker, InputResolver, Scheduler};
use crate::plan::{LoadedPlugins, compile};
use crate::runner::Runner;

/// Answers resolution with the inputs set per job; records what it was asked.
#[derive(Default)]
struct FakeResolver {
    answers: Mutex<BTreeMap<String, Option<Vec<ResolvedInput>>>>,
    asked: Mutex<Vec<(String, Vec<InputSpec>)>>,
}

impl FakeResolver {
    fn answer(&self, job: &str, inputs: Option<Vec<ResolvedInput>>) {
        self.answers.lock().unwrap().insert(job.to_owned(), inputs);
    }
}

impl InputResolver for FakeResolver {
    fn resolve<'a>(
        &'a self,
        job: &'a str,
        inputs: &'a [InputSpec],
    ) -> BoxFuture<'a, Result<Option<Vec<ResolvedInput>>, StoreError>> {
        self.asked
            .lock()
            .unwrap()
            .push((job.to_owned(), inputs.to_vec()));
        let answer = self.answers.lock().unwrap().get(job).cloned().flatten();
        Box::pin(async move { Ok(answer) })
    }
}

const PIPELINE: &str = "\
environments:
  - development
  - {name: production, approval: required}
resource_types: {counter: ./counter.wasm}
resources:
  - {name: release, type: counter, source: {path: release}}
  - {name: tools, type: counter, source: {path: tools}}
jobs:
  - name: deploy-dev
    environment: development
    plan:
      - get: release
        trigger: true
      - get: tools
      - put: release
  - name: deploy-prod
    environment: production
    plan:
      - get: release
        trigger: true
        passed: [deploy-dev]
      - put: release
  - name: by-hand
    environment: development
    plan: [{get: tools}]
";

struct Fixture {
    scheduler: Scheduler,
    resolver: Arc<FakeResolver>,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let parsed = parse_str(Path::new("p.yml"), PIPELINE, &Vars::new());
    assert!(!parsed.report.has_errors(), "{}", parsed.report);
    let plan = Arc::new(compile(
        &parsed.pipeline,
        &LoadedPlugins::default(),
        parsed.redactor,
    ));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("state.db"))
        .await
        .unwrap();
    let runner = Runner::new(store.clone(), plan.clone(), dir.path().join("work"));
    let resolver = Arc::new(FakeResolver::default());
    let scheduler =
        Scheduler::new(store.clone(), plan, runner, "test-node").with_resolver(resolver.clone());
    scheduler.prepare().await.unwrap();
    Fixture {
        scheduler,
        resolver,
        store,
        _dir: dir,
    }
}

/// Stores version `n` of `resource` and returns it as input `name`.
async fn version(store: &Store, resource: &str, name: &str, n: u32) -> ResolvedInput {
    let version = Version::new().with("n", n);
    let saved = store
        .save_versions(
            resource,
            &[Fetched {
                version: version.clone(),
                metadata: Vec::new(),
            }],
        )
        .await
        .unwrap();
    ResolvedInput {
        name: name.to_owned(),
        resource: resource.to_owned(),
        version_id: saved.new_versions[0].id,
        version,
    }
}

#[tokio::test]
async fn a_job_without_trigger_inputs_waits_for_a_person_and_is_not_resolved() {
    let f = fixture().await;
    let job = f.scheduler.plan().job("by-hand").unwrap();
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    assert_eq!(
        f.scheduler.blocked().get("by-hand"),
        Some(&Blocker::ManualOnly)
    );
    assert!(f.resolver.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_resolvable_inputs_no_build_starts() {
    let f = fixture().await;
    let job = f.scheduler.plan().job("deploy-dev").unwrap();
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    assert_eq!(
        f.scheduler.blocked().get("deploy-dev"),
        Some(&Blocker::NoInputs)
    );
    // Every get of the plan is asked for once, with its defaults applied.
    let asked = f.resolver.asked.lock().unwrap();
    let (job, specs) = &asked[0];
    assert_eq!(job, "deploy-dev");
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["release", "tools"]);
    assert_eq!(specs[0].version, lockgate_model::VersionPolicy::Latest);
}

#[tokio::test]
async fn a_new_trigger_version_starts_one_build_and_only_one() {
    let f = fixture().await;
    let inputs = vec![
        version(&f.store, "release", "release", 1).await,
        version(&f.store, "tools", "tools", 1).await,
    ];
    f.resolver.answer("deploy-dev", Some(inputs.clone()));
    let job = f.scheduler.plan().job("deploy-dev").unwrap();
    let build = f.scheduler.schedule_job(job).await.unwrap().unwrap();
    assert_eq!(
        (build.status, build.reason.as_str()),
        (BuildStatus::Pending, "trigger")
    );
    // The same inputs again: nothing new to build.
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    assert_eq!(f.scheduler.blocked().get("deploy-dev"), None);
}

#[tokio::test]
async fn a_non_trigger_input_changing_alone_starts_nothing() {
    let f = fixture().await;
    let release = version(&f.store, "release", "release", 1).await;
    let tools = version(&f.store, "tools", "tools", 1).await;
    f.resolver
        .answer("deploy-dev", Some(vec![release.clone(), tools]));
    let job = f.scheduler.plan().job("deploy-dev").unwrap();
    let first = f.scheduler.schedule_job(job).await.unwrap().unwrap();
    assert!(f.store.start_build(first.id, "test-node").await.unwrap());
    f.store
        .finish_build(first.id, BuildStatus::Succeeded)
        .await
        .unwrap();
    let newer_tools = version(&f.store, "tools", "tools", 2).await;
    f.resolver
        .answer("deploy-dev", Some(vec![release, newer_tools]));
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
}

/// Runs a build of `job` with `inputs` to success through the store's promotion
/// transactions, as the runner does.
async fn succeed(f: &Fixture, job: &str, inputs: &[ResolvedInput]) {
    let build = f.store.create_build(job, "trigger", inputs).await.unwrap();
    let rules = &f.scheduler.plan().job(job).unwrap().promotion;
    let claim = f
        .store
        .claim_build_promoting(build.id, job, "test-node", &ClaimLimits::default(), rules)
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Started(_)), "{claim:?}");
    f.store
        .finish_build_promoting(build.id, BuildStatus::Succeeded, Some("test-node"), rules)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_candidate_enters_only_once_qualified_and_waits_for_approval() {
    let f = fixture().await;
    let release = version(&f.store, "release", "release", 7).await;
    let tools = version(&f.store, "tools", "tools", 1).await;
    // The resolver would hand deploy-prod release 7, but nothing qualified in development:
    // production's jobs take versions only from qualified candidates.
    f.resolver
        .answer("deploy-prod", Some(vec![release.clone()]));
    let job = f.scheduler.plan().job("deploy-prod").unwrap();
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    assert_eq!(
        f.scheduler.blocked().get("deploy-prod"),
        Some(&Blocker::NoInputs)
    );
    // Every job of development succeeds (by-hand counts: it is judged on no promoted
    // resource); release 7 is qualified there.
    succeed(&f, "deploy-dev", &[release.clone(), tools.clone()]).await;
    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    succeed(&f, "by-hand", &[tools]).await;
    let (qualified, _) = f
        .store
        .newest_qualified("development")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(qualified.versions.len(), 1, "{qualified:?}");

    assert_eq!(f.scheduler.schedule_job(job).await.unwrap(), None);
    let Some(Blocker::Approval {
        environment,
        candidate,
    }) = f.scheduler.blocked().get("deploy-prod").cloned()
    else {
        panic!("expected an approval blocker: {:?}", f.scheduler.blocked());
    };
    assert_eq!(
        (environment.as_str(), candidate),
        ("production", qualified.id)
    );
    // `approve production` without an id approves what the job waits for.
    let (approved, first) = f
        .scheduler
        .approve("production", None, "alice", None)
        .await
        .unwrap();
    assert_eq!((approved.id, first), (qualified.id, true));
    let build = f.scheduler.schedule_job(job).await.unwrap().unwrap();
    assert_eq!(build.job, "deploy-prod");
}

#[tokio::test]
async fn approving_a_candidate_not_qualified_upstream_is_refused() {
    let f = fixture().await;
    let release = version(&f.store, "release", "release", 7).await;
    let candidate = f
        .store
        .candidate(&[("release", release.version_id)])
        .await
        .unwrap();
    let err = f
        .scheduler
        .approve("production", Some(candidate.id), "alice", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not qualified in `development`"),
        "{err}"
    );
    assert!(
        f.store
            .approval("production", candidate.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn trigger_names_an_unknown_job_and_a_job_without_versions() {
    let f = fixture().await;
    let err = f.scheduler.trigger("deploy-nowhere").await.unwrap_err();
    assert_eq!(err.to_string(), "no job `deploy-nowhere` in the pipeline");
    let err = f.scheduler.trigger("by-hand").await.unwrap_err();
    assert!(err.to_string().contains("has no versions"), "{err}");
    let tools = version(&f.store, "tools", "tools", 1).await;
    f.resolver.answer("by-hand", Some(vec![tools]));
    let build = f.scheduler.trigger("by-hand").await.unwrap();
    assert_eq!(build.reason, "manual");
}

#[tokio::test]
async fn approving_an_automatic_environment_is_refused_and_records_nothing() {
    let f = fixture().await;
    let err = f
        .scheduler
        .approve("development", None, "alice", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`development` does not require approval"),
        "{err}"
    );
    let release = version(&f.store, "release", "release", 1).await;
    let candidate = f
        .store
        .candidate(&[("release", release.version_id)])
        .await
        .unwrap();
    assert!(
        f.scheduler
            .approve("development", Some(candidate.id), "alice", None)
            .await
            .is_err()
    );
    assert_eq!(
        f.store.approval("development", candidate.id).await.unwrap(),
        None
    );
}
