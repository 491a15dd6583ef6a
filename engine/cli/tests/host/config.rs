//! Pipeline files through `lockgate::config` and through the `lockgate validate` binary, with
//! the real plugins built from `plugins/`:
//!
//! - `tests/fixtures/pipelines/three-environments.yml` is valid;
//! - the broken fixtures `tests/fixtures/pipelines/broken/NAME.yml` report every problem of a
//!   file together (each against its `NAME.expected`, one test per file, in the test target
//!   `broken_pipelines`).
//!
//! The fixtures name the plugins as `((counter_wasm))` and `((assert_file_wasm))`; the tests
//! fill these vars with the paths `lockgate-test-artifacts` exports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::host;
use lockgate::config::{self, Approval, CheckEvery, Vars};
use lockgate_test_artifacts as artifacts;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines")
}

fn broken_dir() -> PathBuf {
    fixtures().join("broken")
}

/// The vars every fixture needs: the plugin paths.
fn plugin_vars() -> Vars {
    let mut vars = Vars::new();
    vars.set("counter_wasm", artifacts::COUNTER)
        .set("assert_file_wasm", artifacts::ASSERT_FILE);
    vars
}

/// The plain diagnostics of loading `file` through the library, with paths relative to
/// `broken/` as in the `.expected` files.
async fn library_output(file: &Path) -> (bool, String) {
    let (ok, text) = match lockgate::plan::load(file, &plugin_vars(), &host(), None).await {
        Ok(loaded) => (true, loaded.warnings.render_plain()),
        Err(report) => (false, report.render_plain()),
    };
    let prefix = format!("{}/", broken_dir().display());
    (ok, text.replace(&prefix, ""))
}

fn lockgate(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockgate"));
    // Nothing of the shell's `LOCKGATE_*` settings (server, database, registry, config...).
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("LOCKGATE_")) {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .arg("--cache-dir")
        .arg(crate::common::cache_dir())
        .env_remove("RUST_LOG")
        // No user config file and no default registry: a registry is only what a test gives.
        .env("XDG_CONFIG_HOME", dir.join(".no-config"))
        .env("XDG_DATA_HOME", dir.join(".no-data"))
        .env("NO_COLOR", "1");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[tokio::test]
async fn the_valid_pipeline_loads_with_the_real_plugins() {
    let mut vars = plugin_vars();
    vars.set_secret("webhook_token", "wh-0123456789");
    let file = fixtures().join("three-environments.yml");
    let loaded = match lockgate::plan::load(&file, &vars, &host(), None).await {
        Ok(loaded) => loaded,
        Err(report) => panic!("{}", report.render_plain()),
    };
    assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
    let p = &loaded.pipeline;

    let envs: Vec<&str> = p.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(envs, ["development", "staging", "production"]);
    let staging = p.environment("staging").unwrap();
    assert_eq!(
        staging.soak.as_ref().unwrap().value,
        Duration::from_secs(600)
    );
    assert_eq!(staging.approval(), Approval::Automatic);
    let production = p.environment("production").unwrap();
    assert_eq!(production.approval(), Approval::Required);
    let gates: Vec<&str> = p
        .gate_jobs(production)
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(gates, ["deploy-production"]);
    let staging_gates: Vec<&str> = p
        .gate_jobs(staging)
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(staging_gates, ["deploy-staging", "acceptance-staging"]);

    assert_eq!(p.resources.len(), 3);
    let release = p.resource("release").unwrap();
    // `path` comes from the type's defaults.
    assert_eq!(
        release.source.value,
        serde_json::json!({"path": "/dirs/state/release"})
    );
    assert_eq!(
        release.check_every(),
        CheckEvery::Interval(Duration::from_secs(30))
    );
    let grants = release.grants.to_grants();
    assert_eq!(grants.dirs[0].name, "state");
    assert!(grants.dirs[0].writable);
    assert_eq!(grants.dirs[0].path, fixtures().join("state"));
    let settings = p.resource("settings").unwrap();
    assert_eq!(settings.check_every(), CheckEvery::Never);
    assert_eq!(
        settings.webhook_token.as_ref().unwrap().value,
        "wh-0123456789"
    );
    assert_eq!(
        p.resource_type("counter").unwrap().limits().memory_bytes,
        64 << 20
    );

    assert_eq!(p.jobs.len(), 5);
    let deploy_dev = p.job("deploy-development").unwrap();
    assert_eq!(
        deploy_dev.max_in_flight(),
        Some(1),
        "serial through the merge key"
    );
    assert_eq!(
        deploy_dev.timeout.as_ref().unwrap().value,
        Duration::from_secs(1800)
    );
    assert!(deploy_dev.hooks.on_failure.is_some());
    let deploy_staging = p.job("deploy-staging").unwrap();
    assert_eq!(deploy_staging.max_in_flight(), Some(1), "serial_groups");
    assert_eq!(p.job("test-development").unwrap().max_in_flight(), Some(2));
    let acceptance = p.job("acceptance-staging").unwrap();
    let (_, candidate) = acceptance.gets().next().unwrap();
    assert_eq!(
        (candidate.name.as_str(), candidate.resource.as_str()),
        ("candidate", "release")
    );
    assert_eq!(candidate.passed[0].value, "deploy-staging");

    // The plugins were loaded with the real host and their schemas used.
    let plan = &loaded.plan;
    let counter = plan.resource("release").unwrap().plugin.as_ref().unwrap();
    assert_eq!(counter.description().name, "counter");
    let mut steps = Vec::new();
    for job in &plan.jobs {
        job.steps.iter().for_each(|s| s.walk(&mut steps));
    }
    assert!(steps.iter().any(|s| matches!(
        &s.action,
        lockgate::plan::ActionPlan::Test(t) if t.type_name == "assert-file" && t.plugin.is_some()
    )));

    // The secret is redacted wherever it would be shown.
    assert_eq!(
        loaded.redactor().redact("POST /hooks?token=wh-0123456789"),
        "POST /hooks?token=((redacted))"
    );
}

#[tokio::test]
async fn all_errors_of_a_file_are_reported_together() {
    let (_, actual) = library_output(&broken_dir().join("many-errors.yml")).await;
    let errors = actual.lines().filter(|l| l.contains(": error: ")).count();
    assert_eq!(errors, 7, "{actual}");
    // From every stage: the model, the references, the plugin's schema.
    for needle in [
        "unknown key `chek_every`",
        "`trigger` is an option of `get` steps",
        "undefined resource `settings`",
        "undefined test type `assert-fle`",
        "invalid `source` of resource `release`: unknown key `increment`",
    ] {
        assert!(actual.contains(needle), "{needle}: {actual}");
    }
}

/// Writes the plugin vars to a vars file in `dir`.
fn vars_file(dir: &Path) -> PathBuf {
    let path = dir.join("vars.yml");
    std::fs::write(
        &path,
        format!(
            "counter_wasm: {}\nassert_file_wasm: {}\n",
            serde_json::to_string(artifacts::COUNTER).unwrap(),
            serde_json::to_string(artifacts::ASSERT_FILE).unwrap()
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_binary_accepts_the_valid_pipeline_with_vars_from_the_environment() {
    let out = lockgate(&fixtures())
        .args(["validate", "three-environments.yml"])
        .env("LOCKGATE_VAR_COUNTER_WASM", artifacts::COUNTER)
        .env("LOCKGATE_VAR_ASSERT_FILE_WASM", artifacts::ASSERT_FILE)
        .env("LOCKGATE_SECRET_WEBHOOK_TOKEN", "wh-0123456789")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "pipeline is valid: 3 resources, 5 jobs, 3 environments\n"
    );
    assert_eq!(text(&out.stderr), "", "no warnings");

    // Without the vars, each placeholder is reported.
    let out = lockgate(&fixtures())
        .args(["validate", "three-environments.yml", "--format", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    for var in ["counter_wasm", "assert_file_wasm", "webhook_token"] {
        assert!(
            stderr.contains(&format!("error: undefined var `{var}`")),
            "{var}: {stderr}"
        );
    }
}

#[test]
fn the_human_format_shows_snippets_help_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = lockgate(&broken_dir())
        .args(["validate", "typo-key.yml", "--vars"])
        .arg(vars_file(tmp.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    for needle in [
        "unknown key `serial_grups` in a job",
        "[typo-key.yml:13:5]",
        "serial_grups: [deployments]",
        "────────────",
        "help: did you mean `serial_groups`?",
        "help: did you mean `trigger`?",
        "error: the pipeline is invalid: 2 errors",
    ] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
}

#[test]
fn secrets_are_redacted_from_diagnostics() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("pipeline.yml"),
        "\
environments: [development]
resource_types:
  counter: {plugin: ((counter_wasm))}
resources:
  - name: release
    type: counter
    source: {path: ((state_path))}
    grants: {dirs: {state: state}}
jobs:
  - {name: deploy, environment: development, plan: [{get: release}]}
",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("secrets.yml"),
        "state_path: relative/s3cret-path\n",
    )
    .unwrap();
    let out = lockgate(tmp.path())
        .args([
            "validate",
            "pipeline.yml",
            "--format",
            "plain",
            "--secrets",
            "secrets.yml",
            "--vars",
        ])
        .arg(vars_file(tmp.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        "pipeline.yml:7:20: error: invalid `source.path` of resource `release`: \"((redacted))\" does not match \"^/\" (help: expected: Absolute path of the counter file in the sandbox, e.g. /dirs/state/counter)\n"
    );
}

#[test]
fn registry_references_resolve_in_the_registry_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let published = lockgate(tmp.path())
        .args([
            "plugin",
            "publish",
            artifacts::COUNTER,
            "--registry",
            "registry",
        ])
        .output()
        .unwrap();
    assert_eq!(published.status.code(), Some(0), "{}", describe(&published));
    std::fs::write(
        tmp.path().join("pipeline.yml"),
        "\
environments: [development]
resource_types:
  counter: {plugin: counter@^0.1}
resources:
  - name: release
    type: counter
    source: {path: /dirs/state/release}
    grants: {dirs: {state: state}}
jobs:
  - {name: deploy, environment: development, plan: [{get: release}]}
",
    )
    .unwrap();
    let out = lockgate(tmp.path())
        .args(["validate", "pipeline.yml", "--registry", "registry"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "pipeline is valid: 1 resource, 1 job, 1 environment\n"
    );

    let out = lockgate(tmp.path())
        .args(["validate", "pipeline.yml", "--format", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr),
        "pipeline.yml:3:21: error: no plugin registry to resolve it in (help: pass `--registry DIR` (or set LOCKGATE_REGISTRY, or `registry` in ~/.config/lockgate/config.toml) naming a directory `lockgate plugin publish` filled, or use a path to a `.wasm` file)\n"
    );

    let out = lockgate(tmp.path())
        .args([
            "validate",
            "pipeline.yml",
            "--format",
            "plain",
            "--registry",
            "nowhere",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr)
            .starts_with("pipeline.yml:3:21: error: the plugin registry `nowhere` does not exist"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_bad_vars_file_is_reported_at_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("vars.yml"), "- a list\n").unwrap();
    std::fs::write(tmp.path().join("secrets.yml"), "token: [unclosed\n").unwrap();
    let out = lockgate(tmp.path())
        .args([
            "validate",
            "missing.yml",
            "--format",
            "plain",
            "--vars",
            "vars.yml",
            "--secrets",
            "secrets.yml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0], "secrets.yml:1:8: error: unclosed bracket '['");
    assert_eq!(
        lines[1],
        "vars.yml:1:1: error: a vars file must be a mapping of names to values, found a list"
    );

    // A missing pipeline file is an error too.
    let out = lockgate(tmp.path())
        .args(["validate", "missing.yml", "--format", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).starts_with("missing.yml:1:1: error: cannot read the pipeline file:"),
        "{}",
        describe(&out)
    );
}

#[test]
fn warnings_do_not_fail_a_valid_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("pipeline.yml"),
        "\
environments: [development]
resource_types:
  counter: {plugin: ((counter_wasm))}
resources:
  - {name: release, type: counter, source: {path: /dirs/state/release}}
  - {name: spare, type: counter, source: {path: /dirs/state/spare}, grants: {dirs: {state: state}}}
jobs:
  - {name: deploy, environment: development, plan: [{get: release}]}
",
    )
    .unwrap();
    let out = lockgate(tmp.path())
        .args(["validate", "pipeline.yml", "--format", "plain", "--vars"])
        .arg(vars_file(tmp.path()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        text(&out.stdout),
        "pipeline is valid: 2 resources, 1 job, 1 environment\n"
    );
    assert_eq!(
        text(&out.stderr),
        "\
pipeline.yml:5:12: warning: plugin `counter` asks for the directory `state`, which resource `release` does not grant (help: add `grants: {dirs: {state: <path>}}` (mounted at /dirs/state))
pipeline.yml:6:12: warning: resource `spare` is not used by any job
"
    );
}

#[test]
fn the_reference_example_is_a_valid_pipeline() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/pipeline-reference.md"),
    )
    .unwrap();
    let start = doc.find("```yaml\n").unwrap() + "```yaml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let mut vars = Vars::new();
    vars.set_secret("git_token", "ghp-example-token")
        .set_secret("webhook_token", "wh-example");
    let parsed = config::parse_str(Path::new("example.yml"), example, &vars);
    let mut report = parsed.report;
    report.extend(config::validate_structure(&parsed.pipeline));
    assert!(report.is_empty(), "{}", report.render_plain());
    let p = &parsed.pipeline;
    assert_eq!(p.environments.len(), 3);
    assert_eq!(p.jobs.len(), 3);
    assert_eq!(
        p.resource("release").unwrap().source.value,
        serde_json::json!({"path": "/dirs/state/counter"})
    );
}
