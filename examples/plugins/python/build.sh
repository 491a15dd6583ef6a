#!/usr/bin/env bash
# Builds the `semver-files` resource type into a WASI p2 component.
#   bash build.sh [OUT.wasm]        (default: <repo>/target/plugins/semver_files.wasm)
# Installs the pinned toolchain first if needed (../toolchains/python.sh, from PyPI).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/target/plugins/semver_files.wasm}"
# shellcheck source=../toolchains/python.sh
source "$here/../toolchains/python.sh"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
cd "$here"
export PYTHONDONTWRITEBYTECODE=1
"$COMPONENTIZE_PY" -d "$root/wit/plugin" -w resource-type componentize app -p "$here" -o "$out" >&2
rm -rf "$here/__pycache__"   # left by componentize-py's import of app.py
echo "$out"
