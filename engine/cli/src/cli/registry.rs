//! `lockgate plugin publish|list|verify|yank|update` and `inspect NAME@VERSION`: the plugin
//! registry directory from the command line, and the resolver pipeline commands share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Cli;
use lockgate_registry::{
    LockMode, Lockfile, PublishOutcome, Registry, RegistryError, RegistryOrigin, Resolver,
    locate_registry, parse_spec,
};

/// `--registry DIR` [default: $LOCKGATE_REGISTRY, else `registry` in the user config file
/// (~/.config/lockgate/config.toml), else ~/.local/share/lockgate/registry].
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArg {
    /// Plugin registry directory [default: $LOCKGATE_REGISTRY, else `registry` in
    /// $LOCKGATE_CONFIG or ~/.config/lockgate/config.toml, else ~/.local/share/lockgate/registry].
    #[arg(long, value_name = "DIR")]
    pub registry: Option<PathBuf>,
}

impl RegistryArg {
    /// The registry these settings designate.
    pub fn open(&self) -> anyhow::Result<Registry> {
        let (dir, _origin) =
            locate_registry(self.registry.as_deref()).map_err(anyhow::Error::msg)?;
        Ok(Registry::new(dir))
    }

    /// A resolver for pipeline `pipeline` and its `lockgate.lock`. Without a registry given
    /// (flag, environment, config file) and without the default one on disk, registry
    /// references are errors that say how to configure one.
    pub fn resolver(&self, pipeline: &Path, mode: LockMode) -> anyhow::Result<Resolver> {
        let (dir, origin) =
            locate_registry(self.registry.as_deref()).map_err(anyhow::Error::msg)?;
        let registry =
            (origin != RegistryOrigin::Default || dir.is_dir()).then(|| Registry::new(dir));
        Resolver::new(registry, Some(Resolver::lock_path_of(pipeline)), mode)
            .map_err(anyhow::Error::msg)
    }
}

/// After a successful load: writes the lockfile if it changed and prints warnings.
pub fn finish_resolution(resolver: &Resolver) -> anyhow::Result<()> {
    for note in resolver.take_notes() {
        eprintln!("warning: {note}");
    }
    if resolver.save().map_err(anyhow::Error::msg)? {
        let lock = resolver.lockfile();
        eprintln!(
            "pinned {} registry plugin(s) in {}",
            lock.plugins.len(),
            lockgate_registry::LOCKFILE
        );
    }
    Ok(())
}

/// `lockgate plugin publish`.
pub async fn publish(
    cli: &Cli,
    file: &Path,
    registry: &RegistryArg,
    license: Option<String>,
) -> anyhow::Result<ExitCode> {
    let registry = registry.open()?;
    let host = cli.host()?;
    let bytes = std::fs::read(file).map_err(|error| RegistryError::Io {
        path: file.to_path_buf(),
        error,
    })?;
    // The real host checks the world and the contract version and runs `describe`.
    let plugin =
        host.load_bytes(file, bytes.clone())
            .await
            .map_err(|e| RegistryError::Rejected {
                file: file.to_path_buf(),
                reason: lockgate_model::ErrorReport::report(&e).to_string(),
            })?;
    let (entry, outcome) = registry.publish(file, &bytes, plugin.description(), license)?;
    print_published(&entry, outcome);
    Ok(ExitCode::SUCCESS)
}

/// `lockgate plugin publish FILE --task NAME@VERSION`.
pub async fn publish_task(
    cli: &Cli,
    file: &Path,
    registry: &RegistryArg,
    spec: &str,
    summary: &Option<String>,
    license: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (name, req) = parse_spec(spec).map_err(anyhow::Error::msg)?;
    let version = exact(&req).ok_or_else(|| {
        anyhow::anyhow!("`--task {spec}`: give an exact version, e.g. `--task {name}@1.0.0`")
    })?;
    let registry = registry.open()?;
    let bytes = std::fs::read(file).map_err(|error| RegistryError::Io {
        path: file.to_path_buf(),
        error,
    })?;
    // The real host checks that it is a program of the command world (exports wasi:cli/run).
    host_checked_task(cli, file, &bytes).await?;
    let (entry, outcome) = registry.publish_task(
        file,
        &bytes,
        &name,
        version,
        summary.clone().unwrap_or_default(),
        license,
    )?;
    print_published(&entry, outcome);
    Ok(ExitCode::SUCCESS)
}

/// Loads `bytes` as a task with the real host: a registry refusal when it is not one.
async fn host_checked_task(cli: &Cli, file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    cli.host()?
        .load_task_bytes(file, bytes.to_vec())
        .await
        .map_err(|e| RegistryError::Rejected {
            file: file.to_path_buf(),
            reason: lockgate_model::ErrorReport::report(&e).to_string(),
        })?;
    Ok(())
}

/// What `publish` did.
fn print_published(entry: &lockgate_registry::Entry, outcome: PublishOutcome) {
    let m = &entry.manifest;
    match outcome {
        PublishOutcome::Added => println!(
            "published {} ({}, sha256 {}) to {}",
            m.id(),
            m.kind,
            m.sha256,
            entry.dir.display()
        ),
        PublishOutcome::Unchanged => println!(
            "{} is already published with the same bytes (sha256 {}); nothing changed",
            m.id(),
            m.sha256
        ),
    }
}

/// `lockgate plugin list`.
pub fn list(registry: &RegistryArg, all: bool, json: bool) -> anyhow::Result<ExitCode> {
    let registry = registry.open()?;
    let entries: Vec<_> = registry
        .list()?
        .into_iter()
        .filter(|e| all || e.manifest.yanked.is_none())
        .collect();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "name": e.manifest.name,
                    "version": e.manifest.version.to_string(),
                    "kind": e.manifest.kind,
                    "sha256": e.manifest.sha256,
                    "summary": e.manifest.summary,
                    "yanked": e.manifest.yanked.is_some(),
                    "path": e.wasm(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("no plugins in {}", registry.root().display());
        return Ok(ExitCode::SUCCESS);
    }
    let width = entries
        .iter()
        .map(|e| e.manifest.id().len())
        .max()
        .unwrap_or(0);
    for e in &entries {
        let m = &e.manifest;
        println!(
            "{:width$}  {:13}  {}{}",
            m.id(),
            m.kind,
            m.summary,
            if m.yanked.is_some() { "  [yanked]" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockgate plugin inspect NAME@VERSION`: the registry's record of a version; returns its
/// component file and whether it is a task.
pub fn inspect_entry(registry: &RegistryArg, spec: &str) -> anyhow::Result<(PathBuf, bool)> {
    let registry = registry.open()?;
    let (name, req) = parse_spec(spec).map_err(anyhow::Error::msg)?;
    let entry = match exact(&req) {
        Some(v) => registry.entry(&name, &v)?,
        None => registry.resolve(&name, &req)?,
    };
    let m = &entry.manifest;
    let bytes = std::fs::read(entry.wasm())
        .with_context(|| format!("cannot read {}", entry.wasm().display()))?;
    let digest = lockgate_model::sha256_hex([&bytes]);
    anyhow::ensure!(
        digest == m.sha256,
        "{} is damaged: {} has sha256 {digest}, its manifest records {} (run `lockgate plugin verify`)",
        m.id(),
        entry.wasm().display(),
        m.sha256
    );
    println!("registry:  {}", registry.root().display());
    println!("published: {}", m.published);
    if let Some(license) = &m.license {
        println!("license:   {license}");
    }
    if let Some(y) = &m.yanked {
        println!("yanked:    {} ({})", y.at, y.reason);
    }
    if m.is_task() {
        println!("name:      {}", m.name);
        println!("version:   {}", m.version);
        if !m.summary.is_empty() {
            println!("summary:   {}", m.summary);
        }
        println!("sha256:    {}", m.sha256);
    }
    Ok((entry.wasm(), m.is_task()))
}

/// The version of an `=x.y.z` requirement.
fn exact(req: &semver::VersionReq) -> Option<semver::Version> {
    match req.comparators.as_slice() {
        [c] if c.op == semver::Op::Exact => Some(semver::Version {
            major: c.major,
            minor: c.minor?,
            patch: c.patch?,
            pre: c.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        }),
        _ => None,
    }
}

/// `lockgate plugin verify`.
pub fn verify(registry: &RegistryArg, reindex: bool) -> anyhow::Result<ExitCode> {
    let registry = registry.open()?;
    let report = registry.verify(reindex)?;
    for p in &report.problems {
        eprintln!("error: {}: {}", p.path.display(), p.message);
    }
    if report.reindexed {
        println!(
            "rewrote {}",
            registry
                .root()
                .join(lockgate_registry::INDEX_FILE)
                .display()
        );
    }
    println!(
        "{} version(s) verified, {} problem(s) in {}",
        report.verified,
        report.problems.len(),
        registry.root().display()
    );
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `lockgate plugin yank`.
pub fn yank(
    registry: &RegistryArg,
    spec: &str,
    reason: &str,
    undo: bool,
) -> anyhow::Result<ExitCode> {
    let registry = registry.open()?;
    let (name, req) = parse_spec(spec).map_err(anyhow::Error::msg)?;
    let version = exact(&req)
        .with_context(|| format!("`{spec}`: name one exact version, e.g. `{name}@1.2.0`"))?;
    let entry = registry.yank(&name, &version, reason, undo)?;
    if undo {
        println!("{} is no longer yanked", entry.manifest.id());
    } else {
        println!(
            "yanked {}: pipelines that pin it in lockgate.lock keep it; new resolutions skip it",
            entry.manifest.id()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockgate plugin update`: re-resolves the pipeline's registry plugins (all, or `names`)
/// to the newest matching versions and rewrites `lockgate.lock`.
pub async fn update(
    cli: &Cli,
    args: &super::pipeline::PipelineArgs,
    names: &[String],
) -> anyhow::Result<ExitCode> {
    let lock_path = Resolver::lock_path_of(&args.pipeline);
    let before = std::fs::read_to_string(&lock_path)
        .ok()
        .and_then(|t| Lockfile::parse(&t).ok())
        .unwrap_or_default();
    let resolver = args
        .opts
        .registry
        .resolver(&args.pipeline, LockMode::Update)?;
    resolver.unpin(names);
    let loaded = args.load_with(cli, &resolver).await?;
    let used: Vec<&str> = loaded
        .pipeline
        .resource_types
        .iter()
        .chain(&loaded.pipeline.test_types)
        .filter_map(|t| match &t.plugin.value {
            lockgate_config::PluginRef::Registry { name, .. } => Some(name.as_str()),
            lockgate_config::PluginRef::Path(_) => None,
        })
        .collect();
    if let Some(unknown) = names.iter().find(|n| !used.contains(&n.as_str())) {
        anyhow::bail!(
            "`{}` uses no registry plugin `{unknown}` (its registry plugins: {}); nothing was changed",
            args.pipeline.display(),
            if used.is_empty() {
                "none".to_owned()
            } else {
                used.join(", ")
            }
        );
    }
    for note in resolver.take_notes() {
        eprintln!("warning: {note}");
    }
    resolver.save().map_err(anyhow::Error::msg)?;
    let after = resolver.lockfile();
    let mut changed = 0;
    for pin in &after.plugins {
        let old = before
            .plugins
            .iter()
            .find(|p| p.name == pin.name && p.requirement == pin.requirement);
        match old {
            Some(old) if old.version == pin.version && old.sha256 == pin.sha256 => {}
            Some(old) => {
                changed += 1;
                println!(
                    "{}@{}: {} -> {}",
                    pin.name, pin.requirement, old.version, pin.version
                );
            }
            None => {
                changed += 1;
                println!("{}@{}: pinned {}", pin.name, pin.requirement, pin.version);
            }
        }
    }
    for old in &before.plugins {
        if !after
            .plugins
            .iter()
            .any(|p| p.name == old.name && p.requirement == old.requirement)
        {
            changed += 1;
            println!("{}@{}: removed (no longer used)", old.name, old.requirement);
        }
    }
    if changed == 0 {
        println!("{} is up to date", lock_path.display());
    }
    Ok(ExitCode::SUCCESS)
}
