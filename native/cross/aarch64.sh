#!/usr/bin/env bash
# Cross-compiles libjnce.so for linux-aarch64 and runs every C test under qemu-user:
# Debian's gcc-aarch64-linux-gnu, qemu-user and libsimde-dev (the AVX2 paths through SIMDe on NEON,
# native/src/cpu/x86_simd.h), the linux-arm64 OpenBLAS of org.bytedeco:openblas (from Maven
# Central, like the x86-64 build's), cmake/aarch64-linux-gnu.cmake. Also checks that the library
# needs no glibc newer than 2.17. Installs the Debian packages when run as root (CI); otherwise
# says which are missing and exits 0 without building.
#
#   native/cross/aarch64.sh [build folder]     default: java/target/native-build-aarch64
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=$(realpath -m "${1:-java/target/native-build-aarch64}")
openblas_version=$(sed -n 's:.*<openblas.version>\(.*\)</openblas.version>.*:\1:p' pom.xml)

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
[ -f /usr/include/simde/x86/avx2.h ] || missing+=(libsimde-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "aarch64: installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
    else
        echo "aarch64: SKIPPED: missing ${missing[*]} (install them, or run as root to let this script do it)"
        exit 0
    fi
fi

openblas=$build/openblas
if [ ! -f "$openblas/org/bytedeco/openblas/linux-arm64/libopenblas.so.0" ]; then
    mvn -B -q dependency:unpack -Dartifact="org.bytedeco:openblas:$openblas_version:jar:linux-arm64" \
        -DoutputDirectory="$openblas" -Dmdep.unpack.includes='org/bytedeco/openblas/linux-arm64/include/*.h,org/bytedeco/openblas/linux-arm64/*.so*'
fi
root=$openblas/org/bytedeco/openblas/linux-arm64
cmake -S native -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DCMAKE_BUILD_TYPE=Release \
    -DOPENBLAS_ROOT="$root" -DJNCE_CUDA=OFF >/dev/null
cmake --build "$build" --parallel
# A test still running after 10 minutes fails instead of holding CI to its limit (every test takes
# under a minute here; test_parallel hung under qemu until parallel.c fenced its sleep hand-shakes)
ctest --test-dir "$build" --output-on-failure --timeout 600
echo "aarch64: libjnce.so $(readelf -h "$build/libjnce.so" | sed -n 's/ *Machine: *//p'), every C test passed under $(qemu-aarch64 --version | head -n 1)"
