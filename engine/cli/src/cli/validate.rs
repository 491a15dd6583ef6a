//! `lockgate validate PIPELINE`: parse, interpolate and check a pipeline, loading its plugins
//! with the real host; every problem at `file:line:column`, exit code 0 only when valid.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::Cli;
use lockgate_config::{Report, VarFiles};
use lockgate_engine::plan;
use lockgate_registry::LockMode;

/// Arguments of `lockgate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline file.
    #[command(flatten)]
    pub pipeline: super::pipeline::PipelineFile,
    /// A YAML file mapping var names to values for `((var))` placeholders; may be repeated,
    /// a later file overriding an earlier one. `LOCKGATE_VAR_<NAME>` variables override files.
    #[arg(long = "vars", value_name = "FILE")]
    pub vars: Vec<PathBuf>,
    /// Like `--vars`, but the values are secret: redacted from every output.
    /// `LOCKGATE_SECRET_<NAME>` variables override files.
    #[arg(long = "secrets", value_name = "FILE")]
    pub secrets: Vec<PathBuf>,
    /// How to print problems: `human` (snippets) or `plain` (`file:line:column: error: …`,
    /// one per line).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Where `plugin: name@version` references are resolved (through `lockgate.lock`
    /// beside the pipeline, which `validate` reads but never writes).
    #[command(flatten)]
    pub registry: super::registry::RegistryArg,
}

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style, with the offending line and a help text.
    Human,
    /// `file:line:column: error: message (help: …)`, one per line.
    Plain,
}

pub(super) async fn run(cli: &Cli, args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let files = VarFiles {
        vars: args.vars.clone(),
        secrets: args.secrets.clone(),
    };
    let vars = match files.load() {
        Ok(vars) => vars,
        Err(report) => {
            print_report(&report, args.format);
            return Ok(ExitCode::from(1));
        }
    };
    let host = cli.host()?;
    let pipeline = args.pipeline.path();
    let resolver = args.registry.resolver(&pipeline, LockMode::ReadOnly)?;
    match plan::load(&pipeline, &vars, &host, Some(&resolver)).await {
        Ok(loaded) => {
            print_report(&loaded.warnings, args.format);
            for note in resolver.take_notes() {
                eprintln!("warning: {note}");
            }
            let p = &loaded.pipeline;
            // Shared resources serve every environment unpromoted: named, since that changes
            // what the no-skip rule checks.
            let shared: Vec<&str> = p
                .resources
                .iter()
                .filter(|r| r.shared)
                .map(|r| r.name.as_str())
                .collect();
            let shared = if shared.is_empty() {
                String::new()
            } else {
                format!(" ({} shared: {})", shared.len(), shared.join(", "))
            };
            println!(
                "pipeline is valid: {}{shared}, {}, {}",
                count(p.resources.len(), "resource"),
                count(p.jobs.len(), "job"),
                count(p.environments.len(), "environment")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            print_report(&report, args.format);
            Ok(ExitCode::from(1))
        }
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Prints diagnostics to stderr; the human form ends with a count of errors.
fn print_report(report: &Report, format: Format) {
    if report.is_empty() {
        return;
    }
    match format {
        Format::Plain => eprint!("{}", report.render_plain()),
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", report.render_human(color));
            let (errors, warnings) = (report.error_count(), report.warning_count());
            if errors > 0 {
                eprintln!(
                    "error: the pipeline is invalid: {}{}",
                    count(errors, "error"),
                    if warnings > 0 {
                        format!(", {}", count(warnings, "warning"))
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
}
