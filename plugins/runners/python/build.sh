#!/usr/bin/env bash
# Builds Lockgate's Python script runner, a `wasi:cli/command` component:
#   bash build.sh [OUT.wasm]        (default: <repo>/target/runners/python.wasm)
# Installs the pinned toolchain first if needed (examples/plugins/toolchains/python.sh: componentize-py
# from PyPI, into target/toolchains). Prints the path of the component.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/target/runners/python.wasm}"
# shellcheck source=../../../examples/plugins/toolchains/python.sh
source "$root/examples/plugins/toolchains/python.sh"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
cd "$here"
export PYTHONDONTWRITEBYTECODE=1
# Written next to the output, then renamed: a concurrent reader never sees half a component.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$COMPONENTIZE_PY" -d "$here/wit" -w python componentize lockgate_python_runner \
    -p "$here/src" -o "$tmp" >&2
rm -rf "$here/src/__pycache__"
mv "$tmp" "$out"
echo "$out"
