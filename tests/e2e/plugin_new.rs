//! Issue 5 §2 end to end: `lockgate plugin new --lang rust` writes a project that builds into
//! a component the engine loads, calls and publishes. (The other languages' templates are
//! built by `plugins_python_js.rs` and `plugins_c_go_zig.rs`, with their toolchains.)

use std::fs;
use std::path::Path;
use std::process::Command;

use lockgate_e2e::{Run, lockgate, run};

fn lg(args: &[&str]) -> Run {
    run(lockgate(Path::new(env!("CARGO_TARGET_TMPDIR"))).args(args))
}

fn ok(args: &[&str]) -> Run {
    let r = lg(args);
    assert_eq!(r.code, 0, "lockgate {args:?}:\n{}{}", r.stdout, r.stderr);
    r
}

/// Generates a Rust project of `kind` and builds it; returns the component's path.
fn build_rust(tmp: &Path, kind: &str) -> String {
    let dir = tmp.join(kind);
    let r = ok(&[
        "plugin",
        "new",
        &format!("my-{kind}"),
        "--lang",
        "rust",
        "--kind",
        kind,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(r.stdout.contains("created rust"), "{}", r.stdout);
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "build.sh",
        "README.md",
        "wit/types.wit",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let out = dir.join("plugin.wasm");
    // One target directory for every run of this test: the SDK crates compile once.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-template-target");
    let status = Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(&out)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("running build.sh");
    assert!(status.success(), "build.sh of the {kind} template failed");
    // build.sh copies from the project's own target/ unless CARGO_TARGET_DIR is honoured.
    assert!(out.is_file(), "{} missing", out.display());
    out.display().to_string()
}

#[test]
fn rust_templates_build_into_working_plugins() {
    let tmp = tempfile::tempdir().unwrap();

    let resource = build_rust(tmp.path(), "resource-type");
    let inspect = ok(&["plugin", "inspect", &resource]).stdout;
    assert!(inspect.contains("my-resource-type 0.1.0"), "{inspect}");
    assert!(inspect.contains("world:     resource-type"), "{inspect}");
    let releases = tmp.path().join("releases");
    fs::create_dir_all(&releases).unwrap();
    for f in ["app-1.0.tgz", "app-1.1.tgz"] {
        fs::write(releases.join(f), f).unwrap();
    }
    let grant = format!("releases={}", releases.display());
    let check = ok(&[
        "plugin",
        "call",
        &resource,
        "check",
        "--source",
        r#"{"dir":"releases"}"#,
        "--dir",
        &grant,
    ])
    .stdout;
    let versions: serde_json::Value = serde_json::from_str(&check).unwrap();
    assert_eq!(
        versions,
        serde_json::json!([{"file": "app-1.1.tgz"}]),
        "{check}"
    );
    let check = ok(&[
        "plugin",
        "call",
        &resource,
        "check",
        "--source",
        r#"{"dir":"releases"}"#,
        "--dir",
        &grant,
        "--version",
        r#"{"file":"app-1.0.tgz"}"#,
    ])
    .stdout;
    let versions: serde_json::Value = serde_json::from_str(&check).unwrap();
    assert_eq!(
        versions,
        serde_json::json!([{"file": "app-1.0.tgz"}, {"file": "app-1.1.tgz"}])
    );
    let bad = lg(&["plugin", "call", &resource, "check", "--source", "{}"]);
    assert!(
        bad.code != 0 && bad.stderr.contains("source.dir"),
        "{}",
        bad.stderr
    );

    let test = build_rust(tmp.path(), "test-step");
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("version.txt"), "release 1.1\n").unwrap();
    let input = format!("app={}", app.display());
    let pass = ok(&[
        "plugin",
        "call",
        &test,
        "run",
        "--input",
        &input,
        "--config",
        r#"{"file":"app/version.txt","contains":["release","1.1"]}"#,
    ]);
    assert!(
        pass.stderr.contains("2 passed, 0 failed"),
        "{}",
        pass.stderr
    );
    let fail = lg(&[
        "plugin",
        "call",
        &test,
        "run",
        "--input",
        &input,
        "--config",
        r#"{"file":"app/version.txt","contains":["2.0"]}"#,
    ]);
    assert_eq!(fail.code, 1, "{}", fail.stderr);
    assert!(
        fail.stdout
            .contains("app/version.txt does not contain \\\"2.0\\\""),
        "{}",
        fail.stdout
    );

    // Both publish to a registry.
    let registry = tmp.path().join("registry");
    for file in [&resource, &test] {
        ok(&[
            "plugin",
            "publish",
            file,
            "--registry",
            registry.to_str().unwrap(),
        ]);
    }
    let list = ok(&["plugin", "list", "--registry", registry.to_str().unwrap()]).stdout;
    assert!(
        list.contains("my-resource-type@0.1.0") && list.contains("my-test-step@0.1.0"),
        "{list}"
    );
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_projects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let r = lg(&[
        "plugin",
        "new",
        "Bad Name",
        "--lang",
        "go",
        "--kind",
        "test-step",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        r.code != 0 && r.stderr.contains("invalid plugin name"),
        "{}",
        r.stderr
    );
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("keep.txt"), "mine").unwrap();
    let r = lg(&[
        "plugin",
        "new",
        "ok",
        "--lang",
        "c",
        "--kind",
        "test-step",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        r.code != 0 && r.stderr.contains("not empty"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read_to_string(dir.join("keep.txt")).unwrap(), "mine");
    let r = lg(&[
        "plugin",
        "new",
        "ok",
        "--lang",
        "cobol",
        "--kind",
        "test-step",
    ]);
    assert!(r.code != 0 && r.stderr.contains("cobol"), "{}", r.stderr);

    let adapter = tmp.path().join("adapter.wasm");
    ok(&["plugin", "adapter", "--out", adapter.to_str().unwrap()]);
    assert!(fs::read(&adapter).unwrap().starts_with(b"\0asm"));
}
