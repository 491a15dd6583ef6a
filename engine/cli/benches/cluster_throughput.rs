//! `cluster_throughput`: builds per minute with 1, 2 and 3 `lockgate server` nodes (real
//! processes) sharing one PostgreSQL store, each node running at most 2 builds at once.
//!
//! Each round: a fresh schema; `lockgate check` then `lockgate trigger` queue N builds of one
//! job whose `put` waits 1 s (a deployment waiting on its platform) with a `get` and a `put`
//! through real plugins; then K nodes start and the clock runs until every build succeeded.
//! The 1-node round is the baseline measured in the same run. Needs
//! `LOCKGATE_TEST_DATABASE_URL` (e.g. postgres://postgres@127.0.0.1:5432/test).
//!
//! Run: `LOCKGATE_TEST_DATABASE_URL=… cargo bench -p lockgate --bench cluster_throughput`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lockgate_test_artifacts as artifacts;

const BUILDS: usize = 36;
const PIPELINE: &str = "\
environments: [development]
resource_types:
  counter: ((counter_wasm))
  hostile: ((hostile_wasm))
resources:
  - name: release
    type: counter
    check_every: never
    source: { path: /dirs/state/release }
    grants: { dirs: { state: ./upstream } }
  - name: deployment
    type: hostile
    check_every: never
    source: { attack: sleep, ms: 0 }
jobs:
  - name: deploy
    environment: development
    plan:
      - get: release
      - put: deployment
        params: { attack: sleep, ms: 1000 }
";

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn lockgate(dir: &Path, state: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockgate"));
    // Only the settings given here: none of the shell's `LOCKGATE_*` variables.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("LOCKGATE_")) {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .env("LOCKGATE_VAR_COUNTER_WASM", artifacts::COUNTER)
        .env("LOCKGATE_VAR_HOSTILE_WASM", artifacts::HOSTILE)
        .env("LOCKGATE_STATE", state)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running lockgate");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeded(dir: &Path, state: &str) -> usize {
    let text = ok(lockgate(dir, state).args(["builds", "--limit", "1000", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    list.iter().filter(|b| b["status"] == "succeeded").count()
}

/// Builds per minute with `nodes` nodes running `builds` builds.
fn round(url: &str, nodes: usize, builds: usize) -> (f64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.yml"), PIPELINE).unwrap();
    std::fs::create_dir_all(dir.path().join("upstream")).unwrap();
    std::fs::write(dir.path().join("upstream/release"), "1\n").unwrap();
    let schema = format!("lg_bench_{}_{nodes}", std::process::id());
    let state = format!("{url}?schema={schema}");
    ok(lockgate(dir.path(), &state).args(["check", "release"]));
    for _ in 0..builds {
        ok(lockgate(dir.path(), &state).args(["trigger", "deploy"]));
    }
    let start = Instant::now();
    let _nodes = Nodes(
        (0..nodes)
            .map(|_| {
                lockgate(dir.path(), &state)
                    .args([
                        "server",
                        "pipeline.yml",
                        "--listen",
                        "127.0.0.1:0",
                        "--max-builds",
                        "2",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    while succeeded(dir.path(), &state) < builds {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "round with {nodes} node(s) stalled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = start.elapsed();
    let _ = Command::new("psql")
        .arg(url)
        .args([
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    (builds as f64 / elapsed.as_secs_f64() * 60.0, elapsed)
}

fn main() {
    let Some(url) = std::env::var("LOCKGATE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        // In CI the smoke round must run: a missing database is a failure, not a skip.
        if std::env::var_os("CI").is_some() {
            eprintln!(
                "cluster_throughput: LOCKGATE_TEST_DATABASE_URL is not set, and in CI this bench \
                 may not be skipped (e.g. \
                 LOCKGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
            );
            std::process::exit(1);
        }
        eprintln!(
            "SKIPPED cluster_throughput: set LOCKGATE_TEST_DATABASE_URL to a PostgreSQL database"
        );
        return;
    };
    // `cargo bench` passes `--bench`; under `cargo test --all-targets`, one small round keeps
    // the code working.
    if !std::env::args().any(|a| a == "--bench") {
        let (per_min, took) = round(&url, 1, 2);
        println!(
            "smoke: 2 builds on 1 node in {:.1} s ({per_min:.0}/min); `cargo bench` measures",
            took.as_secs_f64()
        );
        return;
    }
    println!("| nodes | capacity | {BUILDS} builds took | builds per minute | vs 1 node |");
    println!("|---:|---:|---:|---:|---:|");
    let mut base = None;
    for nodes in 1..=3 {
        let (per_min, took) = round(&url, nodes, BUILDS);
        let base = *base.get_or_insert(per_min);
        println!(
            "| {nodes} | {} | {:.1} s | {per_min:.0} | {:.2}x |",
            nodes * 2,
            took.as_secs_f64(),
            per_min / base
        );
    }
}
