#!/usr/bin/env bash
# Builds bench/native/infonce_breakdown.c against the Maven build's libjnce.so and OpenBLAS
# (run `mvn -B -DskipTests verify` first) and runs it on JNCE_NUM_THREADS threads (default 2).
#
#   bench/native/run.sh N D REPS        e.g. bench/native/run.sh 16384 128 5
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
lib=java/target/native-build
blas=java/target/openblas/org/bytedeco/openblas/linux-x86_64
[ -f $lib/libjnce.so ] || { echo "no $lib/libjnce.so: run mvn -B -DskipTests verify first" >&2; exit 1; }
out=bench/target/infonce_breakdown
mkdir -p bench/target
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Inative/include bench/native/infonce_breakdown.c -L$lib -ljnce \
    -Wl,-rpath,"$PWD/$lib" -Wl,-rpath,"$PWD/$blas" -o $out
threads=${JNCE_NUM_THREADS:-2}
# OpenBLAS's idle workers spin for about 2^28 cycles after each call and take the cores from
# jnce's passes that follow (pass 2 of the one-tensor step at N = 8192: 29 against 15 ms); jnce's
# Java loader shortens that spin (NativeLibrary), so the breakdown does as a JVM would
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
JNCE_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads $out "$@"
