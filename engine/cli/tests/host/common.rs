//! Helpers shared by the host-side integration tests: one plugin host for the test binary,
//! with its compiled-code cache in the target directory; loading; plugin failures.

use std::path::PathBuf;
use std::sync::OnceLock;

use lockgate::plugin_host::{HostConfig, InvokeError, Plugin, PluginFailure, PluginHost};

/// The compiled-code cache of the test binary's host (also handed to the `lockgate` binary).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-host-cache")
}

/// The test binary's plugin host (compiled plugins cached under `CARGO_TARGET_TMPDIR`).
pub fn host() -> PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| {
        PluginHost::new(HostConfig {
            cache_dir: Some(cache_dir()),
            ..HostConfig::default()
        })
        .unwrap()
    })
    .clone()
}

/// Loads the component at `path` with [`host`], panicking with the load error.
pub async fn load(path: &str) -> Plugin {
    host()
        .load(path)
        .await
        .unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

/// The plugin's own verdict in `e`, panicking when the invocation failed otherwise (a trap, a
/// deadline, a host error).
pub fn plugin_failure(e: InvokeError) -> PluginFailure {
    match e {
        InvokeError::Plugin { failure, .. } => failure,
        other => panic!("expected the plugin to report a failure, got: {other}"),
    }
}
