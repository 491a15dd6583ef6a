#!/usr/bin/env bash
# The quickstart on a fresh machine: builds the engine and the plugins, then walks releases
# through development -> staging -> production on the embedded SQLite store:
#   release 1  -> development, staging; waits for approval; approved -> production
#   release 13 -> fails staging's acceptance test; never reaches production
#   release 14 -> flows through; approved -> production
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

echo "==> building (the first build takes several minutes)"
rustup target add wasm32-wasip2 >/dev/null
(cd "$root" && cargo build --release --locked -p lockgate)
(cd "$root/plugins" && cargo build --release --locked --workspace)
lockgate="$root/target/release/lockgate"

cd "$here"
rm -rf work .lockgate
mkdir -p work/upstream work/envs/development work/envs/staging work/envs/production

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
release() { echo "$1" > work/upstream/release; }

"$lockgate" validate pipeline.yml

say "release 1 appears upstream"
release 1
"$lockgate" run pipeline.yml || true
"$lockgate" why production

say "alice approves it for production"
"$lockgate" approve production --as alice
"$lockgate" run pipeline.yml

say "release 13 appears: staging's acceptance test rejects it"
release 13
"$lockgate" run pipeline.yml || echo "(a build failed, as expected)"
"$lockgate" why staging

say "release 14 fixes it and flows through; bob approves production"
release 14
"$lockgate" run pipeline.yml || true
"$lockgate" approve production --as bob
"$lockgate" run pipeline.yml

say "where everything stands"
"$lockgate" status
echo
echo "production runs release $(cat work/envs/production/deployed)"
