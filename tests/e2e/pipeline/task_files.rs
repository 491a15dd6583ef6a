//! Issue 16 §1, task definitions and components from elsewhere, end to end through the real
//! `lockgate` binary: a task defined by a file of a repository a `get` fetched (as
//! Concourse's `file:`), whose outputs later steps read; a component taken from an artifact;
//! a component published to the registry as a task (`lockgate plugin publish --task`) and
//! named `name@version` inline and from a task file; and task files that are wrong (a
//! container key, a path out of the artifact, a missing file), which error the build with the
//! file's own line and column.

use std::path::Path;
use std::process::Command;

use lockgate_e2e::{Run, run};
use lockgate_test_artifacts as artifacts;

use super::{Project, statuses};

/// The pipeline: job `render` of environment `dev` gets `settings` (a file) and `tools` (a
/// local git repository holding task files and a task component), then runs `plan`.
fn pipeline(plan: &str) -> String {
    format!(
        "\
environments: [dev]
resource_types:
  file: {file}
  git: {git}
test_types:
  assert-file: {assert_file}
resources:
  - name: settings
    type: file
    source: {{ paths: [/dirs/config/input.txt] }}
    grants: {{ dirs: {{ config: ./upstream }} }}
  - name: tools
    type: git
    source: {{ repo: /dirs/tools, branch: main }}
    grants: {{ dirs: {{ tools: ./tools }} }}
jobs:
  - name: render
    environment: dev
    plan:
      - get: settings
        trigger: true
      - get: tools
{plan}",
        file = artifacts::FILE,
        git = artifacts::GIT,
        assert_file = artifacts::ASSERT_FILE,
    )
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A project whose `tools` repository holds `files` (and `tasks/programs.wasm`, the
/// task-programs fixture) in one commit on `main`.
fn project(plan: &str, files: &[(&str, &str)]) -> Project {
    let p = Project::new(&pipeline(plan), &["upstream", "tools"]);
    p.write("upstream/input.txt", "hello");
    let tools = p.path("tools");
    git(&tools, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        p.write(&format!("tools/{path}"), text);
    }
    std::fs::copy(artifacts::TASK_PROGRAMS, tools.join("tasks/programs.wasm")).unwrap();
    git(&tools, &["add", "-A"]);
    git(&tools, &["commit", "-q", "-m", "tasks"]);
    p
}

fn lg(p: &Project, args: &[&str]) -> Run {
    run(p.command().args(args))
}

/// The log of the first build of job `render`, and its status.
fn first_build(p: &Project) -> (String, String) {
    let builds = p.builds("render");
    assert_eq!(builds.len(), 1, "one build");
    let log = lg(p, &["logs", &format!("render/{}", builds[0].number)]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    (statuses(&builds)[0].to_owned(), log.stdout)
}

const RENDER_YML: &str = "\
# The definition of `render`, kept with the tools.
component: programs.wasm
args: [files]
params: { REGION: eu-1 }
inputs: [{name: config}]
outputs: [{name: rendered}]
";

#[test]
fn a_task_file_from_a_repository_defines_the_task_and_later_steps_read_its_outputs() {
    let p = project(
        "      - task: render
        file: tools/tasks/render.yml
        input_mapping: {config: settings}
        output_mapping: {rendered: manifests}
      - task: show
        config:
          component: {artifact: tools, path: tasks/programs.wasm}
          args: [echo]
          inputs: [{name: manifests}]
      - test: check
        type: assert-file
        config: { assertions: [ { file: manifests/out.txt, contains: \"rendered: HELLO\" } ] }
",
        &[("tasks/render.yml", RENDER_YML)],
    );
    // `manifests` is an output of the task file, known only when it runs: validation accepts
    // it after a task whose definition is read then.
    let r = lg(&p, &["validate", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = lg(&p, &["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (status, log) = first_build(&p);
    assert_eq!(status, "succeeded", "{log}");
    for line in [
        "definition read from tools/tasks/render.yml",
        "component: tools/tasks/programs.wasm",
        "reading config/input.txt",
        "writing rendered/out.txt",
        "output `rendered` is artifact `manifests`",
        "task `render` succeeded",
        // The inline task's component came from the `tools` artifact.
        "arg[0]=show",
        "task `show` succeeded",
        "test `check` succeeded",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
}

#[test]
fn a_wrong_task_file_errors_the_build_at_its_line_and_column() {
    for (file, text, want) in [
        (
            "tasks/concourse.yml",
            "platform: linux\nimage_resource:\n  type: registry-image\n  source: {repository: busybox}\nrun: {path: sh}\n",
            "tools/tasks/concourse.yml:1:1: error: `platform` is a container platform",
        ),
        (
            "tasks/escape.yml",
            "component: ../../../../etc/x.wasm\n",
            "the component of task `render`: `../../../../etc/x.wasm` leads outside artifact `tools`",
        ),
        (
            "tasks/other.yml",
            "component: programs.wasm\n",
            "the task file of task `render`: `tools/tasks/missing.yml` is not in artifact `tools`",
        ),
    ] {
        let step = if file == "tasks/other.yml" {
            "tasks/missing.yml"
        } else {
            file
        };
        let p = project(
            &format!("      - task: render\n        file: tools/{step}\n"),
            &[(file, text)],
        );
        let r = lg(&p, &["run", "pipeline.yml"]);
        assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let (status, log) = first_build(&p);
        assert_eq!(status, "errored", "{log}");
        assert!(log.contains(want), "{want:?} not in the log:\n{log}");
    }
    // A `file:` naming an artifact no step provides is refused by validation.
    let p = project(
        "      - task: render\n        file: tool/tasks/render.yml\n",
        &[("tasks/render.yml", RENDER_YML)],
    );
    let r = lg(&p, &["validate", "--format", "plain", "pipeline.yml"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("pipeline.yml:24:15: error: artifact `tool` of `file` of task `render` is not provided by an earlier step of job `render`"),
        "{out}"
    );
}

#[test]
fn a_task_published_to_the_registry_runs_inline_and_from_a_task_file() {
    let p = project(
        "      - task: render
        file: tools/tasks/render.yml
        input_mapping: {config: settings}
      - task: show
        config:
          component: programs@^1
          args: [echo]
          inputs: [{name: rendered}]
",
        &[(
            "tasks/render.yml",
            &RENDER_YML.replace("component: programs.wasm", "component: programs@1"),
        )],
    );
    let registry = p.path("registry");
    let registry = registry.to_str().unwrap();
    let publish = |file: &str, task: &str, extra: &[&str]| {
        let mut args = vec![
            "plugin",
            "publish",
            file,
            "--task",
            task,
            "--registry",
            registry,
        ];
        args.extend_from_slice(extra);
        lg(&p, &args)
    };
    // A plugin is not a task, and a task needs an exact version.
    let r = publish(artifacts::COUNTER, "programs@1.0.0", &[]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not a task"), "{}", r.stderr);
    let r = publish(artifacts::TASK_PROGRAMS, "programs@^1", &[]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("give an exact version"), "{}", r.stderr);
    let r = publish(
        artifacts::TASK_PROGRAMS,
        "programs@1.0.0",
        &["--summary", "test programs"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("published programs@1.0.0 (task, sha256 "),
        "{}",
        r.stdout
    );
    let r = lg(
        &p,
        &[
            "plugin",
            "inspect",
            "programs@1.0.0",
            "--registry",
            registry,
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("summary:   test programs"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("wasi:cli/command"), "{}", r.stdout);

    let r = lg(&p, &["run", "pipeline.yml", "--registry", registry]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The inline reference is pinned in the lockfile like a plugin's.
    let lock = p.read("lockgate.lock").expect("lockgate.lock written");
    assert!(
        lock.contains("name = \"programs\"") && lock.contains("version = \"1.0.0\""),
        "{lock}"
    );
    let (status, log) = first_build(&p);
    assert_eq!(status, "succeeded", "{log}");
    for line in [
        "definition read from tools/tasks/render.yml",
        "component: programs@^1 (programs@1.0.0 from the registry)",
        "writing rendered/out.txt",
        "arg[0]=show",
        "task `show` succeeded",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
}
