//! Helpers shared by the host-side integration tests: one plugin host per test binary, with
//! its compiled-code cache in the target directory.

use std::path::PathBuf;
use std::sync::OnceLock;

use lockgate::plugin_host::{HostConfig, Plugin, PluginHost};

/// The test binary's plugin host (compiled plugins cached under `CARGO_TARGET_TMPDIR`).
pub fn host() -> PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-host-cache");
        PluginHost::new(HostConfig {
            cache_dir: Some(cache),
            ..HostConfig::default()
        })
        .unwrap()
    })
    .clone()
}

/// Loads the component at `path` with [`host`], panicking with the load error.
#[allow(dead_code)]
pub async fn load(path: &str) -> Plugin {
    host()
        .load(path)
        .await
        .unwrap_or_else(|e| panic!("loading {path}: {e}"))
}
