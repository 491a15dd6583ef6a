//! Issue 3 §6 end to end: pipelines driven through the real `lockgate` binary (`run`, `server`,
//! `approve`, `status`, `why`, `builds`, `logs`) with the real plugin components (`counter`,
//! `assert-file`, and the `hostile` fixture for steps that take time).
//!
//! Every test works in its own temporary directory holding the pipeline (from
//! `tests/fixtures/pipelines/`), the directories it grants and its state
//! (`.lockgate/state.db`). The plugin paths are vars (`((counter_wasm))`, …) passed as
//! `LOCKGATE_VAR_*` environment variables.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lockgate_e2e::{KillOnDrop, Run, lockgate, run, wait_for};
use lockgate_test_artifacts as artifacts;
use serde_json::Value;

#[path = "pipeline/crash.rs"]
mod crash;
#[path = "pipeline/hostile.rs"]
mod hostile;
#[path = "pipeline/https.rs"]
mod https;
#[path = "pipeline/platform.rs"]
mod platform;
#[path = "pipeline/task_files.rs"]
mod task_files;
#[path = "pipeline/tasks.rs"]
mod tasks;

const THREE_ENVIRONMENTS: &str = include_str!("../fixtures/pipelines/three-environments.yml");
const SEVERAL_RESOURCES: &str = include_str!("../fixtures/pipelines/several-resources.yml");
const SERIAL_GROUPS: &str = include_str!("../fixtures/pipelines/serial-groups.yml");
const SLOW_DEPLOY: &str = include_str!("../fixtures/pipelines/slow-deploy.yml");

/// How long a test waits for a server to reach a state: generous, for a loaded 2-core machine
/// that may also compile the plugins on first use.
const SERVER_TIMEOUT: Duration = Duration::from_secs(180);

/// A temporary directory holding a pipeline file (`pipeline.yml`), the directories it grants
/// and its state.
struct Project {
    dir: tempfile::TempDir,
    /// The store, when not the default SQLite file (`LOCKGATE_DATABASE_URL`).
    database: Option<String>,
}

impl Project {
    /// A project whose `pipeline.yml` is `pipeline`, with the (empty) directories `dirs`.
    fn new(pipeline: &str, dirs: &[&str]) -> Self {
        let project = Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            database: None,
        };
        project.write("pipeline.yml", pipeline);
        for d in dirs {
            fs::create_dir_all(project.path(d)).unwrap();
        }
        project
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The trimmed content of a file, `None` if it does not exist.
    fn read(&self, relative: &str) -> Option<String> {
        fs::read_to_string(self.path(relative))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// A `lockgate` command run in the project directory, with the plugin vars set.
    fn command(&self) -> Command {
        // The compiled-plugin cache is shared by all tests: each plugin compiles once.
        let mut cmd = lockgate(Path::new(env!("CARGO_TARGET_TMPDIR")));
        cmd.current_dir(self.dir.path())
            .env("LOCKGATE_VAR_COUNTER_WASM", artifacts::COUNTER)
            .env("LOCKGATE_VAR_ASSERT_FILE_WASM", artifacts::ASSERT_FILE)
            .env("LOCKGATE_VAR_HOSTILE_WASM", artifacts::HOSTILE)
            .stdin(Stdio::null());
        if let Some(url) = &self.database {
            cmd.env("LOCKGATE_DATABASE_URL", url);
        }
        cmd
    }

    fn lg(&self, args: &[&str]) -> Run {
        run(self.command().args(args))
    }

    /// `lockgate <args>`, which must succeed.
    fn ok(&self, args: &[&str]) -> Run {
        let r = self.lg(args);
        assert_eq!(
            r.code, 0,
            "lockgate {args:?} failed:\n{}{}",
            r.stdout, r.stderr
        );
        r
    }

    /// `lockgate run pipeline.yml`, which must exit with `code`.
    fn run_pipeline(&self, code: i32) -> Run {
        let r = self.lg(&["run", "pipeline.yml"]);
        assert_eq!(
            r.code, code,
            "`lockgate run` exit code\n--- stdout\n{}--- stderr\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// `lockgate status --json`, as a map from environment name to its status.
    fn status(&self) -> BTreeMap<String, Value> {
        let r = self.ok(&["status", "--json"]);
        let list: Vec<Value> = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", r.stdout));
        list.into_iter()
            .map(|s| (s["environment"].as_str().unwrap().to_owned(), s))
            .collect()
    }

    /// `lockgate why ENVIRONMENT --json`.
    fn why(&self, environment: &str) -> Value {
        let r = self.ok(&["why", environment, "--json"]);
        serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("why {environment} --json: {e}\n{}", r.stdout))
    }

    /// `lockgate builds --job JOB`, oldest first.
    fn builds(&self, job: &str) -> Vec<BuildRow> {
        self.try_builds(job).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `lockgate builds --job JOB`, oldest first; the error when it fails (before a server
    /// recorded the pipeline's jobs, for one).
    fn try_builds(&self, job: &str) -> Result<Vec<BuildRow>, String> {
        let r = self.lg(&["builds", "--job", job, "--limit", "1000"]);
        if r.code != 0 {
            return Err(format!(
                "`lockgate builds --job {job}`: {}",
                r.stderr.trim()
            ));
        }
        let mut rows: Vec<BuildRow> = r.stdout.lines().filter_map(BuildRow::parse).collect();
        rows.reverse();
        Ok(rows)
    }

    /// `lockgate logs JOB/NUMBER`.
    fn logs(&self, job: &str, number: i64) -> String {
        self.ok(&["logs", &format!("{job}/{number}")]).stdout
    }

    /// The intervals recorded by the hostile fixture's sleeping steps in `record/`.
    fn intervals(&self) -> Vec<Interval> {
        let mut all: Vec<Interval> = fs::read_dir(self.path("record"))
            .unwrap()
            .map(|e| Interval::read(&e.unwrap().path()))
            .collect();
        all.sort_by_key(|i| i.start);
        all
    }

    /// `lockgate server pipeline.yml`, its output in `server-<tag>.{out,err}`.
    fn server(&self, tag: &str) -> Server {
        let out = fs::File::create(self.path(&format!("server-{tag}.out"))).unwrap();
        let err_path = self.path(&format!("server-{tag}.err"));
        let err = fs::File::create(&err_path).unwrap();
        let child = self
            .command()
            .args(["server", "pipeline.yml", "--listen", "127.0.0.1:0"])
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawning lockgate server");
        Server {
            process: KillOnDrop(child),
            stderr: err_path,
        }
    }
}

/// A running `lockgate server`, killed when dropped.
struct Server {
    process: KillOnDrop,
    stderr: PathBuf,
}

impl Server {
    /// Panics with the server's stderr if it exited.
    fn assert_running(&mut self) {
        if !self.process.is_running() {
            let status = self.process.0.wait().unwrap();
            panic!(
                "lockgate server exited ({status}):\n{}",
                fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
    }
}

/// One line of `lockgate builds`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BuildRow {
    id: i64,
    job: String,
    number: i64,
    status: String,
    reason: String,
}

impl BuildRow {
    /// Parses `    12  job  #3     succeeded    reason words`.
    fn parse(line: &str) -> Option<Self> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 4 {
            return None;
        }
        Some(Self {
            id: words[0].parse().ok()?,
            job: words[1].to_owned(),
            number: words[2].strip_prefix('#')?.parse().ok()?,
            status: words[3].to_owned(),
            reason: words[4..].join(" "),
        })
    }
}

fn statuses(builds: &[BuildRow]) -> Vec<&str> {
    builds.iter().map(|b| b.status.as_str()).collect()
}

/// What the hostile fixture recorded for one sleeping `get` or `put`: `label` and wall-clock
/// nanoseconds; `end` is `None` when the sleep never finished.
#[derive(Debug, Clone)]
struct Interval {
    label: String,
    start: u128,
    end: Option<u128>,
}

impl Interval {
    /// Reads `<label>-<start>` holding `start <ns>` and, once finished, `end <ns>`.
    fn read(path: &Path) -> Self {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (label, _) = name.rsplit_once('-').expect("<label>-<start>");
        let text = fs::read_to_string(path).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse::<u128>().ok())
        };
        Self {
            label: label.to_owned(),
            start: field("start ").unwrap_or_else(|| panic!("{name}: no start in {text:?}")),
            end: field("end "),
        }
    }

    fn end(&self) -> u128 {
        self.end
            .unwrap_or_else(|| panic!("`{}` never finished", self.label))
    }

    fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end() && other.start < self.end()
    }
}

/// The versions of a candidate in `status --json` / `why --json` (`null` → empty).
fn versions(candidate: &Value) -> Vec<String> {
    candidate["versions"]
        .as_array()
        .map(|v| v.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn blockers(status: &Value) -> Vec<String> {
    status["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

fn three_environments() -> Project {
    let p = Project::new(
        THREE_ENVIRONMENTS,
        &[
            "upstream",
            "envs/development",
            "envs/staging",
            "envs/production",
        ],
    );
    p.write("upstream/release", "1");
    p
}

#[test]
fn a_version_flows_to_staging_and_waits_for_approval_before_production() {
    let p = three_environments();

    let r = p.run_pipeline(0);
    assert!(r.stdout.contains("2 build(s) ran"), "{}", r.stdout);
    assert_eq!(p.read("envs/development/deployed").as_deref(), Some("1"));
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("1"));
    assert_eq!(p.read("envs/production/deployed"), None);

    let status = p.status();
    let release_1 = vec!["release {number: 1}".to_owned()];
    for env in ["development", "staging"] {
        assert_eq!(
            versions(&status[env]["current"]),
            release_1,
            "{env}: {status:?}"
        );
        assert_eq!(versions(&status[env]["qualified"]), release_1, "{env}");
    }
    let candidate = status["staging"]["current"]["id"].as_i64().unwrap();
    let production = &status["production"];
    assert!(production["current"].is_null(), "{production}");
    assert_eq!(production["next"]["id"].as_i64(), Some(candidate));
    let why = p.why("production");
    let blocked = blockers(&why);
    assert!(
        blocked.len() == 1
            && blocked[0].contains(&format!("candidate #{candidate} waits for approval")),
        "{why}"
    );

    // Without the approval nothing more happens, however often the pipeline runs.
    let r = p.run_pipeline(0);
    assert!(r.stdout.contains("0 build(s) ran"), "{}", r.stdout);
    assert_eq!(p.read("envs/production/deployed"), None);
    assert!(p.builds("deploy-prod").is_empty());

    let r = p.ok(&["approve", "production", "--as", "alice"]);
    assert!(
        r.stdout.contains(&format!(
            "approved candidate #{candidate} for `production` as alice"
        )),
        "{}",
        r.stdout
    );
    let r = p.run_pipeline(0);
    assert!(r.stdout.contains("1 build(s) ran"), "{}", r.stdout);
    assert_eq!(p.read("envs/production/deployed").as_deref(), Some("1"));

    let production = &p.status()["production"];
    assert_eq!(
        production["current"]["id"].as_i64(),
        Some(candidate),
        "{production}"
    );
    assert_eq!(versions(&production["current"]), release_1);
    assert_eq!(versions(&production["qualified"]), release_1);
    assert!(production["next"].is_null(), "{production}");
    assert!(blockers(production).is_empty(), "{production}");
    assert_eq!(statuses(&p.builds("deploy-prod")), ["succeeded"]);
    assert_eq!(statuses(&p.builds("deploy-dev")), ["succeeded"]);
    assert_eq!(statuses(&p.builds("deploy-staging")), ["succeeded"]);
}

/// Commands that read or change the state never load a plugin: with the counter plugin
/// damaged (and its compiled code gone) `status`, `why`, `builds` and `approve` still answer at
/// once; only `check`, which runs it, fails, naming the file.
#[test]
fn state_commands_never_load_plugins() {
    let p = three_environments();
    p.run_pipeline(0);
    let damaged = p.path("damaged.wasm");
    fs::write(&damaged, b"\0asm not really").unwrap();
    let lg = |args: &[&str]| {
        run(p
            .command()
            .env("LOCKGATE_VAR_COUNTER_WASM", &damaged)
            .env("LOCKGATE_CACHE_DIR", p.path("empty-cache"))
            .args(args))
    };
    for args in [
        &["status"][..],
        &["status", "pipeline.yml"],
        &["builds", "pipeline.yml", "--job", "deploy-dev"],
        &["why", "production"],
        &["builds", "--job", "deploy-dev"],
        &["pin", "release", "number=1"],
        &["unpin", "release"],
        &["approve", "production", "--as", "alice"],
    ] {
        let r = lg(args);
        assert_eq!(r.code, 0, "lockgate {args:?}:\n{}{}", r.stdout, r.stderr);
    }
    assert!(
        !p.path("empty-cache").exists(),
        "nothing was compiled into the cache"
    );
    let r = lg(&["check", "release"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("damaged.wasm"), "{}", r.stderr);
    let r = lg(&["status", "pipeline.yml", "-p", "pipeline.yml"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("the pipeline is given twice"),
        "{}",
        r.stderr
    );
    // `validate` takes `-p` like the others (here it loads the damaged plugin, and says so).
    let r = lg(&["validate", "-p", "pipeline.yml"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("damaged.wasm"), "{}", r.stderr);
}

#[test]
fn a_failing_staging_test_stops_a_version_before_production_and_the_fix_flows_through() {
    let p = three_environments();
    p.run_pipeline(0);
    p.ok(&["approve", "production", "--as", "alice"]);
    p.run_pipeline(0);
    assert_eq!(p.read("envs/production/deployed").as_deref(), Some("1"));

    // Release 13 passes development, is deployed to staging, and fails acceptance there.
    p.write("upstream/release", "13");
    let r = p.run_pipeline(1);
    assert!(r.stdout.contains("2 build(s) ran"), "{}", r.stdout);
    assert_eq!(p.read("envs/development/deployed").as_deref(), Some("13"));
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("13"));
    assert_eq!(
        statuses(&p.builds("deploy-staging")),
        ["succeeded", "failed"]
    );

    let why = p.why("staging");
    let release_13 = vec!["release {number: 13}".to_owned()];
    // Staging runs 13 (its put succeeded), has not qualified it, and nothing else waits.
    assert_eq!(versions(&why["current"]), release_13, "{why}");
    assert!(why["next"].is_null(), "{why}");
    assert_eq!(
        versions(&why["qualified"]),
        ["release {number: 1}"],
        "{why}"
    );
    let blocked = blockers(&why).join("\n");
    assert!(
        blocked.contains("the newest change here, candidate #")
            && blocked.contains("has not qualified in `staging`")
            && blocked.contains("job `deploy-staging` build #2 failed"),
        "{blocked}"
    );
    assert!(
        blocked.contains("not the broken release")
            && blocked.contains("expected `staging-env/number` not to contain \"13\""),
        "the failed case is named: {blocked}"
    );

    // Production never sees 13: nothing waits for its approval, and approving fails; `why`
    // names what holds 13 in staging.
    let production = &p.status()["production"];
    assert_eq!(versions(&production["current"]), ["release {number: 1}"]);
    assert!(production["next"].is_null(), "{production}");
    let held = blockers(production).join("\n");
    assert!(
        held.contains("the newest change in `staging`")
            && held.contains("job `deploy-staging` build #2 failed"),
        "{held}"
    );
    let r = p.lg(&["approve", "production", "--as", "alice"]);
    assert_ne!(r.code, 0, "nothing to approve: {}", r.stdout);
    let r = p.run_pipeline(0);
    assert!(r.stdout.contains("0 build(s) ran"), "{}", r.stdout);
    assert_eq!(p.read("envs/production/deployed").as_deref(), Some("1"));
    assert_eq!(statuses(&p.builds("deploy-prod")), ["succeeded"]);

    // The fix, release 14, flows through (after the approval).
    p.write("upstream/release", "14");
    p.run_pipeline(0);
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("14"));
    assert_eq!(p.read("envs/production/deployed").as_deref(), Some("1"));
    let release_14 = vec!["release {number: 14}".to_owned()];
    let why = p.why("production");
    assert_eq!(versions(&why["next"]), release_14, "{why}");
    assert!(blockers(&why)[0].contains("waits for approval"), "{why}");
    p.ok(&["approve", "production", "--as", "bob"]);
    p.run_pipeline(0);
    assert_eq!(p.read("envs/production/deployed").as_deref(), Some("14"));

    let status = p.status();
    for env in ["development", "staging", "production"] {
        assert_eq!(versions(&status[env]["current"]), release_14, "{env}");
    }
    assert_eq!(
        statuses(&p.builds("deploy-prod")),
        ["succeeded", "succeeded"]
    );
    let log = p.logs("deploy-prod", 2);
    assert!(log.contains("fetching release {number: 14}"), "{log}");
    assert!(!log.contains("{number: 13}"), "{log}");
}

#[test]
fn a_version_that_passed_only_one_of_the_passed_jobs_is_not_picked() {
    let p = Project::new(SEVERAL_RESOURCES, &["upstream", "envs/staging"]);
    p.write("upstream/app", "1");
    p.write("upstream/config", "1");
    p.run_pipeline(0);
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("1"));
    let both_1 = ["app {number: 1}", "config {number: 1}"];
    assert_eq!(versions(&p.status()["staging"]["current"]), both_1);

    // app 2 passes `a` but fails `b`: `c` keeps app 1.
    p.write("upstream/app", "2");
    p.run_pipeline(1);
    assert_eq!(statuses(&p.builds("a")), ["succeeded", "succeeded"]);
    assert_eq!(statuses(&p.builds("b")), ["succeeded", "failed"]);
    assert_eq!(statuses(&p.builds("c")), ["succeeded"]);
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("1"));

    // config 2 arrives while app is still 2: (app 2, config 2) passes `a` only; config 2 never
    // went through `b` in a successful build, so `c` still has nothing new.
    p.write("upstream/config", "2");
    p.run_pipeline(1);
    assert_eq!(statuses(&p.builds("a")), ["succeeded"; 3]);
    assert_eq!(statuses(&p.builds("b")), ["succeeded", "failed", "failed"]);
    assert_eq!(statuses(&p.builds("c")), ["succeeded"]);
    assert_eq!(versions(&p.status()["staging"]["current"]), both_1);

    // app 3 passes both: `c` takes (app 3, config 2), the newest set that went through both.
    p.write("upstream/app", "3");
    p.run_pipeline(0);
    assert_eq!(statuses(&p.builds("c")), ["succeeded", "succeeded"]);
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("3"));
    assert_eq!(
        versions(&p.status()["staging"]["current"]),
        ["app {number: 3}", "config {number: 2}"]
    );
    let log = p.logs("c", 2);
    assert!(
        log.contains("fetching app {number: 3}") && log.contains("fetching config {number: 2}"),
        "{log}"
    );
    for number in 1..=2 {
        assert!(
            !p.logs("c", number).contains("app {number: 2}"),
            "c #{number} took app 2"
        );
    }
}

#[test]
fn builds_of_one_serial_group_never_overlap() {
    let p = Project::new(SERIAL_GROUPS, &["upstream", "record"]);
    for release in ["1", "2"] {
        p.write("upstream/release", release);
        let r = p.run_pipeline(0);
        assert!(r.stdout.contains("4 build(s) ran"), "{}", r.stdout);
    }
    for job in ["one", "two", "free-a", "free-b"] {
        assert_eq!(statuses(&p.builds(job)), ["succeeded"; 2], "{job}");
    }

    let intervals = p.intervals();
    let of = |prefix: &str| -> Vec<&Interval> {
        intervals
            .iter()
            .filter(|i| i.label.starts_with(prefix))
            .collect()
    };
    let (one, two) = (of("one-"), of("two-"));
    // Each build of `one` and `two` records a get and a put.
    assert_eq!((one.len(), two.len()), (4, 4), "{intervals:#?}");
    for i in one.iter().chain(&two) {
        let ms = if i.label.ends_with("-get") { 300 } else { 400 };
        assert!(i.end() - i.start >= ms * 1_000_000, "{i:?} slept {ms} ms");
    }
    for a in &one {
        for b in &two {
            assert!(
                !a.overlaps(b),
                "serial group `deploy`: {a:?} overlaps {b:?}\nall: {intervals:#?}"
            );
        }
    }
    // The check has teeth: jobs outside any serial group do run at the same time.
    let (free_a, free_b) = (of("free-a-"), of("free-b-"));
    assert_eq!((free_a.len(), free_b.len()), (2, 2), "{intervals:#?}");
    assert!(
        free_a.iter().any(|a| free_b.iter().any(|b| a.overlaps(b))),
        "jobs without a serial group ran one after the other: {intervals:#?}"
    );
}

#[test]
fn a_build_interrupted_by_kill_9_is_requeued_and_nothing_is_lost_or_doubled() {
    let p = Project::new(SLOW_DEPLOY, &["upstream", "record", "envs/staging"]);
    p.write("upstream/release", "1");

    // Server 1 checks `release`, starts `deploy` #1, whose put sleeps 5 s: kill -9 it there.
    let mut server = p.server("1");
    let started = wait_for("deploy #1 to start its put", SERVER_TIMEOUT, || {
        server.assert_running();
        let builds = p.try_builds("deploy")?;
        let recorded = p.intervals();
        match (builds.as_slice(), recorded.as_slice()) {
            ([b], [_]) if b.status == "started" => Ok(b.clone()),
            _ => Err(format!("builds {builds:?}, records {recorded:?}")),
        }
    });
    server.process.kill();
    let builds = p.builds("deploy");
    assert_eq!(
        builds,
        std::slice::from_ref(&started),
        "a dead server records nothing"
    );
    let killed = p.intervals();
    assert!(
        killed.len() == 1 && killed[0].end.is_none(),
        "the put was killed mid-sleep: {killed:?}"
    );

    // Server 2 marks it interrupted, re-queues it, runs it, and `verify` follows. It sees that
    // the lease's holder is a dead process of this host and schedules at once, instead of
    // waiting the lease out (10 s).
    let restarted = std::time::Instant::now();
    let mut server = p.server("2");
    wait_for("the re-queued deploy to start", SERVER_TIMEOUT, || {
        server.assert_running();
        let builds = p.try_builds("deploy")?;
        match builds.as_slice() {
            [_, b] if b.status != "pending" => Ok(()),
            _ => Err(format!("{builds:?}")),
        }
    });
    let took = restarted.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "the restarted server re-ran the build after {took:?}"
    );
    wait_for(
        "verify to succeed after the restart",
        SERVER_TIMEOUT,
        || {
            server.assert_running();
            let verify = p.builds("verify");
            match verify.last() {
                Some(b) if b.status == "succeeded" => Ok(()),
                _ => Err(format!(
                    "deploy {:?}, verify {verify:?}",
                    p.builds("deploy")
                )),
            }
        },
    );
    server.process.kill();

    let deploy = p.builds("deploy");
    assert_eq!(
        statuses(&deploy),
        ["interrupted", "succeeded"],
        "{deploy:?}"
    );
    assert_eq!(deploy[0].id, started.id);
    assert!(
        deploy[1].reason.contains("interrupted") && deploy[1].reason.contains("#1"),
        "the re-queued build says why: {deploy:?}"
    );
    assert_eq!(statuses(&p.builds("verify")), ["succeeded"]);
    for number in [1, 2] {
        let log = p.logs("deploy", number);
        assert!(
            number == 1 || log.contains("fetching release {number: 1}"),
            "same inputs: {log}"
        );
        let created = log.matches("slow: created version").count();
        assert_eq!(created, number as usize - 1, "deploy #{number}: {log}");
    }
    let records = p.intervals();
    assert_eq!(
        records.len(),
        2,
        "one killed put, one complete: {records:?}"
    );
    assert!(
        records[0].end.is_none() && records[1].end.is_some(),
        "{records:?}"
    );
    assert!(records[1].end() - records[1].start >= 5_000_000_000);
    assert_eq!(p.read("envs/staging/deployed").as_deref(), Some("1"));

    let status = p.status();
    let dev = &status["development"]["current"];
    assert_eq!(versions(dev), ["release {number: 1}"], "{status:?}");
    assert_eq!(
        status["staging"]["current"]["id"], dev["id"],
        "one candidate"
    );

    // Nothing is left over: a one-shot run finds no version to check in and nothing to build.
    let r = p.run_pipeline(0);
    assert!(
        r.stdout.contains("0 build(s) ran"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let r = p.ok(&["check", "release"]);
    assert!(
        r.stdout
            .contains("release: 0 new version(s); latest {number: 1}"),
        "{}",
        r.stdout
    );
    assert_eq!(p.builds("deploy").len(), 2);
}

#[test]
fn a_typo_in_the_pipeline_stops_run_with_positions_and_leaves_the_state_alone() {
    let typo = THREE_ENVIRONMENTS.replacen("        trigger: true", "        triger: true", 1);
    assert_ne!(typo, THREE_ENVIRONMENTS);
    let (line, column) = typo
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("triger:").map(|c| (i + 1, c + 1)))
        .unwrap();
    let position = format!("pipeline.yml:{line}:{column}");
    let assert_diagnosed = |r: &Run| {
        assert_ne!(r.code, 0, "{}", r.stdout);
        assert!(
            r.stderr.contains(&position),
            "expected {position}:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("unknown key `triger`")
                && r.stderr.contains("did you mean `trigger`?"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "no summary: {}", r.stdout);
    };

    // A fresh directory: no state is created.
    let fresh = three_environments();
    fresh.write("pipeline.yml", &typo);
    assert_diagnosed(&fresh.lg(&["run", "pipeline.yml"]));
    assert!(!fresh.path(".lockgate").exists(), "state was created");
    assert_eq!(fresh.read("envs/development/deployed"), None);

    // An existing state is not touched.
    let p = three_environments();
    p.run_pipeline(0);
    let builds = p.ok(&["builds"]).stdout;
    let snapshot = |p: &Project| -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(p.path(".lockgate"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|f| f.is_file())
            .map(|f| (f.display().to_string(), fs::read(&f).unwrap()))
            .collect()
    };
    let before = snapshot(&p);
    assert!(!before.is_empty());
    p.write("upstream/release", "2");
    p.write("pipeline.yml", &typo);
    assert_diagnosed(&p.lg(&["run", "pipeline.yml"]));
    assert!(before == snapshot(&p), "the state files changed");
    assert_eq!(p.read("envs/development/deployed").as_deref(), Some("1"));
    p.write("pipeline.yml", THREE_ENVIRONMENTS);
    assert_eq!(p.ok(&["builds"]).stdout, builds);
}

#[test]
fn a_second_sigterm_aborts_the_running_builds_and_they_are_requeued() {
    let p = Project::new(SLOW_DEPLOY, &["upstream", "record", "envs/staging"]);
    p.write("upstream/release", "1");
    let mut server = p.server("1");
    wait_for("deploy #1 to start its put", SERVER_TIMEOUT, || {
        server.assert_running();
        let builds = p.try_builds("deploy")?;
        match (builds.as_slice(), p.intervals().as_slice()) {
            ([b], [_]) if b.status == "started" => Ok(()),
            _ => Err(format!("builds {builds:?}")),
        }
    });
    let pid = server.process.0.id().to_string();
    let signal = || {
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    signal();
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.process.is_running(), "the first SIGTERM drains");
    signal();
    let aborted = std::time::Instant::now();
    wait_for("the server to exit", SERVER_TIMEOUT, || {
        if server.process.is_running() {
            Err("running".to_owned())
        } else {
            Ok(())
        }
    });
    assert!(
        aborted.elapsed() < Duration::from_secs(4),
        "the second SIGTERM did not wait for the 5 s put"
    );
    let deploy = p.builds("deploy");
    assert_eq!(statuses(&deploy), ["interrupted", "pending"], "{deploy:?}");
    let stderr = fs::read_to_string(&server.stderr).unwrap();
    assert!(stderr.contains("draining"), "{stderr}");

    // The next server runs the re-queued build.
    let mut server = p.server("2");
    wait_for("the re-queued deploy to succeed", SERVER_TIMEOUT, || {
        server.assert_running();
        let deploy = p.builds("deploy");
        match statuses(&deploy).as_slice() {
            ["interrupted", "succeeded"] => Ok(()),
            _ => Err(format!("{deploy:?}")),
        }
    });
}

/// Issue 14 §1: a plugin that echoes a secret of its `source` back. A version holding it is
/// refused (nothing stored, the message names the field, not the value); a failure message
/// holding it is redacted on the command line and in the store.
#[test]
fn a_secret_echoed_by_a_plugin_is_never_stored_or_shown() {
    const SECRET: &str = "tok-9f8e7d6c5b4a";
    let p = Project::new(
        "\
environments: [development]
resource_types: {hostile: ((hostile_wasm))}
resources:
  - {name: leaky, type: hostile, check_every: never, source: {attack: echo, text: 'token=((token))', pad: 16380}}
  - {name: failing, type: hostile, check_every: never, source: {attack: echo, text: 'token=((token))', fail: true}}
jobs:
  - {name: j, environment: development, plan: [{get: leaky, trigger: true}, {get: failing}]}
",
        &[],
    );
    let lg = |args: &[&str]| run(p.command().env("LOCKGATE_SECRET_TOKEN", SECRET).args(args));

    let r = lg(&["check", "leaky", "-p", "pipeline.yml"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("returned a version whose field `echo` holds the value of a secret"),
        "{said}"
    );
    assert!(!said.contains(SECRET), "{said}");

    let r = lg(&["check", "failing", "-p", "pipeline.yml"]);
    assert_ne!(r.code, 0);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("upstream refused: token=((redacted))"),
        "{said}"
    );
    assert!(!said.contains(SECRET), "{said}");

    // Nothing of it is in the state (the database and its write-ahead log).
    let needle = SECRET.as_bytes();
    let mut files = 0;
    for entry in fs::read_dir(p.path(".lockgate")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files += 1;
            let bytes = fs::read(&path).unwrap();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the secret is in {}",
                path.display()
            );
        }
    }
    assert!(files >= 1, "the state was written");
}

/// Issue 14 §7: text a plugin hands back reaches the terminal with its control characters
/// escaped: an escape sequence or a carriage return cannot clear the screen or forge a line.
#[test]
fn control_characters_from_a_plugin_are_escaped_on_the_terminal() {
    let p = Project::new(
        "\
environments: [development]
resource_types: {hostile: ((hostile_wasm))}
resources:
  - {name: sneaky, type: hostile, check_every: never, source: {attack: echo, text: \"\\e[2J\\r✓ deploy #9 succeeded\"}}
jobs:
  - {name: j, environment: development, plan: [{get: sneaky, trigger: true}]}
",
        &[],
    );
    let r = p.ok(&["check", "sneaky", "-p", "pipeline.yml"]);
    assert!(
        !r.stdout.contains('\x1b') && !r.stdout.contains('\r'),
        "{:?}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\\x1b[2J\\r✓ deploy #9 succeeded"),
        "{}",
        r.stdout
    );
    // The fixture's `get` fails (`unsupported`); its log still names the version it fetched.
    p.run_pipeline(1);
    let log = p.logs("j", 1);
    assert!(!log.contains('\x1b') && !log.contains('\r'), "{log:?}");
    assert!(log.contains("\\x1b[2J"), "{log}");
}
