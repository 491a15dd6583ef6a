//! Builds the guest plugins and task programs of `plugins/` (their own Cargo workspace) for
//! `wasm32-wasip2` and the native baseline `native/native_check.rs`, then writes
//! `$OUT_DIR/artifacts.rs` with one path constant per artifact. The pattern of wasmtime's
//! `crates/test-programs/artifacts`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `(constant, file stem of the component, what it is)`.
const PLUGINS: &[(&str, &str, &str)] = &[
    (
        "COUNTER",
        "counter",
        "Resource type `counter` (`plugins/counter`): an integer in a file, each value a version.",
    ),
    (
        "ASSERT_FILE",
        "assert_file",
        "Test step `assert-file` (`plugins/assert-file`): assertions on files of the inputs.",
    ),
    (
        "HTTP_PROBE",
        "http_probe",
        "Test step `http-probe` (`plugins/http-probe`): smoke checks of HTTP URLs (status, body regex, latency) with retries.",
    ),
    (
        "MANIFEST_ASSERT",
        "manifest_assert",
        "Test step `manifest-assert` (`plugins/manifest-assert`): expected versions in a YAML/JSON manifest, and a JSON Schema subset.",
    ),
    (
        "UPGRADE_CHECK",
        "upgrade_check",
        "Test step `upgrade-check` (`plugins/upgrade-check`): the candidate is an in-place, non-breaking upgrade of production.",
    ),
    (
        "HTTP_DEPLOY",
        "http_deploy",
        "Resource type `http-deploy` (`plugins/http-deploy`): deployments through a platform HTTP API.",
    ),
    (
        "ACCEPTANCE",
        "acceptance",
        "Test step `acceptance` (`plugins/acceptance`): a scenario file of HTTP requests and assertions.",
    ),
    (
        "HOSTILE",
        "hostile",
        "Test fixture `hostile` (`plugins/fixtures/hostile`): a resource type whose `check` attacks the sandbox as `source.attack` says.",
    ),
    (
        "WRONG_WORLD",
        "wrong_world",
        "Test fixture `wrong-world` (`plugins/fixtures/wrong-world`): a valid component exporting world `lockgate-fixture:other/other`, not a Lockgate world.",
    ),
    (
        "VERSIONED",
        "versioned",
        "Test fixture `versioned` (`plugins/fixtures/versioned`): a resource type describing itself as version `100.0.0` (a seven-byte literal tests rewrite to derive other releases) whose one version is its own plugin version.",
    ),
    (
        "HTTP_CLIENT",
        "http_client",
        "Test fixture `http-client` (`plugins/fixtures/http-client`): a test step whose `run` GETs `config.url` through `wasi:http/outgoing-handler` and reports the status and body.",
    ),
    (
        "SDK_HTTP",
        "sdk_http",
        "Test fixture `sdk-http` (`plugins/fixtures/sdk-http`): a test step whose `run` sends one request with `lockgate_sdk::http` as `config` says (url, method, body, headers, timeout, body cap, redirects) and reports the status, final URL and body, or the error's kind and message.",
    ),
    (
        "ARTIFACT_DIR",
        "artifact_dir",
        "Resource type `artifact-dir` (`plugins/artifact-dir`): versioned files in a directory, the version captured by a regexp.",
    ),
    (
        "S3",
        "s3",
        "Resource type `s3` (`plugins/s3`): objects of an S3-compatible bucket, versioned by a regexp over keys or by object versions.",
    ),
    (
        "FILE",
        "file",
        "Resource type `file` (`plugins/file`): the content digest of one or more config files.",
    ),
    (
        "TIME",
        "time",
        "Resource type `time` (`plugins/time`): interval and time-window triggers, in any IANA time zone.",
    ),
    (
        "ENV_DIR",
        "env_dir",
        "Resource type `env-dir` (`plugins/env-dir`): a directory-backed deployment target with releases kept for rollback.",
    ),
    (
        "GIT",
        "git",
        "Resource type `git` (`plugins/git`): commits of a branch of a local git repository, read in pure Rust.",
    ),
    (
        "REGISTRY_IMAGE",
        "registry_image",
        "Resource type `registry-image` (`plugins/registry-image`): images of an OCI registry (a tag's digest or semver-filtered tags), fetched into an OCI image layout with every digest verified, promoted by copy.",
    ),
    (
        "GITHUB_RELEASE",
        "github_release",
        "Resource type `github-release` (`plugins/github-release`): releases of a GitHub repository and their assets, in semver order.",
    ),
    (
        "BOSH_IO_RELEASE",
        "bosh_io_release",
        "Resource type `bosh-io-release` (`plugins/bosh-io-release`): versions and tarballs of a BOSH release on bosh.io.",
    ),
    (
        "BOSH_IO_STEMCELL",
        "bosh_io_stemcell",
        "Resource type `bosh-io-stemcell` (`plugins/bosh-io-stemcell`): versions and tarballs (light or regular) of a stemcell on bosh.io.",
    ),
];

/// `(constant, file stem of the binary, what it is)`: programs (`[[bin]]`s, hence
/// `wasi:cli/command` components) run as tasks.
const TASKS: &[(&str, &str, &str)] = &[(
    "TASK_PROGRAMS",
    "task-programs",
    "Test fixture `task-programs` (`plugins/fixtures/task-programs`): a `wasi:cli/command` program run as a task; `argv[1]` names what it does (`echo`, `files`, `exit N`, `std-exit N`, `loop`, `oom`, `flood N`, `escape PATH…`, `ticks`, `panic`, `connect ADDR`, `write PATH TEXT`, `fill PATH BYTES`).",
)];

const TARGET: &str = "wasm32-wasip2";

/// `CARGO_*` variables the nested build keeps: where Cargo lives and how it reaches the
/// registry. Everything else `CARGO_*` describes the outer build (profile, target, features,
/// cfgs, rustflags, jobserver, target dir) and is removed.
const KEPT_CARGO_PREFIXES: &[&str] = &[
    "CARGO_HOME",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_SOURCE_",
    "CARGO_TERM_",
];

/// Other inherited variables that would change or break the nested build.
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
    "OPT_LEVEL",
    "DEBUG",
    "PROFILE",
    "NUM_JOBS",
    "RUSTC_LINKER",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts is two levels below the repository root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    let mut code = String::new();
    build_plugins(&repo, &out_dir, &mut code);
    build_native_check(&manifest_dir, &out_dir, &mut code);
    fs::write(out_dir.join("artifacts.rs"), code).expect("write artifacts.rs");
}

fn build_plugins(repo: &Path, out_dir: &Path, code: &mut String) {
    let plugins = repo.join("plugins");
    let target_dir = plugins.join("target");
    rerun_if_changed_except_target(&plugins);
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .arg("build")
        .arg("--release")
        .arg("--locked")
        .arg("--workspace")
        .arg(format!("--target={TARGET}"))
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"));
    if let Ok(jobs) = env::var("NUM_JOBS") {
        cmd.arg(format!("--jobs={jobs}"));
    }
    for (name, _) in env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let cargo_owned =
            name.starts_with("CARGO_") && !KEPT_CARGO_PREFIXES.iter().any(|p| name.starts_with(p));
        if cargo_owned || name.starts_with("DEP_") || REMOVED.contains(&name) {
            cmd.env_remove(name);
        }
    }
    // A separate target directory: the outer build holds the lock on its own.
    cmd.env("CARGO_TARGET_DIR", &target_dir)
        .stdin(Stdio::null());

    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the guest plugins: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!(
            "building the guest plugins in {} failed ({}).\n\
             Is the target installed? `rustup target add {TARGET}`\n\
             Command: {cmd:?}\n\
             --- cargo output ---\n{stderr}",
            plugins.display(),
            output.status,
        );
    }

    // Copy the components into OUT_DIR: the constants then stay valid whatever happens to
    // `plugins/target` (a `cargo clean` there, a manual build of another revision) until this
    // script reruns.
    let release = target_dir.join(TARGET).join("release");
    let copies = out_dir.join("plugins");
    fs::create_dir_all(&copies).unwrap_or_else(|e| panic!("{}: {e}", copies.display()));
    for (constant, stem, doc) in PLUGINS.iter().chain(TASKS) {
        let built = release.join(format!("{stem}.wasm"));
        let wasm = copies.join(format!("{stem}.wasm"));
        fs::copy(&built, &wasm).unwrap_or_else(|e| {
            panic!(
                "the nested build succeeded but {} cannot be copied: {e}",
                built.display()
            )
        });
        writeln!(code, "/// {doc}").unwrap();
        writeln!(code, "///").unwrap();
        writeln!(code, "/// Absolute path of the component (`.wasm`).").unwrap();
        writeln!(code, "pub const {constant}: &str = {:?};", path_str(&wasm)).unwrap();
    }
}

/// Reruns when anything in `plugins/` changes except its build output: every entry but
/// `target` is watched (Cargo watches directories recursively).
fn rerun_if_changed_except_target(plugins: &Path) {
    let mut entries: Vec<PathBuf> = fs::read_dir(plugins)
        .unwrap_or_else(|e| panic!("{}: {e}", plugins.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "target"))
        .collect();
    entries.sort();
    for entry in entries {
        println!("cargo:rerun-if-changed={}", entry.display());
    }
}

fn build_native_check(manifest_dir: &Path, out_dir: &Path, code: &mut String) {
    let source = manifest_dir.join("native").join("native_check.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    let binary = out_dir.join(format!("native-check{}", env::consts::EXE_SUFFIX));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("-O")
        .arg("--edition")
        .arg("2024")
        .arg("--crate-name")
        .arg("native_check")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run rustc for {}: {e}", source.display()));
    if !output.status.success() {
        panic!(
            "compiling {} failed:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    writeln!(
        code,
        "/// Native baseline for benchmarks (`tests/artifacts/native/native_check.rs`): a\n\
         /// Concourse-style `check` executable with the semantics of `counter`'s check. Reads\n\
         /// `{{\"source\":{{\"path\":\"<abs path>\"}},\"version\":null|{{\"number\":\"k\"}}}}` on\n\
         /// stdin, prints the versions as a JSON array on stdout and exits 0; on error prints\n\
         /// to stderr and exits 1.\n\
         ///\n\
         /// Absolute path of the executable."
    )
    .unwrap();
    writeln!(
        code,
        "pub const NATIVE_CHECK: &str = {:?};",
        path_str(&binary)
    )
    .unwrap();
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("artifact path is not UTF-8: {}", path.display()))
}
