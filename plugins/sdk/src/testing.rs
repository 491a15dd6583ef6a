//! Helpers for the unit tests of plugins, built with the feature `testing` (enable it in
//! `[dev-dependencies]`: `lockgate-sdk = { workspace = true, features = ["testing"] }`). Not
//! for plugin code: a plugin sees only the sandbox's directories.
//!
//! The unit tests run both natively and as `wasm32-wasip2` components
//! (`tests/wasm-runner`), where `std::env::temp_dir` panics ("no filesystem on wasm"); the
//! runner preopens the system temporary directory and names it in `TMPDIR`.
//!
//! With this feature, [`log`](crate::log) writes to stderr instead of calling the host's
//! `log` import, which a test binary has no engine to answer.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The temporary directory: `$TMPDIR`, else the system's (`/tmp` on WASI).
pub fn temp_root() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        #[cfg(target_os = "wasi")]
        _ => PathBuf::from("/tmp"),
        #[cfg(not(target_os = "wasi"))]
        _ => std::env::temp_dir(),
    }
}

/// A new, empty directory under [`temp_root`] whose name starts with `lockgate-<name>-` and
/// is unique (test runs of several processes, native and wasm, never share one). The test
/// removes it when done.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Randomly keyed (from `wasi:random` on WASI): unique across processes.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_usize(N.fetch_add(1, Ordering::SeqCst));
    let dir = temp_root().join(format!("lockgate-{name}-{:016x}", hasher.finish()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dirs_are_fresh_and_distinct() {
        let a = temp_dir("sdk-a");
        let b = temp_dir("sdk-a");
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        assert_eq!(std::fs::read_dir(&a).unwrap().count(), 0);
        std::fs::write(a.join("f"), "x").unwrap();
        assert_eq!(std::fs::read_to_string(a.join("f")).unwrap(), "x");
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}
