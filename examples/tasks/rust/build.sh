#!/usr/bin/env bash
# Builds the task word-count into task.wasm (a wasi:cli/command component): build.sh [OUT.wasm].
# Needs Rust with the wasm32-wasip2 target: rustup target add wasm32-wasip2
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/task.wasm}
cd "$here"
cargo build --release --target wasm32-wasip2
mkdir -p "$(dirname "$out")"
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/word_count.wasm" "$out"
echo "built $out ($(wc -c <"$out") bytes)" >&2
