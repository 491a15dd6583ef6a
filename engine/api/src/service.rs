//! The API's answers as [wire](crate::wire) types, computed once: reads from the store and
//! the scheduler, writes through [`Operations`]. The HTTP handlers and the `lockgate`
//! command line's local backend both call these, so a command prints the same whether it
//! asks a server or opens the state itself.
//!
//! Names and shapes come from the scheduler's compiled plan.

use lockgate_config::{Approval, CheckEvery};
use lockgate_engine::operations::{OperationError, Operations};
use lockgate_engine::scheduler::{SCHEDULER_LEASE, Scheduler};
use lockgate_model::Version;
use lockgate_store::{Page, Store};

use crate::wire;

/// Result alias: unknown names and store failures.
pub type Result<T, E = OperationError> = std::result::Result<T, E>;

fn check_every(c: CheckEvery) -> String {
    match c {
        CheckEvery::Never => "never".to_owned(),
        CheckEvery::Interval(d) => format!("{}ms", d.as_millis()),
    }
}

/// The pipeline as a graph: environments in order (with their effective gate jobs),
/// resources, jobs with their inputs and outputs, and the `passed` edges.
pub fn graph(scheduler: &Scheduler) -> wire::PipelineGraph {
    let p = scheduler.plan();
    let environments = p
        .environments
        .iter()
        .map(|e| wire::GraphEnvironment {
            name: e.name.clone(),
            approval: match e.approval {
                Approval::Automatic => wire::Approval::Automatic,
                Approval::Required => wire::Approval::Required,
            },
            soak_ms: e.soak.map(|s| s.as_millis() as u64),
            gate: Some(e.gate_jobs.clone()),
            resources: e.resources.clone(),
            jobs: p.jobs_in(&e.name).map(|j| j.name.clone()).collect(),
        })
        .collect();
    let resources = p
        .resources
        .iter()
        .map(|r| wire::ResourceFacts {
            name: r.name.clone(),
            type_name: r.type_name.clone(),
            check_every: check_every(r.check_every),
            webhook: r.webhook_token.is_some(),
            role: if r.shared {
                wire::ResourceRole::Shared
            } else if p.promotion.is_promoted(&r.name) {
                wire::ResourceRole::Promoted
            } else {
                wire::ResourceRole::Local
            },
        })
        .collect();
    let mut edges = Vec::new();
    let jobs = p
        .jobs
        .iter()
        .map(|j| {
            let inputs = j
                .inputs
                .iter()
                .map(|g| {
                    for from in &g.passed {
                        edges.push(wire::GraphEdge {
                            from: from.clone(),
                            to: j.name.clone(),
                            resource: g.resource.clone(),
                        });
                    }
                    wire::GraphInput {
                        name: g.name.clone(),
                        resource: g.resource.clone(),
                        passed: g.passed.clone(),
                        trigger: g.trigger,
                    }
                })
                .collect();
            wire::GraphJob {
                name: j.name.clone(),
                environment: j.environment.clone(),
                serial: j.max_in_flight == Some(1),
                inputs,
                outputs: j.outputs.clone(),
            }
        })
        .collect();
    wire::PipelineGraph {
        environments,
        resources,
        jobs,
        edges,
    }
}

/// Each resource with its type, newest and pinned version.
pub async fn resources(scheduler: &Scheduler) -> Result<Vec<wire::ResourceSummary>> {
    let store = scheduler.store();
    let mut out = Vec::new();
    for r in graph(scheduler).resources {
        let latest = store.latest_version(&r.name).await?;
        let pinned = store.pinned_version(&r.name).await?;
        out.push(wire::ResourceSummary {
            latest: latest.as_ref().map(Into::into),
            pinned: pinned.as_ref().map(Into::into),
            name: r.name,
            type_name: r.type_name,
            check_every: r.check_every,
            webhook: r.webhook,
            role: r.role,
        });
    }
    Ok(out)
}

/// A page of the versions of `resource`, newest first.
pub async fn versions(
    scheduler: &Scheduler,
    resource: &str,
    page: Page,
) -> Result<wire::VersionPage> {
    Operations::new(scheduler).require_resource(resource)?;
    let versions = scheduler.store().versions(resource, page).await?;
    let next_before = (versions.len() as u32 == page.limit)
        .then(|| versions.last().map(|v| v.check_order))
        .flatten();
    Ok(wire::VersionPage {
        resource: resource.to_owned(),
        versions: versions.iter().map(Into::into).collect(),
        next_before,
    })
}

/// Each job with its environment, last build and what blocked it at the last scheduling
/// pass.
pub async fn jobs(scheduler: &Scheduler) -> Result<Vec<wire::JobSummary>> {
    let store = scheduler.store();
    let blocked = scheduler.blocked();
    let mut out = Vec::new();
    for job in Operations::new(scheduler).jobs() {
        let last = store.builds(Some(&job.name), Page::first(1)).await?;
        out.push(wire::JobSummary {
            last_build: last.first().map(Into::into),
            blocked: blocked.get(&job.name).map(Into::into),
            name: job.name,
            environment: job.environment,
        });
    }
    Ok(out)
}

/// A page of builds (of `job`, or of every job), newest first. The job's name is not
/// checked here.
pub async fn builds(store: &Store, job: Option<&str>, page: Page) -> Result<wire::BuildPage> {
    let builds = store.builds(job, page).await?;
    let next_before = (builds.len() as u32 == page.limit)
        .then(|| builds.last().map(|b| b.id))
        .flatten();
    Ok(wire::BuildPage {
        job: job.map(str::to_owned),
        builds: builds.iter().map(Into::into).collect(),
        next_before,
    })
}

/// Build `id`.
pub async fn build(store: &Store, id: i64) -> Result<wire::Build> {
    Ok((&store.build(id).await?).into())
}

/// Build `number` of `job`.
pub async fn build_by_number(store: &Store, job: &str, number: i64) -> Result<wire::Build> {
    Ok((&store.build_by_number(job, number).await?).into())
}

/// Build `id` with its inputs and outputs.
pub async fn build_detail(store: &Store, id: i64) -> Result<wire::BuildDetail> {
    let build = store.build(id).await?;
    let inputs = store.build_inputs(id).await?;
    let outputs = store.build_outputs(id).await?;
    Ok(wire::BuildDetail {
        build: (&build).into(),
        inputs: inputs.iter().map(Into::into).collect(),
        outputs: outputs.iter().map(Into::into).collect(),
    })
}

/// The steps of build `id`.
pub async fn steps(store: &Store, id: i64) -> Result<Vec<wire::Step>> {
    store.build(id).await?;
    Ok(store.steps(id).await?.iter().map(Into::into).collect())
}

/// Up to `limit` log lines of build `id` after sequence number `after`, oldest first.
pub async fn logs(store: &Store, id: i64, after: i64, limit: u32) -> Result<wire::LogPage> {
    let build = store.build(id).await?;
    let lines = store.logs(id, after, limit).await?;
    Ok(wire::LogPage {
        build_id: id,
        status: build.status,
        finished: build.status.is_finished(),
        next_after: lines.last().map_or(after, |l| l.seq),
        more: lines.len() as u32 == limit,
        lines: lines.iter().map(Into::into).collect(),
    })
}

/// The test reports of build `id`.
pub async fn reports(store: &Store, id: i64) -> Result<Vec<wire::StepReport>> {
    store.build(id).await?;
    Ok(store
        .test_reports(id)
        .await?
        .iter()
        .map(Into::into)
        .collect())
}

/// Where each environment stands, in promotion order.
pub async fn environments(scheduler: &Scheduler) -> Result<Vec<wire::EnvironmentStatus>> {
    let ops = Operations::new(scheduler);
    let mut out = Vec::new();
    for env in ops.environments() {
        out.push((&ops.environment_status(&env).await?).into());
    }
    Ok(out)
}

/// Where `environment` stands and what holds its next candidate back.
pub async fn why(scheduler: &Scheduler, environment: &str) -> Result<wire::EnvironmentStatus> {
    Ok((&Operations::new(scheduler)
        .environment_status(environment)
        .await?)
        .into())
}

/// The engine nodes and the scheduler lease.
pub async fn nodes(store: &Store) -> Result<wire::Nodes> {
    let nodes = store.nodes().await?;
    let lease = store.lease(SCHEDULER_LEASE).await?;
    Ok(wire::Nodes {
        scheduler: lease.as_ref().map(|l| l.holder.clone()),
        lease: lease.as_ref().map(Into::into),
        nodes: nodes.iter().map(Into::into).collect(),
    })
}

/// Pins `resource` to `version`.
pub async fn pin(
    scheduler: &Scheduler,
    resource: &str,
    version: &Version,
) -> Result<wire::PinAnswer> {
    let pinned = Operations::new(scheduler).pin(resource, version).await?;
    Ok(wire::PinAnswer {
        resource: resource.to_owned(),
        pinned: Some((&pinned).into()),
    })
}

/// Removes the pin of `resource`.
pub async fn unpin(scheduler: &Scheduler, resource: &str) -> Result<wire::PinAnswer> {
    Operations::new(scheduler).unpin(resource).await?;
    Ok(wire::PinAnswer {
        resource: resource.to_owned(),
        pinned: None,
    })
}

/// Disables (`true`) or enables `version` of `resource`.
pub async fn set_disabled(
    scheduler: &Scheduler,
    resource: &str,
    version: &Version,
    disabled: bool,
) -> Result<wire::DisabledAnswer> {
    Operations::new(scheduler)
        .set_disabled(resource, version, disabled)
        .await?;
    Ok(wire::DisabledAnswer {
        resource: resource.to_owned(),
        version: version.clone(),
        disabled,
    })
}

/// Checks `resource` now.
pub async fn check(scheduler: &Scheduler, resource: &str) -> Result<wire::CheckAnswer> {
    let new = Operations::new(scheduler).check(resource).await?;
    Ok(wire::CheckAnswer {
        resource: resource.to_owned(),
        new_versions: new as u64,
    })
}

/// Queues a build of `job`.
pub async fn trigger(scheduler: &Scheduler, job: &str) -> Result<wire::Build> {
    Ok((&Operations::new(scheduler).trigger(job).await?).into())
}

/// Approves `candidate` (default: the one at the gate) for `environment` as `approver`.
pub async fn approve(
    scheduler: &Scheduler,
    environment: &str,
    body: &wire::ApproveBody,
    approver: &str,
) -> Result<wire::ApproveAnswer> {
    let approved = Operations::new(scheduler)
        .approve(
            environment,
            body.candidate,
            approver,
            body.comment.as_deref(),
        )
        .await?;
    Ok(wire::ApproveAnswer {
        environment: environment.to_owned(),
        candidate: (&approved.candidate).into(),
        approved_by: approver.to_owned(),
        first_approval: approved.first,
    })
}

/// Re-deploys the previous qualified candidate of `environment`, recorded as done `by`.
pub async fn rollback(
    scheduler: &Scheduler,
    environment: &str,
    by: &str,
) -> Result<wire::RollbackAnswer> {
    let rolled = Operations::new(scheduler).rollback(environment, by).await?;
    Ok(wire::RollbackAnswer {
        environment: environment.to_owned(),
        candidate: (&rolled.candidate).into(),
        builds: rolled.builds.iter().map(Into::into).collect(),
        by: by.to_owned(),
    })
}
