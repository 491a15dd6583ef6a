//! {{name}}: a Lockgate task. It reads a text file from an input directory and writes a report
//! of its lines, words and bytes into the output directory `output`.
//!
//! What it sees (see Lockgate's docs/tasks.md): argv[0] is the step's name, then the step's
//! `args`; the step's `params` are environment variables; each input, output and cache is the
//! directory `<name>` in the working directory `/` (inputs read-only). It prints progress to
//! stdout (the build log) and returns 0 on success; on bad input it prints the reason to stderr
//! and returns non-zero, which fails the build.
//!
//! Files go through wasi-libc (`-lc`), which resolves `input/data.txt` against the working
//! directory and the sandbox's preopened directories.
const std = @import("std");

/// The file read when neither an argument nor the `INPUT` param names one.
const default_input = "input/data.txt";
/// The output directory (the task's `outputs: [{name: output}]`).
const output_dir = "output";

extern "c" fn getenv(name: [*:0]const u8) ?[*:0]const u8;
extern "c" fn strerror(errnum: c_int) [*:0]const u8;

/// Writes a formatted line to a file descriptor (1: stdout, 2: stderr).
fn say(fd: c_int, comptime fmt: []const u8, args: anytype) void {
    var buf: [1024]u8 = undefined;
    const text = std.fmt.bufPrint(&buf, fmt ++ "\n", args) catch buf[0..];
    _ = std.c.write(fd, text.ptr, text.len);
}

fn lastError() [*:0]const u8 {
    return strerror(std.c._errno().*);
}

pub fn main(init: std.process.Init.Minimal) u8 {
    // With wasi-libc, the arguments are C strings (argv[0] is the step's name).
    const argv = init.args.vector;
    const me: []const u8 = if (argv.len > 0) std.mem.span(argv[0]) else "{{name}}";
    // The file to read: the first argument, else the `INPUT` param, else the default.
    const input: [:0]const u8 = if (argv.len > 1)
        std.mem.span(argv[1])
    else if (getenv("INPUT")) |v| std.mem.span(v) else default_input;
    run(me, input) catch |e| {
        switch (e) {
            error.CannotRead => say(2, "{s}: error: cannot read {s}: {s}", .{ me, input, lastError() }),
            error.Empty => say(2, "{s}: error: {s} is empty", .{ me, input }),
            error.CannotWrite => say(2, "{s}: error: cannot write {s}/report.txt: {s}", .{ me, output_dir, lastError() }),
        }
        return 1;
    };
    return 0;
}

fn run(me: []const u8, input: [:0]const u8) error{ CannotRead, Empty, CannotWrite }!void {
    say(1, "{s}: reading {s}", .{ me, input });
    const in = std.c.fopen(input, "rb") orelse return error.CannotRead;
    var lines: usize = 0;
    var words: usize = 0;
    var size: usize = 0;
    var in_word = false;
    var chunk: [4096]u8 = undefined;
    while (true) {
        const n = std.c.fread(&chunk, 1, chunk.len, in);
        for (chunk[0..n]) |c| {
            if (c == '\n') lines += 1;
            if (std.ascii.isWhitespace(c)) {
                in_word = false;
            } else {
                if (!in_word) words += 1;
                in_word = true;
            }
        }
        size += n;
        if (n < chunk.len) break;
    }
    _ = std.c.fclose(in);
    if (words == 0) return error.Empty;
    say(1, "{s}: {d} lines, {d} words, {d} bytes", .{ me, lines, words, size });

    var buf: [512]u8 = undefined;
    const report = std.fmt.bufPrint(&buf, "file: {s}\nlines: {d}\nwords: {d}\nbytes: {d}\n", .{ input, lines, words, size }) catch unreachable;
    const out = std.c.fopen(output_dir ++ "/report.txt", "w") orelse return error.CannotWrite;
    const written = std.c.fwrite(report.ptr, 1, report.len, out);
    if (std.c.fclose(out) != 0 or written != report.len) return error.CannotWrite;
    say(1, "{s}: wrote {s}/report.txt", .{ me, output_dir });
}
