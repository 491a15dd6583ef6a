//! The pipeline as the scheduler and the runner consume it: plain Rust types, every name and
//! field with the position it was written at.
//!
//! A [`Pipeline`] handed out by [`crate::load`] is valid: every reference resolves,
//! every job has an environment, the `passed` graph has no cycle and respects the environment
//! invariant. The model of a pipeline that failed to load (see [`crate::parse_str`])
//! may be partial: names that could not be read are empty strings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::span::{Span, Spanned};
use super::yaml::Node;
pub use lockgate_model::VersionPolicy;
use lockgate_model::{DirGrant, Grants, Limits, NetworkGrant, Version};

/// Default interval between checks of a resource.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(60);

/// A pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// The file, as it was named to the loader.
    pub file: PathBuf,
    /// The directory relative paths (plugins, granted directories) are resolved against: the
    /// file's directory.
    pub dir: PathBuf,
    /// The environments, in promotion order.
    pub environments: Vec<Environment>,
    /// Resource types (plugins with `check`, `get`, `put`), in file order.
    pub resource_types: Vec<PluginType>,
    /// Test types (plugins with `run`), in file order.
    pub test_types: Vec<PluginType>,
    /// Resources, in file order.
    pub resources: Vec<Resource>,
    /// Jobs, in file order.
    pub jobs: Vec<Job>,
}

impl Pipeline {
    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    /// The position of environment `name` in the promotion order (0: the first).
    pub fn environment_index(&self, name: &str) -> Option<usize> {
        self.environments.iter().position(|e| e.name.value == name)
    }

    /// The resource type called `name`.
    pub fn resource_type(&self, name: &str) -> Option<&PluginType> {
        self.resource_types.iter().find(|t| t.name.value == name)
    }

    /// The test type called `name`.
    pub fn test_type(&self, name: &str) -> Option<&PluginType> {
        self.test_types.iter().find(|t| t.name.value == name)
    }

    /// The resource called `name`.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name.value == name)
    }

    /// The job called `name`.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name.value == name)
    }

    /// The jobs of environment `name`, in file order.
    pub fn jobs_in<'a>(&'a self, environment: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.jobs
            .iter()
            .filter(move |j| j.environment.value == environment)
    }

    /// The gate jobs of an environment: its `gate:` list, or else all of its jobs. A candidate
    /// is qualified in the environment when every gate job succeeded with it.
    pub fn gate_jobs<'a>(&'a self, environment: &'a Environment) -> Vec<&'a Job> {
        match &environment.gate {
            Some(names) => names.iter().filter_map(|n| self.job(n)).collect(),
            None => self.jobs_in(&environment.name).collect(),
        }
    }
}

/// An entry of `environments`.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Its name (the user's: `development`, `qa`, `prod-eu`, …).
    pub name: Spanned<String>,
    /// Whether a person must approve a candidate before it enters (default automatic).
    pub approval: Option<Spanned<Approval>>,
    /// How long a candidate must have been qualified in the previous environment before it
    /// may enter this one.
    pub soak: Option<Spanned<Duration>>,
    /// The jobs whose success qualifies a candidate here; `None`: every job of the environment.
    pub gate: Option<Vec<Spanned<String>>>,
}

impl Environment {
    /// The approval mode, default automatic.
    pub fn approval(&self) -> Approval {
        self.approval
            .as_ref()
            .map_or(Approval::Automatic, |a| a.value)
    }
}

/// How a candidate enters an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Approval {
    /// As soon as it is qualified upstream (and soaked).
    #[default]
    Automatic,
    /// Only after `lockgate approve` by a named person.
    Required,
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Approval::Automatic => "automatic",
            Approval::Required => "required",
        })
    }
}

/// An entry of `resource_types` or `test_types`: a plugin and its settings.
#[derive(Debug, Clone)]
pub struct PluginType {
    /// The name resources (`type:`) or test steps (`type:`) use.
    pub name: Spanned<String>,
    /// Where the plugin comes from.
    pub plugin: Spanned<PluginRef>,
    /// Memory cap of each invocation, in bytes (default: the host's, 256 MiB).
    pub memory: Option<Spanned<u64>>,
    /// What its invocations may hand back, where `limits:` sets it.
    pub limits: LimitOverrides,
    /// Default `source` (resource types) or `config` (test types), merged under each
    /// resource's `source` / each step's `config` (their own keys win). Already applied to
    /// the model's `source` and `config` values.
    pub defaults: Option<Payload>,
}

impl PluginType {
    /// The limits of an invocation of this plugin (default deadlines, this memory cap, its
    /// `limits:`).
    pub fn limits(&self) -> Limits {
        let limits = self.limits.apply(Limits::default());
        match &self.memory {
            Some(m) => limits.with_memory(m.value),
            None => limits,
        }
    }
}

/// A plugin type's `limits:`: each set field replaces the default of [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// `versions_per_check`.
    pub versions_per_check: Option<usize>,
    /// `version_fields`.
    pub version_fields: Option<usize>,
    /// `metadata_entries`.
    pub metadata_entries: Option<usize>,
    /// `field_size`.
    pub field_bytes: Option<usize>,
    /// `message_size`.
    pub message_bytes: Option<usize>,
    /// `log_size`.
    pub log_bytes: Option<usize>,
    /// `disk_size`.
    pub disk_bytes: Option<u64>,
    /// `files`.
    pub files: Option<u64>,
    /// `cache_size`.
    pub cache_bytes: Option<u64>,
    /// `report_cases`.
    pub report_cases: Option<usize>,
    /// `report_size`.
    pub report_bytes: Option<usize>,
}

impl LimitOverrides {
    /// `limits` with the overrides applied.
    pub fn apply(&self, mut limits: Limits) -> Limits {
        fn set<T: Copy>(slot: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *slot = v;
            }
        }
        set(&mut limits.versions_per_check, self.versions_per_check);
        set(&mut limits.version_fields, self.version_fields);
        set(&mut limits.metadata_entries, self.metadata_entries);
        set(&mut limits.field_bytes, self.field_bytes);
        set(&mut limits.message_bytes, self.message_bytes);
        set(&mut limits.output_bytes, self.log_bytes);
        set(&mut limits.disk_bytes, self.disk_bytes);
        set(&mut limits.files, self.files);
        set(&mut limits.cache_bytes, self.cache_bytes);
        set(&mut limits.report_cases, self.report_cases);
        set(&mut limits.report_bytes, self.report_bytes);
        limits
    }
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginRef {
    /// `name@version-requirement`, resolved in the plugin registry.
    Registry {
        /// Plugin name.
        name: String,
        /// Acceptable versions (`^1.2`, `=1.0.3`, `*`).
        req: semver::VersionReq,
    },
    /// A `.wasm` file; a relative path in the file is resolved against the pipeline's
    /// directory, so this path is the one to load.
    Path(PathBuf),
}

impl PluginRef {
    /// Whether this stands for a `plugin:` that could not be read (already reported).
    pub fn is_unusable(&self) -> bool {
        matches!(self, PluginRef::Path(p) if p.as_os_str().is_empty())
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginRef::Registry { name, req } => write!(f, "{name}@{req}"),
            PluginRef::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A free-form value handed to a plugin (`source`, `params`, `config`, `defaults`): JSON, with
/// the position of every node so that a schema violation can be shown where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The value.
    pub value: Value,
    /// The position of its key (`source:`, `params:`, …).
    pub span: Span,
    /// JSON pointer of each node → (position of the node, position of its key).
    spans: BTreeMap<String, (Span, Option<Span>)>,
}

impl Payload {
    /// A payload for `node`, which was the value of a key at `span`.
    pub(crate) fn from_node(node: &Node, span: Span) -> Self {
        let mut spans = BTreeMap::new();
        node.visit_pointers(&mut |pointer, n, key| {
            spans.insert(pointer.to_owned(), (n.span, key.map(|k| k.span)));
        });
        Self {
            value: node.to_json(),
            span,
            spans,
        }
    }

    /// An empty object at `span` (for an omitted `params:`).
    pub(crate) fn empty(span: Span) -> Self {
        Self {
            value: Value::Object(Default::default()),
            span,
            spans: BTreeMap::new(),
        }
    }

    /// The same payload, as if its key were at `span` (a type's `defaults` standing for an
    /// omitted `config:` are reported at the step).
    pub(crate) fn at(mut self, span: Span) -> Self {
        self.span = span;
        self
    }

    /// Copies the positions of `other`'s nodes at and below `pointer`.
    pub(crate) fn copy_spans_from(&mut self, other: &Payload, pointer: &str) {
        let below = format!("{pointer}/");
        for (p, s) in &other.spans {
            if p == pointer || p.starts_with(&below) {
                self.spans.insert(p.clone(), *s);
            }
        }
    }

    /// The position of the node at JSON pointer `pointer` (RFC 6901), or of its nearest
    /// ancestor that was written in the file; for the root, the payload's key, or the value
    /// when it is not a mapping or list (`params: 3`).
    pub fn span_at(&self, pointer: &str) -> Span {
        let mut p = pointer;
        loop {
            if p.is_empty() {
                return match (&self.value, self.spans.get("")) {
                    (Value::Object(_) | Value::Array(_), _) | (_, None) => self.span,
                    (_, Some((span, _))) => *span,
                };
            }
            if let Some((span, _)) = self.spans.get(p) {
                return *span;
            }
            p = p.rfind('/').map_or("", |i| &p[..i]);
        }
    }

    /// The position of the key of the member at `pointer` (`/a/b`: where `b:` was written).
    pub fn key_span_at(&self, pointer: &str) -> Option<Span> {
        self.spans.get(pointer).and_then(|(_, key)| *key)
    }
}

/// An entry of `resources`.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its name.
    pub name: Spanned<String>,
    /// The resource type's name.
    pub type_name: Spanned<String>,
    /// Its `source`, with the type's `defaults` merged in (`{}` if omitted).
    pub source: Payload,
    /// How often to check (default every minute).
    pub check_every: Option<Spanned<CheckEvery>>,
    /// Deadline of each `check` (default: the host's, 60 s).
    pub check_timeout: Option<Spanned<Duration>>,
    /// Token a webhook must present to trigger a check.
    pub webhook_token: Option<Spanned<String>>,
    /// Pinned version: only this version is used.
    pub version: Option<Spanned<Version>>,
    /// What the plugin may touch.
    pub grants: GrantSpec,
    /// `shared: true`: the resource serves every environment without being promoted (a task
    /// image, a timer, a tooling repository, a root certificate). It is never part of a
    /// candidate, a `get` of it needs no `passed` in any environment, and the environment
    /// invariant (no change skips an environment) does not apply to it. Default `false`.
    pub shared: bool,
    /// Its `limits:`, over those of its type.
    pub limits: LimitOverrides,
}

impl Resource {
    /// How often to check, default every minute.
    pub fn check_every(&self) -> CheckEvery {
        self.check_every
            .as_ref()
            .map_or(CheckEvery::Interval(DEFAULT_CHECK_EVERY), |c| c.value)
    }
}

/// `check_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckEvery {
    /// Check at this interval (with jitter).
    Interval(Duration),
    /// `never`: only webhooks and `lockgate check`.
    Never,
}

/// Capabilities granted to a plugin: named directories, network endpoints, environment
/// variables (`grants:` of a resource or a test step).
#[derive(Debug, Clone, Default)]
pub struct GrantSpec {
    /// Directories mounted at `/dirs/<name>`; paths resolved against the pipeline's directory.
    pub dirs: Vec<Spanned<DirGrant>>,
    /// TCP endpoints the plugin may connect to.
    pub network: Vec<Spanned<NetworkGrant>>,
    /// Environment variables.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    /// `ca_certs`: PEM files of CA certificates its HTTPS requests trust, resolved against the
    /// pipeline's directory.
    pub ca_certs: Vec<Spanned<PathBuf>>,
}

impl GrantSpec {
    /// The sandbox grants (directories, network, environment); the runner adds inputs,
    /// output and cache.
    pub fn to_grants(&self) -> Grants {
        Grants {
            dirs: self.dirs.iter().map(|d| d.value.clone()).collect(),
            network: self.network.iter().map(|n| n.value.clone()).collect(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect(),
            ca_certificates: self.ca_certs.iter().map(|c| c.value.clone()).collect(),
            ..Grants::none()
        }
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
            && self.network.is_empty()
            && self.env.is_empty()
            && self.ca_certs.is_empty()
    }
}

/// An entry of `jobs`.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its name.
    pub name: Spanned<String>,
    /// The environment it belongs to.
    pub environment: Spanned<String>,
    /// The steps, run in order.
    pub plan: Vec<Step>,
    /// `serial: true`: one build at a time.
    pub serial: Option<Spanned<bool>>,
    /// Builds of jobs sharing a group never overlap.
    pub serial_groups: Vec<Spanned<String>>,
    /// How many builds may run at once.
    pub max_in_flight: Option<Spanned<u32>>,
    /// Deadline of a whole build.
    pub timeout: Option<Spanned<Duration>>,
    /// How many times a failed build is tried (default 1).
    pub attempts: Option<Spanned<u32>>,
    /// Steps run after the build.
    pub hooks: Hooks,
}

impl Job {
    /// How many builds may run at once: 1 when `serial` or `serial_groups`, else
    /// `max_in_flight`; `None`: unlimited.
    pub fn max_in_flight(&self) -> Option<u32> {
        if self.serial.as_ref().is_some_and(|s| s.value) || !self.serial_groups.is_empty() {
            return Some(1);
        }
        self.max_in_flight.as_ref().map(|m| m.value)
    }

    /// Every step of the plan and of the hooks, depth first, parents before children.
    pub fn steps(&self) -> Vec<&Step> {
        let mut out = Vec::new();
        for step in &self.plan {
            step.walk(&mut out);
        }
        self.hooks.walk(&mut out);
        out
    }

    /// The `get` steps, anywhere in the plan and hooks.
    pub fn gets(&self) -> impl Iterator<Item = (&Step, &Get)> {
        self.steps().into_iter().filter_map(|s| match &s.action {
            Action::Get(g) => Some((s, g)),
            _ => None,
        })
    }

    /// The `task` steps, anywhere in the plan and hooks.
    pub fn tasks(&self) -> impl Iterator<Item = (&Step, &TaskStep)> {
        self.steps().into_iter().filter_map(|s| match &s.action {
            Action::Task(t) => Some((s, &**t)),
            _ => None,
        })
    }

    /// The `put` steps, anywhere in the plan and hooks.
    pub fn puts(&self) -> impl Iterator<Item = (&Step, &Put)> {
        self.steps().into_iter().filter_map(|s| match &s.action {
            Action::Put(p) => Some((s, p)),
            _ => None,
        })
    }

    /// Whether the job gets resource `name`.
    pub fn gets_resource(&self, name: &str) -> bool {
        self.gets().any(|(_, g)| g.resource.value == name)
    }

    /// Whether the job puts resource `name`.
    pub fn puts_resource(&self, name: &str) -> bool {
        self.puts().any(|(_, p)| p.resource.value == name)
    }
}

/// `on_success`, `on_failure`, `on_error`, `ensure` of a job or a step.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Runs when the job/step succeeded.
    pub on_success: Option<Box<Step>>,
    /// Runs when it failed (a test failed, a step returned failure).
    pub on_failure: Option<Box<Step>>,
    /// Runs when it errored (a plugin error, a timeout).
    pub on_error: Option<Box<Step>>,
    /// Always runs.
    pub ensure: Option<Box<Step>>,
}

impl Hooks {
    fn walk<'a>(&'a self, out: &mut Vec<&'a Step>) {
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

    /// The hooks that are set, with their key.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Step)> {
        [
            ("on_success", &self.on_success),
            ("on_failure", &self.on_failure),
            ("on_error", &self.on_error),
            ("ensure", &self.ensure),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.as_deref().map(|s| (k, s)))
    }
}

/// A step of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The position of its action key (`get:`, `put:`, …).
    pub span: Span,
    /// How many times it is tried (default 1).
    pub attempts: Option<Spanned<u32>>,
    /// Deadline of one attempt.
    pub timeout: Option<Spanned<Duration>>,
    /// Steps run after it.
    pub hooks: Hooks,
}

impl Step {
    /// The step's action key: `get`, `put`, `test`, `task`, `in_parallel`, `do` or `try`.
    pub fn kind(&self) -> &'static str {
        match &self.action {
            Action::Get(_) => "get",
            Action::Put(_) => "put",
            Action::Test(_) => "test",
            Action::Task(_) => "task",
            Action::InParallel(_) => "in_parallel",
            Action::Do(_) => "do",
            Action::Try(_) => "try",
        }
    }

    /// This step and every step inside it (children, hooks), depth first.
    pub fn walk<'a>(&'a self, out: &mut Vec<&'a Step>) {
        out.push(self);
        match &self.action {
            Action::InParallel(p) => p.steps.iter().for_each(|s| s.walk(out)),
            Action::Do(steps) => steps.iter().for_each(|s| s.walk(out)),
            Action::Try(step) => step.walk(out),
            Action::Get(_) | Action::Put(_) | Action::Test(_) | Action::Task(_) => {}
        }
        self.hooks.walk(out);
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Fetch a version of a resource.
    Get(Get),
    /// Push to a resource, creating a version.
    Put(Put),
    /// Run a test-step plugin.
    Test(Test),
    /// Run a program (a `wasi:cli/command` component) over earlier artifacts.
    Task(Box<TaskStep>),
    /// Run steps at the same time.
    InParallel(InParallel),
    /// Run steps in order.
    Do(Vec<Step>),
    /// Run a step; its failure does not fail the build.
    Try(Box<Step>),
}

/// `get:`.
#[derive(Debug, Clone)]
pub struct Get {
    /// The name the fetched files go by (the value of `get:`), seen by later steps as the
    /// input of that name.
    pub name: Spanned<String>,
    /// The resource: `resource:`, default the `get:` name.
    pub resource: Spanned<String>,
    /// Only versions that went through all these jobs together.
    pub passed: Vec<Spanned<String>>,
    /// A new version starts a build of the job.
    pub trigger: Option<Spanned<bool>>,
    /// Which versions (default latest).
    pub version: Option<Spanned<VersionPolicy>>,
    /// Params for the plugin's `get` (`None` when omitted).
    pub params: Option<Payload>,
}

impl Get {
    /// Whether a new version triggers a build.
    pub fn trigger(&self) -> bool {
        self.trigger.as_ref().is_some_and(|t| t.value)
    }

    /// Which versions, default latest.
    pub fn version(&self) -> VersionPolicy {
        self.version
            .as_ref()
            .map_or(VersionPolicy::Latest, |v| v.value.clone())
    }
}

/// `put:`.
#[derive(Debug, Clone)]
pub struct Put {
    /// The value of `put:`.
    pub name: Spanned<String>,
    /// The resource: `resource:`, default the `put:` name.
    pub resource: Spanned<String>,
    /// Params for the plugin's `put` (`None` when omitted).
    pub params: Option<Payload>,
    /// Which inputs the plugin sees (default all).
    pub inputs: Option<Spanned<Inputs>>,
}

/// `test:`.
#[derive(Debug, Clone)]
pub struct Test {
    /// The value of `test:`: the step's name, shown in reports.
    pub name: Spanned<String>,
    /// The test type: `type:`, default the `test:` name.
    pub type_name: Spanned<String>,
    /// The plugin's `config`, with the test type's `defaults` merged in (`None` when both are
    /// omitted).
    pub config: Option<Payload>,
    /// Which inputs the plugin sees (default all).
    pub inputs: Option<Spanned<Inputs>>,
    /// What else the plugin may touch (network endpoints of the environment under test, …).
    pub grants: GrantSpec,
}

/// `task:`: a WebAssembly program of the standard command world (`wasi:cli/command`, anything
/// built for `wasm32-wasip2`) run over earlier artifacts, writing new ones.
#[derive(Debug, Clone)]
pub struct TaskStep {
    /// The value of `task:`: the step's name (the program's `argv[0]`).
    pub name: Spanned<String>,
    /// The task's definition (`config:`); empty when it is read from a file when the task
    /// runs (`file`).
    pub config: TaskConfig,
    /// `file: <artifact>/<path>`: the definition is read from an earlier step's artifact
    /// when the task runs (as Concourse's task files).
    pub file: Option<TaskFile>,
    /// Step-level `params`: environment variables over those of `config.params`.
    pub params: Vec<(Spanned<String>, Spanned<String>)>,
    /// `input_mapping`: a task input's name → the artifact it is (a `get`'s or a task output).
    pub input_mapping: Vec<(Spanned<String>, Spanned<String>)>,
    /// `output_mapping`: a task output's name → the artifact later steps see it as.
    pub output_mapping: Vec<(Spanned<String>, Spanned<String>)>,
    /// Directories, network endpoints and variables the program may use besides its own.
    pub grants: GrantSpec,
    /// `limits.memory`: its memory cap, in bytes (default: the host's).
    pub memory: Option<Spanned<u64>>,
    /// `limits.timeout`: its deadline (default: that of a test's `run`).
    pub timeout: Option<Spanned<Duration>>,
    /// `limits.log_size`: the most output (stdout and stderr) kept in the build log.
    pub log_size: Option<Spanned<u64>>,
    /// `limits.disk_size`: the most it may write to its outputs, caches and granted dirs.
    pub disk_size: Option<Spanned<u64>>,
}

impl TaskStep {
    /// The artifact task input `name` reads (its `input_mapping`, default its name).
    pub fn input_artifact<'a>(&'a self, name: &'a Spanned<String>) -> &'a Spanned<String> {
        self.input_mapping
            .iter()
            .find(|(k, _)| k.value == name.value)
            .map_or(name, |(_, v)| v)
    }

    /// The artifact task output `name` becomes (its `output_mapping`, default its name).
    pub fn output_artifact<'a>(&'a self, name: &'a Spanned<String>) -> &'a Spanned<String> {
        self.output_mapping
            .iter()
            .find(|(k, _)| k.value == name.value)
            .map_or(name, |(_, v)| v)
    }
}

/// `file:` of a `task` step: where its definition is read from when it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFile {
    /// The artifact holding it (the first segment of the value).
    pub artifact: Spanned<String>,
    /// The file's path inside the artifact (the rest of the value).
    pub path: String,
    /// The whole value, `tools/tasks/render.yml`.
    pub value: Spanned<String>,
}

/// Where a task's program comes from (`component:` of its definition).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskComponent {
    /// A `.wasm` file (relative to the pipeline, or to the task file of a `file:` task) or a
    /// registry reference `name@version` to a component published as a task.
    Ref(PluginRef),
    /// `{artifact: built, path: bin/task.wasm}`: a file in an earlier step's artifact (a
    /// component the build made), loaded when the task runs.
    Artifact {
        /// The artifact.
        artifact: Spanned<String>,
        /// The file's path inside it.
        path: String,
    },
}

impl TaskComponent {
    /// Whether this stands for a `component:` that could not be read (already reported).
    pub fn is_unusable(&self) -> bool {
        matches!(self, TaskComponent::Ref(r) if r.is_unusable())
    }

    /// The component, unusable (its `component:` was reported).
    pub fn unusable() -> Self {
        TaskComponent::Ref(PluginRef::Path(PathBuf::new()))
    }
}

impl fmt::Display for TaskComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskComponent::Ref(r) => r.fmt(f),
            TaskComponent::Artifact { artifact, path } => write!(f, "{artifact}/{path}"),
        }
    }
}

/// A task's definition: its `config:`, or the content of its `file:`.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// `component`: the program (unusable when it could not be read; already reported).
    pub component: Spanned<TaskComponent>,
    /// `args`: the program's arguments after `argv[0]`.
    pub args: Vec<Spanned<String>>,
    /// `params`: its environment variables.
    pub params: Vec<(Spanned<String>, Spanned<String>)>,
    /// `inputs`: the artifacts it reads, each mounted read-only at its `path` (default
    /// `<name>`).
    pub inputs: Vec<TaskDirSpec>,
    /// `outputs`: new directories it writes, at their `path` (default `<name>`), artifacts
    /// for later steps.
    pub outputs: Vec<TaskDirSpec>,
    /// `caches`: directories at `<path>` kept between builds of this job's task.
    pub caches: Vec<Spanned<String>>,
}

/// An entry of a task's `inputs` or `outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDirSpec {
    /// `name`: the artifact it is (unless the step maps it).
    pub name: Spanned<String>,
    /// `path`: where the program sees it, relative to its working directory (default: its
    /// name).
    pub path: Option<Spanned<String>>,
    /// `optional: true` (inputs only): the task runs without it when no earlier step
    /// provides it.
    pub optional: bool,
}

impl TaskDirSpec {
    /// Where the program sees it: its `path`, else its name.
    pub fn dir(&self) -> &Spanned<String> {
        self.path.as_ref().unwrap_or(&self.name)
    }
}

impl TaskConfig {
    /// A definition with nothing in it (its component unusable), standing at `span`.
    pub fn empty(span: Span) -> Self {
        Self {
            component: Spanned::new(TaskComponent::unusable(), span),
            args: Vec::new(),
            params: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            caches: Vec::new(),
        }
    }
}

/// `inputs:` of a `put` or `test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inputs {
    /// `all`: every artifact fetched so far.
    All,
    /// Only these (names of `get` steps).
    Named(Vec<Spanned<String>>),
}

/// `in_parallel:`.
#[derive(Debug, Clone)]
pub struct InParallel {
    /// The steps.
    pub steps: Vec<Step>,
    /// At most this many at once.
    pub limit: Option<Spanned<u32>>,
    /// Stop the others when one fails.
    pub fail_fast: Option<Spanned<bool>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn payload_maps_pointers_to_positions() {
        let text = "source:\n  path: x\n  list: [a, {b: 1}]\n";
        let doc = yaml::parse(text).unwrap();
        let yaml::Kind::Map(entries) = &doc.kind else {
            panic!()
        };
        let (key, node) = &entries[0];
        let p = Payload::from_node(node, key.span);
        assert_eq!(
            p.value,
            serde_json::json!({"path": "x", "list": ["a", {"b": 1}]})
        );
        assert_eq!(p.span_at("/path").line, 2);
        assert_eq!(p.span_at("/path").column, 9);
        assert_eq!(p.key_span_at("/path").unwrap().column, 3);
        assert_eq!(p.span_at("/list/1/b").column, 17);
        // Unknown pointers fall back to the nearest ancestor, then to the key.
        assert_eq!(p.span_at("/list/1/zzz").column, 13);
        assert_eq!(p.span_at("").line, 1);
        assert_eq!(p.span_at("/nope"), key.span);
    }
}
