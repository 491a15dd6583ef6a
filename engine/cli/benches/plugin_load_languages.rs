//! `plugin_load_languages`: first load (compile) and cached load of plugin components built
//! from each language, the figures `BENCHMARKS.md` records per language.
//!
//! Components are the `.wasm` files of `$LOCKGATE_BENCH_PLUGINS` (default
//! `target/example-plugins`, written by `bash examples/plugins/build-all.sh`), plus the Rust
//! `counter` plugin as the baseline. For each: the median of 3 loads with an empty
//! compiled-code cache (compile + link + `describe`), and the median of 20 loads with a warm
//! cache, each through a fresh `PluginHost` so that nothing is kept in memory between loads.
//!
//! Run: `bash examples/plugins/build-all.sh && cargo bench -p lockgate --bench plugin_load_languages`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lockgate::plugin_host::{HostConfig, PluginHost};
use lockgate_test_artifacts as artifacts;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..HostConfig::default()
    })
    .expect("plugin host")
}

async fn measure(file: &Path, cold_runs: usize, warm_runs: usize) -> (Duration, Duration) {
    let mut cold = Vec::new();
    for _ in 0..cold_runs {
        let cache = tempfile::tempdir().unwrap();
        let h = host(cache.path());
        let t = Instant::now();
        h.load(file).await.expect("load");
        cold.push(t.elapsed());
    }
    let cache = tempfile::tempdir().unwrap();
    host(cache.path()).load(file).await.expect("warm-up load");
    let mut warm = Vec::new();
    for _ in 0..warm_runs {
        let h = host(cache.path());
        let t = Instant::now();
        h.load(file).await.expect("load");
        warm.push(t.elapsed());
    }
    (median(cold), median(warm))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a test without
    // it: then one quick round on the Rust baseline only, to keep the code working.
    let benching = std::env::args().any(|a| a == "--bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("LOCKGATE_BENCH_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/example-plugins"));
    let mut files = vec![PathBuf::from(artifacts::COUNTER)];
    let listing = if benching {
        std::fs::read_dir(&dir)
    } else {
        Err(std::io::Error::other("smoke test: the Rust baseline only"))
    };
    match listing {
        Ok(entries) => {
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect();
            found.sort();
            files.extend(found);
        }
        Err(e) => eprintln!(
            "no example plugins in {} ({e}): run `bash examples/plugins/build-all.sh` first; measuring the Rust baseline only",
            dir.display()
        ),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| component | size | first load (compile) | cached load |");
    println!("|---|---:|---:|---:|");
    for file in files {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let (cold, warm) = if benching {
            rt.block_on(measure(&file, 3, 20))
        } else {
            rt.block_on(measure(&file, 1, 1))
        };
        println!(
            "| {} | {:.1} MB | {:.0} ms | {:.1} ms |",
            file.file_name().unwrap().to_string_lossy(),
            size as f64 / 1e6,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3
        );
    }
}
