//! Issue 16 §1, scripts as tasks, end to end through the real `lockgate` binary: Python and
//! JavaScript scripts kept in a repository run as `task` steps through the first-party runner
//! components (`plugins/runners/python`, `plugins/runners/javascript`), built here from source by
//! their own `build.sh` (componentize-py and jco install themselves into `target/toolchains`).
//!
//! For each language, one pipeline whose jobs all `get` the same repository (the `file`
//! resource type) and run a script of it:
//!
//! - `render` computes a manifest from a JSON file of its input (its sha256, its fields), a
//!   param and its own arguments, with a module beside it; writes it into an output, which a
//!   second script task prints; the log holds what both printed, to stdout and to stderr;
//! - (Python) `stdlib` imports every module of the standard library but the documented few that
//!   need what WASI does not have, and checks that those few are indeed unavailable;
//! - `exit-code` exits with 3, `exception` raises: the build fails, the code and the message
//!   (traceback or stack) in the log;
//! - `read-only` writes into its input: refused, the build fails with the error in the log;
//! - `endless` loops forever: stopped by its `limits: {timeout: 2s}`, the build errors.
//!
//! Nothing is skipped: a toolchain that cannot be installed fails the test, with the
//! installer's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use lockgate_e2e::{Run, build_script, lockgate, repo, run};
use lockgate_test_artifacts as artifacts;
use sha2::{Digest, Sha256};

/// Where this test binary keeps the runners it builds and the compiled-component cache.
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("task-scripts")
}

/// Builds a runner once per test run with its `build.sh`; returns the component.
fn runner(lang: &'static str) -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static JAVASCRIPT: OnceLock<PathBuf> = OnceLock::new();
    let cell = match lang {
        "python" => &PYTHON,
        "javascript" => &JAVASCRIPT,
        _ => unreachable!(),
    };
    cell.get_or_init(|| {
        let out = scratch().join(format!("{lang}.wasm"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&out);
        let dir = repo().join("plugins/runners").join(lang);
        build_script(
            &format!("plugins/runners/{lang}"),
            &dir,
            &dir.join("build.sh"),
            &[&out],
        );
        let size = std::fs::metadata(&out)
            .unwrap_or_else(|e| panic!("{}: {e}", out.display()))
            .len();
        eprintln!("{}: {:.1} MB", out.display(), size as f64 / 1e6);
        out
    })
    .clone()
}

/// The repository the scripts live in, as the `file` resource's paths see it.
const APP_JSON: &str = "{\"name\": \"web\", \"version\": \"1.4.2\", \"replicas\": 3}\n";

/// A project directory: the pipeline, the repository `repo/` and the state.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose repository holds `files` (path under `repo/`, content) and `app.json`,
    /// and whose pipeline runs `jobs` (YAML of the `jobs:` list) with the runner `component`.
    fn new(component: &Path, files: &[(&str, &str)], jobs: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let p = Self { dir };
        p.write("repo/app.json", APP_JSON);
        let mut paths = vec!["/dirs/repo/app.json".to_owned()];
        for (path, text) in files {
            p.write(&format!("repo/{path}"), text);
            paths.push(format!("/dirs/repo/{path}"));
        }
        p.write(
            "pipeline.yml",
            &format!(
                "\
environments: [dev]
resource_types:
  file: {file}
resources:
  - name: repo
    type: file
    source: {{ paths: [{paths}] }}
    grants: {{ dirs: {{ repo: ./repo }} }}
jobs:
{jobs}",
                file = artifacts::FILE,
                paths = paths.join(", "),
            ),
        );
        // The runner, named relative to the pipeline as a user would.
        std::fs::copy(component, p.path("runner.wasm")).unwrap();
        p
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn lg(&self, args: &[&str]) -> Run {
        let mut cmd: Command = lockgate(&scratch());
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(args);
        run(&mut cmd)
    }

    /// The status of each build of `job`, oldest first.
    fn statuses(&self, job: &str) -> Vec<String> {
        let r = self.lg(&["builds", "--job", job]);
        assert_eq!(r.code, 0, "lockgate builds --job {job}: {}", r.stderr);
        let mut rows: Vec<String> = r
            .stdout
            .lines()
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                (words.len() >= 4 && words[2].starts_with('#')).then(|| words[3].to_owned())
            })
            .collect();
        rows.reverse();
        rows
    }

    /// The log of build 1 of `job`.
    fn log(&self, job: &str) -> String {
        let r = self.lg(&["logs", &format!("{job}/1")]);
        assert_eq!(r.code, 0, "lockgate logs {job}/1: {}", r.stderr);
        r.stdout
    }
}

/// A job of environment `dev` that gets the repository and runs `steps` (YAML list items).
fn job(name: &str, steps: &str) -> String {
    format!(
        "  - name: {name}
    environment: dev
    plan:
      - get: repo
        trigger: true
{steps}"
    )
}

/// A task step running `args` (the script first) with the runner, its input `repo` (and
/// `out` when `with_out`), with `extra` keys of `config` and then of the step.
fn script_task(name: &str, args: &str, with_out: bool, extra: &str) -> String {
    let inputs = if with_out { "repo, out" } else { "repo" };
    format!(
        "      - task: {name}
        config:
          component: runner.wasm
          args: [{args}]
          inputs: [{inputs}]
{extra}"
    )
}

/// The failure jobs, the same for both languages: the script `fail` in a mode.
fn failure_jobs(script: &str) -> String {
    [
        job(
            "exit-code",
            &script_task("fail", &format!("{script}, exit"), false, ""),
        ),
        job(
            "exception",
            &script_task("fail", &format!("{script}, raise"), false, ""),
        ),
        job(
            "read-only",
            &script_task("fail", &format!("{script}, write-input"), false, ""),
        ),
        job(
            "endless",
            &script_task(
                "fail",
                &format!("{script}, loop"),
                false,
                "        limits: { timeout: 2s }\n",
            ),
        ),
    ]
    .concat()
}

fn assert_in(log: &str, lines: &[&str]) {
    for line in lines {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
}

/// The checks both languages share once `lockgate run` is done: the render job succeeded with
/// `manifest` printed by the second task; the failure jobs failed or errored with their
/// messages.
fn check_results(p: &Project, manifest: &str, render_lines: &[&str], failures: &[(&str, &[&str])]) {
    assert_eq!(p.statuses("render"), ["succeeded"]);
    let log = p.log("render");
    assert_in(&log, render_lines);
    assert_in(
        &log,
        &[
            &format!("manifest: {manifest}"),
            "task `render` succeeded",
            "task `show` succeeded",
        ],
    );

    for job in ["exit-code", "exception", "read-only"] {
        assert_eq!(p.statuses(job), ["failed"], "job {job}");
    }
    for (job, lines) in failures {
        let log = p.log(job);
        assert_in(&log, lines);
    }
    assert_eq!(p.statuses("endless"), ["errored"]);
    assert_in(
        &p.log("endless"),
        &["task `fail` exceeded its 2 s deadline and was stopped"],
    );
}

/// The sha256 of the repository's `app.json`, as the scripts compute it.
fn app_digest() -> String {
    hex::encode(Sha256::digest(APP_JSON.as_bytes()))
}

/// `lockgate run`, timed (its first run compiles the runner), which must exit with 1 (builds
/// failed, as some of them must).
fn run_pipeline(p: &Project, what: &str) {
    let started = Instant::now();
    let r = p.lg(&["run", "pipeline.yml", "--registry", "registry"]);
    eprintln!(
        "{what}: lockgate run in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        r.code, 1,
        "lockgate run (some builds fail)\n--- stdout\n{}--- stderr\n{}",
        r.stdout, r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Python
// ---------------------------------------------------------------------------------------------

const PY_RENDER: &str = r##"import argparse, base64, csv, datetime, hashlib, io, json, os, pathlib, re, sys, textwrap
import xml.dom.minidom  # not preloaded in the runner: compiled from its bundled stdlib now
from naming import slug  # a module beside the script

parser = argparse.ArgumentParser(prog="render")
parser.add_argument("--channel", required=True)
args = parser.parse_args()

source = pathlib.Path("repo/app.json")
app = json.loads(source.read_text())
manifest = {
    "argv0": sys.argv[0],
    "channel": args.channel,
    "name": app["name"],
    "region": os.environ["REGION"],
    "replicas": app["replicas"],
    "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
    "slug": slug(app["name"] + " " + app["version"]),
}
os.makedirs("out/manifests", exist_ok=True)
with open("out/manifests/app.json", "w") as f:
    json.dump(manifest, f, sort_keys=True)
rows = io.StringIO()
csv.writer(rows).writerow([app["name"], app["version"]])
pathlib.Path("out/summary.csv").write_text(rows.getvalue())
doc = xml.dom.minidom.parseString("<app name='%s'/>" % app["name"])
print("rendered", doc.documentElement.getAttribute("name"), "for", os.environ["REGION"])
print("encoded", base64.b64encode(b"web").decode(), textwrap.shorten("a b c d e f", 9),
      re.sub(r"\d", "#", "v1.4"), datetime.date(2026, 1, 2).isoformat())
print("a warning on stderr", file=sys.stderr)
"##;

const PY_NAMING: &str = r#"import re

def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
"#;

const PY_SHOW: &str = r#"import sys
print("manifest: " + open("out/manifests/app.json").read())
print("summary: " + open("out/summary.csv").read().strip())
print("args:", sys.argv)
"#;

/// Modules of `sys.stdlib_module_names` that the runner does not have (the README lists
/// them): their C extension is not in componentize-py's interpreter, or they are Windows/macOS
/// only, or need a terminal or a GUI.
const PY_STDLIB: &str = r#"import sys
UNAVAILABLE = {
    "_bz2", "bz2", "_lzma", "lzma", "_zstd", "_ctypes", "ctypes", "_curses", "_curses_panel",
    "curses", "_dbm", "_gdbm", "_hashlib", "_ssl", "ssl", "_uuid", "_multiprocessing",
    "_posixshmem", "_posixsubprocess", "_interpchannels", "_interpqueues", "_interpreters",
    "_remote_debugging", "_tkinter", "tkinter", "turtle", "turtledemo", "idlelib", "ensurepip",
    "fcntl", "grp", "mmap", "pty", "pwd", "readline", "resource", "syslog", "termios", "tty",
    "_overlapped", "_scproxy", "_winapi", "_wmi", "msvcrt", "nt", "winreg", "winsound",
}
QUIET = {"this", "antigravity"}  # they print (or open a browser) when imported
names = sorted(set(sys.stdlib_module_names) - UNAVAILABLE - QUIET)
failed = []
for name in names:
    try:
        __import__(name)
    except Exception as e:
        failed.append(f"{name}: {type(e).__name__}: {e}")
for name in sorted(UNAVAILABLE):
    try:
        __import__(name)
        failed.append(f"{name} is listed as unavailable but imports: update the list")
    except ImportError:
        pass
for f in failed:
    print("failed:", f)
print(f"stdlib: {len(names)} modules imported, {len(UNAVAILABLE)} unavailable as listed, "
      f"{len(failed)} problems")
sys.exit(1 if failed else 0)
"#;

const PY_FAIL: &str = r#"import sys

def check(manifest):
    raise RuntimeError("manifest check failed: missing field 'owner'")

mode = sys.argv[1]
print("mode", mode)
if mode == "exit":
    print("giving up: version 1.4.2 is not allowed", file=sys.stderr)
    sys.exit(3)
elif mode == "raise":
    check({})
elif mode == "write-input":
    with open("repo/intruder.txt", "w") as f:
        f.write("nope")
elif mode == "loop":
    while True:
        pass
"#;

#[test]
fn python_scripts_run_as_tasks_with_their_standard_library() {
    let component = runner("python");
    let jobs = [
        job(
            "render",
            &format!(
                "{}{}",
                script_task(
                    "render",
                    "repo/ci/render.py, --channel, stable",
                    false,
                    "          outputs: [out]\n          params: { REGION: eu-1 }\n",
                ),
                script_task("show", "repo/ci/show.py, one, 'two words'", true, ""),
            ),
        ),
        job(
            "stdlib",
            &script_task("stdlib", "repo/ci/stdlib_check.py", false, ""),
        ),
        failure_jobs("repo/ci/fail.py"),
    ]
    .concat();
    let p = Project::new(
        &component,
        &[
            ("ci/render.py", PY_RENDER),
            ("ci/naming.py", PY_NAMING),
            ("ci/show.py", PY_SHOW),
            ("ci/stdlib_check.py", PY_STDLIB),
            ("ci/fail.py", PY_FAIL),
        ],
        &jobs,
    );
    run_pipeline(&p, "python");

    let manifest = format!(
        "{{\"argv0\": \"repo/ci/render.py\", \"channel\": \"stable\", \"name\": \"web\", \
         \"region\": \"eu-1\", \"replicas\": 3, \"sha256\": \"{}\", \"slug\": \"web-1-4-2\"}}",
        app_digest()
    );
    check_results(
        &p,
        &manifest,
        &[
            "rendered web for eu-1",
            "encoded d2Vi a b [...] v#.# 2026-01-02",
            "a warning on stderr",
            "summary: web,1.4.2",
            "args: ['repo/ci/show.py', 'one', 'two words']",
        ],
        &[
            (
                "exit-code",
                &[
                    "mode exit",
                    "giving up: version 1.4.2 is not allowed",
                    "task `fail` exited with code 3",
                ],
            ),
            (
                "exception",
                &[
                    "Traceback (most recent call last):",
                    "File \"repo/ci/fail.py\", line 12, in <module>",
                    "File \"repo/ci/fail.py\", line 4, in check",
                    "RuntimeError: manifest check failed: missing field 'owner'",
                    "task `fail` exited with code 1",
                ],
            ),
            (
                "read-only",
                &[
                    "PermissionError: [Errno 63] Operation not permitted: 'repo/intruder.txt'",
                    "task `fail` exited with code 1",
                ],
            ),
        ],
    );
    assert!(!p.path("repo/intruder.txt").exists());

    assert_eq!(p.statuses("stdlib"), ["succeeded"], "{}", p.log("stdlib"));
    let log = p.log("stdlib");
    assert!(log.contains(" unavailable as listed, 0 problems"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// JavaScript
// ---------------------------------------------------------------------------------------------

const JS_RENDER: &str = r#"const fs = require('fs');
const path = require('node:path');
const crypto = require('crypto');
const { slug } = require('./naming.js');

const channel = process.argv[process.argv.indexOf('--channel') + 1];
const bytes = fs.readFileSync('repo/app.json');
const app = JSON.parse(new TextDecoder().decode(bytes));
const manifest = {
  argv1: process.argv[1],
  channel,
  name: app.name,
  region: process.env.REGION,
  replicas: app.replicas,
  sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
  slug: slug(`${app.name} ${app.version}`),
};
fs.mkdirSync(path.join('out', 'manifests'), { recursive: true });
fs.writeFileSync('out/manifests/app.json', JSON.stringify(manifest));
// After an await and a timer: the runner waits for both.
await new Promise((resolve) => setTimeout(resolve, 10));
const web = await crypto.subtle.digest('SHA-256', bytes);
const same = Buffer_hex(new Uint8Array(web)) === manifest.sha256;
console.log(`rendered ${app.name} for ${process.env.REGION} (web crypto agrees: ${same})`);
console.log('files', JSON.stringify(fs.readdirSync('out')));
console.error('a warning on stderr');

function Buffer_hex(a) {
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}
"#;

const JS_NAMING: &str = r#"exports.slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
"#;

const JS_SHOW: &str = r#"const fs = require('fs');
console.log('manifest: ' + fs.readFileSync('out/manifests/app.json', 'utf8'));
console.log('args: ' + JSON.stringify(process.argv.slice(2)));
"#;

const JS_FAIL: &str = r#"const fs = require('fs');

function check(manifest) {
  throw new Error("manifest check failed: missing field 'owner'");
}

const mode = process.argv[2];
console.log('mode', mode);
if (mode === 'exit') {
  console.error('giving up: version 1.4.2 is not allowed');
  process.exit(3);
} else if (mode === 'raise') {
  check({});
} else if (mode === 'write-input') {
  fs.writeFileSync('repo/intruder.txt', 'nope');
} else if (mode === 'loop') {
  for (;;) {}
}
"#;

#[test]
fn javascript_scripts_run_as_tasks_with_fs_process_and_crypto() {
    let component = runner("javascript");
    let jobs = [
        job(
            "render",
            &format!(
                "{}{}",
                script_task(
                    "render",
                    "repo/ci/render.js, --channel, stable",
                    false,
                    "          outputs: [out]\n          params: { REGION: eu-1 }\n",
                ),
                // The runner as users share it: published to the registry as a task.
                script_task("show", "repo/ci/show.js, one, 'two words'", true, "")
                    .replace("component: runner.wasm", "component: javascript@1"),
            ),
        ),
        failure_jobs("repo/ci/fail.js"),
    ]
    .concat();
    let p = Project::new(
        &component,
        &[
            ("ci/render.js", JS_RENDER),
            ("ci/naming.js", JS_NAMING),
            ("ci/show.js", JS_SHOW),
            ("ci/fail.js", JS_FAIL),
        ],
        &jobs,
    );
    let r = p.lg(&[
        "plugin",
        "publish",
        "runner.wasm",
        "--task",
        "javascript@1.0.0",
        "--registry",
        "registry",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    run_pipeline(&p, "javascript");
    let lock = std::fs::read_to_string(p.path("lockgate.lock")).expect("lockgate.lock");
    assert!(lock.contains("name = \"javascript\""), "{lock}");

    let manifest = format!(
        "{{\"argv1\":\"repo/ci/render.js\",\"channel\":\"stable\",\"name\":\"web\",\
         \"region\":\"eu-1\",\"replicas\":3,\"sha256\":\"{}\",\"slug\":\"web-1-4-2\"}}",
        app_digest()
    );
    check_results(
        &p,
        &manifest,
        &[
            "rendered web for eu-1 (web crypto agrees: true)",
            "files [\"manifests\"]",
            "a warning on stderr",
            "args: [\"one\",\"two words\"]",
        ],
        &[
            (
                "exit-code",
                &[
                    "mode exit",
                    "giving up: version 1.4.2 is not allowed",
                    "task `fail` exited with code 3",
                ],
            ),
            (
                "exception",
                &[
                    "Uncaught Error: manifest check failed: missing field 'owner'",
                    "at check@repo/ci/fail.js:4:9",
                    "task `fail` exited with code 1",
                ],
            ),
            (
                "read-only",
                &[
                    "Uncaught Error: EPERM: operation not permitted, open 'repo/intruder.txt'",
                    "task `fail` exited with code 1",
                ],
            ),
        ],
    );
    assert!(!p.path("repo/intruder.txt").exists());
}
