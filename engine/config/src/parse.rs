//! From the YAML tree to the model: checks every key and type, reports every problem (with
//! "did you mean") and goes on, so that one run shows all of them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::diagnostic::{Diagnostic, Report};
use super::model::*;
use super::plugins::parse_plugin_ref;
use super::span::{Span, Spanned};
use super::units::{parse_duration, parse_size};
use super::yaml::{Key, Kind, Node};
use lockgate_model::suggest;
use lockgate_model::{DirGrant, NetworkGrant, Version};

/// Top-level keys. Keys starting with `x-` are ignored (a place for anchors).
pub(crate) const TOP_KEYS: &[&str] = &[
    "environments",
    "resource_types",
    "test_types",
    "resources",
    "jobs",
];
const ENVIRONMENT_KEYS: &[&str] = &["name", "approval", "soak", "gate"];
const TYPE_KEYS: &[&str] = &["plugin", "memory", "limits", "defaults"];
/// Keys of a plugin type's `limits`: counts, then sizes.
const LIMIT_COUNT_KEYS: &[&str] = &[
    "versions_per_check",
    "version_fields",
    "metadata_entries",
    "files",
    "report_cases",
];
const LIMIT_SIZE_KEYS: &[&str] = &[
    "field_size",
    "message_size",
    "log_size",
    "disk_size",
    "cache_size",
    "report_size",
];
const RESOURCE_KEYS: &[&str] = &[
    "name",
    "type",
    "source",
    "check_every",
    "check_timeout",
    "webhook_token",
    "version",
    "grants",
    "shared",
    "limits",
];
const GRANT_KEYS: &[&str] = &["dirs", "network", "env", "ca_certs"];
const DIR_KEYS: &[&str] = &["path", "writable"];
const JOB_KEYS: &[&str] = &[
    "name",
    "environment",
    "plan",
    "serial",
    "serial_groups",
    "max_in_flight",
    "timeout",
    "attempts",
    "on_success",
    "on_failure",
    "on_error",
    "ensure",
];
const HOOKS: &[&str] = &["on_success", "on_failure", "on_error", "ensure"];
const ACTIONS: &[&str] = &["get", "put", "test", "task", "in_parallel", "do", "try"];
/// Concourse's step kinds that Lockgate does not have, with what to do instead.
const FOREIGN_STEPS: &[(&str, &str)] = &[
    (
        "set_pipeline",
        "a pipeline is loaded by `lockgate run` or `lockgate server`, not set from a step",
    ),
    (
        "load_var",
        "values come from `((vars))` (`--vars FILE`, `--secrets FILE`, the environment), not from a step",
    ),
    (
        "across",
        "write one step per value, or one job per environment",
    ),
];
const STEP_KEYS: &[&str] = &[
    "attempts",
    "timeout",
    "on_success",
    "on_failure",
    "on_error",
    "ensure",
];
const GET_KEYS: &[&str] = &["get", "resource", "passed", "trigger", "version", "params"];
const PUT_KEYS: &[&str] = &["put", "resource", "params", "inputs"];
const TEST_KEYS: &[&str] = &["test", "type", "config", "inputs", "grants"];
const TASK_KEYS: &[&str] = &[
    "task",
    "config",
    "file",
    "params",
    "input_mapping",
    "output_mapping",
    "grants",
    "limits",
];
const TASK_CONFIG_KEYS: &[&str] = &["component", "args", "params", "inputs", "outputs", "caches"];
const TASK_LIMIT_KEYS: &[&str] = &["memory", "timeout", "log_size", "disk_size"];
/// Concourse's container settings of a task (step or `config`), with what each is.
const CONTAINER_KEYS: &[(&str, &str)] = &[
    ("image", "a container image"),
    ("image_resource", "a container image"),
    ("platform", "a container platform"),
    ("run", "a container command"),
    ("rootfs_uri", "a container root file system"),
    ("container_limits", "a container's limits"),
    ("privileged", "a container privilege"),
];
const PARALLEL_KEYS: &[&str] = &["steps", "limit", "fail_fast"];

/// The message for a container key of a task (`None`: not one).
fn container_key(k: &str) -> Option<String> {
    let (_, what) = CONTAINER_KEYS.iter().find(|(name, _)| *name == k)?;
    let extra = match k {
        "run" => " and its arguments as `config.args`",
        "container_limits" => " and its limits as `limits: {memory: 256MiB, timeout: 5m}`",
        _ => "",
    };
    Some(format!(
        "`{k}` is {what}: Lockgate tasks run a WebAssembly component; give `config.component: path/to/task.wasm` (any program built for wasm32-wasip2){extra}"
    ))
}

fn action_keys(action: &str) -> &'static [&'static str] {
    match action {
        "get" => GET_KEYS,
        "put" => PUT_KEYS,
        "test" => TEST_KEYS,
        "task" => TASK_KEYS,
        "in_parallel" => &["in_parallel"],
        "do" => &["do"],
        _ => &["try"],
    }
}

/// The task definition of task file `file` whose parsed content is `root`; relative
/// `component` paths resolve against `dir`. Every problem goes into `report`.
pub(crate) fn task_definition(
    root: &Node,
    file: &Path,
    dir: &Path,
    report: &mut Report,
) -> Option<TaskConfig> {
    let mut c = Conv { file, dir, report };
    c.task_config(root, "a task file")
}

/// Builds the model of `root`, reporting every problem into `report`.
pub(crate) fn build(root: &Node, file: &Path, dir: &Path, report: &mut Report) -> Pipeline {
    let mut c = Conv { file, dir, report };
    let mut pipeline = Pipeline {
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        ..Pipeline::default()
    };
    if matches!(root.kind, Kind::Null) {
        c.error(
            root.span,
            "the pipeline is empty: it needs `environments` and `jobs`",
        );
        return pipeline;
    }
    let Some(top) = c.fields(root, "the pipeline", TOP_KEYS, &|k| {
        if k.starts_with("x-") {
            Known::Ignored
        } else {
            Known::No
        }
    }) else {
        return pipeline;
    };
    match top.get("environments") {
        Some((key, node)) => pipeline.environments = c.environments(key, node),
        None => c.error_help(
            root.span,
            "the pipeline has no `environments`",
            "list them in promotion order, e.g. `environments: [development, staging, production]`",
        ),
    }
    if let Some((_, node)) = top.get("resource_types") {
        pipeline.resource_types = c.plugin_types(node, "resource type");
    }
    if let Some((_, node)) = top.get("test_types") {
        pipeline.test_types = c.plugin_types(node, "test type");
    }
    if let Some((key, node)) = top.get("resources") {
        pipeline.resources = c.list(key, node, "resources", |c, n| c.resource(n));
    }
    match top.get("jobs") {
        Some((key, node)) => pipeline.jobs = c.list(key, node, "jobs", |c, n| c.job(n)),
        None => c.error(root.span, "the pipeline has no `jobs`"),
    }
    apply_defaults(&mut pipeline);
    pipeline
}

/// Merges each type's `defaults` under the `source` of its resources and the `config` of its
/// test steps.
fn apply_defaults(p: &mut Pipeline) {
    for r in &mut p.resources {
        if let Some(defaults) = p
            .resource_types
            .iter()
            .find(|t| t.name.value == r.type_name.value)
            .and_then(|t| t.defaults.as_ref())
        {
            r.source = r.source.merged_over(defaults);
        }
    }
    let test_types = &p.test_types;
    for job in &mut p.jobs {
        let mut visit = |step: &mut Step| {
            if let Action::Test(t) = &mut step.action
                && let Some(defaults) = test_types
                    .iter()
                    .find(|ty| ty.name.value == t.type_name.value)
                    .and_then(|ty| ty.defaults.as_ref())
            {
                t.config = Some(match t.config.take() {
                    Some(config) => config.merged_over(defaults),
                    None => defaults.clone().at(step.span),
                });
            }
        };
        for step in &mut job.plan {
            walk_mut(step, &mut visit);
        }
        for_each_hook_mut(&mut job.hooks, &mut |s| walk_mut(s, &mut visit));
    }
}

fn walk_mut(step: &mut Step, f: &mut dyn FnMut(&mut Step)) {
    f(step);
    match &mut step.action {
        Action::InParallel(p) => p.steps.iter_mut().for_each(|s| walk_mut(s, f)),
        Action::Do(steps) => steps.iter_mut().for_each(|s| walk_mut(s, f)),
        Action::Try(s) => walk_mut(s, f),
        Action::Get(_) | Action::Put(_) | Action::Test(_) | Action::Task(_) => {}
    }
    for_each_hook_mut(&mut step.hooks, &mut |s| walk_mut(s, f));
}

fn for_each_hook_mut(hooks: &mut Hooks, f: &mut dyn FnMut(&mut Step)) {
    for hook in [
        &mut hooks.on_success,
        &mut hooks.on_failure,
        &mut hooks.on_error,
        &mut hooks.ensure,
    ]
    .into_iter()
    .flatten()
    {
        f(hook);
    }
}

impl Payload {
    /// `self` (a mapping) with the top-level keys of `defaults` it lacks added.
    pub(crate) fn merged_over(&self, defaults: &Payload) -> Payload {
        let (serde_json::Value::Object(own), serde_json::Value::Object(base)) =
            (&self.value, &defaults.value)
        else {
            return self.clone();
        };
        let mut merged = self.clone();
        let mut value = own.clone();
        for (k, v) in base {
            if !own.contains_key(k) {
                value.insert(k.clone(), v.clone());
                let pointer = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
                merged.copy_spans_from(defaults, &pointer);
            }
        }
        merged.value = serde_json::Value::Object(value);
        merged
    }
}

/// Whether a key outside the allowed list is acceptable.
enum Known {
    /// Unknown: report it.
    No,
    /// Silently ignored (`x-…` at the top level).
    Ignored,
    /// Misplaced: report with this explanation.
    Misplaced(String),
}

/// The entries of a mapping, by key, after checking the keys.
struct Fields<'n> {
    entries: Vec<(&'n Key, &'n Node)>,
    span: Span,
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<(&'n Key, &'n Node)> {
        self.entries.iter().find(|(k, _)| k.name == name).copied()
    }
}

struct Conv<'a> {
    file: &'a Path,
    dir: &'a Path,
    report: &'a mut Report,
}

impl Conv<'_> {
    /// "found …" for messages: [`Node::describe`], showing booleans and numbers as written
    /// (`yes` is a boolean in YAML, which surprises).
    fn found(&self, node: &Node) -> String {
        let raw = self
            .report
            .source(self.file)
            .and_then(|s| s.get(node.span.offset..node.span.offset + node.span.len))
            .map(str::trim)
            .filter(|r| !r.is_empty() && !r.contains('\n') && r.chars().count() <= 40);
        match (&node.kind, raw) {
            (Kind::Bool(b), Some(r)) if r != b.to_string() => {
                format!("`{r}`, which YAML reads as the boolean `{b}` (quote it for a string)")
            }
            (Kind::Num(_), Some(r)) if !r.starts_with(['"', '\'']) => format!("the number `{r}`"),
            _ => node.describe(),
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.report
            .push(Diagnostic::error(self.file, span, message));
    }

    fn error_help(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.report
            .push(Diagnostic::error(self.file, span, message).with_help(help));
    }

    fn error_opt(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        self.report
            .push(Diagnostic::error(self.file, span, message).with_help_opt(help));
    }

    /// Checks that `node` is a mapping whose keys are in `allowed` (or acceptable to
    /// `other`), each once; reports the rest.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
        other: &dyn Fn(&str) -> Known,
    ) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                node.span,
                format!("{what} must be a mapping, found {}", self.found(node)),
            );
            return None;
        };
        let mut fields = Fields {
            entries: Vec::new(),
            span: node.span,
        };
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for (key, value) in entries {
            if self.given_twice(&mut seen, key, what) {
                continue;
            }
            if allowed.contains(&key.name.as_str()) {
                fields.entries.push((key, value));
                continue;
            }
            match other(&key.name) {
                Known::Ignored => {}
                Known::Misplaced(why) => self.error(key.span, why),
                Known::No => {
                    let help = suggest::help(&key.name, allowed)
                        .unwrap_or_else(|| format!("valid keys here: {}", suggest::list(allowed)));
                    self.error_help(
                        key.span,
                        format!("unknown key `{}` in {what}", key.name),
                        help,
                    );
                }
            }
        }
        Some(fields)
    }

    /// A list whose items are converted by `item`.
    fn list<T>(
        &mut self,
        key: &Key,
        node: &Node,
        what: &str,
        mut item: impl FnMut(&mut Self, &Node) -> Option<T>,
    ) -> Vec<T> {
        match &node.kind {
            Kind::Seq(items) => items.iter().filter_map(|n| item(self, n)).collect(),
            Kind::Null => Vec::new(),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a list of {what}, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                Vec::new()
            }
        }
    }

    /// A non-empty string.
    fn string(&mut self, key: &Key, node: &Node) -> Option<Spanned<String>> {
        match &node.kind {
            Kind::Str(s) if s.trim().is_empty() => {
                self.error(node.span, format!("`{}` must not be empty", key.name));
                None
            }
            Kind::Str(s) => Some(Spanned::new(s.clone(), node.span)),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a string, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                None
            }
        }
    }

    /// A name: a non-empty string; an empty placeholder at the key when missing or wrong
    /// (so that references to it are not reported again).
    fn name(&mut self, fields: &Fields<'_>, key: &str, owner: &str) -> Spanned<String> {
        match fields.get(key) {
            Some((k, n)) => self
                .string(k, n)
                .unwrap_or_else(|| Spanned::new(String::new(), n.span)),
            None => {
                self.error(fields.span, format!("{owner} has no `{key}`"));
                Spanned::new(String::new(), fields.span)
            }
        }
    }

    /// A scalar as text (numbers and booleans too: `number: 3` in a version).
    fn scalar_string(&mut self, key: &Key, node: &Node) -> Option<Spanned<String>> {
        let text = match &node.kind {
            Kind::Str(s) => s.clone(),
            Kind::Num(n) => n.to_string(),
            Kind::Bool(b) => b.to_string(),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a string, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                return None;
            }
        };
        Some(Spanned::new(text, node.span))
    }

    fn bool(&mut self, key: &Key, node: &Node) -> Option<Spanned<bool>> {
        match &node.kind {
            Kind::Bool(b) => Some(Spanned::new(*b, node.span)),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be true or false, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                None
            }
        }
    }

    /// A whole number of at least `min`.
    fn count(&mut self, key: &Key, node: &Node, min: u32) -> Option<Spanned<u32>> {
        let n = match &node.kind {
            Kind::Num(n) => n.as_u64(),
            _ => None,
        };
        match n.and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= min => Some(Spanned::new(n, node.span)),
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a whole number of at least {min}, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, key: &Key, node: &Node) -> Option<Spanned<Duration>> {
        match &node.kind {
            Kind::Str(s) => match parse_duration(s) {
                Ok(d) if d.is_zero() => {
                    self.error(node.span, format!("`{}` must be longer than 0s", key.name));
                    None
                }
                Ok(d) => Some(Spanned::new(d, node.span)),
                Err(e) => {
                    self.error(node.span, format!("`{}`: {e}", key.name));
                    None
                }
            },
            Kind::Num(n) => {
                self.error_help(
                    node.span,
                    format!("`{}` must be a duration, found the number `{n}`", key.name),
                    format!("durations need a unit: `{n}s`, `{n}m` or `{n}h`"),
                );
                None
            }
            _ => {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a duration like `30s`, `10m` or `1h30m`, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
                None
            }
        }
    }

    /// A list of names (`passed`, `gate`, `serial_groups`, `inputs`).
    fn names(&mut self, key: &Key, node: &Node) -> Option<Vec<Spanned<String>>> {
        let Kind::Seq(items) = &node.kind else {
            self.error(
                node.span,
                format!(
                    "`{}` must be a list of names, found {}",
                    key.name,
                    self.found(node)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(s) = self.string(key, item) {
                if let Some(first) = out.iter().find(|o: &&Spanned<String>| o.value == s.value) {
                    self.error_help(
                        s.span,
                        format!("`{}` lists `{}` twice", key.name, s.value),
                        format!("the first one is at line {}", first.span.line),
                    );
                    continue;
                }
                out.push(s);
            }
        }
        Some(out)
    }

    fn payload(&mut self, key: &Key, node: &Node) -> Option<Payload> {
        self.no_duplicate_keys(node, &key.name);
        match node.kind {
            Kind::Null => None,
            _ => Some(Payload::from_node(node, key.span)),
        }
    }

    /// Reports `key` when `seen` has it already (a key given twice in `what`); remembers it
    /// otherwise. True when it was given twice.
    fn given_twice<'k>(
        &mut self,
        seen: &mut BTreeMap<&'k str, Span>,
        key: &'k Key,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(key.name.as_str()) {
            self.error_help(
                key.span,
                format!("`{}` is given twice in {what}", key.name),
                format!("the first one is at line {}", first.line),
            );
            return true;
        }
        seen.insert(&key.name, key.span);
        false
    }

    /// Reports a key given twice in any mapping inside `node` (the value of `what`): in the
    /// JSON a plugin receives, only one of them would survive.
    fn no_duplicate_keys(&mut self, node: &Node, what: &str) {
        match &node.kind {
            Kind::Map(entries) => {
                let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
                for (key, value) in entries {
                    self.given_twice(&mut seen, key, &format!("`{what}`"));
                    self.no_duplicate_keys(value, what);
                }
            }
            Kind::Seq(items) => {
                for item in items {
                    self.no_duplicate_keys(item, what);
                }
            }
            _ => {}
        }
    }

    fn environments(&mut self, key: &Key, node: &Node) -> Vec<Environment> {
        let envs = self.list(key, node, "environments", |c, n| c.environment(n));
        if envs.is_empty() && matches!(node.kind, Kind::Seq(_) | Kind::Null) {
            self.error_help(
                node.span,
                "`environments` is empty",
                "list them in promotion order, e.g. `environments: [development, staging, production]`",
            );
        }
        envs
    }

    fn environment(&mut self, node: &Node) -> Option<Environment> {
        // `- staging` is short for `- name: staging`.
        if let Kind::Str(s) = &node.kind {
            return Some(Environment {
                name: Spanned::new(s.clone(), node.span),
                approval: None,
                soak: None,
                gate: None,
            });
        }
        let f = self.fields(node, "an environment", ENVIRONMENT_KEYS, &|_| Known::No)?;
        let name = self.name(&f, "name", "an environment");
        let approval = f.get("approval").and_then(|(k, n)| match n.as_str() {
            Some("required") => Some(Spanned::new(Approval::Required, n.span)),
            Some("automatic") => Some(Spanned::new(Approval::Automatic, n.span)),
            _ => {
                let help = n
                    .as_str()
                    .and_then(|s| suggest::help(s, &["required", "automatic"]));
                self.error_opt(
                    n.span,
                    format!(
                        "`{}` must be `required` or `automatic`, found {}",
                        k.name,
                        self.found(n)
                    ),
                    help,
                );
                None
            }
        });
        let soak = f.get("soak").and_then(|(k, n)| self.duration(k, n));
        let gate = f.get("gate").and_then(|(k, n)| {
            let names = self.names(k, n)?;
            if names.is_empty() {
                self.error_help(
                    n.span,
                    "`gate` is empty: no job would have to pass",
                    "remove `gate` to make every job of the environment a gate job",
                );
                return None;
            }
            Some(names)
        });
        Some(Environment {
            name,
            approval,
            soak,
            gate,
        })
    }

    fn plugin_types(&mut self, node: &Node, what: &str) -> Vec<PluginType> {
        let Kind::Map(entries) = &node.kind else {
            if !matches!(node.kind, Kind::Null) {
                self.error(
                    node.span,
                    format!(
                        "{what}s are a mapping of names to plugins, found {}",
                        self.found(node)
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let name = Spanned::new(key.name.clone(), key.span);
            // `name: ./plugin.wasm` is short for `name: {plugin: ./plugin.wasm}`.
            if let Kind::Str(_) = value.kind {
                let plugin = self.plugin_ref(key, value);
                out.push(PluginType {
                    name,
                    plugin,
                    memory: None,
                    limits: LimitOverrides::default(),
                    defaults: None,
                });
                continue;
            }
            // A type that cannot be used is still declared: its uses are not "undefined".
            let unusable = |c: &mut Self| {
                c.report.poison(c.file, key.span);
                Spanned::new(PluginRef::Path(Default::default()), key.span)
            };
            let Some(f) = self.fields(value, &format!("{what} `{}`", key.name), TYPE_KEYS, &|_| {
                Known::No
            }) else {
                let plugin = unusable(self);
                out.push(PluginType {
                    name,
                    plugin,
                    memory: None,
                    limits: LimitOverrides::default(),
                    defaults: None,
                });
                continue;
            };
            let plugin = match f.get("plugin") {
                Some((k, n)) => self.plugin_ref(k, n),
                None => {
                    self.error_help(
                        key.span,
                        format!("{what} `{}` has no `plugin`", key.name),
                        "add `plugin: name@version` or `plugin: path/to/plugin.wasm`",
                    );
                    unusable(self)
                }
            };
            let memory = f.get("memory").and_then(|(k, n)| self.size(k, n));
            let limits = f
                .get("limits")
                .map(|(_, n)| self.limit_overrides(n, &format!("{what} `{}`", key.name)))
                .unwrap_or_default();
            let defaults = f.get("defaults").and_then(|(k, n)| {
                if !matches!(n.kind, Kind::Map(_) | Kind::Null) {
                    self.error(
                        n.span,
                        format!("`defaults` must be a mapping, found {}", self.found(n)),
                    );
                    return None;
                }
                self.payload(k, n)
            });
            out.push(PluginType {
                name,
                plugin,
                memory,
                limits,
                defaults,
            });
        }
        out
    }

    /// A plugin type's `limits:` mapping: raises (or lowers) what its invocations may hand back.
    fn limit_overrides(&mut self, node: &Node, what: &str) -> LimitOverrides {
        let mut out = LimitOverrides::default();
        let allowed: Vec<&str> = LIMIT_COUNT_KEYS
            .iter()
            .chain(LIMIT_SIZE_KEYS)
            .copied()
            .collect();
        let Some(f) = self.fields(node, &format!("`limits` of {what}"), &allowed, &|_| {
            Known::No
        }) else {
            return out;
        };
        let count = |c: &mut Self, name: &str| {
            f.get(name)
                .and_then(|(k, n)| c.count(k, n, 1))
                .map(|n| n.value as usize)
        };
        out.versions_per_check = count(self, "versions_per_check");
        out.version_fields = count(self, "version_fields");
        out.metadata_entries = count(self, "metadata_entries");
        out.files = count(self, "files").map(|n| n as u64);
        out.report_cases = count(self, "report_cases");
        let size = |c: &mut Self, name: &str| {
            f.get(name)
                .and_then(|(k, n)| c.disk_size(k, n))
                .map(|n| n.value)
        };
        out.field_bytes = size(self, "field_size").map(|n| n as usize);
        out.message_bytes = size(self, "message_size").map(|n| n as usize);
        out.log_bytes = size(self, "log_size").map(|n| n as usize);
        out.disk_bytes = size(self, "disk_size");
        out.cache_bytes = size(self, "cache_size");
        out.report_bytes = size(self, "report_size").map(|n| n as usize);
        out
    }

    /// The plugin reference; when it is unusable (reported), an empty path whose position
    /// is marked so that loading it is not reported again.
    fn plugin_ref(&mut self, key: &Key, node: &Node) -> Spanned<PluginRef> {
        let parsed = self.string(key, node).and_then(|s| {
            parse_plugin_ref(&s.value, self.dir)
                .map_err(|e| self.error(s.span, e.to_string()))
                .ok()
        });
        match parsed {
            Some(r) => Spanned::new(r, node.span),
            None => {
                self.report.poison(self.file, node.span);
                Spanned::new(PluginRef::Path(Default::default()), node.span)
            }
        }
    }

    /// A memory size: at most 4GiB, what a 32-bit WebAssembly plugin can address.
    fn size(&mut self, key: &Key, node: &Node) -> Option<Spanned<u64>> {
        let n = self.disk_size(key, node)?;
        if n.value > 4 << 30 {
            self.error(
                node.span,
                format!(
                    "`{}` is more than 4GiB, the most a 32-bit WebAssembly plugin can address",
                    key.name
                ),
            );
            return None;
        }
        Some(n)
    }

    /// A size of more than 0 bytes, like `512MiB`.
    fn disk_size(&mut self, key: &Key, node: &Node) -> Option<Spanned<u64>> {
        let Kind::Str(s) = &node.kind else {
            self.error_help(
                node.span,
                format!(
                    "`{}` must be a size like `512MiB`, found {}",
                    key.name,
                    self.found(node)
                ),
                "units: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB",
            );
            return None;
        };
        match parse_size(s) {
            Ok(0) => {
                self.error(
                    node.span,
                    format!("`{}` must be more than 0 bytes", key.name),
                );
                None
            }
            Ok(n) => Some(Spanned::new(n, node.span)),
            Err(e) => {
                self.error(node.span, format!("`{}`: {e}", key.name));
                None
            }
        }
    }

    fn resource(&mut self, node: &Node) -> Option<Resource> {
        let f = self.fields(node, "a resource", RESOURCE_KEYS, &|_| Known::No)?;
        let name = self.name(&f, "name", "a resource");
        let what = format!("resource `{}`", name.value);
        let type_name = match f.get("type") {
            Some((k, n)) => self
                .string(k, n)
                .unwrap_or_else(|| Spanned::new(String::new(), n.span)),
            None => {
                self.error_help(
                    name.span,
                    format!("{what} has no `type`"),
                    "add `type: <a name of resource_types>`",
                );
                Spanned::new(String::new(), name.span)
            }
        };
        let source = match f.get("source") {
            Some((k, n)) if !matches!(n.kind, Kind::Null) => {
                self.no_duplicate_keys(n, "source");
                Payload::from_node(n, k.span)
            }
            _ => Payload::empty(name.span),
        };
        let check_every = f.get("check_every").and_then(|(k, n)| {
            if n.as_str() == Some("never") {
                return Some(Spanned::new(CheckEvery::Never, n.span));
            }
            self.duration(k, n).map(|d| d.map(CheckEvery::Interval))
        });
        let check_timeout = f
            .get("check_timeout")
            .and_then(|(k, n)| self.duration(k, n));
        let webhook_token = f.get("webhook_token").and_then(|(k, n)| self.string(k, n));
        let version = f.get("version").and_then(|(k, n)| self.version_map(k, n));
        let grants = f
            .get("grants")
            .map(|(_, n)| self.grants(n, &what))
            .unwrap_or_default();
        let shared = f
            .get("shared")
            .and_then(|(k, n)| self.bool(k, n))
            .is_some_and(|s| s.value);
        let limits = f
            .get("limits")
            .map(|(_, n)| self.limit_overrides(n, &what))
            .unwrap_or_default();
        Some(Resource {
            name,
            type_name,
            source,
            check_every,
            check_timeout,
            webhook_token,
            version,
            grants,
            shared,
            limits,
        })
    }

    /// A version: a mapping of names to scalars.
    fn version_map(&mut self, key: &Key, node: &Node) -> Option<Spanned<Version>> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                node.span,
                format!(
                    "`{}` must be a mapping of strings (a version, e.g. `{{ref: 4f2a…}}`), found {}",
                    key.name,
                    self.found(node)
                ),
            );
            return None;
        };
        let mut version = Version::new();
        for (k, v) in entries {
            let value = self.scalar_string(k, v)?;
            version.0.insert(k.name.clone(), value.value);
        }
        if version.0.is_empty() {
            self.error(node.span, format!("`{}` is an empty version", key.name));
            return None;
        }
        Some(Spanned::new(version, node.span))
    }

    fn grants(&mut self, node: &Node, owner: &str) -> GrantSpec {
        let mut g = GrantSpec::default();
        let Some(f) = self.fields(node, &format!("`grants` of {owner}"), GRANT_KEYS, &|_| {
            Known::No
        }) else {
            return g;
        };
        if let Some((k, n)) = f.get("dirs") {
            match &n.kind {
                Kind::Map(entries) => {
                    for (name, value) in entries {
                        if let Some(d) = self.dir_grant(name, value) {
                            g.dirs.push(d);
                        }
                    }
                }
                _ => self.error(
                    n.span,
                    format!(
                        "`{}` must map directory names to paths, found {}",
                        k.name,
                        self.found(n)
                    ),
                ),
            }
        }
        if let Some((k, n)) = f.get("network") {
            for s in self.names(k, n).unwrap_or_default() {
                match s.value.parse::<NetworkGrant>() {
                    Ok(grant) => g.network.push(Spanned::new(grant, s.span)),
                    Err(e) => self.error(s.span, e.to_string()),
                }
            }
        }
        if let Some((k, n)) = f.get("ca_certs") {
            for s in self.names(k, n).unwrap_or_default() {
                g.ca_certs
                    .push(Spanned::new(self.dir.join(&s.value), s.span));
            }
        }
        if let Some((k, n)) = f.get("env") {
            match &n.kind {
                Kind::Map(entries) => {
                    for (name, value) in entries {
                        if name.name.is_empty()
                            || name.name.contains('=')
                            || name.name.contains('\0')
                        {
                            self.error(
                                name.span,
                                format!("invalid environment variable name `{}`", name.name),
                            );
                            continue;
                        }
                        if let Some(v) = self.scalar_string(name, value) {
                            g.env.push((Spanned::new(name.name.clone(), name.span), v));
                        }
                    }
                }
                _ => self.error(
                    n.span,
                    format!(
                        "`{}` must map variable names to values, found {}",
                        k.name,
                        self.found(n)
                    ),
                ),
            }
        }
        g
    }

    fn dir_grant(&mut self, name: &Key, node: &Node) -> Option<Spanned<DirGrant>> {
        if !is_mount_name(&name.name) {
            self.error(
                name.span,
                format!(
                    "invalid directory name `{}`: use letters, digits, `-`, `_` and `.` (it is mounted at /dirs/<name>)",
                    name.name
                ),
            );
            return None;
        }
        let (path, writable) = match &node.kind {
            Kind::Str(_) => (self.string(name, node)?, false),
            Kind::Map(_) => {
                let f = self.fields(
                    node,
                    &format!("directory `{}`", name.name),
                    DIR_KEYS,
                    &|_| Known::No,
                )?;
                let path = match f.get("path") {
                    Some((k, n)) => self.string(k, n)?,
                    None => {
                        self.error(
                            name.span,
                            format!("directory `{}` has no `path`", name.name),
                        );
                        return None;
                    }
                };
                let writable = f
                    .get("writable")
                    .and_then(|(k, n)| self.bool(k, n))
                    .is_some_and(|w| w.value);
                (path, writable)
            }
            _ => {
                self.error(
                    node.span,
                    format!(
                        "directory `{}` must be a path or `{{path: …, writable: true}}`, found {}",
                        name.name,
                        self.found(node)
                    ),
                );
                return None;
            }
        };
        Some(Spanned::new(
            DirGrant {
                name: name.name.clone(),
                path: self.dir.join(&path.value),
                writable,
            },
            name.span,
        ))
    }

    fn job(&mut self, node: &Node) -> Option<Job> {
        let f = self.fields(node, "a job", JOB_KEYS, &|k| misplaced_job_key(k))?;
        let name = self.name(&f, "name", "a job");
        let what = format!("job `{}`", name.value);
        let environment = match f.get("environment") {
            Some((k, n)) => self
                .string(k, n)
                .unwrap_or_else(|| Spanned::new(String::new(), n.span)),
            None => {
                self.error_help(
                    name.span,
                    format!("{what} has no `environment`"),
                    "every job belongs to one environment: add `environment: <name>`",
                );
                Spanned::new(String::new(), name.span)
            }
        };
        let plan = match f.get("plan") {
            Some((k, n)) => {
                let steps = self.steps(k, n);
                let written = match &n.kind {
                    Kind::Seq(items) => items.len(),
                    _ => 0,
                };
                // Steps that were written but refused are reported already.
                if written == 0 && matches!(n.kind, Kind::Seq(_) | Kind::Null) {
                    self.error(n.span, format!("the plan of {what} is empty"));
                }
                steps
            }
            None => {
                self.error(name.span, format!("{what} has no `plan`"));
                Vec::new()
            }
        };
        let serial = f.get("serial").and_then(|(k, n)| self.bool(k, n));
        let serial_groups = f
            .get("serial_groups")
            .and_then(|(k, n)| self.names(k, n))
            .unwrap_or_default();
        let max_in_flight = f
            .get("max_in_flight")
            .and_then(|(k, n)| self.count(k, n, 1));
        let timeout = f.get("timeout").and_then(|(k, n)| self.duration(k, n));
        let attempts = f.get("attempts").and_then(|(k, n)| self.count(k, n, 1));
        let hooks = self.hooks(&f);
        Some(Job {
            name,
            environment,
            plan,
            serial,
            serial_groups,
            max_in_flight,
            timeout,
            attempts,
            hooks,
        })
    }

    fn hooks(&mut self, f: &Fields<'_>) -> Hooks {
        let mut hooks = Hooks::default();
        for hook in HOOKS {
            let Some((_, n)) = f.get(hook) else { continue };
            let step = self.step(n).map(Box::new);
            match *hook {
                "on_success" => hooks.on_success = step,
                "on_failure" => hooks.on_failure = step,
                "on_error" => hooks.on_error = step,
                _ => hooks.ensure = step,
            }
        }
        hooks
    }

    fn steps(&mut self, key: &Key, node: &Node) -> Vec<Step> {
        self.list(key, node, "steps", |c, n| c.step(n))
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let Kind::Map(entries) = &node.kind else {
            self.error(
                node.span,
                format!(
                    "a step must be a mapping with one of {}, found {}",
                    suggest::alternatives(ACTIONS),
                    self.found(node)
                ),
            );
            return None;
        };
        let actions: Vec<&Key> = entries
            .iter()
            .map(|(k, _)| k)
            .filter(|k| ACTIONS.contains(&k.name.as_str()))
            .collect();
        let Some(action_key) = actions.first() else {
            // Perhaps a misspelt action: suggest it.
            let guess = entries.iter().find_map(|(k, _)| {
                suggest::did_you_mean(&k.name, ACTIONS.iter().copied()).map(|a| (k, a))
            });
            // Concourse steps Lockgate does not have: name the key and what to do instead.
            let foreign = entries.iter().find_map(|(k, _)| {
                FOREIGN_STEPS
                    .iter()
                    .find(|(name, _)| *name == k.name)
                    .map(|(_, help)| (k, *help))
            });
            if let Some((k, help)) = foreign {
                self.error_help(
                    k.span,
                    format!(
                        "`{}` steps are not supported; a step needs one of {}",
                        k.name,
                        suggest::alternatives(ACTIONS)
                    ),
                    help,
                );
                return None;
            }
            match guess {
                Some((k, a)) => self.error_help(
                    k.span,
                    format!("unknown key `{}` in a step, which has no action", k.name),
                    format!("did you mean `{a}`?"),
                ),
                None => self.error(
                    node.span,
                    format!("a step needs one of {}", suggest::alternatives(ACTIONS)),
                ),
            }
            return None;
        };
        if let Some(second) = actions.get(1) {
            self.error_help(
                second.span,
                format!(
                    "a step has one action, this one has both `{}` and `{}`",
                    action_key.name, second.name
                ),
                "split it into two steps",
            );
        }
        let action = action_key.name.clone();
        let own = action_keys(&action);
        let allowed: Vec<&str> = own.iter().chain(STEP_KEYS).copied().collect();
        let what = format!("a `{action}` step");
        let f = self.fields(node, &what, &allowed, &|k| {
            if ACTIONS.contains(&k) {
                return Known::Ignored; // reported above
            }
            if action == "task"
                && let Some(why) = container_key(k)
            {
                return Known::Misplaced(why);
            }
            for other in ["get", "put", "test", "task"] {
                if other != action && action_keys(other).contains(&k) {
                    return Known::Misplaced(format!(
                        "`{k}` is an option of `{other}` steps, not of {what}"
                    ));
                }
            }
            if PARALLEL_KEYS.contains(&k) && action != "in_parallel" {
                return Known::Misplaced(format!(
                    "`{k}` is an option of `in_parallel: {{steps: …}}`, not of {what}"
                ));
            }
            Known::No
        })?;
        let (key, value) = f.get(&action)?;
        let action = match action.as_str() {
            "get" => Action::Get(self.get_step(&f, key, value)?),
            "put" => Action::Put(self.put_step(&f, key, value)?),
            "test" => Action::Test(self.test_step(&f, key, value)?),
            "task" => Action::Task(Box::new(self.task_step(&f, key, value)?)),
            "in_parallel" => Action::InParallel(self.in_parallel(key, value)?),
            "do" => {
                if !matches!(value.kind, Kind::Seq(_)) {
                    self.error(
                        value.span,
                        format!("`do` must be a list of steps, found {}", self.found(value)),
                    );
                    return None;
                }
                Action::Do(self.steps(key, value))
            }
            _ => Action::Try(Box::new(self.step(value)?)),
        };
        Some(Step {
            action,
            span: key.span,
            attempts: f.get("attempts").and_then(|(k, n)| self.count(k, n, 1)),
            timeout: f.get("timeout").and_then(|(k, n)| self.duration(k, n)),
            hooks: self.hooks(&f),
        })
    }

    /// The step's name (value of its action key) and its resource (`resource:`, default the
    /// name).
    fn named_resource(
        &mut self,
        f: &Fields<'_>,
        key: &Key,
        value: &Node,
    ) -> Option<(Spanned<String>, Spanned<String>)> {
        let name = self.string(key, value)?;
        if !is_mount_name(&name.value) {
            self.error_help(
                name.span,
                format!("invalid step name `{}`", name.value),
                "the name is the input's directory (/inputs/<name>): use letters, digits, `-`, `_` and `.`, or name the resource with `resource:`",
            );
        }
        let resource = match f.get("resource") {
            Some((k, n)) => self.string(k, n)?,
            None => name.clone(),
        };
        Some((name, resource))
    }

    fn get_step(&mut self, f: &Fields<'_>, key: &Key, value: &Node) -> Option<Get> {
        let (name, resource) = self.named_resource(f, key, value)?;
        let passed = f
            .get("passed")
            .and_then(|(k, n)| self.names(k, n))
            .unwrap_or_default();
        let trigger = f.get("trigger").and_then(|(k, n)| self.bool(k, n));
        let version = f.get("version").and_then(|(k, n)| match n.as_str() {
            Some("latest") => Some(Spanned::new(VersionPolicy::Latest, n.span)),
            Some("every") => Some(Spanned::new(VersionPolicy::Every, n.span)),
            _ if matches!(n.kind, Kind::Map(_)) => {
                self.version_map(k, n).map(|v| v.map(VersionPolicy::Pinned))
            }
            _ => {
                let help = n
                    .as_str()
                    .and_then(|s| suggest::help(s, &["latest", "every"]));
                self.error_opt(
                    n.span,
                    format!(
                        "`version` must be `latest`, `every` or a pinned version mapping, found {}",
                        self.found(n)
                    ),
                    help,
                );
                None
            }
        });
        let params = f.get("params").and_then(|(k, n)| self.payload(k, n));
        Some(Get {
            name,
            resource,
            passed,
            trigger,
            version,
            params,
        })
    }

    fn inputs(&mut self, f: &Fields<'_>) -> Option<Spanned<Inputs>> {
        let (k, n) = f.get("inputs")?;
        match &n.kind {
            Kind::Str(s) if s == "all" => Some(Spanned::new(Inputs::All, n.span)),
            Kind::Seq(_) => self
                .names(k, n)
                .map(|names| Spanned::new(Inputs::Named(names), n.span)),
            _ => {
                self.error(
                    n.span,
                    format!(
                        "`inputs` must be `all` or a list of input names, found {}",
                        self.found(n)
                    ),
                );
                None
            }
        }
    }

    fn put_step(&mut self, f: &Fields<'_>, key: &Key, value: &Node) -> Option<Put> {
        let (name, resource) = self.named_resource(f, key, value)?;
        Some(Put {
            name,
            resource,
            params: f.get("params").and_then(|(k, n)| self.payload(k, n)),
            inputs: self.inputs(f),
        })
    }

    fn test_step(&mut self, f: &Fields<'_>, key: &Key, value: &Node) -> Option<Test> {
        let name = self.string(key, value)?;
        let type_name = match f.get("type") {
            Some((k, n)) => self.string(k, n)?,
            None => name.clone(),
        };
        let config = f.get("config").and_then(|(k, n)| {
            if !matches!(n.kind, Kind::Map(_) | Kind::Null) {
                self.error(
                    n.span,
                    format!("`config` must be a mapping, found {}", self.found(n)),
                );
                return None;
            }
            self.payload(k, n)
        });
        let grants = f
            .get("grants")
            .map(|(_, n)| self.grants(n, &format!("test `{}`", name.value)))
            .unwrap_or_default();
        Some(Test {
            name,
            type_name,
            config,
            inputs: self.inputs(f),
            grants,
        })
    }

    fn task_step(&mut self, f: &Fields<'_>, key: &Key, value: &Node) -> Option<TaskStep> {
        let name = self.string(key, value)?;
        if !is_mount_name(&name.value) {
            self.error_help(
                name.span,
                format!("invalid task name `{}`", name.value),
                "use letters, digits, `-`, `_` and `.` (it names the task's cache and is its program's argv[0])",
            );
        }
        let what = format!("task `{}`", name.value);
        let file = f.get("file").and_then(|(k, n)| {
            let s = self.string(k, n)?;
            self.task_file(s, &what)
        });
        let config = match (f.get("config"), f.get("file")) {
            (Some((_, n)), None) => self.task_config(n, &format!("the `config` of {what}")),
            (Some(_), Some((k, _))) => {
                self.error_help(
                    k.span,
                    format!("{what} has both `config` and `file`"),
                    "give its definition one way: inline under `config:`, or read from an artifact with `file:`",
                );
                None
            }
            (None, Some(_)) => Some(TaskConfig::empty(key.span)),
            (None, None) => {
                self.error_help(
                    key.span,
                    format!("{what} has neither `config` nor `file`"),
                    "give its definition: `config: {component: path/to/task.wasm, inputs: [...], outputs: [...]}`, or `file: <artifact>/path/to/task.yml`",
                );
                None
            }
        };
        let config = config.unwrap_or_else(|| {
            self.report.poison(self.file, key.span);
            TaskConfig::empty(key.span)
        });
        let params = f
            .get("params")
            .map(|(k, n)| self.string_map(k, n, true))
            .unwrap_or_default();
        let input_mapping = f
            .get("input_mapping")
            .map(|(k, n)| self.string_map(k, n, false))
            .unwrap_or_default();
        let output_mapping = f
            .get("output_mapping")
            .map(|(k, n)| self.string_map(k, n, false))
            .unwrap_or_default();
        for (_, artifact) in input_mapping.iter().chain(&output_mapping) {
            if !is_mount_name(&artifact.value) {
                self.error(
                    artifact.span,
                    format!(
                        "invalid artifact name `{}`: use letters, digits, `-`, `_` and `.`",
                        artifact.value
                    ),
                );
            }
        }
        let grants = f
            .get("grants")
            .map(|(_, n)| self.grants(n, &what))
            .unwrap_or_default();
        let (mut memory, mut timeout, mut log_size, mut disk_size) = (None, None, None, None);
        if let Some((_, n)) = f.get("limits")
            && let Some(l) =
                self.fields(n, &format!("`limits` of {what}"), TASK_LIMIT_KEYS, &|_| {
                    Known::No
                })
        {
            memory = l.get("memory").and_then(|(k, n)| self.size(k, n));
            timeout = l.get("timeout").and_then(|(k, n)| self.duration(k, n));
            log_size = l.get("log_size").and_then(|(k, n)| self.disk_size(k, n));
            disk_size = l.get("disk_size").and_then(|(k, n)| self.disk_size(k, n));
        }
        Some(TaskStep {
            name,
            config,
            file,
            params,
            input_mapping,
            output_mapping,
            grants,
            memory,
            timeout,
            log_size,
            disk_size,
        })
    }

    /// A task's definition, `config:` or the content of a task file, described as `what` in
    /// messages (`None` when it is not a mapping, reported).
    fn task_config(&mut self, node: &Node, what: &str) -> Option<TaskConfig> {
        let f = self.fields(node, what, TASK_CONFIG_KEYS, &|k| {
            container_key(k).map_or(Known::No, Known::Misplaced)
        })?;
        let component = match f.get("component") {
            Some((k, n)) => self.task_component(k, n),
            None => {
                self.error_help(
                    f.span,
                    format!("{what} has no `component`"),
                    "give the program: `component: path/to/task.wasm` (any program built for wasm32-wasip2, relative to this file), `component: name@version` (the registry) or `component: {artifact: built, path: task.wasm}` (an earlier step's artifact)",
                );
                Spanned::new(TaskComponent::unusable(), f.span)
            }
        };
        let args = match f.get("args") {
            Some((k, n)) => match &n.kind {
                Kind::Seq(items) => items
                    .iter()
                    .filter_map(|i| self.scalar_string(k, i))
                    .collect(),
                _ => {
                    self.error(
                        n.span,
                        format!("`args` must be a list of strings, found {}", self.found(n)),
                    );
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let params = f
            .get("params")
            .map(|(k, n)| self.string_map(k, n, true))
            .unwrap_or_default();
        let mut dirs = |key: &str| -> Vec<TaskDirSpec> {
            let Some((k, n)) = f.get(key) else {
                return Vec::new();
            };
            let list = self.list(k, n, "`{name: …}`", |c, item| c.task_dir(item, key));
            let mut out: Vec<TaskDirSpec> = Vec::new();
            for d in list {
                if let Some(first) = out.iter().find(|o| o.name.value == d.name.value) {
                    self.error_help(
                        d.name.span,
                        format!("`{key}` lists `{}` twice", d.name.value),
                        format!("the first one is at line {}", first.name.span.line),
                    );
                    continue;
                }
                out.push(d);
            }
            out
        };
        let inputs = dirs("inputs");
        let outputs = dirs("outputs");
        let caches = match f.get("caches") {
            Some((k, n)) => {
                let list = self.list(k, n, "`{path: …}`", |c, item| c.task_cache(item));
                let mut out: Vec<Spanned<String>> = Vec::new();
                for d in list {
                    if let Some(first) = out.iter().find(|o| o.value == d.value) {
                        self.error_help(
                            d.span,
                            format!("`caches` lists `{}` twice", d.value),
                            format!("the first one is at line {}", first.span.line),
                        );
                        continue;
                    }
                    out.push(d);
                }
                out
            }
            None => Vec::new(),
        };
        Some(TaskConfig {
            component,
            args,
            params,
            inputs,
            outputs,
            caches,
        })
    }

    /// A task's `component:`: a path or registry reference, or `{artifact, path}` (unusable
    /// when it cannot be read; reported).
    fn task_component(&mut self, key: &Key, node: &Node) -> Spanned<TaskComponent> {
        if !matches!(node.kind, Kind::Map(_)) {
            return self.plugin_ref(key, node).map(TaskComponent::Ref);
        }
        let parsed = (|| {
            let f = self.fields(
                node,
                "`component: {artifact: …, path: …}`",
                &["artifact", "path"],
                &|_| Known::No,
            )?;
            let (Some((ak, an)), Some((pk, pn))) = (f.get("artifact"), f.get("path")) else {
                self.error(
                    f.span,
                    "`component` from an artifact needs both `artifact` (an earlier step's artifact) and `path` (the `.wasm` file inside it)",
                );
                return None;
            };
            let artifact = self.string(ak, an)?;
            let path = self.string(pk, pn)?;
            if !is_mount_name(&artifact.value) {
                self.error(
                    artifact.span,
                    format!(
                        "invalid artifact name `{}`: use letters, digits, `-`, `_` and `.`",
                        artifact.value
                    ),
                );
                return None;
            }
            if let Err(why) = relative_path(&path.value) {
                self.error(path.span, format!("`path`: {why}"));
                return None;
            }
            Some(TaskComponent::Artifact {
                artifact,
                path: path.value,
            })
        })();
        match parsed {
            Some(c) => Spanned::new(c, node.span),
            None => {
                self.report.poison(self.file, node.span);
                Spanned::new(TaskComponent::unusable(), node.span)
            }
        }
    }

    /// `file: <artifact>/<path>` of task `what` (`None` when it is not one; reported).
    fn task_file(&mut self, value: Spanned<String>, what: &str) -> Option<TaskFile> {
        let (artifact, path) = value.value.split_once('/').unwrap_or((&value.value, ""));
        let problem = if let Err(why) = relative_path(&value.value) {
            Some(why)
        } else if !is_mount_name(artifact) {
            Some(format!(
                "`{artifact}`, its first segment, is not an artifact name (letters, digits, `-`, `_` and `.`)"
            ))
        } else if path.is_empty() {
            Some(format!("`{artifact}` names no file inside the artifact"))
        } else {
            relative_path(path).err()
        };
        if let Some(why) = problem {
            self.error_help(
                value.span,
                format!("`file` of {what}: {why}"),
                "write `<artifact>/<path>`: an earlier step's artifact, then the task file inside it, e.g. `file: tools/tasks/render.yml`",
            );
            return None;
        }
        Some(TaskFile {
            artifact: Spanned::new(artifact.to_owned(), value.span),
            path: path.to_owned(),
            value,
        })
    }

    /// An entry of a task's `inputs` or `outputs`: `{name: x, path: y, optional: true}` (a
    /// plain string is the name).
    fn task_dir(&mut self, node: &Node, list: &str) -> Option<TaskDirSpec> {
        let (name, path, optional) = match &node.kind {
            Kind::Str(s) => (Spanned::new(s.clone(), node.span), None, false),
            Kind::Map(_) => {
                let keys: &[&str] = if list == "inputs" {
                    &["name", "path", "optional"]
                } else {
                    &["name", "path"]
                };
                let f = self.fields(node, &format!("an entry of `{list}`"), keys, &|k| {
                    if k == "optional" {
                        Known::Misplaced(
                            "only an input can be `optional`: an output is always written".into(),
                        )
                    } else {
                        Known::No
                    }
                })?;
                let name = match f.get("name") {
                    Some((k, n)) => self.string(k, n)?,
                    None => {
                        self.error(f.span, format!("an entry of `{list}` has no `name`"));
                        return None;
                    }
                };
                let path = match f.get("path") {
                    Some((k, n)) => {
                        let p = self.string(k, n)?;
                        let bad = relative_path(&p.value).err().or_else(|| {
                            p.value
                                .split('/')
                                .any(|seg| !is_mount_name(seg))
                                .then(|| format!("`{}` has a segment that is not a directory name (letters, digits, `-`, `_` and `.`)", p.value))
                        });
                        if let Some(why) = bad {
                            self.error_help(
                                p.span,
                                format!("`path` of `{list}`: {why}"),
                                "give a directory below the task's working directory, e.g. `path: src/app` (a task cannot be given its working directory itself)",
                            );
                            return None;
                        }
                        Some(p)
                    }
                    None => None,
                };
                let optional = f
                    .get("optional")
                    .and_then(|(k, n)| self.bool(k, n))
                    .is_some_and(|b| b.value);
                (name, path, optional)
            }
            _ => {
                self.error(
                    node.span,
                    format!(
                        "an entry of `{list}` must be `{{name: …}}`, found {}",
                        self.found(node)
                    ),
                );
                return None;
            }
        };
        if !is_mount_name(&name.value) {
            self.error(
                name.span,
                format!(
                    "invalid name `{}` in `{list}`: one directory name, of letters, digits, `-`, `_` and `.` (give `path:` to place it deeper)",
                    name.value
                ),
            );
            return None;
        }
        Some(TaskDirSpec {
            name,
            path,
            optional,
        })
    }

    /// An entry of a task's `caches`: `{path: x}` or `x`, a directory below the working
    /// directory.
    fn task_cache(&mut self, node: &Node) -> Option<Spanned<String>> {
        let s = match &node.kind {
            Kind::Str(s) => Spanned::new(s.clone(), node.span),
            Kind::Map(_) => {
                let f = self.fields(node, "an entry of `caches`", &["path"], &|_| Known::No)?;
                match f.get("path") {
                    Some((k, n)) => self.string(k, n)?,
                    None => {
                        self.error(f.span, "an entry of `caches` has no `path`");
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    node.span,
                    format!(
                        "an entry of `caches` must be `{{path: …}}`, found {}",
                        self.found(node)
                    ),
                );
                return None;
            }
        };
        let bad = relative_path(&s.value).err().or_else(|| {
            s.value
                .split('/')
                .any(|seg| !is_mount_name(seg))
                .then(|| {
                    "has a segment that is not a directory name (letters, digits, `-`, `_` and `.`)"
                        .to_owned()
                })
                .map(|w| format!("`{}` {w}", s.value))
        });
        if let Some(why) = bad {
            self.error(s.span, format!("invalid path in `caches`: {why}"));
            return None;
        }
        Some(s)
    }

    /// A mapping of names to scalars (`params`: environment variables when `env`;
    /// `input_mapping`, `output_mapping`).
    fn string_map(
        &mut self,
        key: &Key,
        node: &Node,
        env: bool,
    ) -> Vec<(Spanned<String>, Spanned<String>)> {
        self.no_duplicate_keys(node, &key.name);
        let Kind::Map(entries) = &node.kind else {
            if !matches!(node.kind, Kind::Null) {
                self.error(
                    node.span,
                    format!(
                        "`{}` must be a mapping of names to values, found {}",
                        key.name,
                        self.found(node)
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in entries {
            if env && (name.name.is_empty() || name.name.contains('=') || name.name.contains('\0'))
            {
                self.error(
                    name.span,
                    format!("invalid environment variable name `{}`", name.name),
                );
                continue;
            }
            let v = if env {
                self.scalar_string(name, value)
            } else {
                self.string(name, value)
            };
            if let Some(v) = v {
                out.push((Spanned::new(name.name.clone(), name.span), v));
            }
        }
        out
    }

    fn in_parallel(&mut self, key: &Key, value: &Node) -> Option<InParallel> {
        match &value.kind {
            Kind::Seq(_) => Some(InParallel {
                steps: self.steps(key, value),
                limit: None,
                fail_fast: None,
            }),
            Kind::Map(_) => {
                let f = self.fields(value, "`in_parallel`", PARALLEL_KEYS, &|_| Known::No)?;
                let steps = match f.get("steps") {
                    Some((k, n)) => self.steps(k, n),
                    None => {
                        self.error(key.span, "`in_parallel` has no `steps`");
                        Vec::new()
                    }
                };
                Some(InParallel {
                    steps,
                    limit: f.get("limit").and_then(|(k, n)| self.count(k, n, 1)),
                    fail_fast: f.get("fail_fast").and_then(|(k, n)| self.bool(k, n)),
                })
            }
            _ => {
                self.error(
                    value.span,
                    format!(
                        "`in_parallel` must be a list of steps or `{{steps: […], limit: N, fail_fast: true}}`, found {}",
                        self.found(value)
                    ),
                );
                None
            }
        }
    }
}

/// Step keys written on a job (a common slip).
fn misplaced_job_key(k: &str) -> Known {
    if ACTIONS.contains(&k) || ["passed", "trigger", "resource", "params"].contains(&k) {
        Known::Misplaced(format!(
            "`{k}` belongs in a step of the job's `plan`, not on the job itself"
        ))
    } else {
        Known::No
    }
}

/// A name usable as a mount point: `/inputs/<name>`, `/dirs/<name>`.
/// A path inside an artifact: relative, no `.`/`..` or empty segments (`Err`: why not).
fn relative_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(format!("`{path}` is absolute"));
    }
    if path
        .split(['/', '\\'])
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(format!("`{path}` has an empty, `.` or `..` segment"));
    }
    Ok(())
}

fn is_mount_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn build_str(text: &str) -> (Pipeline, String) {
        let node = yaml::parse(text).unwrap();
        let mut report = Report::new();
        let p = build(&node, Path::new("p.yml"), Path::new("/pipes"), &mut report);
        (p, report.render_plain())
    }

    const MINIMAL: &str = "\
environments: [dev]
resource_types:
  counter: ./counter.wasm
resources:
  - name: r
    type: counter
jobs:
  - name: j
    environment: dev
    plan:
      - get: r
";

    #[test]
    fn a_minimal_pipeline() {
        let (p, errors) = build_str(MINIMAL);
        assert_eq!(errors, "");
        assert_eq!(p.environments[0].name.value, "dev");
        assert_eq!(
            p.resource_types[0].plugin.value,
            PluginRef::Path("/pipes/./counter.wasm".into())
        );
        assert_eq!(
            p.resources[0].check_every(),
            CheckEvery::Interval(DEFAULT_CHECK_EVERY)
        );
        assert!(!p.resources[0].shared, "resources are promoted by default");
        let (_, get) = p.jobs[0].gets().next().unwrap();
        assert_eq!((get.name.as_str(), get.resource.as_str()), ("r", "r"));
        assert_eq!((get.name.span.line, get.name.span.column), (11, 14));
        assert!(!get.trigger());
        assert_eq!(get.version(), VersionPolicy::Latest);
    }

    #[test]
    fn every_step_kind_and_option() {
        let text = "\
environments:
  - development
  - name: production
    approval: required
    soak: 1h30m
    gate: [deploy]
resource_types:
  counter:
    plugin: counter@^0.1
    memory: 64MiB
    limits: {versions_per_check: 50000, field_size: 64KiB, log_size: 16MiB, report_cases: 20, report_size: 2MiB}
    defaults: {path: /dirs/state/counter}
test_types:
  assert-file: {plugin: tools/assert_file.wasm}
resources:
  - name: release
    type: counter
    source: {extra: 1}
    check_every: never
    check_timeout: 2m
    webhook_token: tok
    version: {number: 3}
    shared: true
    limits: {versions_per_check: 7}
    grants:
      dirs:
        state: {path: state, writable: true}
        ro: data
      network: [\"db.internal:5432\"]
      env: {PORT: 8080}
jobs:
  - name: deploy
    environment: production
    serial_groups: [prod]
    max_in_flight: 2
    timeout: 30m
    attempts: 2
    plan:
      - in_parallel:
          limit: 2
          fail_fast: true
          steps:
            - get: rel
              resource: release
              passed: [build]
              trigger: true
              version: every
              params: {}
            - get: release
              version: {number: \"7\"}
      - do:
          - put: release
            params: {increment: 1}
            inputs: [rel]
      - try:
          test: smoke
          type: assert-file
          config: {assertions: []}
          inputs: all
          grants: {network: [\"app:443\"]}
        attempts: 3
        timeout: 5m
        on_failure: {put: release}
    ensure:
      do: []
";
        let (p, errors) = build_str(text);
        assert_eq!(errors, "");
        let prod = p.environment("production").unwrap();
        assert_eq!(prod.approval(), Approval::Required);
        assert_eq!(prod.soak.as_ref().unwrap().value, Duration::from_secs(5400));
        assert_eq!(p.environments[0].approval(), Approval::Automatic);
        let t = p.resource_type("counter").unwrap();
        assert_eq!(t.memory.as_ref().unwrap().value, 64 << 20);
        let limits = t.limits();
        assert_eq!(limits.versions_per_check, 50_000);
        assert_eq!(limits.field_bytes, 64 << 10);
        assert_eq!(limits.output_bytes, 16 << 20);
        assert_eq!((limits.report_cases, limits.report_bytes), (20, 2 << 20));
        assert_eq!(
            limits.version_fields,
            lockgate_model::Limits::default().version_fields
        );
        assert!(matches!(&t.plugin.value, PluginRef::Registry { name, .. } if name == "counter"));
        assert_eq!(
            p.test_type("assert-file").unwrap().plugin.value,
            PluginRef::Path("/pipes/tools/assert_file.wasm".into())
        );
        let r = p.resource("release").unwrap();
        // The type's defaults are merged under the source.
        assert_eq!(
            r.source.value,
            serde_json::json!({"extra": 1, "path": "/dirs/state/counter"})
        );
        assert_eq!(r.source.span_at("/path").line, 12);
        assert_eq!(r.check_every(), CheckEvery::Never);
        assert_eq!(r.limits.versions_per_check, Some(7));
        assert_eq!(
            r.check_timeout.as_ref().unwrap().value,
            Duration::from_secs(120)
        );
        assert_eq!(r.version.as_ref().unwrap().value.get("number"), Some("3"));
        assert!(r.shared);
        let grants = r.grants.to_grants();
        assert_eq!(grants.dirs.len(), 2);
        assert!(grants.dirs[0].writable && !grants.dirs[1].writable);
        assert_eq!(grants.dirs[1].path, Path::new("/pipes/data"));
        assert_eq!(grants.network[0].to_string(), "db.internal:5432");
        assert_eq!(grants.env, vec![("PORT".to_owned(), "8080".to_owned())]);

        let job = p.job("deploy").unwrap();
        assert_eq!(job.max_in_flight(), Some(1), "serial groups make it serial");
        assert_eq!(job.attempts.as_ref().unwrap().value, 2);
        let kinds: Vec<&str> = job.steps().iter().map(|s| s.kind()).collect();
        assert_eq!(
            kinds,
            [
                "in_parallel",
                "get",
                "get",
                "do",
                "put",
                "try",
                "test",
                "put",
                "do"
            ]
        );
        let gets: Vec<&Get> = job.gets().map(|(_, g)| g).collect();
        assert_eq!(gets[0].resource.value, "release");
        assert_eq!(gets[0].name.value, "rel");
        assert!(gets[0].trigger());
        assert_eq!(gets[0].version(), VersionPolicy::Every);
        assert!(
            matches!(gets[1].version(), VersionPolicy::Pinned(v) if v.get("number") == Some("7"))
        );
        let Action::InParallel(par) = &job.plan[0].action else {
            panic!()
        };
        assert_eq!(par.limit.as_ref().unwrap().value, 2);
        let Action::Try(inner) = &job.plan[2].action else {
            panic!()
        };
        assert_eq!(job.plan[2].attempts.as_ref().unwrap().value, 3);
        assert!(job.plan[2].hooks.on_failure.is_some());
        let Action::Test(test) = &inner.action else {
            panic!()
        };
        assert_eq!(test.type_name.value, "assert-file");
        assert_eq!(test.inputs.as_ref().unwrap().value, Inputs::All);
        assert_eq!(test.grants.network.len(), 1);
    }

    #[test]
    fn anchors_and_merge_keys_build_the_same_model() {
        let text = "\
x-job: &job
  environment: dev
  serial: true
  plan:
    - &get-r {get: r, trigger: true}
environments: [dev]
resource_types: {counter: ./c.wasm}
resources: [{name: r, type: counter}]
jobs:
  - <<: *job
    name: a
  - <<: *job
    name: b
    serial: false
    plan: [*get-r, {put: r}]
";
        let (p, errors) = build_str(text);
        assert_eq!(errors, "");
        let (a, b) = (p.job("a").unwrap(), p.job("b").unwrap());
        assert_eq!(a.environment.value, "dev");
        assert_eq!(a.max_in_flight(), Some(1));
        assert_eq!(b.max_in_flight(), None);
        assert!(a.gets().next().unwrap().1.trigger());
        assert_eq!(b.steps().len(), 2);
        // Both point at the anchored definition.
        assert_eq!(a.environment.span.line, 2);
        assert_eq!(b.gets().next().unwrap().1.name.span.line, 5);
    }

    #[test]
    fn unknown_keys_wrong_types_and_missing_keys_are_all_reported() {
        let text = "\
environments: [dev]
resources:
  - name: r
    type: counter
    chek_every: 1m
jobs:
  - name: j
    environment: dev
    serial_grups: [a]
    serial: yes please
    max_in_flight: 0
    timeout: 30
    plan:
      - get: r
        trigger: \"true\"
      - put: r
        passed: [j]
      - gte: r
      - {get: r, put: r}
  - name: k
    plan: {get: r}
  - name: l
    environment: dev
    passed: [j]
    plan: []
";
        let (_, errors) = build_str(text);
        let expected = "\
p.yml:5:5: error: unknown key `chek_every` in a resource (help: did you mean `check_every`?)
p.yml:9:5: error: unknown key `serial_grups` in a job (help: did you mean `serial_groups`?)
p.yml:10:13: error: `serial` must be true or false, found the string `yes please`
p.yml:11:20: error: `max_in_flight` must be a whole number of at least 1, found the number `0`
p.yml:12:14: error: `timeout` must be a duration, found the number `30` (help: durations need a unit: `30s`, `30m` or `30h`)
p.yml:15:18: error: `trigger` must be true or false, found the string `true`
p.yml:17:9: error: `passed` is an option of `get` steps, not of a `put` step
p.yml:18:9: error: unknown key `gte` in a step, which has no action (help: did you mean `get`?)
p.yml:19:18: error: a step has one action, this one has both `get` and `put` (help: split it into two steps)
p.yml:20:11: error: job `k` has no `environment` (help: every job belongs to one environment: add `environment: <name>`)
p.yml:21:11: error: `plan` must be a list of steps, found a mapping
p.yml:24:5: error: `passed` belongs in a step of the job's `plan`, not on the job itself
p.yml:25:11: error: the plan of job `l` is empty
";
        assert_eq!(errors, expected);
    }

    #[test]
    fn shared_must_be_a_boolean_and_is_suggested() {
        let text = "\
environments: [dev]
resource_types: {counter: ./c.wasm}
resources:
  - {name: a, type: counter, shared: sometimes}
  - {name: b, type: counter, share: true}
  - {name: c, type: counter, shared: false}
jobs: []
";
        let (p, errors) = build_str(text);
        assert_eq!(
            errors,
            "\
p.yml:4:38: error: `shared` must be true or false, found the string `sometimes`
p.yml:5:30: error: unknown key `share` in a resource (help: did you mean `shared`?)
"
        );
        let shared: Vec<bool> = p.resources.iter().map(|r| r.shared).collect();
        assert_eq!(shared, [false, false, false]);
    }

    #[test]
    fn top_level_problems() {
        let (_, errors) = build_str("environment: [dev]\nx-anchors: {a: 1}\n");
        assert_eq!(
            errors,
            "\
p.yml:1:1: error: unknown key `environment` in the pipeline (help: did you mean `environments`?)
p.yml:1:1: error: the pipeline has no `environments` (help: list them in promotion order, e.g. `environments: [development, staging, production]`)
p.yml:1:1: error: the pipeline has no `jobs`
"
        );
        let (_, errors) = build_str("");
        assert!(errors.contains("the pipeline is empty"), "{errors}");
        let (_, errors) = build_str("- a\n");
        assert!(
            errors.contains("the pipeline must be a mapping, found a list"),
            "{errors}"
        );
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let (_, errors) = build_str(&format!("{MINIMAL}jobs: []\n"));
        assert_eq!(
            errors,
            "p.yml:12:1: error: `jobs` is given twice in the pipeline (help: the first one is at line 7)\n"
        );
    }

    #[test]
    fn keys_given_twice_inside_source_params_and_config_are_errors() {
        let text = "\
environments: [dev]
resource_types: {t: t.wasm}
test_types: {u: u.wasm}
resources:
  - name: r
    type: t
    source: {uri: a, nested: {x: 1, x: 2}, uri: b}
jobs:
  - name: j
    environment: dev
    plan:
      - put: r
        params: {file: a, file: b}
      - test: s
        type: u
        config:
          checks: [{url: a, url: b}]
";
        let (_, errors) = build_str(text);
        assert_eq!(
            errors,
            "\
p.yml:7:37: error: `x` is given twice in `source` (help: the first one is at line 7)
p.yml:7:44: error: `uri` is given twice in `source` (help: the first one is at line 7)
p.yml:13:27: error: `file` is given twice in `params` (help: the first one is at line 13)
p.yml:17:29: error: `url` is given twice in `config` (help: the first one is at line 17)
"
        );
    }

    #[test]
    fn concourse_steps_lockgate_lacks_are_named() {
        let text = "\
environments: [dev]
jobs:
  - name: j
    environment: dev
    plan:
      - set_pipeline: self
      - {load_var: v, file: x}
";
        let (_, errors) = build_str(text);
        let lines: Vec<&str> = errors.lines().collect();
        assert_eq!(lines.len(), 2, "{errors}");
        assert!(
            lines[0].starts_with("p.yml:6:9: error: `set_pipeline` steps"),
            "{errors}"
        );
        assert!(
            lines[1].starts_with("p.yml:7:10: error: `load_var` steps"),
            "{errors}"
        );
    }

    #[test]
    fn a_task_step_with_every_option() {
        let text = "\
environments: [dev]
jobs:
  - name: j
    environment: dev
    plan:
      - get: my-config
      - task: render
        config:
          component: ../tasks/render.wasm
          args: [--env, staging, 3]
          params: { REGION: eu-1, LEVEL: 2 }
          inputs: [ { name: config }, app-image ]
          outputs: [ { name: rendered } ]
          caches: [ { path: deps } ]
        params: { REGION: us-1 }
        input_mapping: { config: my-config }
        output_mapping: { rendered: staging-manifests }
        grants: { network: [\"example.com:443\"], env: { TOKEN: x } }
        limits: { memory: 256MiB, timeout: 5m }
        attempts: 2
";
        let (p, errors) = build_str(text);
        assert_eq!(errors, "");
        let (step, task) = p.jobs[0].tasks().next().unwrap();
        assert_eq!(step.kind(), "task");
        assert_eq!((task.name.as_str(), task.name.span.line), ("render", 7));
        let c = &task.config;
        assert_eq!(
            c.component.value,
            TaskComponent::Ref(PluginRef::Path("/pipes/../tasks/render.wasm".into()))
        );
        assert_eq!((c.component.span.line, c.component.span.column), (9, 22));
        let args: Vec<&str> = c.args.iter().map(|a| a.as_str()).collect();
        assert_eq!(args, ["--env", "staging", "3"]);
        let names = |d: &[TaskDirSpec]| d.iter().map(|x| x.name.value.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.inputs), ["config", "app-image"]);
        assert_eq!(names(&c.outputs), ["rendered"]);
        let caches: Vec<&str> = c.caches.iter().map(|x| x.as_str()).collect();
        assert_eq!(caches, ["deps"]);
        let params: Vec<(&str, &str)> = task
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(params, [("REGION", "us-1")]);
        assert_eq!(task.input_artifact(&c.inputs[0].name).as_str(), "my-config");
        assert_eq!(task.input_artifact(&c.inputs[1].name).as_str(), "app-image");
        assert_eq!(
            task.output_artifact(&c.outputs[0].name).as_str(),
            "staging-manifests"
        );
        assert_eq!(task.grants.network.len(), 1);
        assert_eq!(task.memory.as_ref().unwrap().value, 256 << 20);
        assert_eq!(
            task.timeout.as_ref().unwrap().value,
            Duration::from_secs(300)
        );
        assert_eq!(step.attempts.as_ref().unwrap().value, 2);
    }

    #[test]
    fn container_keys_of_a_task_are_refused_at_their_position() {
        let text = "\
environments: [dev]
jobs:
  - name: j
    environment: dev
    plan:
      - task: render
        image: my-image
        privileged: true
        config:
          platform: linux
          image_resource: { type: registry-image, source: { repository: busybox } }
          run: { path: sh, args: [-c, echo] }
          rootfs_uri: docker:///busybox
          container_limits: { cpu: 1 }
          component: ./render.wasm
";
        let (_, errors) = build_str(text);
        let lines: Vec<&str> = errors.lines().collect();
        let at: Vec<&str> = lines
            .iter()
            .map(|l| l.split(": error: ").next().unwrap())
            .collect();
        assert_eq!(
            at,
            [
                "p.yml:7:9",
                "p.yml:8:9",
                "p.yml:10:11",
                "p.yml:11:11",
                "p.yml:12:11",
                "p.yml:13:11",
                "p.yml:14:11"
            ],
            "{errors}"
        );
        assert!(
            lines[3].ends_with(
                "error: `image_resource` is a container image: Lockgate tasks run a WebAssembly component; give `config.component: path/to/task.wasm` (any program built for wasm32-wasip2)"
            ),
            "{errors}"
        );
        assert!(
            lines[0].contains("`image` is a container image"),
            "{errors}"
        );
        assert!(
            lines[4].contains("its arguments as `config.args`"),
            "{errors}"
        );
        assert!(
            lines
                .iter()
                .all(|l| l.contains("Lockgate tasks run a WebAssembly component")),
            "{errors}"
        );
    }

    #[test]
    fn a_task_definition_from_a_file_or_a_component_from_an_artifact() {
        let text = "\
environments: [dev]
jobs:
  - name: j
    environment: dev
    plan:
      - task: a
        file: tools/ci/tasks/a.yml
      - task: b
        config:
          component: {artifact: built, path: bin/b.wasm}
      - task: c
        config: {component: render@^1.2}
      - task: d
        file: tools/a.yml
        config: {component: ./x.wasm}
      - task: e
        file: /abs.yml
      - task: f
        config: {component: {artifact: built, path: ../x.wasm}}
      - task: g
        config: {component: {artifact: built}}
";
        let (p, errors) = build_str(text);
        let tasks: Vec<_> = p.jobs[0].tasks().map(|(_, t)| t).collect();
        let file = tasks[0].file.as_ref().unwrap();
        assert_eq!(
            (file.artifact.as_str(), file.path.as_str()),
            ("tools", "ci/tasks/a.yml")
        );
        assert!(tasks[0].config.component.value.is_unusable());
        let TaskComponent::Artifact { artifact, path } = &tasks[1].config.component.value else {
            panic!("{:?}", tasks[1].config.component)
        };
        assert_eq!((artifact.as_str(), path.as_str()), ("built", "bin/b.wasm"));
        assert_eq!(tasks[2].config.component.value.to_string(), "render@^1.2");
        let lines: Vec<&str> = errors.lines().collect();
        let expected = [
            "p.yml:14:9: error: task `d` has both `config` and `file`",
            "p.yml:17:15: error: `file` of task `e`: `/abs.yml` is absolute",
            "p.yml:19:53: error: `path`: `../x.wasm` has an empty, `.` or `..` segment",
            "p.yml:21:29: error: `component` from an artifact needs both `artifact`",
        ];
        assert_eq!(lines.len(), expected.len(), "{errors}");
        for (line, want) in lines.iter().zip(expected) {
            assert!(line.starts_with(want), "{line}\nwanted: {want}\n{errors}");
        }
    }

    #[test]
    fn a_task_file_is_parsed_with_its_own_positions() {
        let text = "# render\ncomponent: bin/render.wasm\nargs: [a]\ninputs: [config]\nimage: x\n";
        let e = crate::parse_task_file(Path::new("tools/t.yml"), Path::new(""), text).unwrap_err();
        assert_eq!(
            e.render_plain(),
            "tools/t.yml:5:1: error: `image` is a container image: Lockgate tasks run a WebAssembly component; give `config.component: path/to/task.wasm` (any program built for wasm32-wasip2)\n"
        );
        let ok = crate::parse_task_file(
            Path::new("t.yml"),
            Path::new(""),
            &text.replace("image: x\n", ""),
        )
        .unwrap();
        assert_eq!(
            ok.component.value,
            TaskComponent::Ref(PluginRef::Path("bin/render.wasm".into()))
        );
        assert_eq!(ok.inputs[0].name.as_str(), "config");
        let e = crate::parse_task_file(Path::new("t.yml"), Path::new(""), "[1, 2]").unwrap_err();
        assert!(
            e.render_plain()
                .starts_with("t.yml:1:1: error: a task file must be a mapping"),
            "{}",
            e.render_plain()
        );
    }

    #[test]
    fn task_mistakes_are_reported_at_their_position() {
        let text = "\
environments: [dev]
jobs:
  - name: j
    environment: dev
    plan:
      - task: a
        file: ci/../a.yml
      - task: b
      - task: c
        config:
          args: -x
          inputs: [ { name: x, path: ../y }, \"a/b\", z, z ]
          outputs: [ 3 ]
        limits: { memory: 8GiB, cpu: 2 }
        inputs: all
";
        let (_, errors) = build_str(text);
        let lines: Vec<&str> = errors.lines().collect();
        let expected = [
            "p.yml:7:15: error: `file` of task `a`: `ci/../a.yml` has an empty, `.` or `..` segment",
            "p.yml:8:9: error: task `b` has neither `config` nor `file`",
            "p.yml:11:11: error: the `config` of task `c` has no `component`",
            "p.yml:11:17: error: `args` must be a list of strings",
            "p.yml:12:38: error: `path` of `inputs`: `../y` has an empty",
            "p.yml:12:46: error: invalid name `a/b` in `inputs`",
            "p.yml:12:56: error: `inputs` lists `z` twice",
            "p.yml:13:22: error: an entry of `outputs` must be `{name: …}`",
            "p.yml:14:27: error: `memory` is more than 4GiB",
            "p.yml:14:33: error: unknown key `cpu` in `limits` of task `c`",
            "p.yml:15:9: error: `inputs` is an option of `put` steps, not of a `task` step",
        ];
        assert_eq!(lines.len(), expected.len(), "{errors}");
        for (line, want) in lines.iter().zip(expected) {
            assert!(line.starts_with(want), "{line}\nwanted: {want}\n{errors}");
        }
    }

    #[test]
    fn environment_values() {
        let text = "\
environments:
  - {name: a, approval: requird, soak: 10}
  - {name: b, soak: 0s, gate: []}
  - {approval: automatic}
jobs: []
";
        let (_, errors) = build_str(text);
        assert_eq!(
            errors,
            "\
p.yml:2:25: error: `approval` must be `required` or `automatic`, found the string `requird` (help: did you mean `required`?)
p.yml:2:40: error: `soak` must be a duration, found the number `10` (help: durations need a unit: `10s`, `10m` or `10h`)
p.yml:3:21: error: `soak` must be longer than 0s
p.yml:3:31: error: `gate` is empty: no job would have to pass (help: remove `gate` to make every job of the environment a gate job)
p.yml:4:5: error: an environment has no `name`
"
        );
    }

    #[test]
    fn plugin_types_and_grants() {
        let text = "\
environments: [dev]
resource_types:
  a: counter
  b: {plugin: b@latest, memory: 5GiB}
  c: {memory: 1}
  d: {plugin: d.wasm, limits: {versions: 3, log_size: 0, version_fields: 0}}
resources:
  - name: r
    type: a
    grants:
      dirs: {\"../x\": /tmp, ok: {writable: true}}
      network: [\"nohost\", \"h:0\"]
      env: [A]
jobs: []
";
        let (_, errors) = build_str(text);
        assert_eq!(
            errors,
            "\
p.yml:3:6: error: `counter` is neither a registry reference `name@version` nor a path to a `.wasm` file: write `counter@*` for the newest version in the registry, or `./counter.wasm`
p.yml:4:15: error: invalid version requirement `latest` in `b@latest` (e.g. `^1.2`, `=1.0.3`, `*`): unexpected character 'l' while parsing major version number
p.yml:4:33: error: `memory` is more than 4GiB, the most a 32-bit WebAssembly plugin can address
p.yml:5:3: error: resource type `c` has no `plugin` (help: add `plugin: name@version` or `plugin: path/to/plugin.wasm`)
p.yml:5:15: error: `memory` must be a size like `512MiB`, found the number `1` (help: units: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB)
p.yml:6:32: error: unknown key `versions` in `limits` of resource type `d` (help: did you mean `versions_per_check`?)
p.yml:6:55: error: `log_size` must be a size like `512MiB`, found the number `0` (help: units: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB)
p.yml:6:74: error: `version_fields` must be a whole number of at least 1, found the number `0`
p.yml:11:14: error: invalid directory name `../x`: use letters, digits, `-`, `_` and `.` (it is mounted at /dirs/<name>)
p.yml:11:28: error: directory `ok` has no `path`
p.yml:12:17: error: cannot grant network access to `nohost`: expected `host:port`
p.yml:12:27: error: cannot grant network access to `h:0`: port 0 cannot be connected to
p.yml:13:12: error: `env` must map variable names to values, found a list
"
        );
    }
}
