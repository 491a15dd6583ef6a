//! Errors of the plugin host: loading a component, setting up a sandbox, and invoking a plugin
//! or a task (whose errors name the task where a plugin's name the plugin).
//!
//! Every message names the plugin (or file) and says what an operator can do about it. A
//! wasmtime error is kept whole as the [`source`](std::error::Error::source) of ours (its
//! chain of causes intact, never repeated in our message): show these errors with their
//! causes ([`lockgate_model::Report`], `anyhow`'s `{:#}`). Traps are the exception: their
//! [`InvokeError::Trap::detail`] is a bounded text (the trap, a short guest backtrace, the
//! last lines of stderr) made to be shown and stored with a build, without host frames.

use std::path::PathBuf;
use std::time::Duration;

use lockgate_model::{BoxError, GrantError, InvalidVersion, Operation, PluginKind, humanize};

/// Why a file could not be loaded as a Lockgate plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read plugin `{path}`: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file does not start with the WebAssembly magic number.
    #[error(
        "`{path}` is not a WebAssembly file (it does not start with `\\0asm`); a plugin must be a WebAssembly component built for wasm32-wasip2"
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core WebAssembly module rather than a component.
    #[error(
        "`{path}` is a core WebAssembly module, not a component; build it for the `wasm32-wasip2` target or wrap it with `wasm-tools component new`"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component failed to parse, validate or compile (for example a truncated file).
    #[error("`{path}` is not a valid WebAssembly component (truncated or corrupt?)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What wasmtime reported (its whole chain).
        #[source]
        source: BoxError,
    },
    /// The component exports neither Lockgate world.
    #[error(
        "`{path}` does not implement a Lockgate plugin world: expected an export of `{resource}` (world `resource-type`) or `{test}` (world `test-step`); it exports {found}"
    )]
    WrongWorld {
        /// The file.
        path: PathBuf,
        /// Expected resource-type export.
        resource: &'static str,
        /// Expected test-step export.
        test: &'static str,
        /// What it does export.
        found: String,
    },
    /// A file loaded as a task is not a `wasi:cli/command` component.
    #[error(
        "`{path}` is not a task: a task is a `wasi:cli/command` component (a program built for wasm32-wasip2); {found}"
    )]
    NotATask {
        /// The file.
        path: PathBuf,
        /// What it is instead (`it exports …`, `it is a core WebAssembly module …`).
        found: String,
    },
    /// The component was built against another version of the Lockgate contract.
    #[error(
        "`{path}` was built against `{found}`, but this engine speaks `lockgate:plugin@{supported}`; rebuild the plugin against the WIT in this release's `wit/` folder"
    )]
    ContractVersion {
        /// The file.
        path: PathBuf,
        /// The export found.
        found: String,
        /// The contract version the engine implements.
        supported: &'static str,
    },
    /// The component needs an import the sandbox does not provide, or its exports have the
    /// wrong types.
    #[error("`{path}` cannot be linked into the Lockgate sandbox")]
    Link {
        /// The file.
        path: PathBuf,
        /// What is missing or mismatched (wasmtime's error, whole).
        #[source]
        source: BoxError,
    },
    /// The component exports both worlds.
    #[error(
        "`{path}` cannot be linked into the Lockgate sandbox: it exports both the resource-type and the test-step interfaces; a plugin implements one world"
    )]
    BothWorlds {
        /// The file.
        path: PathBuf,
    },
    /// `describe` failed or returned something unusable.
    #[error("`{path}`: `describe` failed")]
    Describe {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<InvokeError>,
    },
    /// `describe` names another kind than the world the component implements.
    #[error("`{path}`: `describe` failed: it says it is a {said} but implements world `{world}`")]
    DescribeKind {
        /// The file.
        path: PathBuf,
        /// The kind `describe` returned.
        said: PluginKind,
        /// The world the component implements.
        world: PluginKind,
    },
}

/// The plugin's own verdict on a failed operation (the WIT `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    /// `source`/`params`/`config` is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

/// Why a plugin's answer breaks the contract.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A version is not a valid list of fields.
    #[error(transparent)]
    Version(#[from] InvalidVersion),
    /// A schema of `describe` is not JSON.
    #[error("its {what} schema is not JSON: {reason}")]
    Schema {
        /// Which schema (`source`, `get params`, ...).
        what: &'static str,
        /// What the JSON parser said.
        reason: serde_json::Error,
    },
    /// `describe` returned an unusable name.
    #[error("its name `{0}` must be non-empty letters, digits, `-`, `_` or `.`")]
    Name(String),
    /// `describe` returned an empty version.
    #[error("its version is empty")]
    EmptyVersion,
    /// A result is larger than a limit of the sandbox.
    #[error(
        "{what}, more than the limit of {limit}; the plugin's type can raise it with `limits: {{{key}: …}}` (README, \"The sandbox\")"
    )]
    TooLarge {
        /// What was too large, with its size.
        what: String,
        /// The limit.
        limit: usize,
        /// The key of a plugin type's `limits:` that sets it.
        key: &'static str,
    },
}

/// Who did what, at the head of a message: "plugin `counter` check", or "task `render`"
/// (a task step's program has no operation of its own).
struct Doing<'a>(&'a str, Operation);

impl Doing<'_> {
    /// "plugin `counter`" or "task `render`", without the operation.
    fn whose(&self) -> String {
        format!("{} `{}`", noun(self.1), self.0)
    }
}

impl std::fmt::Display for Doing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Operation::Task => write!(f, "task `{}`", self.0),
            op => write!(f, "plugin `{}` {op}", self.0),
        }
    }
}

/// "2 s check" (a plugin's deadline of `check`), or "2 s" (a task's).
struct DeadlineOf(String, Operation);

impl std::fmt::Display for DeadlineOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Operation::Task => f.write_str(&self.0),
            op => write!(f, "{} {op}", self.0),
        }
    }
}

/// "plugin", or "task" for a task step's program.
fn noun(op: Operation) -> &'static str {
    if op == Operation::Task {
        "task"
    } else {
        "plugin"
    }
}

/// What the user can do about a missed deadline of `op`.
fn deadline_hint(op: Operation) -> &'static str {
    match op {
        Operation::Check => {
            "if the check is legitimately slow, raise the resource's `check_timeout`"
        }
        Operation::Get | Operation::Put | Operation::Run | Operation::Task => {
            "if the work is legitimately slow, raise the step's `timeout`"
        }
        Operation::Describe => {
            "`describe` only returns the plugin's description and its deadline cannot be raised: the plugin must answer it without doing any work"
        }
    }
}

/// Why an invocation of a loaded plugin did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The plugin ran and reported an error.
    #[error("{} failed: {failure}", Doing(plugin, *op))]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The plugin's error.
        failure: PluginFailure,
    },
    /// The operation ran past its deadline and was stopped.
    #[error(
        "{} exceeded its {} deadline and was stopped; {}",
        Doing(plugin, *op).whose(),
        DeadlineOf(humanize(*limit), *op),
        deadline_hint(*op)
    )]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The deadline.
        limit: Duration,
    },
    /// The plugin tried to use more memory than it is allowed.
    #[error(
        "{} hit its memory limit of {} MiB and was stopped; raise the {}'s `memory` limit if it legitimately needs more",
        Doing(plugin, *op),
        limit / (1024 * 1024),
        noun(*op)
    )]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The limit in bytes.
        limit: u64,
    },
    /// The plugin wrote or created more on disk than it is allowed.
    #[error(
        "{} went past its disk limit of {limit} and was stopped; {} can raise it with `limits: {{{key}: …}}`",
        Doing(plugin, *op),
        if *op == Operation::Task { "the task step" } else { "the plugin's type" }
    )]
    DiskLimit {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The limit, with its unit (`8 GiB written`, `100000 files created`).
        limit: String,
        /// The key of a plugin type's `limits:` that sets it.
        key: &'static str,
    },
    /// The guest overflowed its stack (unbounded recursion).
    #[error(
        "{} overflowed its stack (unbounded recursion?) and was stopped",
        Doing(plugin, *op)
    )]
    StackOverflow {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
    },
    /// The guest panicked.
    #[error("{} panicked: {message}", Doing(plugin, *op))]
    Panicked {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The panic message as the guest printed it.
        message: String,
    },
    /// Any other trap (unreachable, out-of-bounds access, ...).
    #[error("{} crashed: {detail}", Doing(plugin, *op))]
    Trap {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The trap, a short guest backtrace and the last lines of stderr; never host frames,
        /// at most [`crate::MAX_TRAP_DETAIL`] bytes.
        detail: String,
    },
    /// The plugin returned a value that breaks the contract (e.g. a version with a duplicate
    /// field, a schema that is not JSON).
    #[error("plugin `{plugin}` {op} returned an invalid result: {reason}")]
    InvalidOutput {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// What is wrong.
        reason: OutputError,
    },
    /// The operation is not part of the plugin's world (e.g. `check` on a test step).
    #[error("plugin `{plugin}` is a {kind} and has no `{op}` operation")]
    Unsupported {
        /// Plugin name.
        plugin: String,
        /// Its kind.
        kind: crate::PluginKind,
        /// The operation asked for.
        op: Operation,
    },
    /// The sandbox could not be set up.
    #[error("{}: {error}", Doing(plugin, *op))]
    Grant {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// The unusable grant.
        error: GrantError,
    },
    /// The engine could not create an instance (e.g. too many invocations at once).
    #[error("{}: cannot start a sandbox", Doing(plugin, *op))]
    Instantiate {
        /// Plugin name.
        plugin: String,
        /// Operation.
        op: Operation,
        /// Why (wasmtime's error, whole).
        #[source]
        source: BoxError,
    },
}

impl InvokeError {
    /// True when the plugin itself reported the failure (as opposed to being stopped by the
    /// sandbox or crashing).
    pub fn is_plugin_failure(&self) -> bool {
        matches!(self, InvokeError::Plugin { .. })
    }
}

/// The engine could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Wasmtime refused the configuration.
    #[error("cannot configure the WebAssembly engine")]
    Engine(#[source] BoxError),
    /// The compiled-code cache directory is unusable.
    #[error("cannot use compiled-plugin cache directory `{path}`: {error}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A CA certificate file given to the engine is unusable.
    #[error(transparent)]
    CaFile(#[from] crate::tls::CaFileError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_message_names_plugin_limit_and_operation() {
        let e = InvokeError::Deadline {
            plugin: "git".into(),
            op: Operation::Check,
            limit: Duration::from_secs(60),
        };
        assert_eq!(
            e.to_string(),
            "plugin `git` exceeded its 60 s check deadline and was stopped; if the check is legitimately slow, raise the resource's `check_timeout`"
        );
        let describe = InvokeError::Deadline {
            plugin: "git".into(),
            op: Operation::Describe,
            limit: Duration::from_secs(10),
        };
        let text = describe.to_string();
        assert!(text.contains("cannot be raised"), "{text}");
        assert!(!text.contains("timeout"), "{text}");
    }
}
