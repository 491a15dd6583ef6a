//! Tasks: programs of the standard `wasi:cli/command` world (anything built for
//! `wasm32-wasip2` as an executable) run in the same kind of sandbox as plugins.
//!
//! This module owns loading a task ([`PluginHost::load_task`]: the same compiled-code cache and
//! copy-on-write images as plugins, and the check that the component exports `wasi:cli/run`)
//! and running it ([`Task::run`]): its arguments, its params as environment variables, its
//! directories, its exit code.
//!
//! **Where a task finds its directories.** Each input is mounted read-only, each output and
//! cache read-write, as a preopen named `/<name>`. A program's working directory is `/`:
//! wasi-libc (under Rust's `std` and C) starts there and makes a relative path absolute against
//! it before matching it with the preopens, so a program written for Concourse reads
//! `config/manifests/app.yml` and writes `rendered/out.yml` relative to where it runs, and
//! `/config/manifests/app.yml` names the same file (both proven by the host tests, as is
//! `config/../x` being refused inside the guest).
//!
//! Everything else is as for plugins: the [`Grants`] (directories at `/dirs/<name>`,
//! environment, network hosts through the same `wasi:sockets` and `wasi:http` checks), clocks
//! and random numbers, the file-system guard and disk budget, the memory cap, the deadline
//! (the [`Limits`] of a test's `run`), and stdout and stderr streamed into the [`LogSink`] line
//! by line as they are written, capped like a plugin's output (shown escaped where a plugin's
//! is). Nothing else of the host. Errors are [`InvokeError`]s of operation `run` naming the
//! task.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit};

use super::cache::CacheOutcome;
use super::error::{InvokeError, LoadError};
use super::output::{Capture, LogSink};
use super::plugin::{
    RawOutcome, Sandbox, classify, finish, outcome, read_component, top_level_exports,
};
use super::sandbox::{self, CtxSpec, HostState, Mount};
use super::{PluginHost, Shared};
use lockgate_model::{GrantError, Grants, Limits, Operation};

/// The interface a command component exports (any 0.2.x version).
pub const TASK_EXPORT: &str = "wasi:cli/run@0.2";

/// The operation a task's errors and deadline are those of: a test step's `run`.
const TASK_OP: Operation = Operation::Task;

/// A task ready to run. Cheap to clone and safe to share between tasks.
#[derive(Clone)]
pub struct Task {
    inner: Arc<TaskInner>,
    name: String,
}

struct TaskInner {
    shared: Arc<Shared>,
    path: PathBuf,
    digest: String,
    pre: CommandPre<HostState>,
    cache: CacheOutcome,
}

/// A directory of a task, seen by the program as `<name>` in its working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDir {
    /// Where the program sees it, relative to its working directory `/`: segments of
    /// letters, digits, `-`, `_` and `.` separated by `/` (`config`, `src/app`).
    pub name: String,
    /// The directory on the host.
    pub path: PathBuf,
}

impl TaskDir {
    /// `path` seen as `name`.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
        }
    }
}

/// What one run of a task gets: its arguments, variables, directories, grants and limits.
#[derive(Debug, Clone, Default)]
pub struct TaskInvocation {
    /// The program's arguments after `argv[0]` (which is the task's name).
    pub args: Vec<String>,
    /// The task's params: its environment variables, besides `grants.env` (a name in both is
    /// refused).
    pub params: Vec<(String, String)>,
    /// Directories mounted read-only.
    pub inputs: Vec<TaskDir>,
    /// Directories mounted read-write, for later steps.
    pub outputs: Vec<TaskDir>,
    /// Directories mounted read-write, kept between runs.
    pub caches: Vec<TaskDir>,
    /// Directories at `/dirs/<name>`, environment, network hosts and CA certificates, as for a
    /// plugin (its `inputs`, `output` and `cache`, if any, at a plugin's places).
    pub grants: Grants,
    /// Memory, deadline (the `run` deadline), output size, disk.
    pub limits: Limits,
}

/// How a task's program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskExit {
    /// Its exit code: 0 when `main` returned, the code given to `wasi:cli/exit.exit-with-code`,
    /// 1 for a program that reported failure without a code (`wasi:cli/exit.exit(err)`; that
    /// is what Rust's `std::process::exit(n)` does today for any `n` other than 0).
    pub code: i32,
}

impl TaskExit {
    /// Whether the program succeeded (exit code 0).
    pub fn success(self) -> bool {
        self.code == 0
    }
}

impl PluginHost {
    /// Loads the `wasi:cli/command` component in `path` as a task named after the file.
    pub async fn load_task(&self, path: impl AsRef<Path>) -> Result<Task, LoadError> {
        let path = path.as_ref();
        self.load_task_bytes(path, read_component(path).await?)
            .await
    }

    /// Loads a task from `bytes`; `path` names it in messages and gives its default name.
    pub async fn load_task_bytes(&self, path: &Path, bytes: Vec<u8>) -> Result<Task, LoadError> {
        let path = path.to_path_buf();
        let not_a_task = |found: String| LoadError::NotATask {
            path: path.clone(),
            found,
        };
        match classify(&path, &bytes) {
            Ok(()) => {}
            Err(LoadError::NotWasm { .. }) => {
                return Err(not_a_task(
                    "it is not WebAssembly (it does not start with `\\0asm`)".into(),
                ));
            }
            Err(LoadError::CoreModule { .. }) => {
                return Err(not_a_task(
                    "it is a core WebAssembly module, not a component (build it for the `wasm32-wasip2` target or wrap it with `wasm-tools component new`)".into(),
                ));
            }
            Err(e) => return Err(e),
        }
        // Refuse a plugin or any other world before compiling it.
        if let Some(exports) = top_level_exports(&bytes) {
            check_exports(&exports).map_err(not_a_task)?;
        }
        let digest = lockgate_model::sha256_hex([&bytes]);
        let (component, cache) = self.compile(&path, bytes, &digest).await?;
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.shared.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        check_exports(&exports).map_err(not_a_task)?;

        let link = |e: wasmtime::Error| LoadError::Link {
            path: path.clone(),
            source: e.into_boxed_dyn_error(),
        };
        let instance_pre = self
            .shared
            .linker
            .instantiate_pre(&component)
            .map_err(link)?;
        let pre = CommandPre::new(instance_pre).map_err(link)?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("task")
            .to_owned();
        Ok(Task {
            inner: Arc::new(TaskInner {
                shared: self.shared.clone(),
                path,
                digest,
                pre,
                cache,
            }),
            name,
        })
    }
}

/// Whether `exports` make a command; if not, what they are, for the message.
fn check_exports(exports: &[String]) -> Result<(), String> {
    let prefix = format!("{TASK_EXPORT}.");
    if exports.iter().any(|e| e.starts_with(&prefix)) {
        return Ok(());
    }
    if exports.is_empty() {
        return Err("it exports nothing".into());
    }
    let list = exports
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let plugin = exports.iter().any(|e| e.starts_with("lockgate:plugin/"));
    Err(if plugin {
        format!("it exports {list}: it is a Lockgate plugin, run by a resource or a test step")
    } else {
        format!("it exports {list}")
    })
}

impl Task {
    /// The task's name: `argv[0]`, and the name its errors give (the file's stem unless
    /// renamed with [`Task::with_name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same task under another name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
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

    /// Runs the program once in a fresh sandbox, its stdout and stderr streamed into `log`.
    ///
    /// A program that returns from `main` or calls `exit` gives its [`TaskExit`] (a non-zero
    /// code is the program's verdict, not an error). Stopped by the sandbox, it gives the
    /// error a plugin's `run` would: [`InvokeError::Deadline`], [`InvokeError::MemoryLimit`],
    /// [`InvokeError::DiskLimit`], a trap or a panic, naming the task.
    pub async fn run(
        &self,
        inv: &TaskInvocation,
        log: Arc<dyn LogSink>,
    ) -> Result<TaskExit, InvokeError> {
        let shared = &self.inner.shared;
        let grant_error = |error| InvokeError::Grant {
            plugin: self.name.clone(),
            op: TASK_OP,
            error,
        };
        let mut env = inv.grants.env.clone();
        for (name, value) in &inv.params {
            if env.iter().any(|(n, _)| n == name) {
                return Err(grant_error(GrantError::Duplicate {
                    what: "environment variable",
                    name: name.clone(),
                }));
            }
            env.push((name.clone(), value.clone()));
        }
        // The working directory is `/`. wasi-libc starts there on its own; Go's wasip1 port
        // takes it from `PWD` (else from the first preopen), so say it.
        if !env.iter().any(|(n, _)| n == "PWD") {
            env.push(("PWD".into(), "/".into()));
        }
        let mut mounts = sandbox::grant_mounts(&inv.grants);
        for (dirs, what, perms) in [
            (&inv.inputs, "input", FsPerms::ReadOnly),
            (&inv.outputs, "output", FsPerms::ReadWrite),
            (&inv.caches, "cache", FsPerms::ReadWrite),
        ] {
            mounts.extend(dirs.iter().map(|d| Mount {
                what,
                name: &d.name,
                path: &d.path,
                guest: format!("/{}", d.name),
                perms,
            }));
        }
        let args: Vec<String> = std::iter::once(self.name.clone())
            .chain(inv.args.iter().cloned())
            .collect();
        let spec = CtxSpec {
            mounts: &mounts,
            env: &env,
            args: &args,
            network: &inv.grants.network,
            who: "task",
        };
        let capture = Capture::for_task(log, inv.limits.output_bytes);
        let ctx = sandbox::build_ctx(&spec, &capture, shared.config.inline_fs)
            .await
            .map_err(grant_error)?;
        let mut sb = Sandbox::new(shared, TASK_OP, ctx, capture, &inv.grants, &inv.limits);
        let pre = &self.inner.pre;
        let fut = async {
            let command = pre.instantiate_async(&mut sb.store).await?;
            command.wasi_cli_run().call_run(&mut sb.store).await
        };
        let raw = match finish(fut, sb.deadline).await {
            RawOutcome::Done(Ok(Ok(()))) => RawOutcome::Done(Ok(0)),
            RawOutcome::Done(Ok(Err(()))) => RawOutcome::Done(Ok(1)),
            // `exit(n)` unwinds the guest with this error.
            RawOutcome::Done(Err(e)) => match e.downcast_ref::<I32Exit>() {
                Some(&I32Exit(code)) => RawOutcome::Done(Ok(code)),
                None => RawOutcome::Done(Err(e)),
            },
            RawOutcome::TimedOut => RawOutcome::TimedOut,
        };
        outcome(&self.name, TASK_OP, raw, &sb).map(|code| TaskExit { code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wasi_cli_run_export_makes_a_task() {
        assert!(check_exports(&["wasi:cli/run@0.2.0".into()]).is_ok());
        assert!(check_exports(&["wasi:cli/run@0.2.6".into(), "x".into()]).is_ok());
        assert_eq!(
            check_exports(&["wasi:cli/run@0.3.0".into()]).unwrap_err(),
            "it exports `wasi:cli/run@0.3.0`"
        );
        assert_eq!(check_exports(&[]).unwrap_err(), "it exports nothing");
        assert_eq!(
            check_exports(&["lockgate:plugin/resource-ops@0.1.0".into()]).unwrap_err(),
            "it exports `lockgate:plugin/resource-ops@0.1.0`: it is a Lockgate plugin, run by a resource or a test step"
        );
    }
}
