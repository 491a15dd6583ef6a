//! The `/cache` directory of each resource: kept between invocations so a plugin can reuse
//! what it fetched, and emptied after an invocation that left it larger than the resource
//! type's `cache_size` limit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes held by the regular files under `dir` (symlinks are not followed).
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Empties `dir` when it holds more than `max` bytes; returns how much it held then.
///
/// The directory is first renamed away and a fresh one put in its place, so an invocation
/// running at the same time keeps the directory it opened; then the old one is deleted.
pub(crate) fn trim(dir: &Path, max: u64) -> Option<u64> {
    let held = size_of(dir);
    if held <= max {
        return None;
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let trash: PathBuf = dir.with_file_name(format!(
        ".trimmed-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    match std::fs::rename(dir, &trash) {
        Ok(()) => {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::remove_dir_all(&trash);
        }
        Err(_) => {
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::create_dir_all(dir);
        }
    }
    Some(held)
}

/// The notice written when [`trim`] emptied the cache of `resource`.
pub(crate) fn notice(resource: &str, held: u64, max: u64) -> String {
    format!(
        "the cache of `{resource}` held {}, more than its limit of {}: it was emptied (the resource type can raise it with `limits: {{cache_size: …}}`)",
        lockgate_model::humanize_bytes(held),
        lockgate_model::humanize_bytes(max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_over_its_limit_is_emptied_and_one_within_it_kept() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("app");
        std::fs::create_dir_all(cache.join("objects/ab")).unwrap();
        std::fs::write(cache.join("objects/ab/cd"), vec![0u8; 3000]).unwrap();
        std::fs::write(cache.join("index"), vec![0u8; 1000]).unwrap();
        assert_eq!(trim(&cache, 4000), None);
        assert!(cache.join("index").exists());
        assert_eq!(trim(&cache, 3999), Some(4000));
        assert!(cache.is_dir(), "the directory itself stays");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "nothing is left beside it");
        assert_eq!(
            notice("app", 4000, 3999),
            "the cache of `app` held 4000B, more than its limit of 3999B: it was emptied (the resource type can raise it with `limits: {cache_size: …}`)"
        );
    }
}
