#!/usr/bin/env bash
# Builds bench/native/small_products.c (the small calls' products, normalisation and
# cross-entropy rows) against the Maven build's libjnce.so and OpenBLAS (run
# `mvn -B -DskipTests verify` first) and runs it on one thread; the log goes to
# bench/results/raw/small-products-<date>/raw.txt.
#
#   bench/native/small_products.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
lib=java/target/native-build
blas=java/target/openblas/org/bytedeco/openblas/linux-x86_64
[ -f $lib/libjnce.so ] || { echo "no $lib/libjnce.so: run mvn -B -DskipTests verify first" >&2; exit 1; }
out=bench/target/small_products
mkdir -p bench/target
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Inative/include -I$blas/include bench/native/small_products.c -L$lib -ljnce \
    $blas/libopenblas.so.0 -Wl,-rpath,"$PWD/$lib" -Wl,-rpath,"$PWD/$blas" -o $out
log=bench/results/raw/small-products-$(date -u +%Y%m%d-%H%M)
mkdir -p "$log"
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), 1 thread," \
        "commit $(git rev-parse --short HEAD), bench/native/small_products.sh"
    OPENBLAS_NUM_THREADS=1 $out
} | tee "$log/raw.txt"
