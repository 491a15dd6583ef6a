//! The promotion invariants (docs/promotion.md), checked on the durable records alone: what
//! the crash tests and the property test assert after every restart, and what an operator can
//! run against a store they doubt.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{BuildStatus, CandidateEvent, Page, Result, Store, StoredCandidateEvent};

impl Store {
    /// Checks the promotion invariants over `environments` (in promotion order) and returns
    /// every violation, in plain words (empty: all hold):
    ///
    /// 1. *No skip*: a build of environment N > 0 uses a version of a resource that environment
    ///    N−1's candidates hold only if some candidate holding that version was qualified in
    ///    N−1 before the build started.
    /// 2. *No record twice*: at most one `deployed` or `tested` per build, one `qualified`,
    ///    `approved` or `promoted` per candidate and environment.
    /// 3. *Records with results*: a build that deployed (its `put` succeeded) has its
    ///    `deployed` record unless a later build of its job deployed first; a succeeded build
    ///    judged against a candidate that deployed nothing has its `tested` record.
    /// 4. *Interrupted builds re-run*: every interrupted build has its re-queued build.
    /// 5. *Never backwards*: an environment's deployments are recorded in build order.
    pub async fn audit_promotion(&self, environments: &[String]) -> Result<Vec<String>> {
        let mut violations = Vec::new();
        let jobs: HashMap<String, Option<String>> = self
            .jobs()
            .await?
            .into_iter()
            .map(|j| (j.name, j.environment))
            .collect();
        let builds = self.builds(None, Page::first(100_000)).await?;
        let by_id: HashMap<i64, &super::Build> = builds.iter().map(|b| (b.id, b)).collect();
        let mut events: BTreeMap<&str, Vec<StoredCandidateEvent>> = BTreeMap::new();
        for env in environments {
            let mut all = Vec::new();
            let mut page = Page::first(1000);
            loop {
                let chunk = self.environment_history(env, page).await?;
                let Some(last) = chunk.last() else { break };
                page = Page::before(last.id, 1000);
                all.extend(chunk);
            }
            all.reverse();
            events.insert(env, all);
        }
        let mut candidates = HashMap::new();
        for list in events.values() {
            for e in list {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    candidates.entry(e.candidate_id)
                {
                    slot.insert(self.candidate_by_id(e.candidate_id).await?);
                }
            }
        }

        // 1. No skip.
        for (n, env) in environments.iter().enumerate().skip(1) {
            let upstream = environments[n - 1].as_str();
            let qualified: Vec<(i64, &StoredCandidateEvent)> = events[upstream]
                .iter()
                .filter(|e| e.event == CandidateEvent::Qualified)
                .map(|e| (e.at, e))
                .collect();
            let held: BTreeSet<&str> = events[upstream]
                .iter()
                .flat_map(|e| candidates[&e.candidate_id].versions.iter())
                .map(|v| v.resource.as_str())
                .collect();
            for b in builds.iter().filter(|b| {
                jobs.get(&b.job).and_then(Option::as_deref) == Some(env.as_str())
                    && b.started_at.is_some()
            }) {
                let started = b.started_at.unwrap_or(i64::MAX);
                for input in self.build_inputs(b.id).await? {
                    if !held.contains(input.resource.as_str()) {
                        continue;
                    }
                    let earned = qualified.iter().any(|(at, e)| {
                        *at <= started
                            && candidates[&e.candidate_id].versions.iter().any(|v| {
                                v.resource == input.resource && v.version_id == input.version_id
                            })
                    });
                    if !earned {
                        violations.push(format!(
                            "build {} of `{}` ({env}) used `{}` {} before any candidate holding it qualified in `{upstream}`",
                            b.number, b.job, input.resource, input.version
                        ));
                    }
                }
            }
        }

        // 2. No record twice; 5. never backwards.
        for (env, list) in &events {
            let mut per_build: BTreeMap<(i64, &str), usize> = BTreeMap::new();
            let mut once: BTreeMap<(i64, &str), usize> = BTreeMap::new();
            let mut last_order: Option<(i64, i64)> = None;
            for e in list {
                match e.event {
                    CandidateEvent::Deployed | CandidateEvent::Tested => {
                        if let Some(b) = e.build_id {
                            *per_build.entry((b, e.event.as_str())).or_default() += 1;
                        }
                    }
                    CandidateEvent::Qualified
                    | CandidateEvent::Approved
                    | CandidateEvent::Promoted => {
                        *once.entry((e.candidate_id, e.event.as_str())).or_default() += 1;
                    }
                    CandidateEvent::RolledBack => {}
                }
                if e.event == CandidateEvent::Deployed
                    && let Some(b) = e.build_id.and_then(|id| by_id.get(&id))
                {
                    if let Some((number, order)) = last_order
                        && b.order < order
                    {
                        violations.push(format!(
                            "`{env}` went back: the deployment of build {} of `{}` was recorded after that of a later build ({number})",
                            b.number, b.job
                        ));
                    }
                    last_order = Some((b.number, b.order));
                }
            }
            for ((build, event), n) in per_build.into_iter().filter(|(_, n)| *n > 1) {
                violations.push(format!(
                    "`{env}`: build id {build} recorded `{event}` {n} times"
                ));
            }
            for ((candidate, event), n) in once.into_iter().filter(|(_, n)| *n > 1) {
                violations.push(format!(
                    "`{env}`: candidate #{candidate} recorded `{event}` {n} times"
                ));
            }
        }

        // 3. Records with results.
        for b in builds
            .iter()
            // An interrupted build records nothing (the engine died); its re-queued build
            // deploys again and records (invariant 4).
            .filter(|b| {
                b.candidate_id.is_some()
                    && b.status.is_finished()
                    && b.status != BuildStatus::Interrupted
            })
        {
            let Some(Some(env)) = jobs.get(&b.job) else {
                continue;
            };
            let Some(list) = events.get(env.as_str()) else {
                continue;
            };
            let deployed = !self.build_outputs(b.id).await?.is_empty();
            if !deployed && b.status != BuildStatus::Succeeded {
                continue;
            }
            let wanted = if deployed {
                CandidateEvent::Deployed
            } else {
                CandidateEvent::Tested
            };
            let recorded = list
                .iter()
                .any(|e| e.build_id == Some(b.id) && e.event == wanted);
            let mut overtaken = false;
            if deployed {
                for o in builds.iter().filter(|o| {
                    o.job == b.job && o.order > b.order && o.finished_at <= b.finished_at
                }) {
                    if !self.build_outputs(o.id).await?.is_empty() {
                        overtaken = true;
                        break;
                    }
                }
            }
            if !recorded && !overtaken {
                violations.push(format!(
                    "build {} of `{}` finished ({}) in `{env}` without its `{wanted}` record",
                    b.number, b.job, b.status
                ));
            }
        }

        // 4. Interrupted builds re-run.
        let retried: BTreeSet<i64> = builds.iter().filter_map(|b| b.retry_of).collect();
        for b in builds
            .iter()
            .filter(|b| b.status == BuildStatus::Interrupted && !retried.contains(&b.id))
        {
            violations.push(format!(
                "build {} of `{}` was interrupted and never re-queued",
                b.number, b.job
            ));
        }
        Ok(violations)
    }
}
