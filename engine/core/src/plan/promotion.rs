//! The promotion graph of a plan (docs/promotion.md): which resources are promoted, what each
//! environment's state holds, each job's entry inputs and how its builds are judged, and the
//! rules the store applies when a build of the job is claimed and finishes.

use std::collections::{BTreeMap, BTreeSet};

use lockgate_store::{GateRule, Produced, PromotionRules};

use super::model::{EnvironmentPlan, JobPlan, Promotion};

/// Computes the promotion graph and fills in the environments' resources and the jobs' entry
/// inputs and rules. `shared`: resources declared `shared: true`.
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

    let rules: BTreeMap<String, GateRule> = jobs
        .iter()
        .map(|j| {
            (
                j.name.clone(),
                gate_rule(jobs, &promotion, j, &mut Vec::new()),
            )
        })
        .collect();
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
            .filter_map(|g| rules.get(g).cloned())
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

/// How the builds of `job` are judged: the promoted resources it gets, and for each resource
/// it gets that jobs of its environment put, those jobs' rules. `path` holds the jobs being
/// expanded, so that a cycle of puts and gets ends instead of recursing.
fn gate_rule(
    jobs: &[JobPlan],
    promotion: &Promotion,
    job: &JobPlan,
    path: &mut Vec<String>,
) -> GateRule {
    path.push(job.name.clone());
    let mut promoted = BTreeSet::new();
    let mut produced = Vec::new();
    for input in &job.inputs {
        if promotion.is_promoted(&input.resource) {
            promoted.insert(input.resource.clone());
            continue;
        }
        if produced
            .iter()
            .any(|p: &Produced| p.resource == input.resource)
        {
            continue;
        }
        let producers: Vec<&JobPlan> = jobs
            .iter()
            .filter(|k| {
                k.environment == job.environment
                    && k.outputs.contains(&input.resource)
                    && !path.contains(&k.name)
            })
            .collect();
        let by: Vec<GateRule> = producers
            .into_iter()
            .map(|k| gate_rule(jobs, promotion, k, path))
            .collect();
        if !by.is_empty() {
            produced.push(Produced {
                resource: input.resource.clone(),
                by,
            });
        }
    }
    path.pop();
    GateRule {
        job: job.name.clone(),
        promoted: promoted.into_iter().collect(),
        produced,
    }
}
