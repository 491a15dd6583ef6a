//! The file-system resource types of `plugins/` through the real host, against real
//! temporary directories: `artifact-dir`, `file`, `time` and `env-dir` (issue 4 §1).
//! Round trips of describe/check/get/put, Concourse `from` semantics, overwrite refusal,
//! release retention, missing grants and invalid configuration.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{load, plugin_failure};
use lockgate::plugin_host::{Grants, Invocation, PluginFailure, PluginKind, Version};
use lockgate_test_artifacts as artifacts;
use serde_json::{Value, json};

fn sha256(bytes: &[u8]) -> String {
    lockgate::model::sha256_hex([bytes])
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn meta<'a>(metadata: &'a [(String, String)], name: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------- describe

#[tokio::test]
async fn every_fs_resource_type_describes_itself() {
    for (path, name) in [
        (artifacts::ARTIFACT_DIR, "artifact-dir"),
        (artifacts::FILE, "file"),
        (artifacts::TIME, "time"),
        (artifacts::ENV_DIR, "env-dir"),
    ] {
        let plugin = load(path).await;
        let d = plugin.description();
        assert_eq!(d.name, name);
        assert_eq!(d.kind, PluginKind::ResourceType);
        assert!(!d.summary.is_empty(), "{name}");
        for schema in [&d.source_schema, &d.get_params_schema, &d.put_params_schema] {
            assert!(
                schema.as_ref().is_some_and(Value::is_object),
                "{name}: {schema:?}"
            );
        }
        assert!(d.capabilities.network.is_empty(), "{name}");
    }
}

// ---------------------------------------------------------------- artifact-dir

fn artifact(version: &str, file: &str) -> Version {
    Version::new().with("version", version).with("file", file)
}

#[tokio::test]
async fn artifact_dir_check_get_put_round_trip() {
    let releases = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("app-1.2.tgz", "one-two"),
        ("app-1.10.0.tgz", "one-ten"),
        ("app-1.9.0.tgz", "one-nine"),
        ("notes.txt", "not a version"),
    ] {
        write(&releases.path().join(name), body);
    }
    let plugin = load(artifacts::ARTIFACT_DIR).await;
    let source = json!({"dir": "/dirs/releases", "regexp": r"app-(.*)\.tgz"});
    let ro = Invocation::new(Grants::none().dir("releases", releases.path(), false));

    // Without `from`: only the newest, by semver (1.10.0 > 1.9.0 > 1.2).
    assert_eq!(
        plugin.check(&ro, &source, None).await.unwrap(),
        [artifact("1.10.0", "app-1.10.0.tgz")]
    );
    // With `from`: from itself and every newer one, oldest first.
    let from = artifact("1.2", "app-1.2.tgz");
    assert_eq!(
        plugin.check(&ro, &source, Some(&from)).await.unwrap(),
        [
            from.clone(),
            artifact("1.9.0", "app-1.9.0.tgz"),
            artifact("1.10.0", "app-1.10.0.tgz")
        ]
    );
    // A `from` that is gone: the newest.
    assert_eq!(
        plugin
            .check(&ro, &source, Some(&artifact("0.1.0", "app-0.1.0.tgz")))
            .await
            .unwrap(),
        [artifact("1.10.0", "app-1.10.0.tgz")]
    );

    // get: the file, its version and its digest.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("releases", releases.path(), false)
            .output(out.path()),
    );
    let got = plugin
        .get(
            &inv,
            &source,
            &artifact("1.9.0", "app-1.9.0.tgz"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(got.version, artifact("1.9.0", "app-1.9.0.tgz"));
    assert_eq!(read(&out.path().join("app-1.9.0.tgz")), "one-nine");
    assert_eq!(read(&out.path().join("version")), "1.9.0");
    assert_eq!(
        meta(&got.metadata, "sha256"),
        Some(sha256(b"one-nine").as_str())
    );
    assert_eq!(meta(&got.metadata, "size"), Some("8"));
    let missing = plugin
        .get(
            &inv,
            &source,
            &artifact("3.0.0", "app-3.0.0.tgz"),
            &json!({}),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        plugin_failure(missing),
        PluginFailure::NotFound(_)
    ));

    // put: publishes an input file matched by a glob; 1.5 MiB goes through in chunks.
    let build = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 253) as u8).collect();
    write(&build.path().join("out/app-2.0.0-rc.1.tgz"), &big);
    let rw = Invocation::new(
        Grants::none()
            .dir("releases", releases.path(), true)
            .input("build", build.path()),
    );
    let put = plugin
        .put(&rw, &source, &json!({"file": "build/out/app-*.tgz"}))
        .await
        .unwrap();
    assert_eq!(put.version, artifact("2.0.0-rc.1", "app-2.0.0-rc.1.tgz"));
    assert_eq!(meta(&put.metadata, "sha256"), Some(sha256(&big).as_str()));
    assert_eq!(
        std::fs::read(releases.path().join("app-2.0.0-rc.1.tgz")).unwrap(),
        big
    );
    assert_eq!(
        plugin
            .check(&ro, &source, Some(&artifact("1.10.0", "app-1.10.0.tgz")))
            .await
            .unwrap(),
        [
            artifact("1.10.0", "app-1.10.0.tgz"),
            artifact("2.0.0-rc.1", "app-2.0.0-rc.1.tgz")
        ]
    );
    // Publishing the same bytes again is a no-op.
    let again = plugin
        .put(
            &rw,
            &source,
            &json!({"file": "build/out/app-2.0.0-rc.1.tgz"}),
        )
        .await
        .unwrap();
    assert_eq!(again.version, put.version);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(releases.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn artifact_dir_refuses_to_overwrite_a_version_with_other_bytes() {
    let releases = tempfile::tempdir().unwrap();
    write(&releases.path().join("app-1.0.0.tgz"), "original");
    let build = tempfile::tempdir().unwrap();
    write(&build.path().join("app-1.0.0.tgz"), "tampered");
    write(&build.path().join("other-1.0.0.zip"), "x");
    let plugin = load(artifacts::ARTIFACT_DIR).await;
    let source = json!({"dir": "/dirs/releases", "regexp": r"app-(.*)\.tgz"});
    let rw = Invocation::new(
        Grants::none()
            .dir("releases", releases.path(), true)
            .input("build", build.path()),
    );
    let refused = plugin
        .put(&rw, &source, &json!({"file": "build/app-1.0.0.tgz"}))
        .await
        .unwrap_err();
    match plugin_failure(refused) {
        PluginFailure::Failed(m) => assert!(m.contains("refusing to overwrite"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(read(&releases.path().join("app-1.0.0.tgz")), "original");

    // A file whose name does not match the regexp is a configuration error.
    let mismatch = plugin
        .put(&rw, &source, &json!({"file": "build/other-1.0.0.zip"}))
        .await
        .unwrap_err();
    match plugin_failure(mismatch) {
        PluginFailure::InvalidConfig(m) => assert!(m.starts_with("params.file"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A glob matching several files too.
    let ambiguous = plugin
        .put(&rw, &source, &json!({"file": "build/*"}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(ambiguous), PluginFailure::InvalidConfig(m) if m.contains("exactly one"))
    );
}

#[tokio::test]
async fn artifact_dir_missing_grant_and_invalid_source() {
    let plugin = load(artifacts::ARTIFACT_DIR).await;
    let none = Invocation::new(Grants::none());
    let source = json!({"dir": "/dirs/releases", "regexp": r"app-(.*)\.tgz"});
    match plugin_failure(plugin.check(&none, &source, None).await.unwrap_err()) {
        PluginFailure::Failed(m) => {
            assert!(m.contains("/dirs/releases") && m.contains("granted"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    for (bad, field) in [
        (
            json!({"dir": "/dirs/r", "regexp": "app-("}),
            "source.regexp",
        ),
        (
            json!({"dir": "/dirs/r", "regexp": "app-.*"}),
            "source.regexp",
        ),
        (
            json!({"dir": "releases", "regexp": "app-(.*)"}),
            "source.dir",
        ),
        (json!({"dir": "/dirs/r"}), "source"),
        (
            json!({"dir": "/dirs/r", "regexp": "(.*)", "x": 1}),
            "source.x",
        ),
    ] {
        match plugin_failure(plugin.check(&none, &bad, None).await.unwrap_err()) {
            PluginFailure::InvalidConfig(m) => assert!(m.starts_with(field), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- file

#[tokio::test]
async fn file_check_get_put_round_trip() {
    let config = tempfile::tempdir().unwrap();
    write(&config.path().join("app.yml"), "replicas: 2\n");
    write(&config.path().join("sub/db.yml"), "pool: 5\n");
    let plugin = load(artifacts::FILE).await;
    let source = json!({"paths": ["/dirs/config/app.yml", "/dirs/config/sub/db.yml"]});
    let ro = Invocation::new(Grants::none().dir("config", config.path(), false));

    let first = plugin.check(&ro, &source, None).await.unwrap();
    assert_eq!(first.len(), 1);
    let d1 = first[0].clone();
    assert_eq!(d1.get("digest").map(str::len), Some(64));
    // Unchanged: `from` itself.
    assert_eq!(
        plugin.check(&ro, &source, Some(&d1)).await.unwrap(),
        vec![d1.clone()]
    );

    // get: the files keep their names relative to /dirs/config.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("config", config.path(), false)
            .output(out.path()),
    );
    let got = plugin.get(&inv, &source, &d1, &json!({})).await.unwrap();
    assert_eq!(got.version, d1);
    assert_eq!(read(&out.path().join("app.yml")), "replicas: 2\n");
    assert_eq!(read(&out.path().join("sub/db.yml")), "pool: 5\n");
    assert_eq!(
        meta(&got.metadata, "/dirs/config/app.yml"),
        Some(sha256(b"replicas: 2\n").as_str())
    );

    // put: replaces one tracked file atomically in the rw-granted directory.
    let change = tempfile::tempdir().unwrap();
    write(&change.path().join("new/app.yml"), "replicas: 3\n");
    let rw = Invocation::new(
        Grants::none()
            .dir("config", config.path(), true)
            .input("change", change.path()),
    );
    let put = plugin
        .put(
            &rw,
            &source,
            &json!({"from": "change/new/app.yml", "to": "/dirs/config/app.yml"}),
        )
        .await
        .unwrap();
    assert_eq!(read(&config.path().join("app.yml")), "replicas: 3\n");
    assert_ne!(put.version, d1);
    // Changed: only the current digest.
    assert_eq!(
        plugin.check(&ro, &source, Some(&d1)).await.unwrap(),
        vec![put.version.clone()]
    );
    // The old digest cannot be fetched any more.
    let gone = plugin
        .get(&inv, &source, &d1, &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(gone), PluginFailure::NotFound(m) if m.contains("no history")));

    // Read-only grant: a clear failure, the file untouched.
    let ro_put = Invocation::new(
        Grants::none()
            .dir("config", config.path(), false)
            .input("change", change.path()),
    );
    let refused = plugin
        .put(
            &ro_put,
            &source,
            &json!({"from": "change/new/app.yml", "to": "/dirs/config/sub/db.yml"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(refused), PluginFailure::Failed(m) if m.contains("read-write"))
    );
    assert_eq!(read(&config.path().join("sub/db.yml")), "pool: 5\n");

    // `to` must be a tracked file.
    let untracked = plugin
        .put(
            &rw,
            &source,
            &json!({"from": "change/new/app.yml", "to": "/dirs/config/other.yml"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(untracked), PluginFailure::InvalidConfig(m) if m.starts_with("params.to"))
    );
}

#[tokio::test]
async fn file_missing_grant_and_invalid_source() {
    let plugin = load(artifacts::FILE).await;
    let none = Invocation::new(Grants::none());
    let source = json!({"paths": ["/dirs/config/app.yml"]});
    match plugin_failure(plugin.check(&none, &source, None).await.unwrap_err()) {
        PluginFailure::NotFound(m) => {
            assert!(
                m.contains("/dirs/config/app.yml") && m.contains("granted"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    for (bad, field) in [
        (json!({"paths": []}), "source.paths"),
        (json!({"paths": ["/dirs/c/a", "c/b"]}), "source.paths[1]"),
        (json!({"paths": "/dirs/c/a"}), "source.paths"),
    ] {
        match plugin_failure(plugin.check(&none, &bad, None).await.unwrap_err()) {
            PluginFailure::InvalidConfig(m) => assert!(m.starts_with(field), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- time

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Parses the `time` of a version (`YYYY-MM-DDTHH:MM:SSZ`) with the host's own arithmetic:
/// seconds since the epoch.
fn version_time(v: &Version) -> i64 {
    let text = v.get("time").unwrap();
    assert!(text.ends_with('Z') && text.len() == 20, "{text}");
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// The `time` version of `t` seconds since the epoch.
fn at(t: i64) -> Version {
    let time = jiff::Timestamp::from_second(t).unwrap();
    Version::new().with("time", time.strftime("%Y-%m-%dT%H:%M:%SZ"))
}

#[tokio::test]
async fn time_interval_check_get_put() {
    let plugin = load(artifacts::TIME).await;
    let inv = Invocation::new(Grants::none());
    let source = json!({"interval": "1h", "location": "UTC"});

    let before = unix_now();
    let first = plugin.check(&inv, &source, None).await.unwrap();
    let after = unix_now();
    assert_eq!(first.len(), 1);
    let t = version_time(&first[0]);
    assert!((before..=after).contains(&t), "{before} <= {t} <= {after}");
    assert_eq!(at(t), first[0]);

    // Interval not elapsed: only `from`.
    let recent = at(unix_now() - 60);
    assert_eq!(
        plugin.check(&inv, &source, Some(&recent)).await.unwrap(),
        vec![recent.clone()]
    );
    // Elapsed: `from`, then now.
    let old = at(unix_now() - 7200);
    let versions = plugin.check(&inv, &source, Some(&old)).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0], old);
    assert!(version_time(&versions[1]) >= unix_now() - 5);

    // get writes the timestamp.
    let out = tempfile::tempdir().unwrap();
    let get_inv = Invocation::new(Grants::none().output(out.path()));
    let got = plugin
        .get(&get_inv, &source, &old, &json!({}))
        .await
        .unwrap();
    assert_eq!(got.version, old);
    assert_eq!(
        read(&out.path().join("timestamp")),
        old.get("time").unwrap()
    );

    // put: a version of now.
    let put = plugin.put(&inv, &source, &json!({})).await.unwrap();
    assert!((version_time(&put.version) - unix_now()).abs() <= 5);
}

#[tokio::test]
async fn time_window_excludes_now_and_invalid_sources() {
    let plugin = load(artifacts::TIME).await;
    let inv = Invocation::new(Grants::none());
    // A one-minute window that closed 30 minutes ago (UTC): nothing to emit now.
    let now = unix_now();
    let hm = |t: i64| {
        format!(
            "{:02}:{:02}",
            t.rem_euclid(86_400) / 3600,
            t.rem_euclid(3600) / 60
        )
    };
    let source = json!({"start": hm(now - 1800), "stop": hm(now - 1740)});
    assert_eq!(plugin.check(&inv, &source, None).await.unwrap(), []);
    // The whole day but the current minute, every day: open now, once per window.
    let open = json!({"start": hm(now + 120), "stop": hm(now + 60), "days": [
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
    ]});
    let first = plugin.check(&inv, &open, None).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        plugin.check(&inv, &open, Some(&first[0])).await.unwrap(),
        first
    );

    for (bad, field) in [
        (json!({}), "source"),
        (json!({"interval": "soon"}), "source.interval"),
        (json!({"start": "09:00"}), "source.stop"),
        (
            json!({"interval": "1h", "location": "Mars/Olympus_Mons"}),
            "source.location",
        ),
        (json!({"days": ["Someday"]}), "source.days[0]"),
    ] {
        match plugin_failure(plugin.check(&inv, &bad, None).await.unwrap_err()) {
            PluginFailure::InvalidConfig(m) => assert!(m.starts_with(field), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- env-dir

fn env_version(release: u64, manifest: &str) -> Version {
    Version::new()
        .with("release", release)
        .with("digest", sha256(manifest.as_bytes()))
}

#[tokio::test]
async fn env_dir_deploys_switches_current_and_keeps_releases() {
    let env = tempfile::tempdir().unwrap();
    let plugin = load(artifacts::ENV_DIR).await;
    let source = json!({"dir": "/dirs/staging"});
    let ro = Invocation::new(Grants::none().dir("staging", env.path(), false));
    assert_eq!(plugin.check(&ro, &source, None).await.unwrap(), []);

    let manifest = |k: u64| format!("name: app\nrelease: {k}\n");
    for k in 1..=7u64 {
        let build = tempfile::tempdir().unwrap();
        write(&build.path().join("deploy/manifest.yml"), manifest(k));
        write(&build.path().join("app/version"), format!("1.{k}.0\n"));
        write(&build.path().join("os/version"), "621.5");
        let inv = Invocation::new(
            Grants::none()
                .dir("staging", env.path(), true)
                .input("deploy", build.path().join("deploy"))
                .input("app", build.path().join("app"))
                .input("os", build.path().join("os")),
        );
        let put = plugin
            .put(
                &inv,
                &source,
                &json!({
                    "manifest": "deploy/manifest.yml",
                    "versions": {"app": "app/version", "os": "os/version"},
                    "keep": 2
                }),
            )
            .await
            .unwrap();
        assert_eq!(put.version, env_version(k, &manifest(k)));
        assert_eq!(read(&env.path().join("current")).trim(), k.to_string());
        assert_eq!(
            meta(&put.metadata, "version.app"),
            Some(format!("1.{k}.0").as_str())
        );
    }

    // The current release and the two before it; nothing temporary left.
    let mut kept: Vec<String> = std::fs::read_dir(env.path().join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, ["5", "6", "7"]);
    assert!(!env.path().join("current.tmp").exists());

    // check: what is deployed, Concourse semantics.
    let current = env_version(7, &manifest(7));
    assert_eq!(
        plugin.check(&ro, &source, None).await.unwrap(),
        vec![current.clone()]
    );
    assert_eq!(
        plugin
            .check(&ro, &source, Some(&env_version(5, &manifest(5))))
            .await
            .unwrap(),
        vec![current.clone()]
    );
    assert_eq!(
        plugin.check(&ro, &source, Some(&current)).await.unwrap(),
        vec![current.clone()]
    );

    // get: a kept release, in the layout test steps read.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("staging", env.path(), false)
            .output(out.path()),
    );
    let got = plugin
        .get(&inv, &source, &env_version(6, &manifest(6)), &json!({}))
        .await
        .unwrap();
    assert_eq!(got.version, env_version(6, &manifest(6)));
    assert_eq!(read(&out.path().join("manifest.yml")), manifest(6));
    let versions: Value = serde_json::from_str(&read(&out.path().join("versions.json"))).unwrap();
    assert_eq!(versions, json!({"app": "1.6.0", "os": "621.5"}));
    assert_eq!(read(&out.path().join("release")), "6");
    assert_eq!(meta(&got.metadata, "current"), Some("false"));

    // A pruned release is gone.
    let pruned = plugin
        .get(&inv, &source, &env_version(3, &manifest(3)), &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(pruned), PluginFailure::NotFound(_)));
}

#[tokio::test]
async fn env_dir_grants_and_invalid_params() {
    let env = tempfile::tempdir().unwrap();
    let build = tempfile::tempdir().unwrap();
    write(&build.path().join("manifest.json"), r#"{"name": "app"}"#);
    let plugin = load(artifacts::ENV_DIR).await;
    let source = json!({"dir": "/dirs/production"});
    let params = json!({"manifest": "deploy/manifest.json"});

    // No grant of the environment directory.
    let no_dir = Invocation::new(Grants::none().input("deploy", build.path()));
    match plugin_failure(plugin.put(&no_dir, &source, &params).await.unwrap_err()) {
        PluginFailure::Failed(m) => assert!(
            m.contains("/dirs/production") && m.contains("granted"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    // Granted read-only: put cannot deploy, and says why.
    let ro = Invocation::new(
        Grants::none()
            .dir("production", env.path(), false)
            .input("deploy", build.path()),
    );
    match plugin_failure(plugin.put(&ro, &source, &params).await.unwrap_err()) {
        PluginFailure::Failed(m) => assert!(m.contains("read-write"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!env.path().join("current").exists());

    // Invalid params and source name the field.
    let rw = Invocation::new(
        Grants::none()
            .dir("production", env.path(), true)
            .input("deploy", build.path()),
    );
    for (bad, field) in [
        (
            json!({"manifest": "deploy/manifest.json", "keep": "all"}),
            "params.keep",
        ),
        (json!({"manifest": "../etc/passwd"}), "params.manifest"),
        (json!({"keep": 1}), "params"),
        (
            json!({"manifest": "deploy/manifest.json", "versions": {"app": 3}}),
            "params.versions.app",
        ),
    ] {
        match plugin_failure(plugin.put(&rw, &source, &bad).await.unwrap_err()) {
            PluginFailure::InvalidConfig(m) => assert!(m.starts_with(field), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let missing_version =
        json!({"manifest": "deploy/manifest.json", "versions": {"app": "deploy/nope"}});
    assert!(matches!(
        plugin_failure(plugin.put(&rw, &source, &missing_version).await.unwrap_err()),
        PluginFailure::NotFound(m) if m.starts_with("params.versions.app")
    ));
    match plugin_failure(
        plugin
            .check(&rw, &json!({"dir": "production"}), None)
            .await
            .unwrap_err(),
    ) {
        PluginFailure::InvalidConfig(m) => assert!(m.starts_with("source.dir"), "{m}"),
        other => panic!("{other:?}"),
    }

    // A JSON manifest deploys as manifest.yml (JSON is YAML).
    let put = plugin.put(&rw, &source, &params).await.unwrap();
    assert_eq!(put.version, env_version(1, r#"{"name": "app"}"#));
    assert_eq!(
        read(&env.path().join("releases/1/manifest.yml")),
        r#"{"name": "app"}"#
    );
    assert_eq!(
        read(&env.path().join("releases/1/versions.json")).trim(),
        "{}"
    );
}
