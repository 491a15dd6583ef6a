//! `network_checks`: how long one `check` of each network resource type takes against a
//! server on 127.0.0.1, with the local `counter` check as the baseline measured in the same
//! run: `github-release` and `bosh-io-release` against their APIs' shapes (the host tests'
//! fixtures; GitHub over HTTP and over TLS with a test CA), `s3` against moto, `registry-image`
//! against Debian's `docker-registry`, `git` against `git http-backend` (cold: an empty
//! `/cache`; warm: the cache of earlier checks).
//!
//! For each: the first check after loading the plugin in a fresh host (compiled code cached;
//! the first HTTPS request of a host also loads the system's roots), then the median and the
//! 90th percentile of 30 more. Every check runs in a fresh sandbox with a new connection; only
//! `git` keeps something in `/cache` between checks (its mirror).
//!
//! Run: `cargo bench -p lockgate --bench network_checks` (it installs moto and the registry
//! with `tests/servers/`). Under `cargo test` it runs one round of the baseline and of
//! `github-release` over HTTP only, to keep the code working.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockgate::plugin_host::{Grants, HostConfig, Invocation, Plugin, PluginHost};
use lockgate_test_artifacts as artifacts;
use lockgate_test_git::{GitServer, Options};
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RUNS: usize = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One type's figures.
struct Figures {
    what: String,
    first: Duration,
    median: Duration,
    p90: Duration,
    versions: usize,
}

/// Grants given to each check: the same every time, or made afresh (an empty `/cache`).
trait GrantsFor {
    fn grants(&self) -> Grants;
}

impl GrantsFor for Grants {
    fn grants(&self) -> Grants {
        self.clone()
    }
}

impl<F: Fn() -> Grants> GrantsFor for F {
    fn grants(&self) -> Grants {
        self()
    }
}

async fn measure(
    what: &str,
    component: &str,
    cache: &Path,
    grants: impl GrantsFor,
    source: Value,
    runs: usize,
) -> Figures {
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..HostConfig::default()
    })
    .expect("plugin host");
    let plugin: Plugin = host.load(component).await.expect("load");
    let t = Instant::now();
    let versions = plugin
        .check(&Invocation::new(grants.grants()), &source, None)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .len();
    let first = t.elapsed();
    let mut times = Vec::new();
    for _ in 0..runs {
        let inv = Invocation::new(grants.grants());
        let t = Instant::now();
        plugin
            .check(&inv, &source, None)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        times.push(t.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Figures {
        what: what.to_owned(),
        first,
        median: at(0.5),
        p90: at(0.9),
        versions,
    }
}

// ---------------------------------------------------------------- servers

/// Serves the GitHub releases page and bosh.io's release list of the host tests' fixtures.
async fn fixture_api() -> (u16, tokio::task::JoinHandle<()>) {
    let dir = root().join("engine/cli/tests/fixtures/release-feeds");
    let github = std::fs::read_to_string(dir.join("github/releases-page-1.json")).unwrap();
    let bosh = std::fs::read_to_string(dir.join("bosh-io/releases-routing-release.json")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let github = Arc::new(github.replace("{{api}}", &format!("http://127.0.0.1:{port}")));
    let bosh = Arc::new(bosh);
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (github, bosh) = (github.clone(), bosh.clone());
            tokio::spawn(async move {
                let head = read_head(&mut s).await;
                let target = head.split(' ').nth(1).unwrap_or_default();
                let (status, body) = if target.starts_with("/repos/") {
                    (200, github.as_str())
                } else if target.starts_with("/api/v1/releases/") {
                    (200, bosh.as_str())
                } else {
                    (404, "{\"message\": \"Not Found\"}")
                };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, task)
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// One plain HTTP/1.1 request to 127.0.0.1:`port`; status, headers and body.
async fn raw(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A child process killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_listening(port: u16, what: &str) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// moto with bucket `releases` holding `count` objects `apps/app-1.<i>.0.tgz`.
async fn moto(count: usize) -> (Server, u16) {
    let out = Command::new("bash")
        .arg(root().join("tests/servers/moto.sh"))
        .output()
        .expect("tests/servers/moto.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let port = free_port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server");
    let server = Server(child);
    wait_listening(port, "moto").await;
    assert_eq!(raw(port, "PUT", "/releases", &[], b"").await.0, 200);
    for i in 0..count {
        let key = format!("/releases/apps/app-1.{i}.0.tgz");
        assert_eq!(raw(port, "PUT", &key, &[], b"release").await.0, 200);
    }
    (server, port)
}

/// Debian's docker-registry with `count` tags `1.<i>.0` of one small image in `team/app`.
async fn registry(count: usize, dir: &Path) -> (Server, u16) {
    let binary = PathBuf::from("/usr/bin/docker-registry");
    if !binary.is_file() {
        let status = Command::new("bash")
            .arg(root().join("tests/servers/install.sh"))
            .status()
            .expect("tests/servers/install.sh");
        assert!(status.success() && binary.is_file(), "no docker-registry");
    }
    let port = free_port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("storage").display()
        ),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry");
    let server = Server(child);
    wait_listening(port, "docker-registry").await;
    let blob = |bytes: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    let config_blob =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = b"a layer of the benchmark image";
    for content in [&config_blob[..], &layer[..]] {
        let (status, answer) = raw(port, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
        assert_eq!(status, 202, "{answer}");
        let location = answer
            .lines()
            .find_map(|l| {
                l.strip_prefix("Location: ")
                    .or_else(|| l.strip_prefix("location: "))
            })
            .expect("an upload location")
            .trim()
            .to_owned();
        let path = location
            .split_once("://")
            .map_or(location.as_str(), |(_, rest)| {
                &rest[rest.find('/').unwrap()..]
            })
            .to_owned();
        let sep = if path.contains('?') { '&' } else { '?' };
        let target = format!("{path}{sep}digest={}", blob(content));
        let (status, answer) = raw(port, "PUT", &target, &[], content).await;
        assert_eq!(status, 201, "{answer}");
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config_blob), "size": config_blob.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(layer), "size": layer.len()}]
    })
    .to_string();
    for i in 0..count {
        let (status, answer) = raw(
            port,
            "PUT",
            &format!("/v2/team/app/manifests/1.{i}.0"),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            manifest.as_bytes(),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    }
    (server, port)
}

/// `git` against git's own `git http-backend` (plain and behind TLS) on a repository of
/// `COMMITS` commits: a check into an empty `/cache` (the whole history fetched and indexed)
/// and a check with the cache (nothing new: one `ls-refs`); the same repository read locally
/// as the baseline.
async fn git_checks(cache: &Path, runs: usize) -> Vec<Figures> {
    const COMMITS: usize = 200;
    let mut out = Vec::new();
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate bench CA");
    let ca_file = ca.write_pem(certs.path(), "ca.pem");
    for tls in [false, true] {
        let server = GitServer::start(Options {
            tls: tls.then(|| ca.server_config(&["127.0.0.1"])),
            ..Options::default()
        })
        .await;
        server.create_bare("config");
        let mut work = server.work("config");
        for i in 0..COMMITS {
            work.write(
                &format!("manifests/app-{}.yml", i % 20),
                format!("name: app-{}\ninstances: {i}\n", i % 20),
            );
            work.commit(&format!("change {i}"));
        }
        work.push();
        let scheme = if tls { "HTTPS, test CA" } else { "HTTP" };
        let granted = {
            let g = grant("127.0.0.1", server.port());
            if tls { g.ca_certificate(&ca_file) } else { g }
        };
        let source = json!({"uri": server.url("config")});
        // Each check's cache: a new directory under one removed at the end.
        let caches = tempfile::tempdir().unwrap();
        let empty = {
            let (granted, root) = (granted.clone(), caches.path().to_path_buf());
            move || {
                let dir = tempfile::tempdir_in(&root).unwrap().keep();
                granted.clone().cache(dir)
            }
        };
        out.push(
            measure(
                &format!("git ({scheme}, {COMMITS} commits, empty /cache: full fetch)"),
                artifacts::GIT,
                cache,
                empty,
                source.clone(),
                runs,
            )
            .await,
        );
        let kept = tempfile::tempdir().unwrap();
        out.push(
            measure(
                &format!("git ({scheme}, with the cache: nothing new)"),
                artifacts::GIT,
                cache,
                granted.clone().cache(kept.path()),
                source,
                runs,
            )
            .await,
        );
        if !tls {
            // Baselines: git itself against the same server.
            let url = server.url("config");
            let clones = tempfile::tempdir().unwrap();
            let mut n = 0;
            out.push(native(
                "git CLI: `git clone --bare` of the same repository (baseline)",
                runs,
                || {
                    n += 1;
                    let dest = clones.path().join(n.to_string());
                    vec![
                        "clone".into(),
                        "-q".into(),
                        "--bare".into(),
                        url.clone(),
                        dest.display().to_string(),
                    ]
                },
            ));
            out.push(native(
                "git CLI: `git ls-remote` of its branch (baseline)",
                runs,
                || vec!["ls-remote".into(), url.clone(), "refs/heads/main".into()],
            ));
            out.push(
                measure(
                    &format!("git (the same {COMMITS} commits, local repository)"),
                    artifacts::GIT,
                    cache,
                    Grants::none().dir("repo", server.repo_path("config"), false),
                    json!({"repo": "/dirs/repo"}),
                    runs,
                )
                .await,
            );
        }
    }
    out
}

/// Times `git ARGS` (the arguments made afresh for each run) like [`measure`] times checks.
fn native(what: &str, runs: usize, mut args: impl FnMut() -> Vec<String>) -> Figures {
    let mut run = || {
        let args = args();
        let t = Instant::now();
        let out = Command::new("git")
            .args(&args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        t.elapsed()
    };
    let first = run();
    let mut times: Vec<Duration> = (0..runs).map(|_| run()).collect();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Figures {
        what: what.to_owned(),
        first,
        median: at(0.5),
        p90: at(0.9),
        versions: 0,
    }
}

fn grant(host: &str, port: u16) -> Grants {
    Grants::none().network(format!("{host}:{port}").parse().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let runs = if benching { RUNS } else { 1 };
    let cache = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();

    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("counter"), "7").unwrap();
    figures.push(
        measure(
            "counter (local file, baseline)",
            artifacts::COUNTER,
            cache.path(),
            Grants::none().dir("state", state.path(), false),
            json!({"path": "/dirs/state/counter"}),
            runs,
        )
        .await,
    );

    let (api, _api_task) = fixture_api().await;
    let github =
        |base: &str| json!({"owner": "lockgate-test", "repository": "cli", "api_url": base});
    figures.push(
        measure(
            "github-release (HTTP, 1 page of releases)",
            artifacts::GITHUB_RELEASE,
            cache.path(),
            grant("127.0.0.1", api),
            github(&format!("http://127.0.0.1:{api}")),
            runs,
        )
        .await,
    );
    if benching {
        let certs = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Lockgate bench CA");
        let ca_file = ca.write_pem(certs.path(), "ca.pem");
        let front = HttpsServer::start(
            ca.server_config(&["localhost"]),
            Behaviour::Forward(format!("127.0.0.1:{api}").parse().unwrap()),
        )
        .await;
        figures.push(
            measure(
                "github-release (HTTPS, test CA)",
                artifacts::GITHUB_RELEASE,
                cache.path(),
                grant("localhost", front.port()).ca_certificate(&ca_file),
                github(&front.url("localhost", "")),
                runs,
            )
            .await,
        );
        figures.push(
            measure(
                "bosh-io-release (HTTP)",
                artifacts::BOSH_IO_RELEASE,
                cache.path(),
                grant("127.0.0.1", api),
                json!({"repository": "cloudfoundry/routing-release", "api_url": format!("http://127.0.0.1:{api}")}),
                runs,
            )
            .await,
        );
        let (_moto, moto_port) = moto(50).await;
        figures.push(
            measure(
                "s3 (moto, regexp over 50 keys)",
                artifacts::S3,
                cache.path(),
                grant("127.0.0.1", moto_port),
                json!({
                    "bucket": "releases", "regexp": r"apps/app-(.*)\.tgz",
                    "endpoint": format!("http://127.0.0.1:{moto_port}"),
                    "access_key_id": "AKIDBENCH", "secret_access_key": "bench"
                }),
                runs,
            )
            .await,
        );
        let storage = tempfile::tempdir().unwrap();
        let (_registry, registry_port) = registry(20, storage.path()).await;
        let repository = format!("127.0.0.1:{registry_port}/team/app");
        figures.push(
            measure(
                "registry-image (one tag's digest)",
                artifacts::REGISTRY_IMAGE,
                cache.path(),
                grant("127.0.0.1", registry_port),
                json!({"repository": repository, "insecure": true, "tag": "1.0.0"}),
                runs,
            )
            .await,
        );
        figures.push(
            measure(
                "registry-image (semver over 20 tags)",
                artifacts::REGISTRY_IMAGE,
                cache.path(),
                grant("127.0.0.1", registry_port),
                json!({"repository": repository, "insecure": true, "semver_constraint": ">=1.0.0"}),
                runs,
            )
            .await,
        );
    }

    if benching {
        figures.extend(git_checks(cache.path(), runs).await);
    }

    println!("| check of | versions | first | median of {runs} | p90 |");
    println!("|---|---|---|---|---|");
    for f in &figures {
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            f.what,
            f.versions,
            f.first.as_secs_f64() * 1e3,
            f.median.as_secs_f64() * 1e3,
            f.p90.as_secs_f64() * 1e3
        );
    }
}
