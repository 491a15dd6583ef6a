"""Lockgate's Python script runner: a `wasi:cli/command` component that runs a script.

    argv: <task name> <script.py> [script arguments...]

The script is read from the task's file system (relative paths are relative to the working
directory `/`, where the task's inputs, outputs and caches are mounted as `<name>`), compiled and
run as `__main__`, as `python3 <script.py> [args...]` would: `sys.argv` is `[<script.py>, args...]`,
`os.environ` holds the task's params, the script's own directory is first on `sys.path` (so it can
import the modules beside it), stdout and stderr go to the build log line by line.

How it ends: the script returning, or `sys.exit()` / `sys.exit(0)` / `sys.exit(None)`, exits with
code 0; `sys.exit(n)` with code `n` (taken modulo 256 as on POSIX, except that a non-zero `n` that
would become 0 becomes 1); `sys.exit("message")` prints the message on stderr and exits with 1; an
uncaught exception prints its traceback on stderr and exits with 1. `atexit` functions run first.

The standard library. componentize-py builds this module into a component by running it once
at build time and snapshotting the interpreter's memory (component-init): a module imported then is
in the component, ready at no cost; the standard library's directory exists only during that
build. So this module, at build time:

- imports the modules scripts use most (`PRELOADED`), which cost nothing when a script imports them;
- reads every other pure-Python module of the standard library into memory (compressed), and
  installs an importer (`_StdlibImporter`, after the normal path-based one) that compiles such a
  module from that copy the first time a script imports it. So `import <any module of the
  standard library>` works, unless the module needs something WASI does not have (`subprocess`
  imports, but starting a process fails; `tkinter`, `ctypes`, `curses`, `readline` are absent).
"""

import sys

# ---------------------------------------------------------------------------------------------
# Build time: the standard library.
# ---------------------------------------------------------------------------------------------

import os
import zlib

# Where componentize-py mounts the standard library while it builds (`sys.path[0]` then).
_STDLIB_ROOT = next(
    (p for p in sys.path if os.path.isfile(os.path.join(p, "os.py"))), "/python"
)

# Top-level names of the standard library that cannot work here (they need a C extension that
# the interpreter does not have, or a terminal/GUI), left out of the bundle.
_LEFT_OUT = {
    "site-packages",
    "__pycache__",
    "idlelib",
    "tkinter",
    "turtle.py",
    "turtledemo",
    "ensurepip",
    "test",
}


def _read_stdlib(root):
    """{module name: (is package, origin path, zlib-compressed source)} of every `.py` file."""
    modules = {}
    for top in sorted(os.listdir(root)):
        if top in _LEFT_OUT:
            continue
        path = os.path.join(root, top)
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "__init__.py")):
                continue
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(
                    d for d in dirs
                    if d not in _LEFT_OUT and os.path.isfile(os.path.join(folder, d, "__init__.py"))
                )
                rel = os.path.relpath(folder, root).replace(os.sep, ".")
                for name in sorted(files):
                    if not name.endswith(".py"):
                        continue
                    file = os.path.join(folder, name)
                    if name == "__init__.py":
                        modname, package = rel, True
                    else:
                        modname, package = rel + "." + name[:-3], False
                    with open(file, "rb") as f:
                        modules[modname] = (package, file, zlib.compress(f.read(), 9))
        elif top.endswith(".py"):
            with open(path, "rb") as f:
                modules[top[:-3]] = (False, path, zlib.compress(f.read(), 9))
    return modules


_STDLIB = _read_stdlib(_STDLIB_ROOT)


class _StdlibImporter:
    """Finds and loads the modules of `_STDLIB` (a meta path finder and its loader)."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        entry = _STDLIB.get(fullname)
        if entry is None:
            return None
        from importlib.machinery import ModuleSpec

        package, origin, _ = entry
        spec = ModuleSpec(fullname, cls, origin=origin, is_package=package)
        spec.has_location = True  # sets `__file__`
        return spec

    @staticmethod
    def create_module(spec):
        return None

    @classmethod
    def exec_module(cls, module):
        code = cls.get_code(module.__name__)
        exec(code, module.__dict__)

    @staticmethod
    def get_source(fullname):
        entry = _STDLIB.get(fullname)
        if entry is None:
            return None
        return zlib.decompress(entry[2]).decode("utf-8")

    @staticmethod
    def get_code(fullname):
        package, origin, source = _STDLIB[fullname]
        return compile(zlib.decompress(source), origin, "exec", dont_inherit=True)

    @staticmethod
    def is_package(fullname):
        return _STDLIB[fullname][0]


# The modules scripts use most, imported now: they are in the component, ready when a script
# imports them. (Anything else of the standard library is compiled on first import.)
PRELOADED = [
    "abc", "argparse", "ast", "atexit", "base64", "binascii", "bisect", "calendar", "codecs",
    "collections", "collections.abc", "configparser", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "enum", "errno", "fnmatch", "fractions", "functools", "glob",
    "gzip", "hashlib", "heapq", "hmac", "html", "io", "ipaddress", "itertools", "json", "keyword",
    "linecache", "locale", "logging", "math", "operator", "os", "os.path", "pathlib", "pprint",
    "random", "re", "secrets", "shlex", "shutil", "stat", "statistics", "string", "struct",
    "tarfile", "tempfile", "textwrap", "time", "tokenize", "tomllib", "traceback", "types",
    "typing", "unicodedata", "urllib.parse", "uuid", "warnings", "weakref", "zipfile", "zlib",
    "xml.etree.ElementTree",
]

for _name in PRELOADED:
    try:
        __import__(_name)
    except ImportError:  # pragma: no cover - reported by the runner's tests, not here
        pass

import atexit  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

# Modules imported from the build's stdlib folder read their source (for tracebacks, `inspect`)
# from the bundle instead: that folder is gone when the script runs.
for _name, _module in list(sys.modules.items()):
    if _name in _STDLIB and getattr(_module, "__spec__", None) is not None:
        _module.__loader__ = _StdlibImporter
        _module.__spec__.loader = _StdlibImporter

sys.meta_path.append(_StdlibImporter)
sys.path_importer_cache.clear()
sys.dont_write_bytecode = True

from wit_world import exports  # noqa: E402
from wit_world.imports import exit as wasi_exit  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Run time.
# ---------------------------------------------------------------------------------------------

USAGE = "usage: <task> <script.py> [arguments...]  (give the script in the task's `args`)"


def _exit_code(exc):
    """The exit code of a `SystemExit`, printing a non-integer code as CPython does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool) or not isinstance(code, int):
        try:
            print(code, file=sys.stderr)
        except Exception:
            pass
        return 1
    if code != 0 and code % 256 == 0:
        return 1
    return code % 256


def _fresh_state():
    """Undo what the build-time snapshot froze that a script must see fresh."""
    random.seed()  # the snapshot's seed would be every run's
    logging._startTime = time.time_ns()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # lines reach the log as they are printed
        except Exception:
            pass


def _run_script():
    """Runs the script named by argv[1]; returns the exit code."""
    if len(sys.argv) < 2 or not sys.argv[1]:
        print(USAGE, file=sys.stderr)
        return 2
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    path = os.path.join(os.getcwd(), script)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        print(f"lockgate-python: can't open file {script!r}: [Errno {e.errno}] {e.strerror}",
              file=sys.stderr)
        return 2
    # As `python3 script.py`: the script's folder first on the path; the build's folders,
    # which no longer exist, removed.
    sys.path[:] = [os.path.dirname(os.path.normpath(path))]
    sys.path_importer_cache.clear()

    main = type(sys)("__main__")
    main.__file__ = script
    main.__builtins__ = __builtins__
    main.__cached__ = None
    sys.modules["__main__"] = main
    code = 0
    try:
        try:
            compiled = compile(source, script, "exec", dont_inherit=True)
        except SyntaxError:
            traceback.print_exc(limit=0)
            return 1
        exec(compiled, main.__dict__)
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        # The script's frames only, as `python3` shows them.
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        code = 1
    try:
        atexit._run_exitfuncs()
    except SystemExit as e:
        code = _exit_code(e)
    return code


class Run(exports.Run):
    def run(self) -> None:
        _fresh_state()
        code = _run_script()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        if code != 0:
            # Stable since WASI 0.2.12 (wasmtime 48 links it): the host sees the exact code.
            wasi_exit.exit_with_code(code)
