//! `examples/cloud-gov-remote` end to end through the binary: the example's own pipeline,
//! setup script and plugins, against the real servers its `run.sh` starts, here on ports of the
//! test's own: Debian's `docker-registry` (installed by `tests/servers/install.sh` when missing;
//! the test fails without it), the git server of `lockgate-test-git` over HTTPS with the
//! certificate `setup.sh` made, and the release feed's files served over HTTP.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockgate_e2e::{KillOnDrop, Run, lockgate, repo, run, serve_dir, wait_for};
use lockgate_test_git::{GitServer, Options};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The example's default ports, rewritten in the test's copy of the pipeline.
const REGISTRY_PORT: u16 = 8811;
const GIT_PORT: u16 = 8812;
const FEED_PORT: u16 = 8813;

/// The registry binary, installed by `tests/servers/install.sh` when missing. A registry that
/// cannot be had fails the test: nothing is skipped.
fn registry_binary() -> PathBuf {
    let path = PathBuf::from(
        std::env::var_os("DOCKER_REGISTRY").unwrap_or_else(|| "/usr/bin/docker-registry".into()),
    );
    if !path.is_file() {
        let script = repo().join("tests/servers/install.sh");
        let status = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .status();
        eprintln!("{} exited with {status:?}", script.display());
    }
    assert!(
        path.is_file(),
        "{} is missing and tests/servers/install.sh could not install it (Debian package \
         `docker-registry`; run the script as root, or set DOCKER_REGISTRY)",
        path.display()
    );
    path
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `git ARGS` away from the user's and the system's configuration; panics when it fails.
fn git(dir: &Path, args: &[&str], ca: &Path) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_SSL_CAINFO", ca)
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The example set up in a temporary directory with its servers running; everything is stopped
/// when dropped (the git server before its runtime).
struct Remote {
    dir: tempfile::TempDir,
    registry_port: u16,
    git_port: u16,
    _registry: KillOnDrop,
    _git: GitServer,
    _runtime: tokio::runtime::Runtime,
}

impl Remote {
    fn new() -> Self {
        let example = repo().join("examples/cloud-gov-remote");
        let registry = registry_binary();
        let dir = tempfile::tempdir().expect("temporary directory");
        let work = dir.path().join("work");
        // The feed's files are read at each request: it can serve before setup.sh made them.
        let feed_port = serve_dir(work.join("feed"));
        let registry_port = free_port();

        // setup.sh pushes app 1.0.0 into a registry it starts on the port and stops again.
        let setup = Command::new("bash")
            .arg(example.join("setup.sh"))
            .arg(dir.path())
            .env("REGISTRY_PORT", registry_port.to_string())
            .env("FEED_PORT", feed_port.to_string())
            .env("DOCKER_REGISTRY", &registry)
            .stdin(Stdio::null())
            .output()
            .expect("running examples/cloud-gov-remote/setup.sh");
        assert!(
            setup.status.success(),
            "examples/cloud-gov-remote/setup.sh failed: {}{}",
            String::from_utf8_lossy(&setup.stdout),
            String::from_utf8_lossy(&setup.stderr)
        );

        let log = std::fs::File::create(work.join("registry.log")).expect("the registry's log");
        let process = KillOnDrop(
            Command::new(&registry)
                .arg("serve")
                .arg(work.join("registry/config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", registry.display())),
        );
        let mut process = process;
        wait_for("the registry to listen", Duration::from_secs(20), || {
            if !process.is_running() {
                panic!(
                    "docker-registry exited: {}",
                    std::fs::read_to_string(work.join("registry.log")).unwrap_or_default()
                );
            }
            std::net::TcpStream::connect(("127.0.0.1", registry_port))
                .map(drop)
                .map_err(|e| e.to_string())
        });

        // The git server over HTTPS, with the certificate of setup.sh's throwaway CA.
        let chain = CertificateDer::pem_file_iter(work.join("tls/server.pem"))
            .and_then(Iterator::collect)
            .expect("work/tls/server.pem");
        let key =
            PrivateKeyDer::from_pem_file(work.join("tls/server.key")).expect("work/tls/server.key");
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the server's certificate and key");
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let git_server = runtime.block_on(GitServer::start_in(
            &work.join("git"),
            0,
            Options {
                tls: Some(Arc::new(tls)),
                receive_pack: true,
                ..Options::default()
            },
        ));
        let git_port = git_server.port();

        let plugins = repo().join("plugins/target/wasm32-wasip2/release/");
        let pipeline = std::fs::read_to_string(example.join("pipeline.yml"))
            .expect("examples/cloud-gov-remote/pipeline.yml")
            .replace(
                "../../plugins/target/wasm32-wasip2/release/",
                &format!("{}/", plugins.display()),
            )
            .replace(
                &format!("127.0.0.1:{REGISTRY_PORT}"),
                &format!("127.0.0.1:{registry_port}"),
            )
            .replace(
                &format!("127.0.0.1:{GIT_PORT}"),
                &format!("127.0.0.1:{git_port}"),
            )
            .replace(
                &format!("127.0.0.1:{FEED_PORT}"),
                &format!("127.0.0.1:{feed_port}"),
            );
        std::fs::write(dir.path().join("pipeline.yml"), pipeline).expect("writing pipeline.yml");
        Self {
            dir,
            registry_port,
            git_port,
            _registry: process,
            _git: git_server,
            _runtime: runtime,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `lockgate ARGS` in the example's directory.
    fn lg(&self, args: &[&str]) -> Run {
        let mut cmd = lockgate(self.dir.path());
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(args);
        run(&mut cmd)
    }

    /// Runs `lockgate ARGS` and asserts it succeeded; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.lg(args);
        assert_eq!(
            r.code,
            0,
            "lockgate {args:?}:\n{}\n{}\n{}",
            r.stdout,
            r.stderr,
            self.registry_log()
        );
        r.stdout
    }

    fn registry_log(&self) -> String {
        std::fs::read_to_string(self.path("work/registry.log")).unwrap_or_default()
    }

    /// `git --git-dir=work/git/envs.git ARGS`: the environment repository on the server.
    fn envs(&self, args: &[&str]) -> String {
        let git_dir = format!("--git-dir={}", self.path("work/git/envs.git").display());
        let mut all = vec![git_dir.as_str()];
        all.extend_from_slice(args);
        git(self.dir.path(), &all, &self.path("work/tls/ca.pem"))
    }

    /// `section.key` of `<environment>/values.yaml` on the server's `main`, unquoted.
    fn pinned(&self, environment: &str, key: &str) -> String {
        let text = self.envs(&["show", &format!("main:{environment}/values.yaml")]);
        let (section, name) = key.split_once('.').expect("section.key");
        let mut current = "";
        for line in text.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                current = line.trim_end_matches(':');
            } else if current == section
                && let Some(value) = line.trim().strip_prefix(&format!("{name}:"))
            {
                return value.trim().trim_matches('"').to_owned();
            }
        }
        panic!("no {key} in {environment}/values.yaml:\n{text}")
    }

    /// The candidate `lockgate status` says an environment runs (its `runs` line).
    fn runs(&self, environment: &str) -> String {
        let status = self.ok(&["status"]);
        let mut lines = status.lines().skip_while(|l| *l != environment).skip(1);
        lines
            .find_map(|l| l.trim().strip_prefix("runs").map(str::trim))
            .unwrap_or_else(|| panic!("no `runs` of {environment} in:\n{status}"))
            .to_owned()
    }

    /// Pushes `ci/app:VERSION` with `setup.sh push-image`; returns its digest.
    fn push_image(&self, version: &str) -> String {
        let out = Command::new("bash")
            .arg(repo().join("examples/cloud-gov-remote/setup.sh"))
            .args(["push-image", version])
            .env("REGISTRY_PORT", self.registry_port.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("running setup.sh push-image");
        assert!(
            out.status.success(),
            "setup.sh push-image {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The digest the registry serves for `repository:tag` (`HEAD` of the manifest), or `None`
    /// when it answers 404.
    fn served_digest(&self, repository: &str, tag: &str) -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.registry_port))
            .expect("connecting to the registry");
        write!(
            stream,
            "HEAD /v2/{repository}/manifests/{tag} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Accept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n"
        )
        .expect("sending the request");
        let mut head = String::new();
        stream
            .read_to_string(&mut head)
            .expect("reading the answer");
        let status = head.split_whitespace().nth(1).unwrap_or_default();
        match status {
            "200" => head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("docker-content-digest")
                    .then(|| value.trim().to_owned())
            }),
            "404" => None,
            other => panic!("HEAD {repository}:{tag}: status {other}: {head}"),
        }
    }
}

#[test]
fn cloud_gov_remote_copies_images_by_digest_and_commits_them_to_the_env_repo() {
    let started = Instant::now();
    let ex = Remote::new();
    eprintln!(
        "set up (setup.sh, registry, git server) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ex.ok(&["validate", "pipeline.yml"]);
    let v1 = ex
        .served_digest("ci/app", "1.0.0")
        .expect("setup.sh pushed ci/app:1.0.0");
    let config_v1 = git(
        &ex.path("work/git/config.git"),
        &["rev-parse", "main"],
        &ex.path("work/tls/ca.pem"),
    );
    let initial_envs = ex.envs(&["rev-parse", "main"]);

    // 1. Development and staging get the image, the release and the config; production waits.
    let out = ex.ok(&["run", "pipeline.yml"]);
    assert!(
        out.contains("waits for approval to enter `production`"),
        "{out}"
    );
    for env in ["development", "staging"] {
        assert_eq!(ex.pinned(env, "image.digest"), v1, "{env}");
        assert_eq!(ex.pinned(env, "image.version"), "1.0.0", "{env}");
        assert_eq!(
            ex.pinned(env, "routing-release.version"),
            "0.300.0",
            "{env}"
        );
        assert_eq!(ex.pinned(env, "config.revision"), config_v1, "{env}");
        assert_eq!(
            ex.served_digest(&format!("{env}/app"), "current")
                .as_deref(),
            Some(v1.as_str()),
            "{env}/app:current is the tested digest"
        );
    }
    // Nothing reached production before the approval: no image, no commit.
    assert_eq!(ex.runs("production"), "nothing yet");
    assert_eq!(ex.served_digest("production/app", "current"), None);
    assert_eq!(ex.pinned("production", "image.digest"), "");
    assert_eq!(
        ex.envs(&["log", "--format=%H", "main", "--", "production"]),
        initial_envs,
        "only the initial commit touches production/"
    );
    let why = ex.ok(&["why", "production"]);
    assert!(why.contains("approv"), "{why}");

    ex.ok(&["approve", "production", "--as", "alice"]);
    ex.ok(&["run", "pipeline.yml"]);
    assert_eq!(
        ex.served_digest("production/app", "current").as_deref(),
        Some(v1.as_str()),
        "production/app:current in the registry is the image's digest"
    );
    assert_eq!(
        ex.served_digest("production/app", "1.0.0").as_deref(),
        Some(v1.as_str())
    );
    assert_eq!(ex.pinned("production", "image.digest"), v1);
    assert_eq!(ex.pinned("production", "image.version"), "1.0.0");
    assert_eq!(ex.pinned("production", "config.revision"), config_v1);
    let runs = ex.runs("production");
    assert!(
        runs.contains(&format!("app-image {{digest: {v1}, tag: 1.0.0}}"))
            && runs.contains(&format!("config {{ref: {config_v1}}}"))
            && runs.contains("routing-release {version: 0.300.0}"),
        "{runs}"
    );
    // The digest arrived in a commit of Lockgate's, on top of the server's branch.
    let promotion = ex.envs(&[
        "log",
        "-1",
        "--format=%H",
        "--grep=^Promote app to production",
        "main",
    ]);
    assert!(!promotion.is_empty(), "no promotion commit");
    assert_eq!(
        ex.envs(&["show", "-s", "--format=%an <%ae>|%cn <%ce>", &promotion]),
        "Lockgate <lockgate@localhost>|Lockgate <lockgate@localhost>"
    );
    let diff = ex.envs(&["show", "--format=", &promotion]);
    assert!(
        diff.contains(&format!("+  digest: \"{v1}\"")) && diff.contains("production/values.yaml"),
        "{diff}"
    );

    // 2. app 1.1.0 is pushed upstream and follows, held before production until approved.
    let v2 = ex.push_image("1.1.0");
    assert_eq!(
        ex.served_digest("ci/app", "1.1.0").as_deref(),
        Some(v2.as_str())
    );
    assert_ne!(v1, v2);
    ex.ok(&["run", "pipeline.yml"]);
    assert_eq!(ex.pinned("staging", "image.digest"), v2);
    assert_eq!(ex.pinned("staging", "image.version"), "1.1.0");
    assert_eq!(
        ex.served_digest("production/app", "current").as_deref(),
        Some(v1.as_str()),
        "held until approved"
    );
    assert_eq!(ex.pinned("production", "image.digest"), v1);
    assert!(ex.runs("staging").contains("tag: 1.1.0"));
    assert!(ex.runs("production").contains("tag: 1.0.0"));
    ex.ok(&["approve", "production", "--as", "alice"]);
    ex.ok(&["run", "pipeline.yml"]);
    assert_eq!(
        ex.served_digest("production/app", "current").as_deref(),
        Some(v2.as_str())
    );
    assert_eq!(ex.pinned("production", "image.digest"), v2);
    assert_eq!(ex.pinned("production", "image.version"), "1.1.0");

    // 3. A config change pushed over HTTPS with the git CLI flows through.
    let ca = ex.path("work/tls/ca.pem");
    let clone = ex.path("work/config-clone");
    let url = format!("https://127.0.0.1:{}/config.git", ex.git_port);
    git(
        ex.dir.path(),
        &["clone", "-q", &url, clone.to_str().expect("a UTF-8 path")],
        &ca,
    );
    let manifest = clone.join("manifests/app.yml");
    let text = std::fs::read_to_string(&manifest).expect("manifests/app.yml");
    std::fs::write(&manifest, text.replace("replicas: 2", "replicas: 3")).expect("editing");
    git(
        &clone,
        &[
            "-c",
            "user.name=ops",
            "-c",
            "user.email=ops@example.org",
            "commit",
            "-qam",
            "Scale to 3 replicas",
        ],
        &ca,
    );
    git(&clone, &["push", "-q", "origin", "main"], &ca);
    let config_v2 = git(&clone, &["rev-parse", "HEAD"], &ca);
    assert_ne!(config_v2, config_v1);
    ex.ok(&["run", "pipeline.yml"]);
    assert_eq!(ex.pinned("staging", "config.revision"), config_v2);
    assert_eq!(ex.pinned("production", "config.revision"), config_v1);
    ex.ok(&["approve", "production", "--as", "bob"]);
    ex.ok(&["run", "pipeline.yml"]);
    for env in ["development", "staging", "production"] {
        let runs = ex.runs(env);
        assert!(
            runs.contains(&format!("app-image {{digest: {v2}, tag: 1.1.0}}"))
                && runs.contains(&format!("config {{ref: {config_v2}}}")),
            "{env}: {runs}"
        );
        assert_eq!(ex.pinned(env, "config.revision"), config_v2, "{env}");
        assert_eq!(ex.pinned(env, "image.digest"), v2, "{env}");
        assert_eq!(ex.pinned(env, "image.version"), "1.1.0", "{env}");
        assert_eq!(
            ex.pinned(env, "routing-release.version"),
            "0.300.0",
            "{env}"
        );
    }
    // Every commit to envs.git after setup's is Lockgate's.
    let authors = ex.envs(&["log", "--format=%an", &format!("{initial_envs}..main")]);
    assert!(
        !authors.is_empty() && authors.lines().all(|a| a == "Lockgate"),
        "{authors}"
    );
    eprintln!(
        "the example's story took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
