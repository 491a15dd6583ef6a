//! Issue 13: a property test of the promotion model. Random pipelines of 2–4 environments
//! (with or without plan jobs, tests that also get the release, approvals, a shared resource)
//! and random sequences of new versions, builds that succeed or fail in any order, crashes
//! (every running build interrupted and re-queued, as after `kill -9`), approvals and
//! rollbacks. The scheduler decides with the store's real input resolution; builds are claimed
//! and finished through the store's promotion transactions, as the runner does, without
//! running plugins. After every step the store's promotion audit must find nothing.

use std::path::Path;
use std::sync::Arc;

use lockgate_config::{Vars, parse_str};
use lockgate_engine::plan::{JobPlan, LoadedPlugins, Plan, compile};
use lockgate_engine::runner::Runner;
use lockgate_engine::scheduler::Scheduler;
use lockgate_model::{BuildStatus, Fetched, Version};
use lockgate_store::{Claim, ClaimLimits, Store};
use proptest::prelude::*;

/// The shape of one random pipeline.
#[derive(Debug, Clone)]
struct Shape {
    /// Per environment: (has a plan job, its test also gets the release, needs approval).
    environments: Vec<(bool, bool, bool)>,
}

impl Shape {
    fn pipeline(&self) -> String {
        let mut text = String::from("environments:\n");
        for (i, (_, _, approval)) in self.environments.iter().enumerate() {
            let approval = if *approval && i > 0 {
                "required"
            } else {
                "automatic"
            };
            text.push_str(&format!("  - {{name: e{i}, approval: {approval}}}\n"));
        }
        text.push_str("resource_types: {counter: ./counter.wasm}\nresources:\n");
        for r in ["release", "config"] {
            text.push_str(&format!(
                "  - {{name: {r}, type: counter, source: {{path: {r}}}}}\n"
            ));
        }
        text.push_str("  - {name: tools, type: counter, shared: true, source: {path: tools}}\n");
        for i in 0..self.environments.len() {
            text.push_str(&format!(
                "  - {{name: env{i}, type: counter, check_every: never, source: {{path: env{i}}}}}\n"
            ));
        }
        text.push_str("jobs:\n");
        for (i, (plan, tests_release, _)) in self.environments.iter().enumerate() {
            let passed = |job: String| {
                if i == 0 {
                    String::new()
                } else {
                    format!(", passed: [{job}]")
                }
            };
            let prev_plan = i > 0 && self.environments[i - 1].0;
            let config_from = if prev_plan {
                format!("plan{}", i.wrapping_sub(1))
            } else {
                format!("deploy{}", i.wrapping_sub(1))
            };
            text.push_str(&format!(
                "  - name: deploy{i}\n    environment: e{i}\n    plan:\n      - {{get: release, trigger: true{}}}\n      - {{get: config, trigger: true{}}}\n      - {{get: tools}}\n      - {{put: env{i}}}\n",
                passed(format!("deploy{}", i.wrapping_sub(1))),
                passed(format!("deploy{}", i.wrapping_sub(1))),
            ));
            text.push_str(&format!(
                "  - name: test{i}\n    environment: e{i}\n    plan:\n      - {{get: env{i}, trigger: true, passed: [deploy{i}]}}\n"
            ));
            if *tests_release {
                text.push_str(&format!("      - {{get: release, passed: [deploy{i}]}}\n"));
            }
            if *plan {
                text.push_str(&format!(
                    "  - name: plan{i}\n    environment: e{i}\n    plan:\n      - {{get: config, trigger: true{}}}\n      - {{get: tools}}\n",
                    passed(config_from)
                ));
            }
        }
        text
    }
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    /// A new version of `release`, `config` or the shared `tools`.
    NewVersion(usize),
    /// A scheduling pass: new builds, then every pending build claimed.
    Tick,
    /// One running build (chosen by index) ends: its `put` (if any) succeeded or not, then
    /// the build succeeded or failed (a deploy whose later test step failed).
    Finish(usize, bool, bool),
    /// The engine dies: every running build is interrupted and re-queued.
    Crash,
    /// `lockgate approve ENV` (the candidate its jobs wait for).
    Approve(usize),
    /// `lockgate rollback ENV`.
    Rollback(usize),
    /// `lockgate pin release VERSION` (the newest, or the one before), or `unpin`.
    Pin(Option<usize>),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 2..=4)
        .prop_map(|environments| Shape { environments })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..3usize).prop_map(Step::NewVersion),
        4 => Just(Step::Tick),
        6 => (0..8usize, prop::bool::weighted(0.9), prop::bool::weighted(0.85))
            .prop_map(|(i, put, ok)| Step::Finish(i, put, ok)),
        1 => Just(Step::Crash),
        1 => (1..4usize).prop_map(Step::Approve),
        1 => (0..4usize).prop_map(Step::Rollback),
        1 => prop::option::of(0..2usize).prop_map(Step::Pin),
    ]
}

struct World {
    plan: Arc<Plan>,
    store: Store,
    scheduler: Scheduler,
    running: Vec<(i64, String)>,
    versions: u32,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(shape: &Shape) -> Self {
        let parsed = parse_str(Path::new("p.yml"), &shape.pipeline(), &Vars::new());
        assert!(
            !parsed.report.has_errors(),
            "{}\n{}",
            parsed.report,
            shape.pipeline()
        );
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
        let scheduler = Scheduler::new(store.clone(), plan.clone(), runner, "node");
        scheduler.prepare().await.unwrap();
        let mut world = Self {
            plan,
            store,
            scheduler,
            running: Vec::new(),
            versions: 0,
            _dir: dir,
        };
        for r in 0..3 {
            world.new_version(r).await;
        }
        world
    }

    async fn new_version(&mut self, resource: usize) {
        self.versions += 1;
        let name = ["release", "config", "tools"][resource];
        self.store
            .save_versions(
                name,
                &[Fetched {
                    version: Version::new().with("n", self.versions),
                    metadata: Vec::new(),
                }],
            )
            .await
            .unwrap();
    }

    fn job(&self, name: &str) -> &JobPlan {
        self.plan.job(name).unwrap()
    }

    async fn tick(&mut self) {
        for job in &self.plan.jobs {
            self.scheduler.schedule_job(job).await.unwrap();
        }
        for build in self
            .store
            .builds_with_status(BuildStatus::Pending, 1000)
            .await
            .unwrap()
        {
            let job = self.job(&build.job).clone();
            let limits = ClaimLimits {
                max_in_flight: job.max_in_flight,
                exclusive_with: job.exclusive_with.clone(),
            };
            if let Claim::Started(_) = self
                .store
                .claim_build_promoting(build.id, &build.job, "node", &limits, &job.promotion)
                .await
                .unwrap()
            {
                self.running.push((build.id, build.job));
            }
        }
    }

    async fn finish(&mut self, index: usize, put: bool, ok: bool) {
        if self.running.is_empty() {
            return;
        }
        let (id, name) = self.running.remove(index % self.running.len());
        let job = self.job(&name).clone();
        let ok = ok && put;
        if put {
            for output in &job.outputs {
                self.versions += 1;
                self.store
                    .save_output(
                        id,
                        output,
                        &Fetched {
                            version: Version::new().with("n", self.versions),
                            metadata: Vec::new(),
                        },
                    )
                    .await
                    .unwrap();
            }
        }
        let status = if ok {
            BuildStatus::Succeeded
        } else {
            BuildStatus::Failed
        };
        self.store
            .finish_build_promoting(id, status, Some("node"), &job.promotion)
            .await
            .unwrap();
    }

    async fn apply(&mut self, step: &Step) {
        let envs = self.plan.environments.len();
        match step {
            Step::NewVersion(r) => self.new_version(*r).await,
            Step::Tick => self.tick().await,
            Step::Finish(i, put, ok) => self.finish(*i, *put, *ok).await,
            Step::Crash => {
                self.running.clear();
                self.store.recover_interrupted().await.unwrap();
            }
            Step::Approve(e) => {
                let env = format!("e{}", e % envs);
                // Refusals (automatic environment, nothing waiting) are answers, not failures.
                let _ = self.scheduler.approve(&env, None, "ops", None).await;
            }
            Step::Rollback(e) => {
                let env = format!("e{}", e % envs);
                let _ = self.scheduler.rollback(&env, "ops").await;
            }
            Step::Pin(None) => self.store.unpin("release").await.unwrap(),
            Step::Pin(Some(back)) => {
                let versions = self
                    .store
                    .versions("release", lockgate_store::Page::first(2))
                    .await
                    .unwrap();
                if let Some(v) = versions.get(*back).or(versions.first()) {
                    self.store.pin_version("release", &v.version).await.unwrap();
                }
            }
        }
    }

    async fn audit(&self) -> Vec<String> {
        let envs: Vec<String> = self
            .plan
            .environments
            .iter()
            .map(|e| e.name.clone())
            .collect();
        self.store.audit_promotion(&envs).await.unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn promotion_invariants_hold_whatever_happens(
        shape in shape(),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut world = World::new(&shape).await;
            for (i, step) in steps.iter().enumerate() {
                world.apply(step).await;
                let violations = world.audit().await;
                prop_assert!(
                    violations.is_empty(),
                    "after step {i} ({step:?}) of {steps:?}:\n{}\npipeline:\n{}",
                    violations.join("\n"),
                    shape.pipeline()
                );
            }
            // Then everything drains: running builds succeed, every environment approves what
            // waits, until nothing more starts; the invariants still hold.
            for _ in 0..20 {
                for e in 1..world.plan.environments.len() {
                    world.apply(&Step::Approve(e)).await;
                }
                world.tick().await;
                if world.running.is_empty() {
                    break;
                }
                while !world.running.is_empty() {
                    world.finish(0, true, true).await;
                }
            }
            let violations = world.audit().await;
            prop_assert!(violations.is_empty(), "drained:\n{}", violations.join("\n"));
            Ok(())
        })?;
    }
}
