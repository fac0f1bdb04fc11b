#!/usr/bin/env bash
# The `java` backend's GEMM against `cpu`'s (OpenBLAS), S (N,N) = A (N,D) . B (N,D)^T: for each
# thread count, GemmPairProbe (one call of each backend in turn in one JVM, the median of PAIRS
# pairs' ratios) in JVMS fresh JVMs, then JMH's SimilarityBench.gemm (each backend in its own
# fork). The target reads the one-thread ratio: `java`'s rate at least 0.7 of OpenBLAS's.
# Beside them, FmaPeakProbe: the cores' multiply-add peak on as many threads (twelve chains of
# FMAs on the widest lanes, no loads), the rate no GEMM on these cores can pass, and each
# backend's paired rate as a fraction of it.
# Raw output goes to bench/results/raw/gemm-backends-<date>/ and a table is printed; the JMH
# rows also go to bench/results/jmh.csv.
#
#   bench/scripts/gemm_backends.sh [N] [D]       default 4096 256, threads 1 and 2
#   THREADS="1" JVMS=3 PAIRS=20 JMH=0 bench/scripts/gemm_backends.sh
#   LIBRARY_JAR=/tmp/old-benchmarks.jar bench/scripts/gemm_backends.sh
#       (the library of another build's benchmarks jar, for an A/B: its classes come first on the
#       probe's class path and JMH runs from it; the run's folder name and rows say so)
set -euo pipefail
command="bench/scripts/gemm_backends.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-4096} d=${2:-256}
jvms=${JVMS:-3} pairs=${PAIRS:-20}
read -r -a thread_counts <<< "${THREADS:-1 2}"
source bench/scripts/side_by_side.sh
name=gemm-backends
if [ -n "${LIBRARY_JAR:-}" ]; then
    name=gemm-backends-library-jar
    command="LIBRARY_JAR=$LIBRARY_JAR $command"
fi
side_by_side_setup "$name" "${thread_counts[0]}" "$command"
jar=${LIBRARY_JAR:-bench/target/benchmarks.jar}
probe=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
    -cp "$jar:bench/target/benchmarks.jar")
echo "$header (each case sets its own), commit $RUN_COMMIT" | tee "$out/raw.txt"
for t in "${thread_counts[@]}"; do
    export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t JNCE_NUM_THREADS=$t
    "${probe[@]}" dev.jnce.bench.FmaPeakProbe "$t" > "$out/fma-peak-t$t.txt" 2>&1
    echo "threads=$t $(grep '^fma-peak ' "$out/fma-peak-t$t.txt")" | tee -a "$out/raw.txt"
    for j in $(seq "$jvms"); do
        log="$out/pair-t$t-$j.txt"
        "${probe[@]}" -Djnce.threads="$t" dev.jnce.bench.GemmPairProbe java cpu "$n" "$d" "$pairs" > "$log" 2>&1
        echo "threads=$t $(grep '^gemm ' "$log")" | tee -a "$out/raw.txt"
    done
    if [ "${JMH:-1}" = 1 ]; then
        "$java_home/bin/java" -jar "$jar" 'SimilarityBench.gemm$' -p backend=cpu,java -p n="$n" -p d="$d" \
            -wi 3 -w 1 -i 5 -r 1 -f 1 -tu ms -rf csv -rff "$out/jmh-t$t.csv" \
            -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Djnce.threads=$t" \
            > "$out/jmh-t$t.txt" 2>&1
        grep -E '^SimilarityBench' "$out/jmh-t$t.txt" | sed "s/^/threads=$t /" | tee -a "$out/raw.txt"
    fi
done
/usr/bin/python3 - "$out" bench/results/jmh.csv "$n" "$d" <<'PY' | tee "$out/summary.txt"
import csv, os, statistics, sys
out, dest, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
flops = 2.0 * n * n * d
pairs, rates, peak = {}, {}, {}
for line in open(os.path.join(out, "raw.txt")):
    f = line.split()
    if len(f) > 2 and f[1] == "gemm":
        pairs.setdefault(f[0], []).append(float(f[8]))
        rates.setdefault(f[0], []).append((float(f[11]), float(f[12])))  # GFLOP/s of java, of cpu
    if len(f) > 3 and f[1] == "fma-peak":
        peak[f[0]] = float(f[3])
print(f"| threads | java / cpu rate, paired (median per JVM) | FMA peak GFLOP/s | java, cpu of the peak (paired medians) | JMH cpu ms | JMH java ms | JMH java / cpu rate |")
print("| --- | --- | --- | --- | --- | --- | --- |")
rows = []
for t in sorted({k.split("=")[1] for k in pairs} | {f[5:-4] for f in os.listdir(out) if f.startswith("jmh-t") and f.endswith(".csv")}):
    jmh = {}
    path = os.path.join(out, f"jmh-t{t}.csv")
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            jmh[r["Param: backend"]] = (float(r["Score"]), float(r["Score Error (99.9%)"]))
    p = pairs.get(f"threads={t}", [])
    cells = ", ".join(f"{x:.3f}" for x in p) or "-"
    cpu, java = jmh.get("cpu"), jmh.get("java")
    ratio = f"{cpu[0] / java[0]:.3f}" if cpu and java else "-"
    top = peak.get(f"threads={t}")
    share = ", ".join(f"{a / top:.2f} / {b / top:.2f}" for a, b in rates.get(f"threads={t}", [])) if top else "-"
    print(f"| {t} | {cells} | {top or '-'} | {share} | {cpu[0] if cpu else '-'} | {java[0] if java else '-'} | {ratio} |")
    for name, (score, err) in jmh.items():
        cmd = os.environ["RUN_COMMAND"]
        rows.append([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], cmd, t, name,
                     "SimilarityBench.gemm A.B^T", f"N={n}, D={d}", f"{score / 1000:.6f}", "", "", os.environ["RUN_RAW"],
                     f"ms/op {score:.3f} +- {err:.3f}; {flops / score / 1e6:.1f} GFLOP/s; paired java/cpu rate medians {cells}"])
with open(dest, "a", newline="") as fh:
    csv.writer(fh).writerows(rows)
PY
