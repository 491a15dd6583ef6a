//! `task_start`: what starting a task costs per language, against one plugin invocation, the
//! figures `BENCHMARKS.md` records.
//!
//! For each task component: the median of 20 **warm runs** (the program loaded once; each run is
//! a fresh sandbox — store, instance, mounts, capture — and the whole program: `word-count` over
//! a 2-line file writing its report), and the median of 5 **cached starts** (a fresh
//! `PluginHost` loading the component from a warm compiled-code cache, then one run: what a
//! `lockgate run` pays per task the first time in a process). The baseline, in the same run: a
//! `counter` plugin `check` in a fresh sandbox (the engine's per-invocation path) and the Rust
//! `task-programs` fixture printing its arguments.
//!
//! Components: `target/example-tasks/<lang>.wasm` (`examples/tasks/<lang>/build.sh OUT`) and
//! the script runners `target/runners/{python,javascript}.wasm` (by
//! `plugins/runners/*/build.sh`) running a one-line script; missing ones are skipped with a note.
//!
//! Run: `cargo bench -p lockgate --bench task_start` (after building the examples and runners).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockgate::plugin_host::{
    Grants, HostConfig, Invocation, NullSink, PluginHost, Task, TaskDir, TaskInvocation,
};
use lockgate_test_artifacts as artifacts;
use serde_json::json;

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

/// One task to measure: its component and how to run it.
struct Case {
    label: String,
    file: PathBuf,
    args: Vec<String>,
}

/// The directories every run gets: `input/data.txt`, an empty `output`, and `scripts/` with
/// the one-line scripts of the runners.
struct Dirs {
    _root: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
    scripts: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("input");
    let output = root.path().join("output");
    let scripts = root.path().join("scripts");
    for d in [&input, &output, &scripts] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(input.join("data.txt"), "one two\nthree\n").unwrap();
    std::fs::write(
        scripts.join("hello.py"),
        "open('output/report.txt', 'w').write('ok')\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("hello.js"),
        "require('fs').writeFileSync('output/report.txt', 'ok');\n",
    )
    .unwrap();
    Dirs {
        _root: root,
        input,
        output,
        scripts,
    }
}

fn invocation(d: &Dirs, args: &[String]) -> TaskInvocation {
    TaskInvocation {
        args: args.to_vec(),
        params: Vec::new(),
        inputs: vec![
            TaskDir::new("input", &d.input),
            TaskDir::new("scripts", &d.scripts),
        ],
        outputs: vec![TaskDir::new("output", &d.output)],
        caches: Vec::new(),
        grants: Grants::none(),
        limits: Default::default(),
    }
}

async fn run_once(task: &Task, inv: &TaskInvocation) {
    let exit = task
        .run(inv, Arc::new(NullSink))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", task.path().display()));
    assert!(
        exit.success(),
        "{}: exit {}",
        task.path().display(),
        exit.code
    );
}

async fn measure(case: &Case, d: &Dirs, warm_runs: usize, starts: usize) -> (Duration, Duration) {
    let cache = tempfile::tempdir().unwrap();
    let task = host(cache.path())
        .load_task(&case.file)
        .await
        .expect("load");
    let inv = invocation(d, &case.args);
    run_once(&task, &inv).await;
    let mut warm = Vec::new();
    for _ in 0..warm_runs {
        let t = Instant::now();
        run_once(&task, &inv).await;
        warm.push(t.elapsed());
    }
    let mut cached = Vec::new();
    for _ in 0..starts {
        let t = Instant::now();
        let task = host(cache.path())
            .load_task(&case.file)
            .await
            .expect("load");
        run_once(&task, &inv).await;
        cached.push(t.elapsed());
    }
    (median(warm), median(cached))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a test without
    // it: then one quick round on the Rust fixture only, to keep the code working.
    let benching = std::env::args().any(|a| a == "--bench");
    let (warm_runs, starts) = if benching { (20, 5) } else { (2, 1) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cases = vec![Case {
        label: "task-programs (Rust fixture, prints its args)".into(),
        file: PathBuf::from(artifacts::TASK_PROGRAMS),
        args: vec!["echo".into()],
    }];
    if benching {
        for lang in ["rust", "c", "zig", "go", "python", "javascript"] {
            cases.push(Case {
                label: format!("word-count ({lang})"),
                file: root.join(format!("target/example-tasks/{lang}.wasm")),
                args: vec!["input/data.txt".into()],
            });
        }
        for (lang, script) in [("python", "hello.py"), ("javascript", "hello.js")] {
            cases.push(Case {
                label: format!("{lang} runner, one-line script"),
                file: root.join(format!("target/runners/{lang}.wasm")),
                args: vec![format!("scripts/{script}")],
            });
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let d = dirs();

    // The baseline: one plugin invocation in a fresh sandbox.
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("counter"), "5").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let counter = rt
        .block_on(host(cache.path()).load(artifacts::COUNTER))
        .expect("counter");
    let inv = Invocation::new(Grants::none().dir("state", state.path(), false));
    let source = json!({"path": "/dirs/state/counter"});
    let mut calls = Vec::new();
    for _ in 0..warm_runs.max(3) {
        let t = Instant::now();
        rt.block_on(counter.check(&inv, &source, None)).unwrap();
        calls.push(t.elapsed());
    }
    println!("| component | size | warm run | cached start (load + run) |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `counter` plugin `check` (baseline) | {:.1} MB | {:.2} ms | — |",
        std::fs::metadata(artifacts::COUNTER).unwrap().len() as f64 / 1e6,
        median(calls).as_secs_f64() * 1e3
    );
    for case in &cases {
        let Ok(meta) = std::fs::metadata(&case.file) else {
            eprintln!("skipped {}: {} not built", case.label, case.file.display());
            continue;
        };
        let (warm, cached) = rt.block_on(measure(case, &d, warm_runs, starts));
        println!(
            "| {} | {:.1} MB | {:.2} ms | {:.1} ms |",
            case.label,
            meta.len() as f64 / 1e6,
            warm.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e3
        );
    }
}
