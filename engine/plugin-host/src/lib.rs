//! The plugin host: loads WebAssembly components that implement the Lockgate contract
//! (`wit/plugin`) and runs each invocation in a fresh, limited sandbox.
//!
//! One [`PluginHost`] owns a wasmtime engine, the WASI + `host` linker, the compiled-code cache
//! and the epoch ticker that enforces deadlines. [`PluginHost::load`] turns a file into a
//! [`Plugin`] (compiled once, pre-instantiated, described); every call on a [`Plugin`] gets its
//! own store and instance with only the [`Grants`] and [`Limits`] of that call.
//! [`PluginHost::load_task`] does the same for a [`Task`]: a `wasi:cli/command` program run in
//! the same kind of sandbox ([`Task::run`]).

mod bindings;
mod cache;
mod command;
mod error;
mod fs_guard;
#[doc(hidden)]
pub mod fuzz;
mod http;
mod http_send;
pub mod metrics;
mod name_lookup;
mod output;
mod plugin;
mod sandbox;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use bindings::{CONTRACT_VERSION, RESOURCE_EXPORT, TEST_EXPORT};
pub use cache::{
    CACHE_MAX_BYTES_ENV, CacheOutcome, DEFAULT_CACHE_MAX_BYTES, default_cache_dir,
    default_cache_max_bytes,
};
pub use command::{TASK_EXPORT, Task, TaskDir, TaskExit, TaskInvocation};
pub use error::{HostError, InvokeError, LoadError, OutputError, PluginFailure};
pub use lockgate_model::{
    Capabilities, CaseStatus, Description, DirGrant, Fetched, Grants, InvalidVersion, Metadata,
    NetworkGrant, NetworkRequest, PluginKind, TestCase, TestReport, TestSuite, Version,
};
pub use lockgate_model::{GrantError, Limits, Operation, humanize};
pub use output::{LINE_COST, Level, LogLine, LogSink, LogSource, MAX_LINE, MemorySink, NullSink};
pub use plugin::{Invocation, MAX_TRAP_DETAIL, Plugin};

use cache::CodeCache;
use fs_guard::GuardedFs;
use sandbox::HostState;

/// Settings of a [`PluginHost`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Directory of the compiled-code cache; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Size budget of the compiled-code cache in bytes: after storing an entry, the least
    /// recently used others are removed until the cache fits (default
    /// [`default_cache_max_bytes`]: `$LOCKGATE_CACHE_MAX_BYTES`, else 1 GiB).
    pub cache_max_bytes: u64,
    /// Upper bound of any plugin's memory cap, in bytes (default 4 GiB).
    pub max_memory_bytes: u64,
    /// Instances that may run at once with the pooling allocator (default 256).
    pub max_concurrent_instances: u32,
    /// Use wasmtime's pooling allocator (fast fresh instances). Falls back to on-demand
    /// allocation if the pool cannot be reserved.
    pub pooling: bool,
    /// Granularity of deadlines (default 10 ms).
    pub epoch_tick: Duration,
    /// Run the guests' file-system calls inline on the invoking thread (default). `false`
    /// moves each call onto tokio's blocking pool: 5-14x slower per call, but a plugin reading
    /// from a slow disk then never holds a runtime worker thread.
    pub inline_fs: bool,
    /// PEM files of CA certificates the HTTPS requests of every plugin trust, besides the
    /// system's roots (`lockgate --ca-cert`).
    pub ca_certificates: Vec<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            cache_dir: Some(default_cache_dir()),
            cache_max_bytes: default_cache_max_bytes(),
            max_memory_bytes: 4 << 30,
            max_concurrent_instances: 256,
            pooling: true,
            epoch_tick: Duration::from_millis(10),
            inline_fs: true,
            ca_certificates: Vec::new(),
        }
    }
}

/// Loads plugins and runs them in sandboxes. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct PluginHost {
    shared: Arc<Shared>,
}

/// State shared by the host and every plugin it loaded.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) cache: CodeCache,
    pub(crate) config: HostConfig,
    pub(crate) trust: Arc<tls::Trust>,
    _ticker: Ticker,
}

impl PluginHost {
    /// A host with `config`.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let engine = match config.pooling {
            true => Engine::new(&engine_config(&config, true)).or_else(|e| {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
                Engine::new(&engine_config(&config, false))
            }),
            false => Engine::new(&engine_config(&config, false)),
        }
        .map_err(engine_error)?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        // The file-system calls go through the guard (no FIFO opened, no symlink out, disk use
        // counted).
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::filesystem::types::add_to_linker::<HostState, GuardedFs>(
            &mut linker,
            sandbox::guarded_fs,
        )
        .map_err(engine_error)?;
        // So do name lookups (only the names the grants name).
        wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::add_to_linker::<
            HostState,
            name_lookup::GuardedLookup,
        >(&mut linker, sandbox::guarded_lookup)
        .map_err(engine_error)?;
        linker.allow_shadowing(false);
        // wasi:http: the outgoing handler and the types only (no incoming handler); every
        // request passes the grant check of `http::HttpGate`.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
        bindings::host::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(engine_error)?;
        bindings::types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(engine_error)?;

        let trust = Arc::new(tls::Trust::new(&config.ca_certificates)?);
        let cache = CodeCache::new(config.cache_dir.clone(), config.cache_max_bytes, &engine)?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick);
        Ok(Self {
            shared: Arc::new(Shared {
                engine,
                linker,
                cache,
                config,
                trust,
                _ticker: ticker,
            }),
        })
    }

    /// A host with default settings.
    pub fn with_defaults() -> Result<Self, HostError> {
        Self::new(HostConfig::default())
    }

    /// The settings this host was built with.
    pub fn config(&self) -> &HostConfig {
        &self.shared.config
    }
}

/// A wasmtime error of setting up the engine, its chain kept.
fn engine_error(e: wasmtime::Error) -> HostError {
    HostError::Engine(e.into_boxed_dyn_error())
}

fn engine_config(config: &HostConfig, pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.parallel_compilation(true);
    if pooling {
        let mut p = PoolingAllocationConfig::new();
        let n = config.max_concurrent_instances.max(1);
        p.total_component_instances(n);
        p.total_stacks(n);
        p.total_core_instances(n.saturating_mul(8));
        p.total_memories(n.saturating_mul(2));
        p.total_tables(n.saturating_mul(8));
        p.max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        // Reset reused slots in place instead of unmapping them: only the pages a plugin
        // dirtied are found (PAGEMAP_SCAN, Linux 6.7+) and restored, so the next fresh
        // instance takes no page faults on them. Older kernels fall back to madvise.
        p.pagemap_scan(wasmtime::Enabled::Auto);
        p.linear_memory_keep_resident(16 << 20);
        p.table_keep_resident(1 << 20);
        p.async_stack_keep_resident(256 << 10);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Advances the engine's epoch every tick so deadlines fire; stops when dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("lockgate-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Self { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
