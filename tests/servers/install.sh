#!/usr/bin/env bash
# Installs the real servers the host tests of the network resource types run against,
# idempotently:
#  - the OCI registry of Debian's `docker-registry` package (distribution 2.8.x) at
#    /usr/bin/docker-registry, for `registry-image` (engine/cli/tests/host/plugins_registry_image.rs;
#    `DOCKER_REGISTRY=/path` points the tests at another build instead);
#  - git (its `git http-backend` serves the `git` resource type's tests, tests/git-server),
#    and curl and openssl (examples/cloud-gov-remote/setup.sh pushes images with curl and makes
#    its CA with openssl; tests/e2e/examples_remote.rs runs it).
# Installed with apt-get when missing and we are root; otherwise says what to install and fails.
# Usage: bash tests/servers/install.sh
set -euo pipefail

missing=()
for tool in git curl openssl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: missing ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" || {
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  }
fi

registry="${DOCKER_REGISTRY:-/usr/bin/docker-registry}"
if [ ! -x "$registry" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: $registry is missing; install the Debian package \`docker-registry\` as root" \
         "(apt-get install docker-registry) or set DOCKER_REGISTRY to a registry binary" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "install.sh: installing docker-registry with apt-get" >&2
  if ! apt-get install -y --no-install-recommends docker-registry; then
    apt-get update
    apt-get install -y --no-install-recommends docker-registry
  fi
  [ -x "$registry" ] || { echo "install.sh: $registry still missing after apt-get" >&2; exit 1; }
fi
echo "install.sh: ready ($("$registry" --version 2>/dev/null || echo "$registry"))"
