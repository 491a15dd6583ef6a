//! The broken pipeline fixtures, one test per file: every
//! `tests/fixtures/pipelines/broken/NAME.yml` loaded through `lockgate::plan` (with the real
//! plugins built from `plugins/`) must report exactly the lines of `NAME.expected` (plain
//! format, paths relative to `broken/`), as test `library::NAME`; a selection of them also
//! through `lockgate validate`, as test `binary::NAME`. A failure names its fixture; run one
//! with `cargo test -p lockgate --test broken_pipelines -- library::cycle`.
//!
//! After a deliberate change of the messages, `LOCKGATE_BLESS=1 cargo test -p lockgate --test
//! broken_pipelines` rewrites the `.expected` files: review their diff.
//!
//! The fixtures name the plugins as `((counter_wasm))` and `((assert_file_wasm))`; the tests
//! fill these vars with the paths `lockgate-test-artifacts` exports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use lockgate::config::Vars;
use lockgate::plugin_host::{HostConfig, PluginHost};
use lockgate_test_artifacts as artifacts;

/// Fixtures also checked through the binary.
const THROUGH_THE_BINARY: &[&str] = &[
    "typo-key",
    "environment-skip",
    "schema-source",
    "undefined-var",
    "malformed-yaml",
    "many-errors",
    "missing-plugin",
];

fn main() {
    let args = Arguments::from_args();
    let fixtures = broken_fixtures();
    assert!(
        fixtures.len() >= 12,
        "only {} broken fixtures in {}",
        fixtures.len(),
        broken_dir().display()
    );
    let mut trials = Vec::new();
    for fixture in &fixtures {
        let name = stem(fixture);
        let file = fixture.clone();
        trials.push(Trial::test(format!("library::{name}"), move || {
            library(&file)
        }));
    }
    for name in THROUGH_THE_BINARY {
        let fixture = broken_dir().join(format!("{name}.yml"));
        assert!(fixture.is_file(), "{} is missing", fixture.display());
        trials.push(Trial::test(format!("binary::{name}"), move || {
            binary(&fixture)
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines/broken")
}

/// The broken fixtures, sorted.
fn broken_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn stem(fixture: &Path) -> String {
    fixture
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The compiled-code cache shared with the host tests (and handed to the binary).
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-host-cache")
}

/// One plugin host and one runtime for every trial of this process.
fn host() -> &'static (tokio::runtime::Runtime, PluginHost) {
    static HOST: OnceLock<(tokio::runtime::Runtime, PluginHost)> = OnceLock::new();
    HOST.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let host = PluginHost::new(HostConfig {
            cache_dir: Some(cache_dir()),
            ..HostConfig::default()
        })
        .expect("a plugin host");
        (runtime, host)
    })
}

/// The vars every fixture needs: the plugin paths.
fn plugin_vars() -> Vars {
    let mut vars = Vars::new();
    vars.set("counter_wasm", artifacts::COUNTER)
        .set("assert_file_wasm", artifacts::ASSERT_FILE);
    vars
}

/// Compares `actual` with the `.expected` file of `fixture`, or rewrites that file when
/// blessing (`LOCKGATE_BLESS` set).
fn compare(fixture: &Path, actual: &str, via: &str) -> Result<(), Failed> {
    let path = fixture.with_extension("expected");
    if std::env::var_os("LOCKGATE_BLESS").is_some() {
        std::fs::write(&path, actual).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run with LOCKGATE_BLESS=1 to create it)",
            path.display()
        )
    })?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{} ({via}) differs from {}:\n--- expected\n{expected}--- actual\n{actual}\
             (after a deliberate change, LOCKGATE_BLESS=1 rewrites the file)",
            fixture.file_name().unwrap_or_default().to_string_lossy(),
            path.display()
        )
        .into())
    }
}

/// The fixture through the library: it must fail with the expected diagnostics.
fn library(fixture: &Path) -> Result<(), Failed> {
    let (runtime, host) = host();
    let result = runtime.block_on(lockgate::plan::load(fixture, &plugin_vars(), host, None));
    let actual = match result {
        Ok(_) => return Err(format!("{} loaded without error", fixture.display()).into()),
        Err(report) => report.render_plain(),
    };
    let actual = actual.replace(&format!("{}/", broken_dir().display()), "");
    if !actual.contains(": error: ") {
        return Err(format!("no error line in:\n{actual}").into());
    }
    compare(fixture, &actual, "library")
}

/// The fixture through `lockgate validate --format plain`: exit code 1, nothing on stdout,
/// the expected lines on stderr.
fn binary(fixture: &Path) -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let vars = tmp.path().join("vars.yml");
    std::fs::write(
        &vars,
        format!(
            "counter_wasm: {}\nassert_file_wasm: {}\n",
            serde_json::to_string(artifacts::COUNTER).unwrap(),
            serde_json::to_string(artifacts::ASSERT_FILE).unwrap()
        ),
    )
    .map_err(|e| e.to_string())?;
    let dir = broken_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockgate"));
    // Nothing of the shell's `LOCKGATE_*` settings (server, database, registry, config...).
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("LOCKGATE_")) {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .current_dir(&dir)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["validate"])
        .arg(fixture.file_name().unwrap_or_default())
        .args(["--format", "plain", "--vars"])
        .arg(&vars)
        .env_remove("RUST_LOG")
        // No user config file and no default registry.
        .env("XDG_CONFIG_HOME", tmp.path().join("no-config"))
        .env("XDG_DATA_HOME", tmp.path().join("no-data"))
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("running lockgate: {e}"))?;
    if out.status.code() != Some(1) || !out.stdout.is_empty() {
        return Err(describe(&out).into());
    }
    compare(fixture, &String::from_utf8_lossy(&out.stderr), "binary")
}

fn describe(out: &Output) -> String {
    format!(
        "expected exit code 1 and nothing on stdout; got status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
