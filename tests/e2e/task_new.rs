//! Issue 16 §1 end to end: `lockgate plugin new NAME --kind task --lang L` writes, in each of
//! the six languages, a project whose documented `./build.sh` makes a `wasi:cli/command`
//! component, and whose `task.yml` runs it in a real `lockgate run`: a `get` of the project's
//! `sample/data.txt` with the first-party `file` resource type, the task over it (input and
//! output renamed by the mappings), and — added by this test — an `assert-file` step checking
//! the report the task wrote. Then the input is emptied: the next build fails with the task's
//! own message and exit code 1.
//!
//! The toolchains are those of the plugin tests (`examples/plugins/toolchains`, installed into
//! the same `target/toolchains` on first use; nothing is skipped: a toolchain that cannot be
//! installed fails the test). The six languages build and run in parallel threads; each prints
//! its build time and component size.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use lockgate_e2e::{Run, build_script, lockgate, repo, run};
use lockgate_test_artifacts as artifacts;

/// Where this test binary keeps its compiled-component cache.
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("task-new")
}

/// `lockgate ARGS` in `dir`, with the `file` resource type for `((file_plugin))`.
fn lg(dir: &Path, args: &[&str]) -> Run {
    run(lockgate(&scratch())
        .current_dir(dir)
        .env("LOCKGATE_VAR_FILE_PLUGIN", artifacts::FILE)
        .args(args)
        .stdin(Stdio::null()))
}

/// `lockgate ARGS` in `dir`, which must exit with `code`.
fn lg_code(dir: &Path, args: &[&str], code: i32, what: &str) -> Run {
    let r = lg(dir, args);
    assert_eq!(
        r.code, code,
        "{what}: lockgate {args:?}\n--- stdout\n{}--- stderr\n{}",
        r.stdout, r.stderr
    );
    r
}

/// `lockgate run pipeline.yml` in `dir`, which must exit with `code`; returns the log of build
/// `number` of job `name` (shown when the exit code is not the one expected).
fn run_build(dir: &Path, name: &str, number: u32, code: i32) -> String {
    let r = lg(dir, &["run", "pipeline.yml"]);
    let log = lg(dir, &["logs", &format!("{name}/{number}")]);
    assert_eq!(
        r.code, code,
        "{name}: lockgate run\n--- stdout\n{}--- stderr\n{}--- build log\n{}{}",
        r.stdout, r.stderr, log.stdout, log.stderr
    );
    assert_eq!(log.code, 0, "{name}: lockgate logs: {}", log.stderr);
    log.stdout
}

/// The report the template writes for the sample input.
const REPORT: &str = "file: input/data.txt\nlines: 2\nwords: 9\nbytes: 47\n";

/// Generates, builds and runs the task project of `lang`; returns (build seconds, bytes).
fn task_of(lang: &str, tmp: &Path) -> (f64, u64) {
    let name = format!("my-{lang}-task");
    let dir = tmp.join(lang);
    let r = lg_code(
        tmp,
        &[
            "plugin",
            "new",
            &name,
            "--kind",
            "task",
            "--lang",
            lang,
            "--dir",
            dir.to_str().unwrap(),
        ],
        0,
        &name,
    );
    assert!(
        r.stdout.contains(&format!("created {lang} task `{name}`")),
        "{}",
        r.stdout
    );
    for f in ["build.sh", "README.md", "task.yml", "sample/data.txt"] {
        assert!(dir.join(f).is_file(), "{name}: {f} missing");
    }
    assert!(
        !dir.join("wit/types.wit").exists(),
        "{name}: a plugin's WIT"
    );
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("./build.sh"),
        "{name}: README without build"
    );
    assert!(
        readme.contains(&format!("- task: {name}")),
        "{name}: README without the pipeline step"
    );

    // The toolchain of the plugin tests (C, Go, Zig); Python's and JavaScript's build.sh
    // install theirs, Rust's is the one running this test.
    if matches!(lang, "c" | "go" | "zig") {
        let script = repo().join(format!("examples/plugins/toolchains/{lang}.sh"));
        build_script(&format!("toolchains/{lang}.sh"), &repo(), &script, &[]);
    }
    let secs = build_script(
        &format!("{name}/build.sh"),
        &dir,
        &dir.join("build.sh"),
        &[],
    );
    let wasm = dir.join("task.wasm");
    let size = fs::metadata(&wasm)
        .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
        .len();
    eprintln!("task template {lang}: {size} bytes, built in {secs:.1} s");

    // The project's own pipeline, plus a test of the report the task wrote.
    let pipeline = fs::read_to_string(dir.join("task.yml")).unwrap();
    let pipeline = format!(
        "{pipeline}      - test: report\n        type: assert-file\n        config: {{ assertions: [ {{ file: report/report.txt, equals: {REPORT:?} }} ] }}\ntest_types:\n  assert-file: {}\n",
        artifacts::ASSERT_FILE
    );
    fs::write(dir.join("pipeline.yml"), pipeline).unwrap();
    // `validate` loads the task: the host compiles it here (and caches it for the runs).
    let started = Instant::now();
    lg_code(&dir, &["validate", "pipeline.yml"], 0, &name);
    let validate = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let log = run_build(&dir, &name, 1, 0);
    let first = started.elapsed().as_secs_f64();
    for line in [
        format!("{name}: reading input/data.txt"),
        format!("{name}: 2 lines, 9 words, 47 bytes"),
        format!("{name}: wrote output/report.txt"),
        format!("task `{name}` succeeded"),
        "test `report` succeeded".to_owned(),
    ] {
        assert!(
            log.contains(&line),
            "{name}: {line:?} not in the log:\n{log}"
        );
    }

    // Bad input: a new version of the file, empty; the task fails the build with its message.
    fs::write(dir.join("sample/data.txt"), " \n").unwrap();
    let started = Instant::now();
    let log = run_build(&dir, &name, 2, 1);
    let second = started.elapsed().as_secs_f64();
    for line in [
        format!("{name}: error: input/data.txt is empty"),
        format!("task `{name}` exited with code 1"),
    ] {
        assert!(
            log.contains(&line),
            "{name}: {line:?} not in the log:\n{log}"
        );
    }
    assert!(
        !log.contains("test `report`"),
        "{name}: a later step ran:\n{log}"
    );
    eprintln!(
        "task template {lang}: `lockgate validate` (compiles it) {validate:.1} s, \
         `lockgate run` {first:.1} s, then {second:.1} s"
    );
    (secs, size)
}

#[test]
fn plugin_new_task_projects_build_and_run_in_a_pipeline_in_every_language() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(scratch()).unwrap();
    let langs = ["rust", "c", "zig", "go", "python", "javascript"];
    let results: Vec<(f64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = langs
            .iter()
            .map(|lang| s.spawn(|| task_of(lang, tmp.path())))
            .collect();
        handles
            .into_iter()
            .zip(langs)
            .map(|(h, lang)| {
                h.join()
                    .unwrap_or_else(|_| panic!("the {lang} task template failed (see above)"))
            })
            .collect()
    });
    eprintln!("| language | build | component |");
    for (lang, (secs, size)) in langs.iter().zip(results) {
        eprintln!("| {lang} | {secs:.1} s | {size} bytes |");
    }
}

#[test]
fn a_task_project_is_refused_for_an_unknown_kind_or_language_and_keeps_existing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let r = lg(
        tmp.path(),
        &["plugin", "new", "x", "--kind", "job", "--lang", "rust"],
    );
    assert!(
        r.code != 0 && r.stderr.contains("invalid value 'job'") && r.stderr.contains("task"),
        "{}",
        r.stderr
    );
    let r = lg(
        tmp.path(),
        &["plugin", "new", "x", "--kind", "task", "--lang", "cobol"],
    );
    assert!(
        r.code != 0 && r.stderr.contains("invalid value 'cobol'"),
        "{}",
        r.stderr
    );
    let r = lg(
        tmp.path(),
        &["plugin", "new", "Bad Name", "--kind", "task", "--lang", "c"],
    );
    assert!(
        r.code != 0 && r.stderr.contains("invalid plugin name"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
    let dir = tmp.path().join("x");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("keep.txt"), "mine").unwrap();
    let r = lg(
        tmp.path(),
        &[
            "plugin", "new", "x", "--kind", "task", "--lang", "go", "--dir", "x",
        ],
    );
    assert!(
        r.code != 0 && r.stderr.contains("not empty"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read_to_string(dir.join("keep.txt")).unwrap(), "mine");

    // The default directory is ./NAME; the command adapter is the one `plugin adapter
    // --command` writes.
    lg_code(
        tmp.path(),
        &["plugin", "new", "y", "--kind", "task", "--lang", "zig"],
        0,
        "y",
    );
    let adapter = tmp.path().join("command.wasm");
    lg_code(
        tmp.path(),
        &[
            "plugin",
            "adapter",
            "--command",
            "--out",
            adapter.to_str().unwrap(),
        ],
        0,
        "adapter",
    );
    assert_eq!(
        fs::read(&adapter).unwrap(),
        fs::read(tmp.path().join("y/wasi_snapshot_preview1.command.wasm")).unwrap()
    );
    let reactor = tmp.path().join("reactor.wasm");
    lg_code(
        tmp.path(),
        &["plugin", "adapter", "--out", reactor.to_str().unwrap()],
        0,
        "adapter",
    );
    assert_ne!(fs::read(&adapter).unwrap(), fs::read(&reactor).unwrap());
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_example_tasks_are_what_the_templates_generate() {
    let tmp = tempfile::tempdir().unwrap();
    for lang in ["rust", "c", "zig", "go", "python", "javascript"] {
        let fresh = tmp.path().join(lang);
        lg_code(
            tmp.path(),
            &[
                "plugin",
                "new",
                "word-count",
                "--kind",
                "task",
                "--lang",
                lang,
                "--dir",
                fresh.to_str().unwrap(),
            ],
            0,
            lang,
        );
        let _ = fs::remove_file(fresh.join("wasi_snapshot_preview1.command.wasm"));
        let example = repo().join("examples/tasks").join(lang);
        // What a build leaves behind (ignored by the projects' .gitignore) does not count.
        let built = |f: &PathBuf| {
            f.starts_with("target")
                || f.starts_with(".lockgate")
                || f.ends_with("task.wasm")
                || f.ends_with("Cargo.lock")
                || f.starts_with("__pycache__")
        };
        let want = files_under(&fresh);
        let have: Vec<PathBuf> = files_under(&example)
            .into_iter()
            .filter(|f| !built(f))
            .collect();
        assert_eq!(
            have, want,
            "examples/tasks/{lang} differs from the template: run examples/tasks/regenerate.sh"
        );
        for f in &want {
            assert!(
                fs::read(example.join(f)).unwrap() == fs::read(fresh.join(f)).unwrap(),
                "examples/tasks/{lang}/{} differs from the template: run examples/tasks/regenerate.sh",
                f.display()
            );
        }
    }
}
