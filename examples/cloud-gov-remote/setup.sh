#!/usr/bin/env bash
# Creates the cloud-gov-remote example's world in DIR/work (default: beside this script), from
# scratch every time:
#   work/tls/        a throwaway CA (ca.pem) and the servers' certificate for 127.0.0.1
#   work/registry/   the OCI registry's config (config.yml) and storage, holding the upstream
#                    image ci/app:1.0.0 (pushed through the distribution API by a registry this
#                    script starts for the push and stops again)
#   work/git/        the git server's root: config.git (manifests, acceptance scenario) and
#                    envs.git (one values.yaml per environment), bare, branch main
#   work/feed/       a bosh.io-shaped release feed: the API's answer for acme/routing-release
#                    and its tarball
# Ports (the variables run.sh uses too): REGISTRY_PORT (8811: the registry's config, the
# values files) and FEED_PORT (8813: the feed's download links); the git server's (GIT_PORT,
# 8812) is in no file. The registry binary: DOCKER_REGISTRY (default /usr/bin/docker-registry,
# Debian's `docker-registry`; `bash tests/servers/install.sh` installs it).
#
#   usage: setup.sh [DIR]
#          setup.sh push-image VERSION   push ci/app:VERSION to the running registry
set -euo pipefail

REGISTRY_PORT="${REGISTRY_PORT:-8811}"
FEED_PORT="${FEED_PORT:-8813}"
DOCKER_REGISTRY="${DOCKER_REGISTRY:-/usr/bin/docker-registry}"
registry="http://127.0.0.1:$REGISTRY_PORT"

# --- pushing an image without docker: the OCI distribution API with curl ---------------------

# push_blob REPO FILE: uploads FILE as a blob of REPO (monolithic upload: POST, then one PUT
# with the digest) unless the registry has it; prints its digest.
push_blob() {
  local repo="$1" file="$2" digest location separator
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  if ! curl -fsS -o /dev/null -I "$registry/v2/$repo/blobs/$digest" 2>/dev/null; then
    location="$(curl -fsS -X POST -D - -o /dev/null "$registry/v2/$repo/blobs/uploads/" |
      tr -d '\r' | sed -n 's/^[Ll]ocation: *//p')"
    [ -n "$location" ] || { echo "setup.sh: the registry gave no upload location" >&2; exit 1; }
    case "$location" in /*) location="$registry$location" ;; esac
    case "$location" in *\?*) separator='&' ;; *) separator='?' ;; esac
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary "@$file" "$location${separator}digest=$digest"
  fi
  echo "$digest"
}

# push_image VERSION: builds the app image VERSION (one layer: a tar.gz of app/VERSION and
# app/index.html; a config naming the version) reproducibly, pushes it as ci/app:VERSION and
# prints its digest (the sha256 of the manifest, as the registry stores it).
push_image() {
  local version="$1" repo=ci/app scratch layer_digest diff_id config_digest manifest digest
  scratch="$(mktemp -d)"
  mkdir -p "$scratch/rootfs/app"
  echo "$version" > "$scratch/rootfs/app/VERSION"
  echo "<h1>app $version</h1>" > "$scratch/rootfs/app/index.html"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$scratch/rootfs" \
    -cf "$scratch/layer.tar" app
  gzip -n -c "$scratch/layer.tar" > "$scratch/layer.tar.gz"
  diff_id="sha256:$(sha256sum "$scratch/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/app/serve"],"Labels":{"org.opencontainers.image.version":"%s"}},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$version" "$diff_id" > "$scratch/config.json"
  layer_digest="$(push_blob "$repo" "$scratch/layer.tar.gz")"
  config_digest="$(push_blob "$repo" "$scratch/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}],"annotations":{"org.opencontainers.image.version":"%s"}}' \
    "$config_digest" "$(stat -c %s "$scratch/config.json")" \
    "$layer_digest" "$(stat -c %s "$scratch/layer.tar.gz")" "$version" > "$scratch/manifest.json"
  manifest="$scratch/manifest.json"
  digest="sha256:$(sha256sum "$manifest" | cut -d' ' -f1)"
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$manifest" "$registry/v2/$repo/manifests/$version"
  rm -rf "$scratch"
  echo "$digest"
}

if [ "${1:-}" = push-image ]; then
  [ -n "${2:-}" ] || { echo "usage: setup.sh push-image VERSION" >&2; exit 2; }
  push_image "$2"
  exit 0
fi

cd "${1:-$(dirname "$0")}"
rm -rf work .lockgate
mkdir -p work/tls work/registry/storage work/git work/feed
work="$(pwd)/work"
# Commits with a fixed identity and date: the same ids on every run.
git_as_ops() {
  GIT_AUTHOR_DATE="2024-01-01T12:00:00Z" GIT_COMMITTER_DATE="2024-01-01T12:00:00Z" \
    git -c user.name=ops -c user.email=ops@example.org -c init.defaultBranch=main -c commit.gpgsign=false "$@"
}

# --- a throwaway CA and the servers' certificate (127.0.0.1, localhost) -----------------------
(
  cd work/tls
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=cloud-gov-remote example CA" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout server.key -out server.csr 2>/dev/null
  printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
    'subjectAltName=IP:127.0.0.1,DNS:localhost' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile server.ext -out server.pem 2>/dev/null
  rm -f server.csr server.ext ca.srl
)

# --- the OCI registry ---------------------------------------------------------------------------
cat > work/registry/config.yml <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry/storage
http:
  addr: 127.0.0.1:$REGISTRY_PORT
YAML

# --- the config repository ----------------------------------------------------------------------
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
git_as_ops init -q "$src/config"
mkdir -p "$src/config/manifests" "$src/config/acceptance"
cat > "$src/config/manifests/app.yml" <<'YAML'
name: app
replicas: 2
routes:
  - app.cloud.example
YAML
# Run by the `acceptance` test against each environment's repository in the registry
# (base_url http://127.0.0.1:REGISTRY_PORT/v2/<environment>/app).
cat > "$src/config/acceptance/scenario.json" <<'JSON'
[
  {
    "name": "the environment's repository has the current tag",
    "request": { "method": "GET", "url": "/tags/list" },
    "expect": { "status": 200, "body_contains": "\"current\"" }
  },
  {
    "name": "the current image is an OCI image",
    "request": {
      "method": "GET",
      "url": "/manifests/current",
      "headers": { "Accept": "application/vnd.oci.image.manifest.v1+json" }
    },
    "expect": {
      "status": 200,
      "json": { "/schemaVersion": 2, "/mediaType": "application/vnd.oci.image.manifest.v1+json" }
    }
  }
]
JSON
git_as_ops -C "$src/config" add -A
git_as_ops -C "$src/config" commit -q -m "Initial manifest and acceptance scenario"
git clone -q --bare "$src/config" work/git/config.git

# --- the environment repository: one values.yaml per environment, written by Lockgate ---------
git_as_ops init -q "$src/envs"
for env in development staging production; do
  mkdir -p "$src/envs/$env"
  cat > "$src/envs/$env/values.yaml" <<YAML
# What $env runs. Lockgate's $env job commits here; a GitOps agent (Argo CD, Flux)
# deploys from it: the app image by digest, the routing release, the config revision.
image:
  repository: 127.0.0.1:$REGISTRY_PORT/$env/app
  tag: current
  version: ""
  digest: ""
routing-release:
  version: ""
config:
  revision: ""
YAML
done
git_as_ops -C "$src/envs" add -A
git_as_ops -C "$src/envs" commit -q -m "Environments: nothing deployed yet"
git clone -q --bare "$src/envs" work/git/envs.git

# --- the release feed: bosh.io's API shape, as static files -------------------------------------
# GET /api/v1/releases/github.com/acme/routing-release answers the versions, newest first, each
# with its download URL and checksums (verified by the bosh-io-release plugin).
mkdir -p "$src/release" work/feed/api/v1/releases/github.com/acme work/feed/d
printf 'name: routing-release\nversion: 0.300.0\n' > "$src/release/release.MF"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$src/release" -cf - release.MF |
  gzip -n > work/feed/d/routing-release-0.300.0.tgz
tarball=work/feed/d/routing-release-0.300.0.tgz
cat > work/feed/api/v1/releases/github.com/acme/routing-release <<JSON
[
  {
    "name": "github.com/acme/routing-release",
    "version": "0.300.0",
    "url": "http://127.0.0.1:$FEED_PORT/d/routing-release-0.300.0.tgz",
    "sha1": "$(sha1sum "$tarball" | cut -d' ' -f1)",
    "sha256": "$(sha256sum "$tarball" | cut -d' ' -f1)"
  }
]
JSON

# --- the upstream image: app 1.0.0, pushed into a registry started for the push ---------------
if [ ! -x "$DOCKER_REGISTRY" ]; then
  echo "setup.sh: $DOCKER_REGISTRY is missing: install Debian's docker-registry" \
       "(bash tests/servers/install.sh as root) or set DOCKER_REGISTRY" >&2
  exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$REGISTRY_PORT") 2>/dev/null; then
  echo "setup.sh: 127.0.0.1:$REGISTRY_PORT is in use; stop what listens there (or set REGISTRY_PORT)" >&2
  exit 1
fi
"$DOCKER_REGISTRY" serve work/registry/config.yml > work/registry/setup.log 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true; wait $registry_pid 2>/dev/null || true; rm -rf "$src"' EXIT
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$registry/v2/" 2>/dev/null && break
  kill -0 $registry_pid 2>/dev/null || { cat work/registry/setup.log >&2; exit 1; }
  sleep 0.1
done
echo "app 1.0.0: ci/app@$(push_image 1.0.0)"
echo "cloud-gov-remote example ready in $work"
