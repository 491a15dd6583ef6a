//! Issue 14 end to end: a server whose pipeline holds hostile resources (a check returning
//! 100,000 versions, one reading a FIFO, one filling its cache past the disk limit, one
//! flooding stdout, one looping) keeps serving: `/healthz` answers within a second, an
//! ordinary job's build succeeds, every limit is reported by name, and the server's memory
//! stays under 300 MiB throughout.

use std::time::Instant;

use super::*;
use lockgate_e2e::{Server, http};

const HOSTILE: &str = "\
environments: [development]
resource_types:
  counter: ((counter_wasm))
  hostile:
    plugin: ((hostile_wasm))
    limits: {disk_size: 16MiB, cache_size: 1MiB}
resources:
  - name: release
    type: counter
    check_every: never
    source: {path: /dirs/state/counter}
    grants: {dirs: {state: {path: state, writable: true}}}
  - {name: flood, type: hostile, check_every: 2s, source: {attack: many, versions: 100000}}
  - name: fifo
    type: hostile
    check_every: 1s
    source: {attack: read-file, path: /dirs/pipe/fifo}
    grants: {dirs: {pipe: pipe}}
  - {name: filler, type: hostile, check_every: 2s, source: {attack: fill, dir: /cache, bytes: 104857600}}
  - {name: chatter, type: hostile, check_every: 2s, source: {attack: stdout-flood, bytes: 20971520}}
  - {name: spinner, type: hostile, check_every: 5s, check_timeout: 2s, source: {attack: loop}}
jobs:
  - {name: ok, environment: development, plan: [{get: release, trigger: true}]}
  # Only resources a job gets are checked; this job never runs (nothing triggers it).
  - name: watch
    environment: development
    plan: [{get: flood}, {get: fifo}, {get: filler}, {get: chatter}, {get: spinner}]
";

/// The most the server may hold in memory while its plugins misbehave.
const RSS_BOUND_KIB: u64 = 300 * 1024;

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes of the files under `dir`.
fn du(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[test]
fn hostile_plugins_neither_stall_nor_bloat_the_server() {
    let p = Project::new(HOSTILE, &["state", "pipe"]);
    p.write("state/counter", "1");
    let status = Command::new("mkfifo")
        .arg(p.path("pipe/fifo"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let mut cmd = p.command();
    cmd.args(["server", "pipeline.yml", "--listen", "127.0.0.1:0"]);
    let mut server = Server::start(cmd, p.path("server.log"));
    let pid = server.process.0.id();
    let cache = p.path(".lockgate/work/cache/filler");

    let mut worst_health = Duration::ZERO;
    let mut worst_rss = 0;
    let mut worst_cache = 0;
    let started = Instant::now();
    let mut built = false;
    // Long enough for every hostile check to run several times.
    while started.elapsed() < Duration::from_secs(40) || !built {
        assert!(
            started.elapsed() < SERVER_TIMEOUT,
            "the build of `ok` never succeeded:\n{}",
            fs::read_to_string(&server.log).unwrap_or_default()
        );
        assert!(server.process.is_running(), "the server exited");
        let asked = Instant::now();
        let (code, body) = http("GET", &format!("{}/healthz", server.url), None, None);
        worst_health = worst_health.max(asked.elapsed());
        assert_eq!(code, 200, "{body}");
        worst_rss = worst_rss.max(rss_kib(pid));
        worst_cache = worst_cache.max(du(&cache));
        if !built {
            built = p
                .try_builds("ok")
                .is_ok_and(|rows| rows.iter().any(|b| b.status == "succeeded"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = fs::read_to_string(&server.log).unwrap();
    eprintln!(
        "healthz worst {worst_health:?}, RSS worst {} MiB, cache worst {} KiB",
        worst_rss / 1024,
        worst_cache / 1024
    );
    assert!(
        worst_health < Duration::from_secs(1),
        "/healthz took {worst_health:?}"
    );
    assert!(
        worst_rss < RSS_BOUND_KIB,
        "the server reached {} MiB",
        worst_rss / 1024
    );
    assert!(
        worst_cache <= 16 << 20,
        "the cache held {worst_cache} bytes, past the disk limit"
    );
    assert!(du(&cache) <= 16 << 20);

    // Each limit is named where the operator looks.
    for expected in [
        "check returned 100000 versions, more than the limit of 10000",
        "/dirs/pipe/fifo: Permission denied",
        "refused to open `fifo`: it is a FIFO, socket or other special file",
        "went past its disk limit of 16MiB written and was stopped; the plugin's type can raise it with `limits: {disk_size: …}`",
        "the cache of `filler` held",
        "exceeded its 2 s check deadline",
    ] {
        assert!(
            log.contains(expected),
            "`{expected}` not in the log:\n{log}"
        );
    }
    // The newest versions of the flood were kept.
    let (code, body) = http(
        "GET",
        &format!("{}/api/v1/resources", server.url),
        None,
        None,
    );
    assert_eq!(code, 200, "{body}");
    let resources: Value = serde_json::from_str(&body).unwrap();
    let flood = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "flood")
        .expect("flood");
    assert_eq!(flood["latest"]["version"]["n"], "99999", "{flood}");
    server.process.kill();
}
