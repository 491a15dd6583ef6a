#!/usr/bin/env bash
# The cloud-gov-remote example end to end on the embedded SQLite store, against real servers
# on 127.0.0.1: an OCI registry (Debian's docker-registry, :8811), a git server over HTTPS
# (git-http-server, :8812) and a bosh.io-shaped release feed (python3's http.server, :8813).
#   1. image 1.0.0 + routing release 0.300.0 + the config repo reach staging; production waits
#      for an approval; alice approves; production gets the image copied by digest into
#      production/app:current and the digest committed to envs.git;
#   2. image 1.1.0 is pushed upstream and follows the same path;
#   3. a config change pushed to config.git over HTTPS flows through.
# Ports: REGISTRY_PORT, GIT_PORT, FEED_PORT (default 8811, 8812, 8813: the ports pipeline.yml
# names; change both together).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export REGISTRY_PORT="${REGISTRY_PORT:-8811}" GIT_PORT="${GIT_PORT:-8812}" FEED_PORT="${FEED_PORT:-8813}"
export DOCKER_REGISTRY="${DOCKER_REGISTRY:-/usr/bin/docker-registry}"

echo "==> building (the first build takes several minutes)"
rustup target add wasm32-wasip2 >/dev/null
(cd "$root" && cargo build --release --locked -p lockgate -p lockgate-test-git --bin lockgate --bin git-http-server)
(cd "$root/plugins" && cargo build --release --locked --workspace)
lockgate="$root/target/release/lockgate"
git_http_server="$root/target/release/git-http-server"
[ -x "$DOCKER_REGISTRY" ] || bash "$root/tests/servers/install.sh"

cd "$here"
bash setup.sh

# The servers, stopped on exit.
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
"$DOCKER_REGISTRY" serve work/registry/config.yml > work/registry.log 2>&1 &
pids+=($!)
"$git_http_server" --root work/git --port "$GIT_PORT" --receive-pack \
  --tls-cert work/tls/server.pem --tls-key work/tls/server.key > work/git-server.log 2>&1 &
pids+=($!)
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory work/feed > work/feed.log 2>&1 &
pids+=($!)
for port in "$REGISTRY_PORT" "$GIT_PORT" "$FEED_PORT"; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done

lg() { "$lockgate" "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
envs() { git --git-dir=work/git/envs.git "$@"; }
# The digest the registry serves for a repository's tag, or "nothing (404)".
served_digest() {
  curl -sSI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$REGISTRY_PORT/v2/$1/manifests/$2" | tr -d '\r' |
    sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p; s/^HTTP[^ ]* 404.*/nothing (404)/p'
}
show_production() {
  echo "envs.git, the newest commits:"
  envs log --format='  %h %<(9,trunc)%an %s' -n 8 main
  echo "production/values.yaml on the server:"
  envs show main:production/values.yaml | sed 's/^/  /'
  echo "the registry serves production/app:current as $(served_digest production/app current)"
}

lg validate pipeline.yml

say "1. image 1.0.0, routing release 0.300.0 and the config walk development -> staging, and wait for approval"
lg run pipeline.yml
lg why production
echo "the registry's production/app:current before the approval: $(served_digest production/app current)"
lg approve production --as alice
lg run pipeline.yml
say "production: the image copied by digest, the digest committed by Lockgate"
show_production
promotion="$(envs log -1 --format=%H --grep='^Promote app to production' main)"
envs show --format='commit %H%nAuthor: %an <%ae>%n%n    %s' "$promotion" | sed 's/^/  /'

say "2. app 1.1.0 is pushed to the registry"
echo "ci/app:1.1.0 is $(bash setup.sh push-image 1.1.0)"
lg run pipeline.yml
lg approve production --as alice
lg run pipeline.yml
show_production

say "3. a config change (3 replicas) is pushed to config.git over HTTPS"
rm -rf work/config-clone
export GIT_SSL_CAINFO="$here/work/tls/ca.pem"   # git trusts the example's CA
git clone -q "https://127.0.0.1:$GIT_PORT/config.git" work/config-clone
sed -i 's/replicas: 2/replicas: 3/' work/config-clone/manifests/app.yml
git -C work/config-clone -c user.name=ops -c user.email=ops@example.org -c commit.gpgsign=false commit -qam "Scale to 3 replicas"
git -C work/config-clone push -q origin main
echo "config.git main is now $(git -C work/config-clone rev-parse HEAD)"
lg run pipeline.yml
lg approve production --as bob
lg run pipeline.yml
lg status

echo
echo "production runs (envs.git, production/values.yaml):"
envs show main:production/values.yaml | grep -v '^#' | sed 's/^/  /'
echo "and the registry serves production/app:current as $(served_digest production/app current)"
