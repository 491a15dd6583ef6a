//! The plan stage: a parsed pipeline, the plugin registry and the plugin host compiled into
//! a [`Plan`], what the scheduler and the runner execute (as Concourse compiles config into a
//! plan before anything runs).
//!
//! [`load`] parses and validates the file (`lockgate-config`), loads each plugin once
//! ([`plugins`]), and [`compile`]s: defaults applied, step ids assigned, the promotion graph
//! computed. Nothing after this stage sees a source position.

mod compile;
mod model;
mod plugins;
mod promotion;
mod task;

use std::path::Path;
use std::sync::Arc;

use lockgate_config::{
    Action, Diagnostic, Parsed, Pipeline, Redactor, Report, Vars, extend_with_checks, parse_file,
    validate,
};
use lockgate_model::ErrorReport;
use lockgate_plugin_host::PluginHost;
use lockgate_registry::Resolver;

pub use compile::compile;
pub use model::*;
pub use plugins::{LoadedPlugins, PluginLoadError};
pub use task::*;

/// A valid pipeline, compiled.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The pipeline as written (with positions, for messages about the file).
    pub pipeline: Pipeline,
    /// What runs.
    pub plan: Arc<Plan>,
    /// Warnings (unused resources, short secrets, ungranted directories); no errors.
    pub warnings: Report,
}

impl Loaded {
    /// Redacts secret values: apply it to every log line and API answer.
    pub fn redactor(&self) -> &Redactor {
        &self.plan.redactor
    }
}

/// Parses, interpolates and validates pipeline `file`, loading every plugin with `host`
/// (registry references are resolved by `resolver`, if given). Every problem of the file is
/// in the error; secret values are redacted from it.
pub async fn load(
    file: &Path,
    vars: &Vars,
    host: &PluginHost,
    resolver: Option<&Resolver>,
) -> Result<Loaded, Report> {
    let Parsed {
        pipeline,
        report,
        redactor,
    } = parse_file(file, vars);
    let plugins = LoadedPlugins::load(&pipeline, host, resolver).await;
    let mut report = report;
    extend_with_checks(&mut report, check_ca_files(&pipeline));
    extend_with_checks(&mut report, check_tasks(&pipeline, &plugins));
    finish(pipeline, report, redactor, &plugins)
}

/// Every `grants.ca_certs` file is a readable PEM file of CA certificates: an error at its
/// place in the pipeline otherwise, rather than at the first HTTPS request of a build.
fn check_ca_files(pipeline: &Pipeline) -> Vec<Diagnostic> {
    let resources = pipeline.resources.iter().map(|r| &r.grants);
    let tests = pipeline.jobs.iter().flat_map(|j| {
        j.steps().into_iter().filter_map(|s| match &s.action {
            Action::Test(t) => Some(&t.grants),
            Action::Task(t) => Some(&t.grants),
            _ => None,
        })
    });
    let mut seen = std::collections::BTreeSet::new();
    resources
        .chain(tests)
        .flat_map(|g| &g.ca_certs)
        .filter(|c| seen.insert((c.value.clone(), c.span.offset)))
        .filter_map(|c| {
            lockgate_plugin_host::tls::read_ca_file(&c.value)
                .err()
                .map(|e| Diagnostic::error(&pipeline.file, c.span, e.to_string()))
        })
        .collect()
}

/// Every `task` step's component is a task the host loaded: an error at its `component:`
/// otherwise (a missing file, a plugin, a core module), as plugins are checked at load.
fn check_tasks(pipeline: &Pipeline, plugins: &LoadedPlugins) -> Vec<Diagnostic> {
    let mut seen = std::collections::BTreeSet::new();
    pipeline
        .jobs
        .iter()
        .flat_map(|j| {
            j.tasks()
                .map(|(_, t)| &t.config.component)
                .collect::<Vec<_>>()
        })
        .filter(|c| seen.insert(c.span.offset))
        .filter_map(|c| {
            plugins
                .task_error(&c.value.to_string())
                .map(|e| Diagnostic::error(&pipeline.file, c.span, e.report().to_string()))
        })
        .collect()
}

/// [`load`] without loading any plugin: the plan of a command that only reads the state
/// (`status`, `why`, `builds`, …), which never runs a plugin. Nothing is compiled and no
/// registry is needed; the plugins' schemas are not checked. Its resources and test steps have
/// no plugin.
pub fn load_without_plugins(file: &Path, vars: &Vars) -> Result<Loaded, Report> {
    let Parsed {
        pipeline,
        report,
        redactor,
    } = parse_file(file, vars);
    finish(pipeline, report, redactor, &LoadedPlugins::none())
}

/// Validates `pipeline` against `plugins` and compiles its plan.
fn finish(
    pipeline: Pipeline,
    mut report: Report,
    redactor: Redactor,
    plugins: &LoadedPlugins,
) -> Result<Loaded, Report> {
    extend_with_checks(&mut report, validate(&pipeline, plugins));
    report.redact(&redactor);
    if report.has_errors() {
        return Err(report);
    }
    let plan = Arc::new(compile(&pipeline, plugins, redactor));
    Ok(Loaded {
        pipeline,
        plan,
        warnings: report,
    })
}
