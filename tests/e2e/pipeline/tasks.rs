//! Issue 16 §1, second layer, end to end: `task` steps through the real `lockgate` binary. A
//! job gets a file (`file` resource type), runs the `task-programs` fixture in `files` mode
//! over it (input renamed by `input_mapping`, output by `output_mapping`), a second task and an
//! `assert-file` test read the output; a task exiting with code 3 fails its build with that
//! message; a task stopped by its deadline errors its build with the sandbox's message; a
//! container key is refused by `lockgate validate` at its position; hostile programs (memory,
//! output flood, disk fill, reads outside their inputs, writes into an input) are contained
//! with the step's own limits and the build goes on.

use lockgate_e2e::{Run, run};
use lockgate_test_artifacts as artifacts;

use super::{Project, statuses};

const SECRET: &str = "s3cr3t-task-token-value";

/// The pipeline: one job of environment `dev` whose plan (after `get: settings`) is `plan`.
fn pipeline(plan: &str) -> String {
    format!(
        "\
environments: [dev]
resource_types:
  file: {file}
test_types:
  assert-file: {assert_file}
resources:
  - name: settings
    type: file
    source: {{ paths: [/dirs/config/input.txt] }}
    grants: {{ dirs: {{ config: ./upstream }} }}
jobs:
  - name: render
    environment: dev
    plan:
      - get: settings
        trigger: true
{plan}",
        file = artifacts::FILE,
        assert_file = artifacts::ASSERT_FILE,
    )
}

fn project(plan: &str) -> Project {
    let p = Project::new(&pipeline(plan), &["upstream"]);
    p.write("upstream/input.txt", "hello");
    p
}

/// `lockgate ARGS` with the secret the pipeline's `((token))` reads.
fn lg(p: &Project, args: &[&str]) -> Run {
    run(p
        .command()
        .env("LOCKGATE_SECRET_TOKEN", SECRET)
        .env("LOCKGATE_VAR_TASK_WASM", artifacts::TASK_PROGRAMS)
        .args(args))
}

const RENDER: &str = "      - task: render
        config:
          component: ((task_wasm))
          args: [files]
          inputs: [{name: config}]
          outputs: [{name: rendered}]
          caches: [{path: deps}]
        input_mapping: {config: settings}
        output_mapping: {rendered: manifests}
        limits: {memory: 128MiB, timeout: 2m}
";

#[test]
fn a_task_reads_a_get_and_writes_an_output_later_steps_read() {
    let show = "      - task: show
        config:
          component: ((task_wasm))
          args: [echo]
          params: { TOKEN: ((token)), REGION: eu-1 }
          inputs: [{name: manifests}]
        params: { REGION: us-1 }
      - test: check
        type: assert-file
        config: { assertions: [ { file: manifests/out.txt, contains: \"rendered: HELLO\" } ] }
";
    let p = project(&format!("{RENDER}{show}"));
    let r = lg(&p, &["validate", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let r = lg(&p, &["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let builds = p.builds("render");
    assert_eq!(statuses(&builds), ["succeeded"]);
    let log = lg(&p, &["logs", &format!("render/{}", builds[0].number)]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    let log = log.stdout;
    // The program's stdout and stderr, as it wrote them.
    for line in [
        "reading config/input.txt",
        "read 5 bytes",
        "writing rendered/out.txt",
        "cannot write config/intruder.txt",
        "done",
        // The second task: argv[0] is the step's name, step params over config params, the
        // secret redacted.
        "arg[0]=show",
        "env REGION=us-1",
        "task `render` succeeded",
        "task `show` succeeded",
        "test `check` succeeded",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
    assert!(!log.contains(SECRET), "the secret leaked:\n{log}");
    assert!(log.contains("env TOKEN="), "{log}");
    // The input stayed read-only; the cache directory is kept under the work directory.
    assert_eq!(p.read("upstream/input.txt").as_deref(), Some("hello"));
    let caches: Vec<_> = walk(&p.path(".lockgate"))
        .into_iter()
        .filter(|d| d.ends_with("task-cache/render/render/deps"))
        .collect();
    assert_eq!(
        caches.len(),
        1,
        "one cache directory of job render's task render"
    );
}

/// Every directory under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push(path.clone());
            out.extend(walk(&path));
        }
    }
    out
}

#[test]
fn a_task_exiting_with_a_non_zero_code_fails_the_build_with_its_code() {
    let p = project(
        "      - task: render
        config:
          component: ((task_wasm))
          args: [exit, '3']
      - test: never
        type: assert-file
        config: { assertions: [ { file: settings/input.txt } ] }
",
    );
    let r = lg(&p, &["run", "pipeline.yml"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let builds = p.builds("render");
    assert_eq!(statuses(&builds), ["failed"]);
    let log = lg(&p, &["logs", &format!("render/{}", builds[0].number)]).stdout;
    assert!(
        log.contains("task `render` exited with code 3"),
        "not in the log:\n{log}"
    );
    assert!(!log.contains("test `never`"), "a later step ran:\n{log}");
}

#[test]
fn container_keys_and_unknown_inputs_are_refused_by_validate_at_their_position() {
    let p = project(
        "      - task: render
        config:
          image_resource: { type: registry-image, source: { repository: busybox } }
          component: ((task_wasm))
          inputs: [{name: nowhere}]
",
    );
    let r = lg(&p, &["validate", "--format", "plain", "pipeline.yml"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains(
            "pipeline.yml:19:11: error: `image_resource` is a container image: Lockgate tasks run a WebAssembly component; give `config.component: path/to/task.wasm` (any program built for wasm32-wasip2)"
        ),
        "{out}"
    );
    assert!(
        out.contains("pipeline.yml:21:27: error: input `nowhere` of task `render` is not provided by an earlier step"),
        "{out}"
    );

    // A component that is not a task is refused when the pipeline loads, at `component:`.
    let p = Project::new(
        &pipeline(&format!(
            "      - task: render\n        config: {{ component: {} }}\n",
            artifacts::COUNTER
        )),
        &["upstream"],
    );
    let r = lg(&p, &["validate", "--format", "plain", "pipeline.yml"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("pipeline.yml:18:30: error:")
            && out.contains("is not a task")
            && out.contains("it is a Lockgate plugin"),
        "{out}"
    );
}

#[test]
fn a_task_stopped_by_its_deadline_errors_the_build_with_the_sandbox_message() {
    let p = project(
        "      - task: spin
        config:
          component: ((task_wasm))
          args: [loop]
        limits: { timeout: 2s }
",
    );
    let r = lg(&p, &["run", "pipeline.yml"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let builds = p.builds("render");
    assert_eq!(statuses(&builds), ["errored"]);
    let log = lg(&p, &["logs", &format!("render/{}", builds[0].number)]).stdout;
    assert!(log.contains("task `spin` errored in "), "{log}");
    assert!(
        log.contains("task `spin` exceeded its 2 s deadline and was stopped"),
        "not in the log:\n{log}"
    );
}

#[test]
fn hostile_tasks_are_contained_through_the_pipeline_and_the_build_goes_on() {
    // Each hostile program in a `try`, so that one build shows them all; the task after them
    // still runs, and the input they attacked is intact.
    let p = project(
        "      - try:
          task: hog
          config: { component: ((task_wasm)), args: [oom] }
          limits: { memory: 32MiB }
      - try:
          task: flood
          config: { component: ((task_wasm)), args: [flood, '100000'] }
          limits: { log_size: 64KiB }
      - try:
          task: fill
          config: { component: ((task_wasm)), args: [fill, junk/big, '104857600'], outputs: [junk] }
          limits: { disk_size: 8MiB }
      - try:
          task: escape
          config:
            component: ((task_wasm))
            args: [escape, settings/input.txt, settings/../../pipeline.yml, /etc/passwd, ../upstream/input.txt]
            inputs: [settings]
      - try:
          task: vandal
          config:
            component: ((task_wasm))
            args: [write, settings/input.txt, overwritten]
            inputs: [settings]
      - task: after
        config: { component: ((task_wasm)), args: [echo] }
",
    );
    let r = lg(&p, &["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let builds = p.builds("render");
    assert_eq!(statuses(&builds), ["succeeded"]);
    let log = lg(&p, &["logs", &format!("render/{}", builds[0].number)]).stdout;
    for line in [
        "task `hog` hit its memory limit of 32 MiB",
        "output limit of 65536 bytes for this invocation reached; further output is dropped (the task step can raise it with `limits: {log_size: …}`)",
        "task `fill` went past its disk limit of 8MiB written and was stopped",
        "settings/input.txt: read 5 bytes",
        "settings/../../pipeline.yml: error ",
        "/etc/passwd: error NotFound",
        "../upstream/input.txt: error NotFound",
        "cannot write settings/input.txt",
        "task `after` succeeded",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
    // Capped: the log holds about 64 KiB of the flood's 10 MB.
    let flood = log.lines().filter(|l| l.contains(&"x".repeat(99))).count();
    assert!((600..=700).contains(&flood), "{flood} flood lines kept");
    assert_eq!(p.read("upstream/input.txt").as_deref(), Some("hello"));
}
