//! On-disk cache of compiled plugin code.
//!
//! Compiling a component costs from ~50 ms (a small Rust plugin) to many seconds (an
//! interpreter-based Python or JavaScript plugin). The cache keeps wasmtime's serialized code
//! keyed by the component's sha256 and a hash of the engine's settings, so a plugin is
//! compiled once per engine configuration. Entries are only ever read from the cache
//! directory, which the engine alone writes; they are written atomically (temp file + rename)
//! so a crash never leaves a partial entry.
//!
//! The cache has a size budget ([`HostConfig::cache_max_bytes`](crate::HostConfig), default
//! [`DEFAULT_CACHE_MAX_BYTES`], `$LOCKGATE_CACHE_MAX_BYTES`): an interpreter-based plugin
//! leaves tens of megabytes, and every new build of a plugin a new entry. A hit sets the
//! entry's modification time to now; after writing an entry, the least recently used entries
//! (oldest modification time, whatever engine wrote them) are removed until the cache fits its
//! budget. The entry just written is never removed, nor a temporary file another writer is
//! still filling (only `.cwasm` entries count and go; temporary files are removed once they
//! are a day old, left behind by a crash). Several engines may share the directory: an entry
//! removed by one is a miss for the others, which compile and store it again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::HostError;

/// Size budget of the compiled-code cache unless configured: 1 GiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 1 << 30;

/// Environment variable overriding the cache's size budget, in bytes (a plain number, or with
/// a `KiB`, `MiB` or `GiB` suffix).
pub const CACHE_MAX_BYTES_ENV: &str = "LOCKGATE_CACHE_MAX_BYTES";

/// File name extension of cache entries.
const ENTRY_EXTENSION: &str = "cwasm";

/// Age after which a temporary file is taken for a crashed writer's and removed.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// Where compiled code lives.
pub(crate) struct CodeCache {
    dir: Option<PathBuf>,
    engine_key: String,
    max_bytes: u64,
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
    pub(crate) fn new(
        dir: Option<PathBuf>,
        max_bytes: u64,
        engine: &Engine,
    ) -> Result<Self, HostError> {
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
            max_bytes,
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
                Ok(component) => {
                    // Recently used: the last to be evicted.
                    touch(entry);
                    return Ok((component, CacheOutcome::Hit));
                }
                // Evicted by another engine sharing the directory since `is_file`: a miss.
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    tracing::warn!(path = %entry.display(), "discarding unusable compiled-plugin cache entry: {e:#}");
                    let _ = std::fs::remove_file(entry);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(entry) = entry {
            match store(&component, &entry) {
                Ok(()) => {
                    if let Some(dir) = &self.dir
                        && let Err(e) = evict(dir, self.max_bytes, &entry)
                    {
                        tracing::warn!(path = %dir.display(), "cannot trim the compiled-plugin cache: {e}");
                    }
                }
                Err(e) => {
                    tracing::warn!(path = %entry.display(), "cannot write compiled-plugin cache entry: {e:#}");
                }
            }
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

fn is_not_found(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// Sets `entry`'s modification time to now (best effort: a read-only cache still works).
fn touch(entry: &Path) {
    let result = std::fs::File::options()
        .append(true)
        .open(entry)
        .and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = result {
        tracing::debug!(path = %entry.display(), "cannot mark the cache entry as used: {e}");
    }
}

/// What [`evict`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eviction {
    /// Entries removed.
    pub(crate) removed: usize,
    /// Bytes of the entries left.
    pub(crate) kept_bytes: u64,
}

/// Removes the least recently used entries of the cache in `dir` until their sizes add up to
/// at most `max_bytes`; never `keep` (the entry this engine just wrote), never anything but
/// `.cwasm` entries, except temporary files older than a day.
pub(crate) fn evict(dir: &Path, max_bytes: u64, keep: &Path) -> std::io::Result<Eviction> {
    let now = SystemTime::now();
    let mut entries = Vec::new();
    let mut total = 0u64;
    for item in std::fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let path = item.path();
        // Gone already (another engine evicting), or not a file: not ours to count.
        let Ok(meta) = item.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if path.extension().is_some_and(|e| e == "tmp") {
            if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != ENTRY_EXTENSION) {
            continue;
        }
        total += meta.len();
        if path != keep {
            entries.push((modified, meta.len(), path));
        }
    }
    // Oldest first (size, then name, break ties: a stable order).
    entries.sort();
    let mut removed = 0;
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        total -= len;
    }
    if removed > 0 {
        tracing::debug!(path = %dir.display(), removed, kept_bytes = total, "trimmed the compiled-plugin cache");
    }
    Ok(Eviction {
        removed,
        kept_bytes: total,
    })
}

/// The cache's size budget: `$LOCKGATE_CACHE_MAX_BYTES` (bytes, or with a `KiB`, `MiB` or
/// `GiB` suffix), else [`DEFAULT_CACHE_MAX_BYTES`]. An unreadable value is reported and
/// ignored.
pub fn default_cache_max_bytes() -> u64 {
    match std::env::var(CACHE_MAX_BYTES_ENV) {
        Ok(text) if !text.trim().is_empty() => parse_bytes(&text).unwrap_or_else(|| {
            tracing::warn!(
                "{CACHE_MAX_BYTES_ENV}={text:?} is not a size (e.g. 1073741824 or 512MiB); using {} MiB",
                DEFAULT_CACHE_MAX_BYTES >> 20
            );
            DEFAULT_CACHE_MAX_BYTES
        }),
        _ => DEFAULT_CACHE_MAX_BYTES,
    }
}

/// `123`, `512KiB`, `256MiB`, `2GiB` (case-insensitive, spaces allowed before the unit).
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let shift = match text[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kib" => 10,
        "mib" => 20,
        "gib" => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `len` bytes to `dir/name`, last modified `age_s` seconds ago.
    fn file(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_s);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
        path
    }

    #[test]
    fn evicts_least_recently_used_entries_down_to_the_budget() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let oldest = file(d, "a-1.cwasm", 400, 300);
        let old = file(d, "b-1.cwasm", 400, 200);
        let recent = file(d, "c-1.cwasm", 400, 100);
        let new = file(d, "d-1.cwasm", 400, 0);
        let e = evict(d, 1000, &new).unwrap();
        assert_eq!(
            e,
            Eviction {
                removed: 2,
                kept_bytes: 800
            }
        );
        assert!(!oldest.exists() && !old.exists());
        assert!(recent.exists() && new.exists());
        // Within budget: nothing to do.
        assert_eq!(evict(d, 1000, &new).unwrap().removed, 0);
    }

    #[test]
    fn never_evicts_the_entry_just_written_nor_files_being_written() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        // The new entry is the only one and over budget on its own, with the oldest mtime.
        let new = file(d, "new-1.cwasm", 5000, 1000);
        let other = file(d, "other-1.cwasm", 10, 10);
        // Another writer's temporary file, and something that is not an entry.
        let writing = file(d, ".x-1.cwasm.123.tmp", 5000, 5);
        let stale = file(d, ".y-1.cwasm.456.tmp", 5000, 3 * 24 * 3600);
        let note = file(d, "README", 5000, 9999);
        let e = evict(d, 100, &new).unwrap();
        assert_eq!(e.removed, 1);
        assert!(new.exists(), "the entry just written stays");
        assert!(!other.exists());
        assert!(writing.exists(), "a temporary file being written stays");
        assert!(
            !stale.exists(),
            "a day-old temporary file is a crashed writer's"
        );
        assert!(note.exists());
    }

    #[test]
    fn a_hit_marks_the_entry_used_and_a_new_entry_evicts_the_least_used() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        // The smallest component: the magic number and the component layer.
        let bytes = b"\0asm\x0d\0\x01\0";
        let probe = CodeCache::new(Some(tmp.path().join("probe")), u64::MAX, &engine).unwrap();
        probe.get_or_compile(&engine, "probe", bytes).unwrap();
        let size = std::fs::metadata(probe.entry("probe").unwrap())
            .unwrap()
            .len();

        // Room for two entries.
        let cache = CodeCache::new(Some(tmp.path().join("c")), 2 * size, &engine).unwrap();
        let (_, outcome) = cache.get_or_compile(&engine, "one", bytes).unwrap();
        assert_eq!(outcome, CacheOutcome::Compiled);
        cache.get_or_compile(&engine, "two", bytes).unwrap();
        let (one, two) = (cache.entry("one").unwrap(), cache.entry("two").unwrap());
        // Make `one` the older, then use it: a hit makes it the most recently used.
        for (path, age) in [(&one, 200), (&two, 100)] {
            std::fs::File::options()
                .append(true)
                .open(path)
                .unwrap()
                .set_modified(SystemTime::now() - Duration::from_secs(age))
                .unwrap();
        }
        let (_, outcome) = cache.get_or_compile(&engine, "one", bytes).unwrap();
        assert_eq!(outcome, CacheOutcome::Hit);
        cache.get_or_compile(&engine, "three", bytes).unwrap();
        assert!(one.exists(), "used last: kept");
        assert!(!two.exists(), "least recently used: evicted");
        assert!(cache.entry("three").unwrap().exists());
        // An evicted entry is a miss that compiles again.
        let (_, outcome) = cache.get_or_compile(&engine, "two", bytes).unwrap();
        assert_eq!(outcome, CacheOutcome::Compiled);
    }

    #[test]
    fn budget_values() {
        assert_eq!(parse_bytes("1073741824"), Some(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes(" 2 gib "), Some(2 << 30));
        assert_eq!(parse_bytes("64KiB"), Some(64 << 10));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("1.5GiB"), None);
        assert_eq!(parse_bytes("99999999999GiB"), None);
    }
}
