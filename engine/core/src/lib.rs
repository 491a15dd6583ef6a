//! The engine: what turns a pipeline into builds and promotions.
//!
//! - [`plan`]: a parsed pipeline, the registry and the plugin host compiled into what runs;
//! - [`scheduler`]: checks, triggers, input resolution, environment gates and promotion;
//! - [`runner`]: one build's steps through the plugin host, logs into the store;
//! - [`operations`]: pin, unpin, disable, enable, trigger, check, approve, rollback, with
//!   names checked, for the HTTP API and the command line alike;
//! - [`metrics`]: the figures the engine records (checks, finished builds).
//!
//! Layers below: `lockgate-config` (the file), `lockgate-plugin-host` (the sandbox),
//! `lockgate-store` (durable state), `lockgate-model` (shared values). Above: `lockgate-api`
//! and the `lockgate` binary.

mod cache_dir;
pub mod metrics;
pub mod operations;
pub mod plan;
pub mod runner;
pub mod scheduler;
mod secrets;
