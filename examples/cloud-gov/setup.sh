#!/usr/bin/env bash
# Creates the cloud-gov example's world in DIR/work (default: beside this script): upstream
# release and OS image feeds, a config repository, the three environment directories, and a
# production that already runs a release. Starts from scratch every time.
#   usage: setup.sh [DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")}"
rm -rf work .lockgate
mkdir -p work/releases work/images work/envs/development work/envs/staging work/envs/production

# Upstream feeds: a component release and an OS image (stemcell).
echo "app 1.0.0" > work/releases/app-1.0.0.tgz
echo "stemcell 1.0.0" > work/images/stemcell-1.0.0.img

# The config repository: the deployment manifest and the acceptance scenario.
repo=work/config-repo
git init -q -b main "$repo"
mkdir -p "$repo/manifests" "$repo/acceptance"
cat > "$repo/manifests/app.yml" <<'YAML'
name: app
instances: 2
routes:
  - app.cloud.example
YAML
cat > "$repo/acceptance/scenario.json" <<'JSON'
[
  {
    "name": "the environment serves its current release",
    "request": { "method": "GET", "url": "/current" },
    "expect": { "status": 200 }
  },
  {
    "name": "the environment lists its kept releases",
    "request": { "method": "GET", "url": "/releases/" },
    "expect": { "status": 200, "body_contains": "Directory listing" }
  }
]
JSON
git -C "$repo" -c user.name=ops -c user.email=ops@example.org add -A
git -C "$repo" -c user.name=ops -c user.email=ops@example.org commit -q -m "Initial manifest"

# Production already runs a release (what staging's upgrade check compares with), in the
# layout the env-dir plugin writes.
mkdir -p work/envs/production/releases/1
cp "$repo/manifests/app.yml" work/envs/production/releases/1/manifest.yml
echo '{"app": "1.0.0", "os": "1.0.0"}' > work/envs/production/releases/1/versions.json
echo 1 > work/envs/production/current
echo "cloud-gov example ready in $(pwd)/work"
