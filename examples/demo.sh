#!/usr/bin/env bash
# Lockgate demo on a fresh machine: builds the engine and the first-party plugins, then drives
# the plugins through the sandbox the way the scheduler does: check, get, put, a test run, and a
# hostile plugin that tries to escape and is contained.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "==> installing the wasm32-wasip2 target and building (first build takes several minutes)"
rustup target add wasm32-wasip2 >/dev/null
cargo build --release --locked -p lockgate
(cd plugins && cargo build --release --locked --workspace)

lockgate="$root/target/release/lockgate"
wasm="$root/plugins/target/wasm32-wasip2/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state" "$work/out" "$work/release"

step() { printf '\n==> %s\n' "$*"; }

step "lockgate plugin inspect counter.wasm"
"$lockgate" plugin inspect "$wasm/counter.wasm"

step "check: the counter file holds 3; versions since 1"
echo 3 > "$work/state/counter"
"$lockgate" plugin call "$wasm/counter.wasm" check \
  --source '{"path":"/dirs/state/counter"}' --version '{"number":"1"}' --dir "state=$work/state"

step "put: publish release 4 from an input directory (the state dir is granted read-write)"
echo 4 > "$work/release/next"
"$lockgate" plugin call "$wasm/counter.wasm" put \
  --source '{"path":"/dirs/state/counter"}' --params '{"from_file":"release/next"}' \
  --input "release=$work/release" --dir "state=$work/state:rw"

step "get: fetch version 4 into the output directory"
"$lockgate" plugin call "$wasm/counter.wasm" get \
  --source '{"path":"/dirs/state/counter"}' --version '{"number":"4"}' \
  --dir "state=$work/state" --output "$work/out"
echo "fetched file: $(cat "$work/out/number")"

step "test: assert-file judges the fetched artifact (one case passes, one fails)"
"$lockgate" plugin call "$wasm/assert_file.wasm" run --input "fetched=$work/out" \
  --config '{"suite":"smoke","assertions":[{"name":"is release 4","file":"fetched/number","equals":"4"},{"name":"is release 5","file":"fetched/number","equals":"5"}]}' \
  || echo "(exit $?: a failed case fails the step)"

step "sandbox: a hostile plugin tries to read /etc/passwd"
"$lockgate" plugin call "$wasm/hostile.wasm" check --source '{"attack":"read-file","path":"/etc/passwd"}' \
  || echo "(contained)"

step "sandbox: a hostile plugin loops forever; its 1 s deadline stops it"
"$lockgate" plugin call "$wasm/hostile.wasm" check --source '{"attack":"loop"}' --timeout 1 \
  || echo "(contained)"

step "sandbox: a hostile plugin allocates 1 GiB; the 256 MiB cap stops it"
"$lockgate" plugin call "$wasm/hostile.wasm" check --source '{"attack":"alloc","bytes":1073741824}' \
  || echo "(contained)"

printf '\nDone. Pipelines (lockgate run) arrive with the scheduler; see README.md.\n'
