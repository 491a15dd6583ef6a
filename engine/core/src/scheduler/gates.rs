//! Environment gates and promotion records: approval and soak before a candidate enters an
//! environment; deployed / tested / qualified after its builds succeed there; and the answer to
//! "why has the newest candidate not reached this environment?".

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Result, Scheduler, SchedulerError};
use crate::plan::{EnvironmentPlan, JobPlan, Plan};
use lockgate_config::Approval;
use lockgate_plugin_host::humanize;
use lockgate_store::{
    Build, BuildStatus, Candidate, CandidateEvent, NewCandidateEvent, ResolvedInput, now_ms,
};

/// Why a job did not start a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// No input is `trigger: true`: only `lockgate trigger` starts it.
    ManualOnly,
    /// Its inputs cannot be satisfied yet (no version passed the upstream jobs).
    NoInputs,
    /// The environment requires approval of this candidate.
    Approval {
        /// Environment.
        environment: String,
        /// Candidate id.
        candidate: i64,
    },
    /// The candidate has not been qualified upstream for the environment's soak time.
    Soak {
        /// Environment.
        environment: String,
        /// Candidate id.
        candidate: i64,
        /// Milliseconds left.
        remaining_ms: u64,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::ManualOnly => {
                f.write_str("no `trigger: true` input; start it with `lockgate trigger`")
            }
            Blocker::NoInputs => f.write_str("no set of versions satisfies its inputs yet"),
            Blocker::Approval {
                environment,
                candidate,
            } => write!(
                f,
                "candidate #{candidate} waits for approval to enter `{environment}` (approve it in the dashboard or with `lockgate approve {environment} {candidate}`)"
            ),
            Blocker::Soak {
                environment,
                candidate,
                remaining_ms,
            } => write!(
                f,
                "candidate #{candidate} soaks before entering `{environment}`: {} left",
                humanize(Duration::from_millis(*remaining_ms))
            ),
        }
    }
}

/// What `lockgate why ENVIRONMENT` and `status` report for one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvironmentStatus {
    /// Environment name.
    pub environment: String,
    /// The environment before it in promotion order (`None`: the first, whose candidates come
    /// from resource checks).
    pub upstream: Option<String>,
    /// The candidate it runs now (id and versions), if any.
    pub current: Option<CandidateSummary>,
    /// The newest candidate qualified in the environment, if any.
    pub qualified: Option<CandidateSummary>,
    /// The newest candidate that could enter it (qualified upstream), if it has not yet.
    pub next: Option<CandidateSummary>,
    /// What holds `next` back, in plain words (empty when nothing does).
    pub blockers: Vec<String>,
}

/// A candidate for display.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateSummary {
    /// Candidate id.
    pub id: i64,
    /// `resource: version` pairs.
    pub versions: Vec<String>,
}

impl From<&Candidate> for CandidateSummary {
    fn from(c: &Candidate) -> Self {
        Self {
            id: c.id,
            versions: c
                .versions
                .iter()
                .map(|v| format!("{} {}", v.resource, v.version))
                .collect(),
        }
    }
}

impl Scheduler {
    /// The gate that holds `inputs` out of `job`'s environment, if any.
    pub(super) async fn gate(
        &self,
        job: &JobPlan,
        inputs: &[ResolvedInput],
    ) -> Result<Option<Blocker>> {
        let Some(env) = self.inner.plan.environment(&job.environment) else {
            return Ok(None);
        };
        let Some(candidate) = self.candidate_of(inputs).await? else {
            return Ok(None);
        };
        self.gate_candidate(env, &candidate).await
    }

    /// What holds `candidate` out of `env` (soak, then approval); nothing once it entered.
    async fn gate_candidate(
        &self,
        env: &EnvironmentPlan,
        candidate: &Candidate,
    ) -> Result<Option<Blocker>> {
        let plan = &self.inner.plan;
        let store = &self.inner.store;
        let events = store.candidate_events(candidate.id).await?;
        let entered = events
            .iter()
            .any(|e| e.environment == env.name && e.event == CandidateEvent::Promoted);
        if entered {
            return Ok(None);
        }
        if let Some(soak) = env.soak
            && let Some(upstream) = plan.upstream_of(env)
        {
            let upstream = &upstream.name;
            let qualified_at = events
                .iter()
                .find(|e| &e.environment == upstream && e.event == CandidateEvent::Qualified)
                .map(|e| e.at);
            let soak_ms = i64::try_from(soak.as_millis()).unwrap_or(i64::MAX);
            let remaining = match qualified_at {
                Some(at) => (at.saturating_add(soak_ms) - now_ms()).max(0),
                None => soak_ms,
            };
            if remaining > 0 {
                return Ok(Some(Blocker::Soak {
                    environment: env.name.clone(),
                    candidate: candidate.id,
                    remaining_ms: remaining as u64,
                }));
            }
        }
        if env.approval == Approval::Required
            && store.approval(&env.name, candidate.id).await?.is_none()
        {
            return Ok(Some(Blocker::Approval {
                environment: env.name.clone(),
                candidate: candidate.id,
            }));
        }
        Ok(None)
    }

    /// After a build succeeded: records what its candidate did in the environment (deployed or
    /// tested) and, when every gate job of the environment succeeded with it, that it is
    /// qualified there.
    pub(super) async fn after_success(&self, build: &Build) -> Result<()> {
        let store = &self.inner.store;
        let plan = &self.inner.plan;
        let Some(job) = plan.job(&build.job) else {
            return Ok(());
        };
        let Some(env) = plan.environment(&job.environment) else {
            return Ok(());
        };
        let inputs = self.build_inputs(build.id).await?;
        let Some(candidate) = self.candidate_of(&inputs).await? else {
            return Ok(());
        };
        let event = if job.deploys {
            CandidateEvent::Deployed
        } else {
            CandidateEvent::Tested
        };
        let detail = serde_json::json!({ "job": job.name, "build": build.number });
        store
            .record_event(&NewCandidateEvent {
                candidate_id: candidate.id,
                environment: env.name.clone(),
                event,
                by: Some(job.name.clone()),
                build_id: Some(build.id),
                detail: Some(detail),
            })
            .await?;

        // Qualified when every gate job has a succeeded build with this candidate.
        let events = store.candidate_events(candidate.id).await?;
        let mut jobs_done = std::collections::BTreeSet::new();
        for e in events.iter().filter(|e| {
            e.environment == env.name
                && matches!(e.event, CandidateEvent::Deployed | CandidateEvent::Tested)
        }) {
            if let Some(id) = e.build_id {
                let b = store.build(id).await?;
                if b.status == BuildStatus::Succeeded {
                    jobs_done.insert(b.job);
                }
            }
        }
        if env.gate_jobs.iter().all(|g| jobs_done.contains(g)) {
            let first = store
                .record_event(&NewCandidateEvent {
                    candidate_id: candidate.id,
                    environment: env.name.clone(),
                    event: CandidateEvent::Qualified,
                    by: Some(self.inner.node.clone()),
                    build_id: Some(build.id),
                    detail: None,
                })
                .await?;
            if first {
                tracing::info!(environment = %env.name, "candidate #{} qualified", candidate.id);
            }
        }
        Ok(())
    }

    /// Approves a candidate for `environment` as `approver`: the given one, or else the newest
    /// candidate waiting at that environment's gate (qualified upstream, not yet entered). An
    /// environment without `approval: required` is refused: an approval there would mean
    /// nothing.
    pub async fn approve(
        &self,
        environment: &str,
        candidate: Option<i64>,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<(Candidate, bool)> {
        if let Some(env) = self.inner.plan.environment(environment)
            && env.approval == Approval::Automatic
        {
            return Err(SchedulerError::Unknown(format!(
                "`{environment}` does not require approval (`approval: automatic`): its candidates enter as soon as they qualify upstream; nothing was recorded"
            )));
        }
        let status = self.environment_status(environment).await?;
        let store = &self.inner.store;
        let id = match candidate {
            Some(id) => id,
            None => status.next.map(|c| c.id).ok_or_else(|| {
                SchedulerError::Unknown(format!(
                    "no candidate is waiting to enter `{environment}`; name one: `lockgate approve {environment} CANDIDATE`"
                ))
            })?,
        };
        let candidate = store.candidate_by_id(id).await?;
        let first = store.approve(environment, id, approver, comment).await?;
        self.wake();
        Ok((candidate, first))
    }

    /// Where `environment` stands and what holds its next candidate back.
    pub async fn environment_status(&self, environment: &str) -> Result<EnvironmentStatus> {
        let plan = &self.inner.plan;
        let store = &self.inner.store;
        let env = plan
            .environment(environment)
            .ok_or_else(|| SchedulerError::Unknown(unknown_env(plan, environment)))?;
        let current = store.current_candidate(environment).await?.map(|(c, _)| c);
        let qualified = store.newest_qualified(environment).await?.map(|(c, _)| c);
        let mut blockers = Vec::new();
        let next = match plan.upstream_of(env).map(|u| &u.name) {
            None => None,
            Some(upstream) => match store.newest_qualified(upstream).await? {
                None => {
                    blockers.push(format!("no candidate has qualified in `{upstream}` yet"));
                    None
                }
                Some((c, _)) => {
                    let events = store.candidate_events(c.id).await?;
                    let entered = events.iter().any(|e| {
                        e.environment == environment && e.event == CandidateEvent::Promoted
                    });
                    if entered && qualified.as_ref().is_some_and(|q| q.id == c.id) {
                        None
                    } else {
                        self.explain(env, &c, &events, &mut blockers).await?;
                        Some(c)
                    }
                }
            },
        };
        Ok(EnvironmentStatus {
            environment: environment.to_owned(),
            upstream: plan.upstream_of(env).map(|u| u.name.clone()),
            current: current.as_ref().map(Into::into),
            qualified: qualified.as_ref().map(Into::into),
            next: next.as_ref().map(Into::into),
            blockers,
        })
    }

    /// Collects what holds candidate `c` back from `env`.
    async fn explain(
        &self,
        env: &EnvironmentPlan,
        c: &Candidate,
        events: &[lockgate_store::StoredCandidateEvent],
        blockers: &mut Vec<String>,
    ) -> Result<()> {
        let store = &self.inner.store;
        let name = &env.name;
        let entered = events
            .iter()
            .any(|e| &e.environment == name && e.event == CandidateEvent::Promoted);
        if !entered {
            match self.gate_candidate(env, c).await? {
                Some(blocker) => blockers.push(blocker.to_string()),
                None => blockers.push(format!(
                    "candidate #{} passed the gates of `{name}` and starts with the next scheduling pass",
                    c.id
                )),
            }
            return Ok(());
        }
        // It entered: which gate jobs have not succeeded with it, and why.
        let pairs: Vec<(&str, i64)> = c
            .versions
            .iter()
            .map(|v| (v.resource.as_str(), v.version_id))
            .collect();
        for gate in self.inner.plan.gate_jobs(env) {
            let builds = store.builds_with_versions(&gate.name, &pairs).await?;
            match builds.last() {
                None => blockers.push(format!(
                    "job `{}` has not run with candidate #{}",
                    gate.name, c.id
                )),
                Some(b) if b.status == BuildStatus::Succeeded => {}
                Some(b) if !b.status.is_finished() => blockers.push(format!(
                    "job `{}` build #{} is {}",
                    gate.name, b.number, b.status
                )),
                Some(b) => {
                    let mut line = format!("job `{}` build #{} {}", gate.name, b.number, b.status);
                    for report in store.test_reports(b.id).await? {
                        for case in report.report.cases().filter(|c| {
                            matches!(
                                c.status,
                                lockgate_plugin_host::CaseStatus::Failed
                                    | lockgate_plugin_host::CaseStatus::Errored
                            )
                        }) {
                            line.push_str(&format!(
                                "\n    {} {}: {}",
                                case.status,
                                case.name,
                                case.message.as_deref().unwrap_or("")
                            ));
                        }
                    }
                    blockers.push(line);
                }
            }
        }
        Ok(())
    }
}

fn unknown_env(plan: &Plan, name: &str) -> String {
    let names: Vec<&str> = plan.environments.iter().map(|e| e.name.as_str()).collect();
    format!(
        "no environment `{name}` in the pipeline (environments: {})",
        names.join(", ")
    )
}

impl Scheduler {
    /// Re-deploys the last qualified candidate of `environment` other than the one it runs now
    /// (`lockgate rollback`): queues a build of every deploying job (a job with a `put`) of the
    /// environment with that candidate's versions pinned, and records the rollback. The builds
    /// run on the next scheduling pass (`lockgate run`, or a running server).
    pub async fn rollback(&self, environment: &str, by: &str) -> Result<(Candidate, Vec<Build>)> {
        let plan = &self.inner.plan;
        let store = &self.inner.store;
        let env = plan
            .environment(environment)
            .ok_or_else(|| SchedulerError::Unknown(unknown_env(plan, environment)))?;
        let current = store
            .current_candidate(environment)
            .await?
            .map(|(c, _)| c.id);
        let mut target = None;
        let mut page = lockgate_store::Page::first(200);
        'search: loop {
            let events = store.environment_history(environment, page).await?;
            let Some(last) = events.last() else { break };
            page = lockgate_store::Page::before(last.id, 200);
            for e in &events {
                if e.event == CandidateEvent::Qualified && Some(e.candidate_id) != current {
                    target = Some(e.candidate_id);
                    break 'search;
                }
            }
        }
        let target = target.ok_or_else(|| {
            SchedulerError::Unknown(format!(
                "`{environment}` has no earlier qualified candidate to roll back to"
            ))
        })?;
        let candidate = store.candidate_by_id(target).await?;
        let mut builds = Vec::new();
        for job in plan.jobs_in(&env.name) {
            if !job.deploys {
                continue;
            }
            let specs: Vec<lockgate_store::InputSpec> = Self::input_specs(job)
                .into_iter()
                .map(|mut spec| {
                    if let Some(v) = candidate
                        .versions
                        .iter()
                        .find(|v| v.resource == spec.resource)
                    {
                        spec.version = lockgate_model::VersionPolicy::Pinned(v.version.clone());
                    }
                    spec
                })
                .collect();
            let Some(inputs) = self.inner.resolver.resolve(&job.name, &specs).await? else {
                return Err(SchedulerError::Unknown(format!(
                    "job `{}` cannot get the versions of candidate #{target} any more",
                    job.name
                )));
            };
            builds.push(
                store
                    .create_build(
                        &job.name,
                        &format!("rollback to candidate #{target}"),
                        &inputs,
                    )
                    .await?,
            );
        }
        store
            .record_event(&NewCandidateEvent {
                candidate_id: target,
                environment: environment.to_owned(),
                event: CandidateEvent::RolledBack,
                by: Some(by.to_owned()),
                build_id: builds.first().map(|b| b.id),
                detail: None,
            })
            .await?;
        self.wake();
        Ok((candidate, builds))
    }
}
