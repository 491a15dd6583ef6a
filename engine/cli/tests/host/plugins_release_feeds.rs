//! The release-feed resource types (`github-release`, `bosh-io-release`, `bosh-io-stemcell`)
//! through the real host, over HTTPS: a test CA, an "API" host (`localhost`) serving the
//! GitHub REST API's and bosh.io's answers from the fixtures in
//! `tests/fixtures/release-feeds/` (their real shapes, trimmed), and a "download" host
//! (`127.0.0.1`, another origin) serving the files of `blobs.tsv`, honouring `Range` (except
//! under `/plain/`), as GitHub's and bosh.io's storage do. Each host is a tiny HTTP/1.1
//! server on 127.0.0.1 behind a TLS front.
//!
//! Covered: pagination over three pages (`Link: …; rel="next"`), drafts and prereleases,
//! `tag_filter`, `from`; asset downloads through the asset API's redirect to the download
//! host, in ranges, the token kept to the API, size and digest verified; a wrong digest or
//! sha (the error names the file and both sums, nothing is left); an exhausted rate limit
//! (the error says when it resets) and a short `retry-after` (waited for); an asset larger
//! than the disk limit; a server that never answers (the deadline stops it); bosh.io
//! releases and stemcells (light/regular, sha1-only entries, a host that ignores `Range`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{load, plugin_failure};
use lockgate::plugin_host::{
    Fetched, Grants, Invocation, InvokeError, Limits, MemorySink, NetworkGrant, Plugin,
    PluginFailure, Version,
};
use lockgate_test_artifacts as artifacts;
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const OWNER: &str = "lockgate-test";
const REPO: &str = "cli";
const TOKEN: &str = "test-token-0123";
const AWS: &str = "bosh-aws-xen-hvm-ubuntu-jammy-go_agent";
const VSPHERE: &str = "bosh-vsphere-esxi-ubuntu-jammy-go_agent";
const ROUTING: &str = "github.com/cloudfoundry/routing-release";

// ---------------------------------------------------------------- HTTP server

/// A request as a test server received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What a test server does with a request.
enum Reply {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answers; keeps the connection open.
    Silent,
}

impl Reply {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Answer { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// A JSON answer with the headers GitHub's API sends.
    fn github(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::new(status, body)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("X-GitHub-Api-Version-Selected", "2022-11-28")
            .header("X-RateLimit-Limit", "5000")
            .header("X-RateLimit-Remaining", "4987")
            .header("X-RateLimit-Reset", "1800000000")
            .header("X-RateLimit-Resource", "core")
    }

    fn redirect(location: &str) -> Self {
        Reply::new(302, "").header("Location", location)
    }
}

type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A plain HTTP/1.1 server on 127.0.0.1: one request per connection, answered by its
/// handler; every request is kept.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, seen) = (handler.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, handler, seen).await;
                });
            }
        });
        Self {
            port,
            requests,
            task,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Handler,
    seen: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&data).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let request = Received {
        method,
        target,
        headers,
    };
    seen.lock().unwrap().push(request.clone());
    match handler(&request) {
        Reply::Silent => {
            std::future::pending::<()>().await;
            Ok(())
        }
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.shutdown().await
        }
    }
}

/// A host: a [`Server`] behind a TLS front, reached as `https://<name>:<port>`.
struct Site {
    server: Server,
    tls: HttpsServer,
    name: &'static str,
}

impl Site {
    async fn start(ca: &TestCa, name: &'static str, handler: Handler) -> Self {
        let server = Server::start(handler).await;
        let tls = HttpsServer::start(
            ca.server_config(&["localhost", "127.0.0.1"]),
            Behaviour::Forward(format!("127.0.0.1:{}", server.port).parse().unwrap()),
        )
        .await;
        Self { server, tls, name }
    }

    fn url(&self, path: &str) -> String {
        self.tls.url(self.name, path)
    }

    fn grant(&self) -> NetworkGrant {
        format!("{}:{}", self.name, self.tls.port())
            .parse()
            .unwrap()
    }

    fn requests(&self) -> Vec<Received> {
        self.server.requests.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.server.requests.lock().unwrap().clear();
    }
}

// ---------------------------------------------------------------- fixtures and files

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-feeds")
}

/// A fixture with `{{api}}` and `{{downloads}}` replaced.
fn fixture(name: &str, api: &str, downloads: &str) -> String {
    std::fs::read_to_string(fixtures().join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
        .replace("{{api}}", api)
        .replace("{{downloads}}", downloads)
}

/// The files the download host serves: path → (label, size); each is its label repeated.
fn blobs() -> HashMap<String, (String, usize)> {
    std::fs::read_to_string(fixtures().join("blobs.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut parts = l.split('\t');
            let path = parts.next().unwrap().to_string();
            let label = parts.next().unwrap().to_string();
            let size = parts.next().unwrap().parse().unwrap();
            (path, (label, size))
        })
        .collect()
}

fn content(label: &str, size: usize) -> Vec<u8> {
    let mut bytes = label.as_bytes().repeat(size / label.len() + 1);
    bytes.truncate(size);
    bytes
}

/// The content of the file served at `path`.
fn blob(path: &str) -> Vec<u8> {
    let (label, size) = blobs()
        .remove(path)
        .unwrap_or_else(|| panic!("no blob {path}"));
    content(&label, size)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The download host: the files of `blobs.tsv`, in ranges unless under `/plain/`.
fn download_handler() -> Handler {
    let blobs = blobs();
    Arc::new(move |r: &Received| {
        let Some((label, size)) = blobs.get(r.path()) else {
            return Reply::new(404, "<Error><Code>NoSuchKey</Code></Error>");
        };
        let data = content(label, *size);
        let range = r
            .header("range")
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
        match range {
            Some((from, to)) if !r.path().starts_with("/plain/") => {
                if from >= data.len() {
                    return Reply::new(416, "")
                        .header("Content-Range", &format!("bytes */{}", data.len()));
                }
                let to = to.min(data.len() - 1);
                Reply::new(206, data[from..=to].to_vec())
                    .header("Content-Type", "application/octet-stream")
                    .header(
                        "Content-Range",
                        &format!("bytes {from}-{to}/{}", data.len()),
                    )
            }
            _ => Reply::new(200, data).header("Content-Type", "application/octet-stream"),
        }
    })
}

/// GitHub's REST API for `lockgate-test/cli` and bosh.io's API, from the fixtures.
fn api_handler(api: String, downloads: String) -> Handler {
    let pages: Vec<String> = (1..=3)
        .map(|n| fixture(&format!("github/releases-page-{n}.json"), &api, &downloads))
        .collect();
    let releases: Vec<Value> = pages
        .iter()
        .flat_map(|p| serde_json::from_str::<Vec<Value>>(p).unwrap())
        .collect();
    let not_found = fixture("github/not-found.json", &api, &downloads);
    let page_target = |n: u32| format!("/repositories/4242/releases?per_page=100&page={n}");
    let page_url = |n: u32| format!("{api}{}", page_target(n));
    let page_targets = [page_target(2), page_target(3)];
    let links = [
        format!(
            r#"<{}>; rel="next", <{}>; rel="last""#,
            page_url(2),
            page_url(3)
        ),
        format!(
            r#"<{}>; rel="prev", <{}>; rel="next", <{}>; rel="last", <{}>; rel="first""#,
            page_url(1),
            page_url(3),
            page_url(3),
            page_url(1)
        ),
        format!(
            r#"<{}>; rel="prev", <{}>; rel="first""#,
            page_url(2),
            page_url(1)
        ),
    ];
    let repo = format!("/repos/{OWNER}/{REPO}");
    let files: HashMap<String, String> = [
        ("/git/ref/tags/v2.0.0", "github/git-ref-tags-v2.0.0.json"),
        (
            "/git/tags/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "github/git-tags-4b825dc642cb6eb9a060e54bf8d69288fbee4904.json",
        ),
    ]
    .into_iter()
    .map(|(path, file)| (format!("{repo}{path}"), fixture(file, &api, &downloads)))
    .chain([
        (
            format!("/api/v1/releases/{ROUTING}"),
            fixture("bosh-io/releases-routing-release.json", &api, &downloads),
        ),
        (
            format!("/api/v1/stemcells/{AWS}"),
            fixture(&format!("bosh-io/stemcells-{AWS}.json"), &api, &downloads),
        ),
        (
            format!("/api/v1/stemcells/{VSPHERE}"),
            fixture(
                &format!("bosh-io/stemcells-{VSPHERE}.json"),
                &api,
                &downloads,
            ),
        ),
    ])
    .collect();
    Arc::new(move |r: &Received| {
        let target = r.target.as_str();
        let path = r.path();
        if target == format!("{repo}/releases?per_page=100") {
            return Reply::github(200, pages[0].clone()).header("Link", &links[0]);
        }
        if let Some(i) = page_targets.iter().position(|t| t == target) {
            return Reply::github(200, pages[i + 1].clone()).header("Link", &links[i + 1]);
        }
        if let Some(body) = files.get(path) {
            return if path.starts_with("/api/") {
                Reply::new(200, body.clone()).header("Content-Type", "application/json")
            } else {
                Reply::github(200, body.clone())
            };
        }
        if let Some(rest) = path.strip_prefix("/d/github.com/cloudfoundry/routing-release") {
            assert!(rest.is_empty(), "{target}");
            let v = target.split("v=").nth(1).unwrap_or_default();
            return Reply::redirect(&format!(
                "{downloads}/bosh-hub-release-tarballs/routing-release-{v}.tgz"
            ));
        }
        if let Some(id) = path.strip_prefix(&format!("{repo}/releases/assets/")) {
            let asset = releases
                .iter()
                .flat_map(|r| r["assets"].as_array().unwrap())
                .find(|a| id_is(&a["id"], id));
            return match asset {
                None => Reply::github(404, not_found.clone()),
                Some(_) if r.header("accept") == Some("application/octet-stream") => {
                    Reply::redirect(&format!(
                        "{downloads}/github-production-release-asset/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300&X-Amz-Signature=5e1f&response-content-disposition=attachment"
                    ))
                }
                Some(a) => Reply::github(200, a.to_string()),
            };
        }
        if let Some(tag) = path.strip_prefix(&format!("{repo}/releases/tags/")) {
            return match releases
                .iter()
                .find(|r| r["tag_name"] == tag && r["draft"] == false)
            {
                Some(release) => Reply::github(200, release.to_string()),
                None => Reply::github(404, not_found.clone()),
            };
        }
        if let Some(id) = path.strip_prefix(&format!("{repo}/releases/")) {
            return match releases.iter().find(|r| id_is(&r["id"], id)) {
                Some(release) => Reply::github(200, release.to_string()),
                None => Reply::github(404, not_found.clone()),
            };
        }
        Reply::github(404, not_found.clone())
    })
}

/// Whether the JSON number `value` is the id written `id`.
fn id_is(value: &Value, id: &str) -> bool {
    id.parse::<u64>().is_ok_and(|n| value.as_u64() == Some(n))
}

/// The two hosts and the CA the plugins trust.
struct Feeds {
    api: Site,
    downloads: Site,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Feeds {
    /// The standard hosts.
    async fn start() -> Self {
        Self::start_with(|api, downloads| api_handler(api.to_string(), downloads.to_string())).await
    }

    /// The download host and an API host answering with `api(api_url, downloads_url)`.
    async fn start_with(api: impl FnOnce(&str, &str) -> Handler) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Lockgate release-feed test CA");
        let ca_file = ca.write_pem(dir.path(), "ca.pem");
        let downloads = Site::start(&ca, "127.0.0.1", download_handler()).await;
        // The API's URL is known once its TLS front listens: start the front on a server
        // whose handler is filled in then.
        let slot: Arc<Mutex<Option<Handler>>> = Arc::new(Mutex::new(None));
        let late = slot.clone();
        let site = Site::start(
            &ca,
            "localhost",
            Arc::new(move |r: &Received| {
                let handler = late.lock().unwrap().clone().expect("handler set");
                handler(r)
            }),
        )
        .await;
        let handler = api(&site.url(""), &downloads.url(""));
        *slot.lock().unwrap() = Some(handler);
        Self {
            api: site,
            downloads,
            ca_file,
            _dir: dir,
        }
    }

    fn grants(&self) -> Grants {
        Grants::none()
            .network(self.api.grant())
            .network(self.downloads.grant())
            .ca_certificate(&self.ca_file)
    }

    fn api_url(&self) -> String {
        self.api.url("")
    }
}

// ---------------------------------------------------------------- invocations

fn github_source(feeds: &Feeds, extra: Value) -> Value {
    let mut source = json!({
        "owner": OWNER,
        "repository": REPO,
        "api_url": feeds.api_url(),
        "access_token": TOKEN,
    });
    source
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    source
}

async fn check(
    plugin: &Plugin,
    feeds: &Feeds,
    source: &Value,
    from: Option<Version>,
) -> Result<Vec<Version>, InvokeError> {
    let inv = Invocation::new(feeds.grants());
    plugin.check(&inv, source, from.as_ref()).await
}

/// The values of `field` of each version.
fn field(versions: &[Version], field: &str) -> Vec<String> {
    versions
        .iter()
        .map(|v| v.get(field).unwrap_or_default().to_string())
        .collect()
}

async fn get(
    plugin: &Plugin,
    feeds: &Feeds,
    out: &Path,
    source: &Value,
    version: &Version,
    params: Value,
) -> Result<Fetched, InvokeError> {
    let sink = MemorySink::new();
    let inv = Invocation::new(feeds.grants().output(out)).log(Arc::new(sink.clone()));
    let result = plugin.get(&inv, source, version, &params).await;
    if let Err(e) = &result {
        eprintln!("get failed: {e}\n{}", sink.text());
    }
    result
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn meta<'a>(fetched: &'a Fetched, name: &str) -> Option<&'a str> {
    fetched
        .metadata
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn failed(e: InvokeError) -> String {
    match plugin_failure(e) {
        PluginFailure::Failed(m) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn release(tag: &str, id: u64) -> Version {
    Version::new().with("tag", tag).with("id", id)
}

// ---------------------------------------------------------------- github-release

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_release_check_pages_drafts_prereleases_filters_and_from() {
    let feeds = Feeds::start().await;
    let plugin = load(artifacts::GITHUB_RELEASE).await;
    assert_eq!(plugin.description().name, "github-release");
    let source = github_source(&feeds, json!({}));

    // Newest final release over three pages; the draft v2.2.0 and the prerelease
    // v2.1.0-rc.1 (on page 1) are not it.
    let versions = check(&plugin, &feeds, &source, None).await.unwrap();
    assert_eq!(versions, [release("v2.0.0", 1007)]);
    let requests = feeds.api.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| r.target.as_str())
            .collect::<Vec<_>>(),
        [
            "/repos/lockgate-test/cli/releases?per_page=100",
            "/repositories/4242/releases?per_page=100&page=2",
            "/repositories/4242/releases?per_page=100&page=3",
        ]
    );
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert_eq!(r.header("authorization"), Some("Bearer test-token-0123"));
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("lockgate-github-release/")),
            "{r:?}"
        );
    }

    // From a version: it and every newer one, in semver order (1.10.0 after 1.9.0);
    // `nightly-20261001` is no version.
    let versions = check(&plugin, &feeds, &source, Some(release("v1.2.0", 1003)))
        .await
        .unwrap();
    assert_eq!(
        field(&versions, "tag"),
        ["v1.2.0", "v1.9.0", "v1.10.0", "v2.0.0"]
    );
    // A version that is gone: the newest.
    let versions = check(&plugin, &feeds, &source, Some(release("v0.1.0", 999)))
        .await
        .unwrap();
    assert_eq!(versions, [release("v2.0.0", 1007)]);

    // Prereleases opt-in.
    let pre = github_source(&feeds, json!({"pre_release": true}));
    let versions = check(&plugin, &feeds, &pre, None).await.unwrap();
    assert_eq!(versions, [release("v2.1.0-rc.1", 1009)]);
    let versions = check(&plugin, &feeds, &pre, Some(release("v0.9.0-beta.1", 1001)))
        .await
        .unwrap();
    assert_eq!(
        field(&versions, "tag"),
        [
            "v0.9.0-beta.1",
            "1.0.0",
            "v1.2.0",
            "v1.9.0",
            "v1.10.0",
            "v2.0.0",
            "v2.1.0-rc.1"
        ]
    );
    assert_eq!(
        field(&versions, "id"),
        ["1001", "1002", "1003", "1004", "1006", "1007", "1009"]
    );

    // A tag filter: only 1.x tags with a `v`.
    let filtered = github_source(&feeds, json!({"tag_filter": "v(1\\..*)"}));
    let versions = check(&plugin, &feeds, &filtered, Some(release("v1.2.0", 1003)))
        .await
        .unwrap();
    assert_eq!(field(&versions, "tag"), ["v1.2.0", "v1.9.0", "v1.10.0"]);

    // Without a token, none is sent.
    feeds.api.clear();
    let mut anonymous = source.clone();
    anonymous.as_object_mut().unwrap().remove("access_token");
    check(&plugin, &feeds, &anonymous, None).await.unwrap();
    assert!(
        feeds
            .api
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
    assert!(feeds.downloads.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_release_get_downloads_assets_through_a_redirect_verified() {
    let feeds = Feeds::start().await;
    let plugin = load(artifacts::GITHUB_RELEASE).await;
    let source = github_source(&feeds, json!({}));
    let out = tempfile::tempdir().unwrap();
    let version = release("v2.0.0", 1007);
    let started = Instant::now();
    let fetched = get(&plugin, &feeds, out.path(), &source, &version, json!({}))
        .await
        .unwrap();
    eprintln!(
        "get of 40 MiB and two small assets took {:?}",
        started.elapsed()
    );
    assert_eq!(fetched.version, version);
    assert_eq!(
        files(out.path()),
        [
            "body",
            "checksums.txt",
            "cli-darwin-arm64.tar.gz",
            "cli-linux-amd64.tar.gz",
            "commit_sha",
            "tag",
            "version"
        ]
    );
    let linux = blob("/github-production-release-asset/3001");
    assert_eq!(linux.len(), 40 * 1024 * 1024 + 123);
    assert!(std::fs::read(out.path().join("cli-linux-amd64.tar.gz")).unwrap() == linux);
    assert_eq!(
        std::fs::read(out.path().join("cli-darwin-arm64.tar.gz")).unwrap(),
        blob("/github-production-release-asset/3002")
    );
    assert_eq!(
        std::fs::read(out.path().join("checksums.txt")).unwrap(),
        blob("/github-production-release-asset/3003")
    );
    assert_eq!(read(out.path(), "tag"), "v2.0.0");
    assert_eq!(read(out.path(), "version"), "2.0.0");
    assert!(read(out.path(), "body").starts_with("## What's Changed\n"));
    // Through the annotated tag object to its commit.
    assert_eq!(
        read(out.path(), "commit_sha"),
        "9fceb02d0ae598e95dc970b74767f19372d61af8"
    );
    assert_eq!(meta(&fetched, "name"), Some("2.0.0"));
    assert_eq!(
        meta(&fetched, "url"),
        Some("https://github.com/lockgate-test/cli/releases/tag/v2.0.0")
    );
    assert_eq!(meta(&fetched, "published_at"), Some("2026-11-30T10:00:00Z"));
    assert_eq!(meta(&fetched, "prerelease"), Some("false"));
    assert_eq!(
        meta(&fetched, "asset"),
        Some(
            format!(
                "cli-linux-amd64.tar.gz (41943163 bytes, sha256:{})",
                sha256(&linux)
            )
            .as_str()
        )
    );

    // The asset API with the token, then the download host, in ranges, without it.
    let api: Vec<Received> = feeds
        .api
        .requests()
        .into_iter()
        .filter(|r| r.target.contains("/releases/assets/"))
        .collect();
    assert_eq!(
        api.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
        [
            "/repos/lockgate-test/cli/releases/assets/3001",
            "/repos/lockgate-test/cli/releases/assets/3002",
            "/repos/lockgate-test/cli/releases/assets/3003",
        ]
    );
    for r in &api {
        assert_eq!(r.header("accept"), Some("application/octet-stream"));
        assert_eq!(r.header("authorization"), Some("Bearer test-token-0123"));
    }
    let downloads = feeds.downloads.requests();
    assert!(
        downloads
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "the token never leaves the API: {downloads:?}"
    );
    let linux_ranges: Vec<&str> = downloads
        .iter()
        .filter(|r| r.path() == "/github-production-release-asset/3001")
        .map(|r| r.header("range").unwrap())
        .collect();
    assert_eq!(
        linux_ranges,
        ["bytes=0-33554431", "bytes=33554432-41943162"]
    );

    // Globs select assets.
    let out = tempfile::tempdir().unwrap();
    get(
        &plugin,
        &feeds,
        out.path(),
        &source,
        &version,
        json!({"globs": ["*darwin*"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        files(out.path()),
        [
            "body",
            "cli-darwin-arm64.tar.gz",
            "commit_sha",
            "tag",
            "version"
        ]
    );
    // The download host not granted: refused, the message names it; nothing is left.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .network(feeds.api.grant())
            .ca_certificate(&feeds.ca_file)
            .output(out.path()),
    );
    let e = plugin
        .get(&inv, &source, &version, &json!({"globs": ["*darwin*"]}))
        .await
        .unwrap_err();
    let message = failed(e);
    let refused = feeds.downloads.grant().to_string();
    assert!(
        message.contains(&format!(
            "(reached by a redirect from {}/repos/lockgate-test/cli/releases/assets/3002): the sandbox refused the connection to {refused}"
        , feeds.api_url())) && message.contains(&format!("grant `{refused}` in `grants.network`")),
        "{message}"
    );
    assert!(files(out.path()).is_empty(), "{:?}", files(out.path()));

    // A release that is gone.
    let out = tempfile::tempdir().unwrap();
    let e = get(
        &plugin,
        &feeds,
        out.path(),
        &source,
        &release("v0.0.1", 4),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("no longer exists in lockgate-test/cli"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_digest_fails_naming_the_file_and_both_sums_and_leaves_nothing() {
    let feeds = Feeds::start().await;
    let github = load(artifacts::GITHUB_RELEASE).await;
    let out = tempfile::tempdir().unwrap();
    // v1.10.0's asset digest in the API is not that of the file served.
    let e = get(
        &github,
        &feeds,
        out.path(),
        &github_source(&feeds, json!({})),
        &release("v1.10.0", 1006),
        json!({}),
    )
    .await
    .unwrap_err();
    let message = failed(e);
    let served = blob("/github-production-release-asset/3005");
    let announced = sha256(&content("cli 1.10.0 linux-amd64 ", 5999));
    // The signed download URL's query (credentials) is not shown.
    assert_eq!(
        message,
        format!(
            "cli-linux-amd64.tar.gz: sha256 mismatch: the GitHub API says {announced}, the 6000 bytes downloaded from {}/github-production-release-asset/3005 have {}; the file was not kept",
            feeds.downloads.url(""),
            sha256(&served)
        )
    );
    assert!(files(out.path()).is_empty(), "{:?}", files(out.path()));

    // bosh.io: 0.298.0's sha256 is wrong (its sha1 is right: sha256 is the one checked).
    let bosh = load(artifacts::BOSH_IO_RELEASE).await;
    let source = json!({"repository": ROUTING, "api_url": feeds.api_url()});
    let e = get(
        &bosh,
        &feeds,
        out.path(),
        &source,
        &Version::new().with("version", "0.298.0"),
        json!({}),
    )
    .await
    .unwrap_err();
    let message = failed(e);
    let served = blob("/bosh-hub-release-tarballs/routing-release-0.298.0.tgz");
    assert_eq!(
        message,
        format!(
            "release.tgz: sha256 mismatch: bosh.io says {}, the 40000 bytes downloaded from {}/bosh-hub-release-tarballs/routing-release-0.298.0.tgz have {}; the file was not kept",
            sha256(&content("routing-release 0.298.0 ", 40001)),
            feeds.downloads.url(""),
            sha256(&served)
        )
    );
    assert!(files(out.path()).is_empty(), "{:?}", files(out.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_rate_limits_are_honoured() {
    let reset = jiff::Timestamp::now().as_second() + 2225;
    let limited = Feeds::start_with(move |_, _| {
        let body =
            std::fs::read_to_string(fixtures().join("github/rate-limit-exceeded.json")).unwrap();
        Arc::new(move |_: &Received| {
            Reply::new(403, body.clone())
                .header("Content-Type", "application/json; charset=utf-8")
                .header("X-RateLimit-Limit", "60")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", &reset.to_string())
                .header("X-RateLimit-Resource", "core")
                .header("X-RateLimit-Used", "60")
        })
    })
    .await;
    let plugin = load(artifacts::GITHUB_RELEASE).await;
    let mut source = github_source(&limited, json!({}));
    source.as_object_mut().unwrap().remove("access_token");
    let e = check(&plugin, &limited, &source, None).await.unwrap_err();
    let message = failed(e);
    let at = jiff::Timestamp::from_second(reset).unwrap().to_string();
    assert!(
        message.starts_with(&format!(
            "GET {}/repos/lockgate-test/cli/releases?per_page=100: 403 Forbidden: the GitHub API rate limit of 60 requests an hour (resource `core`) is used up; it resets at {at} (in 37 min",
            limited.api_url()
        )),
        "{message}"
    );
    assert!(message.contains("give source.access_token"), "{message}");
    assert_eq!(
        limited.api.requests().len(),
        1,
        "no retry against a used-up limit"
    );

    // A secondary limit with a short retry-after: waited for, then asked again.
    let answered = Arc::new(Mutex::new(0u32));
    let count = answered.clone();
    let slowed = Feeds::start_with(move |api, downloads| {
        let normal = api_handler(api.to_string(), downloads.to_string());
        Arc::new(move |r: &Received| {
            let mut n = count.lock().unwrap();
            *n += 1;
            if *n == 1 {
                Reply::new(
                    403,
                    r#"{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
                )
                .header("Retry-After", "1")
            } else {
                normal(r)
            }
        })
    })
    .await;
    let started = Instant::now();
    let versions = check(&plugin, &slowed, &github_source(&slowed, json!({})), None)
        .await
        .unwrap();
    assert_eq!(versions, [release("v2.0.0", 1007)]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        *answered.lock().unwrap(),
        4,
        "the first page twice, then two more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_larger_than_the_disk_limit_is_stopped() {
    let feeds = Feeds::start().await;
    let plugin = load(artifacts::GITHUB_RELEASE).await;
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(feeds.grants().output(out.path())).limits(Limits {
        disk_bytes: 1024 * 1024,
        ..Limits::default()
    });
    // v1.9.0's asset is 3 MiB.
    let e = plugin
        .get(
            &inv,
            &github_source(&feeds, json!({})),
            &release("v1.9.0", 1004),
            &json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, InvokeError::DiskLimit { limit, .. } if limit == "1MiB written"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("went past its disk limit of 1MiB written"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_stopped_by_the_deadline() {
    let silent = Feeds::start_with(|_, _| Arc::new(|_: &Received| Reply::Silent)).await;
    let limits = Limits::default().with_deadline(Duration::from_secs(2));
    let cases = [
        (
            load(artifacts::GITHUB_RELEASE).await,
            github_source(&silent, json!({})),
        ),
        (
            load(artifacts::BOSH_IO_RELEASE).await,
            json!({"repository": ROUTING, "api_url": silent.api_url()}),
        ),
        (
            load(artifacts::BOSH_IO_STEMCELL).await,
            json!({"name": AWS, "api_url": silent.api_url()}),
        ),
    ];
    for (plugin, source) in cases {
        let inv = Invocation::new(silent.grants()).limits(limits);
        let started = Instant::now();
        let e = plugin.check(&inv, &source, None).await.unwrap_err();
        let took = started.elapsed();
        let name = &plugin.description().name;
        eprintln!("{name}: stopped after {took:?}: {e}");
        // The engine stops the invocation at its deadline, or the host's wasi:http timeout
        // (bounded by that deadline) fails the request just before: either way, by then.
        match &e {
            InvokeError::Deadline { .. } => {}
            InvokeError::Plugin {
                failure: PluginFailure::Failed(m),
                ..
            } => assert!(
                m.contains("did not answer in time") || m.contains("timeout"),
                "{name}: {m}"
            ),
            other => panic!("{name}: {other}"),
        }
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
            "{name}: took {took:?}: {e}"
        );
    }
}

// ---------------------------------------------------------------- bosh.io

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bosh_io_release_check_and_get() {
    let feeds = Feeds::start().await;
    let plugin = load(artifacts::BOSH_IO_RELEASE).await;
    assert_eq!(plugin.description().name, "bosh-io-release");
    // `cloudfoundry/routing-release` means github.com/cloudfoundry/routing-release.
    let source = json!({"repository": "cloudfoundry/routing-release", "api_url": feeds.api_url()});
    let v = |s: &str| Version::new().with("version", s);

    let versions = check(&plugin, &feeds, &source, None).await.unwrap();
    assert_eq!(versions, [v("0.300.0")]);
    assert_eq!(
        feeds.api.requests()[0].target,
        "/api/v1/releases/github.com/cloudfoundry/routing-release"
    );
    // Numeric order: 0.99.1 < 0.283.0.
    let versions = check(&plugin, &feeds, &source, Some(v("0.99.1")))
        .await
        .unwrap();
    assert_eq!(
        field(&versions, "version"),
        ["0.99.1", "0.283.0", "0.298.0", "0.299.0", "0.300.0"]
    );
    let family =
        json!({"repository": ROUTING, "api_url": feeds.api_url(), "version_family": "0.298"});
    assert_eq!(
        check(&plugin, &feeds, &family, None).await.unwrap(),
        [v("0.298.0")]
    );

    // sha256 given: verified; the download link redirects to the download host.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(
        &plugin,
        &feeds,
        out.path(),
        &source,
        &v("0.300.0"),
        json!({}),
    )
    .await
    .unwrap();
    let tarball = blob("/bosh-hub-release-tarballs/routing-release-0.300.0.tgz");
    assert_eq!(
        files(out.path()),
        ["release.tgz", "sha1", "sha256", "url", "version"]
    );
    assert!(std::fs::read(out.path().join("release.tgz")).unwrap() == tarball);
    assert_eq!(read(out.path(), "version"), "0.300.0");
    assert_eq!(read(out.path(), "sha256"), sha256(&tarball));
    assert_eq!(
        read(out.path(), "url"),
        feeds
            .api
            .url("/d/github.com/cloudfoundry/routing-release?v=0.300.0")
    );
    assert_eq!(meta(&fetched, "verified"), Some("sha256"));
    assert_eq!(meta(&fetched, "size"), Some("70000"));
    let download = feeds.downloads.requests().pop().unwrap();
    assert_eq!(
        (download.path(), download.header("range")),
        (
            "/bosh-hub-release-tarballs/routing-release-0.300.0.tgz",
            Some("bytes=0-33554431")
        )
    );

    // sha1 only: verified with sha1.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(
        &plugin,
        &feeds,
        out.path(),
        &source,
        &v("0.299.0"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(meta(&fetched, "verified"), Some("sha1"));
    assert_eq!(files(out.path()), ["release.tgz", "sha1", "url", "version"]);

    // Without the tarball.
    let out = tempfile::tempdir().unwrap();
    get(
        &plugin,
        &feeds,
        out.path(),
        &source,
        &v("0.283.0"),
        json!({"tarball": false}),
    )
    .await
    .unwrap();
    assert_eq!(files(out.path()), ["sha1", "url", "version"]);

    // A version bosh.io does not list.
    let e = get(&plugin, &feeds, out.path(), &source, &v("9.9.9"), json!({}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(e), PluginFailure::NotFound(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bosh_io_stemcell_light_and_regular() {
    let feeds = Feeds::start().await;
    let plugin = load(artifacts::BOSH_IO_STEMCELL).await;
    assert_eq!(plugin.description().name, "bosh-io-stemcell");
    let source = |name: &str, light: Value| {
        let mut s = json!({"name": name, "api_url": feeds.api_url()});
        if !light.is_null() {
            s["light"] = light;
        }
        s
    };
    let v = |s: &str| Version::new().with("version", s);

    // auto: the stemcell has light tarballs, so only versions whose light one is out
    // (1.404 has none yet).
    let auto = source(AWS, Value::Null);
    assert_eq!(
        check(&plugin, &feeds, &auto, None).await.unwrap(),
        [v("1.406")]
    );
    assert_eq!(
        feeds.api.requests()[0].target,
        format!("/api/v1/stemcells/{AWS}")
    );
    let versions = check(&plugin, &feeds, &auto, Some(v("1.99")))
        .await
        .unwrap();
    assert_eq!(field(&versions, "version"), ["1.99", "1.351", "1.406"]);
    let regular = source(AWS, json!(false));
    let versions = check(&plugin, &feeds, &regular, Some(v("1.351")))
        .await
        .unwrap();
    assert_eq!(field(&versions, "version"), ["1.351", "1.404", "1.406"]);
    let family = json!({"name": AWS, "api_url": feeds.api_url(), "version_family": "1.351"});
    assert_eq!(
        check(&plugin, &feeds, &family, None).await.unwrap(),
        [v("1.351")]
    );
    // A stemcell without light tarballs: auto means regular.
    let vsphere = source(VSPHERE, json!("auto"));
    let versions = check(&plugin, &feeds, &vsphere, Some(v("1.404")))
        .await
        .unwrap();
    assert_eq!(field(&versions, "version"), ["1.404", "1.406"]);

    // get: auto takes the light tarball, sha256 verified.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(&plugin, &feeds, out.path(), &auto, &v("1.406"), json!({}))
        .await
        .unwrap();
    let light = blob(
        "/bosh-aws-light-stemcells/1.406/light-bosh-stemcell-1.406-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
    );
    assert_eq!(
        files(out.path()),
        ["sha1", "sha256", "stemcell.tgz", "url", "version"]
    );
    assert!(std::fs::read(out.path().join("stemcell.tgz")).unwrap() == light);
    assert_eq!(
        (meta(&fetched, "flavour"), meta(&fetched, "verified")),
        (Some("light"), Some("sha256"))
    );
    assert_eq!(read(out.path(), "version"), "1.406");
    assert_eq!(read(out.path(), "sha256"), sha256(&light));

    // light: false takes the regular one.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(
        &plugin,
        &feeds,
        out.path(),
        &regular,
        &v("1.406"),
        json!({}),
    )
    .await
    .unwrap();
    let tarball = blob(
        "/bosh-core-stemcells/1.406/bosh-stemcell-1.406-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
    );
    assert!(std::fs::read(out.path().join("stemcell.tgz")).unwrap() == tarball);
    assert_eq!(meta(&fetched, "flavour"), Some("regular"));
    assert_eq!(meta(&fetched, "size"), Some("300000"));
    assert_eq!(
        read(out.path(), "url"),
        feeds.downloads.url(
            "/bosh-core-stemcells/1.406/bosh-stemcell-1.406-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
        )
    );

    // A sha1-only entry, from a host that ignores `Range` and sends it whole.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(
        &plugin,
        &feeds,
        out.path(),
        &source(AWS, json!(true)),
        &v("1.351"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(meta(&fetched, "verified"), Some("sha1"));
    assert_eq!(
        files(out.path()),
        ["sha1", "stemcell.tgz", "url", "version"]
    );
    assert_eq!(
        std::fs::read(out.path().join("stemcell.tgz")).unwrap(),
        blob(
            "/plain/bosh-aws-light-stemcells/1.351/light-bosh-stemcell-1.351-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
        )
    );

    // light: true for a version without a light tarball.
    let out = tempfile::tempdir().unwrap();
    let e = get(
        &plugin,
        &feeds,
        out.path(),
        &source(AWS, json!(true)),
        &v("1.404"),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("has no light stemcell")),
    );
    assert!(files(out.path()).is_empty());

    // A regular-only stemcell with auto.
    let out = tempfile::tempdir().unwrap();
    let fetched = get(
        &plugin,
        &feeds,
        out.path(),
        &vsphere,
        &v("1.404"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(meta(&fetched, "flavour"), Some("regular"));
    assert!(
        feeds
            .downloads
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}
