//! The promotion graph of a plan (docs/promotion.md): which resources are promoted, what each
//! environment's state holds, each job's relevant set and entry inputs, and the rules the store
//! applies when a build of the job is claimed and finishes.

use std::collections::{BTreeMap, BTreeSet};

use lockgate_store::{GateRule, PromotionRules};

use super::model::{EnvironmentPlan, JobPlan, Promotion};

/// Computes the promotion graph and fills in the environments' resources and the jobs'
/// relevant sets, entry inputs and rules. `shared`: resources declared `shared: true`.
pub(super) fn promotion(
    environments: &mut [EnvironmentPlan],
    jobs: &mut [JobPlan],
    shared: &BTreeSet<String>,
) -> Promotion {
    let order: BTreeMap<String, usize> = environments
        .iter()
        .map(|e| (e.name.clone(), e.index))
        .collect();
    let mut by_resource: BTreeMap<&str, BTreeMap<usize, Vec<String>>> = BTreeMap::new();
    for job in jobs.iter() {
        let Some(&env) = order.get(&job.environment) else {
            continue;
        };
        for input in &job.inputs {
            if shared.contains(&input.resource) {
                continue;
            }
            let names = by_resource
                .entry(input.resource.as_str())
                .or_default()
                .entry(env)
                .or_default();
            if !names.contains(&job.name) {
                names.push(job.name.clone());
            }
        }
    }
    let mut promotion = Promotion::default();
    for (resource, envs) in by_resource.into_iter().filter(|(_, e)| e.len() >= 2) {
        promotion.promoted.insert(resource.to_owned());
        promotion.through.insert(
            resource.to_owned(),
            envs.into_iter()
                .map(|(i, names)| (environments[i].name.clone(), names))
                .collect(),
        );
    }

    // Each environment's state: the promoted resources its jobs get.
    for env in environments.iter_mut() {
        let resources: BTreeSet<String> = jobs
            .iter()
            .filter(|j| j.environment == env.name)
            .flat_map(|j| &j.inputs)
            .filter(|i| promotion.is_promoted(&i.resource))
            .map(|i| i.resource.clone())
            .collect();
        env.resources = resources.into_iter().collect();
    }

    let relevant = relevant_sets(jobs, &promotion);
    for job in jobs.iter_mut() {
        job.relevant = relevant[&job.name].iter().cloned().collect();
    }
    for env in environments.iter() {
        let upstream: BTreeSet<&String> = env
            .index
            .checked_sub(1)
            .map(|i| environments[i].resources.iter().collect())
            .unwrap_or_default();
        let in_env: BTreeSet<String> = jobs
            .iter()
            .filter(|j| j.environment == env.name)
            .map(|j| j.name.clone())
            .collect();
        // Promoted resources some deploying job of the environment gets: only deployments set
        // their state.
        let deployed: BTreeSet<String> = jobs
            .iter()
            .filter(|j| j.environment == env.name && j.deploys)
            .flat_map(|j| &j.inputs)
            .filter(|i| promotion.is_promoted(&i.resource))
            .map(|i| i.resource.clone())
            .collect();
        let gates: Vec<GateRule> = env
            .gate_jobs
            .iter()
            .filter_map(|g| jobs.iter().find(|j| &j.name == g))
            .map(|g| GateRule {
                job: g.name.clone(),
                relevant: g.relevant.clone(),
            })
            .collect();
        for job in jobs.iter_mut().filter(|j| j.environment == env.name) {
            job.entry = job
                .inputs
                .iter()
                .filter(|i| {
                    upstream.contains(&i.resource) && !i.passed.iter().any(|p| in_env.contains(p))
                })
                .map(|i| i.name.clone())
                .collect();
            let promoted: BTreeSet<String> = job
                .inputs
                .iter()
                .filter(|i| promotion.is_promoted(&i.resource))
                .map(|i| i.resource.clone())
                .collect();
            job.promotion = PromotionRules {
                environment: env.name.clone(),
                resources: env.resources.clone(),
                sets_state: promoted
                    .into_iter()
                    .filter(|r| job.deploys || !deployed.contains(r))
                    .collect(),
                deploys: job.deploys,
                gates: gates.clone(),
            };
        }
    }
    promotion
}

/// Each job's relevant set: the promoted resources it gets, plus the relevant sets of the jobs
/// of its environment it depends on — those named in its `passed` lists, and those that put a
/// resource it gets. Computed to a fixed point (dependencies form no cycle that matters: a set
/// only grows).
fn relevant_sets(jobs: &[JobPlan], promotion: &Promotion) -> BTreeMap<String, BTreeSet<String>> {
    let mut sets: BTreeMap<String, BTreeSet<String>> = jobs
        .iter()
        .map(|j| {
            let own = j
                .inputs
                .iter()
                .filter(|i| promotion.is_promoted(&i.resource))
                .map(|i| i.resource.clone())
                .collect();
            (j.name.clone(), own)
        })
        .collect();
    let depends: BTreeMap<&str, BTreeSet<&str>> = jobs
        .iter()
        .map(|j| {
            let mut on = BTreeSet::new();
            for input in &j.inputs {
                for other in jobs.iter().filter(|o| o.environment == j.environment) {
                    if other.name == j.name {
                        continue;
                    }
                    if input.passed.contains(&other.name) || other.outputs.contains(&input.resource)
                    {
                        on.insert(other.name.as_str());
                    }
                }
            }
            (j.name.as_str(), on)
        })
        .collect();
    loop {
        let mut changed = false;
        for (job, on) in &depends {
            let mut add = BTreeSet::new();
            for other in on {
                add.extend(sets[*other].iter().cloned());
            }
            let set = sets.get_mut(*job).expect("every job has a set");
            let before = set.len();
            set.extend(add);
            changed |= set.len() != before;
        }
        if !changed {
            return sets;
        }
    }
}
