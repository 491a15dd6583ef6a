//! The `lockgate` binary as a user runs it: help, version, `plugin inspect`, `plugin call`, and
//! the errors a wrong file or flag gets.

use std::path::PathBuf;

use lockgate_e2e::{Run, lockgate, run};
use lockgate_test_artifacts as artifacts;

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn lg(args: &[&str]) -> Run {
    run(lockgate(&tmp()).args(args))
}

#[test]
fn help_and_version() {
    let help = lg(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Usage: lockgate"), "{}", help.stdout);
    assert!(help.stdout.contains("plugin"), "{}", help.stdout);
    let version = lg(&["--version"]);
    assert_eq!(version.code, 0);
    assert_eq!(
        version.stdout.trim(),
        format!("lockgate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    let r = lg(&["plugin", "inspect", "--jsn", artifacts::COUNTER]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--jsn"), "{}", r.stderr);
}

#[test]
fn inspect_prints_world_name_version_schemas_and_capabilities() {
    let r = lg(&["plugin", "inspect", artifacts::COUNTER]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("counter "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("world:     resource-type (lockgate:plugin@0.1.0)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("dir       /dirs/state"), "{}", r.stdout);
    assert!(r.stdout.contains("source schema:"), "{}", r.stdout);

    let r = lg(&["plugin", "inspect", "--json", artifacts::ASSERT_FILE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["world"], "test-step");
    assert_eq!(v["name"], "assert-file");
    assert_eq!(v["contract"], "lockgate:plugin@0.1.0");
    assert!(v["schemas"]["config"].is_object(), "{v}");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn inspect_refuses_a_wrong_world_and_a_missing_file_naming_them() {
    let r = lg(&["plugin", "inspect", artifacts::WRONG_WORLD]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(artifacts::WRONG_WORLD), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not implement a Lockgate plugin world"),
        "{}",
        r.stderr
    );

    let r = lg(&["plugin", "inspect", "/nonexistent/plugin.wasm"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cannot read plugin `/nonexistent/plugin.wasm`"),
        "{}",
        r.stderr
    );
}

#[test]
fn call_runs_an_operation_with_the_grants_given() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("counter"), "4").unwrap();
    let dir = format!("state={}", state.path().display());
    let r = lg(&[
        "plugin",
        "call",
        artifacts::COUNTER,
        "check",
        "--source",
        r#"{"path":"/dirs/state/counter"}"#,
        "--version",
        r#"{"number":"2"}"#,
        "--dir",
        &dir,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let versions: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        versions,
        serde_json::json!([{"number":"2"},{"number":"3"},{"number":"4"}])
    );
}

#[test]
fn call_reports_a_contained_escape_attempt_as_a_plugin_failure() {
    let r = lg(&[
        "plugin",
        "call",
        artifacts::HOSTILE,
        "check",
        "--source",
        r#"{"attack":"read-file","path":"/etc/passwd"}"#,
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("plugin `hostile` check failed"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stdout.contains("root:"),
        "nothing of /etc/passwd may leak: {}",
        r.stdout
    );
}

#[test]
fn call_stops_a_runaway_plugin_at_the_timeout() {
    let r = lg(&[
        "plugin",
        "call",
        artifacts::HOSTILE,
        "check",
        "--source",
        r#"{"attack":"loop"}"#,
        "--timeout",
        "0.5",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("exceeded its 500 ms check deadline"),
        "{}",
        r.stderr
    );
}

#[test]
fn call_run_exits_non_zero_when_a_case_fails() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("manifest"), "release 2").unwrap();
    let input = format!("deployed={}", out.path().display());
    let config = r#"{"assertions":[{"file":"deployed/manifest","contains":"release 2"},{"file":"deployed/manifest","contains":"release 3"}]}"#;
    let r = lg(&[
        "plugin",
        "call",
        artifacts::ASSERT_FILE,
        "run",
        "--config",
        config,
        "--input",
        &input,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("1 passed, 1 failed"), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["suites"][0]["cases"][1]["status"], "failed");
}

#[test]
fn a_store_error_hides_the_password_and_prints_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // A URL the driver refuses at once (no port number), with a password.
    let url = "postgres://alice:s3cret@127.0.0.1:notaport/db";
    let r = run(lockgate(&tmp())
        .current_dir(dir.path())
        .args(["builds", "--state", url]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(
        line.starts_with(
            "error: cannot open the state store `postgres://alice:***@127.0.0.1:notaport/db`: "
        ),
        "{line}"
    );
    assert_eq!(
        line.matches("cannot open the state store").count(),
        1,
        "{line}"
    );
    // Each cause once: no part of the line after the message repeats.
    let causes: Vec<&str> = line.split(": ").skip(2).collect();
    assert!(!causes.is_empty(), "{line}");
    for (i, c) in causes.iter().enumerate() {
        assert!(!causes[i + 1..].contains(c), "`{c}` twice in {line}");
    }
}

#[test]
fn a_corrupt_component_is_reported_with_wasmtimes_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("truncated.wasm");
    let bytes = std::fs::read(artifacts::COUNTER).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let r = lg(&["plugin", "inspect", file.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let line = r.stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    let message = format!(
        "error: `{}` is not a valid WebAssembly component (truncated or corrupt?): ",
        file.display()
    );
    assert!(line.starts_with(&message), "{line}");
    // wasmtime's reason follows, once.
    assert!(line.len() > message.len(), "{line}");
    assert_eq!(line.matches("not a valid WebAssembly").count(), 1, "{line}");
}
