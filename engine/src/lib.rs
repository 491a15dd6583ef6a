//! Lockgate: a sandboxed CI/CD promotion engine.
//!
//! Everything that touches the outside world is a WebAssembly component plugin (see `wit/`);
//! this crate is the host that loads and runs them, and the `lockgate` command line.
//!
//! Modules, one per concern:
//! - [`plugin_host`]: load plugin components and run each invocation in a fresh sandbox;
//! - [`registry`]: the plugin registry directory and the pipeline's `lockgate.lock`;
//! - [`scaffold`]: new plugin projects from templates, in six languages;
//! - [`config`]: the pipeline file: parsing, variables, validation;
//! - [`store`]: durable state (SQLite embedded, PostgreSQL for several nodes);
//! - [`runner`]: run one build's plan through the plugin host;
//! - [`scheduler`]: checks, triggers, environment gates and promotion;
//! - [`api`]: the HTTP API of `lockgate server`;
//! - [`client`]: a typed client of that API (`lockgate --server URL …`);
//! - [`web`]: the web dashboard's embedded assets;
//! - [`metrics`]: process-wide counters, rendered as Prometheus text;
//! - [`cli`]: the `lockgate` command line.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod metrics;
pub mod plugin_host;
pub mod registry;
pub mod runner;
pub mod scaffold;
pub mod scheduler;
pub mod store;
pub mod web;
