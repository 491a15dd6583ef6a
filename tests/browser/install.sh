#!/usr/bin/env bash
# Installs what the dashboard's browser tests need, idempotently:
#  - Chromium at /usr/bin/chromium (Debian package `chromium`; installed with apt-get when
#    missing and we are root; `CHROMIUM=/path` points the tests at another build instead);
#  - `playwright-core` (pinned in package-lock.json) in tests/browser/node_modules, with
#    `npm ci` when node_modules is missing or older than package-lock.json.
# Usage: bash tests/browser/install.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: $chromium is missing; install the Debian package \`chromium\` as root" \
         "(apt-get install chromium) or set CHROMIUM to a Chromium binary" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "install.sh: installing chromium with apt-get" >&2
  if ! apt-get install -y --no-install-recommends chromium; then
    apt-get update
    apt-get install -y --no-install-recommends chromium
  fi
  [ -x "$chromium" ] || { echo "install.sh: $chromium still missing after apt-get" >&2; exit 1; }
fi

command -v node >/dev/null || { echo "install.sh: node is missing (Debian: nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is missing (Debian: npm)" >&2; exit 1; }

stamp="$here/node_modules/.lockgate-installed"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ] \
   || [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "install.sh: npm ci in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
echo "install.sh: ready ($("$chromium" --version 2>/dev/null || echo "$chromium"), playwright-core $(node -p "require('$here/node_modules/playwright-core/package.json').version"))"
