//! `lockgate plugin …`: look inside a plugin component, call its operations by hand, start a
//! new plugin project, and manage the plugin registry (in `registry.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Cli;
use super::registry::RegistryArg;
use crate::scaffold::{self, Language};
use lockgate_plugin_host::{
    CaseStatus, Description, Grants, Invocation, Limits, LogLine, LogSink, LogSource, Plugin,
    Version,
};

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a plugin's world, name, version, schemas and requested capabilities.
    Inspect {
        /// A component file (`.wasm`), or NAME@VERSION in the registry.
        target: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The registry (for NAME@VERSION).
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Validate a component and publish it to the registry as the name and version its
    /// `describe` returns (a plugin), or as `--task NAME@VERSION` (a task: any program built
    /// for wasm32-wasip2). Re-publishing the same bytes is a no-op; other bytes are refused.
    Publish {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Publish a task component (the `wasi:cli/command` world, which has no `describe`)
        /// under this name and version, e.g. `render@1.0.0`.
        #[arg(long, value_name = "NAME@VERSION")]
        task: Option<String>,
        /// One line saying what the task does (with --task; a plugin's comes from `describe`).
        #[arg(long, requires = "task")]
        summary: Option<String>,
        /// SPDX license expression recorded in plugin.toml.
        #[arg(long)]
        license: Option<String>,
        /// The registry.
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// List the plugins of the registry (yanked versions only with --all).
    List {
        /// Include yanked versions.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The registry.
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Re-check the digest of every version in the registry, and its index.
    Verify {
        /// Rewrite index.json from the manifests when it is out of date.
        #[arg(long)]
        reindex: bool,
        /// The registry.
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Yank NAME@VERSION: lockfiles that pin it keep it, new resolutions skip it.
    Yank {
        /// NAME@VERSION (one exact version).
        spec: String,
        /// Why (recorded in plugin.toml and shown to pipelines that still pin it).
        #[arg(long, default_value = "")]
        reason: String,
        /// Un-yank instead.
        #[arg(long)]
        undo: bool,
        /// The registry.
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Re-resolve a pipeline's registry plugins (all, or those named) to the newest matching
    /// versions and rewrite its lockgate.lock.
    Update {
        /// Only these plugins.
        names: Vec<String>,
        /// The pipeline (its vars, registry).
        #[command(flatten)]
        args: super::pipeline::PipelineArgs,
    },
    /// Write a new plugin or task project: sources, WIT contract (plugins), build script and
    /// README.
    New {
        /// Plugin or task name (lowercase letters, digits, `-`, `_`).
        name: String,
        /// Language.
        #[arg(long, value_enum)]
        lang: Language,
        /// What the project is.
        #[arg(long, value_enum)]
        kind: scaffold::Kind,
        /// Directory to create [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Write the WASI preview1 reactor adapter matching this engine (to turn a wasip1 module
    /// from C, Go or Zig into a component with `wasm-tools component new --adapt`).
    Adapter {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The command adapter instead (for a task: exports `wasi:cli/run`, calls `_start`).
        #[arg(long)]
        command: bool,
    },
    /// Call one operation of a plugin in a sandbox with the grants given on the command line,
    /// printing its log to stderr and its result as JSON on stdout.
    Call(Box<CallArgs>),
}

/// Arguments of `lockgate plugin call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The plugin component (`.wasm`).
    pub file: PathBuf,
    /// The operation.
    #[arg(value_enum)]
    pub op: CallOp,
    /// `source` (resource types), as JSON; `@FILE` reads a file, `@-` stdin.
    #[arg(long, default_value = "{}")]
    pub source: String,
    /// `params` (get, put) or `config` (run), as JSON; `@FILE` reads a file, `@-` stdin.
    #[arg(long, alias = "config", default_value = "{}")]
    pub params: String,
    /// The version for `get`, or `from` for `check`, as a JSON object of strings.
    #[arg(long)]
    pub version: Option<String>,
    /// Grant a read-only input: NAME=DIR, seen at /inputs/NAME.
    #[arg(long = "input", value_name = "NAME=DIR")]
    pub inputs: Vec<String>,
    /// Grant a directory: NAME=DIR (read-only) or NAME=DIR:rw, seen at /dirs/NAME.
    #[arg(long = "dir", value_name = "NAME=DIR[:rw]")]
    pub dirs: Vec<String>,
    /// Grant the output directory (get), seen at /output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Grant the cache directory, seen at /cache.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Grant an environment variable: NAME=VALUE.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Grant network access to HOST:PORT.
    #[arg(long = "allow-host", value_name = "HOST:PORT")]
    pub network: Vec<String>,
    /// Deadline in seconds (default: the operation's default).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Memory cap in MiB (default 256).
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,
}

/// Operations `lockgate plugin call` can invoke.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CallOp {
    /// `describe`.
    Describe,
    /// `check`.
    Check,
    /// `get`.
    Get,
    /// `put`.
    Put,
    /// A test step's `run`.
    Run,
}

pub(super) async fn run(cli: &Cli, cmd: &PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Inspect {
            target,
            json,
            registry,
        } => {
            let file = if Path::new(target).exists()
                || target.ends_with(".wasm")
                || target.contains('/')
                || !target.contains('@')
            {
                PathBuf::from(target)
            } else {
                let (file, is_task) = super::registry::inspect_entry(registry, target)?;
                if is_task {
                    let task = cli.host()?.load_task(&file).await?;
                    println!(
                        "task:      a program of the wasi:cli/command world ({})",
                        task.path().display()
                    );
                    println!("use it:    task: <name>, config: {{component: {target}, ...}}");
                    return Ok(ExitCode::SUCCESS);
                }
                file
            };
            let plugin = cli.host()?.load(&file).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&inspect_json(&plugin))?);
            } else {
                print!("{}", inspect_text(&plugin));
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Call(args) => call(cli, args).await,
        PluginCommand::Publish {
            file,
            task: Some(task),
            summary,
            license,
            registry,
        } => {
            super::registry::publish_task(cli, file, registry, task, summary, license.clone()).await
        }
        PluginCommand::Publish {
            file,
            task: None,
            license,
            registry,
            ..
        } => super::registry::publish(cli, file, registry, license.clone()).await,
        PluginCommand::List {
            all,
            json,
            registry,
        } => super::registry::list(registry, *all, *json),
        PluginCommand::Verify { reindex, registry } => super::registry::verify(registry, *reindex),
        PluginCommand::Yank {
            spec,
            reason,
            undo,
            registry,
        } => super::registry::yank(registry, spec, reason, *undo),
        PluginCommand::Update { names, args } => super::registry::update(cli, args, names).await,
        PluginCommand::New {
            name,
            lang,
            kind,
            dir,
        } => {
            let dir = dir.clone().unwrap_or_else(|| PathBuf::from(name));
            let files = scaffold::create(name, *lang, *kind, &dir)?;
            println!(
                "created {lang} {kind} `{name}` in {} ({} files)",
                dir.display(),
                files.len()
            );
            println!("next: cd {} && ./build.sh   (see README.md)", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Adapter { out, command } => {
            let adapter = if *command {
                scaffold::preview1_command_adapter()
            } else {
                scaffold::preview1_adapter()
            };
            std::fs::write(out, adapter)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn inspect_json(plugin: &Plugin) -> serde_json::Value {
    let d = plugin.description();
    serde_json::json!({
        "file": plugin.path(),
        "sha256": plugin.digest(),
        "world": d.kind.world(),
        "contract": format!("lockgate:plugin@{}", lockgate_plugin_host::CONTRACT_VERSION),
        "name": d.name,
        "version": d.version,
        "summary": d.summary,
        "schemas": {
            "source": d.source_schema,
            "get_params": d.get_params_schema,
            "put_params": d.put_params_schema,
            "config": d.config_schema,
        },
        "capabilities": d.capabilities,
    })
}

/// The human-readable report of `plugin inspect`.
pub fn inspect_text(plugin: &Plugin) -> String {
    use std::fmt::Write;
    let d: &Description = plugin.description();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", d.name, d.version);
    if !d.summary.is_empty() {
        let _ = writeln!(out, "  {}", d.summary);
    }
    let _ = writeln!(
        out,
        "world:     {} (lockgate:plugin@{})",
        d.kind.world(),
        lockgate_plugin_host::CONTRACT_VERSION
    );
    let _ = writeln!(out, "file:      {}", plugin.path().display());
    let _ = writeln!(out, "sha256:    {}", plugin.digest());
    let caps = &d.capabilities;
    let _ = writeln!(out, "capabilities:");
    if caps.network.is_empty() && caps.env.is_empty() && caps.dirs.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for n in &caps.network {
        let host = if n.port == 0 {
            n.host.clone()
        } else {
            format!("{}:{}", n.host, n.port)
        };
        let _ = writeln!(out, "  network   {host}  {}", n.reason);
    }
    for e in &caps.env {
        let _ = writeln!(out, "  env       {e}");
    }
    for dir in &caps.dirs {
        let _ = writeln!(out, "  dir       /dirs/{dir}");
    }
    for (what, schema) in [
        ("source", &d.source_schema),
        ("get params", &d.get_params_schema),
        ("put params", &d.put_params_schema),
        ("config", &d.config_schema),
    ] {
        if let Some(schema) = schema {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = writeln!(out, "{what} schema:");
            for line in pretty.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

/// Prints plugin log lines to stderr as they arrive.
struct StderrSink;

impl LogSink for StderrSink {
    fn line(&self, line: LogLine) {
        let tag = match line.source {
            LogSource::Plugin(level) => level.to_string(),
            LogSource::Stdout => "stdout".into(),
            LogSource::Stderr => "stderr".into(),
            LogSource::Engine => "lockgate".into(),
        };
        eprintln!("[{tag}] {}", line.message);
    }
}

fn split_pair<'a>(flag: &str, s: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    s.split_once('=')
        .with_context(|| format!("--{flag} `{s}`: expected NAME=VALUE"))
}

/// Parses a JSON flag value; `@FILE` reads it from a file and `@-` from stdin.
fn parse_json(flag: &str, s: &str) -> anyhow::Result<serde_json::Value> {
    let (text, origin) = match s.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .with_context(|| format!("--{flag} @-: cannot read stdin"))?;
            (text, "stdin".to_owned())
        }
        Some(file) => (
            std::fs::read_to_string(file)
                .with_context(|| format!("--{flag} @{file}: cannot read the file"))?,
            file.to_owned(),
        ),
        None => (s.to_owned(), "the value".to_owned()),
    };
    serde_json::from_str(&text).with_context(|| format!("--{flag}: {origin} is not valid JSON"))
}

async fn call(cli: &Cli, args: &CallArgs) -> anyhow::Result<ExitCode> {
    let mut grants = Grants::none();
    for input in &args.inputs {
        let (name, dir) = split_pair("input", input)?;
        grants = grants.input(name, dir);
    }
    for d in &args.dirs {
        let (name, dir) = split_pair("dir", d)?;
        let (dir, writable) = match dir.strip_suffix(":rw") {
            Some(dir) => (dir, true),
            None => (dir.strip_suffix(":ro").unwrap_or(dir), false),
        };
        grants = grants.dir(name, dir, writable);
    }
    grants.output = args.output.clone();
    grants.cache = args.cache.clone();
    for e in &args.env {
        let (name, value) = split_pair("env", e)?;
        grants = grants.env(name, value);
    }
    for n in &args.network {
        grants = grants.network(n.parse()?);
    }
    let mut limits = Limits::default();
    if let Some(secs) = args.timeout {
        anyhow::ensure!(
            secs.is_finite() && secs > 0.0,
            "--timeout must be a positive number of seconds"
        );
        limits = limits.with_deadline(Duration::from_secs_f64(secs));
    }
    if let Some(mib) = args.memory {
        limits = limits.with_memory(mib * 1024 * 1024);
    }
    let source = parse_json("source", &args.source)?;
    let params = parse_json("params", &args.params)?;
    let version: Option<Version> = args
        .version
        .as_deref()
        .map(|v| serde_json::from_str(v).context("--version must be a JSON object of strings"))
        .transpose()?;

    let plugin = cli.host()?.load(&args.file).await?;
    let inv = Invocation::new(grants)
        .limits(limits)
        .log(Arc::new(StderrSink));
    let (result, ok) = match args.op {
        CallOp::Describe => (serde_json::to_value(plugin.describe(&inv).await?)?, true),
        CallOp::Check => (
            serde_json::to_value(plugin.check(&inv, &source, version.as_ref()).await?)?,
            true,
        ),
        CallOp::Get => {
            let version = version.context("`get` needs --version")?;
            (
                serde_json::to_value(plugin.get(&inv, &source, &version, &params).await?)?,
                true,
            )
        }
        CallOp::Put => (
            serde_json::to_value(plugin.put(&inv, &source, &params).await?)?,
            true,
        ),
        CallOp::Run => {
            let report = plugin.run(&inv, &params).await?;
            let ok = report.passed();
            eprintln!(
                "{} passed, {} failed, {} errored, {} skipped",
                report.count(CaseStatus::Passed),
                report.count(CaseStatus::Failed),
                report.count(CaseStatus::Errored),
                report.count(CaseStatus::Skipped)
            );
            (serde_json::to_value(report)?, ok)
        }
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
