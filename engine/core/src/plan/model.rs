//! What a compiled plan is made of: plain values with every default applied, every step
//! identified and every plugin resolved. No source positions: those stay in the pipeline
//! model of `lockgate-config`, for the messages about the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lockgate_config::{Approval, CheckEvery, Redactor};
use lockgate_model::{Grants, Limits, Version, VersionPolicy};
use lockgate_plugin_host::Plugin;

pub use super::task::TaskPlan;

/// A pipeline compiled for execution: what the scheduler and the runner run.
#[derive(Clone)]
pub struct Plan {
    /// The pipeline file it was compiled from.
    pub file: PathBuf,
    /// The environments, in promotion order.
    pub environments: Vec<EnvironmentPlan>,
    /// The resources, in file order.
    pub resources: Vec<ResourcePlan>,
    /// The jobs, in file order.
    pub jobs: Vec<JobPlan>,
    /// How changes flow between the environments.
    pub promotion: Promotion,
    /// Redacts secret values: apply it to every log line and API answer.
    pub redactor: Redactor,
    /// Loads what `task` steps' task files name when they run (`None` in plans compiled
    /// without plugins).
    pub tasks: Option<super::task::TaskLoader>,
    pub(super) environment_index: BTreeMap<String, usize>,
    pub(super) resource_index: BTreeMap<String, usize>,
    pub(super) job_index: BTreeMap<String, usize>,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("file", &self.file)
            .field("environments", &self.environments)
            .field("resources", &self.resources)
            .field("jobs", &self.jobs)
            .field("promotion", &self.promotion)
            .finish_non_exhaustive()
    }
}

impl Plan {
    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentPlan> {
        self.environment_index
            .get(name)
            .map(|&i| &self.environments[i])
    }

    /// The resource called `name`.
    pub fn resource(&self, name: &str) -> Option<&ResourcePlan> {
        self.resource_index.get(name).map(|&i| &self.resources[i])
    }

    /// The job called `name`.
    pub fn job(&self, name: &str) -> Option<&JobPlan> {
        self.job_index.get(name).map(|&i| &self.jobs[i])
    }

    /// The jobs of environment `name`, in file order.
    pub fn jobs_in<'a>(&'a self, environment: &'a str) -> impl Iterator<Item = &'a JobPlan> + 'a {
        self.jobs
            .iter()
            .filter(move |j| j.environment == environment)
    }

    /// The gate jobs of `environment`: a candidate is qualified there when each of them
    /// succeeded with it.
    pub fn gate_jobs<'a>(
        &'a self,
        environment: &'a EnvironmentPlan,
    ) -> impl Iterator<Item = &'a JobPlan> + 'a {
        environment.gate_jobs.iter().filter_map(|n| self.job(n))
    }

    /// The environment before `environment` in promotion order, if any.
    pub fn upstream_of(&self, environment: &EnvironmentPlan) -> Option<&EnvironmentPlan> {
        environment
            .index
            .checked_sub(1)
            .map(|i| &self.environments[i])
    }
}

/// An environment of the promotion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentPlan {
    /// Its name.
    pub name: String,
    /// Its position in the promotion order (0: the first).
    pub index: usize,
    /// Whether a person must approve a candidate before it enters.
    pub approval: Approval,
    /// How long a candidate must have been qualified upstream before it enters.
    pub soak: Option<Duration>,
    /// The jobs whose success qualifies a candidate here (`gate:`, default every job of the
    /// environment).
    pub gate_jobs: Vec<String>,
    /// The promoted resources its jobs get: what its state and its candidates hold.
    pub resources: Vec<String>,
}

/// A resource with its plugin and everything a check or a fetch needs.
#[derive(Clone)]
pub struct ResourcePlan {
    /// Its name.
    pub name: String,
    /// Its resource type's name.
    pub type_name: String,
    /// Its `source`, with the type's `defaults` merged in.
    pub source: serde_json::Value,
    /// What makes two resources share a version history: `source` and grants.
    pub identity: serde_json::Value,
    /// How often it is checked.
    pub check_every: CheckEvery,
    /// Whether some job gets it without `passed`: its versions come from outside and it is
    /// checked (the others arrive through upstream builds or are only put to).
    pub polled: bool,
    /// Token a webhook must present to trigger a check.
    pub webhook_token: Option<String>,
    /// The version it is pinned to in the file.
    pub pinned: Option<Version>,
    /// `shared: true`: it serves every environment without being promoted.
    pub shared: bool,
    /// What its plugin may touch (directories, network, environment); the runner adds the
    /// output, inputs and cache.
    pub grants: Grants,
    /// Limits of each invocation: the type's memory cap, `check_timeout` as the check deadline.
    pub limits: Limits,
    /// Its type's plugin (`None` only in plans compiled without plugins, for tests).
    pub plugin: Option<Plugin>,
}

impl fmt::Debug for ResourcePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourcePlan")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("check_every", &self.check_every)
            .field("polled", &self.polled)
            .field("pinned", &self.pinned)
            .field("plugin", &self.plugin.as_ref().map(Plugin::path))
            .finish_non_exhaustive()
    }
}

/// A job with its defaults applied and its steps identified.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// Its name.
    pub name: String,
    /// The environment it belongs to.
    pub environment: String,
    /// Every `get` of its plan and hooks, once per input name, in plan order.
    pub inputs: Vec<InputPlan>,
    /// The steps, run in order.
    pub steps: Vec<StepPlan>,
    /// The job's hooks.
    pub hooks: HooksPlan,
    /// How many builds may run at once (1 when serial or in serial groups); `None`: unlimited.
    pub max_in_flight: Option<u32>,
    /// The other jobs of its serial groups: none of their builds may run beside one of this.
    pub exclusive_with: Vec<String>,
    /// Deadline of a whole build.
    pub timeout: Option<Duration>,
    /// How many times a failed build is tried (at least 1).
    pub attempts: u32,
    /// Whether it puts to a resource (a deploying job); otherwise it only tests.
    pub deploys: bool,
    /// The resources it puts to, once each, in plan order.
    pub outputs: Vec<String>,
    /// Its entry inputs (by input name): the promoted resources it shares with the previous
    /// environment, taken together from one candidate qualified there.
    pub entry: Vec<String>,
    /// What its builds record in its environment when claimed and when they succeed.
    pub promotion: lockgate_store::PromotionRules,
}

impl JobPlan {
    /// The inputs whose new versions start a build.
    pub fn triggers(&self) -> impl Iterator<Item = &InputPlan> {
        self.inputs.iter().filter(|i| i.trigger)
    }
}

/// One input of a job: a `get` as the scheduler resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPlan {
    /// The input's name (the `get` name).
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Upstream jobs the version must have passed.
    pub passed: Vec<String>,
    /// Whether a new version starts a build.
    pub trigger: bool,
    /// Which versions.
    pub version: VersionPolicy,
}

/// Identity of a step within its job, stable across runs (the store keys step records by
/// it): `plan.0`, `plan.1.in_parallel.0`, `plan.2.do.1`, `plan.3.try`, `plan.0.on_success`,
/// `job.ensure`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(String);

impl StepId {
    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn new(id: String) -> Self {
        Self(id)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A step with its defaults applied.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Its identity.
    pub id: StepId,
    /// What it does.
    pub action: ActionPlan,
    /// How many times it is tried (at least 1).
    pub attempts: u32,
    /// Deadline of one attempt.
    pub timeout: Option<Duration>,
    /// Steps run after it.
    pub hooks: HooksPlan,
}

impl StepPlan {
    /// How the step is named in messages: `get `release``, `test `smoke``, or the kind and
    /// position of a step without a name (`in_parallel at plan.2`).
    pub fn label(&self) -> String {
        match &self.action {
            ActionPlan::Get(g) => format!("get `{}`", g.name),
            ActionPlan::Put(p) => format!("put `{}`", p.name),
            ActionPlan::Test(t) => format!("test `{}`", t.name),
            ActionPlan::Task(t) => format!("task `{}`", t.name),
            ActionPlan::InParallel { .. } => format!("in_parallel at {}", self.id.as_str()),
            ActionPlan::Do(_) => format!("do at {}", self.id.as_str()),
            ActionPlan::Try(inner) => format!("try of {}", inner.label()),
        }
    }

    /// This step and every step inside it (children, hooks), depth first.
    pub fn walk<'a>(&'a self, out: &mut Vec<&'a StepPlan>) {
        out.push(self);
        match &self.action {
            ActionPlan::InParallel { steps, .. } | ActionPlan::Do(steps) => {
                steps.iter().for_each(|s| s.walk(out))
            }
            ActionPlan::Try(step) => step.walk(out),
            ActionPlan::Get(_) | ActionPlan::Put(_) | ActionPlan::Test(_) | ActionPlan::Task(_) => {
            }
        }
        self.hooks.walk(out);
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum ActionPlan {
    /// Fetch the resolved version of an input.
    Get(GetPlan),
    /// Push to a resource, then fetch the version it created.
    Put(PutPlan),
    /// Run a test-step plugin.
    Test(Box<TestPlan>),
    /// Run a task's program.
    Task(Box<TaskPlan>),
    /// Run steps at the same time, at most `limit` at once.
    InParallel {
        /// The steps.
        steps: Vec<StepPlan>,
        /// At most this many at once.
        limit: usize,
        /// Stop the others when one fails.
        fail_fast: bool,
    },
    /// Run steps in order.
    Do(Vec<StepPlan>),
    /// Run a step; its failure does not fail the build.
    Try(Box<StepPlan>),
}

/// `get:`.
#[derive(Debug, Clone)]
pub struct GetPlan {
    /// The artifact's (and input's) name.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Params of the plugin's `get` (`{}` when omitted).
    pub params: serde_json::Value,
}

/// `put:`.
#[derive(Debug, Clone)]
pub struct PutPlan {
    /// The artifact the created version is fetched into.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Params of the plugin's `put` (`{}` when omitted).
    pub params: serde_json::Value,
    /// Which artifacts the plugin sees.
    pub inputs: InputsPlan,
}

/// `test:`.
#[derive(Clone)]
pub struct TestPlan {
    /// The step's name, shown in reports.
    pub name: String,
    /// The test type.
    pub type_name: String,
    /// The plugin's `config`, with the type's `defaults` merged in (`{}` when omitted).
    pub config: serde_json::Value,
    /// Which artifacts the plugin sees.
    pub inputs: InputsPlan,
    /// What else it may touch.
    pub grants: Grants,
    /// Limits of each invocation (the type's memory cap).
    pub limits: Limits,
    /// The test type's plugin (`None` only in plans compiled without plugins, for tests).
    pub plugin: Option<Plugin>,
}

impl fmt::Debug for TestPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPlan")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("inputs", &self.inputs)
            .field("plugin", &self.plugin.as_ref().map(Plugin::path))
            .finish_non_exhaustive()
    }
}

/// Which artifacts fetched so far a `put` or `test` sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputsPlan {
    /// Every one.
    All,
    /// Only these.
    Named(Vec<String>),
}

/// `on_success`, `on_failure`, `on_error`, `ensure`.
#[derive(Debug, Clone, Default)]
pub struct HooksPlan {
    /// Runs when the job or step succeeded.
    pub on_success: Option<Box<StepPlan>>,
    /// Runs when it failed.
    pub on_failure: Option<Box<StepPlan>>,
    /// Runs when it errored.
    pub on_error: Option<Box<StepPlan>>,
    /// Always runs.
    pub ensure: Option<Box<StepPlan>>,
}

impl HooksPlan {
    fn walk<'a>(&'a self, out: &mut Vec<&'a StepPlan>) {
        for hook in [
            &self.on_success,
            &self.on_failure,
            &self.on_error,
            &self.ensure,
        ]
        .into_iter()
        .flatten()
        {
            hook.walk(out);
        }
    }
}

/// How changes flow between the environments, computed once from the jobs' inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promotion {
    /// Resources gotten by jobs of two or more environments: a candidate (a change that walks
    /// through the environments) is made of their versions.
    pub promoted: BTreeSet<String>,
    /// For each promoted resource, the jobs that get it, by environment, in promotion order.
    pub through: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

impl Promotion {
    /// Whether `resource` is part of candidates.
    pub fn is_promoted(&self, resource: &str) -> bool {
        self.promoted.contains(resource)
    }
}
