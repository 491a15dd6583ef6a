//! The `lockgate` command line: argument parsing and dispatch to one module per command group.
//!
//! The pipeline commands (`status`, `why`, `builds`, `logs`, `trigger`, `check`, `pin`,
//! `unpin`, `disable`, `enable`, `approve`, `rollback`, `nodes`) are written once against a
//! [`backend::Backend`]: the local state ([`local`]), or with `--server URL` a running
//! `lockgate server` ([`remote`]). `run`, `server`, `validate`, `import` and `plugin` work on
//! local files only.

mod backend;
mod builds;
mod environments;
mod import;
mod local;
mod logs;
mod nodes;
mod pipeline;
mod plugin;
mod registry;
mod remote;
mod resources;
mod status;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use backend::Backend;
use lockgate_plugin_host::{HostConfig, PluginHost, default_cache_dir};

/// Lockgate walks every upstream change through development, staging and production, running
/// each step in a WebAssembly sandbox.
#[derive(Debug, Parser)]
#[command(name = "lockgate", version, about, long_about = None)]
pub struct Cli {
    /// Directory of the compiled-plugin cache [default: $LOCKGATE_CACHE_DIR, else
    /// ~/.cache/lockgate/compiled].
    #[arg(long, global = true, value_name = "DIR", env = "LOCKGATE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile plugins on every load instead of using the compiled-plugin cache.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// More log output (-v info, -vv debug, -vvv trace); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Run the command against a running `lockgate server` (its HTTP API,
    /// `http(s)://HOST:PORT[/PREFIX]`) instead of a local pipeline: status, builds, logs,
    /// trigger, check, pin, unpin, disable, enable, approve, rollback, why, nodes.
    #[arg(long, global = true, value_name = "URL", env = "LOCKGATE_SERVER")]
    pub server: Option<String>,

    /// Bearer token for `--server` (see docs/api.md). Prefer the environment variable: a
    /// command line is visible to other users (`ps`).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "LOCKGATE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// A PEM file of CA certificates to trust for HTTPS besides the system's roots: in the
    /// requests of every plugin, and in those to `--server`. Repeatable; the environment
    /// variable takes paths separated by `:`.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "LOCKGATE_CA_CERT",
        value_delimiter = ':'
    )]
    pub ca_cert: Vec<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Ids of the arguments typed on the command line (not taken from the environment or a
    /// default), filled by [`Cli::parse_args`].
    #[arg(skip)]
    pub typed: Vec<String>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and exercise plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Check a pipeline file: every problem at file:line:column; exit code 0 only when valid.
    Validate(validate::ValidateArgs),
    /// Write a Lockgate pipeline from another system's pipeline (`concourse`), with a report of
    /// what was not translated.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Check every resource, run builds until nothing more can progress, then show where each
    /// environment stands. Exit code 1 if a build or a check failed.
    Run {
        /// The pipeline file.
        #[command(flatten)]
        file: pipeline::PipelineFile,
        /// Where the pipeline's state is, vars, registry.
        #[command(flatten)]
        args: pipeline::StateArgs,
    },
    /// Run the pipeline continuously: checks at `check_every`, builds as versions arrive; serves
    /// the web dashboard and the HTTP API.
    Server {
        /// The pipeline file.
        #[command(flatten)]
        file: pipeline::PipelineFile,
        /// Address of the web dashboard (`/`, see docs/dashboard.md) and the HTTP API
        /// (`/api/v1`, see docs/api.md).
        #[arg(
            long,
            value_name = "ADDR",
            default_value = "127.0.0.1:7080",
            env = "LOCKGATE_LISTEN"
        )]
        listen: std::net::SocketAddr,
        /// API bearer tokens: a YAML or TOML file listing `{name, token, role}` (role `viewer`,
        /// `operator` or `approver`; a token may be given as `sha256:<hex>`). Without it the
        /// API is read-only (resource webhooks aside).
        #[arg(long, value_name = "FILE", env = "LOCKGATE_TOKENS")]
        tokens: Option<PathBuf>,
        /// Reads of the API need a token too (any role).
        #[arg(long)]
        protect_reads: bool,
        /// Only run builds: never become the scheduler (other nodes on the same PostgreSQL
        /// store check and schedule).
        #[arg(long)]
        worker_only: bool,
        /// Builds this node runs at once [default: two per core].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max_builds: Option<u32>,
        /// Where the pipeline's state is, vars, registry.
        #[command(flatten)]
        args: pipeline::StateArgs,
    },
    /// The engine nodes serving the pipeline's store: role, capacity, running builds, last
    /// heartbeat, and which one is the scheduler.
    Nodes {
        /// The pipeline file, as an argument (or `-p`).
        #[arg(value_name = "PIPELINE")]
        file: Option<PathBuf>,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where each environment stands, and the last build of every job.
    Status {
        /// The pipeline file, as an argument (or `-p`).
        #[arg(value_name = "PIPELINE")]
        file: Option<PathBuf>,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The newest builds, of every job or of one.
    Builds {
        /// The pipeline file, as an argument (or `-p`).
        #[arg(value_name = "PIPELINE")]
        file: Option<PathBuf>,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON (with the node that ran each build).
        #[arg(long)]
        json: bool,
    },
    /// The log of a build (by id, or JOB/NUMBER).
    Logs {
        /// Build id or JOB/NUMBER.
        build: String,
        /// Keep printing until the build finishes.
        #[arg(short, long)]
        follow: bool,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Queue a build of a job with its newest inputs.
    Trigger {
        /// The job.
        job: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Check a resource for new versions now.
    Check {
        /// The resource.
        resource: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Pin a resource to one version (JSON, or name=value,…): jobs get only that version.
    Pin {
        /// The resource.
        resource: String,
        /// The version.
        version: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Remove a resource's pin.
    Unpin {
        /// The resource.
        resource: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Disable a version of a resource (withdrawn upstream, known bad): no job gets it again.
    Disable {
        /// The resource.
        resource: String,
        /// The version (JSON, or name=value,…).
        version: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Enable a disabled version again.
    Enable {
        /// The resource.
        resource: String,
        /// The version (JSON, or name=value,…).
        version: String,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Approve a candidate for an environment that requires approval (default: the candidate
    /// waiting at its gate).
    Approve {
        /// The environment.
        environment: String,
        /// The candidate id (see `lockgate why`).
        candidate: Option<i64>,
        /// Who approves: recorded with the approval (required locally; with `--server` the
        /// token's name is recorded instead).
        #[arg(long = "as", value_name = "NAME")]
        approver: Option<String>,
        /// A comment recorded with the approval.
        #[arg(long)]
        comment: Option<String>,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// Re-deploy the last qualified candidate of an environment before the current one.
    Rollback {
        /// The environment.
        environment: String,
        /// Who asks: recorded with the rollback [default: cli] (with `--server`, the token's
        /// name is).
        #[arg(long = "as", value_name = "NAME")]
        by: Option<String>,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
    /// What blocks the newest candidate from entering an environment.
    Why {
        /// The environment.
        environment: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The pipeline.
        #[command(flatten)]
        args: pipeline::PipelineArgs,
    },
}

impl Cli {
    /// The plugin host these arguments ask for.
    pub fn host(&self) -> anyhow::Result<PluginHost> {
        let cache_dir = match (self.no_cache, &self.cache_dir) {
            (true, _) => None,
            (false, Some(dir)) => Some(dir.clone()),
            (false, None) => Some(default_cache_dir()),
        };
        Ok(PluginHost::new(HostConfig {
            cache_dir,
            ca_certificates: self.ca_cert.clone(),
            ..HostConfig::default()
        })?)
    }
}

impl Command {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plugin(_) => "plugin",
            Command::Validate(_) => "validate",
            Command::Import(_) => "import",
            Command::Run { .. } => "run",
            Command::Server { .. } => "server",
            Command::Nodes { .. } => "nodes",
            Command::Status { .. } => "status",
            Command::Builds { .. } => "builds",
            Command::Logs { .. } => "logs",
            Command::Trigger { .. } => "trigger",
            Command::Check { .. } => "check",
            Command::Pin { .. } => "pin",
            Command::Unpin { .. } => "unpin",
            Command::Disable { .. } => "disable",
            Command::Enable { .. } => "enable",
            Command::Approve { .. } => "approve",
            Command::Rollback { .. } => "rollback",
            Command::Why { .. } => "why",
        }
    }

    /// The pipeline a pipeline command names (`None` for `run`, `server`, `validate` and
    /// `plugin`, which take theirs otherwise).
    fn pipeline_args(&self) -> Option<&pipeline::PipelineArgs> {
        match self {
            Command::Plugin(_)
            | Command::Validate(_)
            | Command::Import(_)
            | Command::Run { .. }
            | Command::Server { .. } => None,
            Command::Nodes { args, .. }
            | Command::Status { args, .. }
            | Command::Builds { args, .. }
            | Command::Logs { args, .. }
            | Command::Trigger { args, .. }
            | Command::Check { args, .. }
            | Command::Pin { args, .. }
            | Command::Unpin { args, .. }
            | Command::Disable { args, .. }
            | Command::Enable { args, .. }
            | Command::Approve { args, .. }
            | Command::Rollback { args, .. }
            | Command::Why { args, .. } => Some(args),
        }
    }

    /// Whether it can run against a server (`--server`).
    pub fn runs_remotely(&self) -> bool {
        !matches!(
            self,
            Command::Plugin(_)
                | Command::Validate(_)
                | Command::Import(_)
                | Command::Run { .. }
                | Command::Server { .. }
        )
    }
}

/// Options of the local pipeline and its state: `(argument id, flag)`.
const LOCAL_OPTIONS: &[(&str, &str)] = &[
    ("pipeline", "-p/--pipeline"),
    ("file", "a pipeline file argument"),
    ("state", "--state"),
    ("vars", "--vars"),
    ("secrets", "--secrets"),
    ("registry", "--registry"),
    ("locked", "--locked"),
    ("keep_logs", "--keep-logs"),
];

impl Cli {
    /// Parses `args` (the program name first), exiting with clap's message on a usage error,
    /// and records which arguments were typed (see [`Cli::typed`]).
    pub fn parse_args<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().get_matches_from(args);
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let typed = |m: &clap::ArgMatches| -> Vec<String> {
            m.ids()
                .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                .map(|id| id.as_str().to_owned())
                .collect()
        };
        cli.typed = typed(&matches);
        if let Some((_, sub)) = matches.subcommand() {
            cli.typed.extend(typed(sub));
        }
        cli
    }

    /// Which of the arguments `ids` (top level or of the subcommand) were typed on the
    /// command line.
    pub(crate) fn given_on_command_line(&self, ids: &[&str]) -> Vec<String> {
        ids.iter()
            .filter(|id| self.typed.iter().any(|t| t == *id))
            .map(|id| (*id).to_owned())
            .collect()
    }
}

/// Runs the parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(url) = cli.server.as_deref().filter(|u| !u.trim().is_empty()) {
        let url_given = !cli.given_on_command_line(&["server"]).is_empty();
        if cli.command.runs_remotely() {
            let ids: Vec<&str> = LOCAL_OPTIONS.iter().map(|(id, _)| *id).collect();
            let local = cli.given_on_command_line(&ids);
            if !local.is_empty() {
                let flags: Vec<&str> = LOCAL_OPTIONS
                    .iter()
                    .filter(|(id, _)| local.iter().any(|l| l == id))
                    .map(|(_, flag)| *flag)
                    .collect();
                anyhow::bail!(
                    "{} {} a local pipeline or state, but with --server ({url}) `lockgate {}` asks the server, which uses its own: drop {}",
                    flags.join(", "),
                    if flags.len() == 1 { "names" } else { "name" },
                    cli.command.name(),
                    if flags.len() == 1 { "it" } else { "them" }
                );
            }
            let backend = remote::Remote::new(url, cli.token.as_deref(), &cli.ca_cert)?;
            return pipeline_command(&backend, &cli.command).await;
        }
        // A server from the environment (LOCKGATE_SERVER) does not stop local-only commands.
        if url_given {
            anyhow::bail!(
                "`lockgate {}` cannot run against a server: it works on local files; drop --server (with it, status, builds, logs, trigger, check, pin, unpin, disable, enable, approve, rollback, why and nodes ask a running `lockgate server`)",
                cli.command.name()
            );
        }
    } else if !cli.given_on_command_line(&["token"]).is_empty() {
        anyhow::bail!(
            "--token is sent to a server: give --server URL (or LOCKGATE_SERVER) too, or drop it"
        );
    }
    match &cli.command {
        Command::Plugin(cmd) => plugin::run(&cli, cmd).await,
        Command::Validate(args) => validate::run(&cli, args).await,
        Command::Import(cmd) => import::run(cmd),
        Command::Run { file, args } => {
            let args = pipeline::PipelineArgs {
                pipeline: file.path(),
                opts: args.clone(),
            };
            pipeline::run(&cli, &args, cli.verbose > 0).await
        }
        Command::Server {
            file,
            listen,
            tokens,
            protect_reads,
            worker_only,
            max_builds,
            args,
        } => {
            let args = pipeline::PipelineArgs {
                pipeline: file.path(),
                opts: args.clone(),
            };
            let mut node = lockgate_engine::scheduler::NodeOptions {
                worker_only: *worker_only,
                ..Default::default()
            };
            if let Some(n) = max_builds {
                node.max_builds = *n as usize;
            }
            let api = match tokens {
                Some(path) => lockgate_api::ApiConfig::load(path, *protect_reads)?,
                None if *protect_reads => anyhow::bail!(
                    "--protect-reads needs --tokens FILE: nobody could read the API otherwise"
                ),
                None => lockgate_api::ApiConfig::open(),
            };
            pipeline::server(&cli, &args, *listen, node, api).await
        }
        command => match command.pipeline_args() {
            Some(args) => {
                let mut args = args.clone();
                if let Command::Nodes { file: Some(f), .. }
                | Command::Status { file: Some(f), .. }
                | Command::Builds { file: Some(f), .. } = command
                {
                    if cli.typed.iter().any(|t| t == "pipeline") {
                        anyhow::bail!(
                            "the pipeline is given twice: as the argument `{}` and with -p; give it once",
                            f.display()
                        );
                    }
                    args.pipeline = f.clone();
                }
                pipeline_command(&local::Local::new(&cli, &args), command).await
            }
            None => anyhow::bail!("`lockgate {}` is not a pipeline command", command.name()),
        },
    }
}

/// Runs a pipeline command against `backend`.
async fn pipeline_command(backend: &impl Backend, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Status { json, .. } => status::status(backend, *json).await,
        Command::Why {
            environment, json, ..
        } => status::why(backend, environment, *json).await,
        Command::Builds {
            job, limit, json, ..
        } => builds::builds(backend, job.as_deref(), *limit, *json).await,
        Command::Trigger { job, .. } => builds::trigger(backend, job).await,
        Command::Logs { build, follow, .. } => logs::logs(backend, build, *follow).await,
        Command::Check { resource, .. } => resources::check(backend, resource).await,
        Command::Pin {
            resource, version, ..
        } => resources::pin(backend, resource, version).await,
        Command::Unpin { resource, .. } => resources::unpin(backend, resource).await,
        Command::Disable {
            resource, version, ..
        } => resources::set_disabled(backend, resource, version, true).await,
        Command::Enable {
            resource, version, ..
        } => resources::set_disabled(backend, resource, version, false).await,
        Command::Approve {
            environment,
            candidate,
            approver,
            comment,
            ..
        } => {
            environments::approve(
                backend,
                environment,
                *candidate,
                approver.as_deref(),
                comment.as_deref(),
            )
            .await
        }
        Command::Rollback {
            environment, by, ..
        } => environments::rollback(backend, environment, by.as_deref()).await,
        Command::Nodes { json, .. } => nodes::nodes(backend, *json).await,
        Command::Plugin(_)
        | Command::Validate(_)
        | Command::Import(_)
        | Command::Run { .. }
        | Command::Server { .. } => {
            anyhow::bail!("`lockgate {}` cannot run against a server", command.name())
        }
    }
}
