//! The `lockgate` command line: argument parsing and dispatch to one module per command group.

mod plugin;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::plugin_host::{HostConfig, PluginHost, default_cache_dir};

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

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect and exercise plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
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
            ..HostConfig::default()
        })?)
    }
}

/// Runs the parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Plugin(cmd) => plugin::run(&cli, cmd).await,
    }
}
