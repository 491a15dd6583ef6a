//! The `lockgate` binary.

use std::process::ExitCode;

use lockgate::cli::{self, Cli};
use lockgate::model::Report;

fn main() -> ExitCode {
    let cli = Cli::parse_args(std::env::args_os());
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a server's log file gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    // Tests of crash atomicity kill the engine at a named transaction boundary.
    if let Some(spec) = std::env::var_os("LOCKGATE_CRASH_POINT")
        && let Err(e) = lockgate::store::arm_crash_point(&spec.to_string_lossy())
    {
        eprintln!("error: LOCKGATE_CRASH_POINT: {e}");
        return ExitCode::from(2);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // The error and each of its causes, once (a cause some library repeats in its
            // own message is not printed twice).
            eprintln!("error: {}", Report::new(e.as_ref()));
            ExitCode::from(1)
        }
    }
}
