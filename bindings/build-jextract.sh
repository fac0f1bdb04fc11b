#!/usr/bin/env bash
#
# Builds jextract from a checkout of the openjdk/jextract sources, outside this repository, with
# its make build (no Gradle, which needs a download this build cannot assume) and Debian's
# libclang, then prints the bin/ directory to put on PATH for bindings/regenerate.sh.
#
#   bindings/build-jextract.sh <jextract source dir> [JDK home, default $JAVA_HOME]
#
# Needs: a JDK 22+ (jextract's master builds with 25), make, and libclang with clang's headers
# (apt-get install libclang-14-dev). jextract's make build expects LIBCLANG_HOME/lib/libclang.so.<v>
# and LIBCLANG_HOME/lib/clang/<v>/include; Debian spreads them over /usr/lib/x86_64-linux-gnu and
# /usr/lib/llvm-14, so a small folder of links stands in for LIBCLANG_HOME.
# Checked with openjdk/jextract f9866df, Temurin 25.0.3 and libclang 14.0.6 (Debian 12): the
# bindings it generates are byte for byte the ones committed.
#
set -euo pipefail
SRC=${1:?usage: build-jextract.sh <jextract source dir> [JDK home]}
JDK=${2:-${JAVA_HOME:?set JAVA_HOME to a JDK 22+ or pass it}}
LLVM=${LLVM_HOME:-$(ls -d /usr/lib/llvm-* 2>/dev/null | sort -V | tail -n 1)}
[[ -d "$LLVM/lib/clang" ]] || { echo "build-jextract.sh: no clang headers under ${LLVM:-/usr/lib/llvm-*}/lib/clang (apt-get install libclang-14-dev)" >&2; exit 1; }
VERSION=$(ls "$LLVM/lib/clang" | sort -V | tail -n 1)
LIB=$(readlink -f "$LLVM/lib/libclang.so" 2>/dev/null || true)
[[ -f "$LIB" ]] || LIB=$(ls /usr/lib/x86_64-linux-gnu/libclang-*.so.* 2>/dev/null | sort -V | tail -n 1)
[[ -f "$LIB" ]] || { echo "build-jextract.sh: no libclang.so found (apt-get install libclang-14-dev)" >&2; exit 1; }

HOME_SHIM=$(mktemp -d)
mkdir -p "$HOME_SHIM/lib/clang"
cp "$LIB" "$HOME_SHIM/lib/libclang.so.$VERSION"
ln -s "$LLVM/lib/clang/$VERSION" "$HOME_SHIM/lib/clang/$VERSION"

cd "$SRC"
rm -rf build
make PANAMA_JAVA_HOME="$JDK" LIBCLANG_HOME="$HOME_SHIM" LIBCLANG_VERSION="$VERSION" >&2
rm -rf "$HOME_SHIM"
BIN=$(cd build/*/images/jextract/bin && pwd)
"$BIN/jextract" --version >&2
echo "$BIN"
