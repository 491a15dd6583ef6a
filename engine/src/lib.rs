//! Lockgate: a sandboxed CI/CD promotion engine.
//!
//! Everything that touches the outside world is a WebAssembly component plugin (see `wit/`);
//! this crate is the host that loads and runs them, and the `lockgate` command line.
//!
//! Modules, one per concern:
//! - [`plugin_host`]: load plugin components and run each invocation in a fresh sandbox;
//! - [`cli`]: the `lockgate` command line.

pub mod cli;
pub mod plugin_host;
