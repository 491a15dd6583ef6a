//! The build log, through the host's `log` import.
//!
//! Each call writes one entry at once, streamed to the build log while the plugin runs.
//! The [`trace!`](crate::trace), [`debug!`](crate::debug), [`info!`](crate::info),
//! [`warn!`](crate::warn) and [`error!`](crate::error) macros take `format!` arguments.
//! (stdout and stderr also reach the build log, but without a level.)
//!
//! Where there is no host to log to, entries go to stderr as `level: message`: in native
//! builds (a plugin's native unit tests) and in builds with the feature `testing` (its unit
//! tests as `wasm32-wasip2` components, run without the engine by `tests/wasm-runner`).

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing, hidden by default.
    Trace,
    /// Diagnostics for plugin authors.
    Debug,
    /// Progress an operator wants to see.
    Info,
    /// Something looks wrong but the operation goes on.
    Warn,
    /// The operation is failing.
    Error,
}

/// Writes `message` to the build log at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    write(level, message.as_ref());
}

/// In a component: the host's `log` import.
#[cfg(all(target_arch = "wasm32", not(feature = "testing")))]
fn write(level: Level, message: &str) {
    use crate::bindings::host;
    let level = match level {
        Level::Trace => host::Level::Trace,
        Level::Debug => host::Level::Debug,
        Level::Info => host::Level::Info,
        Level::Warn => host::Level::Warn,
        Level::Error => host::Level::Error,
    };
    host::log(level, message);
}

/// In unit tests (no host): stderr.
#[cfg(any(not(target_arch = "wasm32"), feature = "testing"))]
fn write(level: Level, message: &str) {
    let level = match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    eprintln!("{level}: {message}");
}

/// Logs at [`Level::Trace`].
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Logs at [`Level::Debug`].
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Logs at [`Level::Info`].
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Logs at [`Level::Warn`].
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Logs at [`Level::Error`].
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}

/// Logs a `format!` message at trace level: `lockgate_sdk::trace!("read {n} bytes")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::trace(::std::format!($($arg)+)) };
}

/// Logs a `format!` message at debug level: `lockgate_sdk::debug!("cache hit for {key}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::debug(::std::format!($($arg)+)) };
}

/// Logs a `format!` message at info level: `lockgate_sdk::info!("found {} versions", n)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::info(::std::format!($($arg)+)) };
}

/// Logs a `format!` message at warn level: `lockgate_sdk::warn!("retrying {url}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::warn(::std::format!($($arg)+)) };
}

/// Logs a `format!` message at error level: `lockgate_sdk::error!("giving up: {e}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::error(::std::format!($($arg)+)) };
}
