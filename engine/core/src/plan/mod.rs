//! The plan stage: a parsed pipeline, the plugin registry and the plugin host compiled into
//! what the scheduler and the runner execute.

mod plugins;

use std::path::Path;

use lockgate_config::{
    Parsed, Pipeline, Redactor, Report, Vars, extend_with_checks, parse_file, validate,
};
use lockgate_plugin_host::PluginHost;
use lockgate_registry::Resolver;

pub use plugins::LoadedPlugins;

/// A valid pipeline with its plugins loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The plugin of every resource type and test type.
    pub plugins: LoadedPlugins,
    /// Redacts secret values: apply it to every log line and API answer.
    pub redactor: Redactor,
    /// Warnings (unused resources, short secrets, ungranted directories); no errors.
    pub warnings: Report,
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
        mut report,
        redactor,
    } = parse_file(file, vars);
    let plugins = LoadedPlugins::load(&pipeline, host, resolver).await;
    extend_with_checks(&mut report, validate(&pipeline, &plugins));
    report.redact(&redactor);
    if report.has_errors() {
        return Err(report);
    }
    Ok(Loaded {
        pipeline,
        plugins,
        redactor,
        warnings: report,
    })
}
