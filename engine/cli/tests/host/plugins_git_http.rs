//! Resource type `git` (`plugins/git`) against a real git server: git's own `git
//! http-backend` behind the CGI server of `lockgate-test-git` on 127.0.0.1, plain and over
//! TLS with basic authentication. Checks and gets over smart HTTP (protocol v2) with the
//! mirror in `/cache` fetching only what is new; a shallow fetch; GitOps `put` (a YAML value
//! committed and pushed, again on top of a concurrent push, refused by a hook); and hostile
//! servers: a truncated pack, one that never answers, wrong credentials, an untrusted
//! certificate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{load, plugin_failure};
use lockgate::plugin_host::{
    Grants, Invocation, InvokeError, Limits, NetworkGrant, Plugin, PluginFailure, Version,
};
use lockgate_test_artifacts as artifacts;
use lockgate_test_git::{GitServer, Options, WorkRepo};
use lockgate_test_tls::TestCa;
use serde_json::{Value, json};

fn grant(server: &GitServer) -> NetworkGrant {
    format!("127.0.0.1:{}", server.port()).parse().unwrap()
}

fn refs(versions: &[Version]) -> Vec<&str> {
    versions.iter().map(|v| v.get("ref").unwrap()).collect()
}

fn from(id: &str) -> Version {
    Version::new().with("ref", id)
}

/// The POSTs to `git-upload-pack` the server answered so far (ls-refs and fetch).
fn upload_pack_posts(server: &GitServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path().ends_with("/git-upload-pack"))
        .count()
}

/// The mirror the plugin keeps under `cache` (its only `git-*` directory).
fn mirror(cache: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("git-"))
        .collect();
    assert_eq!(dirs.len(), 1, "one mirror in {}: {dirs:?}", cache.display());
    dirs.into_iter().next().unwrap()
}

/// `git` on the host, for inspecting what the plugin left.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn packs(mirror: &Path) -> usize {
    std::fs::read_dir(mirror.join("objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count()
}

/// The plugin, and an invocation granted the server with a `/cache` of its own.
struct Client {
    plugin: Plugin,
    cache: tempfile::TempDir,
    inv: Invocation,
}

async fn client(server: &GitServer) -> Client {
    let cache = tempfile::tempdir().unwrap();
    Client {
        plugin: load(artifacts::GIT).await,
        inv: Invocation::new(Grants::none().network(grant(server)).cache(cache.path())),
        cache,
    }
}

/// A git server that takes pushes.
async fn pushable() -> GitServer {
    GitServer::start(Options {
        receive_pack: true,
        ..Options::default()
    })
    .await
}

/// A served repository `name` with one commit of `manifests/app.yml`; the working clone.
fn config_repo(server: &GitServer, name: &str) -> (WorkRepo, String) {
    server.create_bare(name);
    let mut work = server.work(name);
    work.write("manifests/app.yml", "instances: 2\n");
    work.write("README.md", "the platform's config\n");
    let c1 = work.commit("first");
    work.push();
    (work, c1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_and_gets_over_smart_http_fetch_only_what_is_new() {
    let server = GitServer::start(Options::default()).await;
    let (mut work, c1) = config_repo(&server, "config");
    let plugin = load(artifacts::GIT).await;
    let cache = tempfile::tempdir().unwrap();
    let grants = Grants::none().network(grant(&server)).cache(cache.path());
    let inv = Invocation::new(grants.clone());
    let source = json!({"uri": server.url("config")});

    assert_eq!(
        refs(&plugin.check(&inv, &source, None).await.unwrap()),
        [&c1]
    );
    assert_eq!(upload_pack_posts(&server), 2, "ls-refs, then fetch");
    let mirror = mirror(cache.path());
    assert_eq!(git(&mirror, &["rev-parse", "refs/heads/main"]), c1);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("Git-Protocol") == Some("version=2")),
        "every request speaks protocol version 2"
    );

    work.write("docs/guide.md", "hello\n");
    let c2 = work.commit("docs only");
    work.write("manifests/app.yml", "instances: 3\n");
    let c3 = work.commit("scale to 3");
    work.push();
    let all = plugin.check(&inv, &source, Some(&from(&c1))).await.unwrap();
    assert_eq!(refs(&all), [&c1, &c2, &c3]);
    // The second fetch brought only the new commits, in a second pack.
    assert_eq!(packs(&mirror), 2);
    let mut commits_per_pack: Vec<usize> = std::fs::read_dir(mirror.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .map(|idx| {
            let out = git(&mirror, &["verify-pack", "-v", idx.to_str().unwrap()]);
            out.lines().filter(|l| l.contains(" commit ")).count()
        })
        .collect();
    commits_per_pack.sort();
    assert_eq!(
        commits_per_pack,
        [1, 2],
        "the newer pack holds the new commits only"
    );
    git(&mirror, &["fsck", "--strict"]);

    // Nothing new: one ls-refs, no fetch.
    let before = upload_pack_posts(&server);
    assert_eq!(
        refs(&plugin.check(&inv, &source, Some(&from(&c3))).await.unwrap()),
        [&c3]
    );
    assert_eq!(upload_pack_posts(&server), before + 1);

    // Path filters work on the fetched history.
    let filtered = json!({"uri": server.url("config"), "paths": ["manifests/**"]});
    assert_eq!(
        refs(
            &plugin
                .check(&inv, &filtered, Some(&from(&c1)))
                .await
                .unwrap()
        ),
        [&c1, &c3]
    );

    // get from the mirror, and from an empty cache (it fetches).
    let fresh = tempfile::tempdir().unwrap();
    for cache in [cache.path(), fresh.path()] {
        let out = tempfile::tempdir().unwrap();
        let inv = Invocation::new(
            Grants::none()
                .network(grant(&server))
                .cache(cache)
                .output(out.path()),
        );
        let fetched = plugin
            .get(&inv, &source, &from(&c2), &json!({}))
            .await
            .unwrap();
        assert_eq!(fetched.version, from(&c2));
        assert_eq!(
            std::fs::read_to_string(out.path().join("manifests/app.yml")).unwrap(),
            "instances: 2\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.path().join("docs/guide.md")).unwrap(),
            "hello\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.path().join(".git-ref")).unwrap(),
            format!("{c2}\n")
        );
    }

    // A branch that does not exist, and a repository that does not.
    let e = plugin
        .check(
            &inv,
            &json!({"uri": server.url("config"), "branch": "nope"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("branch `nope` does not exist at"))
    );
    let e = plugin
        .check(&inv, &json!({"uri": server.url("missing")}), None)
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("(404)")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_and_a_shallow_fetch() {
    let server = GitServer::start(Options::default()).await;
    let (mut work, _c1) = config_repo(&server, "config");
    let c2 = {
        work.write("manifests/app.yml", "instances: 4\n");
        work.commit("two")
    };
    work.write("manifests/app.yml", "instances: 5\n");
    let c3 = work.commit("three");
    work.push();
    let Client { plugin, cache, inv } = client(&server).await;
    let shallow = json!({"uri": server.url("config"), "depth": 1});
    assert_eq!(
        refs(&plugin.check(&inv, &shallow, None).await.unwrap()),
        [&c3]
    );
    let mirror = mirror(cache.path());
    assert_eq!(
        std::fs::read_to_string(mirror.join("shallow")).unwrap(),
        format!("{c3}\n"),
        "one commit fetched: the head is the shallow boundary"
    );
    // A `from` behind the shallow boundary counts as gone: the newest only.
    assert_eq!(
        refs(
            &plugin
                .check(&inv, &shallow, Some(&from(&c2)))
                .await
                .unwrap()
        ),
        [&c3]
    );
    // New commits are fetched on top of the shallow history.
    work.write("manifests/app.yml", "instances: 6\n");
    let c4 = work.commit("four");
    work.push();
    assert_eq!(
        refs(
            &plugin
                .check(&inv, &shallow, Some(&from(&c3)))
                .await
                .unwrap()
        ),
        [&c3, &c4]
    );

    // Rewritten history: the old version is no longer on the branch.
    work.git(&["reset", "-q", "--hard", &c2]);
    work.write("manifests/app.yml", "instances: 7\n");
    let rewritten = work.commit("rewritten");
    work.push_force();
    let cache = tempfile::tempdir().unwrap();
    let inv = Invocation::new(Grants::none().network(grant(&server)).cache(cache.path()));
    let full = json!({"uri": server.url("config")});
    assert_eq!(
        refs(&plugin.check(&inv, &full, Some(&from(&c4))).await.unwrap()),
        [&rewritten]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_basic_auth_and_hostile_answers() {
    let ca = TestCa::new("git test CA");
    let ca_dir = tempfile::tempdir().unwrap();
    let pem = ca.write_pem(ca_dir.path(), "ca.pem");
    let server = GitServer::start(Options {
        tls: Some(ca.server_config(&["127.0.0.1", "localhost"])),
        basic_auth: Some(("ops".into(), "s3cret".into())),
        ..Options::default()
    })
    .await;
    let (_work, c1) = config_repo(&server, "config");
    assert!(server.url("config").starts_with("https://"));
    let plugin = load(artifacts::GIT).await;
    let cache = tempfile::tempdir().unwrap();
    let trusted = Invocation::new(
        Grants::none()
            .network(grant(&server))
            .cache(cache.path())
            .ca_certificate(&pem),
    );
    let with = |extra: Value| {
        let mut s = json!({"uri": server.url("config")});
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    };
    let ok = with(json!({"username": "ops", "password": "s3cret"}));
    assert_eq!(
        refs(&plugin.check(&trusted, &ok, None).await.unwrap()),
        [&c1]
    );
    // A token is the password of basic authentication.
    let token = with(json!({"username": "ops", "token": "s3cret"}));
    assert_eq!(
        refs(&plugin.check(&trusted, &token, None).await.unwrap()),
        [&c1]
    );

    let failed = |e: InvokeError| match plugin_failure(e) {
        PluginFailure::Failed(m) => m,
        other => panic!("expected failed, got {other:?}"),
    };
    let m = failed(
        plugin
            .check(&trusted, &with(json!({})), None)
            .await
            .unwrap_err(),
    );
    assert!(m.contains("the server asks for credentials (401)"), "{m}");
    let m = failed(
        plugin
            .check(
                &trusted,
                &with(json!({"username": "ops", "password": "wrong"})),
                None,
            )
            .await
            .unwrap_err(),
    );
    assert!(
        m.contains("the server refused the credentials (401)"),
        "{m}"
    );
    assert!(!m.contains("wrong"), "the password is not repeated: {m}");
    // Without the CA: the certificate does not verify, and the message names the host.
    let untrusted = Invocation::new(Grants::none().network(grant(&server)).cache(cache.path()));
    let m = failed(plugin.check(&untrusted, &ok, None).await.unwrap_err());
    assert!(m.contains("TLS") && m.contains("127.0.0.1"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_pack_is_refused_and_the_cache_kept_as_it_was() {
    let server = GitServer::start(Options {
        truncate_upload_pack: Some(2000),
        ..Options::default()
    })
    .await;
    server.create_bare("big");
    let mut work = server.work("big");
    // Content that does not compress: the pack is far larger than the cut.
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    work.write("blob.bin", &noise);
    work.commit("noise");
    work.push();
    let Client { plugin, cache, inv } = client(&server).await;
    let e = plugin
        .check(&inv, &json!({"uri": server.url("big")}), None)
        .await
        .unwrap_err();
    let m = match plugin_failure(e) {
        PluginFailure::Failed(m) => m,
        other => panic!("expected failed, got {other:?}"),
    };
    assert!(m.contains("the connection was cut"), "{m}");
    assert_eq!(packs(&mirror(cache.path())), 0, "nothing half-written kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_stopped_by_the_deadline() {
    let server = GitServer::start(Options {
        silent: true,
        ..Options::default()
    })
    .await;
    let plugin = load(artifacts::GIT).await;
    let cache = tempfile::tempdir().unwrap();
    let inv = Invocation::new(Grants::none().network(grant(&server)).cache(cache.path()))
        .limits(Limits::default().with_deadline(Duration::from_secs(2)));
    let started = Instant::now();
    let e = plugin
        .check(&inv, &json!({"uri": server.url("config")}), None)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    match &e {
        InvokeError::Deadline { .. } => {}
        InvokeError::Plugin {
            failure: PluginFailure::Failed(m),
            ..
        } => assert!(
            m.contains("did not answer in time") || m.contains("timeout"),
            "{m}"
        ),
        other => panic!("expected the deadline, got {other}"),
    }
}

const VALUES: &str = "\
# Production of the platform.
image:
  repository: registry.example/app   # where it comes from
  digest: sha256:old                 # set by Lockgate
instances: 3
";

/// An environment repository served with pushes allowed; the working clone.
fn env_repo(server: &GitServer) -> WorkRepo {
    server.create_bare("envs");
    let mut work = server.work("envs");
    work.write("production/values.yaml", VALUES);
    work.write("staging/values.yaml", VALUES);
    work.commit("environments");
    work.push();
    work
}

fn put_params(value: &str) -> Value {
    json!({
        "file": "production/values.yaml",
        "key": "image.digest",
        "value": value,
        "message": "Promote app to production",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_commits_a_yaml_value_and_pushes_it() {
    let server = pushable().await;
    let work = env_repo(&server);
    let head = work.git(&["rev-parse", "HEAD"]);
    let Client { plugin, cache, inv } = client(&server).await;
    let source = json!({"uri": server.url("envs")});

    let pushed = plugin
        .put(&inv, &source, &put_params("sha256:new"))
        .await
        .unwrap();
    let commit = pushed.version.get("ref").unwrap().to_string();
    let bare = server.repo_path("envs");
    assert_eq!(git(&bare, &["rev-parse", "main"]), commit);
    assert_eq!(git(&bare, &["rev-parse", "main^"]), head);
    assert_eq!(
        git(&bare, &["show", "main:production/values.yaml"]),
        VALUES
            .replace(
                "sha256:old                 #",
                "sha256:new                 #"
            )
            .trim_end(),
        "only the value changed; comments and alignment kept"
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%an <%ae>|%s"]),
        "Lockgate <lockgate@localhost>|Promote app to production"
    );
    git(&bare, &["fsck", "--strict"]);
    let meta = |k: &str| {
        pushed
            .metadata
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(meta("changed").as_deref(), Some("true"));
    assert_eq!(meta("parent").as_deref(), Some(head.as_str()));

    // The same value again: nothing to commit, the head is the version.
    let again = plugin
        .put(&inv, &source, &put_params("sha256:new"))
        .await
        .unwrap();
    assert_eq!(again.version.get("ref"), Some(commit.as_str()));
    assert_eq!(git(&bare, &["rev-parse", "main"]), commit);

    // A check sees the pushed commit without another fetch of it.
    assert_eq!(
        refs(&plugin.check(&inv, &source, None).await.unwrap()),
        [&commit]
    );

    // The value from a file of an input (e.g. the digest a registry-image get wrote).
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("digest"), "sha256:fromfile\n").unwrap();
    let inv_in = Invocation::new(
        Grants::none()
            .network(grant(&server))
            .cache(cache.path())
            .input("image", input.path()),
    );
    let params =
        json!({"file": "staging/values.yaml", "key": "image.digest", "value_file": "image/digest"});
    plugin.put(&inv_in, &source, &params).await.unwrap();
    assert!(git(&bare, &["show", "main:staging/values.yaml"]).contains("digest: sha256:fromfile "),);

    // Several keys in one commit.
    let before = git(&bare, &["rev-parse", "main"]);
    let several = json!({"file": "production/values.yaml", "set": [
        {"key": "image.digest", "value": "sha256:both"},
        {"key": "instances", "value": "5"},
    ]});
    let pushed = plugin.put(&inv, &source, &several).await.unwrap();
    assert_eq!(git(&bare, &["rev-parse", "main^"]), before, "one commit");
    let values = git(&bare, &["show", "main:production/values.yaml"]);
    assert!(
        values.contains("digest: sha256:both ") && values.contains("instances: 5"),
        "{values}"
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%s"]),
        "Set image.digest to sha256:both, instances to 5 in production/values.yaml"
    );
    assert_eq!(
        pushed.version.get("ref"),
        Some(git(&bare, &["rev-parse", "main"]).as_str())
    );

    // A key that is not there, a file that is not there: nothing pushed.
    let before = git(&bare, &["rev-parse", "main"]);
    let bad_key = json!({"file": "production/values.yaml", "key": "image.tag", "value": "x"});
    let e = plugin.put(&inv, &source, &bad_key).await.unwrap_err();
    assert!(matches!(plugin_failure(e), PluginFailure::Failed(m) if m.contains("image.tag")),);
    let bad_file = json!({"file": "qa/values.yaml", "key": "image.digest", "value": "x"});
    let e = plugin.put(&inv, &source, &bad_file).await.unwrap_err();
    assert!(
        matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("qa/values.yaml")),
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), before);
}

/// Installs `hooks/pre-receive` in the bare repository `bare`.
fn hook(bare: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = bare.join("hooks/pre-receive");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_edits_the_new_head_after_a_concurrent_push_and_stops_on_a_hook_refusal() {
    let server = pushable().await;
    let mut work = env_repo(&server);
    // Someone else's commit, waiting on a side branch; the hook moves `main` to it during
    // Lockgate's first push (as a push that won the race would) and refuses that push.
    work.write(
        "staging/values.yaml",
        VALUES.replace("instances: 3", "instances: 4"),
    );
    let theirs = work.commit("scale staging");
    work.git(&["push", "-q", "origin", "HEAD:refs/heads/side"]);
    let bare = server.repo_path("envs");
    hook(
        &bare,
        // (Outside the push's quarantine, where git forbids updating refs.)
        "if [ ! -e raced ]; then touch raced; env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main refs/heads/side; echo 'main moved' >&2; exit 1; fi",
    );
    let Client {
        plugin,
        cache: _cache,
        inv,
    } = client(&server).await;
    let source = json!({"uri": server.url("envs")});
    let pushed = plugin
        .put(&inv, &source, &put_params("sha256:new"))
        .await
        .unwrap();
    let commit = pushed.version.get("ref").unwrap().to_string();
    assert_eq!(git(&bare, &["rev-parse", "main"]), commit);
    assert_eq!(
        git(&bare, &["rev-parse", "main^"]),
        theirs,
        "rebased on their commit"
    );
    assert!(git(&bare, &["show", "main:staging/values.yaml"]).contains("instances: 4"));
    assert!(git(&bare, &["show", "main:production/values.yaml"]).contains("digest: sha256:new "));

    // A hook that always refuses: the branch did not move, so no retry loop.
    hook(&bare, "echo 'production is frozen' >&2; exit 1");
    let before = upload_pack_posts(&server);
    let e = plugin
        .put(&inv, &source, &put_params("sha256:newer"))
        .await
        .unwrap_err();
    let m = match plugin_failure(e) {
        PluginFailure::Failed(m) => m,
        other => panic!("expected failed, got {other:?}"),
    };
    assert!(
        m.contains("refused the push") && m.contains("production is frozen"),
        "{m}"
    );
    let pushes = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path().ends_with("/git-receive-pack"))
        .count();
    assert_eq!(
        pushes, 3,
        "two pushes before, one for the refused put: no retry"
    );
    assert_eq!(upload_pack_posts(&server), before, "nothing new to fetch");
    assert_eq!(git(&bare, &["rev-parse", "main"]), commit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_over_smart_http_are_listed_without_a_fetch_and_got_by_tag() {
    let server = GitServer::start(Options::default()).await;
    let (mut work, c1) = config_repo(&server, "config");
    work.git(&["tag", "-a", "-m", "first release", "v1.9.0"]);
    work.write("manifests/app.yml", "instances: 4\n");
    let c2 = work.commit("two");
    work.git(&["tag", "v1.10.0"]);
    work.git(&["tag", "nightly"]);
    work.push();
    work.git(&["push", "-q", "origin", "--tags"]);
    let Client { plugin, cache, inv } = client(&server).await;
    let source = json!({"uri": server.url("config"), "tag_filter": "v*"});
    let from = Version::new().with("ref", &c1).with("tag", "v1.9.0");
    let versions = plugin.check(&inv, &source, Some(&from)).await.unwrap();
    assert_eq!(
        versions,
        [
            from.clone(),
            Version::new().with("ref", &c2).with("tag", "v1.10.0")
        ]
    );
    assert_eq!(upload_pack_posts(&server), 1, "one ls-refs, no fetch");

    // get of the annotated tag into an empty cache fetches it by its tag.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .network(grant(&server))
            .cache(cache.path())
            .output(out.path()),
    );
    let fetched = plugin.get(&inv, &source, &from, &json!({})).await.unwrap();
    assert_eq!(fetched.version, from);
    assert_eq!(
        std::fs::read_to_string(out.path().join("manifests/app.yml")).unwrap(),
        "instances: 2\n"
    );
    // A tag moved since the check is not silently another commit.
    work.git(&["tag", "-f", "-a", "-m", "moved", "v1.9.0", &c2]);
    work.git(&["push", "-q", "-f", "origin", "refs/tags/v1.9.0"]);
    let fresh = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .network(grant(&server))
            .cache(fresh.path())
            .output(out.path()),
    );
    let e = plugin
        .get(&inv, &source, &from, &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("it was moved")),);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_larger_than_the_memory_limit_stops_the_plugin_with_the_limit_named() {
    let server = GitServer::start(Options::default()).await;
    server.create_bare("big");
    let mut work = server.work("big");
    // 24 MiB that do not compress, against a 16 MiB memory limit.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..24 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    work.write("blob.bin", &noise);
    work.commit("big");
    work.push();
    let plugin = load(artifacts::GIT).await;
    let cache = tempfile::tempdir().unwrap();
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let inv =
        Invocation::new(Grants::none().network(grant(&server)).cache(cache.path())).limits(limits);
    let e = plugin
        .check(&inv, &json!({"uri": server.url("big")}), None)
        .await
        .unwrap_err();
    assert!(matches!(e, InvokeError::MemoryLimit { .. }), "{e}");
    assert!(
        e.to_string().contains("hit its memory limit of 16 MiB"),
        "{e}"
    );
    assert_eq!(packs(&mirror(cache.path())), 0);
}
