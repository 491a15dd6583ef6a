//! Plugins written in Python and JavaScript, end to end through the real binary.
//!
//! The examples (`examples/plugins/python`: the resource type `semver-files`;
//! `examples/plugins/javascript`: the test step `release-check`) are built from source by their
//! own `build.sh`, whose toolchains (componentize-py from PyPI, jco from npm) install
//! themselves into `target/toolchains` on first use. Then `lockgate plugin inspect` and
//! `lockgate plugin call` exercise each component, and `examples/plugins/pipeline.yml` carries
//! releases from development through staging to production, where a release marked broken is
//! stopped by the JavaScript test in staging. Finally `lockgate plugin new` generates the four
//! Python/JavaScript template projects, which are built with their documented `./build.sh`.
//!
//! Nothing is skipped: a toolchain that cannot be installed fails the test, with the installer's
//! output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use lockgate_e2e::{Run, build_script, lockgate, repo, run, toolchains};
use serde_json::Value;

/// Where this test binary keeps what it builds (and the shared compiled-plugin cache).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins-python-js")
}

/// The two example components, built once per test run.
struct Examples {
    semver_files: PathBuf,
    release_check: PathBuf,
}

fn examples() -> &'static Examples {
    static BUILT: OnceLock<Examples> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = scratch().join("examples");
        std::fs::create_dir_all(&out).unwrap();
        let semver_files = out.join("semver_files.wasm");
        let release_check = out.join("release_check.wasm");
        let _ = std::fs::remove_file(&semver_files);
        let _ = std::fs::remove_file(&release_check);
        let plugins = repo().join("examples/plugins");
        build_script(
            "examples/plugins/python",
            &plugins,
            &plugins.join("python/build.sh"),
            &[&semver_files],
        );
        build_script(
            "examples/plugins/javascript",
            &plugins,
            &plugins.join("javascript/build.sh"),
            &[&release_check],
        );
        for wasm in [&semver_files, &release_check] {
            let size = std::fs::metadata(wasm)
                .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
                .len();
            eprintln!("{}: {:.1} MB", wasm.display(), size as f64 / 1e6);
        }
        Examples {
            semver_files,
            release_check,
        }
    })
}

/// `lockgate ARGS` in `dir`, with the compiled-plugin cache shared by this test binary.
fn lg(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = lockgate(&scratch());
    cmd.current_dir(dir).args(args);
    run(&mut cmd)
}

/// `lockgate ARGS`, which must exit with `code`.
fn lg_code(dir: &Path, args: &[&str], code: i32) -> Run {
    let r = lg(dir, args);
    assert_eq!(
        r.code, code,
        "lockgate {args:?}\n--- stdout\n{}--- stderr\n{}",
        r.stdout, r.stderr
    );
    r
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `version` field of each version of a `check` result.
fn check_versions(result: &Value) -> Vec<String> {
    result
        .as_array()
        .unwrap_or_else(|| panic!("a list of versions: {result}"))
        .iter()
        .map(|v| {
            v["version"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_owned()
        })
        .collect()
}

/// `inspect --json`, checking the world and the name.
fn inspect(dir: &Path, wasm: &Path, world: &str, name: &str) -> Value {
    let started = Instant::now();
    let r = lg_code(dir, &["plugin", "inspect", path(wasm), "--json"], 0);
    eprintln!(
        "lockgate plugin inspect {}: {:.1} s",
        wasm.display(),
        started.elapsed().as_secs_f64()
    );
    let d = json(&r);
    assert_eq!(d["world"], world, "{d}");
    assert_eq!(d["name"], name, "{d}");
    assert_eq!(d["contract"], "lockgate:plugin@0.1.0", "{d}");
    d
}

#[test]
fn the_python_resource_type_discovers_fetches_and_publishes_releases_by_semver() {
    let ex = examples();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let d = inspect(dir, &ex.semver_files, "resource-type", "semver-files");
    assert_eq!(
        d["schemas"]["source"]["required"],
        serde_json::json!(["dir"])
    );
    assert!(d["schemas"]["put_params"]["properties"]["version_file"].is_object());
    let text = lg_code(dir, &["plugin", "inspect", path(&ex.semver_files)], 0).stdout;
    assert!(text.starts_with("semver-files 0.1.0\n"), "{text}");

    // Versions are ordered by semver, not by name: 1.10.0 is newer than 1.9.0.
    let releases = dir.join("releases");
    for v in ["1.2.0", "1.10.0", "1.9.0", "2.0.0-rc.1"] {
        write(
            &releases.join(format!("release-{v}.txt")),
            &format!("version: {v}\n"),
        );
    }
    write(&releases.join("release-latest.txt"), "not a version");
    write(&releases.join("notes.md"), "not a release");
    let grant = format!("releases={}", releases.display());
    let source = r#"{"dir":"/dirs/releases"}"#;
    let call = |args: &[&str], code: i32| {
        let mut all = vec!["plugin", "call", path(&ex.semver_files)];
        all.extend_from_slice(args);
        lg_code(dir, &all, code)
    };

    let r = call(&["check", "--source", source, "--dir", &grant], 0);
    assert_eq!(check_versions(&json(&r)), ["1.10.0"]);
    let r = call(
        &[
            "check",
            "--source",
            source,
            "--dir",
            &grant,
            "--version",
            r#"{"version":"1.2.0"}"#,
        ],
        0,
    );
    assert_eq!(check_versions(&json(&r)), ["1.2.0", "1.9.0", "1.10.0"]);
    let r = call(
        &[
            "check",
            "--source",
            r#"{"dir":"/dirs/releases","prereleases":true}"#,
            "--dir",
            &grant,
            "--version",
            r#"{"version":"1.10.0"}"#,
        ],
        0,
    );
    assert_eq!(check_versions(&json(&r)), ["1.10.0", "2.0.0-rc.1"]);

    // get copies the release into /output with its version and facts.
    let output = dir.join("output");
    std::fs::create_dir_all(&output).unwrap();
    let r = call(
        &[
            "get",
            "--source",
            source,
            "--dir",
            &grant,
            "--output",
            path(&output),
            "--version",
            r#"{"version":"1.9.0"}"#,
        ],
        0,
    );
    let fetched = json(&r);
    assert_eq!(fetched["version"]["version"], "1.9.0", "{fetched}");
    assert_eq!(read(&output.join("file")), "version: 1.9.0\n");
    assert_eq!(read(&output.join("version")).trim(), "1.9.0");
    let metadata = fetched["metadata"].to_string();
    assert!(
        metadata.contains("release-1.9.0.txt") && metadata.contains("sha256"),
        "{metadata}"
    );

    // Errors come back as the WIT variants.
    let r = call(
        &[
            "get",
            "--source",
            source,
            "--dir",
            &grant,
            "--output",
            path(&output),
            "--version",
            r#"{"version":"9.9.9"}"#,
        ],
        1,
    );
    assert!(
        r.stderr.contains("not found") && r.stderr.contains("release-9.9.9.txt"),
        "{}",
        r.stderr
    );
    let r = call(
        &["check", "--source", r#"{"dir":"/etc"}"#, "--dir", &grant],
        1,
    );
    assert!(
        r.stderr.contains("invalid configuration") && r.stderr.contains("source.dir"),
        "{}",
        r.stderr
    );

    // put publishes an input file as a new release; the directory must be writable.
    let build_dir = dir.join("build");
    write(&build_dir.join("notes.txt"), "version: 3.0.0\n");
    write(&build_dir.join("version"), "3.0.0\n");
    let input = format!("build={}", build_dir.display());
    let params = r#"{"file":"build/notes.txt","version_file":"build/version"}"#;
    let r = call(
        &[
            "put", "--source", source, "--dir", &grant, "--input", &input, "--params", params,
        ],
        1,
    );
    assert!(r.stderr.contains("writable"), "{}", r.stderr);
    let rw = format!("{grant}:rw");
    let r = call(
        &[
            "put", "--source", source, "--dir", &rw, "--input", &input, "--params", params,
        ],
        0,
    );
    assert_eq!(json(&r)["version"]["version"], "3.0.0");
    assert_eq!(
        read(&releases.join("release-3.0.0.txt")),
        "version: 3.0.0\n"
    );
    let r = call(&["check", "--source", source, "--dir", &grant], 0);
    assert_eq!(check_versions(&json(&r)), ["3.0.0"]);
}

#[test]
fn the_javascript_test_step_reports_each_check_and_imports_no_wasi_http() {
    let ex = examples();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let d = inspect(dir, &ex.release_check, "test-step", "release-check");
    assert_eq!(
        d["schemas"]["config"]["required"],
        serde_json::json!(["file"])
    );

    // Only WASI p2 interfaces the host links: no wasi:http (the `http` feature is disabled).
    let wasm_tools = toolchains().join("javascript/venv/bin/wasm-tools");
    let out = Command::new(&wasm_tools)
        .args(["component", "wit"])
        .arg(&ex.release_check)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", wasm_tools.display()));
    assert!(out.status.success());
    let wit = String::from_utf8(out.stdout).unwrap();
    let imports: Vec<&str> = wit
        .lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .collect();
    assert!(
        imports.contains(&"lockgate:plugin/host@0.1.0;")
            && imports
                .iter()
                .any(|i| i.starts_with("wasi:filesystem/preopens@")),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .all(|i| !i.starts_with("wasi:http") && !i.starts_with("wasi:random")),
        "{imports:?}"
    );

    let deployed = dir.join("deployed");
    let expected = dir.join("release");
    write(
        &deployed.join("file"),
        "name: web\nversion: 1.4.2\nstatus: broken\n",
    );
    write(&expected.join("version"), "1.4.2\n");
    let config = serde_json::json!({
        "suite": "acceptance",
        "file": "deployed/file",
        "fields": ["name", "version", "owner"],
        "expect_version_file": "release/version",
        "forbid": ["status: broken", "DEBUG"],
    })
    .to_string();
    let run_step = |config: &str, code: i32| {
        lg_code(
            dir,
            &[
                "plugin",
                "call",
                path(&ex.release_check),
                "run",
                "--config",
                config,
                "--input",
                &format!("deployed={}", deployed.display()),
                "--input",
                &format!("release={}", expected.display()),
            ],
            code,
        )
    };
    let r = run_step(&config, 1);
    let report = json(&r);
    let suite = &report["suites"][0];
    assert_eq!(suite["name"], "acceptance", "{report}");
    let cases: Vec<(String, String, String)> = suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let status = |name: &str| case(&cases, name);
    assert_eq!(status("release file exists").0, "passed", "{cases:?}");
    assert_eq!(status("has field name"), ("passed", "name: web"));
    assert_eq!(status("has field owner").0, "failed");
    assert_eq!(
        status("runs the expected version"),
        ("passed", "version 1.4.2")
    );
    let broken = status("does not contain \"status: broken\"");
    assert_eq!(broken.0, "failed");
    assert!(broken.1.contains("deployed/file:3"), "{broken:?}");
    assert_eq!(status("does not contain \"DEBUG\"").0, "passed");
    assert_eq!(cases.len(), 8, "{cases:?}");
    assert!(
        r.stderr
            .contains("6 passed, 2 failed, 0 errored, 0 skipped"),
        "{}",
        r.stderr
    );

    // A version mismatch fails; a missing file fails and skips what depends on it.
    write(&expected.join("version"), "1.5.0\n");
    let r = run_step(
        r#"{"file":"deployed/file","expect_version_file":"release/version"}"#,
        1,
    );
    assert!(
        r.stdout.contains("runs version 1.4.2, expected 1.5.0"),
        "{}",
        r.stdout
    );
    let r = run_step(r#"{"file":"deployed/missing"}"#, 1);
    let report = json(&r);
    let statuses: Vec<&str> = report["suites"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["failed", "skipped", "skipped", "skipped"],
        "{report}"
    );

    // A bad config is an error, not a report.
    let r = run_step(r#"{"file":"../etc/passwd"}"#, 1);
    assert!(
        r.stderr.contains("invalid configuration") && r.stderr.contains("config.file"),
        "{}",
        r.stderr
    );
    let r = run_step(r#"{"file":"deployed/file","colour":"red"}"#, 1);
    assert!(r.stderr.contains("config.colour"), "{}", r.stderr);
}

/// The (status, message) of the case `name` among (name, status, message) triples.
fn case<'a>(cases: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    let c = cases
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no case `{name}` in {cases:?}"));
    (c.1.as_str(), c.2.as_str())
}

/// The release files published into the example's environment `env`, sorted.
fn deployed(dir: &Path, env: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("work/envs").join(env))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn current_versions(dir: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let r = lg_code(dir, &["status", "--json"], 0);
    json(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let versions = s["current"]["versions"]
                .as_array()
                .map(|v| v.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (s["environment"].as_str().unwrap().to_owned(), versions)
        })
        .collect()
}

#[test]
fn the_example_pipeline_carries_a_release_to_production_and_a_failing_test_stops_it() {
    let ex = examples();
    let example = repo().join("examples/plugins");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // The example's own pipeline, its plugin paths pointed at this run's builds.
    let original = read(&example.join("pipeline.yml"));
    let pipeline = original
        .replace(
            "../../target/plugins/semver_files.wasm",
            path(&ex.semver_files),
        )
        .replace(
            "../../target/plugins/release_check.wasm",
            path(&ex.release_check),
        );
    assert_ne!(
        pipeline, original,
        "plugin paths of examples/plugins/pipeline.yml"
    );
    write(&dir.join("pipeline.yml"), &pipeline);
    for env in ["development", "staging", "production"] {
        std::fs::create_dir_all(dir.join("work/envs").join(env)).unwrap();
    }
    let release = |v: &str| {
        let name = format!("release-{v}.txt");
        let text = read(&example.join("releases").join(&name));
        write(&dir.join("work/releases").join(&name), &text);
        text
    };
    let r = lg_code(dir, &["validate", "pipeline.yml"], 0);
    assert!(r.stdout.contains("pipeline is valid"), "{}", r.stdout);

    // 1.0.0 walks development -> staging -> production, tested by JavaScript in each.
    let first = release("1.0.0");
    let started = Instant::now();
    let r = lg_code(dir, &["run", "pipeline.yml"], 0);
    eprintln!(
        "lockgate run (release 1.0.0, 3 builds): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(r.stdout.contains("3 build(s) ran"), "{}", r.stdout);
    for env in ["development", "staging", "production"] {
        assert_eq!(deployed(dir, env), ["release-1.0.0.txt"], "{env}");
    }
    assert_eq!(
        read(&dir.join("work/envs/production/release-1.0.0.txt")),
        first
    );
    let versions = current_versions(dir);
    assert!(
        versions["production"].iter().any(|v| v.contains("1.0.0")),
        "{versions:?}"
    );
    let logs = lg_code(dir, &["logs", "deploy-staging/1"], 0).stdout;
    assert!(
        logs.contains("published /dirs/env/release-1.0.0.txt"),
        "the Python plugin's log: {logs}"
    );
    assert!(
        logs.contains("acceptance: 5 case(s), 0 failing"),
        "the JavaScript plugin's log: {logs}"
    );

    // 1.1.0 follows; production runs it.
    release("1.1.0");
    lg_code(dir, &["run", "pipeline.yml"], 0);
    assert_eq!(
        deployed(dir, "production"),
        ["release-1.0.0.txt", "release-1.1.0.txt"]
    );
    assert!(
        current_versions(dir)["production"]
            .iter()
            .any(|v| v.contains("1.1.0"))
    );

    // 2.0.0 is marked broken: deployed to staging, rejected by the acceptance test there, and
    // never deployed to production.
    release("2.0.0");
    let r = lg_code(dir, &["run", "pipeline.yml"], 1);
    assert!(r.stdout.contains("2 build(s) ran"), "{}", r.stdout);
    assert!(deployed(dir, "staging").contains(&"release-2.0.0.txt".to_owned()));
    assert_eq!(
        deployed(dir, "production"),
        ["release-1.0.0.txt", "release-1.1.0.txt"]
    );
    let versions = current_versions(dir);
    assert!(
        versions["production"].iter().any(|v| v.contains("1.1.0")),
        "{versions:?}"
    );
    assert!(
        versions["development"].iter().any(|v| v.contains("2.0.0")),
        "{versions:?}"
    );
    let why = lg_code(dir, &["why", "staging"], 0).stdout;
    assert!(
        why.contains("does not contain \"status: broken\"") && why.contains("file:4"),
        "the failing case and its message: {why}"
    );
}

/// `lockgate plugin new` for `lang`, both kinds; each project is built with its documented
/// `./build.sh` and inspected.
fn templates_build(lang: &str) {
    // The examples' builds install the shared toolchains first (no two installers race).
    examples();
    let tmp = tempfile::tempdir().unwrap();
    let help = lg_code(tmp.path(), &["plugin", "new", "--help"], 0).stdout;
    assert!(help.contains("--lang") && help.contains(lang), "{help}");
    for (kind, world) in [
        ("resource-type", "resource-type"),
        ("test-step", "test-step"),
    ] {
        let name = format!("my-{lang}-{kind}");
        let project = tmp.path().join(&name);
        lg_code(
            tmp.path(),
            &[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--kind",
                kind,
                "--dir",
                path(&project),
            ],
            0,
        );
        for wit in [
            "types.wit",
            "host.wit",
            "resource-type.wit",
            "test-step.wit",
        ] {
            assert!(project.join("wit").join(wit).is_file(), "{name}: wit/{wit}");
        }
        let readme = read(&project.join("README.md"));
        assert!(readme.contains("./build.sh"), "{name}: {readme}");
        assert!(!readme.contains("{{name"), "{name}: {readme}");
        build_script(
            &format!("{lang} {kind} template"),
            &project,
            Path::new("./build.sh"),
            &[],
        );
        let wasm = project.join("plugin.wasm");
        inspect(tmp.path(), &wasm, world, &name);

        // The generated code does what its README says.
        let data = tmp.path().join(format!("{name}-data"));
        write(&data.join("app-1.txt"), "status: ok\n");
        write(&data.join("app-2.txt"), "status: ok\n");
        let grant = format!("releases={}", data.display());
        let input = format!("deployed={}", data.display());
        let r = if kind == "resource-type" {
            lg_code(
                tmp.path(),
                &[
                    "plugin",
                    "call",
                    path(&wasm),
                    "check",
                    "--source",
                    r#"{"dir":"/dirs/releases","prefix":"app-"}"#,
                    "--dir",
                    &grant,
                ],
                0,
            )
        } else {
            lg_code(
                tmp.path(),
                &[
                    "plugin",
                    "call",
                    path(&wasm),
                    "run",
                    "--input",
                    &input,
                    "--config",
                    r#"{"checks":[{"file":"deployed/app-1.txt","contains":"ok"}]}"#,
                ],
                0,
            )
        };
        let result = json(&r);
        if kind == "resource-type" {
            assert_eq!(result[0]["file"], "app-2.txt", "{name}: {result}");
        } else {
            assert_eq!(
                result["suites"][0]["cases"][0]["status"], "passed",
                "{name}: {result}"
            );
        }
    }
}

#[test]
fn python_templates_of_plugin_new_build_into_loadable_plugins() {
    templates_build("python");
}

#[test]
fn javascript_templates_of_plugin_new_build_into_loadable_plugins() {
    templates_build("javascript");
}

/// `tests/fixtures/js-fetch`: JavaScript's `fetch` (jco's `http` feature, over
/// wasi:http/outgoing-handler) reaches a host the invocation grants, and only that one.
#[test]
fn javascript_fetch_reaches_granted_hosts_only() {
    // The examples' builds install the shared toolchains first (no two installers race).
    examples();
    let out = scratch().join("js-fetch");
    let wasm = out.join("fetch_check.wasm");
    let _ = std::fs::remove_file(&wasm);
    let fixture = repo().join("tests/fixtures/js-fetch");
    build_script(
        "tests/fixtures/js-fetch",
        &fixture,
        &fixture.join("build.sh"),
        &[&wasm],
    );
    write(&out.join("site/hi.txt"), "hello from the host\n");
    let port = lockgate_e2e::serve_dir(out.join("site"));
    let config = format!(r#"{{"url": "http://127.0.0.1:{port}/hi.txt"}}"#);
    let call = |grant: Option<&str>, code: i32| {
        let mut args = vec!["plugin", "call", path(&wasm), "run", "--config", &config];
        if let Some(g) = grant {
            args.extend(["--allow-host", g]);
        }
        lg_code(&out, &args, code)
    };

    let granted = call(Some(&format!("127.0.0.1:{port}")), 0);
    let case = &json(&granted)["suites"][0]["cases"][0];
    assert_eq!(case["status"], "passed", "{}", granted.stdout);
    assert_eq!(case["message"], "status 200: hello from the host\n");

    for other in [None, Some(format!("127.0.0.1:{}", port.wrapping_add(1)))] {
        let refused = call(other.as_deref(), 1);
        let case = &json(&refused)["suites"][0]["cases"][0];
        assert_eq!(case["status"], "errored", "{}", refused.stdout);
        assert!(
            refused.stderr.contains(&format!(
                "network: refused to let the plugin send an HTTP request to 127.0.0.1:{port}: not granted"
            )),
            "{}",
            refused.stderr
        );
    }
}
