//! `plugin_call`: what one plugin invocation costs, against Concourse's model and native code.
//!
//! - `plugin_call/wasm_fresh_sandbox`: a fresh store + instance of the `counter` component and a
//!   `check` that reads one granted file (the engine's real path: grants, limits, capture);
//! - `plugin_call/wasm_fresh_sandbox_blocking_pool_fs`: the same with file-system calls sent to
//!   tokio's blocking pool (`HostConfig::inline_fs = false`), the pitfall measured in
//!   `shared/notes/wasmtime-48.md`;
//! - `plugin_call/native_spawn`: spawning a native executable that does the same with JSON on
//!   stdin/stdout (how Concourse runs resource types, minus the container);
//! - `plugin_call/native_in_process`: the same logic as a plain Rust function call;
//! - `plugin_load/compile` vs `plugin_load/cache_hit`: loading the component (and calling
//!   `describe`) with a cold and a warm compiled-code cache.
//!
//! Figures and the machine they were measured on are in `BENCHMARKS.md`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use criterion::{Criterion, criterion_group, criterion_main};
use lockgate::plugin_host::{Grants, HostConfig, Invocation, PluginHost, Version};
use lockgate_test_artifacts as artifacts;
use serde_json::json;

/// The counter check as a native function: parse the source, read the file, list versions.
fn native_check(source: &str, from: Option<&Version>) -> Vec<Version> {
    let source: serde_json::Value = serde_json::from_str(source).unwrap();
    let path = source["path"].as_str().unwrap();
    let n: u64 = std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let from = from
        .and_then(|v| v.get("number"))
        .and_then(|k| k.parse::<u64>().ok());
    match from {
        Some(k) if k <= n => (k..=n).map(|i| Version::new().with("number", i)).collect(),
        _ if n == 0 => vec![],
        _ => vec![Version::new().with("number", n)],
    }
}

fn spawn_check(exe: &str, request: &[u8]) -> Vec<u8> {
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn plugin_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("counter"), "5\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().into()),
        ..HostConfig::default()
    })
    .unwrap();
    let counter = rt.block_on(host.load(artifacts::COUNTER)).unwrap();
    let inv = Invocation::new(Grants::none().dir("state", state.path(), false));
    let source = json!({"path": "/dirs/state/counter"});
    let expected = vec![Version::new().with("number", 5)];

    // Same answer on every path before timing anything.
    assert_eq!(
        rt.block_on(counter.check(&inv, &source, None)).unwrap(),
        expected
    );
    let host_file = state.path().join("counter");
    let native_source = json!({"path": host_file}).to_string();
    assert_eq!(native_check(&native_source, None), expected);
    let request = format!(r#"{{"source":{native_source},"version":null}}"#);
    let reply = spawn_check(artifacts::NATIVE_CHECK, request.as_bytes());
    let reply: Vec<Version> = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply, expected);

    let mut g = c.benchmark_group("plugin_call");
    g.bench_function("wasm_fresh_sandbox", |b| {
        b.iter(|| rt.block_on(counter.check(&inv, &source, None)).unwrap())
    });
    let pool_fs = PluginHost::new(HostConfig {
        cache_dir: Some(cache.path().into()),
        inline_fs: false,
        ..HostConfig::default()
    })
    .unwrap();
    let counter_pool_fs = rt.block_on(pool_fs.load(artifacts::COUNTER)).unwrap();
    g.bench_function("wasm_fresh_sandbox_blocking_pool_fs", |b| {
        b.iter(|| {
            rt.block_on(counter_pool_fs.check(&inv, &source, None))
                .unwrap()
        })
    });
    g.bench_function("native_spawn", |b| {
        b.iter(|| spawn_check(artifacts::NATIVE_CHECK, request.as_bytes()))
    });
    g.bench_function("native_in_process", |b| {
        b.iter(|| native_check(std::hint::black_box(&native_source), None))
    });
    g.finish();

    let mut g = c.benchmark_group("plugin_load");
    g.sample_size(10);
    let uncached = PluginHost::new(HostConfig {
        cache_dir: None,
        ..HostConfig::default()
    })
    .unwrap();
    g.bench_function("compile", |b| {
        b.iter(|| {
            rt.block_on(uncached.load(Path::new(artifacts::COUNTER)))
                .unwrap()
        })
    });
    g.bench_function("cache_hit", |b| {
        b.iter(|| {
            rt.block_on(host.load(Path::new(artifacts::COUNTER)))
                .unwrap()
        })
    });
    g.finish();
}

/// The benchmark groups of this file.
mod groups {
    #![allow(
        missing_docs,
        reason = "criterion_group! generates an undocumented public function"
    )]
    use super::*;
    criterion_group!(benches, plugin_call);
}

criterion_main!(groups::benches);
