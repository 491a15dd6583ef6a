//! {{name}}: a Lockgate task. It reads a text file from an input directory and writes a report
//! of its lines, words and bytes into the output directory `output`.
//!
//! What it sees (see Lockgate's docs/tasks.md): argv[0] is the step's name, then the step's
//! `args`; the step's `params` are environment variables; each input, output and cache is the
//! directory `<name>` in the working directory `/` (inputs read-only). It prints progress to
//! stdout (the build log) and exits 0 on success; on bad input it prints the reason to stderr
//! and exits non-zero, which fails the build.

use std::process::ExitCode;

/// The file read when neither an argument nor the `INPUT` param names one.
const DEFAULT_INPUT: &str = "input/data.txt";
/// The output directory (the task's `outputs: [{name: output}]`).
const OUTPUT_DIR: &str = "output";

fn main() -> ExitCode {
    let mut args = std::env::args();
    let me = args.next().unwrap_or_else(|| "{{name}}".to_owned());
    // The file to read: the first argument, else the `INPUT` param, else the default.
    let input = args
        .next()
        .or_else(|| std::env::var("INPUT").ok())
        .unwrap_or_else(|| DEFAULT_INPUT.to_owned());
    match run(&me, &input) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{me}: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(me: &str, input: &str) -> Result<(), String> {
    println!("{me}: reading {input}");
    let bytes = std::fs::read(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{input} is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(format!("{input} is empty"));
    }
    let lines = text.matches('\n').count();
    let words = text.split_whitespace().count();
    let size = text.len();
    println!("{me}: {lines} lines, {words} words, {size} bytes");

    let report = format!("file: {input}\nlines: {lines}\nwords: {words}\nbytes: {size}\n");
    let out = format!("{OUTPUT_DIR}/report.txt");
    std::fs::write(&out, report).map_err(|e| format!("cannot write {out}: {e}"))?;
    println!("{me}: wrote {out}");
    Ok(())
}
