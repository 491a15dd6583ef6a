//! Test support for the `git` resource type: a real git server on 127.0.0.1 ([`GitServer`]),
//! git's own `git http-backend` run as a CGI program behind a small HTTP/1.1 server of this
//! crate, over plain HTTP or TLS, serving the bare repositories of a root directory at
//! `http(s)://127.0.0.1:PORT/<name>.git` (smart HTTP: protocol v2 when the client asks for
//! it, v0 otherwise), with basic authentication, pushes and hostile modes as [`Options`];
//! and a working clone ([`WorkRepo`]) that makes history in those repositories directly on
//! disk with a fixed identity and clock, so that every commit id is reproducible.
//!
//! The `git` CLI is needed: [`GitServer::start`] panics without it, so that tests fail rather
//! than skip.

mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use rustls::ServerConfig;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How a [`GitServer`] serves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serves HTTPS with this configuration (e.g. `TestCa::server_config`) instead of HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// Requires HTTP basic authentication with this user and password: a request without
    /// them, or with others, is answered `401` with `WWW-Authenticate: Basic realm="git"`;
    /// `git http-backend` gets the user as `REMOTE_USER`.
    pub basic_auth: Option<(String, String)>,
    /// Hostile: the body of every answer to `POST .../git-upload-pack` is cut after this many
    /// bytes and the connection closed. Such answers are sent without a length or chunking
    /// (`Connection: close`), so the cut is invisible to HTTP: only the git protocol can tell.
    /// With protocol v2, `ls-refs` is such a request too (its answer is usually short).
    pub truncate_upload_pack: Option<usize>,
    /// Hostile: connections are accepted and requests read (and recorded), never answered.
    pub silent: bool,
    /// Allows pushes (`http.receivepack=true`); otherwise `git-receive-pack` is refused with
    /// `403 Forbidden`, authenticated or not.
    pub receive_pack: bool,
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, e.g. `/repo.git/info/refs?service=git-upload-pack`.
    pub target: String,
    /// Every header, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The status answered; `None` while (or when never) answered.
    pub status: Option<u16>,
}

impl Request {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// A git smart-HTTP server on 127.0.0.1, stopped when dropped (its root directory, when it
/// made one, is removed then).
pub struct GitServer {
    addr: SocketAddr,
    tls: bool,
    receive_pack: bool,
    root: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
    _temp: Option<TempDir>,
}

impl GitServer {
    /// Starts serving the repositories of a new, empty root directory (see
    /// [`create_bare`](Self::create_bare)) on a free port. Must be called inside a tokio
    /// runtime, a multi-thread one if the caller blocks (e.g. on `std::process`).
    ///
    /// # Panics
    ///
    /// When the `git` CLI (with `git http-backend`) is not installed.
    pub async fn start(options: Options) -> Self {
        let temp = tempfile::Builder::new()
            .prefix("lockgate-git-")
            .tempdir()
            .expect("a root directory for the git server");
        let mut server = Self::start_in(temp.path(), 0, options).await;
        server._temp = Some(temp);
        server
    }

    /// Starts serving the repositories under `root` (kept when stopped) on `port` of
    /// 127.0.0.1 (0: any free port).
    ///
    /// # Panics
    ///
    /// When the `git` CLI (with `git http-backend`) is not installed, or the port is taken.
    pub async fn start_in(root: &Path, port: u16, options: Options) -> Self {
        let backend = http_backend();
        let root = std::path::absolute(root).expect("the absolute path of the root directory");
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("binding 127.0.0.1:{port}: {e}"));
        let addr = listener.local_addr().expect("its address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tls = options.tls.clone();
        let shared = http::Shared {
            backend,
            root: root.clone(),
            port: addr.port(),
            auth: options
                .basic_auth
                .as_ref()
                .map(|(user, password)| (user.clone(), base64(&format!("{user}:{password}")))),
            truncate_upload_pack: options.truncate_upload_pack,
            silent: options.silent,
            receive_pack: options.receive_pack,
            requests: requests.clone(),
        };
        let task = tokio::spawn(http::serve(listener, tls.clone(), Arc::new(shared)));
        Self {
            addr,
            tls: tls.is_some(),
            receive_pack: options.receive_pack,
            root,
            requests,
            task,
            _temp: None,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port())
    }

    /// The URL of repository `name`: `http(s)://127.0.0.1:<port>/<name>.git`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{}", self.base_url(), repo_dir(name))
    }

    /// The directory it serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where repository `name` is (or would be) on disk: `<root>/<name>.git`.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.root.join(repo_dir(name))
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Creates the empty bare repository `name` (default branch `main`, `http.receivepack`
    /// as [`Options::receive_pack`]); returns its path.
    pub fn create_bare(&self, name: &str) -> PathBuf {
        let path = self.repo_path(name);
        let arg = path.to_str().expect("a UTF-8 repository path");
        git_in(&self.root, 0, &["init", "-q", "--bare", "-b", "main", arg]);
        let receive_pack = if self.receive_pack { "true" } else { "false" };
        git_in(&path, 0, &["config", "http.receivepack", receive_pack]);
        path
    }

    /// A working clone of repository `name`, made on disk (not over HTTP).
    pub fn work(&self, name: &str) -> WorkRepo {
        WorkRepo::clone_of(&self.repo_path(name))
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A scratch working clone of a bare repository, driven by the `git` CLI with a fixed
/// identity and a clock that advances one minute per commit: every id is reproducible.
/// Pushes go to the bare repository's path, not over HTTP.
pub struct WorkRepo {
    dir: TempDir,
    tick: i64,
}

impl WorkRepo {
    /// Clones the bare repository at `bare` (empty or not) into a new directory.
    pub fn clone_of(bare: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lockgate-git-work-")
            .tempdir()
            .expect("a directory for the working clone");
        let source = bare.to_str().expect("a UTF-8 repository path");
        let target = dir.path().to_str().expect("a UTF-8 temporary path");
        git_in(dir.path(), 0, &["clone", "-q", source, target]);
        Self { dir, tick: 0 }
    }

    /// Its working tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `git args` in it (dated by its clock); returns stdout, trimmed.
    ///
    /// # Panics
    ///
    /// When git fails.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), self.tick, args)
    }

    /// Writes `content` to `path` (relative to the working tree), creating directories.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent directory"))
            .expect("creating directories");
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Commits every change, one minute after the previous commit; returns the commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.tick += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Pushes the current branch to the bare repository.
    pub fn push(&self) {
        self.git(&["push", "-q", "origin", "HEAD"]);
    }

    /// Pushes the current branch to the bare repository, rewriting its history.
    pub fn push_force(&self) {
        self.git(&["push", "-q", "--force", "origin", "HEAD"]);
    }
}

/// `name.git`, unless `name` ends with `.git` already.
fn repo_dir(name: &str) -> String {
    let name = name.trim_matches('/');
    if name.ends_with(".git") {
        name.to_owned()
    } else {
        format!("{name}.git")
    }
}

/// Runs `git args` in `dir` with a fixed identity, dated `tick` minutes after a fixed time,
/// away from the user's and the system's configuration; returns stdout, trimmed.
fn git_in(dir: &Path, tick: i64, args: &[&str]) -> String {
    let date = format!("{} +0200", 1_700_000_000 + tick * 60);
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ann Author")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_NAME", "Cid Committer")
        .env("GIT_COMMITTER_EMAIL", "cid@example.com")
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap_or_else(|e| panic!("{NO_GIT}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const NO_GIT: &str = "lockgate-test-git needs the `git` CLI on PATH (its `git http-backend` \
                      serves the repositories; its porcelain makes their history)";

/// The `git-http-backend` program.
///
/// # Panics
///
/// When git, or its `git-http-backend`, is not installed.
fn http_backend() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .unwrap_or_else(|e| panic!("{NO_GIT}: {e}"));
    assert!(
        out.status.success(),
        "{NO_GIT}: `git --exec-path` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backend = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("git-http-backend");
    assert!(
        backend.is_file(),
        "{NO_GIT}: {} is missing (some distributions package it apart)",
        backend.display()
    );
    backend
}

/// Standard base64, padded (for basic authentication).
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_rfc_4648() {
        assert_eq!(base64(""), "");
        assert_eq!(base64("f"), "Zg==");
        assert_eq!(base64("fo"), "Zm8=");
        assert_eq!(base64("foo"), "Zm9v");
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn repository_names_get_one_git_suffix() {
        assert_eq!(repo_dir("repo"), "repo.git");
        assert_eq!(repo_dir("repo.git"), "repo.git");
        assert_eq!(repo_dir("/group/repo/"), "group/repo.git");
    }

    #[test]
    fn a_work_repo_makes_reproducible_history_in_a_bare_repository() {
        let make = || {
            let root = tempfile::tempdir().unwrap();
            git_in(
                root.path(),
                0,
                &["init", "-q", "--bare", "-b", "main", "repo.git"],
            );
            let bare = root.path().join("repo.git");
            let mut work = WorkRepo::clone_of(&bare);
            work.write("dir/a.txt", "a\n");
            let first = work.commit("first");
            work.push();
            assert_eq!(git_in(&bare, 0, &["rev-parse", "main"]), first);
            (root, bare, work, first)
        };
        let (_root, bare, mut work, first) = make();
        assert_eq!(make().3, first, "the same history has the same ids");

        work.write("dir/a.txt", "b\n");
        let second = work.commit("second");
        work.push();
        work.git(&["reset", "-q", "--hard", &first]);
        work.write("other.txt", "c\n");
        let rewritten = work.commit("rewritten");
        work.push_force();
        assert_ne!(rewritten, second);
        assert_eq!(git_in(&bare, 0, &["rev-parse", "main"]), rewritten);
    }
}
