#!/usr/bin/env bash
# Builds the C example plugin `required-lines` into a component: build.sh [OUT.wasm]
# (default <repo>/target/plugins/required-lines.wasm).
#
# Toolchain: examples/plugins/toolchains/c.sh (Debian clang-19, lld-19, wasi-libc; wasm-tools).
# The WASI preview1 reactor adapter comes from $LOCKGATE_ADAPTER if set, else from
# `${LOCKGATE:-lockgate} plugin adapter`. The bindings and the JSON reader are the ones
# `lockgate plugin new` gives C projects, in engine/cli/templates/shared/ (committed;
# examples/plugins/regenerate-bindings.sh regenerates the bindings).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/target/plugins/required-lines.wasm}
world=test-step

bash "$repo/examples/plugins/toolchains/c.sh"
# shellcheck disable=SC1091
. "${LOCKGATE_TOOLCHAINS:-$repo/target/toolchains}/c/env.sh"

mkdir -p "$(dirname "$out")"
shared=$repo/engine/cli/templates/shared
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

adapter=${LOCKGATE_ADAPTER:-}
if [ -z "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.reactor.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --out "$adapter"
fi

# A WASI preview1 reactor module (no main; wasi-libc initialises itself in _initialize)...
"$CC" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror \
    -Wno-unused-parameter -I "$shared/c/$world" -I "$shared/c-json" -I "$here/src" \
    -o "$work/core.wasm" "$here"/src/*.c "$shared/c-json/json.c" "$shared/c/$world/test_step.c" \
    -Wl,--strip-debug
# ...with the component type of the world embedded, then adapted to a preview2 component.
wasm-tools component embed "$repo/wit/plugin" --world "$world" "$work/core.wasm" -o "$work/embedded.wasm"
wasm-tools component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
