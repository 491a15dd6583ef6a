#!/usr/bin/env bash
# Builds every example plugin (examples/plugins/<lang>/) into OUT_DIR (default
# target/example-plugins/<lang>.wasm), installing each toolchain on first use into
# target/toolchains (see examples/plugins/toolchains/). Used by the load benchmark.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/target/example-plugins}"
mkdir -p "$out"
for lang in python javascript c go zig; do
  if [[ -x "$root/examples/plugins/$lang/build.sh" || -f "$root/examples/plugins/$lang/build.sh" ]]; then
    echo "==> $lang"
    start=$(date +%s)
    bash "$root/examples/plugins/$lang/build.sh" "$out/$lang.wasm"
    echo "    $(( $(date +%s) - start )) s, $(stat -c %s "$out/$lang.wasm") bytes"
  fi
done
