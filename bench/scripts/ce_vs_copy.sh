#!/usr/bin/env bash
# Softmax cross-entropy forward+backward against its memory limit in the same process
# (bench/native/ce_vs_copy.c: the kernel, plain and with class weights + label smoothing, and a
# memcpy of the same bytes on as many threads), built against the Maven build's libjnce.so. The
# raw log goes to bench/results/raw/ce-copy-<date>/, one row to bench/results/ce_copy.csv. With
# LIBJNCE_DIR=<folder holding another libjnce.so> it runs that library instead (an A/B of a kernel
# change: run it for each library, interleaved); with JNCE_SIMD=avx2 the 8-lane paths on a CPU that
# has AVX-512; with JNCE_CE_STREAM=1 or 0 the gradient by streaming stores or not (the default:
# streaming on CPUs with AVX-512 when the gradient is 32 MiB or more).
#
#   bench/scripts/ce_vs_copy.sh [threads] [N C REPS]      default 2 threads, 8192 32000 9
set -euo pipefail
command="${JNCE_SIMD:+JNCE_SIMD=$JNCE_SIMD }${JNCE_CE_STREAM:+JNCE_CE_STREAM=$JNCE_CE_STREAM }${LIBJNCE_DIR:+LIBJNCE_DIR=$LIBJNCE_DIR }bench/scripts/ce_vs_copy.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
source bench/scripts/side_by_side.sh
lib=${LIBJNCE_DIR:-java/target/native-build}
blas=java/target/openblas/org/bytedeco/openblas/linux-x86_64
[ -f "$lib/libjnce.so" ] || { echo "no $lib/libjnce.so: run mvn -B -DskipTests verify first" >&2; exit 1; }
results_run ce-copy "$threads" "$command"
bin=$out/ce_vs_copy
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Inative/include bench/native/ce_vs_copy.c -L"$lib" -ljnce -lpthread \
    -Wl,-rpath,"$(realpath "$lib")" -Wl,-rpath,"$PWD/$blas" -o "$bin"
line=$(JNCE_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$bin" "$@")
rm -f "$bin"
echo "$line" | tee "$out/raw.txt"
[ -f bench/results/ce_copy.csv ] ||
    echo "date,machine,commit,command,threads,N,C,ce_s,ce_weighted_smoothed_s,copy_s,ce_over_copy,weighted_smoothed_over_plain,library,raw" \
        > bench/results/ce_copy.csv
echo "$line" | awk -v pre="$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command,$threads" -v lib="$lib" -v raw="$RUN_RAW" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", pre, v["N"], v["C"], v["ce_s"], v["ce_weighted_smoothed_s"], v["copy_s"],
        v["ce_over_copy"], v["weighted_smoothed_over_plain"], lib, raw }' >> bench/results/ce_copy.csv
