//! The `s3` resource type against a real S3-compatible server: moto (PyPI `moto[server]`,
//! installed by `tests/servers/moto.sh`) on 127.0.0.1, plain and behind TLS with a test CA;
//! keys versioned by a regexp, object versions of a versioned bucket, a multipart upload; and
//! a lying server (an object whose bytes are not its ETag's), the disk limit, an ungranted
//! endpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::common::load;
use lockgate::plugin_host::{
    Grants, Invocation, InvokeError, Limits, LogSource, MemorySink, NetworkGrant, Plugin, Version,
};
use lockgate_test_artifacts as artifacts;
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY_ID: &str = "AKIDLOCKGATETEST";
const SECRET: &str = "lockgate-test-secret";

/// The `moto_server` binary: `$MOTO_SERVER`, else installed by `tests/servers/moto.sh` (once
/// per test process). A missing server fails the test; nothing is skipped.
fn moto_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Ok(path) = std::env::var("MOTO_SERVER") {
                return PathBuf::from(path);
            }
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/moto.sh");
            let out = Command::new("bash")
                .arg(&script)
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// A moto server on a free port of 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {port} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn grant(&self) -> NetworkGrant {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    /// Creates `bucket` (moto takes unsigned requests), with versioning when asked.
    async fn bucket(&self, bucket: &str, versioned: bool) {
        let (status, body) = raw(self.port, "PUT", &format!("/{bucket}"), b"").await;
        assert_eq!(status, 200, "creating {bucket}: {body}");
        if versioned {
            let config =
                b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
            let (status, body) =
                raw(self.port, "PUT", &format!("/{bucket}?versioning"), config).await;
            assert_eq!(status, 200, "versioning {bucket}: {body}");
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 request; the status and the body as text.
async fn raw(port: u16, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn source(endpoint: &str, bucket: &str, extra: Value) -> Value {
    let mut s = json!({
        "bucket": bucket,
        "endpoint": endpoint,
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
    });
    s.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    s
}

/// Puts `name` with `content` through the plugin, with `grants` (the input added).
async fn put(
    plugin: &Plugin,
    grants: &Grants,
    source: &Value,
    name: &str,
    content: &[u8],
) -> Version {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join(name), content).unwrap();
    let inv = Invocation::new(grants.clone().input("build", input.path()));
    plugin
        .put(&inv, source, &json!({"file": format!("build/{name}")}))
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e}"))
        .version
}

fn versions(list: &[Version], field: &str) -> Vec<String> {
    list.iter()
        .map(|v| v.get(field).unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_versioned_by_a_regexp_round_trip_through_moto() {
    let moto = Moto::start().await;
    moto.bucket("releases", false).await;
    let plugin = load(artifacts::S3).await;
    let source = source(
        &moto.endpoint(),
        "releases",
        json!({"regexp": r"apps/app-(.*)\.tgz"}),
    );
    let grant = moto.grant();
    for v in ["1.2.0", "1.10.0", "1.9.1"] {
        let made = put(
            &plugin,
            &Grants::none().network(grant.clone()),
            &source,
            &format!("app-{v}.tgz"),
            format!("app {v}").as_bytes(),
        )
        .await;
        assert_eq!(made.get("path"), Some(format!("apps/app-{v}.tgz").as_str()));
        assert_eq!(made.get("version"), Some(v));
    }
    // An object the regexp does not match is no version.
    let (status, _) = raw(moto.port, "PUT", "/releases/apps/notes.txt", b"notes").await;
    assert_eq!(status, 200);

    let ro = Invocation::new(Grants::none().network(grant.clone()));
    let latest = plugin.check(&ro, &source, None).await.unwrap();
    assert_eq!(versions(&latest, "version"), ["1.10.0"]);
    let from = Version::new()
        .with("version", "1.2.0")
        .with("path", "apps/app-1.2.0.tgz");
    let all = plugin.check(&ro, &source, Some(&from)).await.unwrap();
    assert_eq!(versions(&all, "version"), ["1.2.0", "1.9.1", "1.10.0"]);

    let out = tempfile::tempdir().unwrap();
    let fetched = plugin
        .get(
            &Invocation::new(Grants::none().network(grant.clone()).output(out.path())),
            &source,
            &all[1],
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(fetched.version, all[1]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("app-1.9.1.tgz")).unwrap(),
        "app 1.9.1"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("version")).unwrap(),
        "1.9.1"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("url")).unwrap(),
        format!("{}/releases/apps/app-1.9.1.tgz", moto.endpoint())
    );
    let size = fetched
        .metadata
        .iter()
        .find(|(k, _)| k == "size")
        .map(|(_, v)| v.as_str());
    assert_eq!(size, Some("9"));

    // A file whose name the regexp does not match is refused before anything is sent.
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("other.zip"), "x").unwrap();
    let inv = Invocation::new(
        Grants::none()
            .network(grant.clone())
            .input("build", input.path()),
    );
    let err = plugin
        .put(&inv, &source, &json!({"file": "build/*.zip"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the key `apps/other.zip` (the file `other.zip` under `apps/`) does not match source.regexp"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_versions_and_a_multipart_upload() {
    let moto = Moto::start().await;
    moto.bucket("state", true).await;
    let plugin = load(artifacts::S3).await;
    let grant = moto.grant();
    let source = source(
        &moto.endpoint(),
        "state",
        json!({"versioned_file": "env/terraform.tfstate"}),
    );
    let rw = Grants::none().network(grant.clone());
    let first = put(
        &plugin,
        &rw,
        &source,
        "terraform.tfstate",
        b"{\"serial\": 1}",
    )
    .await;
    // 20 MiB: more than one 16 MiB part.
    let big: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let second = put(&plugin, &rw, &source, "terraform.tfstate", &big).await;
    assert_ne!(first.get("version_id"), second.get("version_id"));

    let ro = Invocation::new(Grants::none().network(grant.clone()));
    let all = plugin.check(&ro, &source, Some(&first)).await.unwrap();
    assert_eq!(all, vec![first.clone(), second.clone()]);

    for (version, expected) in [(&first, b"{\"serial\": 1}".to_vec()), (&second, big)] {
        let out = tempfile::tempdir().unwrap();
        plugin
            .get(
                &Invocation::new(Grants::none().network(grant.clone()).output(out.path())),
                &source,
                version,
                &json!({}),
            )
            .await
            .unwrap();
        let got = std::fs::read(out.path().join("terraform.tfstate")).unwrap();
        assert!(got == expected, "version {version}: {} bytes", got.len());
    }

    // A bucket without versioning has no version ids: put says so.
    moto.bucket("plain", false).await;
    let source = json!({
        "bucket": "plain", "endpoint": moto.endpoint(), "versioned_file": "x",
        "access_key_id": KEY_ID, "secret_access_key": SECRET
    });
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("x"), "x").unwrap();
    let inv = Invocation::new(Grants::none().network(grant).input("build", input.path()));
    let err = plugin
        .put(&inv, &source, &json!({"file": "build/x"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is versioning enabled on the bucket?"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_grants_errors_and_the_disk_limit() {
    let moto = Moto::start().await;
    moto.bucket("releases", false).await;
    let plugin = load(artifacts::S3).await;

    // Behind TLS with a test CA the step's grants trust.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate test CA");
    let ca_file = ca.write_pem(dir.path(), "ca.pem");
    let front = HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Forward(format!("127.0.0.1:{}", moto.port).parse().unwrap()),
    )
    .await;
    let front_grant: NetworkGrant = format!("localhost:{}", front.port()).parse().unwrap();
    let tls = Grants::none()
        .network(front_grant.clone())
        .ca_certificate(&ca_file);
    let over_tls = source(
        &front.url("localhost", ""),
        "releases",
        json!({"regexp": r"app-(.*)\.tgz"}),
    );
    let big: Vec<u8> = vec![7; 4 << 20];
    put(&plugin, &tls, &over_tls, "app-1.0.0.tgz", &big).await;
    let found = plugin
        .check(&Invocation::new(tls.clone()), &over_tls, None)
        .await
        .unwrap();
    assert_eq!(versions(&found, "version"), ["1.0.0"]);

    // The CA not trusted: the check fails naming the certificate, the log says why.
    let sink = MemorySink::new();
    let inv = Invocation::new(Grants::none().network(front_grant)).log(Arc::new(sink.clone()));
    let err = plugin.check(&inv, &over_tls, None).await.unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(
        sink.lines().iter().any(|l| l.source == LogSource::Engine
            && l.message.starts_with("TLS: the certificate of localhost:")),
        "{:?}",
        sink.lines()
    );

    // Not granted at all.
    let plain = source(
        &moto.endpoint(),
        "releases",
        json!({"regexp": r"app-(.*)\.tgz"}),
    );
    let err = plugin
        .check(&Invocation::new(Grants::none()), &plain, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not granted"), "{err}");

    // A bucket that does not exist: S3's own words.
    let missing = source(
        &moto.endpoint(),
        "nope",
        json!({"regexp": r"app-(.*)\.tgz"}),
    );
    let err = plugin
        .check(
            &Invocation::new(Grants::none().network(moto.grant())),
            &missing,
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");

    // An object larger than the invocation may write: the disk limit stops the download.
    let out = tempfile::tempdir().unwrap();
    let inv =
        Invocation::new(Grants::none().network(moto.grant()).output(out.path())).limits(Limits {
            disk_bytes: 1 << 20,
            ..Limits::default()
        });
    let err = plugin
        .get(&inv, &plain, &found[0], &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::DiskLimit { .. }), "{err}");
}

/// A server that lists `app-1.0.0.tgz` as 5 bytes with the ETag (MD5) of `hello` and then
/// serves `HELLO`.
async fn lying_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let body = if head.contains("list-type=2") {
                    // md5("hello") = 5d41402abc4b2a76b9719d911017c592
                    "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>app-1.0.0.tgz</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>".to_owned()
                } else {
                    "HELLO".to_owned()
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_the_objects_are_refused_and_nothing_is_left() {
    let (port, server) = lying_server().await;
    let plugin = load(artifacts::S3).await;
    let source = source(
        &format!("http://127.0.0.1:{port}"),
        "b",
        json!({"regexp": r"app-(.*)\.tgz"}),
    );
    let grants = Grants::none().network(format!("127.0.0.1:{port}").parse().unwrap());
    let found = plugin
        .check(&Invocation::new(grants.clone()), &source, None)
        .await
        .unwrap();
    assert_eq!(versions(&found, "version"), ["1.0.0"]);
    let out = tempfile::tempdir().unwrap();
    let err = plugin
        .get(
            &Invocation::new(grants.output(out.path())),
            &source,
            &found[0],
            &json!({}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "downloading `app-1.0.0.tgz`: its MD5 is eb61eead90e3b899c6bcbe27ac581660, its ETag says 5d41402abc4b2a76b9719d911017c592"
        ),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("app-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    server.abort();
}
