//! The changes people ask of a pipeline — pin, unpin, disable, enable, trigger, check,
//! approve, rollback — written once for the HTTP API and the local command line.
//!
//! Each operation checks the names it is given against the pipeline (an unknown resource, job,
//! environment or version is an [`OperationError`] naming it, with a "did you mean" when a
//! name is close), records the change through the store or the [`Scheduler`], and wakes the
//! scheduling loop so a running node acts on it at once.
//!
//! It also owns the few facts callers read from the pipeline's model (its environments, jobs
//! and resources by name, a resource's webhook token): [`Operations::environments`],
//! [`Operations::jobs`], [`Operations::resources`], [`Operations::webhook_token`].

use lockgate_model::Version;
use lockgate_model::suggest::{did_you_mean, list};
use lockgate_store::{Build, Candidate, Page, StoreError, StoredVersion};

use crate::scheduler::{EnvironmentStatus, Scheduler, SchedulerError};

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// The pipeline has no resource of that name.
    #[error("no resource `{name}` in the pipeline{}", hint(suggestion))]
    UnknownResource {
        /// The name given.
        name: String,
        /// The nearest resource name, if one is close.
        suggestion: Option<String>,
    },
    /// The pipeline has no job of that name.
    #[error("no job `{name}` in the pipeline{}", hint(suggestion))]
    UnknownJob {
        /// The name given.
        name: String,
        /// The nearest job name, if one is close.
        suggestion: Option<String>,
    },
    /// The pipeline has no environment of that name.
    #[error(
        "no environment `{name}` in the pipeline (it has {}){}",
        list_of(known),
        hint(suggestion)
    )]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The pipeline's environments, in order.
        known: Vec<String>,
        /// The nearest environment name, if one is close.
        suggestion: Option<String>,
    },
    /// The resource has no such version in its current history.
    #[error("resource `{resource}` has no version {version}{}", newest_of(newest))]
    UnknownVersion {
        /// The resource.
        resource: String,
        /// The version given, as displayed.
        version: String,
        /// Its newest version, as displayed, if it has one.
        newest: Option<String>,
    },
    /// The state does not allow it now (nothing waits for approval, a gate holds a trigger
    /// back, no earlier candidate to roll back to).
    #[error("{0}")]
    Refused(String),
    /// The resource's plugin could not check it.
    #[error("{0}")]
    CheckFailed(String),
    /// The store failed, or does not know what was named (a build, a candidate).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The scheduler failed.
    #[error(transparent)]
    Scheduler(SchedulerError),
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map_or(String::new(), |s| format!("; did you mean `{s}`?"))
}

fn list_of(names: &[String]) -> String {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    list(&names)
}

fn newest_of(newest: &Option<String>) -> String {
    newest
        .as_ref()
        .map_or(String::new(), |n| format!(" (its newest is {n})"))
}

/// Result alias.
pub type Result<T, E = OperationError> = std::result::Result<T, E>;

impl From<SchedulerError> for OperationError {
    /// A store error stays one; the scheduler's "cannot be done now" is a refusal.
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Store(e) => Self::Store(e),
            SchedulerError::Refused(m) => Self::Refused(m),
            e => Self::Scheduler(e),
        }
    }
}

/// A job of the pipeline and its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobName {
    /// The job.
    pub name: String,
    /// Its environment.
    pub environment: String,
}

/// What an approval did.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The candidate approved.
    pub candidate: Candidate,
    /// False when it had been approved already.
    pub first: bool,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RolledBack {
    /// The candidate re-deployed.
    pub candidate: Candidate,
    /// The builds queued to re-deploy it.
    pub builds: Vec<Build>,
}

/// The operations on one scheduler's pipeline and store.
#[derive(Clone, Copy)]
pub struct Operations<'a> {
    scheduler: &'a Scheduler,
}

impl<'a> Operations<'a> {
    /// The operations of `scheduler`.
    pub fn new(scheduler: &'a Scheduler) -> Self {
        Self { scheduler }
    }

    /// The environments, in promotion order.
    pub fn environments(&self) -> Vec<String> {
        self.scheduler
            .plan()
            .environments
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    /// The jobs, in pipeline order, with their environment.
    pub fn jobs(&self) -> Vec<JobName> {
        self.scheduler
            .plan()
            .jobs
            .iter()
            .map(|j| JobName {
                name: j.name.clone(),
                environment: j.environment.clone(),
            })
            .collect()
    }

    /// The resources, in pipeline order.
    pub fn resources(&self) -> Vec<String> {
        self.scheduler
            .plan()
            .resources
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }

    /// The webhook token of `resource` (`None`: webhooks are off for it).
    pub fn webhook_token(&self, resource: &str) -> Result<Option<String>> {
        self.require_resource(resource)?;
        Ok(self
            .scheduler
            .plan()
            .resource(resource)
            .and_then(|r| r.webhook_token.clone()))
    }

    /// Fails unless the pipeline has resource `name`.
    pub fn require_resource(&self, name: &str) -> Result<()> {
        let known = self.resources();
        if known.iter().any(|r| r == name) {
            return Ok(());
        }
        Err(OperationError::UnknownResource {
            name: name.to_owned(),
            suggestion: nearest(name, &known),
        })
    }

    /// Fails unless the pipeline has job `name`.
    pub fn require_job(&self, name: &str) -> Result<()> {
        let known: Vec<String> = self.jobs().into_iter().map(|j| j.name).collect();
        if known.iter().any(|j| j == name) {
            return Ok(());
        }
        Err(OperationError::UnknownJob {
            name: name.to_owned(),
            suggestion: nearest(name, &known),
        })
    }

    /// Fails unless the pipeline has environment `name`.
    pub fn require_environment(&self, name: &str) -> Result<()> {
        let known = self.environments();
        if known.iter().any(|e| e == name) {
            return Ok(());
        }
        Err(OperationError::UnknownEnvironment {
            name: name.to_owned(),
            suggestion: nearest(name, &known),
            known,
        })
    }

    /// Where `environment` stands and what holds its next candidate back.
    pub async fn environment_status(&self, environment: &str) -> Result<EnvironmentStatus> {
        self.require_environment(environment)?;
        Ok(self.scheduler.environment_status(environment).await?)
    }

    /// Pins `resource` to `version` (a stored one): every input of the resource then gets
    /// exactly that version.
    pub async fn pin(&self, resource: &str, version: &Version) -> Result<StoredVersion> {
        self.require_resource(resource)?;
        let pinned = match self.scheduler.store().pin_version(resource, version).await {
            Ok(v) => v,
            Err(e) => return Err(self.version_error(e).await),
        };
        self.scheduler.wake();
        Ok(pinned)
    }

    /// Removes the pin of `resource`, if any.
    pub async fn unpin(&self, resource: &str) -> Result<()> {
        self.require_resource(resource)?;
        self.scheduler.store().unpin(resource).await?;
        self.scheduler.wake();
        Ok(())
    }

    /// Disables `version` of `resource`: no job gets it again.
    pub async fn disable(&self, resource: &str, version: &Version) -> Result<()> {
        self.set_disabled(resource, version, true).await
    }

    /// Enables a disabled `version` of `resource` again.
    pub async fn enable(&self, resource: &str, version: &Version) -> Result<()> {
        self.set_disabled(resource, version, false).await
    }

    /// [`Operations::disable`] (`true`) or [`Operations::enable`] (`false`).
    pub async fn set_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<()> {
        self.require_resource(resource)?;
        let store = self.scheduler.store();
        if let Err(e) = store
            .set_version_disabled(resource, version, disabled)
            .await
        {
            return Err(self.version_error(e).await);
        }
        self.scheduler.wake();
        Ok(())
    }

    /// Queues a build of `job` with its newest resolvable inputs; refused when no versions
    /// satisfy them or an environment gate holds them back.
    pub async fn trigger(&self, job: &str) -> Result<Build> {
        self.require_job(job)?;
        let build = self.scheduler.trigger(job).await?;
        self.scheduler.wake();
        Ok(build)
    }

    /// Checks `resource` for new versions now; returns how many were new.
    pub async fn check(&self, resource: &str) -> Result<usize> {
        self.require_resource(resource)?;
        let new = self.scheduler.check(resource).await.map_err(|e| match e {
            SchedulerError::Refused(m) => OperationError::CheckFailed(m),
            e => e.into(),
        })?;
        self.scheduler.wake();
        Ok(new)
    }

    /// Approves `candidate` (default: the one waiting at the gate) for `environment` as
    /// `approver`, with an optional `comment`.
    pub async fn approve(
        &self,
        environment: &str,
        candidate: Option<i64>,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<Approved> {
        self.require_environment(environment)?;
        let (candidate, first) = self
            .scheduler
            .approve(environment, candidate, approver, comment)
            .await?;
        self.scheduler.wake();
        Ok(Approved { candidate, first })
    }

    /// Re-deploys the last qualified candidate of `environment` before the current one,
    /// recorded as done `by`.
    pub async fn rollback(&self, environment: &str, by: &str) -> Result<RolledBack> {
        self.require_environment(environment)?;
        let (candidate, builds) = self.scheduler.rollback(environment, by).await?;
        self.scheduler.wake();
        Ok(RolledBack { candidate, builds })
    }

    /// Turns the store's unknown version into [`OperationError::UnknownVersion`] (with the
    /// resource's newest version); other errors pass.
    async fn version_error(&self, e: StoreError) -> OperationError {
        let StoreError::UnknownVersion { resource, version } = e else {
            return e.into();
        };
        let newest = self
            .scheduler
            .store()
            .versions(&resource, Page::first(1))
            .await
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|v| v.version.to_string());
        OperationError::UnknownVersion {
            resource,
            version,
            newest,
        }
    }
}

/// The name among `known` nearest to `name`, if one is close.
fn nearest(name: &str, known: &[String]) -> Option<String> {
    did_you_mean(name, known.iter().map(String::as_str)).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_named_with_the_nearest_one() {
        let known = ["development".to_owned(), "production".to_owned()];
        let e = OperationError::UnknownEnvironment {
            name: "prod".into(),
            suggestion: nearest("prod", &known),
            known: known.to_vec(),
        };
        assert_eq!(
            e.to_string(),
            "no environment `prod` in the pipeline (it has `development` and `production`); did you mean `production`?"
        );
        let e = OperationError::UnknownJob {
            name: "zzz".into(),
            suggestion: nearest("zzz", &known),
        };
        assert_eq!(e.to_string(), "no job `zzz` in the pipeline");
        let e = OperationError::UnknownVersion {
            resource: "release".into(),
            version: "{number: 9}".into(),
            newest: Some("{number: 3}".into()),
        };
        assert_eq!(
            e.to_string(),
            "resource `release` has no version {number: 9} (its newest is {number: 3})"
        );
    }

    #[test]
    fn the_schedulers_cannot_now_is_a_refusal() {
        let e: OperationError = SchedulerError::Refused("nothing waits".into()).into();
        assert!(matches!(e, OperationError::Refused(ref m) if m == "nothing waits"));
    }
}
