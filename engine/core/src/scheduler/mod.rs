//! The promotion scheduler: checks resources, decides which builds start (inputs resolved
//! under `passed`, serial groups, `max_in_flight`), enforces environment gates (approval,
//! soak), hands builds to the [`Runner`], and records what each candidate did in each
//! environment (deployed, tested, qualified, promoted).
//!
//! Two drivers share the same steps: [`Scheduler::run_until_idle`] (one shot: `lockgate run`)
//! and [`Scheduler::serve_node`] (long running: `lockgate server`). Several server nodes may
//! share one store (PostgreSQL): every node claims and runs builds; the node holding the
//! `scheduler` lease checks, creates builds and re-queues the builds of dead nodes.

mod checks;
mod entry;
mod gates;
mod resolver;
#[cfg(test)]
mod tests;

use lockgate_model::ErrorReport;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::plan::{JobPlan, Plan};
use crate::runner::Runner;
use lockgate_store::{
    Build, BuildStatus, Claim, ClaimLimits, InputSpec, JobConfig, ResolvedInput, ResourceConfig,
    Store, StoreError,
};

pub use checks::CheckOutcome;
pub use gates::{Blocker, EnvironmentStatus};
pub use resolver::InputResolver;

/// Why the scheduler could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A runner failed to run a build at all.
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    /// The request cannot be carried out (an unknown name, nothing to approve, a failed check,
    /// a version refused); the message says why and what to do.
    #[error("{0}")]
    Refused(String),
}

/// Result alias.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

/// Schedules one pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    plan: Arc<Plan>,
    /// Chooses the versions of new builds (the store's resolution; fakes in tests).
    resolver: Arc<dyn InputResolver>,
    runner: Runner,
    node: String,
    /// Why each job did not start a build at the last tick.
    blocked: Mutex<BTreeMap<String, Blocker>>,
    /// Woken when something happened that may let a build start.
    wake: Notify,
    /// Keep the logs of this many newest builds per job (`None`: keep everything).
    log_retention: Option<u32>,
    /// Set once the node stops taking work and lets its running builds end.
    draining: std::sync::atomic::AtomicBool,
    /// Notified to abort the running builds of a draining node (a second SIGTERM).
    abort: Notify,
}

/// What a one-shot run did.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    /// Builds that ran, in the order they finished.
    pub builds: Vec<Build>,
    /// Checks that failed (resource, why).
    pub check_errors: Vec<(String, Arc<SchedulerError>)>,
}

impl RunSummary {
    /// True when a build failed or errored, or a check failed.
    pub fn has_failures(&self) -> bool {
        !self.check_errors.is_empty()
            || self
                .builds
                .iter()
                .any(|b| !matches!(b.status, BuildStatus::Succeeded))
    }
}

impl Scheduler {
    /// A scheduler for `plan` on `store`, running builds with `runner`; `node` names this
    /// engine process in the store (build claims). Inputs are resolved by the store.
    pub fn new(store: Store, plan: Arc<Plan>, runner: Runner, node: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                resolver: Arc::new(store.clone()),
                store,
                plan,
                runner,
                node: node.into(),
                blocked: Mutex::default(),
                draining: std::sync::atomic::AtomicBool::new(false),
                abort: Notify::new(),
                wake: Notify::new(),
                log_retention: None,
            }),
        }
    }

    /// Keeps the logs of only the `keep` newest builds of each job (older builds, their steps
    /// and test reports stay). Call before sharing the scheduler.
    pub fn with_log_retention(mut self, keep: Option<u32>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.log_retention = keep;
        }
        self
    }

    /// Resolves inputs with `resolver` instead of the store (tests of scheduling decisions).
    /// Call before sharing the scheduler.
    pub fn with_resolver(mut self, resolver: Arc<dyn InputResolver>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.resolver = resolver;
        }
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The plan it runs.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.inner.plan
    }

    /// Records the pipeline's resources and jobs in the store.
    pub async fn prepare(&self) -> Result<()> {
        let p = &self.inner.plan;
        let resources: Vec<ResourceConfig> = p
            .resources
            .iter()
            .map(|r| ResourceConfig::new(r.name.clone(), r.type_name.clone(), &r.identity))
            .collect();
        let jobs: Vec<JobConfig> = p
            .jobs
            .iter()
            .map(|j| JobConfig {
                name: j.name.clone(),
                environment: Some(j.environment.clone()),
            })
            .collect();
        self.inner.store.sync_pipeline(&resources, &jobs).await?;
        Ok(())
    }

    /// Re-queues the builds whose engine died while they ran (marked `interrupted`, a new
    /// pending build with the same inputs): those claimed by a process of this host that no
    /// longer exists or by a node whose node-table heartbeat is older than
    /// [`NODE_STALE_AFTER`], and any build not heartbeaten for [`STALE_AFTER`].
    pub async fn recover(&self) -> Result<Vec<lockgate_store::Recovered>> {
        let store = &self.inner.store;
        let mut recovered = Vec::new();
        let stale_node_before = lockgate_store::now_ms() - NODE_STALE_AFTER.as_millis() as i64;
        let stale_nodes: BTreeSet<String> = store
            .nodes()
            .await?
            .into_iter()
            .filter(|n| n.heartbeat_at < stale_node_before || node_is_dead_here(&n.name))
            .map(|n| n.name)
            .collect();
        for (node, _) in store.running_nodes().await? {
            if node != self.inner.node && (node_is_dead_here(&node) || stale_nodes.contains(&node))
            {
                recovered.extend(store.recover_claimed_by(&node).await?);
            }
        }
        for node in &stale_nodes {
            if *node != self.inner.node {
                tracing::warn!(node = %node, "node is gone; forgetting it");
                store.remove_node(node).await?;
            }
        }
        let stale_before = lockgate_store::now_ms() - STALE_AFTER.as_millis() as i64;
        recovered.extend(store.recover_stale_builds(stale_before).await?);
        for r in &recovered {
            tracing::warn!(
                job = %r.interrupted.job,
                "build #{} was interrupted; re-queued as #{}",
                r.interrupted.number,
                r.requeued.number
            );
        }
        Ok(recovered)
    }

    /// Before this process runs any build: re-queues the builds still marked started under
    /// this process's own node name — a previous process of the same name (a restart in a
    /// container, where the pid repeats) died running them.
    async fn recover_own(&self) -> Result<()> {
        for r in self
            .inner
            .store
            .recover_claimed_by(&self.inner.node)
            .await?
        {
            tracing::warn!(
                job = %r.interrupted.job,
                "build #{} was interrupted (a previous process of this node); re-queued as #{}",
                r.interrupted.number,
                r.requeued.number
            );
        }
        Ok(())
    }

    /// Why each job did not start a build at the last scheduling pass.
    pub fn blocked(&self) -> BTreeMap<String, Blocker> {
        self.inner
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether this node is draining: it takes no new work and waits for its running builds.
    pub fn is_draining(&self) -> bool {
        self.inner
            .draining
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Aborts the running builds of a draining node instead of waiting for them (a second
    /// SIGTERM): they are marked interrupted and re-queued, for another node or the next start.
    pub fn abort_running(&self) {
        self.inner.abort.notify_one();
    }

    /// Wakes the scheduling loop (a webhook, an approval, a finished check).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// The inputs of `job` as the store resolves them.
    fn input_specs(job: &JobPlan) -> Vec<InputSpec> {
        job.inputs
            .iter()
            .map(|i| InputSpec {
                name: i.name.clone(),
                resource: i.resource.clone(),
                passed: i.passed.clone(),
                version: i.version.clone(),
            })
            .collect()
    }

    fn set_blocked(&self, job: &str, blocker: Option<Blocker>) {
        let mut blocked = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocker {
            Some(b) => blocked.insert(job.to_owned(), b),
            None => blocked.remove(job),
        };
    }

    /// Decides whether `job` gets a new build now; creates it (pending) if so.
    pub async fn schedule_job(&self, job: &JobPlan) -> Result<Option<Build>> {
        let store = &self.inner.store;
        let name = &job.name;
        // One queued build per job. A triggered build still waiting (serial job, busy serial
        // group) is replaced when newer versions arrive: superseded candidates are skipped in
        // favour of the newest. Manual, rollback and re-queued builds are never replaced.
        let queued = if store
            .builds_of_job_with_status(name, BuildStatus::Pending)
            .await?
            > 0
        {
            let newest = store
                .builds(Some(name), lockgate_store::Page::first(20))
                .await?;
            match newest
                .into_iter()
                .find(|b| b.status == BuildStatus::Pending)
            {
                Some(b)
                    if b.reason == "trigger" || b.reason.starts_with("trigger, superseding") =>
                {
                    Some(b)
                }
                _ => return Ok(None),
            }
        } else {
            None
        };
        let triggers: Vec<&str> = job.triggers().map(|i| i.name.as_str()).collect();
        if triggers.is_empty() {
            self.set_blocked(name, Some(Blocker::ManualOnly));
            return Ok(None);
        }
        let inputs = match self.entry(job, false).await? {
            entry::Entry::Free => {
                let specs = Self::input_specs(job);
                let Some(inputs) = self.inner.resolver.resolve(name, &specs).await? else {
                    self.set_blocked(name, Some(Blocker::NoInputs));
                    return Ok(None);
                };
                inputs
            }
            entry::Entry::Ready { inputs, .. } => inputs,
            entry::Entry::Gated { blocker, .. } => {
                self.set_blocked(name, Some(blocker));
                return Ok(None);
            }
            entry::Entry::UpToDate { ran } => {
                self.set_blocked(name, ran.is_none().then_some(Blocker::NoInputs));
                return Ok(None);
            }
        };
        if store.has_build_with_inputs(name, &inputs).await? {
            self.set_blocked(name, None);
            return Ok(None);
        }
        if !self.fresh(job, &inputs).await? {
            self.set_blocked(name, None);
            return Ok(None);
        }
        self.set_blocked(name, None);
        let reason = match &queued {
            Some(old) => {
                store.finish_build(old.id, BuildStatus::Aborted).await?;
                tracing::info!(job = %name, "queued build #{} superseded by newer versions", old.number);
                format!("trigger, superseding #{}", old.number)
            }
            None => "trigger".to_owned(),
        };
        let build = store.create_build(name, &reason, &inputs).await?;
        Ok(Some(build))
    }

    /// Whether `inputs` bring `job` a version of a `trigger: true` input it never used: only
    /// then does a new build start by itself.
    pub(super) async fn fresh(&self, job: &JobPlan, inputs: &[ResolvedInput]) -> Result<bool> {
        for input in inputs
            .iter()
            .filter(|i| job.triggers().any(|t| t.name == i.name))
        {
            if !self
                .inner
                .store
                .version_used_by_job(&job.name, input.version_id)
                .await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Creates a build of `job` now, with its newest resolvable inputs (`lockgate trigger`).
    /// Environment gates still apply.
    pub async fn trigger(&self, job_name: &str) -> Result<Build> {
        let job = self.inner.plan.job(job_name).ok_or_else(|| {
            SchedulerError::Refused(format!("no job `{job_name}` in the pipeline"))
        })?;
        let inputs = match self.entry(job, true).await? {
            entry::Entry::Free => {
                let specs = Self::input_specs(job);
                self.inner.resolver.resolve(job_name, &specs).await?.ok_or_else(|| {
                    SchedulerError::Refused(format!(
                        "job `{job_name}` has no versions that satisfy its inputs yet (run `lockgate check`?)"
                    ))
                })?
            }
            entry::Entry::Ready { inputs, .. } => inputs,
            entry::Entry::Gated { blocker, .. } => {
                return Err(SchedulerError::Refused(format!(
                    "job `{job_name}` cannot run: {blocker}"
                )));
            }
            entry::Entry::UpToDate { .. } => {
                let upstream = self
                    .inner
                    .plan
                    .environment(&job.environment)
                    .and_then(|e| self.inner.plan.upstream_of(e))
                    .map_or_else(String::new, |u| u.name.clone());
                return Err(SchedulerError::Refused(format!(
                    "job `{job_name}` cannot run: no candidate qualified in `{upstream}` gives it versions of its inputs yet (`lockgate why {}`)",
                    job.environment
                )));
            }
        };
        let build = self
            .inner
            .store
            .create_build(job_name, "manual", &inputs)
            .await?;
        self.wake();
        Ok(build)
    }

    /// Starts, on `set`, at most `capacity` pending builds that serial groups and
    /// `max_in_flight` allow, each claimed atomically for this node (another node may claim
    /// the same build; exactly one wins).
    async fn start_pending(
        &self,
        set: &mut JoinSet<Result<Build>>,
        capacity: usize,
    ) -> Result<usize> {
        if capacity == 0 {
            return Ok(0);
        }
        let store = &self.inner.store;
        let pending = store.builds_with_status(BuildStatus::Pending, 1000).await?;
        let mut started = 0;
        for build in pending {
            if started >= capacity {
                break;
            }
            let Some(job) = self.inner.plan.job(&build.job) else {
                store.finish_build(build.id, BuildStatus::Aborted).await?;
                continue;
            };
            let limits = Self::claim_limits(job);
            match store
                .claim_build_promoting(
                    build.id,
                    &build.job,
                    &self.inner.node,
                    &limits,
                    &job.promotion,
                )
                .await?
            {
                Claim::Started(_) => {}
                Claim::NotNow => continue, // limits, or another node claimed it
                Claim::Superseded => {
                    tracing::info!(
                        job = %build.job,
                        "build #{} aborted: a newer build of the job already succeeded",
                        build.number
                    );
                    continue;
                }
            }
            let build = store.build(build.id).await?;
            let this = self.clone();
            set.spawn(async move { this.run_build(build).await });
            started += 1;
        }
        Ok(started)
    }

    /// What may keep a build of `job` from starting: `max_in_flight` (1 when serial) and the
    /// other jobs of its serial groups.
    fn claim_limits(job: &JobPlan) -> ClaimLimits {
        ClaimLimits {
            max_in_flight: job.max_in_flight,
            exclusive_with: job.exclusive_with.clone(),
        }
    }

    async fn run_build(&self, build: Build) -> Result<Build> {
        // Heartbeats tell other engines (and a restarted one) that this build is alive. When a
        // heartbeat finds the claim taken over (the build was declared interrupted and
        // re-queued elsewhere), the build stops here: it starts no further step and records
        // nothing.
        let claim_lost = {
            let store = self.inner.store.clone();
            let node = self.inner.node.clone();
            let id = build.id;
            async move {
                loop {
                    tokio::time::sleep(HEARTBEAT_EVERY).await;
                    match store.heartbeat(id, &node).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => tracing::warn!(build = id, "heartbeat failed: {}", e.report()),
                    }
                }
            }
        };
        let (id, job, number) = (build.id, build.job.clone(), build.number);
        let finished = tokio::select! {
            finished = self.inner.runner.run(build) => finished,
            () = claim_lost => {
                tracing::warn!(job = %job, "build #{number} was taken over by another node; stopped here");
                return Ok(self.inner.store.build(id).await?);
            }
        };
        let finished = finished?;
        crate::metrics::build_finished(finished.status);
        if let Some(keep) = self.inner.log_retention {
            match self.inner.store.prune_logs(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!("pruned {n} log lines (keeping {keep} builds per job)"),
                Err(e) => tracing::warn!("pruning logs failed: {}", e.report()),
            }
        }
        self.wake();
        Ok(finished)
    }

    /// Runs one scheduling pass: new builds for every job, then starts what may start.
    pub async fn tick(&self, set: &mut JoinSet<Result<Build>>) -> Result<usize> {
        self.schedule_all().await?;
        self.start_pending(set, usize::MAX).await
    }

    async fn schedule_all(&self) -> Result<()> {
        for job in &self.inner.plan.jobs {
            self.schedule_job(job).await?;
        }
        Ok(())
    }

    /// One shot: check every resource once, then run builds until nothing more can progress.
    pub async fn run_until_idle(&self) -> Result<RunSummary> {
        let mut summary = RunSummary::default();
        self.prepare().await?;
        self.recover_own().await?;
        self.recover().await?;
        for outcome in self.check_all().await {
            if let Err(e) = outcome.result {
                summary.check_errors.push((outcome.resource, e));
            }
        }
        let mut set = JoinSet::new();
        loop {
            self.tick(&mut set).await?;
            let Some(done) = set.join_next().await else {
                break;
            };
            match done {
                Ok(Ok(build)) => summary.builds.push(build),
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(SchedulerError::Refused(format!(
                        "a build task panicked: {e}"
                    )));
                }
            }
        }
        Ok(summary)
    }

    /// Long running, as one node of possibly several on the same store: see
    /// [`Scheduler::serve_node`] with the default [`NodeOptions`].
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        self.serve_node(shutdown, NodeOptions::default()).await
    }

    /// Long running, until `shutdown` resolves; running builds finish before it returns.
    ///
    /// Every node runs builds: it claims pending builds while it has capacity
    /// (`max_builds`). One node at a time is the scheduler, elected through the store's
    /// `scheduler` lease (renewed every second, valid for [`LEASE_TTL`]): it checks resources
    /// (with jitter), creates builds, and re-queues the builds of dead nodes. When it dies,
    /// another node (not `worker_only`) takes the lease over once it expires.
    pub async fn serve_node(
        &self,
        shutdown: impl Future<Output = ()>,
        options: NodeOptions,
    ) -> Result<()> {
        self.prepare_retrying().await?;
        self.recover_own().await?;
        let store = self.inner.store.clone();
        let node = self.inner.node.clone();
        let mut set = JoinSet::new();
        let mut checks: Option<JoinSet<()>> = None;
        // Until when this node may act as the scheduler (its last renewal + TTL - margin).
        let mut leader_until: Option<std::time::Instant> = None;
        let mut last_renewal: Option<std::time::Instant> = None;
        let mut last_recovery = std::time::Instant::now();
        let mut last_beat: Option<std::time::Instant> = None;
        tokio::pin!(shutdown);
        loop {
            let now = std::time::Instant::now();
            if !options.worker_only && last_renewal.is_none_or(|t| now - t >= LEASE_RENEW_EVERY) {
                last_renewal = Some(now);
                // A holder known dead (a process of this host that is gone) is not waited out.
                if leader_until.is_none()
                    && let Ok(Some(lease)) = store.lease(SCHEDULER_LEASE).await
                    && lease.holder != node
                    && node_is_dead_here(&lease.holder)
                {
                    tracing::info!(holder = %lease.holder, "the scheduler lease's holder is gone; taking it over");
                    if let Err(e) = store.release_lease(SCHEDULER_LEASE, &lease.holder).await {
                        tracing::warn!("cannot release a dead holder's lease: {}", e.report());
                    }
                }
                match store
                    .try_lease(SCHEDULER_LEASE, &node, LEASE_TTL.as_millis() as i64)
                    .await
                {
                    Ok(true) => leader_until = Some(now + LEASE_TTL - LEASE_RENEW_EVERY * 2),
                    Ok(false) => leader_until = None,
                    Err(e) => tracing::warn!("cannot renew the scheduler lease: {}", e.report()),
                }
            }
            let leader = leader_until.is_some_and(|until| now < until);
            match (leader, checks.is_some()) {
                (true, false) => {
                    tracing::info!(node = %node, "this node is now the scheduler");
                    if let Err(e) = self.recover().await {
                        tracing::error!("recovering interrupted builds failed: {}", e.report());
                    }
                    last_recovery = now;
                    checks = Some(self.spawn_check_loops());
                }
                (false, true) => {
                    tracing::warn!(node = %node, "this node is no longer the scheduler");
                    if let Some(mut c) = checks.take() {
                        c.abort_all();
                    }
                }
                _ => {}
            }
            if leader {
                if now - last_recovery >= RECOVER_EVERY {
                    last_recovery = now;
                    if let Err(e) = self.recover().await {
                        tracing::error!("recovering interrupted builds failed: {}", e.report());
                    }
                }
                if let Err(e) = self.schedule_all().await {
                    tracing::error!("scheduling pass failed: {}", e.report());
                }
            }
            let free = options.max_builds.saturating_sub(set.len());
            if let Err(e) = self.start_pending(&mut set, free).await {
                tracing::error!("starting builds failed: {}", e.report());
            }
            if last_beat.is_none_or(|t| now - t >= NODE_HEARTBEAT_EVERY) {
                last_beat = Some(now);
                let role = match (options.worker_only, leader) {
                    (true, _) => "worker",
                    (false, true) => "scheduler",
                    (false, false) => "standby",
                };
                if let Err(e) = store
                    .node_heartbeat(&node, role, options.max_builds as i64, set.len() as i64)
                    .await
                {
                    tracing::warn!("node heartbeat failed: {}", e.report());
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.inner.wake.notified() => {}
                Some(done) = set.join_next() => {
                    match done {
                        Ok(Ok(b)) => tracing::info!(job = %b.job, "build #{} {}", b.number, b.status),
                        Ok(Err(e)) => tracing::error!("build failed to run: {}", e.report()),
                        Err(e) => tracing::error!("build task panicked: {e}"),
                    }
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        if let Some(mut c) = checks.take() {
            c.abort_all();
        }
        if let Err(e) = store.release_lease(SCHEDULER_LEASE, &node).await {
            tracing::warn!("releasing the scheduler lease failed: {}", e.report());
        }
        // Draining: the node keeps heartbeating while its builds end, so that no other node
        // declares it gone and runs them a second time.
        self.inner
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if !set.is_empty() {
            tracing::info!(node = %node, "draining: waiting for {} running build(s)", set.len());
        }
        let mut beat = tokio::time::interval(NODE_HEARTBEAT_EVERY);
        while !set.is_empty() {
            tokio::select! {
                _ = set.join_next() => {}
                () = self.inner.abort.notified() => {
                    tracing::warn!(node = %node, "aborting {} running build(s); they are re-queued", set.len());
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    match store.recover_claimed_by(&node).await {
                        Ok(requeued) => {
                            for r in requeued {
                                tracing::warn!(
                                    job = %r.interrupted.job,
                                    "build #{} aborted; re-queued as #{}",
                                    r.interrupted.number,
                                    r.requeued.number
                                );
                            }
                        }
                        Err(e) => tracing::error!("re-queueing aborted builds failed: {}", e.report()),
                    }
                }
                _ = beat.tick() => {
                    if let Err(e) = store
                        .node_heartbeat(&node, "draining", options.max_builds as i64, set.len() as i64)
                        .await
                    {
                        tracing::warn!("node heartbeat failed: {}", e.report());
                    }
                }
            }
        }
        if let Err(e) = store.remove_node(&node).await {
            tracing::warn!(
                "removing this node from the node table failed: {}",
                e.report()
            );
        }
        Ok(())
    }

    /// [`Scheduler::prepare`], retried a few times: nodes starting together on one store race
    /// to record the same pipeline.
    pub async fn prepare_retrying(&self) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self.prepare().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 4 => {
                    attempt += 1;
                    tracing::debug!("recording the pipeline failed ({}); retrying", e.report());
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// How a `lockgate server` node takes part in a cluster of nodes sharing one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeOptions {
    /// Only run builds: never become the scheduler (`--worker-only`).
    pub worker_only: bool,
    /// Builds this node runs at once (`--max-builds`).
    pub max_builds: usize,
}

impl Default for NodeOptions {
    /// Scheduler-capable, two builds per core.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            worker_only: false,
            max_builds: (cores * 2).max(2),
        }
    }
}

/// Name of the lease the scheduling node holds.
pub const SCHEDULER_LEASE: &str = "scheduler";
/// How long the scheduler lease lasts unless renewed: a dead scheduler is replaced within it.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the scheduler renews its lease (and standby nodes try to take it).
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(1);
/// How often a node records its role, capacity and liveness in the node table.
pub const NODE_HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A node whose node-table heartbeat is older than this is dead: its builds are re-queued.
pub const NODE_STALE_AFTER: Duration = Duration::from_secs(15);
/// How often the scheduler looks for builds of dead nodes.
pub const RECOVER_EVERY: Duration = Duration::from_secs(5);

/// How often a running build's engine records that it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A started build whose engine has not heartbeaten for this long is re-queued.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// This engine process's node name: `host:pid`.
pub fn node_name() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    }
}

/// Whether `node` (`host:pid`) is a process of this host that no longer runs.
pub fn node_is_dead_here(node: &str) -> bool {
    let Some((host, pid)) = node.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == host_name()
        && cfg!(target_os = "linux")
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}
