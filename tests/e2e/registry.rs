//! Issue 5 §1 end to end: the plugin registry directory and `lockgate.lock` through the real
//! binary — publish, list, inspect, verify, yank, update; resolution of `name@requirement`
//! in a pipeline, pinning, tampering, and bad components.
//!
//! Releases of the `versioned` fixture are derived by rewriting its seven-byte version literal
//! (`100.0.0`), giving valid components that describe themselves as `100.1.0`, `101.0.0`, …;
//! the fixture's one resource version is its own plugin version, so `lockgate check` shows
//! which release the engine loaded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lockgate_e2e::{Run, lockgate, run};
use lockgate_test_artifacts as artifacts;
use sha2::{Digest, Sha256};

const PIPELINE: &str = "\
environments: [development]
resource_types:
  versioned: versioned@^100
resources:
  - name: v
    type: versioned
    check_every: never
jobs:
  - name: deploy
    environment: development
    plan:
      - get: v
        trigger: true
";

/// A temporary project: `pipeline.yml`, a registry in `registry/`, and a folder of releases.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("pipeline.yml"), PIPELINE).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn registry(&self) -> PathBuf {
        self.path("registry")
    }

    fn command(&self) -> Command {
        let mut cmd = lockgate(Path::new(env!("CARGO_TARGET_TMPDIR")));
        cmd.current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .stdin(Stdio::null());
        cmd
    }

    /// `lockgate <args> --registry registry/`.
    fn lg(&self, args: &[&str]) -> Run {
        let registry = self.registry();
        run(self.command().args(args).arg("--registry").arg(&registry))
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = self.lg(args);
        assert_eq!(
            r.code, 0,
            "lockgate {args:?} failed:\n{}{}",
            r.stdout, r.stderr
        );
        r
    }

    fn fails(&self, args: &[&str]) -> Run {
        let r = self.lg(args);
        assert_ne!(
            r.code, 0,
            "lockgate {args:?} should fail:\n{}{}",
            r.stdout, r.stderr
        );
        r
    }

    /// Writes release `version` of the `versioned` fixture and returns its path.
    fn release(&self, version: &str) -> PathBuf {
        let bytes = versioned_release(version);
        let path = self.path(&format!("releases/versioned-{version}.wasm"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }

    fn publish(&self, version: &str) -> Run {
        let file = self.release(version);
        self.ok(&[
            "plugin",
            "publish",
            file.to_str().unwrap(),
            "--license",
            "Apache-2.0",
        ])
    }

    /// The plugin version the pipeline's `v` resource comes from, per `lockgate check`.
    fn checked_version(&self, extra: &[&str]) -> Run {
        let mut args = vec!["check", "v", "-p", "pipeline.yml"];
        args.extend_from_slice(extra);
        self.lg(&args)
    }

    fn lockfile(&self) -> String {
        fs::read_to_string(self.path("lockgate.lock")).unwrap_or_default()
    }
}

/// The `versioned` fixture rewritten to describe itself as `version` (seven bytes).
fn versioned_release(version: &str) -> Vec<u8> {
    assert_eq!(version.len(), 7, "fixture versions are seven bytes");
    let mut bytes = fs::read(artifacts::VERSIONED).unwrap();
    let mut replaced = 0;
    let mut i = 0;
    while i + 7 <= bytes.len() {
        if &bytes[i..i + 7] == b"100.0.0" {
            bytes[i..i + 7].copy_from_slice(version.as_bytes());
            replaced += 1;
            i += 7;
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "the fixture's version literal was not found");
    bytes
}

/// `bytes` with a custom section appended: a valid component with other bytes.
fn with_custom_section(mut bytes: Vec<u8>) -> Vec<u8> {
    let name = b"lockgate-test";
    let payload = b"other bytes, same plugin";
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn publish_list_inspect_and_a_version_never_changes() {
    let p = Project::new();
    let r = p.publish("100.0.0");
    assert!(
        r.stdout
            .contains("published versioned@100.0.0 (resource-type"),
        "{}",
        r.stdout
    );

    let dir = p.registry().join("versioned/100.0.0");
    let wasm = fs::read(dir.join("plugin.wasm")).unwrap();
    assert_eq!(wasm, versioned_release("100.0.0"));
    let manifest = fs::read_to_string(dir.join("plugin.toml")).unwrap();
    for expected in [
        "name = \"versioned\"",
        "version = \"100.0.0\"",
        "kind = \"resource-type\"",
        "world = \"lockgate:plugin/resource-type@0.1.0\"",
        &format!("sha256 = \"{}\"", sha256(&wasm)),
        "license = \"Apache-2.0\"",
        "Fixture: its only version is its own plugin version",
    ] {
        assert!(
            manifest.contains(expected),
            "plugin.toml lacks {expected}:\n{manifest}"
        );
    }
    let index: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.registry().join("index.json")).unwrap())
            .unwrap();
    assert_eq!(
        index["plugins"]["versioned"]["100.0.0"]["sha256"],
        sha256(&wasm)
    );

    p.publish("100.1.0");
    let list = p.ok(&["plugin", "list"]).stdout;
    assert!(
        list.contains("versioned@100.0.0") && list.contains("versioned@100.1.0"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.ok(&["plugin", "list", "--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    let inspect = p.ok(&["plugin", "inspect", "versioned@100.1.0"]).stdout;
    assert!(inspect.contains("versioned 100.1.0"), "{inspect}");
    assert!(inspect.contains("license:   Apache-2.0"), "{inspect}");
    let inspect = p.ok(&["plugin", "inspect", "versioned@^100"]).stdout;
    assert!(
        inspect.contains("versioned 100.1.0"),
        "the newest matching: {inspect}"
    );

    // The same bytes again: nothing changes.
    let again = p.publish("100.0.0");
    assert!(
        again
            .stdout
            .contains("already published with the same bytes"),
        "{}",
        again.stdout
    );

    // Other bytes under a published version: refused, the registry untouched.
    let other = p.path("other.wasm");
    fs::write(&other, with_custom_section(versioned_release("100.0.0"))).unwrap();
    let r = p.fails(&["plugin", "publish", other.to_str().unwrap()]);
    assert!(
        r.stderr
            .contains("versioned@100.0.0 is already in the registry with different bytes")
            && r.stderr.contains("other.wasm"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(dir.join("plugin.wasm")).unwrap(), wasm);

    let verify = p.ok(&["plugin", "verify"]);
    assert!(
        verify
            .stdout
            .contains("2 version(s) verified, 0 problem(s)"),
        "{}",
        verify.stdout
    );

    let missing = p.fails(&["plugin", "inspect", "versioned@9.9.9"]);
    assert!(
        missing
            .stderr
            .contains("versioned@9.9.9 is not in the registry")
            && missing.stderr.contains("100.0.0, 100.1.0"),
        "{}",
        missing.stderr
    );
    let typo = p.fails(&["plugin", "inspect", "versiond@100.0.0"]);
    assert!(
        typo.stderr.contains("did you mean `versioned`"),
        "{}",
        typo.stderr
    );
}

#[test]
fn bad_components_are_refused_and_nothing_is_written() {
    let p = Project::new();
    let not_wasm = p.path("notes.wasm");
    fs::write(&not_wasm, "hello").unwrap();
    let truncated = p.path("truncated.wasm");
    let bytes = fs::read(artifacts::COUNTER).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    for (file, expected) in [
        (artifacts::WRONG_WORLD.to_owned(), "world"),
        (not_wasm.display().to_string(), "notes.wasm"),
        (truncated.display().to_string(), "truncated.wasm"),
        (p.path("absent.wasm").display().to_string(), "absent.wasm"),
    ] {
        let r = p.fails(&["plugin", "publish", &file]);
        assert!(
            r.stderr.contains(expected),
            "publishing {file}: expected `{expected}` in\n{}",
            r.stderr
        );
    }
    let plugins: Vec<_> = fs::read_dir(p.registry())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .collect()
        })
        .unwrap_or_default();
    assert!(plugins.is_empty(), "nothing is published: {plugins:?}");
}

#[test]
fn pipelines_pin_registry_plugins_in_the_lockfile() {
    let p = Project::new();

    // Not published yet: the run names the registry and the plugin; no lockfile appears.
    let r = p.fails(&["run", "pipeline.yml"]);
    assert!(r.stderr.contains("versioned"), "{}", r.stderr);
    assert!(!p.path("lockgate.lock").exists());

    p.publish("100.0.0");
    let r = p.ok(&["run", "pipeline.yml"]);
    assert!(
        r.stderr
            .contains("pinned 1 registry plugin(s) in lockgate.lock"),
        "{}",
        r.stderr
    );
    let lock = p.lockfile();
    let digest = sha256(&versioned_release("100.0.0"));
    assert!(
        lock.contains("name = \"versioned\"")
            && lock.contains("requirement = \"^100\"")
            && lock.contains("version = \"100.0.0\"")
            && lock.contains(&digest),
        "{lock}"
    );

    // A newer release does not move a pinned pipeline …
    p.publish("100.1.0");
    p.publish("101.0.0");
    let c = p.checked_version(&[]);
    assert!(
        c.stdout.contains("100.0.0") && !c.stdout.contains("100.1.0"),
        "{}{}",
        c.stdout,
        c.stderr
    );
    assert_eq!(
        p.lockfile(),
        lock,
        "an unchanged pipeline leaves the lockfile alone"
    );

    // … until `plugin update`, which takes the newest matching (not 101.0.0).
    let u = p.ok(&["plugin", "update", "-p", "pipeline.yml"]);
    assert!(
        u.stdout.contains("versioned@^100: 100.0.0 -> 100.1.0"),
        "{}",
        u.stdout
    );
    assert!(
        p.lockfile().contains("version = \"100.1.0\""),
        "{}",
        p.lockfile()
    );
    let c = p.checked_version(&[]);
    assert!(c.stdout.contains("100.1.0"), "{}{}", c.stdout, c.stderr);
    let u = p.ok(&["plugin", "update", "-p", "pipeline.yml"]);
    assert!(u.stdout.contains("is up to date"), "{}", u.stdout);
    let before = p.lockfile();
    let u = p.fails(&["plugin", "update", "versiond", "-p", "pipeline.yml"]);
    assert!(
        u.stderr.contains("uses no registry plugin `versiond`") && u.stderr.contains("versioned"),
        "{}",
        u.stderr
    );
    assert_eq!(p.lockfile(), before, "a refused update changes nothing");

    // Yanking the pinned version keeps it working for this pipeline, with a warning …
    let y = p.ok(&[
        "plugin",
        "yank",
        "versioned@100.1.0",
        "--reason",
        "leaks memory",
    ]);
    assert!(
        y.stdout.contains("yanked versioned@100.1.0"),
        "{}",
        y.stdout
    );
    let c = p.checked_version(&[]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(c.stdout.contains("100.1.0"), "{}", c.stdout);
    assert!(
        c.stderr.contains("versioned@100.1.0 (pinned in") && c.stderr.contains("leaks memory"),
        "{}",
        c.stderr
    );
    let list = p.ok(&["plugin", "list"]).stdout;
    assert!(
        !list.contains("100.1.0"),
        "yanked versions are hidden: {list}"
    );
    assert!(
        p.ok(&["plugin", "list", "--all"])
            .stdout
            .contains("[yanked]")
    );

    // … but a new resolution skips it.
    let u = p.ok(&["plugin", "update", "versioned", "-p", "pipeline.yml"]);
    assert!(u.stdout.contains("100.1.0 -> 100.0.0"), "{}", u.stdout);

    // --locked refuses to add a pin the lockfile lacks.
    fs::write(p.path("pipeline.yml"), PIPELINE.replace("^100", "^101")).unwrap();
    let r = p.fails(&["check", "v", "-p", "pipeline.yml", "--locked"]);
    assert!(
        r.stderr.contains("has no pin for versioned@^101") && r.stderr.contains("--locked"),
        "{}",
        r.stderr
    );
    assert!(
        p.lockfile().contains("requirement = \"^100\""),
        "--locked never writes"
    );
    // Without --locked the new requirement is pinned and the unused pin dropped.
    let c = p.checked_version(&[]);
    assert!(c.stdout.contains("101.0.0"), "{}{}", c.stdout, c.stderr);
    let lock = p.lockfile();
    assert!(lock.contains("^101") && !lock.contains("^100"), "{lock}");

    // validate reads the lockfile but never writes it.
    fs::remove_file(p.path("lockgate.lock")).unwrap();
    p.ok(&["validate", "pipeline.yml"]);
    assert!(!p.path("lockgate.lock").exists());
}

#[test]
fn a_tampered_component_is_refused_and_the_state_is_kept() {
    let p = Project::new();
    p.publish("100.0.0");
    p.ok(&["run", "pipeline.yml"]);
    let state = fs::read(p.path(".lockgate/state.db")).unwrap();

    let wasm = p.registry().join("versioned/100.0.0/plugin.wasm");
    fs::write(&wasm, with_custom_section(fs::read(&wasm).unwrap())).unwrap();

    let r = p.fails(&["run", "pipeline.yml"]);
    assert!(
        r.stderr.contains(&wasm.display().to_string()) && r.stderr.contains("does not match its"),
        "{}",
        r.stderr
    );
    let v = p.fails(&["plugin", "verify"]);
    assert!(
        v.stderr.contains("sha256 mismatch") && v.stderr.contains(&wasm.display().to_string()),
        "{}",
        v.stderr
    );
    assert_eq!(
        fs::read(p.path(".lockgate/state.db")).unwrap(),
        state,
        "a refused run leaves the state untouched"
    );
    // Re-publishing over the damage is refused too: restore, don't overwrite.
    let file = p.release("100.0.0");
    let r = p.fails(&["plugin", "publish", file.to_str().unwrap()]);
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
}

#[test]
fn the_registry_comes_from_the_environment_or_the_config_file() {
    let p = Project::new();
    p.publish("100.0.0");
    // $LOCKGATE_REGISTRY
    let r = run(p
        .command()
        .args(["plugin", "list"])
        .env("LOCKGATE_REGISTRY", p.registry()));
    assert!(
        r.stdout.contains("versioned@100.0.0"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // `registry` in the config file, relative to it.
    fs::write(p.path("config.toml"), "registry = \"registry\"\n").unwrap();
    let r = run(p
        .command()
        .args(["plugin", "list"])
        .env("LOCKGATE_CONFIG", p.path("config.toml")));
    assert!(
        r.stdout.contains("versioned@100.0.0"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // A config file with a typo is an error naming it.
    fs::write(p.path("config.toml"), "registy = \"registry\"\n").unwrap();
    let r = run(p
        .command()
        .args(["plugin", "list"])
        .env("LOCKGATE_CONFIG", p.path("config.toml")));
    assert!(
        r.code != 0 && r.stderr.contains("config.toml") && r.stderr.contains("registy"),
        "{}",
        r.stderr
    );
    // The default: $XDG_DATA_HOME/lockgate/registry (empty here).
    let r = run(p.command().args(["plugin", "list"]));
    assert!(
        r.code != 0 && r.stderr.contains("xdg-data/lockgate/registry"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn concurrent_publishers_all_land_in_the_index() {
    let p = Project::new();
    let versions = ["100.1.0", "100.2.0", "100.3.0", "100.4.0"];
    let children: Vec<_> = versions
        .iter()
        .map(|v| {
            let file = p.release(v);
            p.command()
                .args(["plugin", "publish"])
                .arg(&file)
                .arg("--registry")
                .arg(p.registry())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let index: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.registry().join("index.json")).unwrap())
            .unwrap();
    let listed: Vec<&String> = index["plugins"]["versioned"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(listed, versions, "every publish is in the index");
    let verify = p.ok(&["plugin", "verify"]);
    assert!(
        verify
            .stdout
            .contains("4 version(s) verified, 0 problem(s)"),
        "{}",
        verify.stdout
    );
}
