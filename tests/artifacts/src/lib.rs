//! Paths of the guest plugin components and task programs built from `plugins/` (a separate
//! Cargo workspace, built for `wasm32-wasip2` and `--release` by this crate's build script
//! into `plugins/target`, then copied into this crate's `OUT_DIR`) and of a native baseline
//! executable, for host tests and benchmarks.
//!
//! ```no_run
//! let bytes = std::fs::read(lockgate_test_artifacts::COUNTER).unwrap();
//! assert!(bytes.starts_with(b"\0asm"));
//! ```
//!
//! The first build of this crate compiles the plugins (about a minute); it needs
//! `rustup target add wasm32-wasip2`.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
