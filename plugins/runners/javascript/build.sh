#!/usr/bin/env bash
# Builds Lockgate's JavaScript script runner, a `wasi:cli/command` component:
#   bash build.sh [OUT.wasm]        (default: <repo>/target/runners/javascript.wasm)
# Installs the pinned toolchain first if needed (examples/plugins/toolchains/javascript.sh: jco
# from npm, into target/toolchains). Prints the path of the component.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/target/runners/javascript.wasm}"
# shellcheck source=../../../examples/plugins/toolchains/javascript.sh
source "$root/examples/plugins/toolchains/javascript.sh"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# The WIT folder jco reads (it must lie inside the project folder): the runner's world and the
# WASI packages it imports (shipped with jco), in a folder of this build only, removed after.
work="$here/.build.$$"
tmp="$out.tmp.$$"
trap 'rm -rf "$work" "$tmp"' EXIT
wit="$work/wit"
mkdir -p "$wit/deps"
cp "$here/wit/world.wit" "$wit/"
for pkg in wasi-cli wasi-io wasi-clocks wasi-filesystem wasi-random wasi-sockets; do
    cp -r "$LOCKGATE_WASI_WIT/$pkg" "$wit/deps/"
done

cd "$here"
# `fetch-event` (an exported HTTP server) is the one feature the host does not link; `http`
# stays, so `fetch` works under a task's network grants.
"$JCO" componentize runner.js --wit "$wit" --world-name javascript \
    --disable fetch-event -o "$tmp" >&2
mv "$tmp" "$out"
echo "$out"
