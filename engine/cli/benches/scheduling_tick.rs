//! One scheduling tick on a synthetic promotion history in SQLite: `resolve_inputs` (and the
//! "is this input set new?" check) for every job, as the scheduler does on each tick.
//!
//! The pipeline has chains of three jobs, one per environment (development → staging →
//! production); every job of a chain gets the chain's resources, the staging and production
//! jobs with `passed:` the previous job, so all inputs of a job share one upstream job and must
//! come from one of its succeeded builds — the constrained case of Concourse's algorithm.
//!
//! At `LOCKGATE_BENCH_SCALE=1` the history has the size: 1,000 jobs, 10,000 resources,
//! 1,000,000 versions (plus 20 builds per job). The default scale is 0.1 to keep a run short.
//! The database is built once per scale in `target/bench-state/` and reused. The timed ticks
//! run in a child process that only opens the finished database, so its peak RSS (`VmHWM`) is
//! that of the scheduler's reads, not of the fill.
//!
//! Run: `cargo bench -p lockgate --bench scheduling_tick` (`LOCKGATE_BENCH_SCALE=1` for full size).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lockgate::model::{Fetched, Version, VersionPolicy};
use lockgate::store::{BuildStatus, InputSpec, JobConfig, ResolvedInput, ResourceConfig, Store};

/// The figures at scale 1.
const FULL_JOBS: usize = 1_000;
const FULL_RESOURCES: usize = 10_000;
const FULL_VERSIONS: usize = 1_000_000;
/// Succeeded builds per job in the history.
const BUILDS_PER_JOB: usize = 20;
/// Default scale of a run.
const DEFAULT_SCALE: f64 = 0.1;
/// Timed ticks.
const TICKS: usize = 3;
const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

struct Shape {
    chains: usize,
    resources_per_chain: usize,
    versions_per_resource: usize,
}

impl Shape {
    fn at(scale: f64) -> Shape {
        let jobs = ((FULL_JOBS as f64 * scale) as usize).max(3);
        let chains = jobs / 3;
        let resources = ((FULL_RESOURCES as f64 * scale) as usize).max(chains);
        let versions = ((FULL_VERSIONS as f64 * scale) as usize).max(resources);
        Shape {
            chains,
            resources_per_chain: resources / chains,
            versions_per_resource: versions / resources,
        }
    }

    fn jobs(&self) -> usize {
        self.chains * 3
    }

    fn resources(&self) -> usize {
        self.chains * self.resources_per_chain
    }

    fn versions(&self) -> usize {
        self.resources() * self.versions_per_resource
    }
}

fn job_name(chain: usize, env: usize) -> String {
    format!("{}-{chain:04}", ENVIRONMENTS[env])
}

fn resource_name(chain: usize, r: usize) -> String {
    format!("res-{chain:04}-{r:02}")
}

fn specs(shape: &Shape, chain: usize, env: usize) -> Vec<InputSpec> {
    (0..shape.resources_per_chain)
        .map(|r| InputSpec {
            name: resource_name(chain, r),
            resource: resource_name(chain, r),
            passed: if env == 0 {
                vec![]
            } else {
                vec![job_name(chain, env - 1)]
            },
            version: VersionPolicy::Latest,
        })
        .collect()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn fill(path: &Path, shape: &Shape) {
    let started = Instant::now();
    let store = Store::open_sqlite(path).await.unwrap();
    let resources: Vec<ResourceConfig> = (0..shape.chains)
        .flat_map(|c| {
            (0..shape.resources_per_chain).map(move |r| {
                let name = resource_name(c, r);
                ResourceConfig::new(&name, "git", &serde_json::json!({ "uri": name }))
            })
        })
        .collect();
    let jobs: Vec<JobConfig> = (0..shape.chains)
        .flat_map(|c| {
            (0..3).map(move |e| JobConfig {
                name: job_name(c, e),
                environment: Some(ENVIRONMENTS[e].to_string()),
            })
        })
        .collect();
    store.sync_pipeline(&resources, &jobs).await.unwrap();
    for c in 0..shape.chains {
        for r in 0..shape.resources_per_chain {
            let versions: Vec<Fetched> = (0..shape.versions_per_resource)
                .map(|n| Fetched {
                    version: Version::new().with("ref", format!("{c}-{r}-{n:06}")),
                    metadata: vec![("n".into(), n.to_string())],
                })
                .collect();
            store
                .save_versions(&resource_name(c, r), &versions)
                .await
                .unwrap();
        }
        // Builds: each environment's job runs on versions that passed the previous one; the
        // newest builds of staging and production lag behind, as in a real promotion stream.
        for e in 0..3 {
            let job = job_name(c, e);
            for b in 0..BUILDS_PER_JOB.saturating_sub(e * 2) {
                let inputs = store
                    .resolve_inputs(&job, &specs(shape, c, e))
                    .await
                    .unwrap();
                let inputs = match (e, inputs) {
                    // Development: spread builds over the version history.
                    (0, Some(_)) => pinned_inputs(&store, shape, c, b).await,
                    (_, Some(inputs)) => inputs,
                    (_, None) => break,
                };
                let build = store.create_build(&job, "bench", &inputs).await.unwrap();
                store.start_build(build.id, "bench").await.unwrap();
                // Every fifth build fails: resolution must skip it.
                let status = if b % 5 == 4 {
                    BuildStatus::Failed
                } else {
                    BuildStatus::Succeeded
                };
                store.finish_build(build.id, status).await.unwrap();
            }
        }
    }
    store.close().await;
    eprintln!(
        "filled {} in {:.1?}: {} jobs, {} resources, {} versions",
        path.display(),
        started.elapsed(),
        shape.jobs(),
        shape.resources(),
        shape.versions()
    );
}

/// The inputs of development build `b` of a chain: versions spread evenly over the history.
async fn pinned_inputs(store: &Store, shape: &Shape, chain: usize, b: usize) -> Vec<ResolvedInput> {
    let n = (b + 1) * shape.versions_per_resource / BUILDS_PER_JOB.max(1) - 1;
    let mut inputs = Vec::with_capacity(shape.resources_per_chain);
    for r in 0..shape.resources_per_chain {
        let name = resource_name(chain, r);
        let version = Version::new().with("ref", format!("{chain}-{r}-{n:06}"));
        let stored = store.find_version(&name, &version).await.unwrap().unwrap();
        inputs.push(ResolvedInput {
            name: name.clone(),
            resource: name,
            version_id: stored.id,
            version,
        });
    }
    inputs
}

async fn ticks(path: &Path, shape: &Shape) {
    let store = Store::open_sqlite(path).await.unwrap();
    let mut times = Vec::with_capacity(TICKS);
    let mut resolved_jobs = 0;
    for _ in 0..TICKS {
        let started = Instant::now();
        resolved_jobs = 0;
        for c in 0..shape.chains {
            for e in 0..3 {
                let job = job_name(c, e);
                if let Some(inputs) = store
                    .resolve_inputs(&job, &specs(shape, c, e))
                    .await
                    .unwrap()
                {
                    store.has_build_with_inputs(&job, &inputs).await.unwrap();
                    resolved_jobs += 1;
                }
            }
        }
        times.push(started.elapsed());
    }
    times.sort();
    let median: Duration = times[times.len() / 2];
    println!(
        "scheduling tick: {} jobs ({} resolved), {} resources, {} versions: \
         median {:.3?} (min {:.3?}, max {:.3?}) over {TICKS} ticks; peak RSS {} MiB",
        shape.jobs(),
        resolved_jobs,
        shape.resources(),
        shape.versions(),
        median,
        times[0],
        times[times.len() - 1],
        peak_rss_kib() / 1024
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs benches as tests with no
    // such flag: then do nothing slow.
    let benching = std::env::args().any(|a| a == "--bench");
    let child = std::env::var_os("LOCKGATE_BENCH_TICK_DB").map(PathBuf::from);
    if !benching && child.is_none() {
        println!("scheduling_tick: run with `cargo bench` to measure");
        return;
    }
    let scale: f64 = std::env::var("LOCKGATE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SCALE);
    let shape = Shape::at(scale);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(path) = child {
        rt.block_on(ticks(&path, &shape));
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-state");
    let path = dir.join(format!("scheduling-tick-{scale}.db"));
    let done_marker = path.with_extension("done");
    if !done_marker.exists() {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
        rt.block_on(fill(&path, &shape));
        std::fs::write(&done_marker, b"").unwrap();
    }
    // Time the ticks in a fresh process: its peak RSS is the scheduler's alone.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("LOCKGATE_BENCH_TICK_DB", &path)
        .env("LOCKGATE_BENCH_SCALE", scale.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "tick process failed: {status}");
}
