#!/usr/bin/env bash
# Regenerates the example tasks: examples/tasks/<lang>/ is what
#   lockgate plugin new word-count --kind task --lang <lang>
# writes, minus the preview1 command adapter of C, Go and Zig (binary; their build.sh gets it from
# `lockgate plugin adapter --command`). Run it after changing engine/cli/templates/*/task or
# engine/cli/templates/shared/task*; tests/e2e/task_new.rs fails while they differ.
#   LOCKGATE=path/to/lockgate examples/tasks/regenerate.sh   (default: lockgate on PATH)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lockgate=${LOCKGATE:-lockgate}
for lang in rust c zig go python javascript; do
    rm -rf "${here:?}/$lang"
    "$lockgate" plugin new word-count --kind task --lang "$lang" --dir "$here/$lang" >/dev/null
    rm -f "$here/$lang/wasi_snapshot_preview1.command.wasm"
    echo "regenerated examples/tasks/$lang" >&2
done
