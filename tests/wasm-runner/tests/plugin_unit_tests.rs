//! Runs the unit tests of the plugins' own workspace (`plugins/`: the SDK, the first-party
//! plugins and the fixtures):
//!
//! 1. every package, built for `wasm32-wasip2` and run by `lockgate-wasm-runner` (this
//!    crate's binary, on the engine's wasmtime) as Cargo's runner;
//! 2. the packages whose tests need the host, or must also hold in a native build, built for
//!    the host and run natively: [`NATIVE`] (the `git` CLI for scratch repositories; the SDK's
//!    HTTP client and the plugins on it, which build without `wasi:http` and fail a request
//!    cleanly there). Tests that need the host are marked `ignore` on `wasm32` with a reason
//!    ending in `runs natively`.
//!
//! Both steps must succeed and run at least one test, and a test ignored on wasm32 must
//! belong to a package of [`NATIVE`]. The wasm step runs with `RUST_TEST_NOCAPTURE=1`: a
//! panic aborts a `wasm32-wasip2` test binary, so a captured panic message would be lost.
//!
//! The nested builds use their own target directory, `plugins/target/unit-tests`, so they
//! never wait for the lock of `plugins/target` that `tests/artifacts` (the release build of
//! the components) takes; like it, they run with `--locked` and without the outer build's
//! `CARGO_*` and `RUSTFLAGS` variables.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Packages whose tests run natively too: `(package, library crate name, why)`.
const NATIVE: &[(&str, &str, &str)] = &[
    (
        "lockgate-plugin-git",
        "git",
        "scratch repositories made with the `git` CLI",
    ),
    (
        "lockgate-sdk",
        "lockgate_sdk",
        "the HTTP client built without wasi:http: `send` fails cleanly",
    ),
    (
        "lockgate-plugin-http-deploy",
        "http_deploy",
        "built on the SDK's HTTP client without wasi:http",
    ),
    (
        "lockgate-plugin-http-probe",
        "http_probe",
        "built on the SDK's HTTP client without wasi:http",
    ),
    (
        "lockgate-plugin-acceptance",
        "acceptance",
        "built on the SDK's HTTP client without wasi:http",
    ),
];

/// `CARGO_*` variables the nested builds keep (as in `tests/artifacts/build.rs`): where
/// Cargo lives and how it reaches the registry. Every other `CARGO_*` describes the outer
/// build and is removed.
const KEPT_CARGO_PREFIXES: &[&str] = &[
    "CARGO_HOME",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_SOURCE_",
    "CARGO_TERM_",
];

/// Other inherited variables that would change or break the nested builds.
const REMOVED: &[&str] = &[
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "MAKEFLAGS",
    "MFLAGS",
    "TARGET",
    "HOST",
    "OUT_DIR",
];

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .canonicalize()
        .expect("plugins/ is two levels above tests/wasm-runner")
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("cannot run `rustc -vV`");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("`rustc -vV` names the host")
        .trim()
        .to_string()
}

/// What one `cargo test` run printed, and the totals of its `test result:` lines.
struct Run {
    what: String,
    success: bool,
    output: String,
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: usize,
}

impl Run {
    fn fail(&self, why: &str) -> ! {
        panic!(
            "{}: {why}\n--- cargo output ---\n{}\n--- end of cargo output ---",
            self.what, self.output
        );
    }
}

/// `cargo test --target TARGET ARGS` in `plugins/`, with `runner` as the target's runner.
fn cargo_test(target: &str, args: &[&str], runner: Option<&str>) -> Run {
    let wasm = runner.is_some();
    let plugins = plugins_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args(["test", "--locked", "--no-fail-fast", "--target", target])
        .args(args)
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let cargo_owned =
            name.starts_with("CARGO_") && !KEPT_CARGO_PREFIXES.iter().any(|p| name.starts_with(p));
        if cargo_owned || REMOVED.contains(&name) {
            cmd.env_remove(name);
        }
    }
    cmd.env(
        "CARGO_TARGET_DIR",
        plugins.join("target").join("unit-tests"),
    )
    .env("CARGO_TERM_COLOR", "never");
    if let Some(runner) = runner {
        let var = format!(
            "CARGO_TARGET_{}_RUNNER",
            target.to_uppercase().replace(['-', '.'], "_")
        );
        cmd.env(var, runner);
    }
    if wasm {
        cmd.env("RUST_TEST_NOCAPTURE", "1");
    }
    let what = format!(
        "`cargo test --target {target} {}` in plugins/",
        args.join(" ")
    );
    // stdout and stderr through one pipe, in the order written: Cargo's `Running` lines
    // (stderr) then name the binary of the results that follow (stdout).
    let (mut reader, writer) = std::io::pipe().expect("cannot create a pipe");
    cmd.stdout(writer.try_clone().expect("cannot clone a pipe"))
        .stderr(writer);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run cargo: {e}"));
    drop(cmd);
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{what}: cannot read cargo's output: {e}"));
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("{what}: cannot wait for cargo: {e}"));
    let output = String::from_utf8_lossy(&bytes).into_owned();
    let mut run = Run {
        what,
        success: status.success(),
        output,
        passed: 0,
        failed: 0,
        ignored: 0,
        binaries: 0,
    };
    let totals: Vec<[u64; 3]> = run.output.lines().filter_map(parse_result).collect();
    for [passed, failed, ignored] in totals {
        run.passed += passed;
        run.failed += failed;
        run.ignored += ignored;
        run.binaries += 1;
    }
    if !run.success {
        run.fail(&format!("failed ({status})"));
    }
    if run.failed > 0 {
        run.fail(&format!("{} tests failed", run.failed));
    }
    if run.passed == 0 {
        run.fail("no test ran");
    }
    run
}

/// `test result: ok. 8 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`
fn parse_result(line: &str) -> Option<[u64; 3]> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut totals = [0; 3];
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let slot = match label {
            "passed" => 0,
            "failed" => 1,
            "ignored" => 2,
            _ => continue,
        };
        totals[slot] = n.parse().ok()?;
    }
    Some(totals)
}

#[test]
fn result_lines_are_parsed() {
    assert_eq!(
        parse_result(
            "test result: ok. 8 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.03s"
        ),
        Some([8, 0, 1])
    );
    assert_eq!(
        parse_result("test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured"),
        Some([2, 3, 0])
    );
    assert_eq!(parse_result("running 3 tests"), None);
}

#[test]
fn plugin_unit_tests_pass_on_wasm_and_natively() {
    let wasm = cargo_test(
        "wasm32-wasip2",
        &["--workspace"],
        Some(env!("CARGO_BIN_EXE_lockgate-wasm-runner")),
    );
    let mut native_args = Vec::new();
    for (package, _, _) in NATIVE {
        native_args.extend(["-p", package]);
    }
    let native = cargo_test(&host_triple(), &native_args, None);
    for run in [&wasm, &native] {
        println!(
            "{}: {} passed, {} ignored, in {} test binaries",
            run.what, run.passed, run.ignored, run.binaries
        );
    }
    let stray = ignored_elsewhere(&wasm.output);
    if !stray.is_empty() {
        wasm.fail(&format!(
            "tests ignored on wasm32-wasip2 that run nowhere else: {stray:?}; add their package \
             to NATIVE (and their ignore reason should say `runs natively`)"
        ));
    }
}

/// The tests ignored in the output of a wasm run, as `crate::path`, whose crate is not one
/// of [`NATIVE`]. Test binaries are named by the `Running ... deps/<crate>-<hash>.wasm)`
/// line before their results.
fn ignored_elsewhere(output: &str) -> Vec<String> {
    let mut current = String::new();
    let mut stray = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if let Some(running) = line.strip_prefix("Running ") {
            let file = running
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(')');
            current = file
                .rsplit_once('-')
                .map_or(file, |(name, _)| name)
                .to_string();
        } else if let Some(krate) = line.strip_prefix("Doc-tests ") {
            current = krate.trim().to_string();
        } else if let Some(test) = line.strip_prefix("test ")
            && let Some((name, _)) = test.split_once(" ... ignored")
            && !NATIVE.iter().any(|(_, krate, _)| *krate == current)
        {
            stray.push(format!("{current}::{name}"));
        }
    }
    stray
}

#[test]
fn ignored_tests_are_traced_to_their_crate() {
    let output = "\
     Running unittests src/lib.rs (target/unit-tests/wasm32-wasip2/debug/deps/git-7f69.wasm)
test tests::with_git ... ignored, needs the git CLI: runs natively
     Running unittests src/lib.rs (target/unit-tests/wasm32-wasip2/debug/deps/artifact_dir-5375.wasm)
test tests::globs ... ok
test tests::forgotten ... ignored
   Doc-tests lockgate_sdk
test sdk/src/lib.rs - (line 34) - compile ... ignored
";
    assert_eq!(
        ignored_elsewhere(output),
        ["artifact_dir::tests::forgotten"]
    );
}

/// Runs `lockgate-wasm-runner ARGS`: its exit code and stderr.
fn runner(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate-wasm-runner"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run lockgate-wasm-runner");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn runner_names_what_it_cannot_run() {
    let dir = std::env::temp_dir().join(format!("lockgate-wasm-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        ("missing.wasm", b"", "no such file"),
        ("text.wasm", b"hello", "is not a WebAssembly file"),
        // The smallest core module: magic and version 1.
        (
            "core.wasm",
            b"\0asm\x01\0\0\0",
            "is a core WebAssembly module, not a component",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        if !bytes.is_empty() {
            std::fs::write(&path, bytes).unwrap();
        }
        let (code, stderr) = runner(&[path.as_os_str()]);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()) && stderr.contains(expected),
            "{name}: {stderr}"
        );
    }
    let (code, stderr) = runner(&[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("usage: lockgate-wasm-runner FILE.wasm"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
