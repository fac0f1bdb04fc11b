#!/usr/bin/env bash
# Small calls, `java` against `cpu`, in alternating windows of one JVM (SmallPairProbe): every
# loss family of SmallCallBench (forward+backward at 32 rows of 128) into the caller's buffers
# and allocating its results. Within a JVM the two backends take turns, so that both see the
# same state of this shared machine; the ratio is the median over the pairs of windows.
# Raw output goes to bench/results/raw/small-backends-<date>/, one row per case to
# bench/results/small_backends.csv, and a table is printed.
#
#   bench/scripts/small_backends.sh [threads]        default 2 threads
#   PAIRS=10 FORMS="into" LOSSES="infonce sampled_softmax" bench/scripts/small_backends.sh   (subsets)
set -euo pipefail
command="bench/scripts/small_backends.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
pairs=${PAIRS:-10}
read -r -a forms <<< "${FORMS:-into allocating}"
read -r -a losses <<< "${LOSSES:-ce nll bce bce_logits kl_div sigmoid_focal softmax_focal infonce ntxent clip siglip triplet entropy onetensor bpr sampled_softmax}"
source bench/scripts/side_by_side.sh
side_by_side_setup small-backends "$threads" "$command"
echo "$header, commit $RUN_COMMIT" | tee "$out/raw.txt"
echo "# per case: one JVM of: ${java[*]} dev.jnce.bench.SmallPairProbe java cpu FORM LOSS $pairs" | tee -a "$out/raw.txt"
for form in "${forms[@]}"; do
    for loss in "${losses[@]}"; do
        log="$out/$form-$loss.txt"
        "${java[@]}" dev.jnce.bench.SmallPairProbe java cpu "$form" "$loss" "$pairs" > "$log" 2>&1
        grep '^small ' "$log" | tee -a "$out/raw.txt"
    done
done
/usr/bin/python3 - "$out" bench/results/small_backends.csv <<'PY' | tee "$out/summary.txt"
import csv, os, sys
out, dest = sys.argv[1], sys.argv[2]
rows = [l.split() for l in open(os.path.join(out, "raw.txt")) if l.startswith("small ")]
new = not os.path.exists(dest)
with open(dest, "a", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "loss", "form", "a", "b", "a_us", "b_us",
                    "a_over_b_median", "a_over_b_min", "a_over_b_max", "command", "raw"])
    for f in rows:
        w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"]]
                   + f[1:5] + f[5:10] + [os.environ["RUN_COMMAND"], os.environ["RUN_RAW"]])
print("| loss | form | java µs | cpu µs | java / cpu (median of pairs) | min - max |")
print("| --- | --- | --- | --- | --- | --- |")
for f in rows:
    print("| %s | %s | %.1f | %.1f | **%.2f** | %.2f - %.2f |" % (f[1], f[2], float(f[5]), float(f[6]), float(f[7]), float(f[8]), float(f[9])))
PY
echo "# raw: $out/; rows appended to bench/results/small_backends.csv"
