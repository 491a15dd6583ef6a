#!/usr/bin/env bash
# Builds every example plugin (examples/plugins/<lang>/) into OUT_DIR (default
# target/example-plugins/<lang>.wasm), installing each toolchain on first use into
# target/toolchains (see examples/plugins/toolchains/). Used by the load benchmark.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/target/example-plugins}"
mkdir -p "$out"
# C, Go and Zig builds take the WASI adapter from `$LOCKGATE plugin adapter`.
if [[ -z "${LOCKGATE:-}" ]] && ! command -v lockgate >/dev/null; then
  for candidate in "$root/target/release/lockgate" "$root/target/debug/lockgate"; do
    if [[ -x "$candidate" ]]; then LOCKGATE="$candidate"; break; fi
  done
  if [[ -z "${LOCKGATE:-}" ]]; then
    (cd "$root" && cargo build --locked -p lockgate)
    LOCKGATE="$root/target/debug/lockgate"
  fi
  export LOCKGATE
fi
for lang in python javascript c go zig; do
  if [[ -x "$root/examples/plugins/$lang/build.sh" || -f "$root/examples/plugins/$lang/build.sh" ]]; then
    echo "==> $lang"
    start=$(date +%s)
    bash "$root/examples/plugins/$lang/build.sh" "$out/$lang.wasm"
    echo "    $(( $(date +%s) - start )) s, $(stat -c %s "$out/$lang.wasm") bytes"
  fi
done
