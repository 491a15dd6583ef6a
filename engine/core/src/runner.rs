//! Runs one build: the job's plan (`get`, `put`, `test`, `task`, `in_parallel`, `do`, `try`, with
//! `attempts`, `timeout` and hooks) through the plugin host, each step in its own sandbox with
//! the grants the pipeline gives it, recording steps, logs, test reports and `put` outputs in
//! the store as they happen.
//!
//! Artifacts live in a per-build work directory: `<work>/builds/<id>/<name>` for the files of
//! each `get` (and of the implicit `get` after a `put`); each resource has a cache directory
//! `<work>/cache/<resource>` that survives between builds and checks. A `task`'s outputs are
//! artifacts of the build like a `get`'s (`<work>/builds/<id>/<artifact>`); its caches live in
//! `<work>/task-cache/<job>/<task>/<path>`, kept between builds.

mod logs;

use lockgate_model::ErrorReport;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::plan::{
    ActionPlan, ComponentPlan, GetPlan, HooksPlan, InputsPlan, Plan, PutPlan, StepPlan,
    TaskDefinition, TaskLoader, TaskPlan, TaskSetupError, TestPlan,
};
use lockgate_config::Redactor;
use lockgate_plugin_host::{
    DirGrant, Grants, Invocation, InvokeError, Limits, TaskDir, TaskInvocation, humanize,
};
use lockgate_store::{Build, BuildStatus, StepStatus, Store};

use logs::StepLog;
pub use logs::{Attempt, BuildEvent, BuildObserver, NoObserver};

/// Why a build could not run at all (as opposed to a step failing).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] lockgate_store::StoreError),
    /// The build names a job the pipeline no longer has.
    #[error("build {build} belongs to job `{job}`, which is not in the pipeline")]
    UnknownJob {
        /// Build id.
        build: i64,
        /// Job name.
        job: String,
    },
    /// The work directory is unusable.
    #[error("cannot prepare the work directory `{path}`: {error}")]
    WorkDir {
        /// Directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Outcome of a step (or of a whole plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Succeeded,
    /// It ran and judged "no" (a failed test, a plugin that reported failure).
    Failed(String),
    /// It broke (a trap, a deadline, a missing input, a store error).
    Errored(String),
}

impl Outcome {
    fn status(&self) -> StepStatus {
        match self {
            Outcome::Succeeded => StepStatus::Succeeded,
            Outcome::Failed(_) => StepStatus::Failed,
            Outcome::Errored(_) => StepStatus::Errored,
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded => None,
            Outcome::Failed(m) | Outcome::Errored(m) => Some(m),
        }
    }

    /// The build status this outcome gives.
    pub fn build_status(&self) -> BuildStatus {
        match self {
            Outcome::Succeeded => BuildStatus::Succeeded,
            Outcome::Failed(_) => BuildStatus::Failed,
            Outcome::Errored(_) => BuildStatus::Errored,
        }
    }
}

/// Runs builds of one pipeline.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    plan: Arc<Plan>,
    redactor: Redactor,
    work: PathBuf,
    observer: Arc<dyn BuildObserver>,
}

/// State of one running build shared by its steps.
struct BuildCtx {
    build: Build,
    dir: PathBuf,
    inputs: BTreeMap<String, lockgate_store::BuildInput>,
    artifacts: Mutex<BTreeMap<String, PathBuf>>,
}

impl Runner {
    /// A runner of `plan`'s builds, keeping artifacts and caches under `work`.
    pub fn new(store: Store, plan: Arc<Plan>, work: impl Into<PathBuf>) -> Self {
        Self {
            store,
            redactor: plan.redactor.clone(),
            plan,
            work: work.into(),
            observer: Arc::new(NoObserver),
        }
    }

    /// Sends build and step events to `observer` (live progress in a terminal).
    pub fn with_observer(mut self, observer: Arc<dyn BuildObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The cache directory of `resource` (created on demand).
    pub fn cache_dir(&self, resource: &str) -> PathBuf {
        self.work.join("cache").join(resource)
    }

    /// Runs started build `build` to the end and records its final status.
    pub async fn run(&self, build: Build) -> Result<Build, RunnerError> {
        let job = self
            .plan
            .job(&build.job)
            .ok_or_else(|| RunnerError::UnknownJob {
                build: build.id,
                job: build.job.clone(),
            })?;
        let dir = self.work.join("builds").join(build.id.to_string());
        reset_dir(&dir)?;
        let inputs = self
            .store
            .build_inputs(build.id)
            .await?
            .into_iter()
            .map(|i| (i.name.clone(), i))
            .collect();
        let ctx = BuildCtx {
            build: build.clone(),
            dir: dir.clone(),
            inputs,
            artifacts: Mutex::default(),
        };
        self.observer.event(BuildEvent::Started { build: &build });

        let attempts = job.attempts;
        let mut outcome = Outcome::Succeeded;
        for attempt in 1..=attempts {
            let plan = self.run_steps(&ctx, &job.steps);
            outcome = match job.timeout {
                Some(t) => tokio::time::timeout(t, plan).await.unwrap_or_else(|_| {
                    Outcome::Errored(format!("job timed out after {}", humanize(t)))
                }),
                None => plan.await,
            };
            if outcome == Outcome::Succeeded || attempt == attempts {
                break;
            }
        }
        outcome = self.run_hooks(&ctx, &job.hooks, outcome).await;

        let _ = std::fs::remove_dir_all(&dir);
        let finished = self
            .store
            .finish_build_promoting(
                build.id,
                outcome.build_status(),
                build.claimed_by.as_deref(),
                &job.promotion,
            )
            .await?;
        self.observer.event(BuildEvent::Finished {
            build: &finished,
            outcome: &outcome,
        });
        Ok(finished)
    }

    fn run_steps<'a>(&'a self, ctx: &'a BuildCtx, steps: &'a [StepPlan]) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            for step in steps {
                let outcome = self.run_step(ctx, step).await;
                if outcome != Outcome::Succeeded {
                    return outcome;
                }
            }
            Outcome::Succeeded
        })
    }

    /// A step with its attempts, timeout and hooks.
    fn run_step<'a>(&'a self, ctx: &'a BuildCtx, step: &'a StepPlan) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let (attempts, timeout) = (step.attempts, step.timeout);
            let mut outcome = Outcome::Succeeded;
            for number in 1..=attempts {
                let attempt = Attempt {
                    number,
                    of: attempts,
                };
                let action = self.run_action(ctx, step, timeout, attempt);
                outcome = match timeout {
                    Some(t) => tokio::time::timeout(t + Duration::from_secs(1), action)
                        .await
                        .unwrap_or_else(|_| {
                            Outcome::Errored(format!("step timed out after {}", humanize(t)))
                        }),
                    None => action.await,
                };
                if outcome == Outcome::Succeeded || number == attempts {
                    break;
                }
                self.engine_log(
                    ctx,
                    &format!(
                        "{}: attempt {number} of {attempts} did not pass; retrying",
                        step.label()
                    ),
                )
                .await;
            }
            self.run_hooks(ctx, &step.hooks, outcome).await
        })
    }

    /// Runs the hooks that apply to `outcome`; a failing hook fails the step.
    async fn run_hooks(&self, ctx: &BuildCtx, hooks: &HooksPlan, outcome: Outcome) -> Outcome {
        let mut result = outcome.clone();
        let hook = match &outcome {
            Outcome::Succeeded => hooks.on_success.as_deref(),
            Outcome::Failed(_) => hooks.on_failure.as_deref(),
            Outcome::Errored(_) => hooks.on_error.as_deref(),
        };
        if let Some(step) = hook {
            let hook_outcome = self.run_step(ctx, step).await;
            if result == Outcome::Succeeded && hook_outcome != Outcome::Succeeded {
                result = hook_outcome;
            }
        }
        if let Some(step) = hooks.ensure.as_deref() {
            let ensure = self.run_step(ctx, step).await;
            if result == Outcome::Succeeded && ensure != Outcome::Succeeded {
                result = ensure;
            }
        }
        result
    }

    async fn run_action(
        &self,
        ctx: &BuildCtx,
        step: &StepPlan,
        timeout: Option<Duration>,
        attempt: Attempt,
    ) -> Outcome {
        let path = step.id.as_str();
        match &step.action {
            ActionPlan::Get(get) => {
                self.leaf(ctx, path, "get", &get.name, attempt, |log, id| {
                    self.get(ctx, get, log, id, timeout)
                })
                .await
            }
            ActionPlan::Put(put) => {
                self.leaf(ctx, path, "put", &put.name, attempt, |log, id| {
                    self.put(ctx, put, log, id, timeout)
                })
                .await
            }
            ActionPlan::Test(test) => {
                self.leaf(ctx, path, "test", &test.name, attempt, |log, id| {
                    self.test(ctx, test, log, id, timeout)
                })
                .await
            }
            ActionPlan::Task(task) => {
                self.leaf(ctx, path, "task", &task.name, attempt, |log, _| {
                    self.task(ctx, task, log, timeout)
                })
                .await
            }
            ActionPlan::Do(steps) => self.run_steps(ctx, steps).await,
            ActionPlan::Try(inner) => {
                let outcome = self.run_step(ctx, inner).await;
                if outcome != Outcome::Succeeded {
                    self.engine_log(
                        ctx,
                        &format!(
                            "{}: `try` ignores: {}",
                            step.label(),
                            outcome.error().unwrap_or("")
                        ),
                    )
                    .await;
                }
                Outcome::Succeeded
            }
            ActionPlan::InParallel {
                steps,
                limit,
                fail_fast,
            } => {
                let (limit, fail_fast) = (*limit, *fail_fast);
                let mut pending = steps.iter();
                let mut running = FuturesUnordered::new();
                let mut first_failure: Option<Outcome> = None;
                loop {
                    while running.len() < limit {
                        match pending.next() {
                            Some(s) => running.push(self.run_step(ctx, s)),
                            None => break,
                        }
                    }
                    let Some(outcome) = running.next().await else {
                        break;
                    };
                    if outcome != Outcome::Succeeded && first_failure.is_none() {
                        first_failure = Some(outcome);
                        if fail_fast {
                            // Dropping the futures stops their sandboxes.
                            drop(running);
                            break;
                        }
                    }
                }
                first_failure.unwrap_or(Outcome::Succeeded)
            }
        }
    }

    /// Runs a leaf step (get, put, test) with its step record and log.
    async fn leaf<'a, F, Fut>(
        &'a self,
        ctx: &'a BuildCtx,
        path: &str,
        kind: &str,
        name: &str,
        attempt: Attempt,
        body: F,
    ) -> Outcome
    where
        F: FnOnce(Arc<StepLog>, i64) -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let started = std::time::Instant::now();
        let record = match self.store.begin_step(ctx.build.id, path, kind, name).await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Errored(format!("cannot record step `{name}`: {}", e.report()));
            }
        };
        self.observer.event(BuildEvent::StepStarted {
            build: &ctx.build,
            path,
            kind,
            name,
            attempt,
        });
        let log = StepLog::start(
            self.store.clone(),
            ctx.build.id,
            Some(record.id),
            self.redactor.clone(),
            self.observer.clone(),
        );
        let outcome = body(log.clone(), record.id).await;
        let took = started.elapsed();
        // Every step ends with one line: how it ended, after how long, and why if it did not pass.
        let why = outcome.error().map_or(String::new(), |e| format!(": {e}"));
        log.engine(&format!(
            "{kind} `{name}`{attempt} {} in {}{why}",
            outcome.status(),
            humanize(took)
        ));
        log.close().await;
        let error = outcome.error().map(|e| self.redactor.redact(e));
        if let Err(e) = self
            .store
            .finish_step(record.id, outcome.status(), error.as_deref())
            .await
        {
            return Outcome::Errored(format!("cannot record step `{name}`: {}", e.report()));
        }
        self.observer.event(BuildEvent::StepFinished {
            build: &ctx.build,
            path,
            kind,
            name,
            outcome: &outcome,
            attempt,
            took,
        });
        outcome
    }

    async fn engine_log(&self, ctx: &BuildCtx, message: &str) {
        let log = StepLog::start(
            self.store.clone(),
            ctx.build.id,
            None,
            self.redactor.clone(),
            self.observer.clone(),
        );
        log.engine(message);
        log.close().await;
    }

    fn invocation(
        &self,
        grants: Grants,
        limits: Limits,
        timeout: Option<Duration>,
        log: &Arc<StepLog>,
    ) -> Invocation {
        let limits = match timeout {
            Some(t) => limits.with_deadline(t),
            None => limits,
        };
        Invocation::new(grants).limits(limits).log(log.clone())
    }

    /// The input directories a `put` or `test` sees.
    fn input_grants(&self, ctx: &BuildCtx, inputs: &InputsPlan) -> Result<Vec<DirGrant>, String> {
        let artifacts = ctx.artifacts.lock().unwrap_or_else(|e| e.into_inner());
        match inputs {
            InputsPlan::All => Ok(artifacts
                .iter()
                .map(|(name, path)| DirGrant {
                    name: name.clone(),
                    path: path.clone(),
                    writable: false,
                })
                .collect()),
            InputsPlan::Named(names) => names
                .iter()
                .map(|n| {
                    artifacts
                        .get(n)
                        .map(|path| DirGrant {
                            name: n.clone(),
                            path: path.clone(),
                            writable: false,
                        })
                        .ok_or_else(|| format!("input `{n}` was not fetched by an earlier step"))
                })
                .collect(),
        }
    }

    /// Empties the cache of `resource` if the invocation left it over its limit, saying so.
    fn trim_cache(&self, resource: &str, limits: &Limits, log: &StepLog) {
        if let Some(held) = crate::cache_dir::trim(&self.cache_dir(resource), limits.cache_bytes) {
            log.engine(&crate::cache_dir::notice(
                resource,
                held,
                limits.cache_bytes,
            ));
        }
    }

    fn resource_grants(
        &self,
        resource: &str,
    ) -> Result<
        (
            Grants,
            Limits,
            lockgate_plugin_host::Plugin,
            serde_json::Value,
        ),
        String,
    > {
        let r = self
            .plan
            .resource(resource)
            .ok_or_else(|| format!("unknown resource `{resource}`"))?;
        let plugin = r.plugin.clone().ok_or_else(|| {
            format!(
                "the plugin of resource type `{}` is not loaded",
                r.type_name
            )
        })?;
        let cache = self.cache_dir(resource);
        std::fs::create_dir_all(&cache)
            .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
        let grants = r.grants.clone().cache(cache);
        Ok((grants, r.limits, plugin, r.source.clone()))
    }

    async fn get(
        &self,
        ctx: &BuildCtx,
        get: &GetPlan,
        log: Arc<StepLog>,
        _step: i64,
        timeout: Option<Duration>,
    ) -> Outcome {
        let Some(input) = ctx.inputs.get(&get.name) else {
            return Outcome::Errored(format!("no version was resolved for input `{}`", get.name));
        };
        let version = input.version.clone();
        self.fetch(
            ctx,
            &get.name,
            &get.resource,
            &version,
            &get.params,
            log,
            timeout,
        )
        .await
    }

    /// Fetches `version` of `resource` into the artifact `name`.
    #[allow(
        clippy::too_many_arguments,
        reason = "each argument is a distinct part of the fetch; a struct would only rename them"
    )]
    async fn fetch(
        &self,
        ctx: &BuildCtx,
        name: &str,
        resource: &str,
        version: &lockgate_plugin_host::Version,
        params: &serde_json::Value,
        log: Arc<StepLog>,
        timeout: Option<Duration>,
    ) -> Outcome {
        let (grants, limits, plugin, source) = match self.resource_grants(resource) {
            Ok(x) => x,
            Err(e) => return Outcome::Errored(e),
        };
        let out = ctx.dir.join(name);
        if let Err(e) = reset_dir(&out) {
            return Outcome::Errored(e.to_string());
        }
        log.engine(&format!("fetching {resource} {version}"));
        let inv = self.invocation(grants.output(&out), limits, timeout, &log);
        let fetched = plugin.get(&inv, &source, version, params).await;
        self.trim_cache(resource, &limits, &log);
        match fetched {
            Ok(fetched) => {
                // Named: the lines of gets running in parallel interleave.
                for (k, v) in &fetched.metadata {
                    log.engine(&format!("  {name}: {k}: {v}"));
                }
                ctx.artifacts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.to_owned(), out);
                Outcome::Succeeded
            }
            Err(e) => invoke_outcome(e),
        }
    }

    async fn put(
        &self,
        ctx: &BuildCtx,
        put: &PutPlan,
        log: Arc<StepLog>,
        _step: i64,
        timeout: Option<Duration>,
    ) -> Outcome {
        let resource = &put.resource;
        let (mut grants, limits, plugin, source) = match self.resource_grants(resource) {
            Ok(x) => x,
            Err(e) => return Outcome::Errored(e),
        };
        grants.inputs = match self.input_grants(ctx, &put.inputs) {
            Ok(i) => i,
            Err(e) => return Outcome::Errored(e),
        };
        let inv = self.invocation(grants, limits, timeout, &log);
        let put_result = plugin.put(&inv, &source, &put.params).await;
        self.trim_cache(resource, &limits, &log);
        let fetched = match put_result {
            Ok(f) => f,
            Err(e) => return invoke_outcome(e),
        };
        let fetched = match crate::secrets::clean_fetched(
            &self.redactor,
            &format!("`put` to `{resource}`"),
            fetched,
        ) {
            Ok(f) => f,
            Err(e) => return Outcome::Errored(e.to_string()),
        };
        log.engine(&format!("{resource}: created version {}", fetched.version));
        if let Err(e) = self
            .store
            .save_output(ctx.build.id, resource, &fetched)
            .await
        {
            return Outcome::Errored(format!(
                "cannot record the version `put` created: {}",
                e.report()
            ));
        }
        // Like Concourse, fetch what was just created so later steps (tests) see it.
        self.fetch(
            ctx,
            &put.name,
            resource,
            &fetched.version,
            &serde_json::json!({}),
            log,
            timeout,
        )
        .await
    }

    async fn test(
        &self,
        ctx: &BuildCtx,
        test: &TestPlan,
        log: Arc<StepLog>,
        step: i64,
        timeout: Option<Duration>,
    ) -> Outcome {
        let Some(plugin) = &test.plugin else {
            return Outcome::Errored(format!(
                "the plugin of test type `{}` is not loaded",
                test.type_name
            ));
        };
        let mut grants = test.grants.clone();
        grants.inputs = match self.input_grants(ctx, &test.inputs) {
            Ok(i) => i,
            Err(e) => return Outcome::Errored(e),
        };
        let inv = self.invocation(grants, test.limits, timeout, &log);
        let report = match plugin.run(&inv, &test.config).await {
            Ok(r) => r,
            Err(e) => return invoke_outcome(e),
        };
        for case in report.cases() {
            let message = case
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            log.engine(&format!("  {} {}{message}", case.status, case.name));
        }
        if let Err(e) = self.store.save_test_report(step, &report).await {
            return Outcome::Errored(format!("cannot record the test report: {}", e.report()));
        }
        use lockgate_plugin_host::CaseStatus::*;
        let (failed, errored) = (report.count(Failed), report.count(Errored));
        if report.passed() {
            Outcome::Succeeded
        } else {
            Outcome::Failed(format!(
                "{} passed, {failed} failed, {errored} errored",
                report.count(Passed)
            ))
        }
    }
}

impl Runner {
    /// The directory of cache `path` of task `task` of job `job` (kept between builds).
    pub fn task_cache_dir(&self, job: &str, task: &str, path: &str) -> PathBuf {
        self.work.join("task-cache").join(job).join(task).join(path)
    }

    /// Runs a task's program over its inputs; on exit 0 its outputs become artifacts. A
    /// definition read from a task file, and a component from an artifact or the registry,
    /// are read and loaded first.
    async fn task(
        &self,
        ctx: &BuildCtx,
        task: &TaskPlan,
        log: Arc<StepLog>,
        timeout: Option<Duration>,
    ) -> Outcome {
        let artifacts = || {
            ctx.artifacts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        let read;
        let program = match &task.definition {
            TaskDefinition::Inline(p) => p,
            TaskDefinition::File { artifact, path } => {
                let Some(dir) = artifacts().get(artifact).cloned() else {
                    return Outcome::Errored(
                        TaskSetupError::MissingArtifact {
                            task: task.name.clone(),
                            what: format!("the task file `{artifact}/{path}`"),
                            artifact: artifact.clone(),
                        }
                        .report()
                        .to_string(),
                    );
                };
                match TaskLoader::definition(task, artifact, &dir, path) {
                    Ok(p) => {
                        log.engine(&format!("definition read from {artifact}/{path}"));
                        read = p;
                        &read
                    }
                    Err(e) => return Outcome::Errored(e.report().to_string()),
                }
            }
        };
        let program_task = match (&program.component, &self.plan.tasks) {
            (ComponentPlan::Loaded { task: Some(t), .. }, _) => t.clone(),
            (c, Some(loader)) => match loader.load(&task.name, c, &artifacts()).await {
                Ok((t, from)) => {
                    log.engine(&format!("component: {from}"));
                    t
                }
                Err(e) => return Outcome::Errored(e.report().to_string()),
            },
            (c, None) => {
                return Outcome::Errored(format!(
                    "the component of task `{}` ({c:?}) is not loaded: this plan was compiled without the plugin host",
                    task.name
                ));
            }
        };
        let mut inputs = Vec::new();
        {
            let artifacts = ctx.artifacts.lock().unwrap_or_else(|e| e.into_inner());
            for input in &program.inputs {
                match artifacts.get(&input.artifact) {
                    Some(path) => inputs.push(TaskDir::new(&input.dir, path)),
                    None if input.optional => log.engine(&format!(
                        "optional input `{}` was not provided: running without it",
                        input.artifact
                    )),
                    None => {
                        return Outcome::Errored(format!(
                            "input `{}` of task `{}` was not provided by an earlier step",
                            input.artifact, task.name
                        ));
                    }
                }
            }
        }
        let mut outputs = Vec::new();
        for output in &program.outputs {
            let path = ctx.dir.join(&output.artifact);
            if let Err(e) = reset_dir(&path) {
                return Outcome::Errored(e.to_string());
            }
            outputs.push(TaskDir::new(&output.dir, path));
        }
        let mut caches = Vec::new();
        for cache in &program.caches {
            let path = self.task_cache_dir(&ctx.build.job, &task.name, cache);
            if let Err(e) = std::fs::create_dir_all(&path) {
                return Outcome::Errored(format!("cannot create {}: {e}", path.display()));
            }
            caches.push(TaskDir::new(cache, path));
        }
        let limits = match timeout {
            Some(t) => task.limits.with_deadline(t),
            None => task.limits,
        };
        let inv = TaskInvocation {
            args: program.args.clone(),
            params: program.params.clone(),
            inputs,
            outputs,
            caches,
            grants: task.grants.clone(),
            limits,
        };
        let program_task = program_task.with_name(&task.name);
        match program_task.run(&inv, log.clone()).await {
            Ok(exit) if exit.success() => {
                let mut artifacts = ctx.artifacts.lock().unwrap_or_else(|e| e.into_inner());
                for output in &program.outputs {
                    let artifact = &output.artifact;
                    artifacts.insert(artifact.clone(), ctx.dir.join(artifact));
                    if output.dir != *artifact {
                        log.engine(&format!(
                            "  output `{}` is artifact `{artifact}`",
                            output.dir
                        ));
                    }
                }
                Outcome::Succeeded
            }
            Ok(exit) => Outcome::Failed(format!(
                "task `{}` exited with code {}",
                task.name, exit.code
            )),
            Err(e) => invoke_outcome(e),
        }
    }
}

/// How a plugin error counts: the plugin's own verdict fails the step, anything else errors it.
fn invoke_outcome(e: InvokeError) -> Outcome {
    if e.is_plugin_failure() {
        Outcome::Failed(e.report().to_string())
    } else {
        Outcome::Errored(e.report().to_string())
    }
}

/// Empties (or creates) `dir`.
fn reset_dir(dir: &Path) -> Result<(), RunnerError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|error| RunnerError::WorkDir {
            path: dir.to_path_buf(),
            error,
        })?;
    }
    std::fs::create_dir_all(dir).map_err(|error| RunnerError::WorkDir {
        path: dir.to_path_buf(),
        error,
    })
}
