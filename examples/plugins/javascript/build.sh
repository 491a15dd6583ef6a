#!/usr/bin/env bash
# Builds the `release-check` test step into a WASI p2 component.
#   bash build.sh [OUT.wasm]        (default: <repo>/target/plugins/release_check.wasm)
# Installs the pinned toolchain first if needed (../toolchains/javascript.sh, from npm).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/target/plugins/release_check.wasm}"
# shellcheck source=../toolchains/javascript.sh
source "$here/../toolchains/javascript.sh"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# The WIT folder jco reads (it must lie inside the project folder): this plugin's world, the
# Lockgate contract and the WASI packages it imports (shipped with jco).
wit="$here/build/wit"
rm -rf "$wit"
mkdir -p "$wit/deps/lockgate-plugin"
cp "$here/wit/world.wit" "$wit/"
cp "$root"/wit/plugin/*.wit "$wit/deps/lockgate-plugin/"
for pkg in wasi-io wasi-clocks wasi-filesystem; do
    cp -r "$LOCKGATE_WASI_WIT/$pkg" "$wit/deps/"
done

cd "$here"
# Only what the plugin uses: it needs no `http` (`fetch`, which the host links and checks
# against the network grants); `fetch-event` exports an HTTP server, which the host does not
# link; `random` is unused. `stdio` (console.log to the build log) and `clocks`
# (case durations) stay.
"$JCO" componentize release-check.js --wit "$wit" --world-name plugin \
    --disable http fetch-event random -o "$out" >&2
echo "$out"
