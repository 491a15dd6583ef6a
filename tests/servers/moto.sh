#!/usr/bin/env bash
# Installs the S3-compatible server the host tests of the `s3` resource type run against,
# idempotently: moto (PyPI `moto[server]`, pinned) in a virtual environment under the target
# directory; prints the path of its `moto_server`. `MOTO_SERVER=/path` points the tests at
# another installation instead.
# Usage: bash tests/servers/moto.sh [VENV_DIR]   (default: target/test-servers/moto)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="5.1.22"
venv="${1:-$here/../../target/test-servers/moto}"
server="$venv/bin/moto_server"
stamp="$venv/.lockgate-moto-$version"
if [ ! -x "$server" ] || [ ! -f "$stamp" ]; then
  command -v python3 >/dev/null || { echo "moto.sh: python3 is missing (Debian: python3 python3-venv)" >&2; exit 1; }
  echo "moto.sh: installing moto[server]==$version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version" >&2
  touch "$stamp"
fi
echo "$server"
