//! The mapping itself: Concourse's tree in, the Lockgate tree and the report out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use lockgate_config::Span;
use lockgate_config::yaml::{self, Key, Kind, Node};

use crate::emit::{self, Value};
use crate::types::{self, Mapped};
use crate::{ImportError, Imported, Item, Options};

/// The marker of every placeholder in the written pipeline.
pub(crate) const TODO: &str = "TODO(lockgate import)";

/// Lockgate's standard environments, in promotion order, with the words that name them.
const STANDARD: &[(&str, &[&str])] = &[
    ("development", &["dev", "develop", "development", "devel"]),
    (
        "staging",
        &["stage", "staging", "stg", "preprod", "pre-prod"],
    ),
    ("production", &["prod", "production", "prd", "live"]),
];

const STEP_ACTIONS: &[&str] = &[
    "get",
    "put",
    "task",
    "in_parallel",
    "aggregate",
    "do",
    "try",
    "set_pipeline",
    "load_var",
];
const HOOKS: &[&str] = &["on_success", "on_failure", "on_error", "ensure"];

/// The environment a group or job name means, by its words (`deploy-prod`, `STAGING`,
/// `01-dev-env`).
pub(crate) fn environment_of_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let joined_pairs: Vec<String> = words.windows(2).map(|w| w.join("-")).collect();
    STANDARD
        .iter()
        .find(|(_, names)| joined_pairs.iter().any(|w| names.contains(&w.as_str())))
        .or_else(|| {
            STANDARD
                .iter()
                .find(|(_, names)| words.iter().any(|w| names.contains(w)))
        })
        .map(|(env, _)| *env)
}

struct Ctx<'a> {
    file: &'a Path,
    report: Vec<Item>,
    errors: Vec<Item>,
    /// Resource name → Concourse type.
    resource_types: BTreeMap<String, String>,
    /// Type name → how it maps (`None`: a placeholder).
    type_map: BTreeMap<String, Option<&'static Mapped>>,
    /// Task placeholder components: (task, what it ran) → path.
    components: BTreeMap<(String, String), String>,
    component_names: BTreeSet<String>,
    /// Resource uses by jobs: (resource, job, has `passed`).
    uses: Vec<(String, String, bool)>,
    /// The job being translated.
    job: String,
}

impl Ctx<'_> {
    fn note(&mut self, span: Span, construct: impl Into<String>, reason: impl Into<String>) {
        self.report.push(Item {
            file: self.file.to_path_buf(),
            line: span.line,
            column: span.column,
            construct: construct.into(),
            reason: reason.into(),
        });
    }

    fn error(&mut self, span: Span, construct: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(Item {
            file: self.file.to_path_buf(),
            line: span.line,
            column: span.column,
            construct: construct.into(),
            reason: reason.into(),
        });
    }

    /// The entries of a mapping node, or an error naming `what`.
    fn entries<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.kind {
            Kind::Map(e) => Some(e),
            _ => {
                let found = describe(node);
                self.error(node.span, what, format!("must be a mapping, found {found}"));
                None
            }
        }
    }

    fn items<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            Kind::Null => Some(&[]),
            _ => {
                let found = describe(node);
                self.error(node.span, what, format!("must be a list, found {found}"));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Num(n) => Some(n.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => {
                let found = describe(node);
                self.error(node.span, what, format!("must be a string, found {found}"));
                None
            }
        }
    }
}

fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Null => "nothing".into(),
        Kind::Bool(b) => format!("the boolean `{b}`"),
        Kind::Num(n) => format!("the number `{n}`"),
        Kind::Str(s) if s.chars().count() <= 40 && !s.contains('\n') => format!("the string `{s}`"),
        Kind::Str(_) => "a string".into(),
        Kind::Seq(_) => "a list".into(),
        Kind::Map(_) => "a mapping".into(),
    }
}

/// The first entry of `key`.
fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<(&'n Key, &'n Node)> {
    entries
        .iter()
        .find(|(k, _)| k.name == key)
        .map(|(k, v)| (k, v))
}

/// A node as an output value, as it is.
fn value(node: &Node) -> Value {
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Num(n) => Value::Num(n.to_string()),
        Kind::Str(s) => Value::Str(s.clone()),
        Kind::Seq(items) => Value::Seq(items.iter().map(value).collect()),
        Kind::Map(entries) => {
            let mut out = Value::map();
            let mut seen = BTreeSet::new();
            for (k, v) in entries {
                if seen.insert(k.name.as_str()) {
                    out.push(k.name.clone(), value(v));
                }
            }
            out
        }
    }
}

/// The unique entries of a mapping, those named in `order` first in that order, the others
/// after them as written: one output order whatever the input's (`<<:` merged keys come after
/// the explicit ones).
fn ordered<'n>(entries: &'n [(Key, Node)], order: &[&str]) -> Vec<&'n (Key, Node)> {
    let mut out = unique(entries);
    out.sort_by_key(|(k, _)| {
        order
            .iter()
            .position(|o| *o == k.name)
            .unwrap_or(order.len())
    });
    out
}

/// The unique entries of a mapping (a repeated key: the first one; Concourse's reader refuses
/// them, Lockgate's too).
fn unique(entries: &[(Key, Node)]) -> Vec<&(Key, Node)> {
    let mut seen = BTreeSet::new();
    entries
        .iter()
        .filter(|(k, _)| seen.insert(k.name.as_str()))
        .collect()
}

pub(crate) fn import(file: &Path, text: &str, options: &Options) -> Result<Imported, ImportError> {
    let mut ctx = Ctx {
        file,
        report: Vec::new(),
        errors: Vec::new(),
        resource_types: BTreeMap::new(),
        type_map: BTreeMap::new(),
        components: BTreeMap::new(),
        component_names: BTreeSet::new(),
        uses: Vec::new(),
        job: String::new(),
    };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            ctx.error(e.span, "YAML", e.message);
            return Err(ImportError::Malformed(ctx.errors));
        }
    };
    let Some(top) = ctx.entries(&root, "the pipeline") else {
        return Err(ImportError::Malformed(ctx.errors));
    };
    for (k, _) in top {
        match k.name.as_str() {
            "resource_types" | "resources" | "jobs" | "groups" => {}
            "display" => ctx.note(k.span, "`display`", "the web UI's background: Lockgate's dashboard has none"),
            "var_sources" => ctx.note(
                k.span,
                "`var_sources`",
                "Lockgate has no var sources: give the values with `--vars FILE`, `--secrets FILE` or `LOCKGATE_VAR_*`/`LOCKGATE_SECRET_*` (`((source:name))` placeholders are kept as they are and must be renamed)",
            ),
            other => {
                ctx.note(
                    k.span,
                    format!("top-level `{other}`"),
                    "not a key of a Concourse pipeline: left out (anchors defined under it are already expanded where they are used)",
                )
            }
        }
    }
    var_sources(&mut ctx, &root);

    // Resource types declared by the pipeline.
    let mut custom: Vec<(String, Value, Vec<String>, Span)> = Vec::new();
    if let Some((_, node)) = get(top, "resource_types")
        && let Some(items) = ctx.items(node, "`resource_types`")
    {
        for item in items {
            if let Some(t) = resource_type(&mut ctx, item) {
                custom.push(t);
            }
        }
    }
    // Resources.
    let mut resources: Vec<(String, Value, Span)> = Vec::new();
    if let Some((_, node)) = get(top, "resources")
        && let Some(items) = ctx.items(node, "`resources`")
    {
        for item in items {
            if let Some(r) = resource(&mut ctx, item) {
                resources.push(r);
            }
        }
    }
    // Jobs.
    let mut jobs: Vec<Job> = Vec::new();
    match get(top, "jobs") {
        Some((_, node)) => {
            if let Some(items) = ctx.items(node, "`jobs`") {
                for item in items {
                    if let Some(j) = job(&mut ctx, item) {
                        jobs.push(j);
                    }
                }
            }
        }
        None => ctx.error(root.span, "the pipeline", "has no `jobs`"),
    }
    // Groups → environments.
    let groups = match get(top, "groups") {
        Some((_, node)) => groups(&mut ctx, node),
        None => Vec::new(),
    };
    if !ctx.errors.is_empty() {
        ctx.errors.sort();
        ctx.errors.dedup();
        return Err(ImportError::Malformed(ctx.errors));
    }
    for (group, environment) in &options.environments {
        if !groups.iter().any(|g| &g.name == group) {
            let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
            let help = lockgate_config::did_you_mean(group, names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(ImportError::UnknownGroup {
                group: group.clone(),
                environment: environment.clone(),
                help,
            });
        }
    }
    let (environments, job_envs) = environments(&mut ctx, &groups, &jobs, options);

    // Resources gotten without `passed` by jobs of two or more environments serve them all.
    let mut shared = BTreeSet::new();
    for (name, _, _) in &resources {
        let uses: Vec<&(String, String, bool)> =
            ctx.uses.iter().filter(|(r, _, _)| r == name).collect();
        let envs: BTreeSet<&str> = uses
            .iter()
            .filter_map(|(_, j, _)| job_envs.get(j).map(String::as_str))
            .collect();
        if envs.len() >= 2 && uses.iter().all(|(_, _, passed)| !passed) {
            shared.insert(name.clone());
        }
    }

    // The document.
    let mut doc = Value::map();
    doc.push_commented(
        "environments",
        Value::Seq(environments.iter().map(Value::str).collect()),
        vec![
            format!(
                "Imported from {} by `lockgate import concourse`.",
                file.display()
            ),
            format!(
                "Every `{TODO}` marks a placeholder to fill; the import's report lists what was not translated."
            ),
            String::new(),
            "Environments, in promotion order (from the pipeline's groups and job names).".into(),
        ],
    );
    let mut type_entries = Value::map();
    let used_types: BTreeSet<String> = ctx.resource_types.values().cloned().collect();
    let declared: BTreeSet<String> = custom.iter().map(|(n, _, _, _)| n.clone()).collect();
    for (name, v, comments, span) in custom {
        if used_types.contains(&name) {
            type_entries.push_commented(name, v, comments);
        } else {
            ctx.note(
                span,
                format!("resource type `{name}`"),
                "no resource uses it: left out",
            );
        }
    }
    for name in &used_types {
        if declared.contains(name) {
            continue;
        }
        let (v, comments) = match types::mapped(name) {
            Some(m) => mapped_type(m),
            None => placeholder_type(name),
        };
        type_entries.push_commented(name.clone(), v, comments);
    }
    if let Value::Map(e) = &mut type_entries {
        e.sort_by(|a, b| a.key.cmp(&b.key));
    }
    doc.push("resource_types", type_entries);
    let resources = resources
        .into_iter()
        .map(|(name, mut v, _)| {
            if shared.contains(&name) {
                v.push_commented(
                    "shared",
                    Value::Bool(true),
                    vec!["Gotten without `passed` in every environment that uses it: serves them all, never promoted.".into()],
                );
            }
            v
        })
        .collect();
    doc.push("resources", Value::Seq(resources));
    let jobs = jobs
        .into_iter()
        .map(|j| {
            let mut out = Value::map();
            out.push("name", Value::str(&j.name));
            let env = job_envs.get(&j.name).cloned().unwrap_or_default();
            out.push("environment", Value::Str(env));
            if let (Value::Map(entries), Value::Map(o)) = (j.body, &mut out) {
                o.extend(entries);
            }
            out
        })
        .collect();
    doc.push("jobs", Value::Seq(jobs));

    let mut report = ctx.report;
    // An unused type needs no placeholder: only its being unused is said.
    report.retain(|i| {
        !(i.reason.starts_with("runs the container image")
            && i.construct
                .strip_prefix("resource type `")
                .and_then(|n| n.strip_suffix('`'))
                .is_some_and(|n| !used_types.contains(n)))
    });
    report.sort();
    report.dedup();
    Ok(Imported {
        pipeline: emit::to_yaml(&doc),
        report,
    })
}

/// Var-source placeholders (`((vault:path))`) and local vars (`((.:name))`) anywhere.
fn var_sources(ctx: &mut Ctx<'_>, node: &Node) {
    match &node.kind {
        Kind::Str(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("((") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("))") else { break };
                let inner = after[..end].trim();
                if let Some(local) = inner.strip_prefix(".:") {
                    ctx.note(
                        node.span,
                        format!("`(({inner}))`"),
                        format!("a local var (of `load_var` or `across`): Lockgate has none; kept as it is, replace `{local}`"),
                    );
                } else if let Some((source, _)) = inner.split_once(':')
                    && !source.is_empty()
                    && source
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
                {
                    ctx.note(
                        node.span,
                        format!("`(({inner}))`"),
                        format!("a var of var source `{source}`: Lockgate has no var sources; kept as it is, rename it to a plain `((name))` given by --vars/--secrets"),
                    );
                }
                rest = &after[end + 2..];
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| var_sources(ctx, i)),
        Kind::Map(entries) => entries.iter().for_each(|(_, v)| var_sources(ctx, v)),
        _ => {}
    }
}

/// A file name made of letters, digits, `-`, `_` and `.` only.
fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("x{s}")
    } else {
        s
    }
}

fn mapped_type(m: &Mapped) -> (Value, Vec<String>) {
    let mut v = Value::map();
    v.push(
        "plugin",
        Value::Str(format!("plugins/{}.wasm", m.component)),
    );
    (
        v,
        vec![format!(
            "Lockgate's first-party `{}` plugin (plugins/{}): its component, or `{}@*` from a plugin registry.",
            m.plugin, m.plugin, m.plugin
        )],
    )
}

fn placeholder_type(name: &str) -> (Value, Vec<String>) {
    let mut v = Value::map();
    v.push(
        "plugin",
        Value::Str(format!("plugins/TODO-{}.wasm", file_stem(name))),
    );
    (
        v,
        vec![format!(
            "{TODO}: Concourse's `{name}` type has no Lockgate plugin: write one (`lockgate plugin new`) or find one, and name it here."
        )],
    )
}

/// A `resource_types` entry: `(name, Lockgate type, comments, position)`.
fn resource_type(ctx: &mut Ctx<'_>, node: &Node) -> Option<(String, Value, Vec<String>, Span)> {
    let entries = ctx.entries(node, "a resource type")?;
    let Some((_, name_node)) = get(entries, "name") else {
        ctx.error(node.span, "a resource type", "has no `name`");
        return None;
    };
    let name = ctx.string(name_node, "the `name` of a resource type")?;
    let what = format!("resource type `{name}`");
    let repository = get(entries, "source")
        .and_then(|(_, s)| match &s.kind {
            Kind::Map(e) => get(e, "repository").and_then(|(_, r)| r.as_str().map(str::to_owned)),
            _ => None,
        })
        .unwrap_or_default();
    let mapped = types::mapped_image(&repository);
    ctx.type_map.insert(name.clone(), mapped);
    let (mut v, mut comments) = match mapped {
        Some(m) => {
            ctx.note(
                name_node.span,
                &what,
                format!(
                    "the image `{repository}` is Concourse's `{}` resource: mapped to Lockgate's `{}` plugin",
                    m.concourse, m.plugin
                ),
            );
            mapped_type(m)
        }
        None => {
            ctx.note(
                name_node.span,
                &what,
                format!(
                    "runs the container image `{}`: Lockgate runs WebAssembly plugins; written as a placeholder plugin `plugins/TODO-{}.wasm`",
                    if repository.is_empty() { "(none given)" } else { &repository },
                    file_stem(&name)
                ),
            );
            placeholder_type(&name)
        }
    };
    for (k, n) in unique(entries) {
        match k.name.as_str() {
            "name" | "type" | "source" => {}
            "defaults" => {
                if mapped.is_none() {
                    v.push("defaults", value(n));
                } else {
                    ctx.note(k.span, format!("`defaults` of {what}"), "left out: the defaults of a Concourse image do not fit the Lockgate plugin's source; set the keys on each resource");
                }
            }
            "check_every" => ctx.note(
                k.span,
                format!("`check_every` of {what}"),
                "a type's default check interval: set `check_every` on each resource instead",
            ),
            other => ctx.note(
                k.span,
                format!("`{other}` of {what}"),
                "a container setting: Lockgate plugins run in a WebAssembly sandbox",
            ),
        }
    }
    if mapped.is_some() {
        comments.push(format!(
            "Was Concourse's custom type `{name}` ({repository})."
        ));
    }
    Some((name, v, comments, name_node.span))
}

/// A resource: `(name, Lockgate resource, position)`.
fn resource(ctx: &mut Ctx<'_>, node: &Node) -> Option<(String, Value, Span)> {
    let entries = ctx.entries(node, "a resource")?;
    let Some((_, name_node)) = get(entries, "name") else {
        ctx.error(node.span, "a resource", "has no `name`");
        return None;
    };
    let name = ctx.string(name_node, "the `name` of a resource")?;
    let what = format!("resource `{name}`");
    let Some((_, type_node)) = get(entries, "type") else {
        ctx.error(node.span, &what, "has no `type`");
        return None;
    };
    let type_name = ctx.string(type_node, &format!("the `type` of {what}"))?;
    ctx.resource_types.insert(name.clone(), type_name.clone());
    let mapped = match ctx.type_map.get(&type_name) {
        Some(m) => *m,
        None => {
            let m = types::mapped(&type_name);
            if m.is_none() {
                let why = if types::CORE_UNMAPPED.contains(&type_name.as_str()) {
                    format!("Concourse's `{type_name}` type has no Lockgate plugin yet")
                } else {
                    format!(
                        "`{type_name}` is not declared under `resource_types` and is not a type Lockgate maps"
                    )
                };
                ctx.note(
                    type_node.span,
                    format!("the type of {what}"),
                    format!(
                        "{why}: written as a placeholder plugin `plugins/TODO-{}.wasm`",
                        file_stem(&type_name)
                    ),
                );
            }
            ctx.type_map.insert(type_name.clone(), m);
            m
        }
    };
    let mut v = Value::map();
    v.push("name", Value::str(&name));
    v.push("type", Value::str(&type_name));
    let mut network = Vec::new();
    for (k, n) in ordered(
        entries,
        &[
            "source",
            "check_every",
            "check_timeout",
            "version",
            "webhook_token",
        ],
    ) {
        match k.name.as_str() {
            "name" | "type" => {}
            "source" => {
                let source = match mapped {
                    Some(m) => mapped_source(ctx, m, n, &what),
                    None => value(n),
                };
                if let Some(m) = mapped {
                    network = types::network(m, &to_json(&source));
                }
                v.push("source", source);
            }
            "check_every" | "check_timeout" | "webhook_token" => {
                v.push(k.name.clone(), value(n));
            }
            "version" => v.push("version", version_value(n)),
            "icon" | "public" | "expose_build_created_by" => ctx.note(
                k.span,
                format!("`{}` of {what}", k.name),
                "for Concourse's web UI: Lockgate has no equivalent",
            ),
            "tags" => ctx.note(k.span, format!("`tags` of {what}"), "worker tags: Lockgate has no workers to choose (any engine node runs any step)"),
            "old_name" => ctx.note(k.span, format!("`old_name` of {what}"), "Lockgate keeps no history under another name: rename the resource's state by hand if needed"),
            other => ctx.note(k.span, format!("`{other}` of {what}"), "not a key of a Concourse resource: left out"),
        }
    }
    if !network.is_empty() {
        let mut grants = Value::map();
        grants.push(
            "network",
            Value::Seq(network.into_iter().map(Value::Str).collect()),
        );
        v.push_commented(
            "grants",
            grants,
            vec!["What the plugin may reach (derived from the source; check it).".into()],
        );
    }
    Some((name, v, name_node.span))
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Num(n) => serde_json::from_str(n).unwrap_or(serde_json::Value::Null),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}

/// A pinned version: a mapping of strings (numbers and booleans as their text).
fn version_value(node: &Node) -> Value {
    match &node.kind {
        Kind::Map(entries) => {
            let mut out = Value::map();
            for (k, v) in unique(entries) {
                let s = match &v.kind {
                    Kind::Num(n) => Value::Str(n.to_string()),
                    Kind::Bool(b) => Value::Str(b.to_string()),
                    _ => value(v),
                };
                out.push(k.name.clone(), s);
            }
            out
        }
        _ => value(node),
    }
}

/// The source of a resource of a mapped type: the keys the plugin knows, renamed where they
/// differ; the others reported.
fn mapped_source(ctx: &mut Ctx<'_>, m: &Mapped, node: &Node, what: &str) -> Value {
    let Kind::Map(entries) = &node.kind else {
        return value(node);
    };
    let mut out = Value::map();
    for (k, n) in unique(entries) {
        let Some((_, to)) = m.source.iter().find(|(from, _)| *from == k.name) else {
            let why = match (m.plugin, k.name.as_str()) {
                ("git", "private_key" | "private_key_user" | "private_key_passphrase") => {
                    "SSH keys: Lockgate's git speaks HTTPS only; give `username`/`password` or `token`".to_owned()
                }
                (_, "skip_ssl_verification" | "insecure_registries" | "ca_certs") => {
                    "TLS settings: give the resource `grants.ca_certs` (a PEM file) instead".to_owned()
                }
                _ => format!("Lockgate's `{}` plugin has no such source key (plugins/{}/README.md)", m.plugin, m.plugin),
            };
            ctx.note(
                k.span,
                format!("`source.{}` of {what}", k.name),
                format!("left out: {why}"),
            );
            continue;
        };
        let mut v = value(n);
        match (m.plugin, k.name.as_str()) {
            ("git", "uri") => {
                if let Value::Str(uri) = &v
                    && let Some(https) = ssh_to_https(uri)
                {
                    ctx.note(
                        n.span,
                        format!("`source.uri` of {what}"),
                        format!(
                            "an SSH URI: Lockgate's git speaks HTTPS only; written as `{https}`"
                        ),
                    );
                    v = Value::Str(https);
                }
            }
            ("bosh-io-stemcell", "force_regular") => match &n.kind {
                Kind::Bool(true) => v = Value::Bool(false),
                Kind::Bool(false) => continue,
                _ => ctx.note(
                    n.span,
                    format!("`source.force_regular` of {what}"),
                    "written as `light` (its opposite): check it",
                ),
            },
            ("time", "start" | "stop") => {
                if let Value::Str(t) = &v
                    && !is_clock(t)
                {
                    ctx.note(
                        n.span,
                        format!("`source.{}` of {what}", k.name),
                        format!("`{t}` is not `HH:MM` (24-hour), the only form Lockgate's `time` reads: rewrite it"),
                    );
                }
            }
            _ => {}
        }
        out.push(*to, v);
    }
    out
}

/// `HH:MM` or `HH:MM:SS`.
fn is_clock(t: &str) -> bool {
    let parts: Vec<&str> = t.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts[0].len() <= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[1..].iter().all(|p| p.len() == 2)
}

/// `git@host:owner/repo.git` or `ssh://git@host/owner/repo.git` as an `https://` URL.
fn ssh_to_https(uri: &str) -> Option<String> {
    if uri.contains("((") || uri.starts_with("http://") || uri.starts_with("https://") {
        return None;
    }
    if let Some(rest) = uri.strip_prefix("ssh://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next()?;
        return Some(format!("https://{host}/{path}"));
    }
    let (user_host, path) = uri.split_once(':')?;
    let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
    (!host.is_empty() && !path.starts_with('/') && !path.is_empty())
        .then(|| format!("https://{host}/{path}"))
}

/// A translated job, before it is given its environment.
struct Job {
    name: String,
    span: Span,
    /// Everything after `name` and `environment`.
    body: Value,
    /// Jobs named in its `passed`.
    passed: BTreeSet<String>,
}

fn job(ctx: &mut Ctx<'_>, node: &Node) -> Option<Job> {
    let entries = ctx.entries(node, "a job")?;
    let Some((_, name_node)) = get(entries, "name") else {
        ctx.error(node.span, "a job", "has no `name`");
        return None;
    };
    let name = ctx.string(name_node, "the `name` of a job")?;
    let what = format!("job `{name}`");
    ctx.job = name.clone();
    let mut body = Value::map();
    let serial = get(entries, "serial").is_some_and(|(_, n)| n.kind == Kind::Bool(true))
        || get(entries, "serial_groups").is_some();
    let mut plan = None;
    let mut hooks = Vec::new();
    let mut settings: Vec<(String, Value)> = Vec::new();
    for (k, n) in unique(entries) {
        match k.name.as_str() {
            "name" => {}
            "plan" => {
                let Some(items) = ctx.items(n, &format!("the `plan` of {what}")) else { continue };
                plan = Some(Value::Seq(items.iter().filter_map(|s| step(ctx, s, &what)).collect()));
            }
            "serial" | "serial_groups" => settings.push((k.name.clone(), value(n))),
            "max_in_flight" => {
                let more_than_one = !matches!(&n.kind, Kind::Num(x) if x.as_u64() == Some(1));
                if serial && more_than_one {
                    ctx.note(k.span, format!("`max_in_flight` of {what}"), "left out: the job is serial (one build at a time), which Lockgate does not combine with `max_in_flight` above 1");
                } else {
                    settings.push(("max_in_flight".into(), value(n)));
                }
            }
            h if HOOKS.contains(&h) => {
                if let Some(s) = step(ctx, n, &format!("the `{h}` hook of {what}")) {
                    hooks.push((h.to_owned(), s));
                }
            }
            "on_abort" => ctx.note(k.span, format!("`on_abort` of {what}"), "Lockgate has no abort hook: left out (use `ensure` for what must always run)"),
            "public" => ctx.note(k.span, format!("`public` of {what}"), "Concourse's build visibility: Lockgate's API protects reads with `--protect-reads`"),
            "build_log_retention" | "build_logs_to_retain" => ctx.note(k.span, format!("`{}` of {what}", k.name), "Lockgate keeps build logs by its own settings (`--keep-logs`)"),
            "disable_manual_trigger" => ctx.note(k.span, format!("`disable_manual_trigger` of {what}"), "not supported: anyone with the operator role may `lockgate trigger` a job"),
            "interruptible" => ctx.note(k.span, format!("`interruptible` of {what}"), "Lockgate has no workers to drain: left out"),
            "old_name" => ctx.note(k.span, format!("`old_name` of {what}"), "Lockgate keeps no history under another name: left out"),
            other => ctx.note(k.span, format!("`{other}` of {what}"), "not a key of a Concourse job: left out"),
        }
    }
    let Some(plan) = plan else {
        ctx.error(name_node.span, &what, "has no `plan`");
        return None;
    };
    // One order whatever the input's (merged keys come after the explicit ones).
    settings.sort_by_key(|(k, _)| {
        ["serial", "serial_groups", "max_in_flight"]
            .iter()
            .position(|o| o == k)
    });
    for (k, v) in settings {
        body.push(k, v);
    }
    body.push("plan", plan);
    hooks.sort_by_key(|(h, _)| HOOKS.iter().position(|o| o == h));
    for (h, s) in hooks {
        body.push(h, s);
    }
    let passed = BTreeSet::new();
    let mut job = Job {
        name,
        span: name_node.span,
        body,
        passed,
    };
    job.passed = collect_passed(&job.body);
    Some(job)
}

/// Every job named in a `passed` of the (translated) plan.
fn collect_passed(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Map(entries) => {
                for e in entries {
                    if e.key == "passed"
                        && let Value::Seq(items) = &e.value
                    {
                        for i in items {
                            if let Value::Str(s) = i {
                                out.insert(s.clone());
                            }
                        }
                    }
                    walk(&e.value, out);
                }
            }
            Value::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// One step, translated (`None`: left out, reported; or malformed, an error).
fn step(ctx: &mut Ctx<'_>, node: &Node, within: &str) -> Option<Value> {
    let entries = ctx.entries(node, &format!("a step of {within}"))?;
    let actions: Vec<&(Key, Node)> = unique(entries)
        .into_iter()
        .filter(|(k, _)| STEP_ACTIONS.contains(&k.name.as_str()))
        .collect();
    let Some((action_key, action_node)) = actions.first().map(|(k, v)| (k, v)) else {
        let keys: Vec<String> = entries
            .iter()
            .map(|(k, _)| format!("`{}`", k.name))
            .collect();
        ctx.error(
            node.span,
            format!("a step of {within}"),
            format!(
                "has no step kind: expected one of `get`, `put`, `task`, `in_parallel`, `do`, `try`, `set_pipeline`, `load_var`; found {}",
                if keys.is_empty() { "no key".to_owned() } else { keys.join(", ") }
            ),
        );
        return None;
    };
    if actions.len() > 1 {
        let names: Vec<String> = actions
            .iter()
            .map(|(k, _)| format!("`{}`", k.name))
            .collect();
        ctx.error(
            actions[1].0.span,
            format!("a step of {within}"),
            format!("has several step kinds: {}", names.join(", ")),
        );
        return None;
    }
    let action = action_key.name.as_str();
    let mut out = Value::map();
    // Keys this action handles itself.
    let own: &[&str] = match action {
        "get" => &["get", "resource", "passed", "trigger", "version", "params"],
        "put" => &[
            "put",
            "resource",
            "params",
            "inputs",
            "get_params",
            "no_get",
        ],
        "task" => &[
            "task",
            "config",
            "file",
            "params",
            "input_mapping",
            "output_mapping",
            "image",
            "privileged",
            "vars",
            "container_limits",
            "hermetic",
        ],
        "in_parallel" | "aggregate" => &["in_parallel", "aggregate"],
        "do" => &["do"],
        "try" => &["try"],
        _ => &[],
    };
    match action {
        "get" => get_step(ctx, entries, action_node, &mut out)?,
        "put" => put_step(ctx, entries, action_key, action_node, &mut out)?,
        "task" => task_step(ctx, entries, action_node, &mut out)?,
        "in_parallel" | "aggregate" => {
            let what = format!("`{action}` of {within}");
            if action == "aggregate" {
                ctx.note(
                    action_key.span,
                    &what,
                    "Concourse's deprecated `aggregate`: written as `in_parallel`",
                );
            }
            let steps = match &action_node.kind {
                Kind::Map(p) => {
                    let mut v = Value::map();
                    let steps = get(p, "steps").map(|(_, s)| s);
                    let list = match steps {
                        Some(s) => ctx.items(s, &format!("the `steps` of {what}"))?,
                        None => &[],
                    };
                    v.push(
                        "steps",
                        Value::Seq(list.iter().filter_map(|s| step(ctx, s, within)).collect()),
                    );
                    for (k, n) in unique(p) {
                        match k.name.as_str() {
                            "steps" => {}
                            "limit" | "fail_fast" => v.push(k.name.clone(), value(n)),
                            other => ctx.note(
                                k.span,
                                format!("`{other}` of {what}"),
                                "not a key of `in_parallel`: left out",
                            ),
                        }
                    }
                    v
                }
                _ => {
                    let list = ctx.items(action_node, &what)?;
                    Value::Seq(list.iter().filter_map(|s| step(ctx, s, within)).collect())
                }
            };
            out.push("in_parallel", steps);
        }
        "do" => {
            let list = ctx.items(action_node, &format!("`do` of {within}"))?;
            out.push(
                "do",
                Value::Seq(list.iter().filter_map(|s| step(ctx, s, within)).collect()),
            );
        }
        "try" => {
            let inner = step(ctx, action_node, within)?;
            out.push("try", inner);
        }
        "set_pipeline" => {
            ctx.note(action_key.span, format!("`set_pipeline` step of {within}"), "left out: a Lockgate pipeline is loaded by `lockgate run` or `lockgate server`, not set from a step");
            return None;
        }
        "load_var" => {
            ctx.note(action_key.span, format!("`load_var` step of {within}"), "left out: values come from `((vars))` (`--vars`, `--secrets`, the environment); `((.:name))` placeholders that used it are kept and must be replaced");
            return None;
        }
        _ => unreachable!("one of STEP_ACTIONS"),
    }
    let step_name = action_node
        .as_str()
        .map(|s| format!("`{action}: {s}`"))
        .unwrap_or_else(|| format!("`{action}`"));
    for (k, n) in ordered(
        entries,
        &[
            "timeout",
            "attempts",
            "on_success",
            "on_failure",
            "on_error",
            "ensure",
        ],
    ) {
        let name = k.name.as_str();
        if own.contains(&name) {
            continue;
        }
        match name {
            "timeout" | "attempts" => out.push(name, value(n)),
            h if HOOKS.contains(&h) => {
                if let Some(s) = step(ctx, n, &format!("the `{h}` hook of {step_name} in {within}")) {
                    out.push(h, s);
                }
            }
            "on_abort" => ctx.note(k.span, format!("`on_abort` of {step_name} in {within}"), "Lockgate has no abort hook: left out (use `ensure` for what must always run)"),
            "tags" => ctx.note(k.span, format!("`tags` of {step_name} in {within}"), "worker tags: Lockgate has no workers to choose; left out"),
            "across" => ctx.note(k.span, format!("`across` of {step_name} in {within}"), "Lockgate has no `across`: the step is written once, its `((.:var))` placeholders kept; write one step per value"),
            other => {
                let kind = STEP_ACTIONS.iter().find(|a| **a == other).copied();
                match kind {
                    Some(_) => {}
                    None => ctx.note(k.span, format!("`{other}` of {step_name} in {within}"), format!("not an option of a `{action}` step: left out")),
                }
            }
        }
    }
    Some(out)
}

fn get_step(
    ctx: &mut Ctx<'_>,
    entries: &[(Key, Node)],
    node: &Node,
    out: &mut Value,
) -> Option<()> {
    let name = ctx.string(node, "the name of a `get` step")?;
    out.push("get", Value::str(&name));
    let resource = match get(entries, "resource") {
        Some((_, r)) => {
            let r = ctx.string(r, "the `resource` of a `get` step")?;
            out.push("resource", Value::str(&r));
            r
        }
        None => name.clone(),
    };
    let what = format!("`get: {name}` in job `{}`", ctx.job);
    let mapped = ctx
        .resource_types
        .get(&resource)
        .and_then(|t| ctx.type_map.get(t).copied().flatten());
    let mut has_passed = false;
    for (k, n) in ordered(entries, &["passed", "trigger", "version", "params"]) {
        match k.name.as_str() {
            "passed" => {
                has_passed = true;
                out.push("passed", value(n));
            }
            "trigger" => out.push("trigger", value(n)),
            "version" => out.push("version", version_value(n)),
            "params" => {
                let params = match mapped {
                    Some(m) => filter_params(ctx, n, m.get_params, &what, m, "get"),
                    None => value(n),
                };
                if !matches!(&params, Value::Map(e) if e.is_empty()) {
                    out.push("params", params);
                }
            }
            _ => {}
        }
    }
    let job = ctx.job.clone();
    ctx.uses.push((resource, job, has_passed));
    Some(())
}

/// The params a mapped plugin knows; the others reported.
fn filter_params(
    ctx: &mut Ctx<'_>,
    node: &Node,
    keep: &[&str],
    what: &str,
    m: &Mapped,
    op: &str,
) -> Value {
    let Kind::Map(entries) = &node.kind else {
        return value(node);
    };
    let mut out = Value::map();
    for (k, n) in unique(entries) {
        if keep.contains(&k.name.as_str()) {
            out.push(k.name.clone(), value(n));
        } else {
            ctx.note(
                k.span,
                format!("`params.{}` of {what}", k.name),
                format!("left out: Lockgate's `{}` plugin takes no such {op} param (plugins/{}/README.md)", m.plugin, m.plugin),
            );
        }
    }
    out
}

fn put_step(
    ctx: &mut Ctx<'_>,
    entries: &[(Key, Node)],
    key: &Key,
    node: &Node,
    out: &mut Value,
) -> Option<()> {
    let name = ctx.string(node, "the name of a `put` step")?;
    out.push("put", Value::str(&name));
    let resource = match get(entries, "resource") {
        Some((_, r)) => {
            let r = ctx.string(r, "the `resource` of a `put` step")?;
            out.push("resource", Value::str(&r));
            r
        }
        None => name.clone(),
    };
    let what = format!("`put: {name}` in job `{}`", ctx.job);
    let mapped = ctx
        .resource_types
        .get(&resource)
        .and_then(|t| ctx.type_map.get(t).copied().flatten());
    if let Some(m) = mapped
        && m.put_params.is_none()
    {
        ctx.note(key.span, &what, format!("Lockgate's `{}` plugin has no put (it only tracks and fetches): the step is kept and will fail; remove it", m.plugin));
    }
    let mut params_out: Option<(Value, Vec<String>)> = None;
    for (k, n) in ordered(entries, &["inputs", "params"]) {
        match k.name.as_str() {
            "params" => {
                params_out = Some(match mapped {
                    Some(m) => put_params(ctx, n, m, &what),
                    None => (value(n), Vec::new()),
                });
            }
            "inputs" => match &n.kind {
                Kind::Str(s) if s == "detect" => {
                    ctx.note(n.span, format!("`inputs: detect` of {what}"), "Lockgate does not detect inputs from params: written as `inputs: all`");
                    out.push("inputs", Value::str("all"));
                }
                _ => out.push("inputs", value(n)),
            },
            "get_params" => ctx.note(k.span, format!("`get_params` of {what}"), "Lockgate does not get the version a put created: left out (a later `get` takes params)"),
            "no_get" => ctx.note(k.span, format!("`no_get` of {what}"), "Lockgate never gets the version a put created: left out"),
            _ => {}
        }
    }
    // A git put always needs its YAML edit spelled out.
    if params_out.is_none()
        && let Some(m) = mapped
        && m.put_note.is_some()
    {
        ctx.note(key.span, &what, m.put_note.unwrap_or_default());
        params_out = Some((
            Value::map(),
            vec![format!("{TODO}: {}", m.put_note.unwrap_or_default())],
        ));
    }
    if let Some((params, comments)) = params_out {
        if comments.is_empty() && matches!(&params, Value::Map(e) if e.is_empty()) {
            return Some(());
        }
        out.push_commented("params", params, comments);
    }
    Some(())
}

/// A put's params for a mapped plugin, with the comments of a placeholder when its required
/// params could not be written.
fn put_params(ctx: &mut Ctx<'_>, node: &Node, m: &Mapped, what: &str) -> (Value, Vec<String>) {
    let Kind::Map(entries) = &node.kind else {
        return (value(node), Vec::new());
    };
    let keep = m.put_params.unwrap_or(&[]);
    let mut out = Value::map();
    let mut comments = Vec::new();
    for (k, n) in unique(entries) {
        let name = k.name.as_str();
        if keep.contains(&name) {
            out.push(name, value(n));
            continue;
        }
        match (m.plugin, name) {
            ("registry-image", "image") => {
                // `image: build/image.tar`: the artifact that holds it.
                let from = n.as_str().and_then(|s| s.split('/').next()).unwrap_or("").to_owned();
                ctx.note(k.span, format!("`params.image` of {what}"), format!("Concourse pushes an image tarball; Lockgate pushes an OCI image layout directory: written as `from: {from}` (the task must write an OCI layout there)"));
                out.push("from", Value::Str(from));
            }
            ("registry-image", "additional_tags") => {
                ctx.note(k.span, format!("`params.additional_tags` of {what}"), "a file of several tags: Lockgate reads one tag from `tag_file` or a list in `tags`; left out");
            }
            ("registry-image", "build") => {
                ctx.note(k.span, format!("`params.build` of {what}"), "docker-image builds images in the put: Lockgate's registry-image only pushes an OCI layout (build it in a task); left out");
            }
            _ => ctx.note(
                k.span,
                format!("`params.{name}` of {what}"),
                format!("left out: Lockgate's `{}` plugin takes no such put param (plugins/{}/README.md)", m.plugin, m.plugin),
            ),
        }
    }
    let has = |k: &str| matches!(&out, Value::Map(e) if e.iter().any(|e| e.key == k));
    let missing = match m.plugin {
        "git" => !has("file") || !(has("key") || has("set")),
        "registry-image" => !has("from") && !has("source_repository"),
        "s3" => !has("file"),
        _ => false,
    };
    if missing {
        let why = match m.plugin {
            "registry-image" => {
                "Lockgate's registry-image put pushes an OCI image layout (`from: <artifact>`) or copies an image by digest (`source_repository` with `digest` or `digest_file`): give one (plugins/registry-image/README.md)"
            }
            "s3" => "Lockgate's s3 put uploads `file: <artifact>/<path>`: give it",
            _ => m
                .put_note
                .unwrap_or("the plugin's required put params are missing"),
        };
        ctx.note(node.span, what, format!("{why}; written as a placeholder"));
        comments.push(format!("{TODO}: {why}"));
    }
    (out, comments)
}

fn task_step(
    ctx: &mut Ctx<'_>,
    entries: &[(Key, Node)],
    node: &Node,
    out: &mut Value,
) -> Option<()> {
    let name = ctx.string(node, "the name of a `task` step")?;
    out.push("task", Value::str(&name));
    let what = format!("task `{name}` of job `{}`", ctx.job);
    for (k, n) in ordered(
        entries,
        &[
            "file",
            "config",
            "params",
            "input_mapping",
            "output_mapping",
        ],
    ) {
        match k.name.as_str() {
            "file" => out.push("file", value(n)),
            "config" if get(entries, "file").is_some() => ctx.note(k.span, format!("`config` of {what}"), "given with `file`: Lockgate reads a task's definition one way; the `file` is kept, this `config` left out"),
            "config" => {
                let config = task_config(ctx, n, &name, &what)?;
                let (config, comments) = config;
                out.push_commented("config", config, comments);
            }
            "params" => out.push("params", params(ctx, n, &what)),
            "input_mapping" | "output_mapping" => out.push(k.name.clone(), value(n)),
            "image" => ctx.note(k.span, format!("`image` of {what}"), "a container image from an artifact: Lockgate tasks run a WebAssembly component; left out"),
            "privileged" => ctx.note(k.span, format!("`privileged` of {what}"), "a container privilege: Lockgate tasks run in a WebAssembly sandbox; left out"),
            "vars" => ctx.note(k.span, format!("`vars` of {what}"), "vars of a task file: Lockgate fills no `((vars))` in task files; left out"),
            "container_limits" => ctx.note(k.span, format!("`container_limits` of {what}"), "container limits: give the task `limits: {memory: …, timeout: …}`; left out"),
            "hermetic" => ctx.note(k.span, format!("`hermetic` of {what}"), "Lockgate tasks reach no network unless `grants.network` says so: left out"),
            _ => {}
        }
    }
    Some(())
}

/// Task params as environment variables: scalars kept, structures as their JSON text (what
/// Concourse gives the container).
fn params(ctx: &mut Ctx<'_>, node: &Node, what: &str) -> Value {
    let Kind::Map(entries) = &node.kind else {
        return value(node);
    };
    let mut out = Value::map();
    for (k, n) in unique(entries) {
        let v = match &n.kind {
            Kind::Seq(_) | Kind::Map(_) => {
                ctx.note(
                    n.span,
                    format!("`params.{}` of {what}", k.name),
                    "a list or mapping: written as its JSON text, as Concourse passes it",
                );
                Value::Str(to_json(&value(n)).to_string())
            }
            Kind::Null => Value::str(""),
            _ => value(n),
        };
        out.push(k.name.clone(), v);
    }
    out
}

/// An inline task `config`: the Lockgate config and the comments above it.
fn task_config(
    ctx: &mut Ctx<'_>,
    node: &Node,
    task: &str,
    what: &str,
) -> Option<(Value, Vec<String>)> {
    let entries = ctx.entries(node, &format!("the `config` of {what}"))?;
    let run = get(entries, "run").map(|(_, n)| n);
    let run_json = run
        .map(|n| to_json(&value(n)).to_string())
        .unwrap_or_default();
    let component = component_path(ctx, task, &run_json);
    let mut comments = vec![format!(
        "{TODO}: `{component}` is a placeholder: build the program this task runs for wasm32-wasip2 (a wasi:cli/command component) and put it there."
    )];
    let mut out = Value::map();
    out.push("component", Value::Str(component));
    let mut args = None;
    for (k, n) in ordered(entries, &["run", "inputs", "outputs", "caches", "params"]) {
        let name = k.name.as_str();
        match name {
            "run" => {
                let Kind::Map(run) = &n.kind else { continue };
                let path = get(run, "path").and_then(|(_, p)| p.as_str()).unwrap_or("");
                let list: Vec<String> = get(run, "args")
                    .and_then(|(_, a)| match &a.kind {
                        Kind::Seq(items) => Some(
                            items
                                .iter()
                                .map(|i| match &i.kind {
                                    Kind::Str(s) => s.clone(),
                                    _ => to_json(&value(i)).to_string(),
                                })
                                .collect(),
                        ),
                        _ => None,
                    })
                    .unwrap_or_default();
                comments.push(if list.is_empty() {
                    format!("Concourse ran `{path}`.")
                } else {
                    format!("Concourse ran `{path}` with the arguments:")
                });
                for a in &list {
                    for (i, line) in a.lines().enumerate() {
                        comments.push(format!("{} {line}", if i == 0 { "  -" } else { "   " }));
                    }
                }
                ctx.note(k.span, format!("`run` of {what}"), format!("a container command (`{path}`): kept as a comment above the task's `config`; the component placeholder must do what it did"));
                for (rk, _) in unique(run) {
                    if matches!(rk.name.as_str(), "dir" | "user") {
                        ctx.note(rk.span, format!("`run.{}` of {what}", rk.name), "a container setting: left out (a task's working directory is `/`, where its inputs are)");
                    }
                }
                // Arguments of a real program (not a shell script) carry over.
                if !matches!(
                    path,
                    "sh" | "bash" | "/bin/sh" | "/bin/bash" | "ash" | "/bin/ash" | "zsh"
                ) && !list.is_empty()
                {
                    args = Some(Value::Seq(list.into_iter().map(Value::Str).collect()));
                }
            }
            "platform" => ctx.note(
                k.span,
                format!("`platform` of {what}"),
                "a container platform: Lockgate tasks run on any platform; left out",
            ),
            "image_resource" => {
                let repo = match &n.kind {
                    Kind::Map(e) => get(e, "source")
                        .and_then(|(_, s)| match &s.kind {
                            Kind::Map(se) => get(se, "repository")
                                .and_then(|(_, r)| r.as_str().map(str::to_owned)),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                ctx.note(k.span, format!("`image_resource` of {what}"), format!("the container image `{repo}`: Lockgate tasks run a WebAssembly component; written as the placeholder `component`"));
            }
            "rootfs_uri" | "container_limits" => ctx.note(
                k.span,
                format!("`{name}` of {what}"),
                "a container setting: left out",
            ),
            "inputs" | "outputs" | "caches" => {
                let Kind::Seq(items) = &n.kind else {
                    out.push(name, value(n));
                    continue;
                };
                let mut list = Vec::new();
                // Lockgate's keys of an entry: inputs `name`, `path`, `optional`; outputs
                // `name`, `path`; caches `path`.
                let keys: &[&str] = match name {
                    "inputs" => &["name", "path", "optional"],
                    "outputs" => &["name", "path"],
                    _ => &["path"],
                };
                for item in items {
                    match &item.kind {
                        Kind::Map(e) => {
                            let mut d = Value::map();
                            for (ik, iv) in ordered(e, keys) {
                                if keys.contains(&ik.name.as_str()) {
                                    d.push(ik.name.clone(), value(iv));
                                } else {
                                    ctx.note(
                                        ik.span,
                                        format!("`{}` of an entry of `{name}` of {what}", ik.name),
                                        "left out: not a key Lockgate tasks have",
                                    );
                                }
                            }
                            list.push(d);
                        }
                        _ => list.push(value(item)),
                    }
                }
                out.push(name, Value::Seq(list));
            }
            "params" => out.push("params", params(ctx, n, what)),
            other => ctx.note(
                k.span,
                format!("`{other}` of the `config` of {what}"),
                "not a key of a Concourse task config: left out",
            ),
        }
    }
    if let Some(args) = args
        && let Value::Map(e) = &mut out
    {
        e.insert(
            1,
            crate::emit::Entry {
                key: "args".into(),
                value: args,
                comments: Vec::new(),
            },
        );
    }
    Some((out, comments))
}

/// The placeholder component of a task: one per task name and command, `tasks/<task>.wasm`,
/// `tasks/<task>-2.wasm`, … in file order.
fn component_path(ctx: &mut Ctx<'_>, task: &str, run: &str) -> String {
    let key = (task.to_owned(), run.to_owned());
    if let Some(p) = ctx.components.get(&key) {
        return p.clone();
    }
    let stem = file_stem(task);
    let mut path = format!("tasks/{stem}.wasm");
    let mut n = 2;
    while ctx.component_names.contains(&path) {
        path = format!("tasks/{stem}-{n}.wasm");
        n += 1;
    }
    ctx.component_names.insert(path.clone());
    ctx.components.insert(key, path.clone());
    path
}

/// A Concourse group: its name, position, environment, and job patterns.
struct Group {
    name: String,
    span: Span,
    patterns: Vec<String>,
}

fn groups(ctx: &mut Ctx<'_>, node: &Node) -> Vec<Group> {
    let Some(items) = ctx.items(node, "`groups`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(entries) = ctx.entries(item, "a group") else {
            continue;
        };
        let Some((_, name_node)) = get(entries, "name") else {
            ctx.error(item.span, "a group", "has no `name`");
            continue;
        };
        let Some(name) = ctx.string(name_node, "the `name` of a group") else {
            continue;
        };
        let mut patterns = Vec::new();
        for (k, n) in unique(entries) {
            match k.name.as_str() {
                "name" => {}
                "jobs" => {
                    if let Some(list) = ctx.items(n, &format!("the `jobs` of group `{name}`")) {
                        for j in list {
                            if let Some(s) = ctx.string(j, &format!("a job of group `{name}`")) {
                                patterns.push(s);
                            }
                        }
                    }
                }
                "resources" => {}
                other => ctx.note(
                    k.span,
                    format!("`{other}` of group `{name}`"),
                    "not a key of a Concourse group: left out",
                ),
            }
        }
        out.push(Group {
            name,
            span: name_node.span,
            patterns,
        });
    }
    out
}

/// Concourse's group patterns: `*` any run of characters, `?` one. Linear backtracking (the
/// last `*` only), so no pattern takes more than `pattern × name` steps.
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The environments in promotion order and each job's environment.
fn environments(
    ctx: &mut Ctx<'_>,
    groups: &[Group],
    jobs: &[Job],
    options: &Options,
) -> (Vec<String>, BTreeMap<String, String>) {
    // Each group's environment.
    let mut group_env: Vec<(usize, String)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let chosen = options
            .environments
            .iter()
            .rev()
            .find(|(group, _)| *group == g.name)
            .map(|(_, e)| e.clone())
            .or_else(|| environment_of_name(&g.name).map(str::to_owned));
        match chosen {
            Some(env) => group_env.push((i, env)),
            None => ctx.note(
                g.span,
                format!("group `{}`", g.name),
                "names no environment (dev…, staging…, prod…): not translated (Lockgate lays jobs out by environment; `--environment GROUP=ENV` maps it to one)",
            ),
        }
    }
    let mut order: Vec<String> = Vec::new();
    for (_, env) in &group_env {
        if !order.contains(env) {
            order.push(env.clone());
        }
    }
    let mut job_envs: BTreeMap<String, String> = BTreeMap::new();
    for j in jobs {
        let envs: Vec<&String> = group_env
            .iter()
            .filter(|(i, _)| groups[*i].patterns.iter().any(|p| glob(p, &j.name)))
            .map(|(_, e)| e)
            .collect();
        if let Some(first) = envs.first() {
            if let Some(other) = envs.iter().find(|e| e != &first) {
                ctx.note(
                    j.span,
                    format!("job `{}`", j.name),
                    format!("is in groups of environments `{first}` and `{other}`: put in `{first}` (the first group)"),
                );
            }
            job_envs.insert(j.name.clone(), (*first).clone());
        }
    }
    // Jobs in no environment's group: by their name, else after their `passed` jobs.
    for j in jobs {
        if job_envs.contains_key(&j.name) {
            continue;
        }
        if let Some(env) = environment_of_name(&j.name) {
            job_envs.insert(j.name.clone(), env.to_owned());
            if !order.iter().any(|o| o == env) {
                order.push(env.to_owned());
            }
            if !groups.is_empty() {
                ctx.note(
                    j.span,
                    format!("job `{}`", j.name),
                    format!("is in no environment's group: put in `{env}`, which its name names"),
                );
            }
        }
    }
    if order.is_empty() {
        order.push("development".into());
    }
    if order.iter().all(|e| STANDARD.iter().any(|(s, _)| s == e)) {
        order.sort_by_key(|e| STANDARD.iter().position(|(s, _)| s == e));
    }
    let rank = |e: &str, order: &[String]| order.iter().position(|o| o == e).unwrap_or(0);
    // Follow `passed` until nothing changes (bounded by the number of jobs).
    for _ in 0..=jobs.len() {
        let mut changed = false;
        for j in jobs {
            if job_envs.contains_key(&j.name) {
                continue;
            }
            let upstream = j
                .passed
                .iter()
                .filter_map(|p| job_envs.get(p))
                .max_by_key(|e| rank(e, &order))
                .cloned();
            if let Some(env) = upstream {
                ctx.note(
                    j.span,
                    format!("job `{}`", j.name),
                    format!("is in no environment's group and its name names none: put in `{env}`, the environment of the jobs of its `passed`; check it"),
                );
                job_envs.insert(j.name.clone(), env);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for j in jobs {
        if !job_envs.contains_key(&j.name) {
            let env = order[0].clone();
            ctx.note(
                j.span,
                format!("job `{}`", j.name),
                format!("is in no environment's group and nothing names its environment: put in `{env}`, the first; check it"),
            );
            job_envs.insert(j.name.clone(), env);
        }
    }
    (order, job_envs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names() {
        for (name, env) in [
            ("dev", Some("development")),
            ("DEV-env", Some("development")),
            ("deploy-staging", Some("staging")),
            ("02_stage", Some("staging")),
            ("prod", Some("production")),
            ("Production-EU", Some("production")),
            ("pre-prod", Some("staging")),
            ("all", None),
            ("devops-tools", None),
            ("product", None),
        ] {
            assert_eq!(environment_of_name(name), env, "{name}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("deploy-*", "deploy-prod"));
        assert!(glob("*-prod", "deploy-prod"));
        assert!(glob("unit-?", "unit-1"));
        assert!(!glob("deploy-*", "smoke-prod"));
        assert!(glob("a", "a"));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        // No exponential blow-up.
        let name = "a".repeat(5000);
        assert!(!glob("*a*a*a*a*a*a*a*a*a*a*b", &name));
    }

    #[test]
    fn ssh_uris_become_https() {
        assert_eq!(
            ssh_to_https("git@github.com:acme/app.git").as_deref(),
            Some("https://github.com/acme/app.git")
        );
        assert_eq!(
            ssh_to_https("ssh://git@gitlab.example:2222/acme/app.git").as_deref(),
            Some("https://gitlab.example/acme/app.git")
        );
        assert_eq!(ssh_to_https("https://github.com/acme/app.git"), None);
        assert_eq!(ssh_to_https("((uri))"), None);
    }
}
