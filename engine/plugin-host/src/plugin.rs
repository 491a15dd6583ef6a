//! A loaded plugin: loading (detect, compile or fetch from cache, check the world, describe)
//! and invoking its operations, each in a fresh store and instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi_http::WasiHttpCtx;

use super::bindings::{self, resource_type::ResourceTypePre, test_step::TestStepPre, types as wit};
use super::cache::CacheOutcome;
use super::error::{InvokeError, LoadError, OutputError, PluginFailure};
use super::fs_guard::{DiskBudget, DiskHit};
use super::http::HttpGate;
use super::output::{Capture, LogSink, NullSink};
use super::sandbox::{self, HostState, Limiter};
use super::{PluginHost, Shared};
use lockgate_model::{
    Capabilities, CaseStatus, Description, Fetched, Grants, InvalidVersion, Limits, NetworkRequest,
    Operation, PluginKind, TestCase, TestReport, TestSuite, Version, humanize_bytes,
};

/// Slack on top of a deadline before the host gives up on a plugin blocked in a host call.
const DEADLINE_GRACE: Duration = Duration::from_millis(200);

/// The most bytes of [`InvokeError::Trap`]'s detail: it is shown to users and stored with
/// the build.
pub const MAX_TRAP_DETAIL: usize = 4096;
/// Guest frames kept in a trap's detail (innermost first).
const MAX_TRAP_FRAMES: usize = 10;
/// Characters kept of one frame's function name (mangled names can be long).
const MAX_FRAME_NAME: usize = 120;
/// Lines of the guest's stderr kept in a trap's detail.
const TRAP_STDERR_LINES: usize = 5;

/// A plugin ready to run. Cheap to clone and safe to share between tasks.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    path: PathBuf,
    digest: String,
    description: Description,
    pre: Pre,
    cache: CacheOutcome,
}

enum Pre {
    Resource(ResourceTypePre<HostState>),
    Test(TestStepPre<HostState>),
}

/// What one invocation may touch and use, and where its log goes.
#[derive(Clone)]
pub struct Invocation {
    /// Directories, environment and network.
    pub grants: Grants,
    /// Memory, deadlines, output size.
    pub limits: Limits,
    /// Receives log lines as they are produced.
    pub log: Arc<dyn LogSink>,
}

impl Default for Invocation {
    fn default() -> Self {
        Self {
            grants: Grants::none(),
            limits: Limits::default(),
            log: Arc::new(NullSink),
        }
    }
}

impl Invocation {
    /// An invocation with `grants`, default limits and no log.
    pub fn new(grants: Grants) -> Self {
        Self {
            grants,
            ..Self::default()
        }
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the log sink.
    pub fn log(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log = sink;
        self
    }
}

impl PluginHost {
    /// Loads the component in `path`, checks it implements a Lockgate world, and describes it.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<Plugin, LoadError> {
        let path = path.as_ref();
        self.load_bytes(path, read_component(path).await?).await
    }

    /// Loads a component from `bytes`; `path` names it in messages.
    pub async fn load_bytes(&self, path: &Path, bytes: Vec<u8>) -> Result<Plugin, LoadError> {
        let digest = lockgate_model::sha256_hex([&bytes]);
        self.load_hashed(path, bytes, digest).await
    }

    /// Compiles `bytes` (whose SHA-256 is `digest`) through the compiled-code cache, on the
    /// blocking pool, and builds its copy-on-write memory images; plugins and tasks alike.
    pub(crate) async fn compile(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        digest: &str,
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let shared = self.shared.clone();
        let key = digest.to_owned();
        let compiled = tokio::task::spawn_blocking(move || -> wasmtime::Result<_> {
            let (component, outcome) = shared.cache.get_or_compile(&shared.engine, &key, &bytes)?;
            initialize_memory_images(&component)?;
            Ok((component, outcome))
        })
        .await
        .map_err(|e| LoadError::Invalid {
            path: path.to_path_buf(),
            source: format!("compiler task failed: {e}").into(),
        })?;
        compiled.map_err(|e| LoadError::Invalid {
            path: path.to_path_buf(),
            source: e.into_boxed_dyn_error(),
        })
    }

    /// [`PluginHost::load_bytes`] for bytes whose SHA-256 (`digest`, lowercase hex) the caller
    /// has computed already (and compared with a pin): large components are hashed once.
    pub async fn load_hashed(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        digest: String,
    ) -> Result<Plugin, LoadError> {
        let path = path.to_path_buf();
        classify(&path, &bytes)?;
        // Refuse a component of another world or contract version before compiling it (which
        // can take seconds and would leave its code in the cache).
        let early = top_level_exports(&bytes)
            .map(|exports| world_from_exports(&path, &exports))
            .transpose()?;
        let (component, cache) = self.compile(&path, bytes, &digest).await?;

        let kind = match early {
            Some(kind) => kind,
            None => world_of(&path, &component, &self.shared.engine)?,
        };
        let link = |e: wasmtime::Error| LoadError::Link {
            path: path.clone(),
            source: e.into_boxed_dyn_error(),
        };
        let instance_pre = self
            .shared
            .linker
            .instantiate_pre(&component)
            .map_err(link)?;
        let pre = match kind {
            PluginKind::ResourceType => {
                Pre::Resource(ResourceTypePre::new(instance_pre).map_err(link)?)
            }
            PluginKind::TestStep => Pre::Test(TestStepPre::new(instance_pre).map_err(link)?),
        };

        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("plugin")
            .to_owned();
        let placeholder = Description {
            name: stem,
            version: String::new(),
            kind,
            summary: String::new(),
            source_schema: None,
            get_params_schema: None,
            put_params_schema: None,
            config_schema: None,
            capabilities: Capabilities::default(),
        };
        let mut plugin = Plugin {
            inner: Arc::new(Inner {
                shared: self.shared.clone(),
                path: path.clone(),
                digest,
                description: placeholder,
                pre,
                cache,
            }),
        };
        let description =
            plugin
                .describe(&Invocation::default())
                .await
                .map_err(|e| LoadError::Describe {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
        if description.kind != kind {
            return Err(LoadError::DescribeKind {
                path,
                said: description.kind,
                world: kind,
            });
        }
        Arc::get_mut(&mut plugin.inner)
            .expect("not yet shared")
            .description = description;
        Ok(plugin)
    }
}

/// The bytes of the component file `path` (a plugin or a task).
pub(crate) async fn read_component(path: &Path) -> Result<Vec<u8>, LoadError> {
    tokio::fs::read(path)
        .await
        .map_err(|error| LoadError::Read {
            path: path.to_path_buf(),
            error,
        })
}

/// Tells a component from a core module or a file that is not WebAssembly at all.
pub(crate) fn classify(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm {
            path: path.to_path_buf(),
        });
    }
    // Bytes 4..8: a u16 version and a u16 layer; layer 0 is a core module, 1 a component.
    let layer = u16::from_le_bytes([bytes[6], bytes[7]]);
    if layer == 0 {
        return Err(LoadError::CoreModule {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The names a component exports at its top level, read without compiling it; `None` when
/// the bytes do not parse (compiling then reports why).
pub(crate) fn top_level_exports(bytes: &[u8]) -> Option<Vec<String>> {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    exports.push(export.ok()?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Some(exports)
}

/// Which Lockgate world a compiled component exports.
fn world_of(
    path: &Path,
    component: &Component,
    engine: &wasmtime::Engine,
) -> Result<PluginKind, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    world_from_exports(path, &exports)
}

/// Which Lockgate world the export names `exports` make, or why they make none.
fn world_from_exports(path: &Path, exports: &[String]) -> Result<PluginKind, LoadError> {
    let has = |name: &str| exports.iter().any(|e| e == name);
    match (has(bindings::RESOURCE_EXPORT), has(bindings::TEST_EXPORT)) {
        (true, false) => return Ok(PluginKind::ResourceType),
        (false, true) => return Ok(PluginKind::TestStep),
        (true, true) => {
            return Err(LoadError::BothWorlds {
                path: path.to_path_buf(),
            });
        }
        (false, false) => {}
    }
    if let Some(other) = exports.iter().find(|e| {
        e.starts_with("lockgate:plugin/resource-ops@") || e.starts_with("lockgate:plugin/test-ops@")
    }) {
        return Err(LoadError::ContractVersion {
            path: path.to_path_buf(),
            found: other.clone(),
            supported: bindings::CONTRACT_VERSION,
        });
    }
    let found = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        exports
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(LoadError::WrongWorld {
        path: path.to_path_buf(),
        resource: bindings::RESOURCE_EXPORT,
        test: bindings::TEST_EXPORT,
        found,
    })
}

/// A fresh store for one invocation, with its capture.
pub(crate) struct Sandbox {
    pub(crate) store: Store<HostState>,
    pub(crate) capture: Arc<Capture>,
    pub(crate) deadline: Duration,
    pub(crate) memory_limit: u64,
}

impl Sandbox {
    /// The fresh store of one invocation of `op` in `wasi` (whose network is `network` and
    /// whose output goes to `capture`), under `limits`; `grants` gives the input names and the
    /// CA certificates of HTTPS requests.
    pub(crate) fn new(
        shared: &Shared,
        op: Operation,
        (wasi, network): (wasmtime_wasi::WasiCtx, Arc<super::http::Network>),
        capture: Arc<Capture>,
        grants: &Grants,
        limits: &Limits,
    ) -> Self {
        let memory_limit = limits.memory_bytes.min(shared.config.max_memory_bytes);
        let deadline = limits.deadline(op);
        let stop_at = Instant::now() + deadline;
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            http_gate: HttpGate {
                network,
                capture: capture.clone(),
                stop_at,
                trust: shared.trust.clone(),
                ca_files: grants.ca_certificates.clone(),
                tls: None,
            },
            table: ResourceTable::new(),
            capture: capture.clone(),
            disk: DiskBudget::new(limits.disk_bytes, limits.files),
            inputs: grants.inputs.iter().map(|i| i.name.clone()).collect(),
            limiter: Limiter {
                memory_bytes: usize::try_from(memory_limit).unwrap_or(usize::MAX),
                memory_hit: false,
            },
            deadline_hit: false,
        };
        let mut store = Store::new(&shared.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= stop_at {
                ctx.data_mut().deadline_hit = true;
                Err(Trap::Interrupt.into())
            } else {
                // Hand the thread back to tokio every tick so long computations don't starve
                // other tasks.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Self {
            store,
            capture,
            deadline,
            memory_limit,
        }
    }
}

impl Plugin {
    /// What the plugin said about itself when loaded.
    pub fn description(&self) -> &Description {
        &self.inner.description
    }

    /// The plugin's name (from `describe`).
    pub fn name(&self) -> &str {
        &self.inner.description.name
    }

    /// Which world it implements.
    pub fn kind(&self) -> PluginKind {
        self.inner.description.kind
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// sha256 of the component's bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Whether loading compiled the component or took it from the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner.cache
    }

    /// Calls `describe` in a fresh sandbox (no grants).
    pub async fn describe(&self, inv: &Invocation) -> Result<Description, InvokeError> {
        let op = Operation::Describe;
        let mut sb = self
            .sandbox(
                op,
                &Invocation {
                    grants: Grants::none(),
                    ..inv.clone()
                },
            )
            .await?;
        let raw = match &self.inner.pre {
            Pre::Resource(pre) => {
                let fut = async {
                    let i = pre.instantiate_async(&mut sb.store).await?;
                    i.lockgate_plugin_resource_ops()
                        .call_describe(&mut sb.store)
                        .await
                };
                finish(fut, sb.deadline).await
            }
            Pre::Test(pre) => {
                let fut = async {
                    let i = pre.instantiate_async(&mut sb.store).await?;
                    i.lockgate_plugin_test_ops()
                        .call_describe(&mut sb.store)
                        .await
                };
                finish(fut, sb.deadline).await
            }
        };
        let raw = self.outcome(op, raw, &sb)?;
        description_from_wit(raw).map_err(|reason| self.invalid(op, reason))
    }

    /// `check`: the versions that exist, oldest first.
    pub async fn check(
        &self,
        inv: &Invocation,
        source: &serde_json::Value,
        from: Option<&Version>,
    ) -> Result<Vec<Version>, InvokeError> {
        let op = Operation::Check;
        let pre = self.resource(op)?;
        let source = source.to_string();
        let from = from.map(version_to_wit);
        let mut sb = self.sandbox(op, inv).await?;
        let fut = async {
            let i = pre.instantiate_async(&mut sb.store).await?;
            i.lockgate_plugin_resource_ops()
                .call_check(&mut sb.store, &source, from.as_ref())
                .await
        };
        let raw = finish(fut, sb.deadline).await;
        let mut versions = self
            .outcome(op, raw, &sb)?
            .map_err(|e| self.failure(op, e, &inv.limits))?;
        let limits = &inv.limits;
        if versions.len() > limits.versions_per_check {
            // Oldest first: keep the newest. A long history on a first check is legitimate
            // (a registry with many tags); storing all of it is not.
            let dropped = versions.len() - limits.versions_per_check;
            versions.drain(..dropped);
            sb.capture.engine(format!(
                "check returned {} versions, more than the limit of {}: the newest {} are kept, the {dropped} oldest dropped (the plugin's type can raise it with `limits: {{versions_per_check: …}}`)",
                dropped + limits.versions_per_check,
                limits.versions_per_check,
                limits.versions_per_check
            ));
        }
        versions
            .into_iter()
            .map(|v| {
                check_fields(&v, limits, Fields::Version, "a version")
                    .map_err(|r| self.invalid(op, r))?;
                version_from_wit(v).map_err(|r| self.invalid(op, r))
            })
            .collect()
    }

    /// `get`: fetches `version` into the granted output directory.
    pub async fn get(
        &self,
        inv: &Invocation,
        source: &serde_json::Value,
        version: &Version,
        params: &serde_json::Value,
    ) -> Result<Fetched, InvokeError> {
        let op = Operation::Get;
        let pre = self.resource(op)?;
        let (source, params, version) = (
            source.to_string(),
            params.to_string(),
            version_to_wit(version),
        );
        let mut sb = self.sandbox(op, inv).await?;
        let fut = async {
            let i = pre.instantiate_async(&mut sb.store).await?;
            i.lockgate_plugin_resource_ops()
                .call_get(&mut sb.store, &source, &version, &params)
                .await
        };
        let raw = finish(fut, sb.deadline).await;
        let fetched = self
            .outcome(op, raw, &sb)?
            .map_err(|e| self.failure(op, e, &inv.limits))?;
        let limits = &inv.limits;
        check_fetched(&fetched, limits).map_err(|r| self.invalid(op, r))?;
        fetched_from_wit(fetched).map_err(|r| self.invalid(op, r))
    }

    /// `put`: publishes or deploys from the granted inputs; returns the version created.
    pub async fn put(
        &self,
        inv: &Invocation,
        source: &serde_json::Value,
        params: &serde_json::Value,
    ) -> Result<Fetched, InvokeError> {
        let op = Operation::Put;
        let pre = self.resource(op)?;
        let (source, params) = (source.to_string(), params.to_string());
        let mut sb = self.sandbox(op, inv).await?;
        let fut = async {
            let i = pre.instantiate_async(&mut sb.store).await?;
            i.lockgate_plugin_resource_ops()
                .call_put(&mut sb.store, &source, &params)
                .await
        };
        let raw = finish(fut, sb.deadline).await;
        let fetched = self
            .outcome(op, raw, &sb)?
            .map_err(|e| self.failure(op, e, &inv.limits))?;
        let limits = &inv.limits;
        check_fetched(&fetched, limits).map_err(|r| self.invalid(op, r))?;
        fetched_from_wit(fetched).map_err(|r| self.invalid(op, r))
    }

    /// A test step's `run`: judges the granted inputs and hosts and returns the report.
    pub async fn run(
        &self,
        inv: &Invocation,
        config: &serde_json::Value,
    ) -> Result<TestReport, InvokeError> {
        let op = Operation::Run;
        let Pre::Test(pre) = &self.inner.pre else {
            return Err(self.unsupported(op));
        };
        let config = config.to_string();
        let mut sb = self.sandbox(op, inv).await?;
        let fut = async {
            let i = pre.instantiate_async(&mut sb.store).await?;
            i.lockgate_plugin_test_ops()
                .call_run(&mut sb.store, &config)
                .await
        };
        let raw = finish(fut, sb.deadline).await;
        let report = self
            .outcome(op, raw, &sb)?
            .map_err(|e| self.failure(op, e, &inv.limits))?;
        check_report(&report, &inv.limits).map_err(|r| self.invalid(op, r))?;
        Ok(report_from_wit(report))
    }

    fn resource(&self, op: Operation) -> Result<&ResourceTypePre<HostState>, InvokeError> {
        match &self.inner.pre {
            Pre::Resource(pre) => Ok(pre),
            Pre::Test(_) => Err(self.unsupported(op)),
        }
    }

    fn unsupported(&self, op: Operation) -> InvokeError {
        InvokeError::Unsupported {
            plugin: self.name().to_owned(),
            kind: self.kind(),
            op,
        }
    }

    fn invalid(&self, op: Operation, reason: impl Into<OutputError>) -> InvokeError {
        InvokeError::InvalidOutput {
            plugin: self.name().to_owned(),
            op,
            reason: reason.into(),
        }
    }

    fn failure(&self, op: Operation, e: wit::PluginError, limits: &Limits) -> InvokeError {
        let cut = |m: String| cut_message(m, limits.message_bytes);
        let failure = match e {
            wit::PluginError::InvalidConfig(m) => PluginFailure::InvalidConfig(cut(m)),
            wit::PluginError::NotFound(m) => PluginFailure::NotFound(cut(m)),
            wit::PluginError::Failed(m) => PluginFailure::Failed(cut(m)),
        };
        InvokeError::Plugin {
            plugin: self.name().to_owned(),
            op,
            failure,
        }
    }

    /// Builds the fresh store of one invocation.
    async fn sandbox(&self, op: Operation, inv: &Invocation) -> Result<Sandbox, InvokeError> {
        let shared = &self.inner.shared;
        let capture = Capture::new(inv.log.clone(), inv.limits.output_bytes);
        let ctx = sandbox::wasi_ctx(&inv.grants, &capture, shared.config.inline_fs)
            .await
            .map_err(|error| InvokeError::Grant {
                plugin: self.name().to_owned(),
                op,
                error,
            })?;
        Ok(Sandbox::new(
            shared,
            op,
            ctx,
            capture,
            &inv.grants,
            &inv.limits,
        ))
    }

    /// Turns the raw result of an invocation into the plugin's answer or a typed error.
    fn outcome<T>(
        &self,
        op: Operation,
        raw: RawOutcome<T>,
        sb: &Sandbox,
    ) -> Result<T, InvokeError> {
        outcome(self.name(), op, raw, sb)
    }
}

/// Turns the raw result of an invocation of `op` by the guest `name` into its answer or a
/// typed error (the deadline, the memory or disk limit, a stack overflow, a panic, a trap).
pub(crate) fn outcome<T>(
    name: &str,
    op: Operation,
    raw: RawOutcome<T>,
    sb: &Sandbox,
) -> Result<T, InvokeError> {
    sb.capture.finish();
    let plugin = name.to_owned();
    let data = sb.store.data();
    let e = match raw {
        RawOutcome::Done(Ok(v)) => return Ok(v),
        RawOutcome::TimedOut => {
            return Err(InvokeError::Deadline {
                plugin,
                op,
                limit: sb.deadline,
            });
        }
        RawOutcome::Done(Err(e)) => e,
    };
    if data.deadline_hit || matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return Err(InvokeError::Deadline {
            plugin,
            op,
            limit: sb.deadline,
        });
    }
    if data.limiter.memory_hit {
        return Err(InvokeError::MemoryLimit {
            plugin,
            op,
            limit: sb.memory_limit,
        });
    }
    if let Some(hit) = data.disk.hit() {
        let (limit, key) = match hit {
            DiskHit::Bytes(n) => (format!("{} written", humanize_bytes(n)), "disk_size"),
            DiskHit::Files(n) => (format!("{n} files created"), "files"),
        };
        return Err(InvokeError::DiskLimit {
            plugin,
            op,
            limit,
            key,
        });
    }
    let trap = e.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::StackOverflow) {
        return Err(InvokeError::StackOverflow { plugin, op });
    }
    let stderr = sb.capture.stderr_tail();
    if trap == Some(Trap::UnreachableCodeReached)
        && let Some(message) = panic_message(&stderr)
    {
        return Err(InvokeError::Panicked {
            plugin,
            op,
            message,
        });
    }
    if trap.is_none() && format!("{e:#}").contains("concurrent") {
        return Err(InvokeError::Instantiate {
            plugin,
            op,
            source: e.into_boxed_dyn_error(),
        });
    }
    Err(InvokeError::Trap {
        plugin,
        op,
        detail: trap_detail(&e, &stderr),
    })
}

/// What users see of a trap: the trap and its causes (each once), a short guest backtrace,
/// and the last lines of the guest's stderr; at most [`MAX_TRAP_DETAIL`] bytes. Never the
/// host's own backtrace (`{:?}` of a `wasmtime::Error` appends one when `RUST_BACKTRACE` is
/// set), and never more than [`MAX_TRAP_FRAMES`] guest frames.
fn trap_detail(e: &wasmtime::Error, stderr: &str) -> String {
    let backtrace = e.downcast_ref::<WasmBacktrace>();
    // The chain holds the backtrace as one of its messages; it is rendered below, shorter.
    let backtrace_text = backtrace.map(ToString::to_string);
    let mut detail = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty()
            || backtrace_text.as_deref() == Some(text.as_str())
            || detail.ends_with(&text)
        {
            continue;
        }
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&text);
    }
    if let Some(backtrace) = backtrace
        && !backtrace.frames().is_empty()
    {
        detail.push_str("\nguest backtrace:");
        let frames = backtrace.frames();
        for (i, frame) in frames.iter().take(MAX_TRAP_FRAMES).enumerate() {
            let module = frame.module().name().unwrap_or("<unknown>");
            let func = match frame.func_name() {
                Some(name) => name.chars().take(MAX_FRAME_NAME).collect(),
                None => format!("<wasm function {}>", frame.func_index()),
            };
            detail.push_str(&format!("\n  {i:>2}: {module}!{func}"));
        }
        if frames.len() > MAX_TRAP_FRAMES {
            detail.push_str(&format!(
                "\n  ... {} more frames",
                frames.len() - MAX_TRAP_FRAMES
            ));
        }
    }
    let tail: Vec<&str> = stderr.lines().rev().take(TRAP_STDERR_LINES).collect();
    if !tail.is_empty() {
        detail.push_str("\nlast lines of stderr:");
        for line in tail.into_iter().rev() {
            detail.push_str("\n  ");
            detail.push_str(line);
        }
    }
    cap(detail.trim_end(), MAX_TRAP_DETAIL)
}

/// `text` cut to at most `max` bytes (on a character boundary), marked when cut.
fn cap(text: &str, max: usize) -> String {
    const MARK: &str = " [...]";
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// How the future of an invocation ended.
pub(crate) enum RawOutcome<T> {
    Done(wasmtime::Result<T>),
    TimedOut,
}

/// Runs the invocation's future under the host-side deadline (for plugins blocked in a host
/// call, where epoch interruption cannot reach them).
pub(crate) async fn finish<T>(
    fut: impl Future<Output = wasmtime::Result<T>>,
    deadline: Duration,
) -> RawOutcome<T> {
    let started = std::time::Instant::now();
    let outcome = match tokio::time::timeout(deadline + DEADLINE_GRACE, fut).await {
        Ok(r) => RawOutcome::Done(r),
        Err(_) => RawOutcome::TimedOut,
    };
    crate::metrics::invocation(started.elapsed());
    outcome
}

/// Extracts a Rust panic message ("panicked at FILE:LINE:COL:\nMESSAGE") from stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let rest = &stderr[start + "panicked at ".len()..];
    let (location, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let location = location.trim_end_matches(':');
    let message: Vec<&str> = body
        .lines()
        .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace"))
        .collect();
    let message = message.join(" ");
    let message = message.trim();
    Some(if message.is_empty() {
        format!("panic at {location}")
    } else {
        format!("{message} (at {location})")
    })
}

fn version_to_wit(v: &Version) -> Vec<wit::Pair> {
    v.pairs()
        .map(|(n, v)| wit::Pair {
            name: n.to_owned(),
            value: v.to_owned(),
        })
        .collect()
}

/// Which kind of pairs [`check_fields`] checks: their count has its own limit.
#[derive(Clone, Copy)]
pub(crate) enum Fields {
    Version,
    Metadata,
}

/// Refuses `pairs` with more entries than `limits` allow for their kind, or an entry of more
/// than `limits.field_bytes`, naming the `limits:` key that raises it.
pub(crate) fn check_fields(
    pairs: &[wit::Pair],
    limits: &Limits,
    kind: Fields,
    what: &str,
) -> Result<(), OutputError> {
    let (max, key) = match kind {
        Fields::Version => (limits.version_fields, "version_fields"),
        Fields::Metadata => (limits.metadata_entries, "metadata_entries"),
    };
    if pairs.len() > max {
        return Err(OutputError::TooLarge {
            what: format!("{what} has {} fields", pairs.len()),
            limit: max,
            key,
        });
    }
    if let Some(p) = pairs
        .iter()
        .find(|p| p.name.len() + p.value.len() > limits.field_bytes)
    {
        let mut name = p.name.clone();
        name.truncate(name.floor_char_boundary(64));
        return Err(OutputError::TooLarge {
            what: format!(
                "field `{name}` of {what} has {} bytes",
                p.name.len() + p.value.len()
            ),
            limit: limits.field_bytes,
            key: "field_size",
        });
    }
    Ok(())
}

/// [`check_fields`] on the version and the metadata of a `get` or `put`.
pub(crate) fn check_fetched(fetched: &wit::Fetched, limits: &Limits) -> Result<(), OutputError> {
    check_fields(&fetched.version, limits, Fields::Version, "the version")?;
    check_fields(&fetched.metadata, limits, Fields::Metadata, "the metadata")
}

/// `message` cut to `max` bytes, saying how much was cut.
pub(crate) fn cut_message(mut message: String, max: usize) -> String {
    if message.len() <= max {
        return message;
    }
    let cut = message.floor_char_boundary(max);
    let rest = message.len() - cut;
    message.truncate(cut);
    message.push_str(&format!(" … ({rest} more bytes cut)"));
    message
}

fn version_from_wit(v: Vec<wit::Pair>) -> Result<Version, InvalidVersion> {
    Version::from_pairs(v.into_iter().map(|p| (p.name, p.value)))
}

pub(crate) fn fetched_from_wit(f: wit::Fetched) -> Result<Fetched, InvalidVersion> {
    Ok(Fetched {
        version: version_from_wit(f.version)?,
        metadata: f.metadata.into_iter().map(|p| (p.name, p.value)).collect(),
    })
}

/// Refuses a report with more suites and cases, or more bytes of names and messages, than
/// `limits` allow, naming the `limits:` key that raises it. Each case counts like a stored row
/// and every byte is served by the API and the dashboard, hence both bounds.
pub(crate) fn check_report(report: &wit::TestReport, limits: &Limits) -> Result<(), OutputError> {
    let cases: usize = report.suites.iter().map(|s| 1 + s.cases.len()).sum();
    if cases > limits.report_cases {
        return Err(OutputError::TooLarge {
            what: format!("the report has {cases} suites and cases"),
            limit: limits.report_cases,
            key: "report_cases",
        });
    }
    let bytes: usize = report
        .suites
        .iter()
        .flat_map(|s| {
            std::iter::once(s.name.len()).chain(
                s.cases
                    .iter()
                    .map(|c| c.name.len() + c.message.as_ref().map_or(0, String::len)),
            )
        })
        .sum();
    if bytes > limits.report_bytes {
        return Err(OutputError::TooLarge {
            what: format!("the report's names and messages have {bytes} bytes"),
            limit: limits.report_bytes,
            key: "report_size",
        });
    }
    Ok(())
}

pub(crate) fn report_from_wit(r: wit::TestReport) -> TestReport {
    TestReport {
        suites: r
            .suites
            .into_iter()
            .map(|s| TestSuite {
                name: s.name,
                cases: s
                    .cases
                    .into_iter()
                    .map(|c| TestCase {
                        name: c.name,
                        status: match c.status {
                            wit::CaseStatus::Passed => CaseStatus::Passed,
                            wit::CaseStatus::Failed => CaseStatus::Failed,
                            wit::CaseStatus::Skipped => CaseStatus::Skipped,
                            wit::CaseStatus::Errored => CaseStatus::Errored,
                        },
                        duration_ms: c.duration_ms,
                        message: c.message,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn description_from_wit(d: wit::Description) -> Result<Description, OutputError> {
    let schema = |what: &'static str,
                  s: Option<String>|
     -> Result<Option<serde_json::Value>, OutputError> {
        s.map(|s| serde_json::from_str(&s).map_err(|reason| OutputError::Schema { what, reason }))
            .transpose()
    };
    if d.name.is_empty()
        || !d
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(OutputError::Name(d.name));
    }
    if d.version.trim().is_empty() {
        return Err(OutputError::EmptyVersion);
    }
    Ok(Description {
        name: d.name,
        version: d.version,
        kind: match d.kind {
            wit::PluginKind::ResourceType => PluginKind::ResourceType,
            wit::PluginKind::TestStep => PluginKind::TestStep,
        },
        summary: d.summary,
        source_schema: schema("source", d.source_schema)?,
        get_params_schema: schema("get params", d.get_params_schema)?,
        put_params_schema: schema("put params", d.put_params_schema)?,
        config_schema: schema("config", d.config_schema)?,
        capabilities: Capabilities {
            network: d
                .capabilities
                .network
                .into_iter()
                .map(|n| NetworkRequest {
                    host: n.host,
                    port: n.port,
                    reason: n.reason,
                })
                .collect(),
            env: d.capabilities.env,
            dirs: d.capabilities.dirs,
        },
    })
}

/// Builds the component's copy-on-write memory images now, at load, rather than in the first
/// instantiation (where a failure would look like the plugin crashing).
///
/// On Linux wasmtime writes each image into a memfd and seals it; the kernel refuses the seal
/// with `EBUSY` while a page just written is still referenced elsewhere (seen once in CI: a
/// JavaScript plugin's `describe` "crashed" with `cannot add seals to the memfd`). That refusal
/// is transient, and an image that failed is not remembered, so a few retries spaced out
/// settle it; images already built are kept between tries.
fn initialize_memory_images(component: &Component) -> wasmtime::Result<()> {
    const TRIES: u32 = 5;
    let mut attempt = 1;
    loop {
        match component.initialize_copy_on_write_image() {
            Ok(()) => return Ok(()),
            Err(e) if attempt < TRIES && is_transient_busy(&e) => {
                tracing::debug!(
                    "memory image not sealed yet (attempt {attempt} of {TRIES}): {e:#}"
                );
                std::thread::sleep(Duration::from_millis(20 << attempt));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `e` is the kernel's transient `EBUSY`.
fn is_transient_busy(e: &wasmtime::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(16))
            || cause.to_string().contains("os error 16")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(suites: usize, cases: usize, message: &str) -> wit::TestReport {
        wit::TestReport {
            suites: (0..suites)
                .map(|s| wit::TestSuite {
                    name: format!("s{s}"),
                    cases: (0..cases)
                        .map(|c| wit::TestCase {
                            name: format!("c{c}"),
                            status: wit::CaseStatus::Passed,
                            duration_ms: 1,
                            message: Some(message.to_owned()),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_report_is_bounded_in_cases_and_bytes() {
        let limits = Limits {
            report_cases: 10,
            report_bytes: 100,
            ..Limits::default()
        };
        // 2 suites of 4 cases: 10 rows; 2 × 2 + 8 × (2 + 5) = 60 bytes.
        assert!(check_report(&report(2, 4, "12345"), &limits).is_ok());
        let e = check_report(&report(2, 5, ""), &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the report has 12 suites and cases, more than the limit of 10; the plugin's type can raise it with `limits: {report_cases: …}` (README, \"The sandbox\")"
        );
        let e = check_report(&report(1, 2, &"x".repeat(60)), &limits).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "the report's names and messages have 126 bytes, more than the limit of 100; the plugin's type can raise it with `limits: {report_size: …}`"
            ),
            "{e}"
        );
    }

    #[test]
    fn only_the_kernels_busy_answer_is_retried() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot add seals to the memfd")]
        struct Seal(#[source] std::io::Error);
        let busy = wasmtime::Error::new(Seal(std::io::Error::from_raw_os_error(16)));
        assert!(is_transient_busy(&busy));
        let denied = wasmtime::Error::new(Seal(std::io::Error::from_raw_os_error(1)));
        assert!(!is_transient_busy(&denied));
        assert!(!is_transient_busy(&wasmtime::Error::msg("out of memory")));
    }

    #[test]
    fn classifies_non_wasm_core_and_component_headers() {
        let p = Path::new("x.wasm");
        assert!(matches!(
            classify(p, b"hello world"),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(
            classify(p, b"\0asm"),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(
            classify(p, b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule { .. })
        ));
        assert!(classify(p, b"\0asm\x0d\0\x01\0").is_ok());
    }

    /// A core module whose export `f` calls `depth - 1` nested functions, the last of which
    /// executes `unreachable`.
    fn trapping_module(depth: u8) -> Vec<u8> {
        assert!((1..100).contains(&depth));
        let section = |id: u8, body: Vec<u8>| {
            let mut s = vec![id, u8::try_from(body.len()).unwrap()];
            s.extend(body);
            s
        };
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend(section(1, vec![1, 0x60, 0, 0]));
        let mut funcs = vec![depth];
        funcs.extend(std::iter::repeat_n(0, usize::from(depth)));
        m.extend(section(3, funcs));
        m.extend(section(7, vec![1, 1, b'f', 0, 0]));
        let mut code = vec![depth];
        for i in 0..depth {
            if i + 1 < depth {
                code.extend([4, 0, 0x10, i + 1, 0x0b]);
            } else {
                code.extend([3, 0, 0x00, 0x0b]);
            }
        }
        m.extend(section(10, code));
        m
    }

    /// The error of calling `f` of [`trapping_module`].
    fn trap(depth: u8) -> wasmtime::Error {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, trapping_module(depth)).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_func(&mut store, "f").unwrap();
        f.call(&mut store, &[], &mut []).unwrap_err()
    }

    #[test]
    fn trap_details_have_the_trap_a_short_guest_backtrace_and_no_host_frames() {
        let e = trap(15);
        assert_eq!(
            e.downcast_ref::<Trap>(),
            Some(&Trap::UnreachableCodeReached)
        );
        let detail = trap_detail(&e, "starting\nsomething went wrong\n");
        assert!(
            detail.starts_with("wasm trap: wasm `unreachable` instruction executed"),
            "{detail}"
        );
        assert!(detail.contains("\nguest backtrace:\n   0: "), "{detail}");
        assert!(detail.contains("\n   9: "), "{detail}");
        assert!(!detail.contains("\n  10: "), "{detail}");
        assert!(detail.contains("... 5 more frames"), "{detail}");
        assert!(
            detail.ends_with("last lines of stderr:\n  starting\n  something went wrong"),
            "{detail}"
        );
        // Whatever `{:?}` adds (a host backtrace when RUST_BACKTRACE is set), none of it.
        for host in [
            "Stack backtrace",
            ".rs:",
            "lockgate_plugin_host",
            "Caused by",
        ] {
            assert!(!detail.contains(host), "{host} in {detail}");
        }
    }

    #[test]
    fn trap_details_are_capped() {
        let stderr = "x".repeat(3000) + "\n" + &"é".repeat(3000);
        let detail = trap_detail(&trap(1), &stderr);
        assert!(detail.len() <= MAX_TRAP_DETAIL, "{}", detail.len());
        assert!(detail.ends_with(" [...]"), "{detail}");
        assert!(detail.starts_with("wasm trap: "), "{detail}");
    }

    #[test]
    fn extracts_rust_panic_messages() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr).unwrap(), "boom (at src/lib.rs:10:5)");
        assert_eq!(panic_message("no panic here"), None);
    }
}
