#!/usr/bin/env bash
#
# Regenerates jnce's FFM bindings (package dev.jnce.bindings, class JnceNative) from
# native/include/jnce.h with jextract. Run it after every change to jnce.h, then commit
# the result together with the header change.
#
# Everything under bindings/src/main/java/dev/jnce/bindings/ is GENERATED: nobody edits
# those files by hand; change jnce.h or bindings/jnce.symbols and rerun this script.
# bindings/src/main/java/module-info.java is hand-written and is left alone.
#
# No --library/-l is passed on purpose: the generated code resolves symbols through
# SymbolLookup.loaderLookup(), and jnce loads its native library itself with System.load.
#
# Requires `jextract` on PATH. jextract is NOT vendored in this repository: build it from
# the openjdk/jextract sources (see that project's README; it
# needs a JDK 22+ and libclang, e.g. Debian's libclang-16-dev) outside this repository,
# and put its bin/ directory on PATH.
#
set -euo pipefail

if ! command -v jextract >/dev/null 2>&1; then
    echo "regenerate.sh: error: 'jextract' not found on PATH." >&2
    echo "  Build it from the openjdk/jextract sources (outside this repository) and put its bin/ on PATH." >&2
    exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."    # repository root

HEADER=native/include/jnce.h
OUT=bindings/src/main/java
GEN_DIR="$OUT/dev/jnce/bindings"

[[ -f "$HEADER" ]] || { echo "regenerate.sh: error: $HEADER not found" >&2; exit 1; }

echo "jextract: $(jextract --version 2>&1 | head -n 1)"
rm -rf -- "$GEN_DIR"

jextract \
    -I native/include \
    --target-package dev.jnce.bindings \
    --header-class-name JnceNative \
    --output "$OUT" \
    @bindings/jnce.symbols \
    "$HEADER"

echo "Generated:"
find "$GEN_DIR" -type f -name '*.java' | sort
