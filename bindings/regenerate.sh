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
# the openjdk/jextract sources outside this repository with bindings/build-jextract.sh (a JDK
# 22+ and Debian's libclang-14-dev, no Gradle), and put the bin/ it prints on PATH.
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

# <stdint.h>: jextract puts libclang's own headers on the include path, whose stdint.h can leave
# int32_t undefined (seen with Debian's libclang 14: "unknown type name 'int32_t'"). A one-line
# header that includes the C library's stdint.h by its path comes first; the bindings are the same.
SHIM=$(mktemp -d)
trap 'rm -rf "$SHIM"' EXIT
for f in /usr/include/stdint.h /usr/local/include/stdint.h; do
    if [[ -f "$f" ]]; then printf '#include "%s"\n' "$f" > "$SHIM/stdint.h"; break; fi
done

rm -rf -- "$GEN_DIR"

jextract \
    -I "$SHIM" \
    -I native/include \
    --target-package dev.jnce.bindings \
    --header-class-name JnceNative \
    --output "$OUT" \
    @bindings/jnce.symbols \
    "$HEADER"

echo "Generated:"
find "$GEN_DIR" -type f -name '*.java' | sort
