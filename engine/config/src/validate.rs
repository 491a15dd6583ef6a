//! Checks of a parsed pipeline: references, duplicates, `passed` cycles, the environment
//! invariant, and the JSON Schemas plugins give for `source`, `params` and `config`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::model::*;
use super::span::{Span, Spanned};
use lockgate_model::NO_REGISTRY;
use lockgate_model::suggest;
use lockgate_model::{Description, PluginKind};

/// Which table a plugin type is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TypeKind {
    /// `resource_types`.
    Resource,
    /// `test_types`.
    Test,
}

impl TypeKind {
    /// "resource type" or "test type".
    pub fn noun(self) -> &'static str {
        match self {
            TypeKind::Resource => "resource type",
            TypeKind::Test => "test type",
        }
    }
}

/// Why a [`SchemaSource`] has no description of a plugin (reported at its `plugin:`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The plugin could not be loaded: the loader's message (it names the file or the
    /// registry reference, and the cause).
    #[error("{0}")]
    Unavailable(String),
    /// The plugin was not loaded at all.
    #[error("plugin of {} `{name}` was not loaded", kind.noun())]
    NotLoaded {
        /// Resource type or test type.
        kind: TypeKind,
        /// The type's name.
        name: String,
    },
    /// Plugins were left unloaded on purpose (a command that only reads the state): their
    /// schemas are not checked, and nothing is reported.
    #[error("plugins were not loaded")]
    NotChecked,
    /// No description was given for this type.
    #[error("no description of {} `{name}`", kind.noun())]
    Missing {
        /// Resource type or test type.
        kind: TypeKind,
        /// The type's name.
        name: String,
    },
}

/// Where the validator gets each plugin's description (its schemas and capabilities).
pub trait SchemaSource {
    /// The description of the plugin of resource type or test type `name`, or why there is
    /// none (reported at its `plugin:`).
    fn description(&self, kind: TypeKind, name: &str) -> Result<&Description, SchemaError>;
}

/// A [`SchemaSource`] holding descriptions given in code (tests, callers that loaded the
/// plugins themselves).
#[derive(Debug, Clone, Default)]
pub struct StaticSchemas {
    map: BTreeMap<(TypeKind, String), Result<Description, SchemaError>>,
}

impl StaticSchemas {
    /// No descriptions: every plugin "could not be loaded".
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description of type `name`.
    pub fn insert(&mut self, kind: TypeKind, name: impl Into<String>, d: Description) -> &mut Self {
        self.map.insert((kind, name.into()), Ok(d));
        self
    }

    /// Records that the plugin of type `name` could not be loaded.
    pub fn insert_error(
        &mut self,
        kind: TypeKind,
        name: impl Into<String>,
        error: impl Into<String>,
    ) -> &mut Self {
        self.map.insert(
            (kind, name.into()),
            Err(SchemaError::Unavailable(error.into())),
        );
        self
    }
}

impl SchemaSource for StaticSchemas {
    fn description(&self, kind: TypeKind, name: &str) -> Result<&Description, SchemaError> {
        match self.map.get(&(kind, name.to_owned())) {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => Err(e.clone()),
            None => Err(SchemaError::Missing {
                kind,
                name: name.to_owned(),
            }),
        }
    }
}

/// Every check: [`validate_structure`] and [`validate_schemas`].
pub fn validate(pipeline: &Pipeline, schemas: &dyn SchemaSource) -> Vec<Diagnostic> {
    let mut out = validate_structure(pipeline);
    out.extend(validate_schemas(pipeline, schemas));
    out
}

/// The checks that need no plugin: undefined and duplicate names, environments and gates,
/// `passed` (defined, relevant, acyclic) and the environment invariant, inputs, unused
/// resources and types (warnings).
pub fn validate_structure(pipeline: &Pipeline) -> Vec<Diagnostic> {
    let mut v = Checker {
        p: pipeline,
        ix: Index::new(pipeline),
        out: Vec::new(),
    };
    v.duplicates();
    v.environments();
    v.resources();
    v.jobs();
    v.cycles();
    v.invariant();
    v.out
}

/// Names for "did you mean".
struct Names<'p> {
    resources: Vec<&'p str>,
    jobs: Vec<&'p str>,
    test_types: Vec<&'p str>,
}

struct Checker<'p> {
    p: &'p Pipeline,
    ix: Index<'p>,
    out: Vec<Diagnostic>,
}

/// Lookups the checks make many times, built once (pipelines may have thousands of jobs).
struct Index<'p> {
    /// Jobs by name (the first of duplicates).
    jobs: HashMap<&'p str, &'p Job>,
    resources: HashSet<&'p str>,
    environments: HashMap<&'p str, usize>,
    /// (job, resource) pairs of `get` and `put` steps.
    gets: HashSet<(&'p str, &'p str)>,
    puts: HashSet<(&'p str, &'p str)>,
    /// Resources declared `shared: true`: never promoted, never tracked.
    shared: HashSet<&'p str>,
    /// Tracked resource → the first environment (index) where a job gets it. Shared resources
    /// are not in it: they are not promoted, so no environment's `get` of them is tracked.
    first_got_in: HashMap<&'p str, usize>,
    /// Resources some job gets or puts.
    used: HashSet<&'p str>,
}

impl<'p> Index<'p> {
    fn new(p: &'p Pipeline) -> Self {
        let mut ix = Index {
            jobs: HashMap::new(),
            resources: p.resources.iter().map(|r| r.name.as_str()).collect(),
            shared: p
                .resources
                .iter()
                .filter(|r| r.shared)
                .map(|r| r.name.as_str())
                .collect(),
            environments: HashMap::new(),
            gets: HashSet::new(),
            puts: HashSet::new(),
            first_got_in: HashMap::new(),
            used: HashSet::new(),
        };
        for (i, e) in p.environments.iter().enumerate() {
            ix.environments.entry(e.name.as_str()).or_insert(i);
        }
        for job in &p.jobs {
            ix.jobs.entry(job.name.as_str()).or_insert(job);
            let env = ix.environments.get(job.environment.as_str()).copied();
            for step in job.steps() {
                match &step.action {
                    Action::Get(g) => {
                        ix.gets.insert((job.name.as_str(), g.resource.as_str()));
                        ix.used.insert(g.resource.as_str());
                        if let Some(env) = env
                            && !ix.shared.contains(g.resource.as_str())
                        {
                            let first = ix.first_got_in.entry(g.resource.as_str()).or_insert(env);
                            *first = (*first).min(env);
                        }
                    }
                    Action::Put(put) => {
                        ix.puts.insert((job.name.as_str(), put.resource.as_str()));
                        ix.used.insert(put.resource.as_str());
                    }
                    _ => {}
                }
            }
        }
        ix
    }

    fn job(&self, name: &str) -> Option<&'p Job> {
        self.jobs.get(name).copied()
    }

    fn gets(&self, job: &str, resource: &str) -> bool {
        self.gets.contains(&(job, resource))
    }

    fn touches(&self, job: &str, resource: &str) -> bool {
        self.gets(job, resource) || self.puts.contains(&(job, resource))
    }
}

/// "did you mean" among `names`, else a list of them (up to 8).
fn help_among(name: &str, names: &[&str], what: &str) -> Option<String> {
    if let Some(h) = suggest::help(name, names) {
        return Some(h);
    }
    match names.len() {
        0 => Some(format!("the pipeline defines no {what}s")),
        1..=8 => Some(format!("{what}s: {}", suggest::list(names))),
        _ => None,
    }
}

impl<'p> Checker<'p> {
    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        self.out
            .push(Diagnostic::error(&self.p.file, span, message).with_help_opt(help));
    }

    fn warning(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        self.out
            .push(Diagnostic::warning(&self.p.file, span, message).with_help_opt(help));
    }

    fn env_names(&self) -> Vec<&'p str> {
        self.p
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect()
    }

    fn job_names(&self) -> Vec<&'p str> {
        self.p.jobs.iter().map(|j| j.name.as_str()).collect()
    }

    fn resource_names(&self) -> Vec<&'p str> {
        self.p.resources.iter().map(|r| r.name.as_str()).collect()
    }

    fn env_index(&self, job: &Job) -> Option<usize> {
        self.ix.environments.get(job.environment.as_str()).copied()
    }

    fn duplicates(&mut self) {
        let p = self.p;
        let lists: [(&str, Vec<&Spanned<String>>); 5] = [
            (
                "environment",
                p.environments.iter().map(|e| &e.name).collect(),
            ),
            (
                "resource type",
                p.resource_types.iter().map(|t| &t.name).collect(),
            ),
            ("test type", p.test_types.iter().map(|t| &t.name).collect()),
            ("resource", p.resources.iter().map(|r| &r.name).collect()),
            ("job", p.jobs.iter().map(|j| &j.name).collect()),
        ];
        for (what, names) in lists {
            let mut first: HashMap<&str, Span> = HashMap::new();
            for name in names {
                if name.value.is_empty() {
                    continue;
                }
                match first.get(name.as_str()) {
                    Some(at) => self.error(
                        name.span,
                        format!("duplicate {what} `{}`", name.value),
                        Some(format!("the first `{}` is at line {}", name.value, at.line)),
                    ),
                    None => {
                        first.insert(&name.value, name.span);
                    }
                }
            }
        }
    }

    fn environments(&mut self) {
        let p = self.p;
        for (i, env) in p.environments.iter().enumerate() {
            if let (0, Some(soak)) = (i, &env.soak) {
                self.error(
                    soak.span,
                    format!(
                        "`soak` of the first environment `{}` has nothing to wait for",
                        env.name
                    ),
                    Some(
                        "a candidate soaks in the previous environment before it enters the next one"
                            .into(),
                    ),
                );
            }
            if let Some(approval) = &env.approval
                && i == 0
                && approval.value == Approval::Required
            {
                self.error(
                    approval.span,
                    format!(
                        "`approval: required` on the first environment `{}` has nothing to approve",
                        env.name
                    ),
                    Some(
                        "its changes are new versions from checks; an approval gates a candidate qualified in the previous environment entering the next one"
                            .into(),
                    ),
                );
            }
            for gate in env.gate.iter().flatten() {
                match self.ix.job(gate) {
                    None => {
                        let own: Vec<&str> =
                            p.jobs_in(&env.name).map(|j| j.name.as_str()).collect();
                        self.error(
                            gate.span,
                            format!(
                                "undefined job `{}` in the gate of `{}`",
                                gate.value, env.name
                            ),
                            help_among(gate, &own, "job"),
                        );
                    }
                    Some(job) if job.environment.value != env.name.value => self.error(
                        gate.span,
                        format!(
                            "gate job `{}` belongs to environment `{}`, not `{}`",
                            gate.value, job.environment.value, env.name.value
                        ),
                        Some("an environment's gate jobs are jobs of that environment".into()),
                    ),
                    Some(_) => {}
                }
            }
            if !env.name.value.is_empty() && p.jobs_in(&env.name).next().is_none() {
                self.warning(
                    env.name.span,
                    format!("environment `{}` has no jobs", env.name),
                    Some("no candidate can be qualified in it, so none can go past it".into()),
                );
            }
        }
    }

    fn resources(&mut self) {
        let p = self.p;
        let types: Vec<&str> = p.resource_types.iter().map(|t| t.name.as_str()).collect();
        for r in &p.resources {
            let t = &r.type_name;
            if !t.value.is_empty() && p.resource_type(t).is_none() {
                let help = if p.test_type(t).is_some() {
                    Some(format!(
                        "`{t}` is a test type; resources use `resource_types`"
                    ))
                } else {
                    help_among(t, &types, "resource type")
                };
                self.error(t.span, format!("undefined resource type `{t}`"), help);
            }
            if !r.name.value.is_empty() && !self.ix.used.contains(r.name.as_str()) {
                self.warning(
                    r.name.span,
                    format!("resource `{}` is not used by any job", r.name),
                    None,
                );
            }
        }
        for t in &p.resource_types {
            if !p
                .resources
                .iter()
                .any(|r| r.type_name.value == t.name.value)
            {
                self.warning(
                    t.name.span,
                    format!("resource type `{}` is not used by any resource", t.name),
                    None,
                );
            }
        }
        for t in &p.test_types {
            let used = p.jobs.iter().any(|j| {
                j.steps().iter().any(
                    |s| matches!(&s.action, Action::Test(x) if x.type_name.value == t.name.value),
                )
            });
            if !used {
                self.warning(
                    t.name.span,
                    format!("test type `{}` is not used by any test step", t.name),
                    None,
                );
            }
        }
    }

    fn jobs(&mut self) {
        let p = self.p;
        let envs = self.env_names();
        let names = Names {
            resources: self.resource_names(),
            jobs: self.job_names(),
            test_types: p.test_types.iter().map(|t| t.name.as_str()).collect(),
        };
        for job in &p.jobs {
            let env = &job.environment;
            if !env.value.is_empty() && p.environment(env).is_none() {
                self.error(
                    env.span,
                    format!("unknown environment `{env}` of job `{}`", job.name),
                    help_among(env, &envs, "environment"),
                );
            }
            if let Some(m) = job.max_in_flight.as_ref().filter(|m| m.value > 1) {
                let serial = job.serial.as_ref().is_some_and(|s| s.value);
                if serial || !job.serial_groups.is_empty() {
                    self.error(
                        m.span,
                        format!(
                            "`max_in_flight: {}` contradicts `{}`, which runs one build at a time",
                            m.value,
                            if serial {
                                "serial: true"
                            } else {
                                "serial_groups"
                            }
                        ),
                        None,
                    );
                }
            }
            self.steps_of(job, &names);
        }
    }

    fn steps_of(&mut self, job: &'p Job, names: &Names<'p>) {
        let p = self.p;
        let (resources, jobs, test_types) = (&names.resources, &names.jobs, &names.test_types);
        // Artifact names: `get` steps (and the spans already seen, since one step reached
        // through two aliases is one definition).
        let mut artifacts: BTreeMap<&str, Span> = BTreeMap::new();
        let steps = job.steps();
        for (_, get) in job.gets() {
            match artifacts.get(get.name.as_str()) {
                Some(first) if *first != get.name.span => self.error(
                    get.name.span,
                    format!("job `{}` has two inputs named `{}`", job.name, get.name),
                    Some(format!(
                        "the first is at line {}; name this one with `get: <other name>` and `resource: {}`",
                        first.line, get.resource
                    )),
                ),
                _ => {
                    artifacts.insert(&get.name, get.name.span);
                }
            }
        }
        // Task outputs are artifacts too, under their mapped names; one name, one artifact
        // (a `put` fetches the version it created into the artifact of its name).
        let puts: BTreeMap<&str, Span> = job
            .puts()
            .map(|(_, p)| (p.name.as_str(), p.name.span))
            .collect();
        for (_, task) in job.tasks() {
            for output in &task.config.outputs {
                let output = &output.name;
                let artifact = task.output_artifact(output);
                let other = artifacts
                    .get(artifact.as_str())
                    .or(puts.get(artifact.as_str()));
                if let Some(other) = other.filter(|o| **o != artifact.span) {
                    self.error(
                        artifact.span,
                        format!(
                            "output `{artifact}` of task `{}` clashes with another artifact of job `{}` named `{artifact}`",
                            task.name, job.name
                        ),
                        Some(format!(
                            "the other is at line {}; rename this one with `output_mapping: {{{output}: <other name>}}`",
                            other.line
                        )),
                    );
                }
                artifacts.entry(artifact.as_str()).or_insert(artifact.span);
            }
        }
        self.task_inputs(job, &steps);
        let artifact_names: Vec<&str> = artifacts.keys().copied().collect();
        for step in steps {
            match &step.action {
                Action::Get(get) => {
                    if !self.resource_defined(&get.resource, resources) {
                        continue;
                    }
                    for passed in &get.passed {
                        match self.ix.job(passed) {
                            None => self.error(
                                passed.span,
                                format!("undefined job `{}` in `passed`", passed.value),
                                help_among(passed, jobs, "job"),
                            ),
                            Some(other)
                                if other.name.value != job.name.value
                                    && !self.ix.touches(&other.name, &get.resource) =>
                            {
                                self.error(
                                    passed.span,
                                    format!(
                                        "job `{}` in `passed` neither gets nor puts `{}`, so no version of it can pass that job",
                                        passed.value, get.resource
                                    ),
                                    None,
                                )
                            }
                            Some(_) => {}
                        }
                    }
                }
                Action::Put(put) => {
                    self.resource_defined(&put.resource, resources);
                    self.inputs_defined(job, put.inputs.as_ref(), &artifact_names);
                }
                Action::Test(test) => {
                    let t = &test.type_name;
                    if p.test_type(t).is_none() {
                        let help = if p.resource_type(t).is_some() {
                            Some(format!(
                                "`{t}` is a resource type; test steps use `test_types`"
                            ))
                        } else if test.type_name.span == test.name.span {
                            let h = help_among(t, test_types, "test type").unwrap_or_default();
                            Some(format!(
                                "the type of a test step is its name unless `type:` says otherwise; {h}"
                            ))
                        } else {
                            help_among(t, test_types, "test type")
                        };
                        self.error(t.span, format!("undefined test type `{t}`"), help);
                    }
                    self.inputs_defined(job, test.inputs.as_ref(), &artifact_names);
                }
                Action::Task(_) | Action::InParallel(_) | Action::Do(_) | Action::Try(_) => {}
            }
        }
    }

    /// Each task's inputs come from an earlier step (a `get`, the version a `put` created, an
    /// earlier task's output); its mappings name its own inputs and outputs; its directories
    /// have distinct names.
    fn task_inputs(&mut self, job: &Job, steps: &[&Step]) {
        let concurrent = concurrent_artifacts(job);
        let mut provided: Vec<&str> = Vec::new();
        // An earlier task reads its definition when it runs: its outputs are not known here.
        let mut dynamic = false;
        for step in steps {
            match &step.action {
                Action::Get(g) => provided.push(&g.name),
                Action::Put(p) => provided.push(&p.name),
                Action::Task(task) => {
                    let c = &task.config;
                    let racing = concurrent
                        .get(&std::ptr::from_ref(*step))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    // What the task reads: its inputs, the artifact its definition comes
                    // from, the artifact its component comes from.
                    let mut reads: Vec<(&Spanned<String>, String)> = c
                        .inputs
                        .iter()
                        // An optional input may come from nowhere: the task runs without it.
                        .filter(|input| !input.optional)
                        .map(|input| &input.name)
                        .map(|input| {
                            let artifact = task.input_artifact(input);
                            let what = if artifact.span == input.span {
                                format!("input `{artifact}`")
                            } else {
                                format!("input `{artifact}` (`input_mapping` of `{input}`)")
                            };
                            (artifact, what)
                        })
                        .collect();
                    if let Some(file) = &task.file {
                        reads.push((
                            &file.artifact,
                            format!("artifact `{}` of `file`", file.artifact),
                        ));
                    }
                    if let TaskComponent::Artifact { artifact, .. } = &c.component.value {
                        reads.push((artifact, format!("artifact `{artifact}` of `component`")));
                    }
                    for (artifact, what) in reads {
                        if racing.contains(&artifact.as_str()) {
                            self.error(
                                artifact.span,
                                format!(
                                    "{what} of task `{}` comes from a step that runs at the same time (another branch of the same `in_parallel`)",
                                    task.name
                                ),
                                Some("move the task after the `in_parallel` block, or into the same branch after that step".into()),
                            );
                            continue;
                        }
                        // After a task whose definition is read when it runs, any name may
                        // be one of its outputs: the runner says so if it is not.
                        if artifact.value.is_empty()
                            || provided.contains(&artifact.as_str())
                            || dynamic
                        {
                            continue;
                        }
                        self.error(
                            artifact.span,
                            format!(
                                "{what} of task `{}` is not provided by an earlier step of job `{}`",
                                task.name, job.name
                            ),
                            if provided.is_empty() {
                                Some(format!(
                                    "a task reads what an earlier `get: {artifact}`, `put` or task output of the job provides"
                                ))
                            } else {
                                help_among(artifact, &provided, "artifact")
                                    .map(|h| format!("{h} (provided before this step)"))
                            },
                        );
                    }
                    if task.file.is_some() {
                        // Its inputs and outputs are known when it runs; the names its
                        // `output_mapping` gives are artifacts from then on.
                        provided.extend(task.output_mapping.iter().map(|(_, v)| v.as_str()));
                        dynamic = true;
                        continue;
                    }
                    for (mapping, dirs, which) in [
                        (&task.input_mapping, &c.inputs, ("input_mapping", "input")),
                        (
                            &task.output_mapping,
                            &c.outputs,
                            ("output_mapping", "output"),
                        ),
                    ] {
                        let names: Vec<&str> = dirs.iter().map(|d| d.name.as_str()).collect();
                        for (k, _) in mapping {
                            if !names.contains(&k.as_str()) {
                                self.error(
                                    k.span,
                                    format!(
                                        "`{}` maps `{k}`, which is not in the `{}s` of task `{}`",
                                        which.0, which.1, task.name
                                    ),
                                    help_among(k, &names, which.1).or_else(|| {
                                        Some(format!(
                                            "add `{{name: {k}}}` to `config.{}s`",
                                            which.1
                                        ))
                                    }),
                                );
                            }
                        }
                    }
                    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
                    let dirs = (c.inputs.iter().map(|d| ("input", d.dir())))
                        .chain(c.outputs.iter().map(|d| ("output", d.dir())))
                        .chain(c.caches.iter().map(|d| ("cache", d)));
                    for (what, d) in dirs {
                        match seen.get(d.as_str()) {
                            Some(first) => self.error(
                                d.span,
                                format!(
                                    "`{d}` is both an {first} and a {what} of task `{}`: each directory of a task has its own name",
                                    task.name
                                ),
                                None,
                            ),
                            None => {
                                seen.insert(d.as_str(), what);
                            }
                        }
                    }
                    for output in &c.outputs {
                        provided.push(task.output_artifact(&output.name));
                    }
                }
                Action::Test(_) | Action::InParallel(_) | Action::Do(_) | Action::Try(_) => {}
            }
        }
    }

    fn resource_defined(&mut self, r: &Spanned<String>, resources: &[&str]) -> bool {
        if r.value.is_empty() {
            return false;
        }
        if self.ix.resources.contains(r.as_str()) {
            return true;
        }
        self.error(
            r.span,
            format!("undefined resource `{r}`"),
            help_among(r, resources, "resource"),
        );
        false
    }

    fn inputs_defined(&mut self, job: &Job, inputs: Option<&Spanned<Inputs>>, artifacts: &[&str]) {
        let Some(Spanned {
            value: Inputs::Named(names),
            ..
        }) = inputs
        else {
            return;
        };
        for name in names {
            if !artifacts.contains(&name.as_str()) {
                self.error(
                    name.span,
                    format!(
                        "unknown input `{name}`: job `{}` has no `get: {name}`",
                        job.name
                    ),
                    help_among(name, artifacts, "input"),
                );
            }
        }
    }

    /// Cycles in the graph "job → the jobs its `passed` lists name".
    fn cycles(&mut self) {
        let p = self.p;
        // Edges with the position of the `passed` entry.
        let mut edges: BTreeMap<&str, Vec<(&str, Span)>> = BTreeMap::new();
        for job in &p.jobs {
            let list = edges.entry(job.name.as_str()).or_default();
            for (_, get) in job.gets() {
                for passed in &get.passed {
                    if self.ix.job(passed).is_some()
                        && !list.iter().any(|(n, _)| *n == passed.as_str())
                    {
                        list.push((passed.as_str(), passed.span));
                    }
                }
            }
        }
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut mark: BTreeMap<&str, Mark> = edges.keys().map(|k| (*k, Mark::New)).collect();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        let mut found: Vec<(Vec<&str>, Span)> = Vec::new();

        fn dfs<'a>(
            node: &'a str,
            edges: &BTreeMap<&'a str, Vec<(&'a str, Span)>>,
            mark: &mut BTreeMap<&'a str, Mark>,
            stack: &mut Vec<&'a str>,
            found: &mut Vec<(Vec<&'a str>, Span)>,
        ) {
            mark.insert(node, Mark::Open);
            stack.push(node);
            for (next, span) in edges.get(node).into_iter().flatten() {
                match mark.get(next).copied().unwrap_or(Mark::Done) {
                    Mark::New => dfs(next, edges, mark, stack, found),
                    Mark::Open => {
                        let start = stack.iter().position(|n| n == next).unwrap_or(0);
                        found.push((stack[start..].to_vec(), *span));
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            mark.insert(node, Mark::Done);
        }

        let names: Vec<&str> = edges.keys().copied().collect();
        for name in names {
            if mark.get(name) == Some(&Mark::New) {
                dfs(name, &edges, &mut mark, &mut Vec::new(), &mut found);
            }
        }
        for (cycle, span) in found {
            let mut key = cycle.clone();
            key.sort_unstable();
            if !reported.insert(key) {
                continue;
            }
            if cycle.len() == 1 {
                self.error(
                    span,
                    format!("job `{}` lists itself in `passed`", cycle[0]),
                    None,
                );
                continue;
            }
            let mut path: Vec<String> = cycle.iter().map(|n| format!("`{n}`")).collect();
            path.push(format!("`{}`", cycle[0]));
            self.error(
                span,
                format!("`passed` forms a cycle: {}", path.join(" → ")),
                Some("each job takes versions that passed the next one, so none can ever get a version".into()),
            );
        }
    }

    /// The environment invariant (docs/pipeline-design.md): a `get` of a tracked resource (one
    /// that some job of an earlier environment gets) in a job of environment N > 0 must have
    /// `passed:` jobs, each either a job of environment N−1 or a job of environment N whose own
    /// `get` of the resource satisfies the same rule (checked at that get). `passed` jobs of a
    /// later environment are rejected in any environment. Shared resources (`shared: true`) are
    /// not promoted and skipped entirely: a `get` of one needs no `passed`, and a `passed` it
    /// has only narrows its versions.
    fn invariant(&mut self) {
        let p = self.p;
        let envs = &p.environments;
        let flow: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        for job in &p.jobs {
            let Some(n) = self.env_index(job) else {
                continue;
            };
            let env = envs[n].name.as_str();
            for (_, get) in job.gets() {
                let r = get.resource.as_str();
                if !self.ix.resources.contains(r) || self.ix.shared.contains(r) {
                    continue;
                }
                let step = if get.name.value == get.resource.value {
                    format!("`{r}`")
                } else {
                    format!("`{r}` (as `{}`)", get.name)
                };
                // Passed jobs that exist and relate to the resource, with their environment.
                let passed: Vec<(&Spanned<String>, &Job, usize)> = get
                    .passed
                    .iter()
                    .filter_map(|name| {
                        let other = self.ix.job(name)?;
                        let i = self.env_index(other)?;
                        self.ix.touches(&other.name, r).then_some((name, other, i))
                    })
                    .collect();
                for (name, other, i) in &passed {
                    if *i > n {
                        self.error(
                            name.span,
                            format!(
                                "job `{}` (environment `{env}`) gets {step} passed through `{}` of the later environment `{}`",
                                job.name, other.name, envs[*i].name
                            ),
                            Some(format!("versions flow {}, never back", flow.join(" → "))),
                        );
                    }
                }
                let tracked = self.ix.first_got_in.get(r).is_some_and(|first| *first < n);
                if !tracked {
                    continue;
                }
                let prev = envs[n - 1].name.as_str();
                if get.passed.is_empty() {
                    let candidates: Vec<&str> = p
                        .jobs_in(prev)
                        .filter(|k| self.ix.touches(&k.name, r))
                        .map(|k| k.name.as_str())
                        .collect();
                    let promote = if candidates.is_empty() {
                        format!("add a job of `{prev}` that gets `{r}`, and list it in `passed:`")
                    } else {
                        format!("add `passed: [{}]`", candidates.join(", "))
                    };
                    let help = format!(
                        "{promote}, or declare `{r}` `shared: true` if every environment uses it without promoting it"
                    );
                    self.error(
                        get.name.span,
                        format!(
                            "job `{}` (environment `{env}`) gets {step} without `passed`: a change would skip `{prev}`",
                            job.name
                        ),
                        Some(help),
                    );
                    continue;
                }
                // Entries that break the rule, and whether some entry keeps to it.
                let mut skipping: Vec<&(&Spanned<String>, &Job, usize)> = Vec::new();
                let mut putting: Vec<&(&Spanned<String>, &Job, usize)> = Vec::new();
                for entry in &passed {
                    let (_, other, i) = entry;
                    if *i + 1 < n {
                        skipping.push(entry);
                    } else if *i == n && !self.ix.gets(&other.name, r) {
                        putting.push(entry);
                    }
                }
                for (name, other, _) in &putting {
                    self.error(
                        name.span,
                        format!(
                            "job `{}` (environment `{env}`) gets {step} passed through `{}`, which puts `{r}` instead of getting it from `{prev}`: a change would skip `{prev}`",
                            job.name, other.name
                        ),
                        Some(format!(
                            "list a job of `{prev}` in `passed`, or make `{}` get `{r}` with `passed:` jobs of `{prev}`",
                            other.name
                        )),
                    );
                }
                if skipping.is_empty() {
                    continue;
                }
                let only = skipping.len() == passed.len();
                let through: Vec<String> = skipping
                    .iter()
                    .map(|(_, other, i)| {
                        format!("`{}` (environment `{}`)", other.name, envs[*i].name)
                    })
                    .collect();
                let help = Some(format!(
                    "every `passed` job must belong to `{prev}` or to `{env}`"
                ));
                if only {
                    self.error(
                        skipping[0].0.span,
                        format!(
                            "job `{}` (environment `{env}`) gets {step} passed only through {}: a change would skip `{prev}`",
                            job.name,
                            through.join(" and ")
                        ),
                        help,
                    );
                } else {
                    for ((name, _, _), text) in skipping.iter().zip(&through) {
                        self.error(
                            name.span,
                            format!(
                                "job `{}` (environment `{env}`) gets {step} passed through {text}, which is not `{prev}` or `{env}`",
                                job.name
                            ),
                            help.clone(),
                        );
                    }
                }
            }
        }
    }
}

/// The schema checks: each plugin must load and be of the right kind, and each resource's
/// `source`, each `get`/`put`'s `params` and each test's `config` must satisfy the plugin's
/// JSON Schema (an omitted value is checked as `{}`). Also warns when a plugin asks for a
/// directory or environment variable that is not granted.
pub fn validate_schemas(pipeline: &Pipeline, schemas: &dyn SchemaSource) -> Vec<Diagnostic> {
    let mut s = SchemaChecker {
        p: pipeline,
        out: Vec::new(),
        compiled: BTreeMap::new(),
    };
    s.plugins(schemas);
    s.payloads();
    s.out
}

/// Which schema of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Which {
    Source,
    GetParams,
    PutParams,
    Config,
}

impl Which {
    fn label(self) -> &'static str {
        match self {
            Which::Source => "source",
            Which::GetParams => "get params",
            Which::PutParams => "put params",
            Which::Config => "config",
        }
    }
}

/// A usable plugin: its description and compiled schemas.
struct Compiled {
    description: Description,
    validators: BTreeMap<Which, (jsonschema::Validator, Value)>,
}

struct SchemaChecker<'p> {
    p: &'p Pipeline,
    out: Vec<Diagnostic>,
    compiled: BTreeMap<(TypeKind, String), Compiled>,
}

impl SchemaChecker<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        self.out
            .push(Diagnostic::error(&self.p.file, span, message).with_help_opt(help));
    }

    fn plugins(&mut self, schemas: &dyn SchemaSource) {
        let p = self.p;
        for (kind, types) in [
            (TypeKind::Resource, &p.resource_types),
            (TypeKind::Test, &p.test_types),
        ] {
            for t in types {
                if t.name.value.is_empty()
                    || t.plugin.value.is_unusable()
                    || self.compiled.contains_key(&(kind, t.name.value.clone()))
                {
                    continue;
                }
                let d = match schemas.description(kind, &t.name) {
                    Ok(d) => d.clone(),
                    Err(SchemaError::NotChecked) => continue,
                    Err(e) => {
                        let e = e.to_string();
                        let help = (e == NO_REGISTRY).then(|| {
                            "pass `--registry DIR` (or set LOCKGATE_REGISTRY, or `registry` in ~/.config/lockgate/config.toml) naming a directory `lockgate plugin publish` filled, or use a path to a `.wasm` file".to_owned()
                        });
                        self.error(t.plugin.span, e, help);
                        continue;
                    }
                };
                let expected = match kind {
                    TypeKind::Resource => PluginKind::ResourceType,
                    TypeKind::Test => PluginKind::TestStep,
                };
                if d.kind != expected {
                    self.error(
                        t.plugin.span,
                        format!(
                            "plugin `{}` implements world `{}`, but a {} needs `{}`",
                            d.name,
                            d.kind.world(),
                            kind.noun(),
                            expected.world()
                        ),
                        Some(match kind {
                            TypeKind::Resource => "declare it under `test_types`".into(),
                            TypeKind::Test => "declare it under `resource_types`".into(),
                        }),
                    );
                    continue;
                }
                let wanted: &[(Which, &Option<Value>)] = match kind {
                    TypeKind::Resource => &[
                        (Which::Source, &d.source_schema),
                        (Which::GetParams, &d.get_params_schema),
                        (Which::PutParams, &d.put_params_schema),
                    ],
                    TypeKind::Test => &[(Which::Config, &d.config_schema)],
                };
                let mut validators = BTreeMap::new();
                let mut broken = false;
                for (which, schema) in wanted {
                    let Some(schema) = schema else { continue };
                    match jsonschema::validator_for(schema) {
                        Ok(v) => {
                            validators.insert(*which, (v, schema.clone()));
                        }
                        Err(e) => {
                            broken = true;
                            self.error(
                                t.plugin.span,
                                format!(
                                    "plugin `{}` declares an invalid {} schema: {e}",
                                    d.name,
                                    which.label()
                                ),
                                Some("this is a bug of the plugin".into()),
                            );
                        }
                    }
                }
                if !broken {
                    self.compiled.insert(
                        (kind, t.name.value.clone()),
                        Compiled {
                            description: d,
                            validators,
                        },
                    );
                }
            }
        }
    }

    fn payloads(&mut self) {
        let p = self.p;
        let resources: HashMap<&str, &Resource> = p
            .resources
            .iter()
            .rev()
            .map(|r| (r.name.as_str(), r))
            .collect();
        for r in &p.resources {
            let key = (TypeKind::Resource, r.type_name.value.clone());
            self.check(
                &key,
                Which::Source,
                Some(&r.source),
                r.name.span,
                &format!("resource `{}`", r.name),
            );
            self.capabilities(
                &key,
                &r.grants,
                r.name.span,
                &format!("resource `{}`", r.name),
            );
        }
        for job in &p.jobs {
            for step in job.steps() {
                match &step.action {
                    Action::Get(g) => {
                        let Some(r) = resources.get(g.resource.as_str()) else {
                            continue;
                        };
                        let key = (TypeKind::Resource, r.type_name.value.clone());
                        let what = format!("`get: {}` in job `{}`", g.name, job.name);
                        self.check(&key, Which::GetParams, g.params.as_ref(), step.span, &what);
                    }
                    Action::Put(put) => {
                        let Some(r) = resources.get(put.resource.as_str()) else {
                            continue;
                        };
                        let key = (TypeKind::Resource, r.type_name.value.clone());
                        let what = format!("`put: {}` in job `{}`", put.name, job.name);
                        self.check(
                            &key,
                            Which::PutParams,
                            put.params.as_ref(),
                            step.span,
                            &what,
                        );
                    }
                    Action::Test(t) => {
                        let key = (TypeKind::Test, t.type_name.value.clone());
                        let what = format!("`test: {}` in job `{}`", t.name, job.name);
                        self.check(&key, Which::Config, t.config.as_ref(), step.span, &what);
                        self.capabilities(&key, &t.grants, step.span, &what);
                    }
                    Action::Task(_) | Action::InParallel(_) | Action::Do(_) | Action::Try(_) => {}
                }
            }
        }
    }

    /// Validates `payload` (or `{}` when omitted, reported at `owner`) against a schema.
    fn check(
        &mut self,
        key: &(TypeKind, String),
        which: Which,
        payload: Option<&Payload>,
        owner: Span,
        what: &str,
    ) {
        let Some(compiled) = self.compiled.get(key) else {
            return;
        };
        let Some((validator, schema)) = compiled.validators.get(&which) else {
            return;
        };
        let empty = Payload::empty(owner);
        let payload = payload.unwrap_or(&empty);
        let field = match which {
            Which::Source => "source",
            Which::GetParams | Which::PutParams => "params",
            Which::Config => "config",
        };
        let mut found = Vec::new();
        for e in validator.iter_errors(&payload.value) {
            let pointer = e.instance_path().as_str().to_owned();
            let place = if pointer.is_empty() {
                format!("`{field}`")
            } else {
                format!("`{field}{}`", dotted(&pointer))
            };
            // Keys a closed object does not allow: one diagnostic per key, at the key, with
            // the nearest allowed key. (An object schema without `properties` reports them as
            // a `false` schema.)
            let keyword = e.schema_path().as_str();
            let unexpected: Option<Vec<String>> = match e.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    Some(unexpected.clone())
                }
                jsonschema::error::ValidationErrorKind::FalseSchema
                    if keyword.ends_with("/additionalProperties") =>
                {
                    closed_object_extras(schema, keyword, &payload.value, &pointer)
                }
                _ => None,
            };
            if let Some(keys) = unexpected {
                let allowed = allowed_keys(schema, keyword);
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                for k in keys {
                    let member = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    let span = payload
                        .key_span_at(&member)
                        .unwrap_or_else(|| payload.span_at(&pointer));
                    let help = suggest::help(&k, &allowed).or_else(|| {
                        Some(if allowed.is_empty() {
                            format!("the plugin accepts no keys in {place}")
                        } else {
                            format!("accepted keys: {}", suggest::list(&allowed))
                        })
                    });
                    found.push((
                        span,
                        format!("invalid {place} of {what}: unknown key `{k}`"),
                        help,
                    ));
                }
                continue;
            }
            let span = payload.span_at(&pointer);
            let help = schema_description(schema, keyword);
            // `oneOf`/`anyOf` of `required` lists (a choice of keys): say which keys, not
            // "not valid under any of the schemas".
            if let Some(choice) = Self::required_choice(schema, keyword) {
                let choice: Vec<&str> = choice.iter().map(String::as_str).collect();
                let message = match e.kind() {
                    jsonschema::error::ValidationErrorKind::OneOfMultipleValid { .. } => {
                        format!("give only one of {}", suggest::alternatives(&choice))
                    }
                    jsonschema::error::ValidationErrorKind::OneOfNotValid { .. }
                    | jsonschema::error::ValidationErrorKind::AnyOf { .. } => {
                        format!("give one of {}", suggest::alternatives(&choice))
                    }
                    _ => e.to_string(),
                };
                found.push((span, format!("invalid {place} of {what}: {message}"), help));
                continue;
            }
            found.push((span, format!("invalid {place} of {what}: {e}"), help));
        }
        for (span, message, help) in found {
            self.error(span, message, help);
        }
    }

    /// When the schema at `keyword` (a `oneOf` or `anyOf`) is a choice between sets of required
    /// keys (`[{"required": ["a"]}, {"required": ["b", "c"]}]`), the choices (`a`, `b + c`).
    fn required_choice(schema: &serde_json::Value, keyword: &str) -> Option<Vec<String>> {
        if !(keyword.ends_with("/oneOf") || keyword.ends_with("/anyOf")) {
            return None;
        }
        let branches = schema.pointer(keyword)?.as_array()?;
        branches
            .iter()
            .map(|b| {
                let keys: Vec<&str> = b
                    .get("required")?
                    .as_array()?
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Option<_>>()?;
                (!keys.is_empty()).then(|| keys.join("` + `"))
            })
            .collect()
    }

    /// Warns about directories and environment variables the plugin asks for that `grants`
    /// lacks.
    fn capabilities(&mut self, key: &(TypeKind, String), grants: &GrantSpec, at: Span, what: &str) {
        let Some(compiled) = self.compiled.get(key) else {
            return;
        };
        let d = &compiled.description;
        let mut warnings = Vec::new();
        for dir in &d.capabilities.dirs {
            if !grants.dirs.iter().any(|g| &g.value.name == dir) {
                warnings.push((
                    format!(
                        "plugin `{}` asks for the directory `{dir}`, which {what} does not grant",
                        d.name
                    ),
                    format!("add `grants: {{dirs: {{{dir}: <path>}}}}` (mounted at /dirs/{dir})"),
                ));
            }
        }
        for var in &d.capabilities.env {
            if !grants.env.iter().any(|(k, _)| &k.value == var) {
                warnings.push((
                    format!(
                        "plugin `{}` asks for the environment variable `{var}`, which {what} does not grant",
                        d.name
                    ),
                    format!("add `grants: {{env: {{{var}: <value>}}}}`"),
                ));
            }
        }
        for (message, help) in warnings {
            self.out
                .push(Diagnostic::warning(&self.p.file, at, message).with_help(help));
        }
    }
}

/// The `properties` of the schema node owning keyword `keyword_path`.
fn allowed_keys(schema: &Value, keyword_path: &str) -> Vec<String> {
    let parent = keyword_path.rfind('/').map_or("", |i| &keyword_path[..i]);
    schema
        .pointer(parent)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The keys of the object at `pointer` of `instance` that the closed object schema owning
/// `keyword_path` (`…/additionalProperties: false`) does not list; `None` when the schema
/// also has `patternProperties` (then this cannot be told without matching).
fn closed_object_extras(
    schema: &Value,
    keyword_path: &str,
    instance: &Value,
    pointer: &str,
) -> Option<Vec<String>> {
    let parent = keyword_path.rfind('/').map_or("", |i| &keyword_path[..i]);
    let node = schema.pointer(parent)?;
    if node.get("patternProperties").is_some() {
        return None;
    }
    let allowed = allowed_keys(schema, keyword_path);
    let object = instance.pointer(pointer)?.as_object()?;
    let extra: Vec<String> = object
        .keys()
        .filter(|k| !allowed.contains(k))
        .cloned()
        .collect();
    (!extra.is_empty()).then_some(extra)
}

/// `/a/0/b~1c` → `.a[0].b/c`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg);
        }
    }
    out
}

/// The `description` of the schema node owning the failed keyword (`/properties/path/pattern`
/// → `/properties/path`), as help.
fn schema_description(schema: &Value, keyword_path: &str) -> Option<String> {
    let parent = keyword_path.rfind('/').map(|i| &keyword_path[..i])?;
    let node = schema.pointer(parent)?;
    node.get("description")
        .and_then(Value::as_str)
        .map(|d| format!("expected: {d}"))
}

/// For each step inside an `in_parallel` branch, the artifacts the other branches of that
/// block (and of every enclosing one) provide: they run at the same time, so a task cannot
/// read them.
fn concurrent_artifacts(job: &Job) -> HashMap<*const Step, Vec<&str>> {
    /// The artifacts `step` and everything inside it provide.
    fn provides<'a>(step: &'a Step, out: &mut Vec<&'a str>) {
        let mut all = Vec::new();
        step.walk(&mut all);
        for s in all {
            match &s.action {
                Action::Get(g) => out.push(&g.name),
                Action::Put(p) => out.push(&p.name),
                Action::Task(t) => {
                    out.extend(
                        t.config
                            .outputs
                            .iter()
                            .map(|o| t.output_artifact(&o.name).as_str()),
                    );
                    out.extend(t.output_mapping.iter().map(|(_, v)| v.as_str()));
                }
                _ => {}
            }
        }
    }
    fn visit<'a>(step: &'a Step, map: &mut HashMap<*const Step, Vec<&'a str>>) {
        if let Action::InParallel(p) = &step.action {
            for (i, branch) in p.steps.iter().enumerate() {
                let mut others = Vec::new();
                for (j, other) in p.steps.iter().enumerate() {
                    if i != j {
                        provides(other, &mut others);
                    }
                }
                let mut inside = Vec::new();
                branch.walk(&mut inside);
                for s in inside {
                    map.entry(std::ptr::from_ref(s))
                        .or_default()
                        .extend(others.iter().copied());
                }
            }
        }
        let mut children = Vec::new();
        match &step.action {
            Action::InParallel(p) => children.extend(p.steps.iter()),
            Action::Do(steps) => children.extend(steps.iter()),
            Action::Try(inner) => children.push(&**inner),
            _ => {}
        }
        for child in children {
            visit(child, map);
        }
    }
    let mut map = HashMap::new();
    for step in &job.plan {
        visit(step, &mut map);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Vars, parse_str};
    use lockgate_model::Capabilities;
    use serde_json::json;
    use std::path::Path;

    /// Structural diagnostics of `text`, plain, parse errors included.
    fn check(text: &str) -> String {
        let parsed = parse_str(Path::new("p.yml"), text, &Vars::new());
        let mut report = parsed.report;
        report.extend(validate_structure(&parsed.pipeline));
        report.render_plain()
    }

    fn errors(text: &str) -> String {
        check(text)
            .lines()
            .filter(|l| l.contains(": error: "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// A pipeline with environments `dev`, `stage`, `prod`, resources `app` and `cfg`, and
    /// the given jobs (one flow mapping per line, from line 5 on).
    fn graph(jobs: &str) -> String {
        let mut text = "\
environments: [dev, stage, prod]
resource_types: {t: ./t.wasm}
resources: [{name: app, type: t}, {name: cfg, type: t}]
jobs:
"
        .to_owned();
        for line in jobs.lines() {
            text.push_str("  ");
            text.push_str(line.trim());
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_straight_promotion_is_valid() {
        let text = graph(
            "\
  - {name: build, environment: dev, plan: [{get: app, trigger: true}]}
  - {name: test-dev, environment: dev, plan: [{get: app, passed: [build]}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app, passed: [test-dev]}]}
  - {name: smoke-stage, environment: stage, plan: [{get: app, passed: [deploy-stage]}]}
  - {name: deploy-prod, environment: prod, plan: [{get: app, passed: [smoke-stage]}, {get: cfg}]}
",
        );
        assert_eq!(check(&text), "");
    }

    #[test]
    fn skipping_an_environment_is_rejected() {
        let text = graph(
            "\
  - {name: test-dev, environment: dev, plan: [{get: app}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app, passed: [test-dev]}]}
  - {name: deploy-prod, environment: prod, plan: [{get: app, passed: [test-dev]}]}
",
        );
        assert_eq!(
            errors(&text),
            "p.yml:7:71: error: job `deploy-prod` (environment `prod`) gets `app` passed only through `test-dev` (environment `dev`): a change would skip `stage` (help: every `passed` job must belong to `stage` or to `prod`)\n"
        );
    }

    #[test]
    fn a_get_without_passed_of_a_tracked_resource_is_rejected() {
        let text = graph(
            "\
  - {name: test-dev, environment: dev, plan: [{get: app}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app}]}
",
        );
        assert_eq!(
            errors(&text),
            "p.yml:6:59: error: job `deploy-stage` (environment `stage`) gets `app` without `passed`: a change would skip `dev` (help: add `passed: [test-dev]`, or declare `app` `shared: true` if every environment uses it without promoting it)\n"
        );
    }

    #[test]
    fn a_get_without_passed_and_no_job_to_pass_names_the_shared_option() {
        let text = graph(
            "\
  - {name: build, environment: dev, plan: [{get: app}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app, passed: [build]}]}
  - {name: deploy-prod, environment: prod, plan: [{get: app, passed: [deploy-stage]}, {get: cfg}]}
  - {name: plan-stage, environment: stage, plan: [{get: cfg}]}
  - {name: plan-dev, environment: dev, plan: [{get: cfg}]}
",
        );
        assert_eq!(
            errors(&text),
            "\
p.yml:7:93: error: job `deploy-prod` (environment `prod`) gets `cfg` without `passed`: a change would skip `stage` (help: add `passed: [plan-stage]`, or declare `cfg` `shared: true` if every environment uses it without promoting it)
p.yml:8:57: error: job `plan-stage` (environment `stage`) gets `cfg` without `passed`: a change would skip `dev` (help: add `passed: [plan-dev]`, or declare `cfg` `shared: true` if every environment uses it without promoting it)
"
        );
        let text = graph(
            "\
  - {name: dev-job, environment: dev, plan: [{get: cfg}]}
  - {name: prod-job, environment: prod, plan: [{get: cfg}]}
",
        );
        assert_eq!(
            errors(&text),
            "p.yml:6:54: error: job `prod-job` (environment `prod`) gets `cfg` without `passed`: a change would skip `stage` (help: add a job of `stage` that gets `cfg`, and list it in `passed:`, or declare `cfg` `shared: true` if every environment uses it without promoting it)\n"
        );
    }

    #[test]
    fn a_shared_resource_needs_no_passed_in_any_environment() {
        // `image` and `timer` serve every environment: gotten without `passed` everywhere,
        // with a `passed` that does not reach the previous environment, and put in one
        // environment; none of it is a skip.
        let text = "\
environments: [dev, stage, prod]
resource_types: {t: ./t.wasm}
resources:
  - {name: app, type: t}
  - {name: image, type: t, shared: true}
  - {name: timer, type: t, shared: true}
jobs:
  - {name: build, environment: dev, plan: [{get: timer, trigger: true}, {get: app}, {get: image}, {put: image}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app, passed: [build]}, {get: image}, {get: timer}]}
  - {name: deploy-prod, environment: prod, plan: [{get: app, passed: [deploy-stage]}, {get: image, passed: [build]}, {get: timer}]}
";
        assert_eq!(check(text), "");
        let parsed = parse_str(Path::new("p.yml"), text, &Vars::new());
        let shared: Vec<(&str, bool)> = parsed
            .pipeline
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.shared))
            .collect();
        assert_eq!(shared, [("app", false), ("image", true), ("timer", true)]);
        // The same pipeline without `shared` is rejected at each such get.
        let unshared = text.replace(", shared: true", "");
        let errors = errors(&unshared);
        assert_eq!(errors.lines().count(), 4, "{errors}");
        assert!(
            errors.contains("or declare `timer` `shared: true` if every environment uses it without promoting it"),
            "{errors}"
        );
    }

    #[test]
    fn a_shared_resource_is_not_tracked_for_the_others() {
        // Sharing one resource leaves the invariant of the others whole.
        let text = graph(
            "\
  - {name: test-dev, environment: dev, plan: [{get: app}, {get: cfg}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app}, {get: cfg}]}
",
        )
        .replace("{name: cfg, type: t}", "{name: cfg, type: t, shared: true}");
        assert_eq!(
            errors(&text),
            "p.yml:6:59: error: job `deploy-stage` (environment `stage`) gets `app` without `passed`: a change would skip `dev` (help: add `passed: [test-dev]`, or declare `app` `shared: true` if every environment uses it without promoting it)\n"
        );
    }

    #[test]
    fn a_resource_first_used_later_is_free_there_and_tracked_after() {
        let text = graph(
            "\
  - {name: dev-job, environment: dev, plan: [{get: app}]}
  - {name: stage-job, environment: stage, plan: [{get: app, passed: [dev-job]}, {get: cfg}]}
  - {name: prod-job, environment: prod, plan: [{get: app, passed: [stage-job]}, {get: cfg}]}
",
        );
        assert_eq!(
            errors(&text),
            "p.yml:7:87: error: job `prod-job` (environment `prod`) gets `cfg` without `passed`: a change would skip `stage` (help: add `passed: [stage-job]`, or declare `cfg` `shared: true` if every environment uses it without promoting it)\n"
        );
    }

    #[test]
    fn same_environment_chains_must_reach_the_previous_environment() {
        // deploy-stage → smoke-stage within stage is fine; check-stage, whose chain starts at
        // a stage job that only puts, is not.
        let text = graph(
            "\
  - {name: dev-job, environment: dev, plan: [{get: app}]}
  - {name: deploy-stage, environment: stage, plan: [{get: app, passed: [dev-job]}]}
  - {name: smoke-stage, environment: stage, plan: [{get: app, passed: [deploy-stage]}]}
  - {name: bump-stage, environment: stage, plan: [{put: app}]}
  - {name: check-stage, environment: stage, plan: [{get: app, passed: [bump-stage]}]}
",
        );
        assert_eq!(
            errors(&text),
            "p.yml:9:72: error: job `check-stage` (environment `stage`) gets `app` passed through `bump-stage`, which puts `app` instead of getting it from `dev`: a change would skip `dev` (help: list a job of `dev` in `passed`, or make `bump-stage` get `app` with `passed:` jobs of `dev`)\n"
        );
    }

    #[test]
    fn mixed_passed_lists_name_the_offending_entry() {
        let text = graph(
            "\
  - {name: a, environment: dev, plan: [{get: app}]}
  - {name: b, environment: stage, plan: [{get: app, passed: [a]}]}
  - {name: c, environment: prod, plan: [{get: app, passed: [b, a]}]}
  - {name: d, environment: dev, plan: [{get: app, passed: [c]}]}
",
        );
        assert_eq!(
            errors(&text),
            "\
p.yml:7:64: error: job `c` (environment `prod`) gets `app` passed through `a` (environment `dev`), which is not `stage` or `prod` (help: every `passed` job must belong to `stage` or to `prod`)
p.yml:8:60: error: job `d` (environment `dev`) gets `app` passed through `c` of the later environment `prod` (help: versions flow dev → stage → prod, never back)
"
        );
    }

    #[test]
    fn cycles_are_named() {
        let text = graph(
            "\
  - {name: a, environment: dev, plan: [{get: app, passed: [b]}]}
  - {name: b, environment: dev, plan: [{get: app, passed: [c]}]}
  - {name: c, environment: dev, plan: [{get: app, passed: [a]}]}
  - {name: d, environment: dev, plan: [{get: app, passed: [d]}]}
",
        );
        assert_eq!(
            errors(&text),
            "\
p.yml:7:60: error: `passed` forms a cycle: `a` → `b` → `c` → `a` (help: each job takes versions that passed the next one, so none can ever get a version)
p.yml:8:60: error: job `d` lists itself in `passed`
"
        );
    }

    #[test]
    fn references_are_checked_with_suggestions() {
        let text = "\
environments: [development, production]
resource_types: {counter: ./c.wasm}
test_types: {assert-file: ./a.wasm}
resources:
  - {name: release, type: countr}
  - {name: release, type: assert-file}
jobs:
  - name: build
    environment: developmnt
    max_in_flight: 2
    serial: true
    plan:
      - get: relase
      - get: release
        passed: [biuld, deploy]
      - put: release
        inputs: [releas]
      - test: assert-fil
      - test: smoke
        type: counter
  - name: deploy
    environment: production
    plan: [{put: release}]
  - name: deploy
    environment: prod
    plan: [{get: release, passed: [build]}]
";
        assert_eq!(
            errors(text),
            "\
p.yml:5:27: error: undefined resource type `countr` (help: did you mean `counter`?)
p.yml:6:12: error: duplicate resource `release` (help: the first `release` is at line 5)
p.yml:6:27: error: undefined resource type `assert-file` (help: `assert-file` is a test type; resources use `resource_types`)
p.yml:9:18: error: unknown environment `developmnt` of job `build` (help: did you mean `development`?)
p.yml:10:20: error: `max_in_flight: 2` contradicts `serial: true`, which runs one build at a time
p.yml:13:14: error: undefined resource `relase` (help: did you mean `release`?)
p.yml:15:18: error: undefined job `biuld` in `passed` (help: did you mean `build`?)
p.yml:17:18: error: unknown input `releas`: job `build` has no `get: releas` (help: did you mean `release`?)
p.yml:18:15: error: undefined test type `assert-fil` (help: the type of a test step is its name unless `type:` says otherwise; did you mean `assert-file`?)
p.yml:20:15: error: undefined test type `counter` (help: `counter` is a resource type; test steps use `test_types`)
p.yml:24:11: error: duplicate job `deploy` (help: the first `deploy` is at line 21)
p.yml:25:18: error: unknown environment `prod` of job `deploy` (help: did you mean `production`?)
p.yml:26:36: error: `passed` forms a cycle: `build` → `deploy` → `build` (help: each job takes versions that passed the next one, so none can ever get a version)
"
        );
    }

    #[test]
    fn gates_and_soak() {
        let text = "\
environments:
  - {name: dev, soak: 1h, approval: required}
  - {name: prod, gate: [a, b, c]}
  - {name: empty}
resource_types: {t: ./t.wasm}
resources: [{name: r, type: t}]
jobs:
  - {name: a, environment: dev, plan: [{get: r}]}
  - {name: b, environment: prod, plan: [{get: r, passed: [a]}]}
  - {name: passes-a, environment: dev, plan: [{get: r, passed: [a, a]}]}
";
        assert_eq!(
            check(text),
            "\
p.yml:2:23: error: `soak` of the first environment `dev` has nothing to wait for (help: a candidate soaks in the previous environment before it enters the next one)
p.yml:2:37: error: `approval: required` on the first environment `dev` has nothing to approve (help: its changes are new versions from checks; an approval gates a candidate qualified in the previous environment entering the next one)
p.yml:3:25: error: gate job `a` belongs to environment `dev`, not `prod` (help: an environment's gate jobs are jobs of that environment)
p.yml:3:31: error: undefined job `c` in the gate of `prod` (help: jobs: `b`)
p.yml:4:12: warning: environment `empty` has no jobs (help: no candidate can be qualified in it, so none can go past it)
p.yml:10:68: error: `passed` lists `a` twice (help: the first one is at line 10)
"
        );
    }

    #[test]
    fn passed_jobs_must_touch_the_resource_and_inputs_be_unique() {
        let text = "\
environments: [dev]
resource_types: {t: ./t.wasm}
resources: [{name: r, type: t}, {name: s, type: t}]
jobs:
  - {name: a, environment: dev, plan: [{get: s}]}
  - {name: b, environment: dev, plan: [{get: r, passed: [a]}, {get: r}]}
";
        assert_eq!(
            errors(text),
            "\
p.yml:6:58: error: job `a` in `passed` neither gets nor puts `r`, so no version of it can pass that job
p.yml:6:69: error: job `b` has two inputs named `r` (help: the first is at line 6; name this one with `get: <other name>` and `resource: r`)
"
        );
    }

    #[test]
    fn task_inputs_outputs_and_mappings_are_checked_in_plan_order() {
        let text = "\
environments: [dev]
resource_types: {t: ./t.wasm}
resources: [{name: r, type: t}]
jobs:
  - name: j
    environment: dev
    plan:
      - task: early
        config: {component: ./x.wasm, inputs: [{name: r}], outputs: [{name: out}]}
      - get: r
      - task: render
        config:
          component: ./x.wasm
          inputs: [{name: config}, {name: out}, {name: later}]
          outputs: [{name: rendered}, {name: r}]
          caches: [{path: out}]
        input_mapping: {config: r, nope: r}
        output_mapping: {rendered: out, r: fresh, missing: x}
      - task: late
        config: {component: ./x.wasm, outputs: [{name: later}]}
      - put: r
        inputs: [fresh, later, ghost]
      - {put: later, resource: r}
";
        assert_eq!(
            errors(text),
            "\
p.yml:9:55: error: input `r` of task `early` is not provided by an earlier step of job `j` (help: a task reads what an earlier `get: r`, `put` or task output of the job provides)
p.yml:14:56: error: input `later` of task `render` is not provided by an earlier step of job `j` (help: artifacts: `out` and `r` (provided before this step))
p.yml:16:27: error: `out` is both an input and a cache of task `render`: each directory of a task has its own name
p.yml:17:36: error: `input_mapping` maps `nope`, which is not in the `inputs` of task `render` (help: inputs: `config`, `out` and `later`)
p.yml:18:36: error: output `out` of task `render` clashes with another artifact of job `j` named `out` (help: the other is at line 9; rename this one with `output_mapping: {rendered: <other name>}`)
p.yml:18:51: error: `output_mapping` maps `missing`, which is not in the `outputs` of task `render` (help: outputs: `rendered` and `r`)
p.yml:20:56: error: output `later` of task `late` clashes with another artifact of job `j` named `later` (help: the other is at line 23; rename this one with `output_mapping: {later: <other name>}`)
p.yml:22:32: error: unknown input `ghost`: job `j` has no `get: ghost` (help: inputs: `fresh`, `later`, `out` and `r`)
"
        );
    }

    #[test]
    fn a_task_cannot_read_what_a_parallel_branch_provides() {
        let text = "\
environments: [dev]
resource_types: {t: ./t.wasm}
resources: [{name: r, type: t}]
jobs:
  - name: j
    environment: dev
    plan:
      - in_parallel:
          - get: r
          - task: racing
            config: {component: ./x.wasm, inputs: [{name: r}]}
          - do:
              - task: build
                config: {component: ./x.wasm, outputs: [{name: out}]}
              - task: same-branch
                config: {component: ./x.wasm, inputs: [{name: out}]}
      - task: after
        config: {component: ./x.wasm, inputs: [{name: r}, {name: out}]}
";
        assert_eq!(
            errors(text),
            "p.yml:11:59: error: input `r` of task `racing` comes from a step that runs at the same time (another branch of the same `in_parallel`) (help: move the task after the `in_parallel` block, or into the same branch after that step)\n"
        );
    }

    #[test]
    fn task_files_and_components_from_artifacts_are_checked_where_they_can_be() {
        let text = "\
environments: [dev]
resource_types: {t: ./t.wasm}
resources: [{name: tools, type: t}]
jobs:
  - name: j
    environment: dev
    plan:
      - task: too-early
        config: {component: {artifact: built, path: x.wasm}}
      - get: tools
      - task: from-file
        file: tools/ci/render.yml
        input_mapping: {anything: tools}
        output_mapping: {rendered: manifests}
      - task: reads-file-output
        config: {component: {artifact: tools, path: x.wasm}, inputs: [{name: manifests}, {name: unknown-then}]}
      - in_parallel:
          - task: build
            config: {component: ./x.wasm, outputs: [{name: built}]}
          - task: racing
            file: built/task.yml
";
        // Before the task file: an artifact no step provides. After it: any name may be one
        // of its outputs (checked when it runs), but not what a parallel branch provides.
        assert_eq!(
            errors(text),
            "\
p.yml:9:40: error: artifact `built` of `component` of task `too-early` is not provided by an earlier step of job `j` (help: a task reads what an earlier `get: built`, `put` or task output of the job provides)
p.yml:21:19: error: artifact `built` of `file` of task `racing` comes from a step that runs at the same time (another branch of the same `in_parallel`) (help: move the task after the `in_parallel` block, or into the same branch after that step)
"
        );
    }

    fn counter() -> Description {
        Description {
            name: "counter".into(),
            version: "0.1.0".into(),
            kind: PluginKind::ResourceType,
            summary: String::new(),
            source_schema: Some(json!({
                "type": "object",
                "properties": {"path": {"type": "string", "pattern": "^/", "description": "Absolute path"}},
                "required": ["path"],
                "additionalProperties": false
            })),
            get_params_schema: Some(json!({"type": "object", "additionalProperties": false})),
            put_params_schema: Some(json!({
                "type": "object",
                "properties": {"increment": {"type": "integer", "minimum": 0}},
                "additionalProperties": false
            })),
            config_schema: None,
            capabilities: Capabilities {
                dirs: vec!["state".into()],
                ..Capabilities::default()
            },
        }
    }

    fn schema_check(text: &str, schemas: &StaticSchemas) -> String {
        let parsed = parse_str(Path::new("p.yml"), text, &Vars::new());
        assert!(!parsed.report.has_errors(), "{}", parsed.report);
        let mut report = crate::Report::new();
        report.extend(validate_schemas(&parsed.pipeline, schemas));
        report.render_plain()
    }

    #[test]
    fn schema_violations_point_at_the_offending_node() {
        let text = "\
environments: [dev]
resource_types: {counter: ./c.wasm, other: x@1, tests: ./t.wasm}
test_types: {wrong: ./c.wasm}
resources:
  - name: a
    type: counter
    source: {path: relative, extra: 1}
    grants: {dirs: {state: /tmp}}
  - name: b
    type: counter
jobs:
  - name: j
    environment: dev
    plan:
      - get: a
        params: {depth: 1}
      - put: b
        params:
          increment: -1
";
        let mut schemas = StaticSchemas::new();
        schemas.insert(TypeKind::Resource, "counter", counter());
        schemas.insert_error(TypeKind::Resource, "other", NO_REGISTRY);
        let mut test = counter();
        test.kind = PluginKind::TestStep;
        schemas.insert(TypeKind::Resource, "tests", test);
        schemas.insert(TypeKind::Test, "wrong", counter());
        assert_eq!(
            schema_check(text, &schemas),
            "\
p.yml:2:44: error: no plugin registry to resolve it in (help: pass `--registry DIR` (or set LOCKGATE_REGISTRY, or `registry` in ~/.config/lockgate/config.toml) naming a directory `lockgate plugin publish` filled, or use a path to a `.wasm` file)
p.yml:2:56: error: plugin `counter` implements world `test-step`, but a resource type needs `resource-type` (help: declare it under `test_types`)
p.yml:3:21: error: plugin `counter` implements world `resource-type`, but a test type needs `test-step` (help: declare it under `resource_types`)
p.yml:7:20: error: invalid `source.path` of resource `a`: \"relative\" does not match \"^/\" (help: expected: Absolute path)
p.yml:7:30: error: invalid `source` of resource `a`: unknown key `extra` (help: accepted keys: `path`)
p.yml:9:11: error: invalid `source` of resource `b`: \"path\" is a required property
p.yml:9:11: warning: plugin `counter` asks for the directory `state`, which resource `b` does not grant (help: add `grants: {dirs: {state: <path>}}` (mounted at /dirs/state))
p.yml:16:18: error: invalid `params` of `get: a` in job `j`: unknown key `depth` (help: the plugin accepts no keys in `params`)
p.yml:19:22: error: invalid `params.increment` of `put: b` in job `j`: -1 is less than the minimum of 0
"
        );
    }

    #[test]
    fn a_choice_of_required_keys_is_named() {
        let mut bucket = counter();
        bucket.source_schema = Some(json!({
            "type": "object",
            "properties": {"bucket": {"type": "string"}, "regexp": {"type": "string"}, "versioned_file": {"type": "string"}, "key": {"type": "string"}},
            "oneOf": [{"required": ["regexp"]}, {"required": ["versioned_file", "key"]}],
            "additionalProperties": false
        }));
        let mut schemas = StaticSchemas::new();
        schemas.insert(TypeKind::Resource, "s3", bucket);
        let text = "\
environments: [dev]
resource_types: {s3: ./s3.wasm}
resources:
  - {name: none, type: s3, source: {bucket: b}, grants: {dirs: {state: /tmp}}}
  - {name: both, type: s3, source: {bucket: b, regexp: x, versioned_file: v, key: z}, grants: {dirs: {state: /tmp}}}
  - {name: fine, type: s3, source: {bucket: b, regexp: x}, grants: {dirs: {state: /tmp}}}
jobs:
  - {name: j, environment: dev, plan: [{get: none}, {get: both}, {get: fine}]}
";
        assert_eq!(
            schema_check(text, &schemas),
            "\
p.yml:4:28: error: invalid `source` of resource `none`: give one of `regexp` or `versioned_file` + `key`
p.yml:5:28: error: invalid `source` of resource `both`: give only one of `regexp` or `versioned_file` + `key`
"
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(dotted("/a/0/b~1c"), ".a[0].b/c");
        assert_eq!(
            schema_description(
                &counter().source_schema.unwrap(),
                "/properties/path/pattern"
            ),
            Some("expected: Absolute path".into())
        );
    }
}
