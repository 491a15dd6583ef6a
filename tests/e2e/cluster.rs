//! Issue 7 end to end: three `lockgate server` nodes, real processes, on one PostgreSQL store.
//! Releases flow to production while the nodes share the builds; the node holding the
//! scheduler lease is killed with SIGKILL in the middle of a build — another node takes the
//! lease over, the interrupted build is re-queued and completes, and no build runs twice at
//! the same time or succeeds twice with the same release.
//!
//! Needs `LOCKGATE_TEST_DATABASE_URL` (`.ci/run` sets it); without it the test fails in CI (`CI`
//! set) and elsewhere says it was
//! skipped. Each run keeps its tables in a schema of its own, dropped at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lockgate_e2e::{KillOnDrop, PgSchema, Run, lockgate, pg_url_or_skip, run, wait_for};
use lockgate_test_artifacts as artifacts;
use serde_json::Value;

const PIPELINE: &str = include_str!("../fixtures/pipelines/cluster.yml");
const TIMEOUT: Duration = Duration::from_secs(240);

struct Cluster {
    dir: tempfile::TempDir,
    db: PgSchema,
}

impl Cluster {
    fn new(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pipeline.yml"), PIPELINE).unwrap();
        for d in [
            "upstream",
            "record",
            "envs/development",
            "envs/staging",
            "envs/production",
        ] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Self {
            dir,
            db: PgSchema::new(url, "lg_cluster"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn state(&self) -> String {
        self.db.state()
    }

    fn command(&self) -> Command {
        let mut cmd = lockgate(Path::new(env!("CARGO_TARGET_TMPDIR")));
        cmd.current_dir(self.dir.path())
            .env("LOCKGATE_VAR_COUNTER_WASM", artifacts::COUNTER)
            .env("LOCKGATE_VAR_HOSTILE_WASM", artifacts::HOSTILE)
            .env("LOCKGATE_STATE", self.state())
            .stdin(Stdio::null());
        cmd
    }

    fn lg(&self, args: &[&str]) -> Run {
        run(self.command().args(args))
    }

    fn node(&self, tag: &str, worker_only: bool) -> KillOnDrop {
        let out = fs::File::create(self.path(&format!("node-{tag}.log"))).unwrap();
        let child = self
            .command()
            .args([
                "server",
                "pipeline.yml",
                "--listen",
                "127.0.0.1:0",
                "--max-builds",
                "2",
            ])
            .args(worker_only.then_some("--worker-only"))
            .env("RUST_LOG", "lockgate=info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawning lockgate server");
        KillOnDrop(child)
    }

    fn logs_of_nodes(&self) -> String {
        ["a", "b", "c"]
            .iter()
            .map(|t| {
                format!(
                    "--- node {t}\n{}",
                    fs::read_to_string(self.path(&format!("node-{t}.log"))).unwrap_or_default()
                )
            })
            .collect()
    }

    fn nodes(&self) -> Result<Value, String> {
        let r = self.lg(&["nodes", "-p", "pipeline.yml", "--json"]);
        if r.code != 0 {
            return Err(r.stderr);
        }
        serde_json::from_str(&r.stdout).map_err(|e| format!("{e}: {}", r.stdout))
    }

    /// Every build, newest first, as `lockgate builds --json` lists them.
    fn all_builds(&self) -> Result<Vec<Value>, String> {
        let r = self.lg(&["builds", "-p", "pipeline.yml", "--limit", "1000", "--json"]);
        if r.code != 0 {
            return Err(r.stderr);
        }
        serde_json::from_str(&r.stdout).map_err(|e| format!("{e}: {}", r.stdout))
    }

    /// `lockgate builds --job JOB`: (number, status) oldest first.
    fn builds(&self, job: &str) -> Vec<(i64, String)> {
        let r = self.lg(&[
            "builds",
            "-p",
            "pipeline.yml",
            "--job",
            job,
            "--limit",
            "1000",
        ]);
        let mut rows: Vec<(i64, String)> = r
            .stdout
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some((
                    w.get(2)?.strip_prefix('#')?.parse().ok()?,
                    w.get(3)?.to_string(),
                ))
            })
            .collect();
        rows.reverse();
        rows
    }

    /// The release a build of `job` fetched, from its log.
    fn release_of(&self, job: &str, number: i64) -> String {
        let r = self.lg(&["logs", "-p", "pipeline.yml", &format!("{job}/{number}")]);
        r.stdout
            .lines()
            .find_map(|l| {
                l.split_once("fetching release ")
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("{job}/{number} fetched no release:\n{}", r.stdout))
    }

    fn deployed(&self, env: &str) -> Option<String> {
        fs::read_to_string(self.path(&format!("envs/{env}/deployed")))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn release(&self, n: u32) {
        let tmp = self.path("upstream/.release");
        fs::write(&tmp, format!("{n}\n")).unwrap();
        fs::rename(tmp, self.path("upstream/release")).unwrap();
    }
}

fn pid_of(node: &str) -> u32 {
    node.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn three_nodes_share_the_work_and_survive_the_scheduler_being_killed() {
    let Some(url) =
        pg_url_or_skip("three_nodes_share_the_work_and_survive_the_scheduler_being_killed")
    else {
        return;
    };
    let c = Cluster::new(&url);
    c.release(1);
    let mut nodes: BTreeMap<u32, (String, KillOnDrop)> = BTreeMap::new();
    // Nodes a and b may schedule; c only runs builds.
    for tag in ["a", "b", "c"] {
        let node = c.node(tag, tag == "c");
        nodes.insert(node.0.id(), (tag.to_owned(), node));
    }

    // One scheduler, three nodes.
    let scheduler = wait_for("a scheduler among three nodes", TIMEOUT, || {
        let v = c.nodes()?;
        let listed = v["nodes"].as_array().map_or(0, Vec::len);
        match v["scheduler"].as_str() {
            Some(s) if listed == 3 => Ok(s.to_owned()),
            _ => Err(format!("{v}\n{}", c.logs_of_nodes())),
        }
    });
    let leader_pid = pid_of(&scheduler);
    assert!(
        nodes.contains_key(&leader_pid),
        "the scheduler is one of ours: {scheduler}"
    );

    // Wait until the scheduler node itself is in the middle of a step (its build started and
    // the step's record has a start and no end: the job is serial, so that record is this
    // build's), then kill -9 it. A build between two steps would leave no step unfinished.
    let record = c.path("record");
    let step_running = |job: &str| {
        fs::read_dir(&record).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.rsplit_once('-').is_some_and(|(label, _)| label == job)
                    && fs::read_to_string(e.path()).is_ok_and(|t| !t.contains("end "))
            })
        })
    };
    let victim = wait_for("the scheduler node to be in a step", TIMEOUT, || {
        let builds = c.all_builds()?;
        builds
            .iter()
            .find(|b| {
                b["status"] == "started"
                    && b["node"] == scheduler.as_str()
                    && b["job"].as_str().is_some_and(&step_running)
            })
            .map(|b| {
                (
                    b["job"].as_str().unwrap().to_owned(),
                    b["number"].as_i64().unwrap(),
                )
            })
            .ok_or_else(|| format!("{builds:?}"))
    });
    let (tag, mut killed) = nodes.remove(&leader_pid).unwrap();
    killed.kill();
    eprintln!(
        "killed the scheduler node {tag} ({scheduler}) while it ran {}/{}",
        victim.0, victim.1
    );

    // Another node takes the lease over within seconds.
    let successor = wait_for("another node to become the scheduler", TIMEOUT, || {
        let v = c.nodes()?;
        match v["scheduler"].as_str() {
            Some(s) if s != scheduler => Ok(s.to_owned()),
            other => Err(format!("scheduler {other:?}")),
        }
    });
    assert!(nodes.contains_key(&pid_of(&successor)), "{successor}");
    assert_ne!(
        nodes[&pid_of(&successor)].0,
        "c",
        "a --worker-only node never schedules"
    );

    // A stream of releases after the takeover; the last one reaches production.
    c.release(2);
    std::thread::sleep(Duration::from_secs(3));
    c.release(3);
    wait_for("release 3 in production", TIMEOUT, || {
        for (_, (_, n)) in nodes.iter_mut() {
            if !n.is_running() {
                return Err(format!("a surviving node exited\n{}", c.logs_of_nodes()));
            }
        }
        match c.deployed("production") {
            Some(d) if d == "3" => Ok(()),
            d => Err(format!("production has {d:?}\n{}", c.logs_of_nodes())),
        }
    });

    // The killed build was interrupted and re-queued; nothing ran twice at once; no job
    // succeeded twice with the same release.
    let mut interrupted = 0;
    for job in ["deploy-dev", "deploy-staging", "deploy-prod"] {
        let builds = c.builds(job);
        interrupted += builds.iter().filter(|(_, s)| s == "interrupted").count();
        let mut releases = BTreeSet::new();
        for (number, _) in builds.iter().filter(|(_, s)| s == "succeeded") {
            let release = c.release_of(job, *number);
            assert!(
                releases.insert(release.clone()),
                "{job} succeeded twice with release {release}: {builds:?}"
            );
        }
        assert!(!releases.is_empty(), "{job} never succeeded: {builds:?}");
    }
    assert!(
        interrupted >= 1,
        "the killed node's build was interrupted and re-queued"
    );
    for env in ["development", "staging"] {
        assert_eq!(c.deployed(env).as_deref(), Some("3"), "{env}");
    }
    let mut intervals: BTreeMap<String, Vec<(u128, Option<u128>)>> = BTreeMap::new();
    for entry in fs::read_dir(c.path("record")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let (label, _) = name.rsplit_once('-').unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse::<u128>().ok())
        };
        intervals
            .entry(label.to_owned())
            .or_default()
            .push((field("start ").unwrap(), field("end ")));
    }
    let mut unfinished = 0;
    for (label, mut list) in intervals {
        list.sort();
        unfinished += list.iter().filter(|(_, end)| end.is_none()).count();
        for pair in list.windows(2) {
            if let ((_, Some(end)), (start, _)) = (pair[0], pair[1]) {
                assert!(
                    end <= start,
                    "two builds of serial job {label} overlapped: {pair:?}"
                );
            }
        }
    }
    assert_eq!(
        unfinished, 1,
        "exactly the killed node's step never finished"
    );
    // The scheduler forgot the dead node; the survivors are listed.
    let v = c.nodes().unwrap();
    assert_eq!(
        v["nodes"].as_array().map_or(0, Vec::len),
        2,
        "the dead node was forgotten: {v}"
    );
}

/// Issue 13: SIGTERM to the node running a 20 s build, with a second node on the same store.
/// The draining node keeps heartbeating, so the other never declares it gone: the build runs
/// exactly once, to the end, on the node that started it; `/healthz` says `draining` (503)
/// meanwhile; then the node exits.
#[test]
fn a_node_draining_after_sigterm_finishes_its_build_and_no_other_node_runs_it_again() {
    let Some(url) = pg_url_or_skip(
        "a_node_draining_after_sigterm_finishes_its_build_and_no_other_node_runs_it_again",
    ) else {
        return;
    };
    let c = Cluster::new(&url);
    fs::write(
        c.path("pipeline.yml"),
        PIPELINE.replace(
            "ms: 2000, dir: /dirs/record, label: deploy-dev",
            "ms: 20000, dir: /dirs/record, label: deploy-dev",
        ),
    )
    .unwrap();
    c.release(1);
    let mut nodes: BTreeMap<u32, (String, KillOnDrop)> = BTreeMap::new();
    for tag in ["a", "b"] {
        let node = c.node(tag, false);
        nodes.insert(node.0.id(), (tag.to_owned(), node));
    }
    let (runner, number) = wait_for("a node to run deploy-dev", TIMEOUT, || {
        let builds = c.all_builds()?;
        builds
            .iter()
            .find(|b| b["job"] == "deploy-dev" && b["status"] == "started")
            .map(|b| {
                (
                    b["node"].as_str().unwrap().to_owned(),
                    b["number"].as_i64().unwrap(),
                )
            })
            .ok_or_else(|| format!("{builds:?}\n{}", c.logs_of_nodes()))
    });
    let pid = pid_of(&runner);
    let (tag, mut draining) = nodes.remove(&pid).expect("the build runs on one of ours");
    let api = fs::read_to_string(c.path(&format!("node-{tag}.log")))
        .unwrap()
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once("API http://")?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
        .expect("the node printed its API address");
    let terminated = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());

    // Draining: `/healthz` says so while the build runs on.
    wait_for("the node to report draining", TIMEOUT, || {
        let (status, body) =
            lockgate_e2e::http("GET", &format!("http://{api}/healthz"), None, None);
        if status == 503 && body.contains("draining") {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    });
    // Past the other node's patience for a silent node (15 s), the build still runs once.
    wait_for("deploy-dev to succeed", TIMEOUT, || {
        match c.builds("deploy-dev").as_slice() {
            [(n, s)] if *n == number && s == "succeeded" => Ok(()),
            other => Err(format!("{other:?}\n{}", c.logs_of_nodes())),
        }
    });
    wait_for("the drained node to exit", TIMEOUT, || {
        if draining.is_running() {
            Err("still running".to_owned())
        } else {
            Ok(())
        }
    });
    let runs: Vec<_> = fs::read_dir(c.path("record"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("deploy-dev-"))
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "deploy-dev ran once: {runs:?}\n{}",
        c.logs_of_nodes()
    );
    assert_eq!(
        c.builds("deploy-dev"),
        [(number, "succeeded".to_owned())],
        "no build was interrupted or re-queued"
    );
}
