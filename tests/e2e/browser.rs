//! The web dashboard in real headless Chromium (Debian `chromium`, driven by `playwright-core`
//! from `tests/browser`, installed by `tests/browser/install.sh`): behind a reverse proxy with a
//! path prefix, the cloud-gov example's graph,
//! a build page, the "why not promoted" panel and an approval that arrives in production without
//! a reload; the actions by role on a server with protected reads (token prompt, trigger, check,
//! disable/enable, pin/unpin, approve, rollback, and the 401/403 messages); and a generated
//! pipeline of 200 jobs, with the first render and the poll updates measured; hostile text from a
//! plugin shown as text. Screenshots go to `target/browser-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use lockgate_e2e::{
    APPROVER_TOKEN, CloudGov, OPERATOR_TOKEN, ReverseProxy, Server, VIEWER_TOKEN, http, lockgate,
    repo, wait_for,
};

const APPROVER: &str = APPROVER_TOKEN;
const OPERATOR: &str = OPERATOR_TOKEN;
const VIEWER: &str = VIEWER_TOKEN;

/// Runs `tests/browser/install.sh` once per test process; panics with its output and what it
/// needs when it fails.
fn install() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = repo().join("tests/browser/install.sh");
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(&script)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "`bash tests/browser/install.sh` failed ({}): the browser tests need Chromium at \
             /usr/bin/chromium (Debian package `chromium`, installed by the script when run as \
             root with apt reachable; or CHROMIUM=/path/to/chromium), node and npm, and the npm \
             registry for `playwright-core`.\n--- stdout\n{}--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "browser tests: {} ({:.1} s)",
            String::from_utf8_lossy(&out.stdout).trim(),
            started.elapsed().as_secs_f64()
        );
    });
}

/// One browser test at a time: two servers and two Chromiums on a small machine would make
/// the measurements of each other noise (and the timings flaky).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `target/browser-artifacts/NAME`, emptied.
fn artifacts(name: &str) -> PathBuf {
    let dir = repo().join("target/browser-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the artifacts directory");
    dir
}

/// Runs `node tests/browser/SCRIPT` with `env`; prints its output and panics when it fails.
/// Returns its stdout.
fn node(script: &str, env: &[(&str, &str)], artifacts: &Path) -> String {
    let dir = repo().join("tests/browser");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .current_dir(&dir)
        .env("ARTIFACTS", artifacts)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("--- node {script}\n{stdout}{stderr}---");
    assert!(
        out.status.success(),
        "node tests/browser/{script} failed ({}): see its output above; screenshots (and \
         failure.png) in {}",
        out.status,
        artifacts.display()
    );
    stdout
}

fn get_json(url: &str, path: &str) -> serde_json::Value {
    get_json_as(url, path, None)
}

/// `GET /api/v1/PATH` with a bearer token (reads protected by `--protect-reads`).
fn get_json_as(url: &str, path: &str, token: Option<&str>) -> serde_json::Value {
    let (status, body) = http("GET", &format!("{url}/api/v1/{path}"), token, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Waits until a candidate waits at production's approval gate; returns its id.
fn waiting_for_approval(url: &str, token: Option<&str>) -> i64 {
    wait_for(
        "production to wait for an approval",
        Duration::from_secs(180),
        || {
            let why = get_json_as(url, "environments/production/why", token);
            let waits = why["blockers"].as_array().is_some_and(|b| {
                b.iter()
                    .any(|b| b.as_str().unwrap_or("").contains("waits for approval"))
            });
            match why["next"]["id"].as_i64() {
                Some(id) if waits => Ok(id),
                _ => Err(why.to_string()),
            }
        },
    )
}

fn server_log(server: &Server) -> String {
    std::fs::read_to_string(&server.log).unwrap_or_default()
}

#[test]
fn the_dashboard_shows_the_pipeline_and_approves_a_candidate_into_production() {
    let _one_at_a_time = serial();
    install();
    let ex = CloudGov::new();
    let server = ex.server(&[]);
    let url = server.url.clone();
    // The browser sees the server as operators deploy it: behind a reverse proxy, under a
    // path prefix (assets, API calls and the live log stream all resolve below it).
    let proxy = ReverseProxy::start(&url, "/lockgate", None);

    // The server checks every resource once at start (the environments are `check_every:
    // never`); development and staging pass; production waits for an approval.
    let waiting = waiting_for_approval(&url, None);

    let dir = artifacts("dashboard");
    node(
        "dashboard.mjs",
        &[("LOCKGATE_URL", &proxy.url), ("LOCKGATE_TOKEN", APPROVER)],
        &dir,
    );

    // Through the API: production runs the candidate approved in the browser.
    let why = get_json(&url, "environments/production/why");
    assert_eq!(
        why["current"]["id"].as_i64(),
        Some(waiting),
        "production runs the approved candidate: {why}\n{}",
        server_log(&server)
    );
    let jobs = get_json(&url, "jobs");
    let prod = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "deploy-production")
        .expect("deploy-production in /jobs");
    assert_eq!(prod["last_build"]["status"], "succeeded", "{prod}");
    // setup.sh left release 1 running there; the approved candidate was deployed after it.
    let current = std::fs::read_to_string(ex.dir.path().join("work/envs/production/current"))
        .unwrap_or_default();
    assert_ne!(current.trim(), "1", "production was not re-deployed");
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.0.0\""),
        "{}",
        ex.deployed_versions("production")
    );
    for shot in ["01-pipeline.png", "failure.png"] {
        let exists = dir.join(shot).is_file();
        assert_eq!(exists, shot != "failure.png", "{shot} in {}", dir.display());
    }
}

/// The builds of `job`, newest first (the first page of 100).
fn job_builds(url: &str, job: &str, token: &str) -> Vec<serde_json::Value> {
    get_json_as(url, &format!("jobs/{job}/builds?limit=100"), Some(token))["builds"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_dashboard_asks_for_a_token_and_its_actions_follow_the_role() {
    let _one_at_a_time = serial();
    install();
    let ex = CloudGov::new();
    let server = ex.server(&["--protect-reads"]);
    let url = server.url.clone();
    let (status, body) = http("GET", &format!("{url}/api/v1/pipeline"), None, None);
    assert_eq!(status, 401, "reads are protected: {body}");

    // Production runs candidate 1 (app 1.0.0), approved through the API, so that the browser's
    // rollback has an earlier candidate to go back to once it approved 1.1.0.
    let first = waiting_for_approval(&url, Some(VIEWER));
    let (status, body) = http(
        "POST",
        &format!("{url}/api/v1/environments/production/approve"),
        Some(APPROVER),
        Some(&format!("{{\"candidate\": {first}}}")),
    );
    assert_eq!(status, 200, "approving candidate #{first}: {body}");
    wait_for(
        "production to run the first candidate, every build finished",
        Duration::from_secs(120),
        || {
            let envs = get_json_as(&url, "environments", Some(VIEWER));
            let builds = get_json_as(&url, "builds?limit=100", Some(VIEWER));
            let runs = envs.as_array().is_some_and(|e| {
                e.iter().any(|e| {
                    e["environment"] == "production" && e["current"]["id"].as_i64() == Some(first)
                })
            });
            let busy = builds["builds"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["finished"] == false));
            (runs && !busy)
                .then_some(())
                .ok_or(format!("{envs}\n{builds}"))
        },
    );
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.0.0\""),
        "{}",
        ex.deployed_versions("production")
    );
    let manual_before = job_builds(&url, "deploy-development", VIEWER)
        .iter()
        .filter(|b| b["reason"] == "manual")
        .count();
    assert_eq!(manual_before, 0, "no build was triggered by hand yet");

    let dir = artifacts("operator");
    let releases = ex.dir.path().join("work/releases");
    let first_id = first.to_string();
    let out = node(
        "operator.mjs",
        &[
            ("LOCKGATE_URL", &url),
            ("VIEWER_TOKEN", VIEWER),
            ("OPERATOR_TOKEN", OPERATOR),
            ("APPROVER_TOKEN", APPROVER),
            ("RELEASES_DIR", &releases.display().to_string()),
            ("FIRST_CANDIDATE", &first_id),
        ],
        &dir,
    );
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("operator.mjs printed no JSON line:\n{out}"));
    let seen: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));

    // Through the API and on disk: what the browser did, and nothing more.
    let manual: Vec<_> = job_builds(&url, "deploy-development", VIEWER)
        .into_iter()
        .filter(|b| b["reason"] == "manual")
        .collect();
    assert_eq!(
        manual.len(),
        1,
        "exactly one build triggered by hand (the operator's; the viewer's was refused): {manual:?}"
    );
    assert_eq!(manual[0]["number"], seen["triggered_build"], "{manual:?}");
    let prod = job_builds(&url, "deploy-production", VIEWER);
    let last = &prod[0];
    assert_eq!(last["number"], seen["rollback_build"], "{last}");
    assert_eq!(
        last["reason"],
        format!("rollback to candidate #{first}"),
        "{last}"
    );
    assert_eq!(last["status"], "succeeded", "{last}");
    let why = get_json_as(&url, "environments/production/why", Some(VIEWER));
    assert_eq!(
        why["current"]["id"].as_i64(),
        Some(first),
        "production runs the first candidate again: {why}\n{}",
        server_log(&server)
    );
    assert_ne!(seen["second"].as_i64(), Some(first), "{seen}");
    let deployed = ex.deployed_versions("production");
    assert!(deployed.contains("\"app\": \"1.0.0\""), "{deployed}");
    let releases_dir = ex.dir.path().join("work/envs/production/releases");
    let kept: Vec<String> = std::fs::read_dir(&releases_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("versions.json")).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        kept.iter().any(|v| v.contains("\"app\": \"1.1.0\"")),
        "1.1.0 was deployed to production before the rollback: {kept:?}"
    );
    let resources = get_json_as(&url, "resources", Some(VIEWER));
    let app = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "app-release")
        .expect("app-release in /resources");
    assert!(app["pinned"].is_null(), "app-release is left pinned: {app}");
    assert_eq!(app["latest"]["version"]["version"], "1.1.0", "{app}");
    assert_eq!(app["latest"]["disabled"], false, "{app}");
    for shot in ["01-locked.png", "failure.png"] {
        let exists = dir.join(shot).is_file();
        assert_eq!(exists, shot != "failure.png", "{shot} in {}", dir.display());
    }
}

/// Text a plugin hands back — HTML, a script, an escape sequence — is shown by the dashboard as
/// text: nothing is parsed from it, no script runs (issue 14 §7).
#[test]
fn the_dashboard_shows_hostile_text_as_text() {
    let _one_at_a_time = serial();
    install();
    let dir = tempfile::tempdir().expect("temporary directory");
    let text = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>\\u001b[2J<b>bold</b>";
    std::fs::write(
        dir.path().join("pipeline.yml"),
        format!(
            "environments: [development]\n\
             resource_types: {{hostile: {}}}\n\
             resources:\n  - {{name: sneaky, type: hostile, check_every: 1h, source: {{attack: echo, text: \"{text}\"}}}}\n\
             jobs:\n  - {{name: j, environment: development, plan: [{{get: sneaky}}]}}\n",
            repo()
                .join("plugins/target/wasm32-wasip2/release/hostile.wasm")
                .display()
        ),
    )
    .expect("writing pipeline.yml");
    let mut cmd = lockgate(dir.path());
    cmd.current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .args(["server", "pipeline.yml", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd, dir.path().join("server.log"));
    let url = server.url.clone();
    wait_for("the check of `sneaky`", Duration::from_secs(60), || {
        let versions = get_json(&url, "resources/sneaky/versions");
        match versions["versions"].as_array().map(Vec::len) {
            Some(n) if n > 0 => Ok(()),
            _ => Err(server_log(&server)),
        }
    });
    node(
        "hostile-text.mjs",
        &[
            ("LOCKGATE_URL", &url),
            ("RESOURCE", "sneaky"),
            ("NEEDLE", "<img src=x onerror=window.__pwned=1>"),
        ],
        &artifacts("hostile-text"),
    );
}

/// A pipeline of `n` jobs over development → staging → production, all on one `artifact-dir`
/// resource: in each environment a gate job (taking the artifact `passed` the previous
/// environment's gate) and chains of three jobs behind it.
fn many_jobs_pipeline(n: usize, plugins: &Path) -> String {
    let envs = ["development", "staging", "production"];
    let mut y = format!(
        "environments: [development, staging, production]\n\
         resource_types:\n  artifact-dir: {}/artifact_dir.wasm\n\
         resources:\n  - name: artifact\n    type: artifact-dir\n    check_every: 1h\n\
         \x20   source: {{ dir: /dirs/art, regexp: 'art-(.*)\\.txt' }}\n\
         \x20   grants: {{ dirs: {{ art: ./work/artifacts }} }}\n\
         jobs:\n",
        plugins.display()
    );
    let mut made = 0;
    for (e, env) in envs.iter().enumerate() {
        let count = (n - made) / (envs.len() - e);
        for i in 0..count {
            let name = if i == 0 {
                format!("gate-{env}")
            } else {
                format!("{env}-{i:03}")
            };
            let passed = match (e, i) {
                (0, 0) => String::new(),
                (_, 0) => format!(", passed: [gate-{}]", envs[e - 1]),
                (_, i) if i % 3 == 1 => format!(", passed: [gate-{env}]"),
                (_, i) => format!(", passed: [{env}-{:03}]", i - 1),
            };
            y.push_str(&format!(
                "  - name: {name}\n    environment: {env}\n    plan:\n      - {{ get: artifact, trigger: true{passed} }}\n"
            ));
        }
        made += count;
    }
    y
}

#[test]
fn the_dashboard_renders_200_jobs_and_updates_them_live() {
    let _one_at_a_time = serial();
    install();
    let dir = tempfile::tempdir().expect("temporary directory");
    let art = dir.path().join("work/artifacts");
    std::fs::create_dir_all(&art).expect("creating work/artifacts");
    std::fs::write(art.join("art-1.0.0.txt"), "artifact 1.0.0").expect("writing the artifact");
    std::fs::write(
        dir.path().join("tokens.yml"),
        format!("- {{ name: ci, token: \"{OPERATOR}\", role: operator }}\n"),
    )
    .expect("writing tokens.yml");
    let plugins = repo().join("plugins/target/wasm32-wasip2/release");
    std::fs::write(
        dir.path().join("pipeline.yml"),
        many_jobs_pipeline(200, &plugins),
    )
    .expect("writing pipeline.yml");
    let mut cmd = lockgate(dir.path());
    cmd.current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .args([
            "server",
            "pipeline.yml",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            "tokens.yml",
        ]);
    let server = Server::start(cmd, dir.path().join("server.log"));
    let url = server.url.clone();
    let jobs = get_json(&url, "jobs");
    assert_eq!(
        jobs.as_array().map(Vec::len),
        Some(200),
        "{}",
        server_log(&server)
    );

    let artifacts = artifacts("many-jobs");
    let out = node(
        "many-jobs.mjs",
        &[
            ("LOCKGATE_URL", &url),
            ("EXPECT_JOBS", "200"),
            ("TRIGGER_JOB", "gate-development"),
            ("LOCKGATE_TOKEN", OPERATOR),
        ],
        &artifacts,
    );
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("many-jobs.mjs printed no JSON line:\n{out}"));
    let m: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(m["jobs"], 200, "{m}");
    assert!(m["poll_updates"].as_u64().unwrap_or(0) > 0, "{m}");
    println!("dashboard with 200 jobs (measured): {line}");
}
