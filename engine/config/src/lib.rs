//! The pipeline file: model, parsing with positions, variables, validation.
//!
//! A pipeline is a YAML file a Concourse user reads at sight (see
//! `docs/pipeline-reference.md`). Loading it goes through these stages, each reporting every
//! problem it finds at `file:line:column` (a [`Report`] of [`Diagnostic`]s) rather than
//! stopping at the first:
//!
//! 1. YAML → a tree where every node knows its position (`serde-saphyr`: anchors, aliases,
//!    `<<:` merge keys);
//! 2. `((var))` placeholders filled from [`Vars`] (vars files, secrets files, environment);
//! 3. tree → model ([`Pipeline`]): unknown keys (with "did you mean"), wrong types, missing
//!    keys;
//! 4. [`validate_structure`]: references, duplicates, `passed` cycles, the environment
//!    invariant;
//! 5. [`validate_schemas`]: each plugin loads and is of the right kind, and every `source`,
//!    `params` and `config` satisfies the plugin's JSON Schema.
//!
//! [`parse_file`] / [`parse_str`] run stages 1–3 and [`validate`] stages 4–5 against any
//! [`SchemaSource`]: this crate never loads a plugin. The engine's plan stage
//! (`lockgate_engine::plan::load`) runs all of it with the real plugin host.

mod diagnostic;
mod model;
mod parse;
mod plugins;
mod span;
mod units;
mod validate;
mod vars;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Report, Severity};
pub use lockgate_model::NO_REGISTRY;
pub use lockgate_model::did_you_mean;
pub use model::{
    Action, Approval, CheckEvery, DEFAULT_CHECK_EVERY, Environment, Get, GrantSpec, Hooks,
    InParallel, Inputs, Job, Payload, Pipeline, PluginRef, PluginType, Put, Resource, Step,
    TaskComponent, TaskConfig, TaskDirSpec, TaskFile, TaskStep, Test, VersionPolicy,
};
pub use plugins::{PluginRefError, parse_plugin_ref};
pub use span::{Span, Spanned};
pub use units::{DurationError, SizeError, format_duration, parse_duration, parse_size};
pub use validate::{
    SchemaError, SchemaSource, StaticSchemas, TypeKind, validate, validate_schemas,
    validate_structure,
};
pub use vars::{
    ENV_SECRET_PREFIX, ENV_VAR_PREFIX, Lookup, MIN_REDACTED_LEN, REDACTED, Redactor, VarFiles,
    Vars, env_suffix,
};

/// A pipeline file after parsing and interpolation (stages 1–3), before validation.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The model; partial when `report` has errors.
    pub pipeline: Pipeline,
    /// What went wrong so far (with the file's text, for snippets).
    pub report: Report,
    /// Redacts the secret values of the vars used.
    pub redactor: Redactor,
}

/// The directory relative paths of pipeline `file` are resolved against: its parent, empty
/// for a bare file name (paths stay relative to the current directory).
pub fn pipeline_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Parses pipeline `file` whose text is `text`, filling `((var))` placeholders from `vars`.
/// Never fails: problems are in the returned report.
pub fn parse_str(file: &Path, text: &str, vars: &Vars) -> Parsed {
    let mut report = Report::new();
    report.add_source(file, text);
    let redactor = vars.redactor();
    let dir = pipeline_dir(file);
    let mut root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            report.push(Diagnostic::error(file, e.span, e.message));
            return Parsed {
                pipeline: Pipeline {
                    file: file.to_path_buf(),
                    dir,
                    ..Pipeline::default()
                },
                report,
                redactor,
            };
        }
    };
    // Fill placeholders everywhere but in `x-…` top-level keys (anchor definitions, already
    // copied where they are used).
    match &mut root.kind {
        yaml::Kind::Map(entries) => {
            for (key, node) in entries {
                if !key.name.starts_with("x-") {
                    vars::interpolate(node, vars, file, text, &mut report);
                }
            }
        }
        _ => vars::interpolate(&mut root, vars, file, text, &mut report),
    }
    let pipeline = parse::build(&root, file, &dir, &mut report);
    Parsed {
        pipeline,
        report,
        redactor,
    }
}

/// [`parse_str`] of the file's text; an unreadable file is an error in the report.
pub fn parse_file(file: &Path, vars: &Vars) -> Parsed {
    let read = std::fs::read(file).map_err(|e| {
        (
            Span::default(),
            format!("cannot read the pipeline file: {e}"),
        )
    });
    let text = read.and_then(|bytes| {
        String::from_utf8(bytes).map_err(|e| {
            // Point at the first byte that is not UTF-8, and say which.
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let before = &bytes[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
            (
                Span::new(line as u32, column as u32, line_start, 0),
                format!(
                    "the pipeline file is not UTF-8: byte {at} (0x{:02x}) at line {line}, column {column} is not valid UTF-8",
                    bytes[at]
                ),
            )
        })
    });
    match text {
        Ok(text) => parse_str(file, &text, vars),
        Err((span, message)) => {
            let mut report = Report::new();
            report.push(Diagnostic::error(file, span, message));
            Parsed {
                pipeline: Pipeline {
                    file: file.to_path_buf(),
                    dir: pipeline_dir(file),
                    ..Pipeline::default()
                },
                report,
                redactor: vars.redactor(),
            }
        }
    }
}

/// Parses the task file `file` (its text `text`; the `file:` of a `task` step, read from an
/// artifact when the task runs): the keys of a step's `config:`, container keys refused.
/// Relative `component` paths resolve against `dir`. No `((vars))` are filled in a task file.
/// Every problem is in the error, at its line and column of `file`.
pub fn parse_task_file(file: &Path, dir: &Path, text: &str) -> Result<TaskConfig, Report> {
    let mut report = Report::new();
    report.add_source(file, text);
    let config = match yaml::parse(text) {
        Ok(root) => parse::task_definition(&root, file, dir, &mut report),
        Err(e) => {
            report.push(Diagnostic::error(file, e.span, e.message));
            None
        }
    };
    match config {
        Some(c) if !report.has_errors() => Ok(c),
        _ => Err(report),
    }
}

/// Adds the diagnostics of the checks to the report of parsing; when parsing already found
/// errors, the checks' warnings (an unused resource, an environment without jobs) are left
/// out: they describe a model that is missing the parts that failed.
pub fn extend_with_checks(report: &mut Report, checks: Vec<Diagnostic>) {
    let partial = report.has_errors();
    report.extend(checks.into_iter().filter(|d| d.is_error() || !partial));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str, vars: &Vars) -> String {
        let parsed = parse_str(Path::new("p.yml"), text, vars);
        let mut report = parsed.report;
        extend_with_checks(&mut report, validate_structure(&parsed.pipeline));
        report.render_plain()
    }

    #[test]
    fn a_wrong_value_is_reported_once_not_again_by_later_stages() {
        let text = "\
environments: [dev]
resource_types:
  counter: {plugin: counter}
  other: {memory: 1GiB}
resources:
  - {name: r, type: counter}
  - {name: s, type: other}
jobs:
  - name: j
    environment: ((env))
    max_in_flight: ((n))
    plan: [{get: ((res))}, {get: s}]
";
        let mut vars = Vars::new();
        vars.set("n", 2);
        assert_eq!(
            errors(text, &vars),
            "\
p.yml:3:21: error: `counter` is neither a registry reference `name@version` nor a path to a `.wasm` file: write `counter@*` for the newest version in the registry, or `./counter.wasm`
p.yml:4:3: error: resource type `other` has no `plugin` (help: add `plugin: name@version` or `plugin: path/to/plugin.wasm`)
p.yml:10:18: error: undefined var `env` (help: define it in a --vars/--secrets file or in the environment variable LOCKGATE_VAR_ENV)
p.yml:12:18: error: undefined var `res` (help: define it in a --vars/--secrets file or in the environment variable LOCKGATE_VAR_RES)
"
        );
    }

    #[test]
    fn placeholders_in_x_keys_are_not_filled_but_their_aliases_are() {
        let text = "\
x-defaults: &plan [{get: ((res))}]
environments: [dev]
resource_types: {counter: ./c.wasm}
resources: [{name: r, type: counter}]
jobs: [{name: j, environment: dev, plan: *plan}]
";
        let mut vars = Vars::new();
        vars.set("res", "r");
        assert_eq!(errors(text, &vars), "");
        let text = text.replace(
            "&plan [{get: ((res))}]",
            "&plan [{get: r}]\nx-other: ((undefined))",
        );
        assert_eq!(errors(&text, &Vars::new()), "");
    }

    #[test]
    fn a_whole_string_var_keeps_its_type_in_the_model() {
        let text = "\
environments: [dev]
resource_types: {counter: ./c.wasm}
resources: [{name: r, type: counter, source: ((source))}]
jobs: [{name: j, environment: dev, max_in_flight: ((n)), serial: ((serial)), plan: [{get: r}]}]
";
        let mut vars = Vars::new();
        vars.set("n", 3).set("serial", false).set_secret(
            "source",
            serde_json::json!({"path": "/dirs/x", "token": "t0ps3cret"}),
        );
        let parsed = parse_str(Path::new("p.yml"), text, &vars);
        assert!(parsed.report.is_empty(), "{}", parsed.report);
        let p = &parsed.pipeline;
        assert_eq!(p.jobs[0].max_in_flight(), Some(3));
        assert_eq!(p.resources[0].source.value["token"], "t0ps3cret");
        assert_eq!(parsed.redactor.redact("t0ps3cret"), REDACTED);
    }
}
