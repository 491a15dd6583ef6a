//! Plugins written in C, Go and Zig, end to end through the real binary.
//!
//! The examples (`examples/plugins/c`: the test step `required-lines`; `examples/plugins/go`:
//! the test step `version-policy`; `examples/plugins/zig`: the resource type `release-file`) are
//! built from source by their own `build.sh`, whose toolchains (Debian clang/wasi-libc, Go and
//! Zig from PyPI, wasm-tools from PyPI) install themselves into `target/toolchains` on first
//! use, from the committed bindings, with the WASI preview1 adapter written by
//! `lockgate plugin adapter`. Then `lockgate plugin inspect` and `lockgate plugin call` exercise
//! each component with real inputs, and `examples/plugins/native-pipeline.yml` carries releases
//! from development through staging to production, where a denied release is stopped by the Go
//! test in staging. Finally `lockgate plugin new` generates the six C/Go/Zig template projects,
//! which are built with their documented `./build.sh` and called.
//!
//! Nothing is skipped: a toolchain that cannot be installed fails the test, with the installer's
//! output.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use lockgate_e2e::{Run, build_script, lockgate, repo, run};
use serde_json::Value;

const PIPELINE: &str = include_str!("../../examples/plugins/native-pipeline.yml");

/// Where this test binary keeps what it builds (and the shared compiled-plugin cache).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins-c-go-zig")
}

/// Builds the example of `lang` once per test binary; returns the component.
fn example(lang: &'static str, name: &str) -> PathBuf {
    static BUILT: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match lang {
        "c" => &BUILT[0],
        "go" => &BUILT[1],
        "zig" => &BUILT[2],
        _ => unreachable!("no {lang} example"),
    };
    slot.get_or_init(|| {
        let dir = repo().join("examples/plugins").join(lang);
        let out = scratch().join(format!("{name}.wasm"));
        fs::create_dir_all(scratch()).unwrap();
        let _ = fs::remove_file(&out);
        build_script(
            &format!("examples/plugins/{lang}/build.sh"),
            &dir,
            &dir.join("build.sh"),
            &[&out],
        );
        let size = fs::metadata(&out)
            .unwrap_or_else(|e| panic!("{}: {e}", out.display()))
            .len();
        eprintln!("{lang} example `{name}`: {size} bytes");
        out
    })
    .clone()
}

/// `lockgate ARGS` with the shared compiled-plugin cache.
fn lg(args: &[&str]) -> Run {
    run(lockgate(&scratch()).args(args).stdin(Stdio::null()))
}

/// `lockgate plugin inspect FILE --json`, which must succeed.
fn inspect(file: &Path) -> Value {
    let r = lg(&["plugin", "inspect", file.to_str().unwrap(), "--json"]);
    assert_eq!(
        r.code,
        0,
        "inspect {}:\n{}{}",
        file.display(),
        r.stdout,
        r.stderr
    );
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("inspect --json: {e}\n{}", r.stdout))
}

/// `lockgate plugin call FILE ARGS`: the result (JSON on stdout, when there is one) and the run.
fn call(file: &Path, args: &[&str]) -> (Option<Value>, Run) {
    let mut all = vec!["plugin", "call", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let r = lg(&all);
    (serde_json::from_str(&r.stdout).ok(), r)
}

/// A call that must succeed (exit 0) and print a JSON result.
fn call_ok(file: &Path, args: &[&str]) -> Value {
    let (value, r) = call(file, args);
    assert_eq!(r.code, 0, "call {args:?}:\n{}{}", r.stdout, r.stderr);
    value.unwrap_or_else(|| panic!("call {args:?}: no JSON result:\n{}", r.stdout))
}

/// A call that the plugin refuses: exit code not 0, and the error on stderr, which is returned.
fn call_err(file: &Path, args: &[&str]) -> String {
    let (_, r) = call(file, args);
    assert_ne!(
        r.code, 0,
        "call {args:?} should fail:\n{}{}",
        r.stdout, r.stderr
    );
    r.stderr
}

/// `(name, status, message)` of every case of a report.
fn cases(report: &Value) -> Vec<(String, String, String)> {
    report["suites"]
        .as_array()
        .unwrap_or_else(|| panic!("not a report: {report}"))
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap().iter())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn statuses(report: &Value) -> Vec<String> {
    cases(report).into_iter().map(|c| c.1).collect()
}

/// `plugin call … run` of a test step: the report and the exit code (0 passed, 1 failed).
fn run_test(file: &Path, config: &str, input: &str) -> (Value, i32) {
    let (value, r) = call(file, &["run", "--config", config, "--input", input]);
    assert!(
        r.code == 0 || r.code == 1,
        "run {config}:\n{}{}",
        r.stdout,
        r.stderr
    );
    let report =
        value.unwrap_or_else(|| panic!("run {config}: no report:\n{}{}", r.stdout, r.stderr));
    (report, r.code)
}

#[test]
fn c_test_step_checks_required_lines_of_an_input() {
    let wasm = example("c", "required-lines");
    let d = inspect(&wasm);
    assert_eq!(d["name"], "required-lines", "{d}");
    assert_eq!(d["world"], "test-step", "{d}");
    assert_eq!(
        d["schemas"]["config"]["required"],
        serde_json::json!(["file", "lines"]),
        "{d}"
    );
    let text = lg(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(
        text.stdout.starts_with("required-lines 0.1.0"),
        "{}",
        text.stdout
    );

    let tmp = tempfile::tempdir().unwrap();
    let deployed = tmp.path().join("deployed");
    fs::create_dir_all(&deployed).unwrap();
    fs::write(
        deployed.join("RELEASE"),
        "1.4.0\n  healthcheck=ok \nregion=eu\n",
    )
    .unwrap();
    let input = format!("deployed={}", deployed.display());

    // Every line present: passed, exit code 0.
    let (report, code) = run_test(
        &wasm,
        r#"{"file":"deployed/RELEASE","lines":["healthcheck=ok","region=eu"],"suite":"smoke"}"#,
        &input,
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["suites"][0]["name"], "smoke");
    let passed = |name: &str| (name.to_owned(), "passed".to_owned(), String::new());
    assert_eq!(
        cases(&report),
        [
            passed("has line `healthcheck=ok`"),
            passed("has line `region=eu`")
        ]
    );

    // A missing line fails its case only, with the reason; exit code 1.
    let (report, code) = run_test(
        &wasm,
        r#"{"file":"deployed/RELEASE","lines":["healthcheck=ok","region=us"]}"#,
        &input,
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["suites"][0]["name"], "required-lines");
    let all = cases(&report);
    assert_eq!(all[0].1, "passed");
    assert_eq!(all[1].1, "failed");
    assert_eq!(all[1].2, "deployed/RELEASE has no line `region=us`");

    // A missing file fails every case, saying so.
    let (report, code) = run_test(
        &wasm,
        r#"{"file":"deployed/nothing.txt","lines":["a","b"]}"#,
        &input,
    );
    assert_eq!(code, 1);
    for (_, status, message) in cases(&report) {
        assert_eq!(status, "failed");
        assert_eq!(message, "deployed/nothing.txt does not exist");
    }

    // Invalid configs are errors naming the field.
    let err = call_err(
        &wasm,
        &[
            "run",
            "--config",
            r#"{"file":"deployed/RELEASE"}"#,
            "--input",
            &input,
        ],
    );
    assert!(err.contains("invalid configuration: config.lines"), "{err}");
    let err = call_err(
        &wasm,
        &[
            "run",
            "--config",
            r#"{"file":"elsewhere/RELEASE","lines":["x"]}"#,
            "--input",
            &input,
        ],
    );
    assert!(
        err.contains("config.file: no input named `elsewhere` (inputs: deployed)"),
        "{err}"
    );
    let err = call_err(
        &wasm,
        &[
            "run",
            "--config",
            r#"{"file":"deployed/RELEASE","lines":[1]}"#,
        ],
    );
    assert!(
        err.contains("config.lines[0]: expected a string, found a number"),
        "{err}"
    );
}

#[test]
fn go_test_step_judges_the_deployed_version() {
    let wasm = example("go", "version-policy");
    let d = inspect(&wasm);
    assert_eq!(d["name"], "version-policy", "{d}");
    assert_eq!(d["world"], "test-step", "{d}");
    assert!(
        d["schemas"]["config"]["properties"]["deny"].is_object(),
        "{d}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let env = tmp.path().join("env");
    fs::create_dir_all(&env).unwrap();
    let input = format!("staging-env={}", env.display());
    let config = r#"{"file":"staging-env/RELEASE","minimum":"1.2.0","deny":["1.3.0"]}"#;
    let judge = |release: &str| {
        fs::write(env.join("RELEASE"), release).unwrap();
        run_test(&wasm, config, &input)
    };

    let (report, code) = judge("\n1.4.0\nhealthcheck=ok\n");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["suites"][0]["name"], "version-policy");
    assert_eq!(
        cases(&report).into_iter().map(|c| c.0).collect::<Vec<_>>(),
        ["semantic version", "at least 1.2.0", "not denied"]
    );
    assert_eq!(statuses(&report), ["passed", "passed", "passed"]);

    let (report, code) = judge("1.3.0\n");
    assert_eq!(code, 1);
    assert_eq!(statuses(&report), ["passed", "passed", "failed"]);
    assert_eq!(cases(&report)[2].2, "1.3.0 is on the deny list");

    let (report, code) = judge("v1.1.9\n");
    assert_eq!(code, 1);
    assert_eq!(statuses(&report), ["passed", "failed", "passed"]);
    assert_eq!(
        cases(&report)[1].2,
        "v1.1.9 is older than the minimum 1.2.0"
    );

    let (report, _) = judge("banana\n");
    assert_eq!(statuses(&report), ["failed", "failed", "passed"]);
    assert!(cases(&report)[0].2.contains("\"banana\""), "{report}");

    fs::remove_file(env.join("RELEASE")).unwrap();
    let (report, code) = run_test(&wasm, config, &input);
    assert_eq!(code, 1);
    for (_, status, message) in cases(&report) {
        assert_eq!(
            (status.as_str(), message.as_str()),
            ("failed", "staging-env/RELEASE does not exist")
        );
    }

    let err = call_err(
        &wasm,
        &[
            "run",
            "--config",
            r#"{"file":"staging-env/RELEASE","minimum":"one"}"#,
            "--input",
            &input,
        ],
    );
    assert!(
        err.contains("invalid configuration: config.minimum: `one` is not a version"),
        "{err}"
    );
    let err = call_err(
        &wasm,
        &["run", "--config", r#"{"file":"x/RELEASE","colour":1}"#],
    );
    assert!(
        err.contains("invalid configuration: config: json: unknown field \"colour\""),
        "{err}"
    );
    let err = call_err(
        &wasm,
        &[
            "run",
            "--config",
            r#"{"file":"prod-env/RELEASE"}"#,
            "--input",
            &input,
        ],
    );
    assert!(
        err.contains("config.file: no input named `prod-env` (inputs: staging-env)"),
        "{err}"
    );
}

#[test]
fn zig_resource_type_checks_gets_and_puts_a_release_file() {
    let wasm = example("zig", "release-file");
    let d = inspect(&wasm);
    assert_eq!(d["name"], "release-file", "{d}");
    assert_eq!(d["world"], "resource-type", "{d}");
    assert_eq!(
        d["schemas"]["put_params"]["required"],
        serde_json::json!(["from_file"]),
        "{d}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (upstream, env, output) = (
        tmp.path().join("upstream"),
        tmp.path().join("env"),
        tmp.path().join("out"),
    );
    for d in [&upstream, &env, &output] {
        fs::create_dir_all(d).unwrap();
    }
    let upstream_dir = format!("upstream={}", upstream.display());
    let env_rw = format!("env={}:rw", env.display());
    let source = r#"{"path":"/dirs/env/RELEASE"}"#;

    // Nothing deployed yet: no version.
    let versions = call_ok(&wasm, &["check", "--source", source, "--dir", &env_rw]);
    assert_eq!(versions, serde_json::json!([]));

    // put deploys the release file of an input.
    let release = "1.4.0\nhealthcheck=ok\n";
    fs::write(upstream.join("RELEASE"), release).unwrap();
    let fetched = call_ok(
        &wasm,
        &[
            "put",
            "--source",
            source,
            "--params",
            r#"{"from_file":"release/RELEASE"}"#,
            "--input",
            &format!("release={}", upstream.display()),
            "--dir",
            &env_rw,
        ],
    );
    assert_eq!(fs::read_to_string(env.join("RELEASE")).unwrap(), release);
    let version = &fetched["version"];
    assert_eq!(version["release"], "1.4.0", "{fetched}");
    let digest = version["sha256"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 16, "{fetched}");
    assert_eq!(
        fetched["metadata"],
        serde_json::json!([["path", "/dirs/env/RELEASE"], ["bytes", "21"]])
    );

    // check finds it (with and without `from`), get copies it to /output.
    let versions = call_ok(&wasm, &["check", "--source", source, "--dir", &env_rw]);
    assert_eq!(versions, serde_json::json!([version]));
    let from = version.to_string();
    let versions = call_ok(
        &wasm,
        &[
            "check",
            "--source",
            source,
            "--dir",
            &env_rw,
            "--version",
            &from,
        ],
    );
    assert_eq!(versions, serde_json::json!([version]));
    let got = call_ok(
        &wasm,
        &[
            "get",
            "--source",
            source,
            "--version",
            &from,
            "--dir",
            &env_rw,
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert_eq!(got["version"], *version);
    assert_eq!(fs::read_to_string(output.join("RELEASE")).unwrap(), release);

    // The upstream file moves on: the old version is gone (not-found), check reports the new.
    fs::write(env.join("RELEASE"), "1.5.0\n").unwrap();
    let err = call_err(
        &wasm,
        &[
            "get",
            "--source",
            source,
            "--version",
            &from,
            "--dir",
            &env_rw,
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains(&format!("not found: version sha256 {digest} is gone")),
        "{err}"
    );
    assert!(err.contains("holds release 1.5.0"), "{err}");
    let versions = call_ok(
        &wasm,
        &[
            "check",
            "--source",
            source,
            "--dir",
            &env_rw,
            "--version",
            &from,
        ],
    );
    assert_eq!(versions[0]["release"], "1.5.0", "{versions}");

    // Errors: invalid source and params name the field; a read-only directory fails the put.
    let err = call_err(&wasm, &["check", "--source", r#"{"path":"RELEASE"}"#]);
    assert!(
        err.contains("invalid configuration: source.path: `RELEASE` must be the absolute path"),
        "{err}"
    );
    let err = call_err(&wasm, &["check", "--source", r#"{"path":"/x","colour":1}"#]);
    assert!(
        err.contains("invalid configuration: source: unknown field"),
        "{err}"
    );
    let err = call_err(
        &wasm,
        &[
            "put",
            "--source",
            source,
            "--params",
            r#"{"from_file":"missing/RELEASE"}"#,
            "--dir",
            &env_rw,
        ],
    );
    assert!(
        err.contains("params.from_file: no input named `missing`"),
        "{err}"
    );
    let err = call_err(
        &wasm,
        &[
            "put",
            "--source",
            r#"{"path":"/dirs/upstream/OTHER"}"#,
            "--params",
            r#"{"from_file":"release/RELEASE"}"#,
            "--input",
            &format!("release={}", upstream.display()),
            "--dir",
            &upstream_dir,
        ],
    );
    assert!(
        err.contains("cannot create") && err.contains("granted writable"),
        "{err}"
    );
    assert!(!upstream.join("OTHER").exists());
}

#[test]
fn c_go_and_zig_plugins_walk_a_release_through_three_environments() {
    let (zig, c, go) = (
        example("zig", "release-file"),
        example("c", "required-lines"),
        example("go", "version-policy"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("pipeline.yml"), PIPELINE).unwrap();
    for d in [
        "upstream",
        "envs/development",
        "envs/staging",
        "envs/production",
    ] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let lockgate_in = |args: &[&str]| {
        run(lockgate(&scratch())
            .args(args)
            .current_dir(dir)
            .env("LOCKGATE_VAR_RELEASE_FILE_WASM", &zig)
            .env("LOCKGATE_VAR_REQUIRED_LINES_WASM", &c)
            .env("LOCKGATE_VAR_VERSION_POLICY_WASM", &go)
            .stdin(Stdio::null()))
    };
    let deployed = |env: &str| fs::read_to_string(dir.join("envs").join(env).join("RELEASE")).ok();

    let r = lockgate_in(&["validate", "pipeline.yml"]);
    assert_eq!(r.code, 0, "validate:\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("pipeline is valid: 4 resources, 3 jobs, 3 environments"),
        "{}",
        r.stdout
    );

    // 1.4.0 passes every test and reaches production.
    let good = "1.4.0\nhealthcheck=ok\n";
    fs::write(dir.join("upstream/RELEASE"), good).unwrap();
    let r = lockgate_in(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "run:\n{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("3 build(s) ran"), "{}", r.stdout);
    for env in ["development", "staging", "production"] {
        assert_eq!(deployed(env).as_deref(), Some(good), "{env}");
    }

    // 1.3.0 is deployed to development and staging, where the Go policy denies it: production
    // keeps 1.4.0, and `why` names the failed case.
    let denied = "1.3.0\nhealthcheck=ok\n";
    fs::write(dir.join("upstream/RELEASE"), denied).unwrap();
    let r = lockgate_in(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 1, "run:\n{}{}", r.stdout, r.stderr);
    assert_eq!(deployed("development").as_deref(), Some(denied));
    assert_eq!(deployed("staging").as_deref(), Some(denied));
    assert_eq!(deployed("production").as_deref(), Some(good));
    let r = lockgate_in(&["why", "staging", "--json"]);
    assert_eq!(r.code, 0, "why:\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1.3.0 is on the deny list"),
        "{}",
        r.stdout
    );

    // 1.5.0 without its health line fails the C smoke test in development: it stops there.
    let unhealthy = "1.5.0\nhealthcheck=failing\n";
    fs::write(dir.join("upstream/RELEASE"), unhealthy).unwrap();
    let r = lockgate_in(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 1, "run:\n{}{}", r.stdout, r.stderr);
    assert_eq!(deployed("development").as_deref(), Some(unhealthy));
    assert_eq!(deployed("staging").as_deref(), Some(denied));
    // Its third build failed on that case, as its log says.
    let r = lockgate_in(&["logs", "deploy-dev/3"]);
    assert_eq!(r.code, 0, "logs:\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("dev-env/RELEASE has no line `healthcheck=ok`"),
        "{}",
        r.stdout
    );

    // 1.5.1 fixes it and flows all the way.
    let fixed = "1.5.1\nhealthcheck=ok\n";
    fs::write(dir.join("upstream/RELEASE"), fixed).unwrap();
    let r = lockgate_in(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "run:\n{}{}", r.stdout, r.stderr);
    for env in ["development", "staging", "production"] {
        assert_eq!(deployed(env).as_deref(), Some(fixed), "{env}");
    }
    let r = lockgate_in(&["status", "--json"]);
    assert!(r.stdout.contains("release: 1.5.1"), "{}", r.stdout);
}

#[test]
fn plugin_new_c_go_and_zig_projects_build_and_work() {
    // The templates' build.sh use tools from PATH or LOCKGATE_TOOLCHAINS: install them first.
    for lang in ["c", "go", "zig"] {
        let script = repo().join(format!("examples/plugins/toolchains/{lang}.sh"));
        build_script(&format!("toolchains/{lang}.sh"), &repo(), &script, &[]);
    }
    let tmp = tempfile::tempdir().unwrap();
    for lang in ["c", "go", "zig"] {
        for kind in ["resource-type", "test-step"] {
            let name = format!("my-{lang}-{kind}");
            let dir = tmp.path().join(&name);
            let r = lg(&[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--kind",
                kind,
                "--dir",
                dir.to_str().unwrap(),
            ]);
            assert_eq!(r.code, 0, "plugin new {name}:\n{}{}", r.stdout, r.stderr);
            assert!(
                dir.join("wasi_snapshot_preview1.reactor.wasm").is_file(),
                "{name}: no adapter"
            );
            assert!(dir.join("wit/types.wit").is_file(), "{name}: no WIT");
            let readme = fs::read_to_string(dir.join("README.md")).unwrap();
            assert!(
                readme.contains("./build.sh"),
                "{name}: README without the build command"
            );

            let secs = build_script(
                &format!("{name}/build.sh"),
                &dir,
                &dir.join("build.sh"),
                &[],
            );
            let wasm = dir.join("plugin.wasm");
            let size = fs::metadata(&wasm)
                .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
                .len();
            eprintln!("template {lang} {kind}: {size} bytes in {secs:.1} s");

            let d = inspect(&wasm);
            assert_eq!(d["name"], name.as_str(), "{d}");
            assert_eq!(d["world"], kind, "{d}");
            assert_eq!(d["version"], "0.1.0", "{d}");

            let work = tmp.path().join(format!("{name}-work"));
            fs::create_dir_all(work.join("in")).unwrap();
            fs::create_dir_all(work.join("state")).unwrap();
            fs::write(work.join("in/file.txt"), "42\nhello world\n").unwrap();
            let input = format!("in={}", work.join("in").display());
            if kind == "test-step" {
                let (report, code) = run_test(
                    &wasm,
                    r#"{"file":"in/file.txt","contains":["hello","bye"]}"#,
                    &input,
                );
                assert_eq!(code, 1, "{report}");
                assert_eq!(
                    statuses(&report),
                    ["passed", "passed", "failed"],
                    "{name}: {report}"
                );
                assert_eq!(report["suites"][0]["name"], name.as_str());
                let (report, code) = run_test(
                    &wasm,
                    r#"{"file":"in/missing.txt","contains":["x"]}"#,
                    &input,
                );
                assert_eq!(
                    (code, statuses(&report)),
                    (1, vec!["failed".to_owned(), "skipped".to_owned()])
                );
                let err = call_err(&wasm, &["run", "--config", r#"{"contains":[]}"#]);
                assert!(err.contains("invalid configuration"), "{name}: {err}");
            } else {
                let source = r#"{"path":"/dirs/state/value"}"#;
                let state = format!("state={}:rw", work.join("state").display());
                let none = call_ok(&wasm, &["check", "--source", source, "--dir", &state]);
                assert_eq!(none, serde_json::json!([]), "{name}");
                let put = call_ok(
                    &wasm,
                    &[
                        "put",
                        "--source",
                        source,
                        "--params",
                        r#"{"from_file":"in/file.txt"}"#,
                        "--input",
                        &input,
                        "--dir",
                        &state,
                    ],
                );
                assert_eq!(
                    put["version"],
                    serde_json::json!({"value": "42"}),
                    "{name}: {put}"
                );
                assert_eq!(
                    fs::read_to_string(work.join("state/value")).unwrap().trim(),
                    "42"
                );
                let versions = call_ok(&wasm, &["check", "--source", source, "--dir", &state]);
                assert_eq!(versions, serde_json::json!([{"value": "42"}]), "{name}");
                let out = work.join("out");
                fs::create_dir_all(&out).unwrap();
                call_ok(
                    &wasm,
                    &[
                        "get",
                        "--source",
                        source,
                        "--version",
                        r#"{"value":"42"}"#,
                        "--dir",
                        &state,
                        "--output",
                        out.to_str().unwrap(),
                    ],
                );
                assert_eq!(fs::read_to_string(out.join("value")).unwrap().trim(), "42");
                let err = call_err(
                    &wasm,
                    &[
                        "get",
                        "--source",
                        source,
                        "--version",
                        r#"{"value":"41"}"#,
                        "--dir",
                        &state,
                        "--output",
                        out.to_str().unwrap(),
                    ],
                );
                assert!(err.contains("not found"), "{name}: {err}");
                let err = call_err(&wasm, &["check", "--source", r#"{"path":"relative"}"#]);
                assert!(
                    err.contains("invalid configuration: source.path"),
                    "{name}: {err}"
                );
            }
        }
    }
}
