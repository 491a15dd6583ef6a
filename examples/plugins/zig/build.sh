#!/usr/bin/env bash
# Builds the Zig example plugin `release-file` into a component: build.sh [OUT.wasm]
# (default <repo>/target/plugins/release-file.wasm).
#
# Toolchain: examples/plugins/toolchains/zig.sh (Zig from PyPI ziglang; wasm-tools). The C
# bindings in bindings/ are committed (examples/plugins/regenerate-bindings.sh regenerates
# them); Zig sees them through `zig translate-c` of the header, done here.
# The WASI preview1 reactor adapter comes from $LOCKGATE_ADAPTER if set, else from
# `${LOCKGATE:-lockgate} plugin adapter`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/target/plugins/release-file.wasm}
world=resource-type

bash "$repo/examples/plugins/toolchains/zig.sh"
# shellcheck disable=SC1091
. "${LOCKGATE_TOOLCHAINS:-$repo/target/toolchains}/zig/env.sh"

mkdir -p "$(dirname "$out")"
shared=$repo/engine/cli/templates/shared
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

adapter=${LOCKGATE_ADAPTER:-}
if [ -z "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.reactor.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --out "$adapter"
fi

# The bindings as a Zig module...
zig translate-c -target wasm32-wasi -lc "$shared/c/$world/resource_type.h" >"$work/bindings.zig"
# ...a WASI preview1 reactor module (no entry point; `export fn`s and the C bindings)...
zig build-exe -target wasm32-wasi -O ReleaseSmall -fno-entry -mexec-model=reactor -rdynamic -lc \
    -femit-bin="$work/core.wasm" --cache-dir "$work/zig-cache" \
    -I "$shared/c/$world" "$shared/c/$world/resource_type.c" \
    --dep bindings -Mroot="$here/src/main.zig" -Mbindings="$work/bindings.zig"
# ...with the component type of the world embedded, then adapted to a preview2 component.
wasm-tools component embed "$repo/wit/plugin" --world "$world" "$work/core.wasm" -o "$work/embedded.wasm"
wasm-tools component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
