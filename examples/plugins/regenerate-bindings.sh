#!/usr/bin/env bash
# Regenerates the committed guest bindings of the C, Go and Zig examples and of the
# `lockgate plugin new` templates from wit/plugin, with a pinned wit-bindgen-cli.
#
# The bindings depend only on the world (`resource-type` or `test-step`), never on the plugin,
# so they are generated once here and committed; builds (and CI) use the committed files.
# Run this after changing wit/plugin, then rebuild the engine (the templates are embedded).
#
# wit-bindgen-cli is installed on first use (cargo install, ~6 min) into
# ${LOCKGATE_TOOLCHAINS:-<repo>/target/toolchains}/wit-bindgen; WIT_BINDGEN=path overrides.
# Go bindings are gofmt'ed with the Go toolchain of toolchains/go.sh.
set -euo pipefail

WIT_BINDGEN_VERSION=0.63.0   # matches wit-bindgen in plugins/Cargo.lock (Rust guests)
GO_PKG_VERSION=v0.4.0        # go.bytecodealliance.org/pkg, as shipped in the wit-bindgen-go crate

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${LOCKGATE_TOOLCHAINS:-$repo/target/toolchains}
wit=$repo/wit/plugin

wb=${WIT_BINDGEN:-$root/wit-bindgen/bin/wit-bindgen}
if ! "$wb" --version 2>/dev/null | grep -qx "wit-bindgen-cli $WIT_BINDGEN_VERSION"; then
    echo "installing wit-bindgen-cli $WIT_BINDGEN_VERSION into $root/wit-bindgen (several minutes)" >&2
    cargo install wit-bindgen-cli --version "$WIT_BINDGEN_VERSION" --locked --root "$root/wit-bindgen"
    wb=$root/wit-bindgen/bin/wit-bindgen
fi

# gofmt for the Go bindings (wit-bindgen go formats with gofmt when it is on PATH).
bash "$here/toolchains/go.sh"
# shellcheck disable=SC1091
. "$root/go/env.sh"

# The Go package the Go bindings import, from the wit-bindgen-go crate's source (fetched by
# the cargo install above): only what a synchronous world needs (runtime, types without
# streams and futures, which would pull in the async package).
go_pkg_src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"wit-bindgen-go-$WIT_BINDGEN_VERSION"/src/pkg 2>/dev/null | head -1)
[ -d "$go_pkg_src" ] || { echo "error: wit-bindgen-go-$WIT_BINDGEN_VERSION source not found in the cargo registry" >&2; exit 1; }

c_bindings() { # WORLD DIR
    rm -rf "$2"
    mkdir -p "$2"
    "$wb" c --world "$1" --no-object-file --out-dir "$2" "$wit" >/dev/null
}

go_bindings() { # WORLD DIR PKG_DIR
    local dir=$2 pkg=$3
    rm -rf "$dir"
    mkdir -p "$dir"
    "$wb" go --world "$1" --out-dir "$dir" "$wit" >/dev/null
    # Use the vendored copy of go.bytecodealliance.org/pkg: the Go module proxy is not used.
    grep -q "go.bytecodealliance.org/pkg $GO_PKG_VERSION" "$dir/go.mod" || {
        echo "error: the bindings want another go.bytecodealliance.org/pkg than $GO_PKG_VERSION:" >&2
        cat "$dir/go.mod" >&2
        exit 1
    }
    (cd "$dir" && go mod edit -replace go.bytecodealliance.org/pkg=./go-pkg && go mod edit -fmt)
    rm -rf "$pkg"
    mkdir -p "$pkg/wit/runtime" "$pkg/wit/types"
    cp "$go_pkg_src/LICENSE" "$pkg/"
    # The package needs nothing newer than the bindings' own `go` line: keep builds read-only
    # (a newer `go` line here would make `go build` rewrite go.mod).
    go_line=$(sed -n 's/^go //p' "$dir/go.mod")
    sed "s/^go .*/go $go_line/" "$go_pkg_src/go.mod" >"$pkg/go.mod"
    cp "$go_pkg_src/wit/runtime/runtime.go" "$go_pkg_src/wit/runtime/empty.s" "$pkg/wit/runtime/"
    cp "$go_pkg_src"/wit/types/{option,result,tuple,unit}.go "$pkg/wit/types/"
    printf '%s\n' \
        "Copied from the source of the crate wit-bindgen-go $WIT_BINDGEN_VERSION (src/pkg, the Go module" \
        "go.bytecodealliance.org/pkg $GO_PKG_VERSION, Apache-2.0 WITH LLVM-exception; see LICENSE) by" \
        "examples/plugins/regenerate-bindings.sh: only wit/runtime and the synchronous part of wit/types." \
        >"$pkg/README.md"
}

# One copy per world in engine/cli/templates/shared/: `lockgate plugin new` layers them into C,
# Zig and Go projects, and the examples build from them.
shared=$repo/engine/cli/templates/shared
for kind in resource-type test-step; do
    c_bindings "$kind" "$shared/c/$kind"
    go_bindings "$kind" "$shared/go/$kind" "$shared/go-pkg"
done
echo "bindings regenerated with wit-bindgen-cli $WIT_BINDGEN_VERSION" >&2
