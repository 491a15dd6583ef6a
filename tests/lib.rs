//! Shared helpers for the end-to-end tests in `e2e/`: find the `lockgate` binary and run it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Path of the `lockgate` binary built by this `cargo test` run (in the same target directory
/// as the test executable).
pub fn lockgate_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/lockgate
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory");
    let bin = dir.join(format!("lockgate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A `lockgate` command with a private compiled-plugin cache under `cache_root`.
pub fn lockgate(cache_root: &Path) -> Command {
    let mut cmd = Command::new(lockgate_bin());
    cmd.env("LOCKGATE_CACHE_DIR", cache_root.join("lockgate-cache"));
    cmd.env_remove("RUST_LOG");
    // No user config file and no default registry unless a test sets them.
    cmd.env_remove("LOCKGATE_CONFIG");
    cmd.env("XDG_CONFIG_HOME", cache_root.join("no-user-config"));
    cmd.env("XDG_DATA_HOME", cache_root.join("no-user-data"));
    cmd
}

/// Runs `cmd` and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    cmd.output().expect("running lockgate").into()
}

/// Calls `probe` until it returns `Ok`, every 100 ms for at most `timeout`, and returns its
/// value. On timeout, panics naming `what` and the last `Err` (what the probe saw).
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A spawned child process that is killed (SIGKILL on Unix) and reaped when dropped, so that
/// a failing test never leaves it running.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Kills the process now (SIGKILL on Unix) and waits for it; a no-op once it exited.
    pub fn kill(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The toolchains folder the plugin build scripts install into (shared with
/// `examples/plugins`): `$LOCKGATE_TOOLCHAINS`, else `target/toolchains`.
pub fn toolchains() -> PathBuf {
    std::env::var_os("LOCKGATE_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/toolchains"))
}

/// Runs a plugin build script (`bash SCRIPT ARGS` in `dir`) with the toolchains folder set and
/// `LOCKGATE` naming this test run's binary (C, Go and Zig builds take the WASI adapter from
/// `lockgate plugin adapter`); panics with its output when it fails, saying what it needs.
/// Returns how long it took, in seconds.
pub fn build_script(what: &str, dir: &Path, script: &Path, args: &[&Path]) -> f64 {
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env("LOCKGATE_TOOLCHAINS", toolchains())
        .env("LOCKGATE", lockgate_bin())
        .env_remove("LOCKGATE_ADAPTER")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run bash {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{what}: `bash {}` failed ({}); are the toolchains installable (Debian packages as root, \
         PyPI and npm reachable, python3 with venv, node and npm)?\n--- stdout\n{}--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let secs = started.elapsed().as_secs_f64();
    eprintln!("{what}: done in {secs:.1} s");
    secs
}
