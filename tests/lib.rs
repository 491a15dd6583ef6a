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

/// Removes from `cmd` every `LOCKGATE_*` variable of this process's environment (a shell's
/// `LOCKGATE_SERVER`, `LOCKGATE_DATABASE_URL`, `LOCKGATE_REGISTRY`, ...), so that a test sees
/// only the settings it gives itself.
pub fn clear_lockgate_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("LOCKGATE_")) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A `lockgate` command with a private compiled-plugin cache under `cache_root`, and no
/// `LOCKGATE_*` variable of the environment the tests run in.
pub fn lockgate(cache_root: &Path) -> Command {
    let mut cmd = Command::new(lockgate_bin());
    // No user config file, no default registry, no server or database unless a test sets them.
    clear_lockgate_env(&mut cmd);
    cmd.env("LOCKGATE_CACHE_DIR", cache_root.join("lockgate-cache"));
    cmd.env_remove("RUST_LOG");
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
    let out = clear_lockgate_env(&mut Command::new("bash"))
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env("LOCKGATE_TOOLCHAINS", toolchains())
        .env("LOCKGATE", lockgate_bin())
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

/// Serves the files under `root` over HTTP/1.1 on an ephemeral 127.0.0.1 port, from a
/// background thread, for the life of the process; directories answer with a listing (as
/// `python3 -m http.server` does). Returns the port.
pub fn serve_dir(root: PathBuf) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port");
    let port = listener.local_addr().expect("bound address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 8192];
                let n = stream.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = if path.contains("..") {
                    ("403 Forbidden", b"forbidden".to_vec())
                } else if file.is_dir() {
                    let mut names: Vec<String> = std::fs::read_dir(&file)
                        .map(|d| {
                            d.flatten()
                                .map(|e| e.file_name().to_string_lossy().into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    names.sort();
                    (
                        "200 OK",
                        format!("Directory listing for {path}\n{}", names.join("\n")).into_bytes(),
                    )
                } else {
                    match std::fs::read(&file) {
                        Ok(bytes) => ("200 OK", bytes),
                        Err(_) => ("404 Not Found", b"not found".to_vec()),
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

/// The `examples/cloud-gov` example set up in a temporary directory: its `setup.sh` world,
/// its pipeline with absolute plugin paths (the first-party plugins built under
/// `plugins/target`), and the environments served over HTTP on a port of the test's own
/// instead of the example's 8801.
pub struct CloudGov {
    /// The example's directory: `pipeline.yml`, `work/`.
    pub dir: tempfile::TempDir,
    /// The port the environments are served on.
    pub env_port: u16,
}

impl CloudGov {
    /// Sets the example up; panics with the setup script's output when it fails.
    pub fn new() -> Self {
        let example = repo().join("examples/cloud-gov");
        let dir = tempfile::tempdir().expect("temporary directory");
        let plugins = repo().join("plugins/target/wasm32-wasip2/release/");
        let setup = Command::new("bash")
            .arg(example.join("setup.sh"))
            .arg(dir.path())
            .output()
            .expect("running examples/cloud-gov/setup.sh");
        assert!(
            setup.status.success(),
            "examples/cloud-gov/setup.sh failed: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let env_port = serve_dir(dir.path().join("work/envs"));
        let pipeline = std::fs::read_to_string(example.join("pipeline.yml"))
            .expect("examples/cloud-gov/pipeline.yml")
            .replace(
                "../../plugins/target/wasm32-wasip2/release/",
                &format!("{}/", plugins.display()),
            )
            .replace("127.0.0.1:8801", &format!("127.0.0.1:{env_port}"));
        std::fs::write(dir.path().join("pipeline.yml"), pipeline).expect("writing pipeline.yml");
        Self { dir, env_port }
    }

    /// A `lockgate` command run in the example's directory.
    pub fn command(&self) -> Command {
        let mut cmd = lockgate(self.dir.path());
        cmd.current_dir(self.dir.path())
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `lockgate ARGS` in the example's directory.
    pub fn lg(&self, args: &[&str]) -> Run {
        run(self.command().args(args))
    }

    /// Adds an upstream release of the app (`app-VERSION.tgz`).
    pub fn release(&self, version: &str) {
        std::fs::write(
            self.dir
                .path()
                .join(format!("work/releases/app-{version}.tgz")),
            format!("app {version}"),
        )
        .expect("writing a release");
    }

    /// The `versions.json` of the release an environment currently runs.
    pub fn deployed_versions(&self, environment: &str) -> String {
        let env = self.dir.path().join("work/envs").join(environment);
        let current = std::fs::read_to_string(env.join("current")).unwrap_or_default();
        std::fs::read_to_string(
            env.join("releases")
                .join(current.trim())
                .join("versions.json"),
        )
        .unwrap_or_default()
    }
}

/// Token of `grafana`, a viewer, in the servers [`CloudGov::server`] starts.
pub const VIEWER_TOKEN: &str = "viewer-secret-0001";
/// Token of `ci`, an operator, in the servers [`CloudGov::server`] starts.
pub const OPERATOR_TOKEN: &str = "operator-secret-0001";
/// Token of `alice`, an approver, in the servers [`CloudGov::server`] starts.
pub const APPROVER_TOKEN: &str = "approver-secret-0001";

impl CloudGov {
    /// Starts `lockgate server` on the example, on an ephemeral port, with `tokens.yml`
    /// (`grafana` views, `ci` operates, `alice` approves; see [`VIEWER_TOKEN`] and the others)
    /// and the `extra` arguments; its output goes to `server.log`.
    pub fn server(&self, extra: &[&str]) -> Server {
        let tokens = self.dir.path().join("tokens.yml");
        std::fs::write(
            &tokens,
            format!(
                "- {{ name: grafana, token: \"{VIEWER_TOKEN}\", role: viewer }}\n\
                 - {{ name: ci, token: \"{OPERATOR_TOKEN}\", role: operator }}\n\
                 - {{ name: alice, token: \"{APPROVER_TOKEN}\", role: approver }}\n"
            ),
        )
        .expect("writing tokens.yml");
        let mut cmd = self.command();
        cmd.args([
            "server",
            "pipeline.yml",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
        ])
        .arg(&tokens)
        .args(extra);
        Server::start(cmd, self.dir.path().join("server.log"))
    }
}

impl Default for CloudGov {
    fn default() -> Self {
        Self::new()
    }
}

/// A running `lockgate server`, killed when dropped; its output goes to `server.log` in the
/// directory it was started in.
pub struct Server {
    /// The process.
    pub process: KillOnDrop,
    /// Base URL of its HTTP API, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
}

impl Server {
    /// Starts `cmd` (a `lockgate server … --listen 127.0.0.1:0` command) with its output in
    /// `log`, and waits (up to two minutes: plugins compile first) until it says where it
    /// listens.
    pub fn start(mut cmd: Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("creating the server log");
        let child = cmd
            .stdout(out.try_clone().expect("log file handle"))
            .stderr(out)
            .spawn()
            .expect("spawning lockgate server");
        let mut process = KillOnDrop(child);
        let url = wait_for("the server to listen", Duration::from_secs(120), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !process.is_running() {
                panic!("lockgate server exited:\n{text}");
            }
            text.split("API ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .filter(|u| u.starts_with("http://"))
                .map(str::to_owned)
                .ok_or(text)
        });
        Self { process, url, log }
    }
}

/// One HTTP/1.1 request to `url` (`http://host:port/path`) with an optional bearer token and
/// JSON body; returns the status code and the body.
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connecting to the server");
    let mut req = format!("{method} /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream
        .write_all(req.as_bytes())
        .expect("sending the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("reading the response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `tests/fixtures/reverse_proxy.py` running in front of a server, as operators deploy it:
/// the server's routes under a path prefix, over TLS when given a certificate; killed when
/// dropped.
pub struct ReverseProxy {
    /// The proxy process.
    pub process: KillOnDrop,
    /// Its base URL, with the prefix: `http(s)://127.0.0.1:PORT/PREFIX`.
    pub url: String,
}

impl ReverseProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) serving it under `prefix`
    /// (`/lockgate`), over TLS with `(certificate, key)` PEM files when given.
    pub fn start(upstream: &str, prefix: &str, tls: Option<(&Path, &Path)>) -> Self {
        use std::io::BufRead;
        let port = upstream
            .rsplit(':')
            .next()
            .expect("upstream URL with a port");
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/fixtures/reverse_proxy.py"))
            .args([port, prefix])
            .stdout(std::process::Stdio::piped());
        if let Some((cert, key)) = tls {
            cmd.args([cert, key]);
        }
        let mut child = cmd.spawn().expect("running python3");
        let stdout = child.stdout.take().expect("the proxy's stdout");
        let process = KillOnDrop(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the proxy's port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the reverse proxy did not start: `{line}`"));
        let scheme = if tls.is_some() { "https" } else { "http" };
        Self {
            process,
            url: format!(
                "{scheme}://127.0.0.1:{port}{}",
                prefix.trim_end_matches('/')
            ),
        }
    }
}

/// The variable naming the PostgreSQL database of the tests (`.ci/run` sets it).
pub const PG_ENV: &str = "LOCKGATE_TEST_DATABASE_URL";

/// The PostgreSQL URL of the tests, or `None` (after saying so) when `test` must be skipped:
/// outside CI without [`PG_ENV`]. In CI (`CI` set) a missing URL fails the test.
pub fn pg_url_or_skip(test: &str) -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{PG_ENV} is not set, and in CI this test may not be skipped \
             (e.g. {PG_ENV}=postgres://postgres@127.0.0.1:5432/test)"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: {PG_ENV} is not set (e.g. {PG_ENV}=postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// A PostgreSQL schema of its own for one test, dropped (with `psql`) when dropped.
pub struct PgSchema {
    /// The database URL.
    pub url: String,
    /// The schema's name.
    pub schema: String,
}

impl PgSchema {
    /// A new schema name in the database at `url`, prefixed with `prefix`.
    pub fn new(url: &str, prefix: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            url: url.to_owned(),
            schema: format!(
                "{prefix}_{}_{}_{}",
                std::process::id(),
                nanos % 1_000_000_000,
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    /// The store spec of `lockgate --state` / `LOCKGATE_DATABASE_URL`: the URL with the schema.
    pub fn state(&self) -> String {
        format!("{}?schema={}", self.url, self.schema)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Best effort: psql is on machines that run PostgreSQL.
        let dropped = Command::new("psql")
            .arg(&self.url)
            .args([
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !matches!(dropped, Ok(s) if s.success()) {
            eprintln!("could not drop PostgreSQL schema {}", self.schema);
        }
    }
}
