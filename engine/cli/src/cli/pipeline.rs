//! Commands that run or inspect a pipeline: `run`, `server`, `status`, `builds`, `logs`,
//! `trigger`, `check`, `pin`, `unpin`, `approve`, `rollback`, `why`.
//!
//! Every command opens the pipeline's state (`--state`, default `.lockgate/state.db` beside the
//! pipeline file); SQLite in WAL mode lets them read while a server runs. The `print_*`
//! functions print from data, so the same commands against a server (`--server`, see
//! [`super::remote`]) print the same text and JSON.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::Cli;
use crate::client::{BuildInfo, JobSummary};
use lockgate_config::{self as config, Vars};
use lockgate_engine::plan;
use lockgate_engine::runner::{BuildEvent, BuildObserver, Outcome, Runner};
use lockgate_engine::scheduler::{EnvironmentStatus, Scheduler};
use lockgate_plugin_host::Version;
use lockgate_registry::{LockMode, Resolver};
use lockgate_store::{BuildStatus, NodeInfo, Page, Store, default_sqlite_path};

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
        let mut vars = Vars::from_env();
        for (files, secret) in [(&self.opts.vars, false), (&self.opts.secrets, true)] {
            for file in files {
                if let Err(report) = vars.load_file(file, secret) {
                    eprint!("{}", report.render_human(std::io::stderr().is_terminal()));
                    bail!("cannot read vars file `{}`", file.display());
                }
            }
        }
        let host = cli.host()?;
        match plan::load(&self.pipeline, &vars, &host, Some(resolver)).await {
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
        let store = self.store().await?;
        let work = work_dir(&self.pipeline);
        let pipeline = Arc::new(loaded.pipeline);
        let plugins = Arc::new(loaded.plugins);
        let runner = Runner::new(
            store.clone(),
            pipeline.clone(),
            plugins.clone(),
            loaded.redactor,
            work,
        )
        .with_observer(observer);
        Ok(Scheduler::new(
            store,
            pipeline,
            plugins,
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
                build, kind, name, ..
            } => {
                if self.verbose {
                    eprintln!("  {} #{}: {kind} {name} …", build.job, build.number)
                }
            }
            BuildEvent::StepFinished {
                build,
                kind,
                name,
                outcome,
                ..
            } => {
                let mark = match outcome {
                    Outcome::Succeeded => "✓",
                    Outcome::Failed(_) => "✗",
                    Outcome::Errored(_) => "!",
                };
                let why = match outcome {
                    Outcome::Succeeded => String::new(),
                    Outcome::Failed(m) | Outcome::Errored(m) => format!(": {m}"),
                };
                eprintln!(
                    "  {mark} {} #{}: {kind} {name}{why}",
                    build.job, build.number
                );
            }
            BuildEvent::Log { stream, text, .. } => {
                if self.verbose {
                    eprintln!("      [{stream}] {text}");
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

/// Prints where an environment stands (`status`, `why`, `run`).
pub(super) fn print_environment(status: &EnvironmentStatus) {
    println!("{}", status.environment);
    match &status.current {
        Some(c) => println!(
            "  runs       candidate #{}: {}",
            c.id,
            c.versions.join(", ")
        ),
        None => println!("  runs       nothing yet"),
    }
    if let Some(q) = &status.qualified {
        println!(
            "  qualified  candidate #{}: {}",
            q.id,
            q.versions.join(", ")
        );
    }
    if let Some(n) = &status.next {
        println!(
            "  next       candidate #{}: {}",
            n.id,
            n.versions.join(", ")
        );
    }
    for b in &status.blockers {
        println!("  blocked    {b}");
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
        eprintln!("! {error}");
    }
    println!();
    println!(
        "{} build(s) ran; where each environment stands:",
        summary.builds.len()
    );
    for env in &scheduler.pipeline().environments {
        print_environment(&scheduler.environment_status(&env.name.value).await?);
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
    scheduler.serve_node(shutdown_signal(), node).await?;
    let _ = stop_api.send(());
    let _ = api.await;
    Ok(ExitCode::SUCCESS)
}

/// `lockgate status`.
pub async fn status(cli: &Cli, args: &PipelineArgs, json: bool) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    let mut statuses = Vec::new();
    for env in &scheduler.pipeline().environments {
        statuses.push(scheduler.environment_status(&env.name.value).await?);
    }
    let mut jobs = Vec::new();
    if !json {
        let store = scheduler.store();
        for job in &scheduler.pipeline().jobs {
            let last = store.builds(Some(&job.name.value), Page::first(1)).await?;
            jobs.push(JobSummary {
                name: job.name.value.clone(),
                environment: job.environment.value.clone(),
                last_build: last.first().map(BuildInfo::from),
            });
        }
    }
    print_status(&statuses, &jobs, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `lockgate status`: the environments (only them, as JSON, with `json`), then each
/// job's last build.
pub(super) fn print_status(
    statuses: &[EnvironmentStatus],
    jobs: &[JobSummary],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(statuses)?);
        return Ok(());
    }
    for s in statuses {
        print_environment(s);
    }
    println!();
    println!("jobs");
    for job in jobs {
        let state = job.last_build.as_ref().map_or("no builds".to_owned(), |b| {
            format!("#{} {}", b.number, b.status)
        });
        println!("  {:<24} {:<12} {state}", job.name, job.environment);
    }
    Ok(())
}

/// `lockgate builds`.
pub async fn builds(
    args: &PipelineArgs,
    job: Option<&str>,
    limit: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = args.store().await?;
    let builds = store.builds(job, Page::first(limit)).await?;
    let builds: Vec<BuildInfo> = builds.iter().map(BuildInfo::from).collect();
    print_builds(&builds, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `lockgate builds`: one line per build, or a JSON array.
pub(super) fn print_builds(builds: &[BuildInfo], json: bool) -> anyhow::Result<()> {
    if json {
        let list: Vec<serde_json::Value> = builds
            .iter()
            .map(|b| {
                serde_json::json!({
                    "id": b.id,
                    "job": b.job,
                    "number": b.number,
                    "status": b.status.as_str(),
                    "reason": b.reason,
                    "retry_of": b.retry_of,
                    "node": b.node,
                    "created_at": b.created_at,
                    "started_at": b.started_at,
                    "finished_at": b.finished_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for b in builds {
        println!(
            "{:>6}  {:<24} #{:<5} {:<12} {}",
            b.id,
            b.job,
            b.number,
            b.status.as_str(),
            b.reason
        );
    }
    Ok(())
}

/// A build named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BuildRef {
    /// By id.
    Id(i64),
    /// By job and number.
    Number(String, i64),
}

impl BuildRef {
    /// Parses a build id, or `JOB/NUMBER` (`JOB/#NUMBER` too).
    pub(super) fn parse(spec: &str) -> anyhow::Result<Self> {
        if let Some((job, number)) = spec.rsplit_once('/') {
            let number: i64 = number
                .trim_start_matches('#')
                .parse()
                .with_context(|| format!("`{spec}`: expected JOB/NUMBER"))?;
            return Ok(Self::Number(job.to_owned(), number));
        }
        let id: i64 = spec
            .parse()
            .with_context(|| format!("`{spec}`: expected a build id or JOB/NUMBER"))?;
        Ok(Self::Id(id))
    }
}

/// Finds a build by id, or by `JOB/NUMBER`.
async fn find_build(store: &Store, spec: &str) -> anyhow::Result<lockgate_store::Build> {
    Ok(match BuildRef::parse(spec)? {
        BuildRef::Number(job, number) => store.build_by_number(&job, number).await?,
        BuildRef::Id(id) => store.build(id).await?,
    })
}

/// Prints a log line (`lockgate logs`).
pub(super) fn print_log_line(stream: &str, text: &str) {
    println!("[{stream}] {text}");
}

/// Prints how a followed build ended (`lockgate logs --follow`).
pub(super) fn print_log_end(job: &str, number: i64, status: BuildStatus) {
    println!("build {job} #{number} {status}");
}

/// `lockgate logs BUILD [--follow]`.
pub async fn logs(args: &PipelineArgs, build: &str, follow: bool) -> anyhow::Result<ExitCode> {
    let store = args.store().await?;
    let build = find_build(&store, build).await?;
    let mut after = 0;
    loop {
        let lines = store.logs(build.id, after, 1000).await?;
        for l in &lines {
            print_log_line(&l.stream, &l.text);
            after = l.seq;
        }
        if !lines.is_empty() {
            continue;
        }
        let current = store.build(build.id).await?;
        if !follow || current.status.is_finished() {
            if follow {
                print_log_end(&current.job, current.number, current.status);
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM: running builds then finish before the server exits.
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

/// `lockgate nodes`.
pub async fn nodes(args: &PipelineArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = args.store().await?;
    let nodes = store.nodes().await?;
    let lease = store
        .lease(lockgate_engine::scheduler::SCHEDULER_LEASE)
        .await?;
    print_nodes(lease.as_ref().map(|l| l.holder.as_str()), &nodes, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `lockgate nodes`: the scheduler lease's holder and each node.
pub(super) fn print_nodes(
    scheduler: Option<&str>,
    nodes: &[NodeInfo],
    json: bool,
) -> anyhow::Result<()> {
    let now = lockgate_store::now_ms();
    if json {
        let out = serde_json::json!({
            "scheduler": scheduler,
            "nodes": nodes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match scheduler {
        Some(holder) => println!("scheduler  {holder}"),
        None => println!("scheduler  none (no server holds the lease)"),
    }
    if nodes.is_empty() {
        println!("no server nodes");
    }
    for n in nodes {
        println!(
            "{:32} {:9} {}/{} builds  heartbeat {:.1} s ago",
            n.name,
            n.role,
            n.running,
            n.capacity,
            (now - n.heartbeat_at) as f64 / 1000.0
        );
    }
    Ok(())
}

/// `lockgate trigger JOB`.
pub async fn trigger(cli: &Cli, args: &PipelineArgs, job: &str) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    scheduler.prepare().await?;
    let build = scheduler.trigger(job).await?;
    print_queued(&BuildInfo::from(&build));
    Ok(ExitCode::SUCCESS)
}

/// Prints a build `lockgate trigger` queued.
pub(super) fn print_queued(build: &BuildInfo) {
    println!(
        "queued {} #{} (build {}); `lockgate run` or a running server executes it",
        build.job, build.number, build.id
    );
}

/// `lockgate check RESOURCE`.
pub async fn check(cli: &Cli, args: &PipelineArgs, resource: &str) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    scheduler.prepare().await?;
    let new = scheduler.check(resource).await?;
    let latest = scheduler.store().latest_version(resource).await?;
    print_checked(resource, new as u64, latest.as_ref().map(|v| &v.version));
    Ok(ExitCode::SUCCESS)
}

/// Prints what `lockgate check` found.
pub(super) fn print_checked(resource: &str, new: u64, latest: Option<&Version>) {
    println!(
        "{resource}: {new} new version(s); latest {}",
        latest.map_or("none".to_owned(), Version::to_string)
    );
}

/// `lockgate pin RESOURCE VERSION` / `unpin RESOURCE`.
pub async fn pin(
    args: &PipelineArgs,
    resource: &str,
    version: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let store = args.store().await?;
    match version {
        Some(v) => {
            let version: Version = parse_version(v)?;
            let pinned = store.pin_version(resource, &version).await?;
            print_pinned(resource, Some(&pinned.version));
        }
        None => {
            store.unpin(resource).await?;
            print_pinned(resource, None);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome of `lockgate pin` (a version) or `unpin` (`None`).
pub(super) fn print_pinned(resource: &str, pinned: Option<&Version>) {
    match pinned {
        Some(v) => println!("{resource} pinned to {v}"),
        None => println!("{resource} unpinned"),
    }
}

/// `lockgate disable RESOURCE VERSION` / `enable`.
pub async fn disable(
    args: &PipelineArgs,
    resource: &str,
    version: &str,
    disabled: bool,
) -> anyhow::Result<ExitCode> {
    let store = args.store().await?;
    let version = parse_version(version)?;
    store
        .set_version_disabled(resource, &version, disabled)
        .await?;
    print_disabled(resource, &version, disabled);
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome of `lockgate disable` / `enable`.
pub(super) fn print_disabled(resource: &str, version: &Version, disabled: bool) {
    let word = if disabled { "disabled" } else { "enabled" };
    println!("{resource} {version} {word}");
}

/// A version from the command line: JSON (`{"ref":"abc"}`) or `name=value[,name=value]`.
pub(super) fn parse_version(text: &str) -> anyhow::Result<Version> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).context("the version must be a JSON object of strings");
    }
    let mut v = Version::new();
    for pair in text.split(',') {
        let (k, val) = pair
            .split_once('=')
            .with_context(|| format!("`{pair}`: expected name=value"))?;
        v = v.with(k.trim(), val.trim());
    }
    Ok(v)
}

/// `lockgate approve ENVIRONMENT [CANDIDATE] --as NAME`.
pub async fn approve(
    cli: &Cli,
    args: &PipelineArgs,
    environment: &str,
    candidate: Option<i64>,
    approver: Option<&str>,
    comment: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let Some(approver) = approver else {
        bail!(
            "`lockgate approve` needs `--as NAME`: who approves is recorded with the approval (against a server, `--server`, the token's name is)"
        );
    };
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    let (c, first) = scheduler
        .approve(environment, candidate, approver, comment)
        .await?;
    let versions: Vec<String> = c
        .versions
        .iter()
        .map(|v| format!("{} {}", v.resource, v.version))
        .collect();
    print_approved(environment, c.id, &versions, approver, first);
    Ok(ExitCode::SUCCESS)
}

/// Prints the outcome of `lockgate approve`: candidate `id` (`resource version` lines) was
/// approved by `approver`, or (`first` false) had been already.
pub(super) fn print_approved(
    environment: &str,
    id: i64,
    versions: &[String],
    approver: &str,
    first: bool,
) {
    if first {
        println!(
            "approved candidate #{id} for `{environment}` as {approver}: {}",
            versions.join(", ")
        );
    } else {
        println!("candidate #{id} was already approved for `{environment}`");
    }
}

/// `lockgate rollback ENVIRONMENT`.
pub async fn rollback(
    cli: &Cli,
    args: &PipelineArgs,
    environment: &str,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    scheduler.prepare().await?;
    let (c, builds) = scheduler.rollback(environment, by).await?;
    let builds: Vec<BuildInfo> = builds.iter().map(BuildInfo::from).collect();
    print_rollback(environment, c.id, &builds);
    Ok(ExitCode::SUCCESS)
}

/// Prints the builds `lockgate rollback` queued to re-deploy candidate `id`.
pub(super) fn print_rollback(environment: &str, id: i64, builds: &[BuildInfo]) {
    println!("rolling `{environment}` back to candidate #{id}:");
    for b in builds {
        println!("  queued {} #{} (build {})", b.job, b.number, b.id);
    }
    println!("`lockgate run` or a running server executes the builds");
}

/// `lockgate why ENVIRONMENT`.
pub async fn why(
    cli: &Cli,
    args: &PipelineArgs,
    environment: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let scheduler = args
        .scheduler(cli, Arc::new(lockgate_engine::runner::NoObserver))
        .await?;
    let status = scheduler.environment_status(environment).await?;
    print_why(&status, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `lockgate why`: where the environment stands and what blocks its next candidate.
pub(super) fn print_why(status: &EnvironmentStatus, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
    } else {
        print_environment(status);
        if status.blockers.is_empty() {
            println!(
                "  nothing blocks it: the newest qualified candidate upstream is already here"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_json_or_pairs() {
        assert_eq!(
            parse_version(r#"{"number":"3"}"#).unwrap(),
            Version::new().with("number", "3")
        );
        assert_eq!(
            parse_version("ref=abc, n=2").unwrap(),
            Version::new().with("ref", "abc").with("n", "2")
        );
        assert!(parse_version("nope").is_err());
    }
}
