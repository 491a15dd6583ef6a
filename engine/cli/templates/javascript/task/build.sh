#!/usr/bin/env bash
# Builds the task {{name}} into task.wasm (a wasi:cli/command component) from task.js with
# jco componentize: build.sh [OUT.wasm].
# Installs the pinned toolchain on first use, from the npm registry only, under
# ${LOCKGATE_TOOLCHAINS:-~/.cache/lockgate/toolchains}/javascript (needs node 18+ and npm).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/task.wasm}"
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

# wit/world.wit: the world `task` (exports wasi:cli/run; imports the environment and the
# file system); wit/deps: WASI 0.2.12. `http` and `fetch-event` would import wasi:http, which
# tasks are not given; `random` is unused. `stdio` (console.log to the build log) and `clocks`
# (Date.now) stay.
mkdir -p "$(dirname "$out")"
cd "$here"
"$jco" componentize task.js --wit wit --world-name task \
    --disable http fetch-event random -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
