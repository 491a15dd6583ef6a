//! Lockgate: a sandboxed CI/CD promotion engine.
//!
//! Everything that touches the outside world is a WebAssembly component plugin (see `wit/`).
//! This crate is the `lockgate` command line, a thin layer over the engine's crates, which it
//! re-exports under the names a reader looks for:
//!
//! - [`model`] (`lockgate-model`): versions, descriptions, reports, grants, limits, statuses;
//! - [`config`] (`lockgate-config`): the pipeline file: parsing, variables, validation;
//! - [`registry`] (`lockgate-registry`): the plugin registry directory and `lockgate.lock`;
//! - [`plugin_host`] (`lockgate-plugin-host`): load plugin components, run each invocation
//!   in a fresh sandbox;
//! - [`store`] (`lockgate-store`): durable state (SQLite embedded, PostgreSQL for several
//!   nodes);
//! - [`engine`] (`lockgate-engine`): the plan stage, the scheduler and the runner;
//! - [`api`] (`lockgate-api`): the HTTP API and dashboard of `lockgate server`.
//!
//! Its own modules: [`cli`] (the commands), [`client`] (a typed client of the HTTP API, for
//! `lockgate --server URL …`) and [`scaffold`] (`lockgate plugin new`).

pub use lockgate_api as api;
pub use lockgate_config as config;
pub use lockgate_engine as engine;
pub use lockgate_engine::{plan, runner, scheduler};
pub use lockgate_model as model;
pub use lockgate_plugin_host as plugin_host;
pub use lockgate_registry as registry;
pub use lockgate_store as store;

pub mod cli;
pub mod client;
pub mod scaffold;
pub mod terminal;
