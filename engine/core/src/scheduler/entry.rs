//! How a job of environment N > 0 enters: its entry inputs are taken, together, from one
//! candidate qualified in N−1 — the newest one it has not run whose gates (soak, approval) are
//! open (docs/promotion.md). The other inputs resolve as usual.

use lockgate_model::VersionPolicy;
use lockgate_store::{Candidate, ResolvedInput};

use super::{Blocker, Result, Scheduler};
use crate::plan::JobPlan;

/// How many of the newest candidates qualified upstream a job looks at.
const LOOK_BACK: u32 = 50;

/// What a job of a later environment may take now.
#[derive(Debug, Clone)]
pub(super) enum Entry {
    /// The job has no entry inputs: it resolves as usual.
    Free,
    /// It may start with these inputs, taking this candidate from upstream.
    Ready {
        candidate: Candidate,
        inputs: Vec<ResolvedInput>,
    },
    /// The newest candidate it could take waits at the environment's gate.
    Gated {
        candidate: Candidate,
        blocker: Blocker,
    },
    /// Nothing new: it ran the newest qualified candidate it can get, or none qualified.
    UpToDate {
        /// The newest qualified candidate it ran, if any.
        ran: Option<Candidate>,
    },
}

impl Scheduler {
    /// What `job` may take now. With `rerun`, a candidate the job already ran is taken again
    /// (a manual trigger); otherwise the search stops there.
    pub(super) async fn entry(&self, job: &JobPlan, rerun: bool) -> Result<Entry> {
        let plan = &self.inner.plan;
        let store = &self.inner.store;
        let Some(env) = plan.environment(&job.environment) else {
            return Ok(Entry::Free);
        };
        let Some(upstream) = plan.upstream_of(env) else {
            return Ok(Entry::Free);
        };
        if job.entry.is_empty() {
            return Ok(Entry::Free);
        }
        let mut gated: Option<(Candidate, Blocker)> = None;
        for event in store.qualified_events(&upstream.name, LOOK_BACK).await? {
            let candidate = store.candidate_by_id(event.candidate_id).await?;
            let mut specs = Self::input_specs(job);
            let mut complete = true;
            for spec in specs.iter_mut().filter(|s| job.entry.contains(&s.name)) {
                match candidate
                    .versions
                    .iter()
                    .find(|v| v.resource == spec.resource)
                {
                    Some(v) => spec.version = VersionPolicy::Pinned(v.version.clone()),
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let Some(inputs) = self.inner.resolver.resolve(&job.name, &specs).await? else {
                continue;
            };
            // A resource pinned by an operator overrides a version asked for: the candidate's
            // versions must be what the job gets, or the job cannot take this candidate.
            let exact = inputs
                .iter()
                .filter(|i| job.entry.contains(&i.name))
                .all(|i| {
                    candidate
                        .versions
                        .iter()
                        .any(|v| v.resource == i.resource && v.version_id == i.version_id)
                });
            if !exact {
                continue;
            }
            // Already run, or nothing new to trigger on (a manual job is triggered by hand,
            // so only the former counts for it).
            let manual = job.triggers().next().is_none();
            if !rerun
                && (store.has_build_with_inputs(&job.name, &inputs).await?
                    || (!manual && !self.fresh(job, &inputs).await?))
            {
                return Ok(match gated {
                    Some((candidate, blocker)) => Entry::Gated { candidate, blocker },
                    None => Entry::UpToDate {
                        ran: Some(candidate),
                    },
                });
            }
            match self.gate_candidate(env, &candidate).await? {
                Some(blocker) => {
                    // An older candidate that is admitted (approved by id) may still go.
                    if gated.is_none() {
                        gated = Some((candidate, blocker));
                    }
                }
                None => return Ok(Entry::Ready { candidate, inputs }),
            }
        }
        Ok(match gated {
            Some((candidate, blocker)) => Entry::Gated { candidate, blocker },
            None => Entry::UpToDate { ran: None },
        })
    }
}
