"""word-count: a Lockgate task. It reads a text file from an input directory and writes a report of
its lines, words and bytes into the output directory `output`.

What it sees (see Lockgate's docs/tasks.md): argument 0 is the step's name, then the step's
`args`; the step's `params` are environment variables; each input, output and cache is the
directory `<name>` in the working directory `/` (inputs read-only). print() goes to the build
log. Returning from `run` passes the step; raising `Err` fails the build (exit code 1). Any
other exception escaping `run` is a crash: the step errors.

`sys.argv`, `os.environ` and `open()` are those of the run (componentize-py 0.25); the world in
wit/world.wit also imports `wasi:cli/environment`, `wasi:cli/exit` and `wasi:filesystem` for
direct use (`from wit_world.imports import exit`; `exit.exit_with_code(3)` ends the program
with exit code 3).
"""

import os
import sys

from componentize_py_types import Err
from wit_world import exports

# The file read when neither an argument nor the `INPUT` param names one.
DEFAULT_INPUT = "input/data.txt"
# The output directory (the task's `outputs: [{name: output}]`).
OUTPUT_DIR = "output"


class TaskError(Exception):
    """Bad input: the message goes to stderr and the task fails."""


def main(me: str, input_path: str) -> None:
    print(f"{me}: reading {input_path}", flush=True)
    try:
        with open(input_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TaskError(f"cannot read {input_path}: {e.strerror or e}") from e
    text = data.decode("utf-8", errors="replace")
    words = len(text.split())
    if words == 0:
        raise TaskError(f"{input_path} is empty")
    lines = text.count("\n")
    print(f"{me}: {lines} lines, {words} words, {len(data)} bytes", flush=True)

    out = f"{OUTPUT_DIR}/report.txt"
    report = f"file: {input_path}\nlines: {lines}\nwords: {words}\nbytes: {len(data)}\n"
    try:
        with open(out, "w") as f:
            f.write(report)
    except OSError as e:
        raise TaskError(f"cannot write {out}: {e.strerror or e}") from e
    print(f"{me}: wrote {out}", flush=True)


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv
        me = args[0] if args and args[0] else "word-count"
        # The file to read: the first argument, else the `INPUT` param, else the default.
        input_path = (args[1] if len(args) > 1 else "") or os.environ.get("INPUT") or DEFAULT_INPUT
        try:
            main(me, input_path)
        except TaskError as e:
            print(f"{me}: error: {e}", file=sys.stderr, flush=True)
            # An error from `run`: the program fails (exit code 1) and with it the build.
            raise Err(None) from e
