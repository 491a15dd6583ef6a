//! `lockgate-wasm-runner`: runs a `wasm32-wasip2` command component (a `wasi:cli/command`,
//! such as a test binary built by `cargo test --target wasm32-wasip2`) on the engine's own
//! wasmtime. It is the Cargo runner of the unit tests of `plugins/`:
//!
//! ```sh
//! CARGO_TARGET_WASM32_WASIP2_RUNNER=/path/to/lockgate-wasm-runner \
//!     cargo test --target wasm32-wasip2 -p lockgate-sdk
//! ```
//!
//! Usage: `lockgate-wasm-runner FILE.wasm [ARGS...]`. The guest gets:
//!
//! - the arguments (`FILE.wasm` as its program name, then `ARGS`) and the whole environment;
//! - the current directory, read-write, as `.` and under its absolute path (also its initial
//!   working directory), and the system temporary directory under its absolute path, named
//!   in `TMPDIR` (`std::env::temp_dir` panics on WASI: `lockgate_sdk::testing::temp_dir`
//!   reads `TMPDIR`), so `std::fs` on relative paths, `env!("CARGO_MANIFEST_DIR")` paths and
//!   temporary directories work;
//! - the network (TCP, UDP, name lookup), as `wasmtime run -S inherit-network` would, and
//!   outgoing `wasi:http` requests;
//! - the process's stdin, stdout and stderr.
//!
//! Imports outside `wasi:*` (a plugin's `lockgate:plugin/host`, for example) are linked as
//! functions that trap when called, naming the import; a test that calls one fails with that
//! message.
//!
//! The exit code is the component's: `0` when `run` returns `ok`, `1` when it returns `err`,
//! the code given to `exit` (a failing libtest run exits with `101`), or `134` after a trap
//! (a panic aborts on `wasm32-wasip2`), as for a native process killed by `SIGABRT`. Errors
//! before the component runs (missing file, not a component, not a command) exit with `2`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable, ResourceType};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, Result, Store, bail};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Exit code after a trap: 128 + SIGABRT, what a native test binary that aborts reports.
const TRAP_EXIT: u8 = 134;
/// Exit code when the component could not be loaded or started.
const USAGE_EXIT: u8 = 2;

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// How the guest ended.
enum Outcome {
    /// `exit` or the return of `run`: this exit code.
    Exited(i32),
    /// A trap (a panic, `unreachable`, an unknown import called): the error.
    Trapped(wasmtime::Error),
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(wasm) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: lockgate-wasm-runner FILE.wasm [ARGS...]\n\
             runs a wasm32-wasip2 command component (e.g. a `cargo test --target wasm32-wasip2` binary)"
        );
        return ExitCode::from(USAGE_EXIT);
    };
    let mut guest_args = vec![wasm.display().to_string()];
    for arg in args {
        match arg.into_string() {
            Ok(arg) => guest_args.push(arg),
            Err(arg) => {
                eprintln!("lockgate-wasm-runner: argument {arg:?} is not UTF-8");
                return ExitCode::from(USAGE_EXIT);
            }
        }
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lockgate-wasm-runner: cannot start the async runtime: {e}");
            return ExitCode::from(USAGE_EXIT);
        }
    };
    match runtime.block_on(run(&wasm, &guest_args)) {
        Ok(Outcome::Exited(code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(Outcome::Trapped(e)) => {
            eprintln!("lockgate-wasm-runner: {} trapped: {e:?}", wasm.display());
            ExitCode::from(TRAP_EXIT)
        }
        Err(e) => {
            eprintln!("lockgate-wasm-runner: {e:#}");
            ExitCode::from(USAGE_EXIT)
        }
    }
}

/// Loads `wasm`, then runs it to completion with `args`.
async fn run(wasm: &Path, args: &[String]) -> Result<Outcome> {
    let bytes = std::fs::read(wasm).with_context(|| match wasm.exists() {
        true => format!("cannot read {}", wasm.display()),
        false => format!("{}: no such file (build it first)", wasm.display()),
    })?;
    check_is_component(wasm, &bytes)?;

    let engine = Engine::new(&Config::new()).context("cannot create the wasmtime engine")?;
    let component = Component::new(&engine, &bytes)
        .with_context(|| format!("{}: cannot compile the component", wasm.display()))?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    stub_other_imports(&engine, &component, &mut linker)?;

    let mut store = Store::new(
        &engine,
        State {
            wasi: wasi_ctx(args)?,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate_async(&mut store, &component, &linker)
        .await
        .with_context(|| {
            format!(
                "{} is not a runnable wasi:cli/command component (a test or bin target has one; a library's cdylib has not)",
                wasm.display()
            )
        })?;
    Ok(match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => Outcome::Exited(0),
        Ok(Err(())) => Outcome::Exited(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Outcome::Exited(exit.0),
            None => Outcome::Trapped(e),
        },
    })
}

/// The interfaces `wasmtime_wasi::p2::add_to_linker_async` and
/// `wasmtime_wasi_http::p2::add_only_http_to_linker_async` link (any `0.2.x`).
const PROVIDED: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Links every other import (a plugin's `lockgate:plugin/host`, for example) as
/// functions that trap when called, naming the import.
///
/// Not `Linker::define_unknown_imports_as_traps`: it looks names up exactly, so it would
/// replace the WASI interfaces the guest imports at another patch version (`wasi:cli/
/// environment@0.2.6`, linked by semver-compatible match to what wasmtime-wasi provides)
/// with traps.
fn stub_other_imports(
    engine: &Engine,
    component: &Component,
    linker: &mut Linker<State>,
) -> Result<()> {
    let ty = component.component_type();
    for (name, import) in ty.imports(engine) {
        if PROVIDED.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        let mut stub = linker.instance(name)?;
        for (item, export) in instance.exports(engine) {
            match export.ty {
                ComponentItem::ComponentFunc(_) => {
                    let full = format!("{name}#{item}");
                    stub.func_new(item, move |_, _, _, _| {
                        bail!(
                            "`{full}` was called, but lockgate-wasm-runner provides only WASI \
                             (cli, clocks, filesystem, io, random, sockets, http)"
                        )
                    })?;
                }
                ComponentItem::Resource(_) => {
                    stub.resource(item, ResourceType::host::<()>(), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A clear error for what is not a component: a missing magic number, or a core module.
fn check_is_component(wasm: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        bail!(
            "{} is not a WebAssembly file (no `\\0asm` header)",
            wasm.display()
        );
    }
    // The layer field (bytes 6..8) is 0 for a core module, 1 for a component.
    if bytes[6..8] == [0, 0] {
        bail!(
            "{} is a core WebAssembly module, not a component: build it for `wasm32-wasip2`",
            wasm.display()
        );
    }
    Ok(())
}

/// The guest's WASI context: arguments, environment, stdio, network, the current directory
/// and the temporary directory.
fn wasi_ctx(args: &[String]) -> Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    // Must precede `preopened_dir`: it is copied into each preopen as it is added.
    b.allow_blocking_current_thread(true);
    b.args(args).inherit_env().inherit_stdio();
    b.inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);

    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cwd_text = guest_path(&cwd)?;
    b.preopened_dir(&cwd, ".", FsPerms::ReadWrite)
        .with_context(|| format!("cannot open {}", cwd.display()))?;
    b.preopened_dir(&cwd, cwd_text, FsPerms::ReadWrite)
        .with_context(|| format!("cannot open {}", cwd.display()))?;
    b.initial_cwd(cwd_text);
    // `std::env::temp_dir` panics on WASI: name the directory in `TMPDIR` for the guest.
    let temp = std::env::temp_dir();
    let temp_text = guest_path(&temp)?;
    if std::env::var_os("TMPDIR").is_none() {
        b.env("TMPDIR", temp_text);
    }
    if temp != cwd {
        b.preopened_dir(&temp, temp_text, FsPerms::ReadWrite)
            .with_context(|| format!("cannot open the temporary directory {}", temp.display()))?;
    }
    Ok(b.build())
}

fn guest_path(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8: it cannot be a WASI path", path.display()))
}
