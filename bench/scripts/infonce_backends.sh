#!/usr/bin/env bash
# The InfoNCE family, `java` against `cpu`, in turns within one JVM (InfoNceBackendPairProbe):
# one step (forward and backward, allocating its results) on each backend in turn, A B then B A,
# so that both see the same state of this shared machine; the ratio is the median over the
# pairs. Each case runs in JVMS fresh JVMs. Raw output goes to
# bench/results/raw/infonce-backends-<date>/, one row per JVM and case to
# bench/results/infonce_backends.csv, and a table is printed.
#
#   bench/scripts/infonce_backends.sh [threads]        default 2 threads
#   JVMS=1 PAIRS=9 FORMS="onetensor clip" SHAPES="16384x128" bench/scripts/infonce_backends.sh   (subsets)
set -euo pipefail
command="bench/scripts/infonce_backends.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
jvms=${JVMS:-1} pairs=${PAIRS:-9}
read -r -a forms <<< "${FORMS:-infonce onetensor ntxent supcon clip siglip}"
read -r -a shapes <<< "${SHAPES:-8192x256 16384x128}"
source bench/scripts/side_by_side.sh
side_by_side_setup infonce-backends "$threads" "$command"
echo "$header, commit $RUN_COMMIT" | tee "$out/raw.txt"
echo "# per case: $jvms JVMs of: ${java[*]} dev.jnce.bench.InfoNceBackendPairProbe java cpu FORM N D $pairs" | tee -a "$out/raw.txt"
for shape in "${shapes[@]}"; do
    for form in "${forms[@]}"; do
        for j in $(seq "$jvms"); do
            log="$out/$form-$shape-$j.txt"
            "${java[@]}" dev.jnce.bench.InfoNceBackendPairProbe java cpu "$form" "${shape%x*}" "${shape#*x}" "$pairs" > "$log" 2>&1
            grep '^infonce-backends ' "$log" | tee -a "$out/raw.txt"
        done
    done
done
/usr/bin/python3 - "$out" bench/results/infonce_backends.csv <<'PY' | tee "$out/summary.txt"
import csv, os, statistics, sys
out, dest = sys.argv[1], sys.argv[2]
rows, cases = [], {}
for line in open(os.path.join(out, "raw.txt")):
    f = line.split()
    if len(f) < 11 or f[0] != "infonce-backends": continue
    form, n, d, a, b = f[1:6]
    ta, tb, ratio, lo, hi = map(float, f[6:11])
    rows.append([form, n, d, a, b, ta, tb, ratio, lo, hi])
    cases.setdefault((form, n, d), []).append((ta, tb, ratio, lo, hi))
new = not os.path.exists(dest)
with open(dest, "a", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "form", "n", "d", "a", "b", "a_s", "b_s",
                    "a_over_b_median", "a_over_b_min", "a_over_b_max", "command", "raw"])
    for r in rows:
        w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"]]
                   + r[:5] + ["%.4f" % v for v in r[5:]] + [os.environ["RUN_COMMAND"], os.environ["RUN_RAW"]])
print("| form | N×D | java s (median, per JVM) | cpu s | java / cpu (median of pairs; min-max) |")
print("| --- | --- | --- | --- | --- |")
for (form, n, d), v in cases.items():
    print("| %s | %s×%s | %s | %s | **%s** (%s) |" % (
        form, n, d, " / ".join("%.3f" % x[0] for x in v), " / ".join("%.3f" % x[1] for x in v),
        " / ".join("%.2f" % x[2] for x in v), "; ".join("%.2f-%.2f" % (x[3], x[4]) for x in v)))
PY
