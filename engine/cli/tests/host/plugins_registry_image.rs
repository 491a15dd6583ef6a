//! `registry-image` (`plugins/registry-image`) through the real host, against the OCI
//! registry of Debian's `docker-registry` package (distribution 2.8), which each test starts on
//! 127.0.0.1 with a free port and its own storage (installed by `tests/servers/install.sh`
//! when missing; a missing registry fails the tests, it never skips them). The images are
//! made by the tests (layers of random bytes, a config, a manifest, an index) and pushed
//! through the registry's API.
//!
//! In front of the registry, when a test needs it: a TLS front with a test CA
//! (`lockgate-test-tls`); a small front written here that asks for tokens the way Docker
//! Hub, GHCR or Harbor do (`401` with a `Bearer` challenge, a token service checking Basic
//! credentials, scoped tokens) and that pages tag lists with `n`/`last` and `Link` headers
//! (distribution 2.8 ignores `n` and returns every tag at once). Hostile registries are
//! written here too: one that lies about a digest, one that never answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{load, plugin_failure};
use lockgate::plugin_host::{
    Grants, Invocation, InvokeError, Limits, NetworkGrant, Plugin, PluginFailure, PluginKind,
    Version,
};
use lockgate_test_artifacts as artifacts;
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The user of the registries that ask for credentials, and its password.
const USER: &str = "tester";
const PASSWORD: &str = "s3cret-pass";
/// `tester:s3cret-pass` for the registry's `htpasswd` (bcrypt, cost 5; made once with
/// `crypt(3)`, as `htpasswd -B` would).
const HTPASSWD: &str = "tester:$2y$05$abcdefghijklmnopqrstuuV7fpPozvyqJfnY19y0802WTlXUm6Rjy\n";

// ---------------------------------------------------------------- content

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `n` pseudo-random bytes (xorshift, seeded from the clock and a counter: every call
/// differs, so every image is new to the registry).
fn random_bytes(n: usize) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut x =
        nanos ^ (COUNTER.fetch_add(1, Ordering::Relaxed) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// An image made by the test: a config, layers of random bytes, an OCI manifest.
struct Image {
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    manifest: Vec<u8>,
}

impl Image {
    /// An image for `os/arch[/variant]` with layers of these sizes.
    fn new(platform: &str, layer_sizes: &[usize]) -> Self {
        let layers: Vec<Vec<u8>> = layer_sizes.iter().map(|n| random_bytes(*n)).collect();
        let parts: Vec<&str> = platform.split('/').collect();
        let mut config = json!({
            "os": parts[0],
            "architecture": parts[1],
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
            "config": {"Labels": {"made-by": "lockgate tests", "nonce": hex::encode(random_bytes(8))}},
        });
        if let Some(variant) = parts.get(2) {
            config["variant"] = json!(variant);
        }
        let config = serde_json::to_vec(&config).unwrap();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(&config), "size": config.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": OCI_LAYER, "digest": sha256(l), "size": l.len()})).collect::<Vec<_>>(),
        });
        Self {
            config,
            layers,
            manifest: serde_json::to_vec(&manifest).unwrap(),
        }
    }

    fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// Its config and layers.
    fn blobs(&self) -> Vec<&[u8]> {
        std::iter::once(self.config.as_slice())
            .chain(self.layers.iter().map(Vec::as_slice))
            .collect()
    }

    /// Pushes the blobs and the manifest under each of `tags` (by digest when none);
    /// returns the digest.
    async fn push(&self, pusher: &Pusher, name: &str, tags: &[&str]) -> String {
        for blob in self.blobs() {
            pusher.blob(name, blob).await;
        }
        let digest = self.digest();
        if tags.is_empty() {
            pusher
                .manifest(name, &digest, OCI_MANIFEST, &self.manifest)
                .await;
        }
        for tag in tags {
            pusher
                .manifest(name, tag, OCI_MANIFEST, &self.manifest)
                .await;
        }
        digest
    }
}

/// An OCI index of `images`, each with its platform (`os/arch[/variant]`).
fn index(images: &[(&Image, &str)]) -> Vec<u8> {
    let manifests: Vec<Value> = images
        .iter()
        .map(|(image, platform)| {
            let parts: Vec<&str> = platform.split('/').collect();
            let mut p = json!({"os": parts[0], "architecture": parts[1]});
            if let Some(v) = parts.get(2) {
                p["variant"] = json!(v);
            }
            json!({"mediaType": OCI_MANIFEST, "digest": image.digest(), "size": image.manifest.len(), "platform": p})
        })
        .collect();
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
        .unwrap()
}

/// Pushes `images` by digest and their index under `tags`; returns the index's digest.
async fn push_index(
    pusher: &Pusher,
    name: &str,
    images: &[(&Image, &str)],
    tags: &[&str],
) -> String {
    for (image, _) in images {
        image.push(pusher, name, &[]).await;
    }
    let bytes = index(images);
    for tag in tags {
        pusher.manifest(name, tag, OCI_INDEX, &bytes).await;
    }
    sha256(&bytes)
}

/// Pushes through the registry API (plain HTTP), as `docker push` would.
struct Pusher {
    client: reqwest::Client,
    base: String,
    basic: Option<(&'static str, &'static str)>,
}

impl Pusher {
    fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: base.to_string(),
            basic: None,
        }
    }

    fn with_basic_auth(mut self) -> Self {
        self.basic = Some((USER, PASSWORD));
        self
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        match self.basic {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    async fn blob(&self, name: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let start = format!("{}/v2/{name}/blobs/uploads/", self.base);
        let response = self
            .request(reqwest::Method::POST, &start)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "POST {start}: {:?}",
            response.text().await
        );
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let mut url = reqwest::Url::parse(&start)
            .unwrap()
            .join(&location)
            .unwrap();
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .request(reqwest::Method::PUT, url.as_str())
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            201,
            "PUT {url}: {:?}",
            response.text().await
        );
        digest
    }

    async fn manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let url = format!("{}/v2/{name}/manifests/{reference}", self.base);
        let response = self
            .request(reqwest::Method::PUT, &url)
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            201,
            "PUT {url}: {:?}",
            response.text().await
        );
        sha256(bytes)
    }

    /// GETs `/v2/<path>`: the status and the body.
    async fn get(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        let url = format!("{}/v2/{path}", self.base);
        let response = self
            .request(reqwest::Method::GET, &url)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

// ---------------------------------------------------------------- the registry

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The registry binary, installed by `tests/servers/install.sh` when missing. A registry that
/// cannot be had fails the test: nothing is skipped.
fn registry_binary() -> PathBuf {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = PathBuf::from(
                std::env::var_os("DOCKER_REGISTRY")
                    .unwrap_or_else(|| "/usr/bin/docker-registry".into()),
            );
            if !path.is_file() {
                let script = repo_root().join("tests/servers/install.sh");
                let status = Command::new("bash").arg(&script).stdin(Stdio::null()).status();
                eprintln!("{} exited with {status:?}", script.display());
            }
            assert!(
                path.is_file(),
                "{} is missing and tests/servers/install.sh could not install it (Debian package `docker-registry`; run the script as root, or set DOCKER_REGISTRY)",
                path.display()
            );
            path
        })
        .clone()
}

/// How a test's registry is configured.
#[derive(Debug, Default, Clone, Copy)]
struct Options {
    /// `auth: htpasswd` with [`USER`]/[`PASSWORD`].
    htpasswd: bool,
    /// `http.relativeurls`: relative `Location`s (what a TLS front needs: the registry
    /// itself speaks plain HTTP and would write `http://` URLs).
    relative_urls: bool,
}

/// A `docker-registry` process on 127.0.0.1, with its storage in a temporary directory;
/// killed when dropped.
struct RegistryServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RegistryServer {
    fn start(options: Options) -> Self {
        let binary = registry_binary();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  relativeurls: {}\n",
                dir.path().join("storage").display(),
                options.relative_urls
            );
            if options.htpasswd {
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, HTPASSWD).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: lockgate-test\n    path: {}\n",
                    file.display()
                ));
            }
            let config_file = dir.path().join("config.yml");
            std::fs::write(&config_file, config).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_file)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if child.try_wait().unwrap().is_some() {
                    // Most likely the port was taken meanwhile: another one.
                    eprintln!(
                        "docker-registry exited at start: {}",
                        std::fs::read_to_string(dir.path().join("registry.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port, dir };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "docker-registry did not listen on 127.0.0.1:{port} within 20 s: {}",
                        std::fs::read_to_string(dir.path().join("registry.log"))
                            .unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("docker-registry could not be started on a free port");
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr())
    }

    fn grant(&self) -> NetworkGrant {
        self.addr().to_string().parse().unwrap()
    }

    /// `http://127.0.0.1:<port>/<name>`.
    fn repository(&self, name: &str) -> String {
        format!("{}/{name}", self.base())
    }

    fn pusher(&self) -> Pusher {
        Pusher::new(&self.base())
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- registry log ---\n{}",
                std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
            );
        }
    }
}

// ---------------------------------------------------------------- a raw HTTP/1.1 server

/// A request as a test server read it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self, name: &str) -> Vec<String> {
        let query = self
            .target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one request (head, then a `Content-Length` or chunked body); `None` at EOF.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut rest = buffer[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            while !rest.windows(2).any(|w| w == b"\r\n") {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size =
                usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
            while rest.len() < line_end + 2 + size + 2 {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break body;
            }
        }
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        rest
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// Writes a response and closes the connection.
async fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    head_only: bool,
) {
    let mut text = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = stream.write_all(text.as_bytes()).await;
    if !head_only {
        let _ = stream.write_all(body).await;
    }
    let _ = stream.shutdown().await;
}

/// Sends `request` to `upstream` (one request, `Connection: close`) and returns the raw
/// response.
async fn forward(upstream: SocketAddr, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "connection" | "keep-alive" | "authorization" | "transfer-encoding" | "content-length"
        ) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !request.body.is_empty() || matches!(request.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(&request.body).await?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    Ok(response)
}

/// What a [`Front`] does besides forwarding.
#[derive(Clone, Copy, Default)]
struct FrontMode {
    /// Demand scoped bearer tokens from its token service (`/token`, Basic credentials).
    tokens: bool,
    /// Page `tags/list` with `n`, `last` and `Link` headers.
    paginate: bool,
}

/// A front of a registry on 127.0.0.1: the token flow of Docker Hub-like registries and/or
/// tag-list pages, everything else forwarded as it is.
struct Front {
    port: u16,
    task: JoinHandle<()>,
    /// `METHOD target` of every request, and `TOKEN <scopes>` for each token issued.
    log: Arc<Mutex<Vec<String>>>,
}

impl Front {
    async fn start(upstream: SocketAddr, mode: FrontMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let tokens: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
        let shared_log = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = shared_log.clone();
                let tokens = tokens.clone();
                tokio::spawn(async move {
                    let Ok(Some(request)) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock()
                        .unwrap()
                        .push(format!("{} {}", request.method, request.target));
                    let head_only = request.method == "HEAD";
                    if mode.tokens {
                        if request.path() == "/token" {
                            let (status, body) = issue_token(&request, &tokens, &log);
                            let headers =
                                vec![("Content-Type".to_string(), "application/json".to_string())];
                            respond(&mut stream, status, &headers, body.as_bytes(), false).await;
                            return;
                        }
                        let needed = scopes_needed(&request);
                        let granted = request
                            .header("authorization")
                            .and_then(|a| a.strip_prefix("Bearer "))
                            .and_then(|t| tokens.lock().unwrap().get(t).cloned());
                        if !granted.is_some_and(|g| covers(&g, &needed)) {
                            let challenge = format!(
                                "Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"lockgate-test-registry\",scope=\"{}\"",
                                needed.join(" ")
                            );
                            let headers = vec![
                                ("WWW-Authenticate".to_string(), challenge),
                                ("Content-Type".to_string(), "application/json".to_string()),
                            ];
                            let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
                            respond(&mut stream, 401, &headers, body.as_bytes(), head_only).await;
                            return;
                        }
                    }
                    if mode.paginate
                        && request.method == "GET"
                        && request.path().ends_with("/tags/list")
                        && !request.query("n").is_empty()
                    {
                        page_of_tags(&mut stream, upstream, &request).await;
                        return;
                    }
                    if let Ok(response) = forward(upstream, &request).await {
                        let _ = stream.write_all(&response).await;
                    }
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { port, task, log }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn grant(&self) -> NetworkGrant {
        self.addr().parse().unwrap()
    }

    fn repository(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr())
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The scopes a request needs: `repository:<name>:pull` to read, `pull,push` to write, and
/// `pull` on the repository a blob is mounted from.
fn scopes_needed(request: &Request) -> Vec<String> {
    let path = request.path();
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Vec::new();
    };
    let name = ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .filter_map(|k| rest.rfind(k).map(|i| &rest[..i]))
        .next()
        .unwrap_or(rest);
    let actions = if matches!(request.method.as_str(), "GET" | "HEAD") {
        "pull"
    } else {
        "pull,push"
    };
    let mut scopes = vec![format!("repository:{name}:{actions}")];
    for from in request.query("from") {
        scopes.push(format!("repository:{from}:pull"));
    }
    scopes
}

/// Whether the `granted` scopes cover every `needed` one.
fn covers(granted: &[String], needed: &[String]) -> bool {
    let parse = |scope: &str| -> Option<(String, Vec<String>)> {
        let (kind_name, actions) = scope.rsplit_once(':')?;
        Some((
            kind_name.to_string(),
            actions.split(',').map(str::to_string).collect(),
        ))
    };
    needed.iter().all(|need| {
        let Some((what, actions)) = parse(need) else {
            return false;
        };
        granted
            .iter()
            .filter_map(|g| parse(g))
            .any(|(gwhat, gactions)| gwhat == what && actions.iter().all(|a| gactions.contains(a)))
    })
}

/// The token service: Basic [`USER`]/[`PASSWORD`] required; the token carries the scopes
/// asked for.
fn issue_token(
    request: &Request,
    tokens: &Mutex<BTreeMap<String, Vec<String>>>,
    log: &Mutex<Vec<String>>,
) -> (u16, String) {
    let expected = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
    if request.header("authorization") != Some(expected.as_str()) {
        return (
            401,
            r#"{"details":"incorrect username or password"}"#.to_string(),
        );
    }
    let scopes = request.query("scope");
    let service = request.query("service");
    let mut tokens = tokens.lock().unwrap();
    let token = format!("token-{}", tokens.len() + 1);
    log.lock().unwrap().push(format!(
        "TOKEN service={} scopes={}",
        service.join(","),
        scopes.join(" ")
    ));
    tokens.insert(token.clone(), scopes);
    (200, json!({"token": token, "expires_in": 300}).to_string())
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Answers `GET …/tags/list?n=N[&last=T]` from the registry's whole list: the `N` tags after
/// `T` (lexical order, as the specification says), with a `Link` to the next page.
async fn page_of_tags(stream: &mut TcpStream, upstream: SocketAddr, request: &Request) {
    let whole = Request {
        method: "GET".into(),
        target: request.path().to_string(),
        headers: vec![("Host".into(), upstream.to_string())],
        body: Vec::new(),
    };
    let raw = forward(upstream, &whole).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    if status != 200 {
        let _ = stream.write_all(&raw).await;
        let _ = stream.shutdown().await;
        return;
    }
    let body: Value = serde_json::from_slice(&raw[split + 4..]).unwrap();
    let mut tags: Vec<String> = serde_json::from_value(body["tags"].clone()).unwrap_or_default();
    tags.sort();
    let n: usize = request.query("n")[0].parse().unwrap();
    let last = request.query("last").into_iter().next();
    let after: Vec<String> = tags
        .into_iter()
        .filter(|t| last.as_ref().is_none_or(|l| t > l))
        .collect();
    let page: Vec<String> = after.iter().take(n).cloned().collect();
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if after.len() > n {
        headers.push((
            "Link".to_string(),
            format!(
                "<{}?n={n}&last={}>; rel=\"next\"",
                request.path(),
                page.last().unwrap()
            ),
        ));
    }
    let body = json!({"name": body["name"], "tags": page}).to_string();
    respond(stream, 200, &headers, body.as_bytes(), false).await;
}

/// A hostile registry: `answer(request)` gives status, headers and body, or `None` to never
/// answer at all (the connection is held open).
struct Hostile {
    port: u16,
    task: JoinHandle<()>,
}

type Answer = Option<(u16, Vec<(String, String)>, Vec<u8>)>;

impl Hostile {
    async fn start(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Self {
        let answer = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let Ok(Some(request)) = read_request(&mut stream).await else {
                        return;
                    };
                    match answer(&request) {
                        Some((status, headers, body)) => {
                            respond(
                                &mut stream,
                                status,
                                &headers,
                                &body,
                                request.method == "HEAD",
                            )
                            .await;
                        }
                        None => {
                            std::future::pending::<()>().await;
                            drop(stream);
                        }
                    }
                });
            }
        });
        Self { port, task }
    }

    fn grant(&self) -> NetworkGrant {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    fn repository(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------- plugin helpers

async fn plugin() -> Plugin {
    load(artifacts::REGISTRY_IMAGE).await
}

fn version(tag: &str, digest: &str) -> Version {
    Version::new().with("tag", tag).with("digest", digest)
}

fn meta<'a>(metadata: &'a [(String, String)], name: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The plugin's failure message, panicking on any other kind of error.
fn failed(e: InvokeError) -> String {
    match plugin_failure(e) {
        PluginFailure::Failed(m) => m,
        other => panic!("expected a `failed` error, got {other:?}"),
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Checks the OCI image layout in `dir`: `oci-layout`, every file of `blobs/sha256` named by
/// the sha256 of its content, `index.json` listing one manifest that is among the blobs, and
/// (unless `manifest_only`) its config and layers there too. Returns the `index.json` entry
/// and the manifest.
fn verify_layout(dir: &Path, manifest_only: bool) -> (Value, Value) {
    let marker: Value =
        serde_json::from_slice(&std::fs::read(dir.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(marker, json!({"imageLayoutVersion": "1.0.0"}));
    let blobs = dir.join("blobs/sha256");
    for name in names(&blobs) {
        let bytes = std::fs::read(blobs.join(&name)).unwrap();
        assert_eq!(
            sha256(&bytes),
            format!("sha256:{name}"),
            "blobs/sha256/{name}"
        );
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    let entry = entries[0].clone();
    let hex = entry["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    let bytes = std::fs::read(blobs.join(hex)).unwrap();
    assert_eq!(entry["size"], bytes.len());
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    if !manifest_only {
        let referenced =
            std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
        for blob in referenced {
            let hex = blob["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap();
            let len = std::fs::metadata(blobs.join(hex))
                .unwrap_or_else(|e| panic!("blob {hex} of the manifest: {e}"))
                .len();
            assert_eq!(blob["size"], len);
        }
    }
    assert!(
        !names(dir).iter().any(|n| n.starts_with(".partial-")),
        "no partial blob is left: {:?}",
        names(dir)
    );
    (entry, manifest)
}

// ---------------------------------------------------------------- describe

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_image_describes_itself() {
    let plugin = plugin().await;
    let d = plugin.description();
    assert_eq!(
        (d.name.as_str(), d.kind),
        ("registry-image", PluginKind::ResourceType)
    );
    assert!(!d.summary.is_empty());
    for schema in [&d.source_schema, &d.get_params_schema, &d.put_params_schema] {
        assert!(schema.as_ref().is_some_and(Value::is_object), "{schema:?}");
    }
    let source = d.source_schema.as_ref().unwrap();
    assert_eq!(source["required"], json!(["repository"]));
    assert_eq!(d.capabilities.network.len(), 1);
}

// ---------------------------------------------------------------- check and get

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_a_tag_and_get_it_into_an_oci_layout() {
    let registry = RegistryServer::start(Options::default());
    let pusher = registry.pusher();
    let image = Image::new("linux/amd64", &[2048, 777]);
    let digest = image.push(&pusher, "team/app", &["1.0.0", "latest"]).await;
    let plugin = plugin().await;
    let inv = Invocation::new(Grants::none().network(registry.grant()));

    // `latest` by default; an `http://` prefix speaks plain HTTP.
    let source = json!({"repository": registry.repository("team/app")});
    let v1 = plugin.check(&inv, &source, None).await.unwrap();
    assert_eq!(v1, [version("latest", &digest)]);
    // The same with `insecure: true` and an explicit tag.
    let pinned = json!({"repository": format!("{}/team/app", registry.addr()), "insecure": true, "tag": "1.0.0"});
    assert_eq!(
        plugin.check(&inv, &pinned, None).await.unwrap(),
        [version("1.0.0", &digest)]
    );
    // A new image under `latest`: checking from the old version gives the new one.
    let newer = Image::new("linux/amd64", &[100]);
    let newer_digest = newer.push(&pusher, "team/app", &["latest"]).await;
    assert_eq!(
        plugin.check(&inv, &source, Some(&v1[0])).await.unwrap(),
        [version("latest", &newer_digest)]
    );
    // A tag or a repository that does not exist (yet): no versions.
    let missing = json!({"repository": registry.repository("team/app"), "tag": "nope"});
    assert!(plugin.check(&inv, &missing, None).await.unwrap().is_empty());
    let unknown = json!({"repository": registry.repository("team/none"), "semver_constraint": "*"});
    assert!(plugin.check(&inv, &unknown, None).await.unwrap().is_empty());

    // get: an OCI layout with every blob, verified.
    let out = tempfile::tempdir().unwrap();
    let inv_out = Invocation::new(Grants::none().network(registry.grant()).output(out.path()));
    let got = plugin
        .get(&inv_out, &pinned, &version("1.0.0", &digest), &json!({}))
        .await
        .unwrap();
    assert_eq!(got.version, version("1.0.0", &digest));
    let (entry, manifest) = verify_layout(out.path(), false);
    assert_eq!(entry["digest"], digest);
    assert_eq!(entry["mediaType"], OCI_MANIFEST);
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "1.0.0"
    );
    assert_eq!(
        entry["platform"],
        json!({"os": "linux", "architecture": "amd64"})
    );
    assert_eq!(
        manifest,
        serde_json::from_slice::<Value>(&image.manifest).unwrap()
    );
    assert_eq!(names(&out.path().join("blobs/sha256")).len(), 4);
    for layer in &image.layers {
        let hex = &sha256(layer)[7..];
        assert_eq!(
            &std::fs::read(out.path().join("blobs/sha256").join(hex)).unwrap(),
            layer
        );
    }
    assert_eq!(
        names(out.path()),
        [
            "blobs",
            "digest",
            "index.json",
            "oci-layout",
            "repository",
            "tag"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("digest")).unwrap(),
        digest
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("tag")).unwrap(),
        "1.0.0"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("repository")).unwrap(),
        registry.repository("team/app")
    );
    let m = &got.metadata;
    assert_eq!(meta(m, "digest"), Some(digest.as_str()));
    assert_eq!(meta(m, "tag"), Some("1.0.0"));
    assert_eq!(meta(m, "media_type"), Some(OCI_MANIFEST));
    assert_eq!(
        meta(m, "size"),
        Some(image.manifest.len().to_string().as_str())
    );
    assert_eq!(meta(m, "platform"), Some("linux/amd64"));
    assert_eq!(meta(m, "layers"), Some("2"));
    assert_eq!(meta(m, "blobs_downloaded"), Some("3"));
    assert_eq!(meta(m, "manifest_digest"), None);

    // A digest the registry does not have: not-found.
    let gone = version("1.0.0", &sha256(b"no such manifest"));
    let e = plugin
        .get(&inv_out, &pinned, &gone, &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::NotFound(ref m) if m.contains("is not in the registry")),
    );

    // Without the grant: refused, naming what to grant.
    let e = plugin
        .check(&Invocation::new(Grants::none()), &source, None)
        .await
        .unwrap_err();
    let message = failed(e);
    assert!(
        message.contains(&format!("grant `{}` in `grants.network`", registry.addr())),
        "{message}"
    );
    // Bad configuration names the field.
    let e = plugin
        .check(&inv, &json!({"repository": "127.0.0.1:5000"}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::InvalidConfig(ref m) if m.starts_with("source.repository: ")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_tags_in_semver_order_across_pages() {
    let registry = RegistryServer::start(Options::default());
    let front = Front::start(
        registry.addr(),
        FrontMode {
            paginate: true,
            ..FrontMode::default()
        },
    )
    .await;
    let pusher = registry.pusher();
    let mut digests = BTreeMap::new();
    for tag in [
        "1.0.0",
        "1.2.0",
        "1.10.0",
        "v1.9.0",
        "2.0.0-rc.1",
        "2.0.0",
        "latest",
        "build-7",
    ] {
        let image = Image::new("linux/amd64", &[64]);
        digests.insert(tag, image.push(&pusher, "team/app", &[tag]).await);
    }
    let v = |tag: &str| version(tag, &digests[tag]);
    let plugin = plugin().await;
    let inv = Invocation::new(Grants::none().network(front.grant()));
    let source = json!({"repository": front.repository("team/app"), "semver_constraint": ">=1.1, <2", "page_size": 2});

    // Without `from`: the newest.
    assert_eq!(
        plugin.check(&inv, &source, None).await.unwrap(),
        [v("1.10.0")]
    );
    // Four pages of two tags, following the `Link` headers.
    let pages: Vec<String> = front
        .log()
        .into_iter()
        .filter(|l| l.contains("/tags/list"))
        .collect();
    assert_eq!(
        pages,
        [
            "GET /v2/team/app/tags/list?n=2",
            "GET /v2/team/app/tags/list?n=2&last=1.10.0",
            "GET /v2/team/app/tags/list?n=2&last=2.0.0",
            "GET /v2/team/app/tags/list?n=2&last=build-7",
        ]
    );
    // From a version: it and every newer one, in semver order.
    assert_eq!(
        plugin
            .check(&inv, &source, Some(&v("1.2.0")))
            .await
            .unwrap(),
        [v("1.2.0"), v("v1.9.0"), v("1.10.0")]
    );
    // From a version whose tag is gone: the newest.
    assert_eq!(
        plugin
            .check(&inv, &source, Some(&version("1.1.0", &digests["1.0.0"])))
            .await
            .unwrap(),
        [v("1.10.0")]
    );
    // Pre-releases only when asked for.
    let with_rc = json!({"repository": front.repository("team/app"), "semver_constraint": ">=1.10", "pre_releases": true, "page_size": 2});
    assert_eq!(
        plugin
            .check(&inv, &with_rc, Some(&v("1.10.0")))
            .await
            .unwrap(),
        [v("1.10.0"), v("2.0.0-rc.1"), v("2.0.0")]
    );
    // A regexp alone; straight to the registry, which answers in one page.
    let direct = Invocation::new(Grants::none().network(registry.grant()));
    let regex = json!({"repository": registry.repository("team/app"), "tag_regex": r"v?1\..*"});
    assert_eq!(
        plugin
            .check(&direct, &regex, Some(&v("1.2.0")))
            .await
            .unwrap(),
        [v("1.2.0"), v("v1.9.0"), v("1.10.0")]
    );
    // A tag pushed again is a new version from its place on.
    let again = Image::new("linux/amd64", &[64])
        .push(&pusher, "team/app", &["1.2.0"])
        .await;
    assert_eq!(
        plugin
            .check(&inv, &source, Some(&v("1.2.0")))
            .await
            .unwrap(),
        [version("1.2.0", &again), v("v1.9.0"), v("1.10.0")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_takes_one_platform_of_a_multi_platform_index() {
    let registry = RegistryServer::start(Options::default());
    let pusher = registry.pusher();
    let amd64 = Image::new("linux/amd64", &[1000, 2000]);
    let arm64 = Image::new("linux/arm64/v8", &[3000]);
    let index_digest = push_index(
        &pusher,
        "team/multi",
        &[(&amd64, "linux/amd64"), (&arm64, "linux/arm64/v8")],
        &["2.0.0"],
    )
    .await;
    let plugin = plugin().await;
    let inv = Invocation::new(Grants::none().network(registry.grant()));
    let source = json!({"repository": registry.repository("team/multi"), "tag": "2.0.0"});
    let versions = plugin.check(&inv, &source, None).await.unwrap();
    assert_eq!(versions, [version("2.0.0", &index_digest)]);

    let get = |platform: Option<Value>, params: Value| {
        let plugin = &plugin;
        let registry = &registry;
        let v = versions[0].clone();
        async move {
            let out = tempfile::tempdir().unwrap();
            let mut source =
                json!({"repository": registry.repository("team/multi"), "tag": "2.0.0"});
            if let Some(p) = platform {
                source["platform"] = p;
            }
            let inv = Invocation::new(Grants::none().network(registry.grant()).output(out.path()));
            let result = plugin.get(&inv, &source, &v, &params).await;
            (out, result)
        }
    };

    // linux/amd64 by default; the index itself is kept beside it.
    let (out, got) = get(None, json!({})).await;
    let got = got.unwrap();
    let (entry, _) = verify_layout(out.path(), false);
    assert_eq!(entry["digest"], amd64.digest());
    assert_eq!(
        entry["platform"],
        json!({"os": "linux", "architecture": "amd64"})
    );
    assert!(
        out.path()
            .join("blobs/sha256")
            .join(&index_digest[7..])
            .is_file()
    );
    assert_eq!(names(&out.path().join("blobs/sha256")).len(), 2 + 3);
    assert_eq!(
        std::fs::read_to_string(out.path().join("digest")).unwrap(),
        index_digest
    );
    let m = &got.metadata;
    assert_eq!(meta(m, "digest"), Some(index_digest.as_str()));
    assert_eq!(meta(m, "media_type"), Some(OCI_INDEX));
    assert_eq!(meta(m, "manifest_digest"), Some(amd64.digest().as_str()));
    assert_eq!(meta(m, "platform"), Some("linux/amd64"));
    assert_eq!(meta(m, "blobs_downloaded"), Some("3"));

    // arm64 (its variant found without being named).
    let (out, got) = get(
        Some(json!({"os": "linux", "architecture": "arm64"})),
        json!({}),
    )
    .await;
    let got = got.unwrap();
    let (entry, _) = verify_layout(out.path(), false);
    assert_eq!(entry["digest"], arm64.digest());
    assert_eq!(meta(&got.metadata, "platform"), Some("linux/arm64/v8"));
    let hex = &sha256(&arm64.layers[0])[7..];
    assert_eq!(
        std::fs::read(out.path().join("blobs/sha256").join(hex)).unwrap(),
        arm64.layers[0]
    );

    // A platform the index does not have: the error lists those it has.
    let (_, result) = get(
        Some(json!({"os": "windows", "architecture": "amd64"})),
        json!({}),
    )
    .await;
    let message = failed(result.unwrap_err());
    assert!(
        message.ends_with("the index has no manifest for platform windows/amd64; it has: linux/amd64, linux/arm64/v8"),
        "{message}"
    );

    // skip_download: the manifests only.
    let (out, got) = get(None, json!({"skip_download": true})).await;
    let got = got.unwrap();
    let (entry, _) = verify_layout(out.path(), true);
    assert_eq!(entry["digest"], amd64.digest());
    assert_eq!(names(&out.path().join("blobs/sha256")).len(), 2);
    assert_eq!(meta(&got.metadata, "blobs_downloaded"), Some("0"));
}

// ---------------------------------------------------------------- put

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_promotes_by_copy_mounting_blobs_within_the_registry() {
    let registry = RegistryServer::start(Options::default());
    let pusher = registry.pusher();
    let image = Image::new("linux/amd64", &[4096, 10]);
    let digest = image.push(&pusher, "team/app", &["1.0.0"]).await;
    let plugin = plugin().await;
    let grant = registry.grant();

    // get, then put the layout into another repository: every blob mounted.
    let layout = tempfile::tempdir().unwrap();
    let source = json!({"repository": registry.repository("team/app"), "tag": "1.0.0"});
    plugin
        .get(
            &Invocation::new(Grants::none().network(grant.clone()).output(layout.path())),
            &source,
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    let prod = json!({"repository": registry.repository("prod/app"), "tag": "stable"});
    let inv = Invocation::new(
        Grants::none()
            .network(grant.clone())
            .input("image", layout.path()),
    );
    let put = plugin
        .put(&inv, &prod, &json!({"from": "image"}))
        .await
        .unwrap();
    assert_eq!(put.version, version("stable", &digest));
    let m = &put.metadata;
    assert_eq!(meta(m, "blobs_mounted"), Some("3"));
    assert_eq!(meta(m, "blobs_uploaded"), Some("0"));
    assert_eq!(meta(m, "tags"), Some("stable"));
    let check = Invocation::new(Grants::none().network(grant.clone()));
    assert_eq!(
        plugin.check(&check, &prod, None).await.unwrap(),
        [version("stable", &digest)]
    );
    // Again, under more tags: the blobs are there already.
    let put = plugin
        .put(
            &inv,
            &prod,
            &json!({"from": "image", "tag": "1.0.0", "tags": ["latest", "1.0.0"]}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("1.0.0", &digest));
    assert_eq!(meta(&put.metadata, "blobs_existing"), Some("3"));
    assert_eq!(meta(&put.metadata, "tags"), Some("1.0.0,latest"));
    let (status, body) = pusher.get("prod/app/manifests/latest", OCI_MANIFEST).await;
    assert_eq!((status, sha256(&body)), (200, digest.clone()));

    // Registry to registry, by digest: a multi-platform index keeps its digest, every
    // platform comes along.
    let amd64 = Image::new("linux/amd64", &[500]);
    let arm = Image::new("linux/arm/v7", &[600, 700]);
    let index_digest = push_index(
        &pusher,
        "team/multi",
        &[(&amd64, "linux/amd64"), (&arm, "linux/arm/v7")],
        &["2.0.0"],
    )
    .await;
    let prod_multi =
        json!({"repository": registry.repository("prod/multi"), "semver_constraint": "^2"});
    let put = plugin
        .put(
            &check,
            &prod_multi,
            &json!({"source_repository": registry.repository("team/multi"), "digest": index_digest, "tag": "2.0.0"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("2.0.0", &index_digest));
    assert_eq!(meta(&put.metadata, "blobs_mounted"), Some("5"));
    assert_eq!(meta(&put.metadata, "media_type"), Some(OCI_INDEX));
    for child in [&amd64, &arm] {
        let (status, body) = pusher
            .get(
                &format!("prod/multi/manifests/{}", child.digest()),
                OCI_MANIFEST,
            )
            .await;
        assert_eq!((status, body), (200, child.manifest.clone()));
    }
    assert_eq!(
        plugin.check(&check, &prod_multi, None).await.unwrap(),
        [version("2.0.0", &index_digest)]
    );

    // The digest and tag from a get's files (fetched without layers): the promotion of what
    // an earlier environment tested.
    let tested = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(Grants::none().network(grant.clone()).output(tested.path())),
            &json!({"repository": registry.repository("team/multi"), "tag": "2.0.0"}),
            &version("2.0.0", &index_digest),
            &json!({"skip_download": true}),
        )
        .await
        .unwrap();
    let inv = Invocation::new(
        Grants::none()
            .network(grant.clone())
            .input("tested", tested.path()),
    );
    let put = plugin
        .put(
            &inv,
            &json!({"repository": registry.repository("release/multi"), "tag_regex": ".*"}),
            &json!({"source_repository": registry.repository("team/multi"), "digest_file": "tested/digest", "tag_file": "tested/tag"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("2.0.0", &index_digest));

    // Neither source nor a tag: the configuration's fault, named.
    let e = plugin
        .put(&inv, &prod_multi, &json!({"source_repository": registry.repository("team/multi"), "digest": index_digest}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::InvalidConfig(ref m) if m.starts_with("params.tag: "))
    );
    let e = plugin
        .put(&inv, &prod, &json!({"tag": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::InvalidConfig(ref m) if m.starts_with("params.from: "))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_uploads_to_another_registry_in_chunks() {
    let staging = RegistryServer::start(Options::default());
    let production = RegistryServer::start(Options::default());
    // A layer over 16 MiB: read in ranges, uploaded in chunks.
    let image = Image::new("linux/amd64", &[(17 << 20) + 3, 1000]);
    let digest = image.push(&staging.pusher(), "team/big", &["1.0.0"]).await;
    let plugin = plugin().await;
    let both = Grants::none()
        .network(staging.grant())
        .network(production.grant());

    let layout = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(both.clone().output(layout.path())),
            &json!({"repository": staging.repository("team/big"), "tag": "1.0.0"}),
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    verify_layout(layout.path(), false);
    let big = layout
        .path()
        .join("blobs/sha256")
        .join(&sha256(&image.layers[0])[7..]);
    assert_eq!(std::fs::read(&big).unwrap(), image.layers[0]);

    // From the layout into the other registry: nothing to mount from there, all uploaded.
    let target = json!({"repository": production.repository("prod/big"), "tag": "1.0.0"});
    let put = plugin
        .put(
            &Invocation::new(both.clone().input("image", layout.path())),
            &target,
            &json!({"from": "image"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("1.0.0", &digest));
    let m = &put.metadata;
    assert_eq!(meta(m, "blobs_uploaded"), Some("3"));
    let total: usize = image.blobs().iter().map(|b| b.len()).sum();
    assert_eq!(meta(m, "bytes_uploaded"), Some(total.to_string().as_str()));
    let pusher = production.pusher();
    for blob in image.blobs() {
        let (status, body) = pusher
            .get(&format!("prod/big/blobs/{}", sha256(blob)), "*/*")
            .await;
        assert_eq!(status, 200);
        assert!(body == blob, "blob {} differs in the target", sha256(blob));
    }

    // Registry to registry, streamed chunk by chunk.
    let put = plugin
        .put(
            &Invocation::new(both.clone()),
            &json!({"repository": production.repository("mirror/big"), "tag": "1.0.0"}),
            &json!({"source_repository": staging.repository("team/big"), "digest": digest}),
        )
        .await
        .unwrap();
    assert_eq!(meta(&put.metadata, "blobs_uploaded"), Some("3"));
    let (status, body) = pusher.get("mirror/big/manifests/1.0.0", OCI_MANIFEST).await;
    assert_eq!((status, sha256(&body)), (200, digest.clone()));

    // A layout without its blobs (`skip_download`) cannot fill a repository that lacks them.
    let thin = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(both.clone().output(thin.path())),
            &json!({"repository": staging.repository("team/big"), "tag": "1.0.0"}),
            &version("1.0.0", &digest),
            &json!({"skip_download": true}),
        )
        .await
        .unwrap();
    let e = plugin
        .put(
            &Invocation::new(both.clone().input("image", thin.path())),
            &json!({"repository": production.repository("other/big"), "tag": "1.0.0"}),
            &json!({"from": "image"}),
        )
        .await
        .unwrap_err();
    let message = failed(e);
    assert!(
        message.contains(&format!(
            "is neither in {} nor in the layout in /inputs/image",
            production.repository("other/big")
        )),
        "{message}"
    );
    assert!(message.contains("skip_download"), "{message}");
}

// ---------------------------------------------------------------- authentication

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_against_htpasswd() {
    let registry = RegistryServer::start(Options {
        htpasswd: true,
        ..Options::default()
    });
    let pusher = registry.pusher().with_basic_auth();
    let image = Image::new("linux/amd64", &[300]);
    let digest = image.push(&pusher, "team/app", &["1.0.0"]).await;
    let plugin = plugin().await;
    let inv = Invocation::new(Grants::none().network(registry.grant()));
    let with = |password: Option<&str>| {
        let mut source = json!({"repository": registry.repository("team/app"), "tag": "1.0.0"});
        if let Some(password) = password {
            source["username"] = json!(USER);
            source["password"] = json!(password);
        }
        source
    };

    let message = failed(plugin.check(&inv, &with(None), None).await.unwrap_err());
    assert!(
        message.ends_with("the registry asks for credentials (Basic authentication): set source.username and source.password"),
        "{message}"
    );
    let message = failed(
        plugin
            .check(&inv, &with(Some("wrong")), None)
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains(
            "the registry refused the credentials of user `tester` even after authenticating: 401"
        ),
        "{message}"
    );
    assert!(!message.contains("wrong"), "{message}");

    let source = with(Some(PASSWORD));
    assert_eq!(
        plugin.check(&inv, &source, None).await.unwrap(),
        [version("1.0.0", &digest)]
    );
    let out = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(Grants::none().network(registry.grant()).output(out.path())),
            &source,
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    verify_layout(out.path(), false);
    let mut prod = source.clone();
    prod["repository"] = json!(registry.repository("prod/app"));
    let put = plugin
        .put(
            &Invocation::new(
                Grants::none()
                    .network(registry.grant())
                    .input("image", out.path()),
            ),
            &prod,
            &json!({"from": "image"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("1.0.0", &digest));
    assert_eq!(meta(&put.metadata, "blobs_mounted"), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_flow_with_scoped_tokens() {
    let registry = RegistryServer::start(Options::default());
    let front = Front::start(
        registry.addr(),
        FrontMode {
            tokens: true,
            ..FrontMode::default()
        },
    )
    .await;
    let image = Image::new("linux/amd64", &[800, 900]);
    let digest = image.push(&registry.pusher(), "team/app", &["1.0.0"]).await;
    let plugin = plugin().await;
    let source = |name: &str, password: Option<&str>| {
        let mut source = json!({"repository": front.repository(name), "tag": "1.0.0"});
        if let Some(password) = password {
            source["username"] = json!(USER);
            source["password"] = json!(password);
        }
        source
    };
    let inv = Invocation::new(Grants::none().network(front.grant()));

    assert_eq!(
        plugin
            .check(&inv, &source("team/app", Some(PASSWORD)), None)
            .await
            .unwrap(),
        [version("1.0.0", &digest)]
    );
    let out = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(Grants::none().network(front.grant()).output(out.path())),
            &source("team/app", Some(PASSWORD)),
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    verify_layout(out.path(), false);
    let put = plugin
        .put(
            &Invocation::new(
                Grants::none()
                    .network(front.grant())
                    .input("image", out.path()),
            ),
            &source("prod/app", Some(PASSWORD)),
            &json!({"from": "image"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("1.0.0", &digest));
    assert_eq!(meta(&put.metadata, "blobs_mounted"), Some("3"));

    // One token per kind of access, each asked for with the challenge's scope.
    let tokens: Vec<String> = front
        .log()
        .into_iter()
        .filter(|l| l.starts_with("TOKEN "))
        .collect();
    let service = "service=lockgate-test-registry";
    assert!(
        tokens.contains(&format!("TOKEN {service} scopes=repository:team/app:pull")),
        "{tokens:?}"
    );
    assert!(
        tokens.contains(&format!("TOKEN {service} scopes=repository:prod/app:pull")),
        "{tokens:?}"
    );
    assert!(
        tokens.contains(&format!(
            "TOKEN {service} scopes=repository:prod/app:pull,push repository:team/app:pull"
        )),
        "{tokens:?}"
    );
    // check + get (pull), put: pull (HEADs), mount, push (manifest).
    assert!(
        tokens.len() <= 6,
        "tokens are reused per access: {tokens:?}"
    );

    // A wrong password, or none: the token service refuses, and says to whom.
    let realm = format!("http://{}/token", front.addr());
    let message = failed(
        plugin
            .check(&inv, &source("team/app", Some("wrong")), None)
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains(&format!(
            "the token service {realm} refused the credentials of user `tester` for scope repository:team/app:pull: 401"
        )),
        "{message}"
    );
    let message = failed(
        plugin
            .check(&inv, &source("team/app", None), None)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("refused anonymous access"), "{message}");
}

// ---------------------------------------------------------------- HTTPS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca() {
    let registry = RegistryServer::start(Options {
        relative_urls: true,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate registry CA");
    let ca_file = ca.write_pem(dir.path(), "ca.pem");
    let tls = HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Forward(registry.addr()),
    )
    .await;
    let image = Image::new("linux/amd64", &[1234]);
    let digest = image.push(&registry.pusher(), "team/app", &["1.0.0"]).await;
    let plugin = plugin().await;
    let grant: NetworkGrant = format!("localhost:{}", tls.port()).parse().unwrap();
    // No scheme: HTTPS.
    let source =
        json!({"repository": format!("localhost:{}/team/app", tls.port()), "tag": "1.0.0"});

    // The CA is not trusted: the certificate is refused, naming the host.
    let message = failed(
        plugin
            .check(
                &Invocation::new(Grants::none().network(grant.clone())),
                &source,
                None,
            )
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains(&format!(
            "the certificate of localhost:{} did not verify",
            tls.port()
        )),
        "{message}"
    );

    let trusted = Grants::none().network(grant).ca_certificate(&ca_file);
    assert_eq!(
        plugin
            .check(&Invocation::new(trusted.clone()), &source, None)
            .await
            .unwrap(),
        [version("1.0.0", &digest)]
    );
    let out = tempfile::tempdir().unwrap();
    plugin
        .get(
            &Invocation::new(trusted.clone().output(out.path())),
            &source,
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    verify_layout(out.path(), false);
    // Uploads follow the registry's (relative) Locations over HTTPS.
    let prod =
        json!({"repository": format!("https://localhost:{}/prod/app", tls.port()), "tag": "1.0.0"});
    let fresh = tempfile::tempdir().unwrap();
    let other = Image::new("linux/amd64", &[4321]);
    let other_digest = other
        .push(&registry.pusher(), "team/other", &["1.0.0"])
        .await;
    plugin
        .get(
            &Invocation::new(trusted.clone().output(fresh.path())),
            &json!({"repository": format!("localhost:{}/team/other", tls.port()), "tag": "1.0.0"}),
            &version("1.0.0", &other_digest),
            &json!({}),
        )
        .await
        .unwrap();
    // Write the recorded repository away: no mount, a real upload.
    std::fs::remove_file(fresh.path().join("repository")).unwrap();
    let put = plugin
        .put(
            &Invocation::new(trusted.clone().input("image", fresh.path())),
            &prod,
            &json!({"from": "image"}),
        )
        .await
        .unwrap();
    assert_eq!(put.version, version("1.0.0", &other_digest));
    assert_eq!(meta(&put.metadata, "blobs_uploaded"), Some("2"));
    let (status, body) = registry
        .pusher()
        .get("prod/app/manifests/1.0.0", OCI_MANIFEST)
        .await;
    assert_eq!((status, body), (200, other.manifest.clone()));
}

// ---------------------------------------------------------------- hostile registries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_lies_about_a_digest_is_caught_and_nothing_is_kept() {
    let image = Image::new("linux/amd64", &[5000, 6000]);
    let digest = image.digest();
    let forged_layer = {
        let mut bytes = image.layers[1].clone();
        bytes[100] ^= 0xff;
        bytes
    };
    let lying_manifest_digest = sha256(b"a manifest the registry does not send");
    let served = (
        image.manifest.clone(),
        image.config.clone(),
        image.layers[0].clone(),
        forged_layer.clone(),
    );
    let (manifest_path, config_path, layer0_path, layer1_path) = (
        format!("/v2/team/app/manifests/{digest}"),
        format!("/v2/team/app/blobs/{}", sha256(&image.config)),
        format!("/v2/team/app/blobs/{}", sha256(&image.layers[0])),
        format!("/v2/team/app/blobs/{}", sha256(&image.layers[1])),
    );
    let lie_path = format!("/v2/team/app/manifests/{lying_manifest_digest}");
    let d = digest.clone();
    let server = Hostile::start(move |r| {
        let ok = |body: &[u8], media: &str| {
            Some((
                200,
                vec![
                    ("Content-Type".to_string(), media.to_string()),
                    ("Docker-Content-Digest".to_string(), d.clone()),
                ],
                body.to_vec(),
            ))
        };
        let path = r.path();
        if path == "/v2/team/app/manifests/latest" || path == manifest_path || path == lie_path {
            // The manifest, also when asked for another digest.
            ok(&served.0, OCI_MANIFEST)
        } else if path == config_path {
            ok(&served.1, "application/octet-stream")
        } else if path == layer0_path {
            ok(&served.2, "application/octet-stream")
        } else if path == layer1_path {
            ok(&served.3, "application/octet-stream")
        } else {
            Some((404, vec![], b"{}".to_vec()))
        }
    })
    .await;
    let plugin = plugin().await;
    let source = json!({"repository": server.repository("team/app")});
    let inv = Invocation::new(Grants::none().network(server.grant()));
    assert_eq!(
        plugin.check(&inv, &source, None).await.unwrap(),
        [version("latest", &digest)]
    );

    // A layer whose content is not its digest: the get fails naming it; it is not in blobs/.
    let out = tempfile::tempdir().unwrap();
    let e = plugin
        .get(
            &Invocation::new(Grants::none().network(server.grant()).output(out.path())),
            &source,
            &version("latest", &digest),
            &json!({}),
        )
        .await
        .unwrap_err();
    let message = failed(e);
    let layer = sha256(&image.layers[1]);
    assert!(
        message.contains(&format!(
            "blob {layer}: digest mismatch: expected {layer}, the content the registry ({}) sent has {}; refusing it",
            server.repository("team/app"),
            sha256(&forged_layer)
        )),
        "{message}"
    );
    let blobs = names(&out.path().join("blobs/sha256"));
    assert!(!blobs.contains(&layer[7..].to_string()), "{blobs:?}");
    assert!(
        !names(out.path()).iter().any(|n| n.starts_with(".partial-")),
        "{:?}",
        names(out.path())
    );

    // A manifest whose content is not the digest asked for.
    let out = tempfile::tempdir().unwrap();
    let e = plugin
        .get(
            &Invocation::new(Grants::none().network(server.grant()).output(out.path())),
            &source,
            &version("latest", &lying_manifest_digest),
            &json!({}),
        )
        .await
        .unwrap_err();
    let message = failed(e);
    assert!(
        message.contains(&format!(
            "digest mismatch: expected {lying_manifest_digest}, the content received has {digest}; refusing it"
        )),
        "{message}"
    );
    assert!(names(out.path()).is_empty(), "{:?}", names(out.path()));
}

/// Blob downloads redirected to a storage host (as registries on S3 or a CDN do): followed
/// when that host is granted, without the registry's credentials; refused, naming it,
/// when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_downloads_follow_redirects_to_a_granted_storage_host() {
    let image = Image::new("linux/amd64", &[3000, 4000]);
    let digest = image.digest();
    let blobs: BTreeMap<String, Vec<u8>> = image
        .blobs()
        .into_iter()
        .map(|b| (sha256(b), b.to_vec()))
        .collect();
    let seen_by_storage: Arc<Mutex<Vec<Request>>> = Arc::default();
    let seen = seen_by_storage.clone();
    let stored = blobs.clone();
    let storage = Hostile::start(move |r| {
        seen.lock().unwrap().push(r.clone());
        let key = r.path().trim_start_matches("/bucket/");
        match stored.get(key) {
            Some(bytes) => Some((200, vec![], bytes.clone())),
            None => Some((404, vec![], Vec::new())),
        }
    })
    .await;
    let storage_port = storage.port;
    let manifest = image.manifest.clone();
    let expected = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
    let registry = Hostile::start(move |r| {
        if r.header("authorization") != Some(expected.as_str()) {
            return Some((
                401,
                vec![(
                    "WWW-Authenticate".to_string(),
                    "Basic realm=\"registry\"".to_string(),
                )],
                Vec::new(),
            ));
        }
        let path = r.path();
        if path.starts_with("/v2/team/app/manifests/") {
            return Some((
                200,
                vec![("Content-Type".to_string(), OCI_MANIFEST.to_string())],
                manifest.clone(),
            ));
        }
        match path.strip_prefix("/v2/team/app/blobs/") {
            Some(digest) => Some((
                307,
                vec![(
                    "Location".to_string(),
                    format!("http://127.0.0.1:{storage_port}/bucket/{digest}?signature=x"),
                )],
                Vec::new(),
            )),
            None => Some((404, vec![], Vec::new())),
        }
    })
    .await;
    let plugin = plugin().await;
    let source = json!({"repository": registry.repository("team/app"), "tag": "1.0.0", "username": USER, "password": PASSWORD});

    let out = tempfile::tempdir().unwrap();
    let both = Grants::none()
        .network(registry.grant())
        .network(storage.grant());
    plugin
        .get(
            &Invocation::new(both.output(out.path())),
            &source,
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap();
    verify_layout(out.path(), false);
    let requests = seen_by_storage.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests.iter().all(|r| r.header("authorization").is_none()),
        "the registry's credentials must not reach the storage host: {requests:?}"
    );

    // The storage host not granted: refused, naming it.
    let out = tempfile::tempdir().unwrap();
    let e = plugin
        .get(
            &Invocation::new(Grants::none().network(registry.grant()).output(out.path())),
            &source,
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap_err();
    let message = failed(e);
    assert!(
        message.contains(&format!(
            "grant `127.0.0.1:{storage_port}` in `grants.network`"
        )),
        "{message}"
    );
    assert!(
        names(&out.path().join("blobs/sha256")).len() == 1,
        "only the manifest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_never_answers_is_stopped_by_the_deadline() {
    let server = Hostile::start(|_| None).await;
    let plugin = plugin().await;
    let inv = Invocation::new(Grants::none().network(server.grant()))
        .limits(Limits::default().with_deadline(Duration::from_secs(2)));
    let started = Instant::now();
    let e = plugin
        .check(
            &inv,
            &json!({"repository": server.repository("team/app")}),
            None,
        )
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(e, InvokeError::Deadline { .. }),
        "expected the deadline to stop it: {e}"
    );
    assert!(
        e.to_string()
            .starts_with("plugin `registry-image` exceeded its 2 s check deadline and was stopped"),
        "{e}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_larger_than_the_disk_limit_stops_the_get() {
    let registry = RegistryServer::start(Options::default());
    let image = Image::new("linux/amd64", &[6 << 20]);
    let digest = image.push(&registry.pusher(), "team/app", &["1.0.0"]).await;
    let plugin = plugin().await;
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(Grants::none().network(registry.grant()).output(out.path())).limits(
        Limits {
            disk_bytes: 2 << 20,
            ..Limits::default()
        },
    );
    let e = plugin
        .get(
            &inv,
            &json!({"repository": registry.repository("team/app"), "tag": "1.0.0"}),
            &version("1.0.0", &digest),
            &json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            InvokeError::DiskLimit {
                key: "disk_size",
                ..
            }
        ),
        "{e}"
    );
    let layer = &sha256(&image.layers[0])[7..];
    assert!(!out.path().join("blobs/sha256").join(layer).exists());
}
