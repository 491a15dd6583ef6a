//! `lockgate import concourse` through the real binary: the Concourse fixtures of
//! `engine/import/tests/fixtures` imported, their placeholders filled as a user would (the
//! first-party plugins' components, a stand-in component for each placeholder plugin and
//! task, the params of a git put, a vars file), then `lockgate validate` with the real
//! plugins loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockgate_e2e::{Run, lockgate, repo, run};
use lockgate_test_artifacts as artifacts;

fn fixture(name: &str) -> PathBuf {
    repo().join("engine/import/tests/fixtures").join(name)
}

fn lg(dir: &Path, args: &[&str]) -> Run {
    run(lockgate(dir).current_dir(dir).args(args))
}

/// Every `((name))` and `((name.field))` of `text`, as a vars file giving each a value.
fn vars_file(text: &str) -> String {
    let mut vars: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else { break };
        let inner = &after[..end];
        let (name, field) = inner.split_once('.').unwrap_or((inner, ""));
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            let fields = vars.entry(name.to_owned()).or_default();
            if !field.is_empty() && !fields.iter().any(|f| f == field) {
                fields.push(field.to_owned());
            }
        }
        rest = &after[end + 2..];
    }
    let mut out = String::new();
    for (name, fields) in vars {
        if fields.is_empty() {
            out.push_str(&format!("{name}: value-of-{name}\n"));
        } else {
            out.push_str(&format!("{name}:\n"));
            for f in fields {
                out.push_str(&format!("  {f}: value-of-{name}-{f}\n"));
            }
        }
    }
    out
}

/// Fills the placeholders of the imported pipeline in `dir` as a user would, and returns the
/// text after the git put's params were written.
fn fill_placeholders(dir: &Path, pipeline: &str) -> String {
    let first_party = [
        ("git", artifacts::GIT),
        ("registry_image", artifacts::REGISTRY_IMAGE),
        ("s3", artifacts::S3),
        ("github_release", artifacts::GITHUB_RELEASE),
        ("bosh_io_release", artifacts::BOSH_IO_RELEASE),
        ("bosh_io_stemcell", artifacts::BOSH_IO_STEMCELL),
        ("time", artifacts::TIME),
    ];
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    let mut filled = 0;
    for word in pipeline.split([' ', '\n', '`']) {
        let Some(path) = word.strip_suffix(".wasm").map(|_| word) else {
            continue;
        };
        let target = dir.join(path);
        let source = if let Some(stem) = path
            .strip_prefix("plugins/")
            .and_then(|p| p.strip_suffix(".wasm"))
        {
            match first_party.iter().find(|(s, _)| *s == stem) {
                Some((_, component)) => *component,
                // A plugin without a schema stands in for the one the user writes.
                None if stem.starts_with("TODO-") => artifacts::HOSTILE,
                None => panic!("unexpected plugin path {path}"),
            }
        } else if path.starts_with("tasks/") {
            artifacts::TASK_PROGRAMS
        } else {
            panic!("unexpected component path {path}")
        };
        std::fs::copy(source, &target).unwrap_or_else(|e| panic!("{source} → {path}: {e}"));
        filled += 1;
    }
    assert!(filled > 0, "no placeholder found in:\n{pipeline}");
    // The params of puts Concourse spelled differently: a git put sets a value in a YAML
    // file; a registry-image put pushes the OCI layout a task wrote.
    let mut out = String::new();
    let mut todo: Option<&str> = None;
    for line in pipeline.lines() {
        if line.contains("TODO(lockgate import): Concourse's git put") {
            todo = Some("{file: releases.yml, key: api.released, value: \"true\"}");
        } else if line.contains("TODO(lockgate import): Lockgate's registry-image put") {
            todo = Some("{from: image}");
        } else if let Some(params) = todo
            && line.trim() == "params: {}"
        {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}params: {params}\n"));
            todo = None;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(dir.join("pipeline.yml"), &out).unwrap();
    std::fs::write(dir.join("vars.yml"), vars_file(&out)).unwrap();
    out
}

#[test]
fn an_imported_pipeline_validates_once_its_placeholders_are_filled() {
    for (name, summary) in [
        (
            "platform.yml",
            "pipeline is valid: 16 resources (3 shared: ci-tasks, nightly, cf-cli), 36 jobs, 3 environments",
        ),
        (
            "legacy.yml",
            "pipeline is valid: 4 resources (1 shared: every-hour), 4 jobs, 3 environments",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let src = fixture(name);
        let r = lg(
            d,
            &[
                "import",
                "concourse",
                src.to_str().unwrap(),
                "-o",
                "pipeline.yml",
                "--report",
                "report.txt",
            ],
        );
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(r.stderr.contains("placeholder(s) to fill"), "{}", r.stderr);
        let pipeline = std::fs::read_to_string(d.join("pipeline.yml")).unwrap();
        let report = std::fs::read_to_string(d.join("report.txt")).unwrap();
        assert!(!report.is_empty());
        for line in report.lines() {
            assert!(
                line.starts_with(&format!("{}:", src.display())),
                "every report line starts with file:line:column: {line}"
            );
        }
        // As imported, the placeholders are missing: validation names them.
        std::fs::write(d.join("vars.yml"), vars_file(&pipeline)).unwrap();
        let r = lg(
            d,
            &[
                "validate",
                "pipeline.yml",
                "--vars",
                "vars.yml",
                "--format",
                "plain",
            ],
        );
        assert_eq!(r.code, 1, "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("plugins/"), "{}", r.stderr);

        fill_placeholders(d, &pipeline);
        let r = lg(
            d,
            &[
                "validate",
                "pipeline.yml",
                "--vars",
                "vars.yml",
                "--format",
                "plain",
            ],
        );
        assert_eq!(
            r.code,
            0,
            "{name} does not validate:\n{}\n{}",
            r.stderr,
            std::fs::read_to_string(d.join("pipeline.yml")).unwrap()
        );
        assert_eq!(r.stdout.trim(), summary, "{}", r.stderr);
    }
}

#[test]
fn importing_twice_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = fixture("platform.yml");
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let r = lg(d, &["import", "concourse", src.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push((r.stdout, r.stderr));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0].0.starts_with("# Imported from "));
    // Without --report the report goes to stderr, one `file:line:column: …` line per item.
    let first = outputs[0].1.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}:2:1: top-level `anchors`", src.display())),
        "{first}"
    );
}

#[test]
fn a_malformed_file_or_option_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.yml"),
        "jobs:\n  - name: a\n    plan:\n      - gett: r\n",
    )
    .unwrap();
    let r = lg(d, &["import", "concourse", "bad.yml", "-o", "out.yml"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("bad.yml:4:9: a step of job `a`: has no step kind"),
        "{}",
        r.stderr
    );
    assert!(!d.join("out.yml").exists(), "nothing is written");

    let r = lg(d, &["import", "concourse", "missing.yml"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot read missing.yml"), "{}", r.stderr);

    let src = fixture("platform.yml");
    let r = lg(
        d,
        &[
            "import",
            "concourse",
            src.to_str().unwrap(),
            "--environment",
            "ops",
        ],
    );
    assert_eq!(r.code, 2, "a usage error: {}", r.stderr);
    assert!(r.stderr.contains("is not GROUP=ENV"), "{}", r.stderr);
    let r = lg(
        d,
        &[
            "import",
            "concourse",
            src.to_str().unwrap(),
            "--environment",
            "opz=production",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no group `opz` (did you mean `ops`?)"),
        "{}",
        r.stderr
    );
    let r = lg(
        d,
        &[
            "import",
            "concourse",
            src.to_str().unwrap(),
            "--environment",
            "ops=production",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("  - name: bump-major\n    environment: production\n")
    );
}
