#!/usr/bin/env bash
# Builds plugin.wasm (a WASI preview 2 component) from this project.
# Needs: rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{name_snake}}.wasm" "${1:-plugin.wasm}"
echo "built ${1:-plugin.wasm}"
