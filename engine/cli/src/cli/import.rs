//! `lockgate import concourse PIPELINE.yml`: a Concourse pipeline as a Lockgate pipeline, and
//! a report of every construct not translated (`lockgate_import`, docs/import.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

/// `lockgate import …`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Write a Lockgate pipeline from a Concourse pipeline, and report at file:line:column
    /// every construct not translated (or translated into a placeholder to fill).
    Concourse(ConcourseArgs),
}

/// Arguments of `lockgate import concourse`.
#[derive(Debug, Args)]
pub struct ConcourseArgs {
    /// The Concourse pipeline file.
    #[arg(value_name = "PIPELINE.yml")]
    pub file: PathBuf,
    /// Where to write the Lockgate pipeline [default: stdout].
    #[arg(short, long, value_name = "OUT.yml")]
    pub output: Option<PathBuf>,
    /// Where to write the report [default: stderr].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Put the jobs of Concourse group GROUP in environment ENV (repeatable). Without it,
    /// groups named like dev…, staging…/stage…, prod… map to development, staging, production.
    #[arg(long = "environment", value_name = "GROUP=ENV", value_parser = group_env)]
    pub environments: Vec<(String, String)>,
}

fn group_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((g, e)) if !g.trim().is_empty() && !e.trim().is_empty() => {
            Ok((g.trim().to_owned(), e.trim().to_owned()))
        }
        _ => Err(format!(
            "`{s}` is not GROUP=ENV (e.g. `--environment qa=staging`)"
        )),
    }
}

pub(super) fn run(cmd: &ImportCommand) -> anyhow::Result<ExitCode> {
    let ImportCommand::Concourse(args) = cmd;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => anyhow::bail!(
            "{} is not UTF-8 (byte {} is not valid UTF-8)",
            args.file.display(),
            e.utf8_error().valid_up_to()
        ),
    };
    let options = lockgate_import::Options {
        environments: args.environments.clone(),
    };
    let imported = match lockgate_import::import_concourse(&args.file, &text, &options) {
        Ok(i) => i,
        Err(lockgate_import::ImportError::Malformed(items)) => {
            for item in &items {
                eprintln!("{item}");
            }
            eprintln!(
                "error: {} is not a Concourse pipeline Lockgate can import: nothing written",
                args.file.display()
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => anyhow::bail!(e),
    };
    let report = lockgate_import::render(&imported.report);
    match &args.output {
        Some(out) => std::fs::write(out, &imported.pipeline)
            .with_context(|| format!("cannot write {}", out.display()))?,
        None => print!("{}", imported.pipeline),
    }
    match &args.report {
        Some(path) => std::fs::write(path, &report)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => eprint!("{report}"),
    }
    let placeholders = imported.pipeline.matches("TODO(lockgate import):").count();
    eprintln!(
        "imported {}{}: {} construct(s) not translated as they were{}; {} placeholder(s) to fill (`TODO(lockgate import)`)",
        args.file.display(),
        args.output
            .as_ref()
            .map(|o| format!(" into {}", o.display()))
            .unwrap_or_default(),
        imported.report.len(),
        args.report
            .as_ref()
            .map(|r| format!(" (listed in {})", r.display()))
            .unwrap_or_default(),
        placeholders
    );
    Ok(ExitCode::SUCCESS)
}
