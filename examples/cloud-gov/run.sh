#!/usr/bin/env bash
# The cloud-gov example end to end on the embedded SQLite store:
#   1. release app 1.0.0 + OS image 1.0.0 + the config repo reach staging; production waits for
#      an approval; alice approves; production deploys it;
#   2. app 1.1.0 appears upstream and follows the same path;
#   3. app 2.0.0, a breaking (semver-major) release, fails staging's upgrade check and never
#      reaches production; `lockgate why staging` says why;
#   4. a commit to the config repository (more instances) flows through.
# The environments are served over HTTP on 127.0.0.1:8801 (python3's http.server) for the smoke
# and acceptance tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

echo "==> building (the first build takes several minutes)"
rustup target add wasm32-wasip2 >/dev/null
(cd "$root" && cargo build --release --locked -p lockgate)
(cd "$root/plugins" && cargo build --release --locked --workspace)
lockgate="$root/target/release/lockgate"

cd "$here"
bash setup.sh
python3 -m http.server 8801 --bind 127.0.0.1 --directory work/envs >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1

lg() { "$lockgate" "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

lg validate pipeline.yml

say "1. the first release walks development -> staging, and waits for approval"
lg run pipeline.yml
lg why production
lg approve production --as alice
lg run pipeline.yml

say "2. app 1.1.0 appears upstream"
echo "app 1.1.0" > work/releases/app-1.1.0.tgz
lg run pipeline.yml
lg approve production --as alice
lg run pipeline.yml

say "3. app 2.0.0 is a breaking release: staging's upgrade check stops it"
echo "app 2.0.0" > work/releases/app-2.0.0.tgz
lg run pipeline.yml || echo "(a build failed, as expected)"
lg why staging

say "4. a config change (3 instances) flows through"
sed -i 's/instances: 2/instances: 3/' work/config-repo/manifests/app.yml
git -C work/config-repo -c user.name=ops -c user.email=ops@example.org commit -qam "Scale to 3 instances"
lg disable app-release version=2.0.0,file=app-2.0.0.tgz   # withdrawn: no job takes it again
lg run pipeline.yml
lg approve production --as bob
lg run pipeline.yml
lg status

echo
echo "production runs: $(cat "work/envs/production/releases/$(cat work/envs/production/current)/versions.json" | tr -d '\n ')"
