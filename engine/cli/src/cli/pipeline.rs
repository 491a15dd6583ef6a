//! Running a pipeline: `run` and `server` (local only), and the arguments that name a
//! pipeline and its state, shared by every pipeline command.
//!
//! The state is `--state` (default `.lockgate/state.db` beside the pipeline file); SQLite in
//! WAL mode lets other commands read it while a server runs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;

use super::Cli;
use super::status::print_environment;
use lockgate_api::service;
use lockgate_config::{self as config, Vars};
use lockgate_engine::plan;
use lockgate_engine::runner::{BuildEvent, BuildObserver, Outcome, Runner};
use lockgate_engine::scheduler::Scheduler;
use lockgate_registry::{LockMode, Resolver};
use lockgate_store::{BuildStatus, Store, default_sqlite_path};

/// Where a pipeline's state, vars and plugins are (shared by every pipeline command).
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// A YAML file of `((var))` values (repeatable).
    #[arg(long = "vars", value_name = "FILE")]
    pub vars: Vec<PathBuf>,
    /// A YAML file of secret `((var))` values, redacted from logs and answers (repeatable).
    #[arg(long = "secrets", value_name = "FILE")]
    pub secrets: Vec<PathBuf>,
    /// State store: a SQLite file or a `postgres://` URL (`?schema=NAME` keeps the tables in
    /// that schema) [default: $LOCKGATE_DATABASE_URL, else .lockgate/state.db beside the
    /// pipeline].
    #[arg(long, value_name = "PATH|URL", env = "LOCKGATE_STATE")]
    pub state: Option<String>,
    /// Where `plugin: name@version` references are resolved.
    #[command(flatten)]
    pub registry: super::registry::RegistryArg,
    /// Use `lockgate.lock` as it is: a registry plugin it does not pin is an error.
    #[arg(long)]
    pub locked: bool,
    /// Keep the logs of this many newest builds per job (0: keep all).
    #[arg(long, value_name = "BUILDS", default_value_t = 100)]
    pub keep_logs: u32,
}

/// The pipeline file of `run`, `server` and `validate`: an argument, or `-p` as every other
/// command takes it.
#[derive(Debug, Clone, Args)]
pub struct PipelineFile {
    /// The pipeline file [default: $LOCKGATE_PIPELINE, else pipeline.yml].
    #[arg(value_name = "PIPELINE", conflicts_with = "pipeline_flag")]
    file: Option<PathBuf>,
    /// The pipeline file, as the other commands take it.
    #[arg(
        short = 'p',
        long = "pipeline",
        id = "pipeline_flag",
        value_name = "FILE"
    )]
    flag: Option<PathBuf>,
}

impl PipelineFile {
    /// The file: the argument, else `-p`, else `$LOCKGATE_PIPELINE`, else `pipeline.yml`.
    pub fn path(&self) -> PathBuf {
        self.file
            .clone()
            .or_else(|| self.flag.clone())
            .or_else(|| std::env::var_os("LOCKGATE_PIPELINE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("pipeline.yml"))
    }
}

/// A pipeline named by `-p` (commands that read or change the state of one).
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// The pipeline file.
    #[arg(
        short,
        long = "pipeline",
        value_name = "FILE",
        env = "LOCKGATE_PIPELINE",
        default_value = "pipeline.yml"
    )]
    pub pipeline: PathBuf,
    /// State, vars, registry.
    #[command(flatten)]
    pub opts: StateArgs,
}

impl PipelineArgs {
    fn state_spec(&self) -> String {
        self.opts
            .state
            .clone()
            .or_else(|| {
                std::env::var("LOCKGATE_DATABASE_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
            })
            .unwrap_or_else(|| default_sqlite_path(&self.pipeline).display().to_string())
    }

    /// Opens the state store.
    pub async fn store(&self) -> anyhow::Result<Store> {
        let spec = self.state_spec();
        // The store's error names the store (a URL without its password) and has the cause.
        Ok(Store::open(&spec).await?)
    }

    /// Loads and validates the pipeline, resolving registry plugins through `lockgate.lock`
    /// (pinning new ones unless `--locked`); prints every problem and fails when it is invalid.
    pub async fn load(&self, cli: &Cli) -> anyhow::Result<plan::Loaded> {
        let mode = if self.opts.locked {
            LockMode::Frozen
        } else {
            LockMode::Update
        };
        let resolver = self.opts.registry.resolver(&self.pipeline, mode)?;
        let loaded = self.load_with(cli, &resolver).await?;
        super::registry::finish_resolution(&resolver)?;
        Ok(loaded)
    }

    /// Loads and validates the pipeline with `resolver`; prints every problem and fails when
    /// it is invalid.
    pub async fn load_with(&self, cli: &Cli, resolver: &Resolver) -> anyhow::Result<plan::Loaded> {
        let vars = self.vars()?;
        let host = cli.host()?;
        let loaded = plan::load(&self.pipeline, &vars, &host, Some(resolver)).await;
        self.valid(loaded)
    }

    /// Loads and validates the pipeline without loading its plugins (nothing compiled, no
    /// registry): for commands that only read or change the state, never running a plugin.
    pub fn load_without_plugins(&self) -> anyhow::Result<plan::Loaded> {
        let vars = self.vars()?;
        self.valid(plan::load_without_plugins(&self.pipeline, &vars))
    }

    /// The vars of the environment and of `--vars` and `--secrets`.
    fn vars(&self) -> anyhow::Result<Vars> {
        let mut vars = Vars::from_env();
        for (files, secret) in [(&self.opts.vars, false), (&self.opts.secrets, true)] {
            for file in files {
                if let Err(report) = vars.load_file(file, secret) {
                    eprint!("{}", report.render_human(std::io::stderr().is_terminal()));
                    bail!("cannot read vars file `{}`", file.display());
                }
            }
        }
        Ok(vars)
    }

    /// The loaded pipeline, or every problem printed and an error.
    fn valid(&self, loaded: Result<plan::Loaded, config::Report>) -> anyhow::Result<plan::Loaded> {
        match loaded {
            Ok(loaded) => Ok(loaded),
            Err(report) => {
                eprint!("{}", report.render_human(std::io::stderr().is_terminal()));
                bail!(
                    "`{}` is not a valid pipeline ({} error(s))",
                    self.pipeline.display(),
                    report.error_count()
                )
            }
        }
    }

    /// Loads the pipeline and builds a scheduler on its state.
    pub async fn scheduler(
        &self,
        cli: &Cli,
        observer: Arc<dyn BuildObserver>,
    ) -> anyhow::Result<Scheduler> {
        let loaded = self.load(cli).await?;
        self.scheduler_on(loaded, observer).await
    }

    /// A scheduler on the pipeline without its plugins ([`Self::load_without_plugins`]): it
    /// answers and changes the state but cannot check or run anything.
    pub async fn state_scheduler(&self) -> anyhow::Result<Scheduler> {
        let loaded = self.load_without_plugins()?;
        self.scheduler_on(loaded, Arc::new(lockgate_engine::runner::NoObserver))
            .await
    }

    async fn scheduler_on(
        &self,
        loaded: plan::Loaded,
        observer: Arc<dyn BuildObserver>,
    ) -> anyhow::Result<Scheduler> {
        let store = self.store().await?;
        let work = work_dir(&self.pipeline);
        let runner = Runner::new(store.clone(), loaded.plan.clone(), work).with_observer(observer);
        Ok(Scheduler::new(
            store,
            loaded.plan,
            runner,
            lockgate_engine::scheduler::node_name(),
        )
        .with_log_retention((self.opts.keep_logs > 0).then_some(self.opts.keep_logs)))
    }
}

/// Build artifacts and resource caches: `.lockgate/work` beside the pipeline.
fn work_dir(pipeline: &Path) -> PathBuf {
    config::pipeline_dir(pipeline)
        .join(".lockgate")
        .join("work")
}

/// Prints build progress as it happens.
struct Progress {
    verbose: bool,
}

impl BuildObserver for Progress {
    fn event(&self, event: BuildEvent<'_>) {
        match event {
            BuildEvent::Started { build } => eprintln!(
                "▶ {} #{} started ({})",
                build.job, build.number, build.reason
            ),
            BuildEvent::StepStarted {
                build,
                kind,
                name,
                attempt,
                ..
            } => {
                if self.verbose {
                    eprintln!(
                        "  {} #{}: {kind} {name}{attempt} …",
                        build.job, build.number
                    )
                }
            }
            BuildEvent::StepFinished {
                build,
                kind,
                name,
                outcome,
                attempt,
                took,
                ..
            } => {
                let mark = match outcome {
                    Outcome::Succeeded => "✓",
                    Outcome::Failed(_) => "✗",
                    Outcome::Errored(_) => "!",
                };
                let why = match outcome {
                    Outcome::Succeeded => String::new(),
                    Outcome::Failed(m) | Outcome::Errored(m) => {
                        format!(": {}", crate::terminal::safe(m))
                    }
                };
                eprintln!(
                    "  {mark} {} #{}: {kind} {name}{attempt} ({}){why}",
                    build.job,
                    build.number,
                    lockgate_model::humanize(took)
                );
            }
            BuildEvent::Log { stream, text, .. } => {
                if self.verbose {
                    eprintln!("      [{stream}] {}", crate::terminal::safe(text));
                }
            }
            BuildEvent::Finished { build, .. } => {
                let mark = if build.status == BuildStatus::Succeeded {
                    "✓"
                } else {
                    "✗"
                };
                eprintln!("{mark} {} #{} {}", build.job, build.number, build.status);
            }
        }
    }
}

/// `lockgate run PIPELINE`.
pub async fn run(cli: &Cli, args: &PipelineArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    let scheduler = args.scheduler(cli, Arc::new(Progress { verbose })).await?;
    if let Some(lease) = scheduler
        .store()
        .lease(lockgate_engine::scheduler::SCHEDULER_LEASE)
        .await?
        && !lockgate_engine::scheduler::node_is_dead_here(&lease.holder)
    {
        bail!(
            "`lockgate server` node {} schedules this pipeline's state (its lease runs until it stops, or {} s after it dies); `lockgate run` would compete with it: use `lockgate trigger`, `status` and `logs` against it, or stop the server",
            lease.holder,
            lockgate_engine::scheduler::LEASE_TTL.as_secs()
        );
    }
    let summary = scheduler.run_until_idle().await?;
    for (_, error) in &summary.check_errors {
        eprintln!("! {}", lockgate_model::ErrorReport::report(error.as_ref()));
    }
    println!();
    println!(
        "{} build(s) ran; where each environment stands:",
        summary.builds.len()
    );
    for status in service::environments(&scheduler).await? {
        print_environment(&status);
    }
    Ok(if summary.has_failures() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `lockgate server PIPELINE`.
pub async fn server(
    cli: &Cli,
    args: &PipelineArgs,
    listen: std::net::SocketAddr,
    node: lockgate_engine::scheduler::NodeOptions,
    api_config: lockgate_api::ApiConfig,
) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(Progress { verbose: false }))
        .await?;
    // The pipeline is in the store before the API answers: a webhook that comes at once finds
    // its resource.
    scheduler.prepare_retrying().await?;
    let api_tokens = api_config.token_count();
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let api = tokio::spawn(lockgate_api::serve_with(
        scheduler.clone(),
        api_config,
        listen,
        bound_tx,
        async {
            let _ = api_stopped.await;
        },
    ));
    let bound = match bound_rx.await {
        Ok(addr) => addr,
        Err(_) => {
            let error = match api.await {
                Ok(Err(e)) => e.to_string(),
                _ => "the HTTP API stopped".to_owned(),
            };
            bail!("cannot listen on {listen}: {error} (choose another address with --listen)");
        }
    };
    eprintln!(
        "lockgate: serving `{}` as node {}{} (state {}, API http://{bound} with {api_tokens} token(s), up to {} builds at once); Ctrl-C stops",
        args.pipeline.display(),
        lockgate_engine::scheduler::node_name(),
        if node.worker_only {
            ", worker only"
        } else {
            ""
        },
        lockgate_store::redact(&args.state_spec()),
        node.max_builds
    );
    eprintln!("lockgate: dashboard at http://{bound}/");
    let aborter = scheduler.clone();
    let shutdown = async move {
        shutdown_signal().await;
        eprintln!(
            "lockgate: draining: running builds finish first (signal again to abort them; they are re-queued)"
        );
        // A second signal aborts the running builds instead of waiting for them.
        tokio::spawn(async move {
            shutdown_signal().await;
            aborter.abort_running();
        });
    };
    scheduler.serve_node(shutdown, node).await?;
    let _ = stop_api.send(());
    let _ = api.await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
