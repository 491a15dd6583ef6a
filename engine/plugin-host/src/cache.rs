//! On-disk cache of compiled plugin code.
//!
//! Compiling a component costs from ~50 ms (a small Rust plugin) to many seconds (an
//! interpreter-based Python or JavaScript plugin). The cache keeps wasmtime's serialized code
//! keyed by the component's sha256 and a hash of the engine's settings, so a plugin is
//! compiled once per engine configuration. Entries are only ever read from the cache
//! directory, which the engine alone writes; they are written atomically (temp file + rename)
//! so a crash never leaves a partial entry.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::HostError;

/// Where compiled code lives.
pub(crate) struct CodeCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled now (and stored when a cache directory is configured).
    Compiled,
}

impl CodeCache {
    /// A cache in `dir` (created if missing), or no cache at all with `None`.
    pub(crate) fn new(dir: Option<PathBuf>, engine: &Engine) -> Result<Self, HostError> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|error| HostError::CacheDir {
                path: dir.clone(),
                error,
            })?;
        }
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Ok(Self {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// The cache entry for a component with sha256 `digest`.
    fn entry(&self, digest: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// Returns the compiled component for `bytes`, from the cache if possible.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let entry = self.entry(digest);
        if let Some(entry) = entry.as_deref().filter(|p| p.is_file()) {
            match deserialize(engine, entry) {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %entry.display(), "discarding unusable compiled-plugin cache entry: {e:#}");
                    let _ = std::fs::remove_file(entry);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(entry) = entry
            && let Err(e) = store(&component, &entry)
        {
            tracing::warn!(path = %entry.display(), "cannot write compiled-plugin cache entry: {e:#}");
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

#[allow(
    unsafe_code,
    reason = "Component::deserialize is unsafe; only files this engine wrote are read"
)]
fn deserialize(engine: &Engine, entry: &Path) -> wasmtime::Result<Component> {
    // Read into memory rather than `deserialize_file`: a mapped file truncated by another
    // process (a second engine, an operator cleaning the cache) would crash this one.
    let bytes = std::fs::read(entry)?;
    // SAFETY: `entry` lies in the engine's own cache directory and was written by `store`
    // below from `Component::serialize` (atomically, via rename). Wasmtime checks the header
    // and engine compatibility; paths a pipeline controls are never deserialized.
    unsafe { Component::deserialize(engine, &bytes) }
}

fn store(component: &Component, entry: &Path) -> wasmtime::Result<()> {
    let bytes = component.serialize()?;
    let dir = entry.parent().expect("cache entries live in a directory");
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("entry"),
        std::process::id()
    ));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, entry).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

/// The default cache directory: `$LOCKGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/lockgate/compiled`,
/// else `~/.cache/lockgate/compiled`, else a folder in the system temp directory.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOCKGATE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("lockgate").join("compiled")
}
