//! The host-side integration tests of Lockgate, in one test binary (as wasmtime's `tests/all`):
//! real plugin components built from `plugins/` by `lockgate-test-artifacts`, run through the
//! real plugin host, engine, store and API. Shared helpers live in [`common`].

mod common;

mod api;
mod api_v1;
mod config;
mod plugin_host;
mod plugins_fs;
mod plugins_git;
mod plugins_git_http;
mod plugins_http;
mod plugins_https;
mod plugins_registry_image;
mod plugins_release_feeds;
mod plugins_s3;
mod plugins_wasi_http;
mod runner;
mod sdk_http;
mod tasks;
mod test_server;
mod wit_reference;
