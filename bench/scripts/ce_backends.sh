#!/usr/bin/env bash
# Softmax cross-entropy, `java` against `cpu`, in alternating windows of one JVM
# (BackendPairProbe): forward only (allocating the loss) and forward+backward (into buffers),
# plain and with class weights + label smoothing, at (32, 128), (1024, 1024) and (1024, 16384),
# the cases of CrossEntropyBench. Each case runs in JVMS fresh JVMs; within a JVM the two
# backends take turns, so that both see the same state of this shared machine, and the ratio is
# the median over the pairs of windows. The run ends with the placement check: (32, 128)
# weights + smoothing forward only, one thread, pinned with taskset to each CPU in turn, to show
# how far one CPU's speed differs from the other's at that minute.
# Raw output goes to bench/results/raw/ce-backends-<date>/, one row per JVM and case to
# bench/results/ce_backends.csv, and a table is printed.
#
#   bench/scripts/ce_backends.sh [threads]        default 2 threads
#   JVMS=3 PAIRS=20 SHAPES="32x128 1024x16384" MODES=forward OPTIONS=weighted_smoothed PLACEMENT=0 \
#       bench/scripts/ce_backends.sh             (subsets)
set -euo pipefail
command="bench/scripts/ce_backends.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
jvms=${JVMS:-3} pairs=${PAIRS:-20}
read -r -a shapes <<< "${SHAPES:-32x128 1024x1024 1024x16384}"
read -r -a modes <<< "${MODES:-forward forwardBackward}"
read -r -a options <<< "${OPTIONS:-plain weighted_smoothed}"
source bench/scripts/side_by_side.sh
side_by_side_setup ce-backends "$threads" "$command"
echo "$header, commit $RUN_COMMIT" | tee "$out/raw.txt"
echo "# per case: $jvms JVMs of: ${java[*]} dev.jnce.bench.BackendPairProbe java cpu MODE N C OPTIONS $pairs" | tee -a "$out/raw.txt"
for mode in "${modes[@]}"; do
    for shape in "${shapes[@]}"; do
        for opt in "${options[@]}"; do
            for j in $(seq "$jvms"); do
                log="$out/$mode-$shape-$opt-$j.txt"
                "${java[@]}" dev.jnce.bench.BackendPairProbe java cpu "$mode" "${shape%x*}" "${shape#*x}" "$opt" "$pairs" \
                    > "$log" 2>&1
                grep '^ce ' "$log" | tee -a "$out/raw.txt"
            done
        done
    done
done
if [ "${PLACEMENT:-1}" = 1 ] && command -v taskset >/dev/null; then
    echo "# placement: one thread, pinned to each CPU in turn, (32, 128) weights + smoothing forward only" | tee -a "$out/raw.txt"
    for round in 1 2; do
        for cpu in $(seq 0 $(($(nproc --all) - 1))); do
            log="$out/placement-cpu$cpu-$round.txt"
            JNCE_NUM_THREADS=1 taskset -c "$cpu" "${java[@]}" dev.jnce.bench.BackendPairProbe java cpu forward 32 128 \
                weighted_smoothed 10 > "$log" 2>&1
            echo "cpu$cpu $(grep '^ce ' "$log")" | tee -a "$out/raw.txt"
        done
    done
fi
/usr/bin/python3 - "$out" bench/results/ce_backends.csv <<'PY' | tee "$out/summary.txt"
import csv, os, statistics, sys
out, dest = sys.argv[1], sys.argv[2]
rows, cases = [], {}
for line in open(os.path.join(out, "raw.txt")):
    f = line.split()
    if len(f) < 12: continue
    placement = f[0] if f[0].startswith("cpu") else ""
    if placement: f = f[1:]
    if f[0] != "ce": continue
    mode, n, c, opt, a, b = f[1:7]
    ta, tb, ratio, lo, hi = map(float, f[7:12])
    rows.append([placement, mode, n, c, opt, a, b, ta, tb, ratio, lo, hi])
    if not placement: cases.setdefault((mode, n, c, opt), []).append((ta, tb, ratio))
new = not os.path.exists(dest)
with open(dest, "a", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "pinned_cpu", "mode", "n", "c", "options", "a", "b",
                    "a_us", "b_us", "a_over_b_median", "a_over_b_min", "a_over_b_max", "command", "raw"])
    for r in rows:
        w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"]]
                   + r[:7] + ["%.3f" % v for v in r[7:]] + [os.environ["RUN_COMMAND"], os.environ["RUN_RAW"]])
print("| mode | shape | options | java µs (per JVM) | cpu µs (per JVM) | java / cpu per JVM (median of pairs) | median |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (mode, n, c, opt), v in cases.items():
    print("| %s | (%s, %s) | %s | %s | %s | %s | **%.2f** |" % (
        mode, n, c, opt, " / ".join("%.4g" % x[0] for x in v), " / ".join("%.4g" % x[1] for x in v),
        " / ".join("%.2f" % x[2] for x in v), statistics.median(x[2] for x in v)))
pinned = [r for r in rows if r[0]]
if pinned:
    print()
    print("| pinned to | java µs | cpu µs | java / cpu |")
    print("| --- | --- | --- | --- |")
    for r in pinned:
        print("| %s | %.3f | %.3f | %.2f |" % (r[0], r[7], r[8], r[9]))
PY
