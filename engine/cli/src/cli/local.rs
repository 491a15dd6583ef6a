//! The [`Backend`] of a local pipeline: its state store (opened at first use) and, for
//! what needs the pipeline, a scheduler on it (loaded at first use), answering through the
//! same [`service`] functions as the HTTP API and changing state through the engine's
//! operations (names checked, the change recorded, the scheduler woken).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use tokio::sync::OnceCell;

use super::Cli;
use super::backend::{Backend, Result};
use super::logs::BuildRef;
use super::pipeline::PipelineArgs;
use lockgate_api::service;
use lockgate_api::wire::{self, BuildStatus, Version};
use lockgate_engine::scheduler::Scheduler;
use lockgate_store::{Page, Store};

/// How many log lines one read of the store returns.
const LOG_PAGE: u32 = 1000;

/// How often `logs --follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(300);

/// A local pipeline's state.
pub(crate) struct Local<'a> {
    cli: &'a Cli,
    args: &'a PipelineArgs,
    store: OnceCell<Store>,
    /// On the pipeline without its plugins: enough for every command but `check`.
    scheduler: OnceCell<Scheduler>,
    prepared: OnceCell<()>,
    /// On the pipeline with its plugins loaded (compiled): for `check`.
    checker: OnceCell<Scheduler>,
}

impl<'a> Local<'a> {
    /// The pipeline and state `args` name.
    pub(crate) fn new(cli: &'a Cli, args: &'a PipelineArgs) -> Self {
        Self {
            cli,
            args,
            store: OnceCell::new(),
            scheduler: OnceCell::new(),
            prepared: OnceCell::new(),
            checker: OnceCell::new(),
        }
    }

    /// The state store (a scheduler's, once one is loaded).
    async fn store(&self) -> Result<&Store> {
        if let Some(s) = self.scheduler.get().or(self.checker.get()) {
            return Ok(s.store());
        }
        self.store.get_or_try_init(|| self.args.store()).await
    }

    /// A scheduler on the loaded pipeline (which is validated and printed when invalid),
    /// without its plugins: reading and changing the state never runs a plugin, so nothing is
    /// compiled and no registry is needed.
    async fn scheduler(&self) -> Result<&Scheduler> {
        self.scheduler
            .get_or_try_init(|| self.args.state_scheduler())
            .await
    }

    /// A scheduler with the pipeline's plugins loaded, its resources and jobs recorded.
    async fn checker(&self) -> Result<&Scheduler> {
        let scheduler = self
            .checker
            .get_or_try_init(|| {
                self.args
                    .scheduler(self.cli, Arc::new(lockgate_engine::runner::NoObserver))
            })
            .await?;
        scheduler.prepare().await?;
        Ok(scheduler)
    }

    /// The scheduler, with the pipeline's resources and jobs recorded in the store.
    async fn prepared(&self) -> Result<&Scheduler> {
        let scheduler = self.scheduler().await?;
        self.prepared
            .get_or_try_init(|| async { scheduler.prepare().await })
            .await?;
        Ok(scheduler)
    }
}

impl Backend for Local<'_> {
    async fn environments(&self) -> Result<Vec<wire::EnvironmentStatus>> {
        // Prepared: on a state no run has used yet, the jobs are known (with no builds).
        Ok(service::environments(self.prepared().await?).await?)
    }

    async fn why(&self, environment: &str) -> Result<wire::EnvironmentStatus> {
        Ok(service::why(self.prepared().await?, environment).await?)
    }

    async fn jobs(&self) -> Result<Vec<wire::JobSummary>> {
        Ok(service::jobs(self.prepared().await?).await?)
    }

    async fn builds(
        &self,
        job: Option<&str>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<wire::BuildPage> {
        let store = self.store().await?;
        if let Some(job) = job {
            // Without loading the pipeline: the jobs the store knows (none before a first run).
            let known = store.jobs().await?;
            if !known.is_empty() && !known.iter().any(|j| j.name == job) {
                let names: Vec<&str> = known.iter().map(|j| j.name.as_str()).collect();
                let hint = lockgate_model::did_you_mean(job, names)
                    .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
                bail!("no job `{job}` in the pipeline's state{hint}");
            }
        }
        let page = match before {
            Some(b) => Page::before(b, limit),
            None => Page::first(limit),
        };
        Ok(service::builds(store, job, page).await?)
    }

    async fn build(&self, build: &BuildRef) -> Result<wire::Build> {
        let store = self.store().await?;
        Ok(match build {
            BuildRef::Id(id) => service::build(store, *id).await?,
            BuildRef::Number(job, number) => service::build_by_number(store, job, *number).await?,
        })
    }

    async fn logs(&self, id: i64, after: i64) -> Result<wire::LogPage> {
        Ok(service::logs(self.store().await?, id, after, LOG_PAGE).await?)
    }

    async fn follow(
        &self,
        build: &wire::Build,
        line: &mut dyn FnMut(&wire::LogLine),
    ) -> Result<BuildStatus> {
        let store = self.store().await?;
        let mut after = 0;
        loop {
            let page = service::logs(store, build.id, after, LOG_PAGE).await?;
            for l in &page.lines {
                line(l);
            }
            after = page.next_after;
            if !page.lines.is_empty() {
                continue;
            }
            // The status was read before the lines: a finished build has written them all.
            if page.finished {
                return Ok(page.status);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }

    async fn resources(&self) -> Result<Vec<wire::ResourceSummary>> {
        Ok(service::resources(self.scheduler().await?).await?)
    }

    async fn check(&self, resource: &str) -> Result<wire::CheckAnswer> {
        Ok(service::check(self.checker().await?, resource).await?)
    }

    async fn pin(&self, resource: &str, version: &Version) -> Result<wire::PinAnswer> {
        Ok(service::pin(self.scheduler().await?, resource, version).await?)
    }

    async fn unpin(&self, resource: &str) -> Result<wire::PinAnswer> {
        Ok(service::unpin(self.scheduler().await?, resource).await?)
    }

    async fn set_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<wire::DisabledAnswer> {
        let scheduler = self.scheduler().await?;
        Ok(service::set_disabled(scheduler, resource, version, disabled).await?)
    }

    async fn trigger(&self, job: &str) -> Result<wire::Build> {
        Ok(service::trigger(self.prepared().await?, job).await?)
    }

    async fn approve(
        &self,
        environment: &str,
        body: &wire::ApproveBody,
        approver: Option<&str>,
    ) -> Result<wire::ApproveAnswer> {
        let Some(approver) = approver else {
            bail!(
                "`lockgate approve` needs `--as NAME`: who approves is recorded with the approval (against a server, `--server`, the token's name is)"
            );
        };
        let scheduler = self.scheduler().await?;
        Ok(service::approve(scheduler, environment, body, approver).await?)
    }

    async fn rollback(&self, environment: &str, by: Option<&str>) -> Result<wire::RollbackAnswer> {
        let scheduler = self.prepared().await?;
        Ok(service::rollback(scheduler, environment, by.unwrap_or("cli")).await?)
    }

    async fn nodes(&self) -> Result<wire::Nodes> {
        Ok(service::nodes(self.store().await?).await?)
    }
}
