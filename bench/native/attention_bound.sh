#!/usr/bin/env bash
# Builds bench/native/attention_bound.c against the Maven build's libjnce.so and OpenBLAS (run
# `mvn -B -DskipTests install` first) and runs it: attention fwd+bwd on one thread, in thread CPU
# time, against 7 GEMMs at the 1024³ sgemm rate of the same process.
#
#   bench/native/attention_bound.sh [BH L D REPS]        default 1 4096 64 3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
lib=java/target/native-build
blas=java/target/openblas/org/bytedeco/openblas/linux-x86_64
[ -f $lib/libjnce.so ] || { echo "no $lib/libjnce.so: run mvn -B -DskipTests install first" >&2; exit 1; }
out=bench/target/attention_bound
mkdir -p bench/target
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Inative/include bench/native/attention_bound.c -L$lib -ljnce \
    -Wl,-rpath,"$PWD/$lib" -Wl,-rpath,"$PWD/$blas" -o $out
JNCE_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $out "$@"
