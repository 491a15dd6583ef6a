//! `webhook_to_production`: how long a change takes from its webhook to production, under
//! `lockgate server` (SQLite), through development → staging → production with automatic
//! approvals. Each environment's job gets the release (through `passed` after the first) and
//! puts it into its environment's counter with a real plugin; the clock runs from the webhook's
//! `POST …/check?webhook_token=` to the moment production's counter holds the new release.
//!
//! The baseline, measured in the same run on the same server: the same change with one
//! environment (webhook → development), so the cost per environment is visible. Set
//! `LOCKGATE_BASELINE_BIN` to another `lockgate` binary (an older commit's) to measure both
//! binaries alternately.
//!
//! Run: `cargo bench -p lockgate --bench webhook_to_production`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lockgate_test_artifacts as artifacts;

const TOKEN: &str = "bench-hook-token";

fn pipeline(environments: &[&str]) -> String {
    let mut text = String::from("environments:\n");
    for e in environments {
        text.push_str(&format!("  - {{name: {e}, approval: automatic}}\n"));
    }
    text.push_str(&format!(
        "resource_types: {{counter: ((counter_wasm))}}\nresources:\n  - name: release\n    type: counter\n    check_every: never\n    webhook_token: {TOKEN}\n    source: {{path: /dirs/state/release}}\n    grants: {{dirs: {{state: ./upstream}}}}\n"
    ));
    for e in environments {
        text.push_str(&format!(
            "  - {{name: {e}-env, type: counter, check_every: never, source: {{path: /dirs/state/deployed}}, grants: {{dirs: {{state: {{path: ./envs/{e}, writable: true}}}}}}}}\n"
        ));
    }
    text.push_str("jobs:\n");
    for (i, e) in environments.iter().enumerate() {
        let passed = if i == 0 {
            String::new()
        } else {
            format!(", passed: [deploy-{}]", environments[i - 1])
        };
        text.push_str(&format!(
            "  - name: deploy-{e}\n    environment: {e}\n    plan:\n      - {{get: release, trigger: true{passed}}}\n      - {{put: {e}-env, params: {{from_file: release/number}}}}\n"
        ));
    }
    text
}

/// A `lockgate server` on a pipeline of its own, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    last: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(bin: &Path, environments: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pipeline.yml"), pipeline(environments)).unwrap();
        std::fs::create_dir_all(dir.path().join("upstream")).unwrap();
        for e in environments {
            std::fs::create_dir_all(dir.path().join("envs").join(e)).unwrap();
        }
        std::fs::write(dir.path().join("upstream/release"), "1\n").unwrap();
        let log = dir.path().join("server.log");
        let mut cmd = Command::new(bin);
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with("LOCKGATE_")) {
                cmd.env_remove(name);
            }
        }
        let child = cmd
            .current_dir(dir.path())
            .env("LOCKGATE_VAR_COUNTER_WASM", artifacts::COUNTER)
            .env(
                "LOCKGATE_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-cache"),
            )
            .env_remove("RUST_LOG")
            .args(["server", "pipeline.yml", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawning lockgate server");
        let start = Instant::now();
        let addr = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(addr) = text.lines().find_map(|l| {
                let (_, rest) = l.split_once("API http://")?;
                Some(rest.split_whitespace().next()?.to_owned())
            }) {
                break addr;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut server = Self {
            child,
            addr,
            dir,
            last: environments.last().unwrap().to_string(),
        };
        // Release 1 reaches the last environment first (plugins compiled, state warm).
        server.change(1);
        server
    }

    fn deployed(&self) -> PathBuf {
        self.dir
            .path()
            .join("envs")
            .join(&self.last)
            .join("deployed")
    }

    /// Writes release `n`, sends the webhook, and returns the time until the last environment
    /// holds it.
    fn change(&mut self, n: u32) -> Duration {
        let tmp = self.dir.path().join("upstream/.release");
        std::fs::write(&tmp, format!("{n}\n")).unwrap();
        std::fs::rename(&tmp, self.dir.path().join("upstream/release")).unwrap();
        let start = Instant::now();
        let status = post(
            &self.addr,
            &format!("/api/v1/resources/release/check?webhook_token={TOKEN}"),
        );
        assert!(status < 300, "webhook answered {status}");
        loop {
            if std::fs::read_to_string(self.deployed()).is_ok_and(|d| d.trim() == n.to_string()) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "release {n} never reached `{}`",
                self.last
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// `POST path` on `addr`, the status code.
fn post(addr: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(bin: &Path, environments: &[&str], changes: u32) -> Duration {
    let mut server = Server::start(bin, environments);
    median((2..2 + changes).map(|n| server.change(n)).collect())
}

fn main() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lockgate"));
    let three = ["development", "staging", "production"];
    // Under `cargo test --all-targets` one short round keeps the code working.
    if !std::env::args().any(|a| a == "--bench") {
        let took = measure(&bin, &three, 2);
        println!(
            "smoke: webhook → production in {:.0} ms; `cargo bench` measures",
            took.as_secs_f64() * 1000.0
        );
        return;
    }
    let baseline_bin = std::env::var_os("LOCKGATE_BASELINE_BIN").map(PathBuf::from);
    println!(
        "| binary | webhook → development (baseline) | webhook → production | per environment after the first |"
    );
    println!("|---|---:|---:|---:|");
    for round in 0..3 {
        let mut bins = vec![("this", bin.clone())];
        if let Some(b) = &baseline_bin {
            bins.push(("baseline", b.clone()));
        }
        if round % 2 == 1 {
            bins.reverse();
        }
        for (name, b) in bins {
            let one = measure(&b, &three[..1], 15);
            let all = measure(&b, &three, 15);
            println!(
                "| {name} | {:.0} ms | {:.0} ms | {:.0} ms |",
                one.as_secs_f64() * 1000.0,
                all.as_secs_f64() * 1000.0,
                (all.saturating_sub(one)).as_secs_f64() * 1000.0 / 2.0
            );
        }
    }
}
