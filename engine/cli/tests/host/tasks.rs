//! Tasks through the plugin host: a `wasi:cli/command` program (`plugins/fixtures/task-programs`,
//! built for `wasm32-wasip2` as a binary) loaded with `PluginHost::load_task` and run in a
//! sandbox like a plugin's: its arguments and params, its directories relative to its working
//! directory, its exit code, its output streamed and capped, and the limits that stop it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::host;
use lockgate::plugin_host::{
    CacheOutcome, Grants, InvokeError, Limits, LoadError, LogLine, LogSink, LogSource, MemorySink,
    Task, TaskDir, TaskExit, TaskInvocation,
};
use lockgate_test_artifacts as artifacts;

async fn task() -> Task {
    host()
        .load_task(artifacts::TASK_PROGRAMS)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", artifacts::TASK_PROGRAMS))
}

/// An invocation of the fixture with `args` (the behaviour first).
fn args(args: &[&str]) -> TaskInvocation {
    TaskInvocation {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..TaskInvocation::default()
    }
}

/// Runs the fixture, its log into a new [`MemorySink`].
async fn run(inv: &TaskInvocation) -> (Result<TaskExit, InvokeError>, MemorySink) {
    let sink = MemorySink::new();
    let result = task().await.run(inv, Arc::new(sink.clone())).await;
    (result, sink)
}

/// The lines of `sink` as `(stream, text)`.
fn lines(sink: &MemorySink) -> Vec<(LogSource, String)> {
    sink.lines()
        .into_iter()
        .map(|l| (l.source, l.message))
        .collect()
}

fn stdout(text: &str) -> (LogSource, String) {
    (LogSource::Stdout, text.to_owned())
}

fn stderr(text: &str) -> (LogSource, String) {
    (LogSource::Stderr, text.to_owned())
}

#[tokio::test]
async fn a_task_gets_its_arguments_and_params_and_nothing_else_of_the_host_environment() {
    let task = task().await;
    assert_eq!(task.name(), "task-programs");
    let inv = TaskInvocation {
        params: vec![
            ("GREETING".into(), "hello world".into()),
            ("DEPLOY_ENV".into(), "staging".into()),
        ],
        ..args(&["echo", "two words", "--flag"])
    };
    let sink = MemorySink::new();
    let exit = task
        .clone()
        .with_name("render")
        .run(&inv, Arc::new(sink.clone()))
        .await
        .unwrap();
    assert_eq!(exit, TaskExit { code: 0 });
    assert!(exit.success());
    // argv[0] is the task's name; the host's PATH, HOME, … are not there; `PWD` names the
    // working directory (Go's wasip1 port reads it).
    assert_eq!(
        lines(&sink),
        [
            stdout("arg[0]=render"),
            stdout("arg[1]=echo"),
            stdout("arg[2]=two words"),
            stdout("arg[3]=--flag"),
            stdout("cwd=/"),
            stdout("env DEPLOY_ENV=staging"),
            stdout("env GREETING=hello world"),
            stdout("env PWD=/"),
        ]
    );
}

#[tokio::test]
async fn a_task_reads_inputs_and_writes_outputs_relative_to_its_working_directory() {
    let config = tempfile::tempdir().unwrap();
    let rendered = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("input.txt"), "replicas: 3\n").unwrap();
    let inv = TaskInvocation {
        inputs: vec![TaskDir::new("config", config.path())],
        outputs: vec![TaskDir::new("rendered", rendered.path())],
        ..args(&["files"])
    };
    let (result, sink) = run(&inv).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(
        std::fs::read_to_string(rendered.path().join("out.txt")).unwrap(),
        "rendered: REPLICAS: 3\n"
    );
    // The input is read-only: the program was told so, and nothing appeared on the host.
    assert!(!config.path().join("intruder.txt").exists());
    assert_eq!(
        std::fs::read_dir(config.path()).unwrap().count(),
        1,
        "only input.txt"
    );
    assert_eq!(
        lines(&sink),
        [
            stdout("reading config/input.txt"),
            stderr("read 12 bytes"),
            stdout("writing rendered/out.txt"),
            stdout("cannot write config/intruder.txt: PermissionDenied"),
            stderr("done"),
        ]
    );
}

#[tokio::test]
async fn the_exit_code_is_the_programs() {
    let (result, sink) = run(&args(&["exit", "3"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 3 });
    assert!(sink.lines().is_empty());
    let (result, _) = run(&args(&["exit", "0"])).await;
    assert!(result.unwrap().success());
    // `std::process::exit(3)` in Rust (wasi-libc) reports failure without its code: the host
    // is told 1. A program returns an exact code with `wasi:cli/exit.exit-with-code`.
    let (result, _) = run(&args(&["std-exit", "3"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 1 });
    let (result, _) = run(&args(&["std-exit", "0"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    // An unknown behaviour: the fixture says so on stderr and exits with 2.
    let (result, sink) = run(&args(&["nonsense"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 2 });
    assert_eq!(lines(&sink), [stderr("unknown mode \"nonsense\"")]);
}

#[tokio::test]
async fn an_endless_task_is_stopped_at_its_deadline() {
    let inv = TaskInvocation {
        limits: Limits::default().with_deadline(Duration::from_millis(500)),
        ..args(&["loop"])
    };
    let started = Instant::now();
    let (result, _) = run(&inv).await;
    let elapsed = started.elapsed();
    let err = result.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Deadline { plugin, limit, .. }
            if plugin == "task-programs" && *limit == Duration::from_millis(500)),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "task `task-programs` exceeded its 500 ms deadline and was stopped; if the work is legitimately slow, raise the step's `timeout`"
    );
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(3),
        "stopped after {elapsed:?}"
    );
    // The host still runs tasks.
    let (result, _) = run(&args(&["exit", "0"])).await;
    assert!(result.unwrap().success());
    // `std::process::exit(3)` in Rust (wasi-libc) reports failure without its code: the host
    // is told 1. A program returns an exact code with `wasi:cli/exit.exit-with-code`.
    let (result, _) = run(&args(&["std-exit", "3"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 1 });
    let (result, _) = run(&args(&["std-exit", "0"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
}

#[tokio::test]
async fn a_task_allocating_without_end_hits_the_memory_limit() {
    let inv = TaskInvocation {
        limits: Limits::default().with_memory(32 << 20),
        ..args(&["oom"])
    };
    let (result, _) = run(&inv).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, InvokeError::MemoryLimit { plugin, limit, .. }
            if plugin == "task-programs" && *limit == 32 << 20),
        "{err}"
    );
    assert!(err.to_string().contains("memory limit of 32 MiB"), "{err}");
}

#[tokio::test]
async fn a_flooding_task_is_capped_with_one_notice() {
    let cap = 64 * 1024;
    let inv = TaskInvocation {
        limits: Limits {
            output_bytes: cap,
            ..Limits::default()
        },
        // 100,000 lines of 100 bytes: 10 MB.
        ..args(&["flood", "100000"])
    };
    let (result, sink) = run(&inv).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    let lines = sink.lines();
    let passed: Vec<&LogLine> = lines
        .iter()
        .filter(|l| l.source == LogSource::Stdout)
        .collect();
    // Each 99-character line costs 100 bytes of the cap.
    assert_eq!(passed.len(), cap / 100);
    assert!(passed.iter().all(|l| l.message == "x".repeat(99)));
    let engine: Vec<&str> = lines
        .iter()
        .filter(|l| l.source == LogSource::Engine)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(
        engine,
        [
            format!(
                "output limit of {cap} bytes for this invocation reached; further output is dropped (the task step can raise it with `limits: {{log_size: …}}`)"
            ),
            format!(
                "{} bytes of task output were dropped (limit {cap} bytes)",
                100_000 * 100 - (cap / 100) * 100
            ),
        ]
    );
}

#[tokio::test]
async fn a_task_sees_no_host_path_outside_its_mounts() {
    let parent = tempfile::tempdir().unwrap();
    let config = parent.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("input.txt"), "ok").unwrap();
    let secret = parent.path().join("secret.txt");
    std::fs::write(&secret, "the secret").unwrap();
    let secret = secret.to_str().unwrap().to_owned();
    let inv = TaskInvocation {
        inputs: vec![TaskDir::new("config", &config)],
        ..args(&[
            "escape",
            "config/input.txt",
            "/config/input.txt",
            "/etc/passwd",
            "config/../secret.txt",
            "../secret.txt",
            &secret,
        ])
    };
    let (result, sink) = run(&inv).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(
        lines(&sink),
        [
            stdout("config/input.txt: read 2 bytes"),
            stdout("/config/input.txt: read 2 bytes"),
            stdout("/etc/passwd: error NotFound"),
            // wasi-libc refuses a path that climbs out of a preopen before asking the host.
            stdout("config/../secret.txt: error PermissionDenied"),
            stdout("../secret.txt: error NotFound"),
            stdout(&format!("{secret}: error NotFound")),
        ]
    );
}

/// A sink that records when each line arrived.
#[derive(Default)]
struct Timed(Mutex<Vec<(Instant, String)>>);

impl LogSink for Timed {
    fn line(&self, line: LogLine) {
        self.0.lock().unwrap().push((Instant::now(), line.message));
    }
}

#[tokio::test]
async fn output_reaches_the_log_as_it_is_written() {
    let sink = Arc::new(Timed::default());
    let started = Instant::now();
    let exit = task()
        .await
        .run(&args(&["ticks"]), sink.clone())
        .await
        .unwrap();
    let ended = Instant::now();
    assert!(exit.success());
    let lines = sink.0.lock().unwrap().clone();
    let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["tick 1", "tick 2"]);
    // `tick 1` came before the program's 300 ms sleep, not when it ended.
    assert!(
        lines[1].0 - lines[0].0 >= Duration::from_millis(250),
        "{:?} apart",
        lines[1].0 - lines[0].0
    );
    assert!(ended - lines[0].0 >= Duration::from_millis(250));
    assert!(lines[0].0 >= started);
}

#[tokio::test]
async fn a_plugin_a_core_module_or_garbage_is_not_a_task() {
    let err = host()
        .load_task(artifacts::COUNTER)
        .await
        .err()
        .expect("a plugin is not a task");
    assert!(matches!(err, LoadError::NotATask { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is not a task: a task is a `wasi:cli/command` component (a program built for wasm32-wasip2); it exports `lockgate:plugin/resource-ops@0.1.0`: it is a Lockgate plugin, run by a resource or a test step",
            artifacts::COUNTER
        )
    );
    let err = host()
        .load_task(artifacts::WRONG_WORLD)
        .await
        .err()
        .expect("another world is not a task");
    assert!(err.to_string().ends_with("; it exports `hello`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = host().load_task(&core).await.err().expect("a core module");
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is not a task: a task is a `wasi:cli/command` component (a program built for wasm32-wasip2); it is a core WebAssembly module, not a component (build it for the `wasm32-wasip2` target or wrap it with `wasm-tools component new`)",
            core.display()
        )
    );
    let text = dir.path().join("run.sh");
    std::fs::write(&text, "#!/bin/sh\necho hi\n").unwrap();
    let err = host().load_task(&text).await.err().expect("a script");
    assert!(
        err.to_string()
            .ends_with("; it is not WebAssembly (it does not start with `\\0asm`)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_task_is_compiled_once_and_then_taken_from_the_cache() {
    task().await;
    assert_eq!(task().await.cache_outcome(), CacheOutcome::Hit);
}

#[tokio::test]
async fn unusable_directories_and_params_are_refused_before_the_task_runs_and_nested_ones_work() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../x", "a/../b", "a//b", "", "/abs"] {
        let bad_name = TaskInvocation {
            inputs: vec![TaskDir::new(bad, dir.path())],
            ..args(&["exit", "0"])
        };
        let (result, _) = run(&bad_name).await;
        let err = result.unwrap_err();
        assert!(matches!(err, InvokeError::Grant { .. }), "{bad:?}: {err}");
    }
    // A directory may sit deeper than the working directory (`path: src/app`).
    std::fs::write(dir.path().join("input.txt"), "ok").unwrap();
    let nested = TaskInvocation {
        inputs: vec![TaskDir::new("src/app", dir.path())],
        ..args(&["escape", "src/app/input.txt", "/src/app/input.txt"])
    };
    let (result, sink) = run(&nested).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(
        lines(&sink),
        [
            stdout("src/app/input.txt: read 2 bytes"),
            stdout("/src/app/input.txt: read 2 bytes"),
        ]
    );
    let twice = TaskInvocation {
        inputs: vec![TaskDir::new("repo", dir.path())],
        outputs: vec![TaskDir::new("repo", dir.path())],
        ..args(&["exit", "0"])
    };
    let err = run(&twice).await.0.unwrap_err();
    assert!(err.to_string().contains("`repo` is granted twice"), "{err}");
    let param_twice = TaskInvocation {
        params: vec![("ENV".into(), "b".into())],
        grants: Grants::none().env("ENV", "a"),
        ..args(&["exit", "0"])
    };
    let err = run(&param_twice).await.0.unwrap_err();
    assert!(
        err.to_string()
            .contains("environment variable `ENV` is granted twice"),
        "{err}"
    );
}

#[tokio::test]
async fn a_task_panic_is_reported_like_a_plugins_naming_the_task() {
    let (result, sink) = run(&args(&["panic"])).await;
    let err = result.unwrap_err();
    match &err {
        InvokeError::Panicked {
            plugin, message, ..
        } => {
            assert_eq!(plugin, "task-programs");
            assert!(
                message.starts_with(
                    "task panicked on purpose (at fixtures/task-programs/src/main.rs:"
                ),
                "{message}"
            );
        }
        other => panic!("expected a panic, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with("task `task-programs` panicked: task panicked on purpose"),
        "{err}"
    );
    // The panic message also reached the log, from stderr.
    assert!(
        sink.lines()
            .iter()
            .any(|l| l.source == LogSource::Stderr && l.message == "task panicked on purpose"),
        "{:?}",
        sink.lines()
    );
}

/// A TCP server that answers each connection's first line with `echo LINE`; returns its port.
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
async fn a_task_reaches_only_the_granted_hosts() {
    let (port, server) = reply_server().await;
    let addr = format!("127.0.0.1:{port}");
    let (result, sink) = run(&args(&["connect", &addr])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(
        lines(&sink),
        [
            (
                LogSource::Engine,
                format!("network: refused to let the task connect to {addr}: not granted")
            ),
            stdout("error PermissionDenied"),
        ]
    );
    let granted = TaskInvocation {
        grants: Grants::none().network(addr.parse().unwrap()),
        ..args(&["connect", &addr])
    };
    let (result, sink) = run(&granted).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(lines(&sink), [stdout("reply echo hello")]);
    server.abort();
}

#[tokio::test]
async fn caches_and_granted_dirs_are_writable_and_disk_use_is_bounded() {
    let cache = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let rendered = tempfile::tempdir().unwrap();
    let inv = |args_: &[&str]| TaskInvocation {
        outputs: vec![TaskDir::new("rendered", rendered.path())],
        caches: vec![TaskDir::new("cache", cache.path())],
        grants: Grants::none().dir("shared", shared.path(), true),
        limits: Limits {
            disk_bytes: 8 << 20,
            ..Limits::default()
        },
        ..args(args_)
    };
    let (result, sink) = run(&inv(&["write", "cache/state.txt", "kept"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(lines(&sink), [stdout("wrote cache/state.txt")]);
    assert_eq!(
        std::fs::read_to_string(cache.path().join("state.txt")).unwrap(),
        "kept"
    );
    let (result, _) = run(&inv(&["write", "/dirs/shared/note.txt", "hi"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(
        std::fs::read_to_string(shared.path().join("note.txt")).unwrap(),
        "hi"
    );

    let (result, _) = run(&inv(&["fill", "rendered/big", &(100u64 << 20).to_string()])).await;
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "task `task-programs` went past its disk limit of 8MiB written and was stopped; the task step can raise it with `limits: {disk_size: …}`"
    );
    let written = std::fs::metadata(rendered.path().join("big"))
        .unwrap()
        .len();
    assert!(written <= 8 << 20, "{written} bytes reached the disk");
    let (result, sink) = run(&inv(&["fill", "rendered/small", "100000"])).await;
    assert_eq!(result.unwrap(), TaskExit { code: 0 });
    assert_eq!(lines(&sink), [stdout("filled rendered/small")]);
}
