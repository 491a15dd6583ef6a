//! The fuzz targets on the stable toolchain, as CI runs them: every input of the committed
//! corpus (`fuzz/corpus/<target>/`), then seeded mutations of them (bit flips, interesting
//! bytes, insertions and deletions, splices, tokens of the formats), the same ones on every
//! run: `LOCKGATE_FUZZ_ITERATIONS` per target (default 3,000). An input that panics is written
//! to `target/fuzz-failures/<target>-<n>` and named in the failure; replay it with
//! `cargo +nightly fuzz run <target> FILE` or add it to the corpus once fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use lockgate_fuzz::TARGETS;

/// Pieces of the formats the targets read, spliced into inputs.
const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "---\n",
    "...",
    "!!str ",
    "? ",
    "|\n  ",
    ">\n  ",
    "\"",
    "'",
    "#",
    "((v))",
    "((s))",
    "((",
    "))",
    "~",
    "null",
    "true",
    "1e999",
    "-0",
    "0x",
    "\u{feff}",
    "é",
    "\u{0}",
    "environments",
    "jobs",
    "plan",
    "resources",
    "resource_types",
    "test_types",
    "get",
    "put",
    "test",
    "passed",
    "trigger",
    "in_parallel",
    "do",
    "try",
    "attempts",
    "timeout",
    "source",
    "params",
    "limits",
    "grants",
    "version",
    "approval",
    "gate",
    "soak",
    "shared",
    "release",
    "deploy-dev",
    "production",
    "/api/v1/",
    "resources/release/pin",
    "resources/release/versions?limit=",
    "resources/release/check?webhook_token=hook-token",
    "jobs/deploy-dev/trigger",
    "jobs/deploy-dev/builds/",
    "builds/1/logs?after=",
    "builds/1/logs/stream",
    "environments/production/approve",
    "environments/production/rollback",
    "why/production",
    "?before=",
    "&limit=",
    "%00",
    "%",
    "..",
    "{\"version\":{",
    "{\"candidate\":",
    "\"comment\":",
    "[[plugins]]",
    "name = ",
    "version = ",
    "sha256 = ",
    "[plugin]",
    "kind = ",
    "\x01",
    "\x02",
];

/// xorshift64*: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One to four mutations of `input`.
fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = [0, 0x7f, 0x80, 0xff, b'\n', b' ', b':', b'-'][rng.below(8)];
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            3 if !out.is_empty() => {
                let end = (at + 1 + rng.below(32)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let piece = out[start..end].to_vec();
                out.splice(at..at, piece);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            6 => {
                // Repetition: deep nesting and long runs.
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let times = 1 + rng.below(200);
                let run: Vec<u8> = token
                    .iter()
                    .copied()
                    .cycle()
                    .take(token.len() * times)
                    .collect();
                out.splice(at..at, run);
            }
            _ => {
                let byte = rng.next() as u8;
                out.insert(at, byte);
            }
        }
    }
    out.truncate(1 << 16);
    out
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Runs `target` on `input`; on a panic, keeps the input and fails naming it.
fn try_input(name: &str, target: fn(&[u8]), input: &[u8], n: usize) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        let dir = repo().join("target/fuzz-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}-{n}"));
        std::fs::write(&file, input).unwrap();
        panic!(
            "fuzz target `{name}` panicked on input {n}, kept in {}",
            file.display()
        );
    }
}

fn run(name: &str) {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a target");
    let corpus = corpus(name);
    assert!(!corpus.is_empty(), "the corpus of `{name}` is empty");
    let started = Instant::now();
    for (n, input) in corpus.iter().enumerate() {
        try_input(name, target, input, n);
    }
    let iterations: usize = std::env::var("LOCKGATE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed = name.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng(seed);
    for n in 0..iterations {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        try_input(name, target, &input, corpus.len() + n);
    }
    eprintln!(
        "fuzz target `{name}`: {} corpus inputs and {iterations} mutations in {:.1?}",
        corpus.len(),
        started.elapsed()
    );
}

#[test]
fn pipeline() {
    run("pipeline");
}

#[test]
fn plugin_results() {
    run("plugin_results");
}

#[test]
fn api_request() {
    run("api_request");
}

#[test]
fn registry_files() {
    run("registry_files");
}
