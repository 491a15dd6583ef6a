//! Environment gates and promotion records: approval and soak before a candidate enters an
//! environment; deployed / tested / qualified after its builds succeed there; and the answer to
//! "why has the newest candidate not reached this environment?".

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::entry::Entry;
use super::{Result, Scheduler, SchedulerError};
use crate::plan::{EnvironmentPlan, JobPlan, Plan};
use lockgate_config::Approval;
use lockgate_plugin_host::humanize;
use lockgate_store::{Build, BuildStatus, Candidate, CandidateEvent, now_ms};

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
    /// What holds `candidate`, qualified in the environment before `env`, out of `env`: its
    /// soak time, then its approval.
    pub(super) async fn gate_candidate(
        &self,
        env: &EnvironmentPlan,
        candidate: &Candidate,
    ) -> Result<Option<Blocker>> {
        let plan = &self.inner.plan;
        let store = &self.inner.store;
        if let Some(soak) = env.soak
            && let Some(upstream) = plan.upstream_of(env)
        {
            let events = store.candidate_events(candidate.id).await?;
            let qualified_at = events
                .iter()
                .find(|e| e.environment == upstream.name && e.event == CandidateEvent::Qualified)
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

    /// What each job of `env` that enters from upstream may take now, in file order.
    async fn entries<'a>(&'a self, env: &EnvironmentPlan) -> Result<Vec<(&'a JobPlan, Entry)>> {
        let mut out = Vec::new();
        for job in self
            .inner
            .plan
            .jobs
            .iter()
            .filter(|j| j.environment == env.name)
        {
            match self.entry(job, false).await? {
                Entry::Free => {}
                entry => out.push((job, entry)),
            }
        }
        Ok(out)
    }

    /// Approves a candidate for `environment` as `approver`: the given one, or else the one
    /// the environment's jobs wait for (the newest candidate qualified upstream held at the
    /// approval gate). One approval admits it for every job of the environment. An environment
    /// without `approval: required` is refused: an approval there would mean nothing.
    pub async fn approve(
        &self,
        environment: &str,
        candidate: Option<i64>,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<(Candidate, bool)> {
        let plan = &self.inner.plan;
        let env = plan
            .environment(environment)
            .ok_or_else(|| SchedulerError::Refused(unknown_env(plan, environment)))?;
        if env.approval == Approval::Automatic {
            return Err(SchedulerError::Refused(format!(
                "`{environment}` does not require approval (`approval: automatic`): its candidates enter as soon as they qualify upstream; nothing was recorded"
            )));
        }
        let Some(upstream) = plan.upstream_of(env) else {
            return Err(SchedulerError::Refused(format!(
                "`{environment}` is the first environment: its changes come from resource checks, not from a qualified candidate, so there is nothing to approve; nothing was recorded"
            )));
        };
        let store = &self.inner.store;
        let id = match candidate {
            Some(id) => {
                store.candidate_by_id(id).await?;
                let qualified = store.candidate_events(id).await?.iter().any(|e| {
                    e.environment == upstream.name && e.event == CandidateEvent::Qualified
                });
                if !qualified {
                    return Err(SchedulerError::Refused(format!(
                        "candidate #{id} is not qualified in `{}`: approving it would admit nothing into `{environment}`; nothing was recorded (`lockgate why {environment}`)",
                        upstream.name
                    )));
                }
                id
            }
            None => {
                let mut waiting: Option<i64> = None;
                for (_, entry) in self.entries(env).await? {
                    if let Entry::Gated {
                        candidate,
                        blocker: Blocker::Approval { .. },
                    } = entry
                    {
                        waiting = Some(waiting.map_or(candidate.id, |w| w.max(candidate.id)));
                    }
                }
                waiting.ok_or_else(|| {
                    SchedulerError::Refused(format!(
                        "no candidate waits for approval to enter `{environment}` (`lockgate why {environment}` says what holds it); to approve one ahead of time, name it: `lockgate approve {environment} CANDIDATE`"
                    ))
                })?
            }
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
            .ok_or_else(|| SchedulerError::Refused(unknown_env(plan, environment)))?;
        let current = store.current_candidate(environment).await?.map(|(c, _)| c);
        let qualified = store.newest_qualified(environment).await?.map(|(c, _)| c);
        let mut blockers = Vec::new();
        let mut next: Option<Candidate> = None;
        let upstream = plan.upstream_of(env);
        if upstream.is_some() {
            for (job, entry) in self.entries(env).await? {
                let (candidate, line) = match entry {
                    Entry::Ready { candidate, .. } => {
                        let line = if job.triggers().next().is_none() {
                            format!(
                                "job `{}` waits for a manual trigger to take candidate #{} (`lockgate trigger {}`)",
                                job.name, candidate.id, job.name
                            )
                        } else {
                            format!(
                                "job `{}` takes candidate #{} at the next scheduling pass",
                                job.name, candidate.id
                            )
                        };
                        (candidate, line)
                    }
                    Entry::Gated { candidate, blocker } => (candidate, blocker.to_string()),
                    Entry::Free | Entry::UpToDate { .. } => continue,
                };
                if !blockers.contains(&line) {
                    blockers.push(line);
                }
                if next.as_ref().is_none_or(|n| n.id < candidate.id) {
                    next = Some(candidate);
                }
            }
        }
        // The newest change that entered here and has not qualified: what holds it.
        if let Some((entered, _)) = store.newest_entered(environment).await?
            && !self.is_qualified(environment, entered.id).await?
        {
            blockers.push(match upstream {
                None => format!(
                    "the newest change, candidate #{} (new versions of {}), has not qualified in `{environment}`:",
                    entered.id,
                    env.resources
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(_) => format!(
                    "the newest change here, candidate #{}, has not qualified in `{environment}`:",
                    entered.id
                ),
            });
            self.explain_unqualified(env, &entered, &mut blockers)
                .await?;
        } else if let Some(upstream) = upstream
            && next.is_none()
            && let Some((entered, _)) = store.newest_entered(&upstream.name).await?
            && !self.is_qualified(&upstream.name, entered.id).await?
        {
            // Nothing waits here: what holds the newest change upstream.
            blockers.push(format!(
                "the newest change in `{}`, candidate #{}, has not qualified there:",
                upstream.name, entered.id
            ));
            self.explain_unqualified(upstream, &entered, &mut blockers)
                .await?;
        }
        Ok(EnvironmentStatus {
            environment: environment.to_owned(),
            upstream: upstream.map(|u| u.name.clone()),
            current: current.as_ref().map(Into::into),
            qualified: qualified.as_ref().map(Into::into),
            next: next.as_ref().map(Into::into),
            blockers,
        })
    }

    async fn is_qualified(&self, environment: &str, candidate: i64) -> Result<bool> {
        Ok(self
            .inner
            .store
            .candidate_events(candidate)
            .await?
            .iter()
            .any(|e| e.environment == environment && e.event == CandidateEvent::Qualified))
    }

    /// Says, for each gate job of `env` that does not count for `c`, why: its build that
    /// failed (with the failing test cases), is still running, or that it has not run.
    async fn explain_unqualified(
        &self,
        env: &EnvironmentPlan,
        c: &Candidate,
        blockers: &mut Vec<String>,
    ) -> Result<()> {
        let store = &self.inner.store;
        let blocked = self.blocked();
        for gate in self.inner.plan.gate_jobs(env) {
            let Some(rule) = gate.promotion.gates.iter().find(|r| r.job == gate.name) else {
                continue;
            };
            let matching = store.gate_attempts(c.id, rule).await?;
            if matching.iter().any(|b| b.status == BuildStatus::Succeeded) {
                continue;
            }
            let builds = store
                .builds(Some(&gate.name), lockgate_store::Page::first(1))
                .await?;
            let line = match (matching.first(), builds.first()) {
                (Some(b), _) if !b.status.is_finished() => {
                    format!("  job `{}` build #{} is {}", gate.name, b.number, b.status)
                }
                (_, Some(b)) if b.status == BuildStatus::Pending => {
                    format!("  job `{}` build #{} is pending", gate.name, b.number)
                }
                (Some(b), _) => {
                    let mut line =
                        format!("  job `{}` build #{} {}", gate.name, b.number, b.status);
                    for report in store.test_reports(b.id).await? {
                        for case in report.report.cases().filter(|c| {
                            matches!(
                                c.status,
                                lockgate_plugin_host::CaseStatus::Failed
                                    | lockgate_plugin_host::CaseStatus::Errored
                            )
                        }) {
                            line.push_str(&format!(
                                "\n      {} {}: {}",
                                case.status,
                                case.name,
                                case.message.as_deref().unwrap_or("")
                            ));
                        }
                    }
                    line
                }
                (None, _) => {
                    let mut line =
                        format!("  job `{}` has not run with candidate #{}", gate.name, c.id);
                    if let Some(b) = blocked.get(&gate.name) {
                        line.push_str(&format!(": {b}"));
                    }
                    line
                }
            };
            blockers.push(line);
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
            .ok_or_else(|| SchedulerError::Refused(unknown_env(plan, environment)))?;
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
            SchedulerError::Refused(format!(
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
                return Err(SchedulerError::Refused(format!(
                    "job `{}` cannot get the versions of candidate #{target} any more",
                    job.name
                )));
            };
            // A pinned resource overrides the candidate's version: refuse rather than deploy
            // something else than what was qualified.
            if let Some(other) = inputs.iter().find(|i| {
                candidate
                    .versions
                    .iter()
                    .any(|v| v.resource == i.resource && v.version_id != i.version_id)
            }) {
                return Err(SchedulerError::Refused(format!(
                    "`{}` is pinned to {}, not the version of candidate #{target}; unpin it (`lockgate unpin {}`) to roll back",
                    other.resource, other.version, other.resource
                )));
            }
            builds.push(lockgate_store::NewBuild {
                job: job.name.clone(),
                reason: format!("rollback to candidate #{target}"),
                inputs,
            });
        }
        let builds = store.rollback(environment, target, by, &builds).await?;
        self.wake();
        Ok((candidate, builds))
    }
}
