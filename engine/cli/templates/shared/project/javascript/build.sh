#!/usr/bin/env bash
# Builds plugin.wasm (a WASI preview 2 component) from plugin.js with jco componentize.
#   ./build.sh [OUT.wasm]
# Installs the pinned toolchain on first use, from the npm registry only, under
# ${LOCKGATE_TOOLCHAINS:-~/.cache/lockgate/toolchains}/javascript (needs node 18+ and npm).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-plugin.wasm}"
jco_version=1.34.0
componentize_js_version=0.23.0

tools="${LOCKGATE_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/lockgate/toolchains}/javascript"
jco="$tools/node_modules/.bin/jco"
if [[ "$("$jco" --version 2>/dev/null)" != "$jco_version" ]]; then
    echo "==> installing jco $jco_version into $tools" >&2
    mkdir -p "$tools"
    [[ -f "$tools/package.json" ]] || echo '{"name":"lockgate-javascript-toolchain","private":true}' > "$tools/package.json"
    (cd "$tools" && npm install --no-audit --no-fund --loglevel=error --save-exact \
        "@bytecodealliance/jco@$jco_version" \
        "@bytecodealliance/componentize-js@$componentize_js_version" >&2)
fi

# jco reads the WIT from a folder inside the project: this plugin's world, the Lockgate
# contract (wit/) and the WASI packages it imports (shipped with jco).
cd "$here"
rm -rf build/wit
mkdir -p build/wit/deps/lockgate-plugin
cp world.wit build/wit/
cp wit/*.wit build/wit/deps/lockgate-plugin/
wasi="$tools/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"
cp -r "$wasi/wasi-io" "$wasi/wasi-clocks" "$wasi/wasi-filesystem" build/wit/deps/

# `http` and `fetch-event` would import wasi:http, which Lockgate does not provide; `random`
# is unused. `stdio` (console.log to the build log) and `clocks` (Date.now) stay.
"$jco" componentize plugin.js --wit build/wit --world-name plugin \
    --disable http fetch-event random -o "$out"
echo "built $out"
