#!/usr/bin/env bash
# Builds the task word-count into task.wasm (a wasi:cli/command component) from app.py with
# componentize-py: build.sh [OUT.wasm].
# Installs the pinned toolchain on first use, from PyPI only, into a private venv under
# ${LOCKGATE_TOOLCHAINS:-~/.cache/lockgate/toolchains}/python (needs python3 with venv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/task.wasm}"
componentize_py_version=0.25.1

venv="${LOCKGATE_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/lockgate/toolchains}/python/venv"
if [[ "$("$venv/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $componentize_py_version" ]]; then
    echo "==> installing componentize-py $componentize_py_version into $venv" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "componentize-py==$componentize_py_version"
fi

# wit/world.wit: the world `task` (exports wasi:cli/run, the class Run of app.py; imports the
# environment and the file system); wit/deps: WASI 0.2.12.
mkdir -p "$(dirname "$out")"
cd "$here"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" -d wit -w task \
    componentize app -p . -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
