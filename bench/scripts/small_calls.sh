#!/usr/bin/env bash
# Small calls: every loss family's forward+backward at (32, 128) (SmallCallBench, JMH), in the
# form that returns new tensors and the form that writes into the caller's, with small tensors in
# shared slabs (the default) and without (-Djnce.tensor.slabs=false: an arena per tensor), in one
# run, and the limits under the allocating form beside them (SlabCostBench: a slab of 4 MiB made and
# closed, its hand-shake and zeroing alone, BPR's results; rows with loss "limit"). The raw JMH logs
# go to bench/results/raw/small-calls-<date>/, one row per case to bench/results/small_calls.csv,
# and a table is printed.
#
#   bench/scripts/small_calls.sh [threads] [backend]      default 2 threads, cpu
set -euo pipefail
command="bench/scripts/small_calls.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
backend=${2:-cpu}
source bench/scripts/side_by_side.sh
side_by_side_setup small-calls "$threads" "$command"
# -jvmArgsAppend replaces the flags of OpBench's @Fork, so they are given again here: without them the
# forks ran without the Vector API (the argument scans took their scalar path) and warned about native access.
fork_flags="--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector"
for slabs in true false; do
    "$java_home/bin/java" -jar bench/target/benchmarks.jar SmallCallBench -p backend="$backend" -wi 4 -w 1 -i 3 -r 1 -f 1 \
        -jvmArgsAppend "$fork_flags -Djnce.tensor.slabs=$slabs -Djnce.threads=$threads" -rf csv -rff "$out/slabs-$slabs.csv" \
        > "$out/slabs-$slabs.txt" 2>&1
done
# the limits beside them (SlabCostBench): a 4 MiB slab made and closed, its hand-shake and its
# zeroing alone, and BPR's four results (96 KiB) made and closed
"$java_home/bin/java" -jar bench/target/benchmarks.jar SlabCostBench -wi 3 -w 1 -i 3 -r 1 -f 1 \
    -jvmArgsAppend "$fork_flags -Djnce.threads=$threads" -rf csv -rff "$out/limits.csv" > "$out/limits.txt" 2>&1
BACKEND=$backend /usr/bin/python3 - "$out" bench/results/small_calls.csv <<'PY' | tee "$out/summary.txt"
import csv, os, sys
out, dest = sys.argv[1], sys.argv[2]
score = {}
for slabs in ("true", "false"):
    for r in csv.DictReader(open(os.path.join(out, "slabs-%s.csv" % slabs))):
        score[(r["Param: loss"], r["Benchmark"].rsplit(".", 1)[1], slabs)] = float(r["Score"])
losses = []
for (loss, _, _) in score:
    if loss not in losses: losses.append(loss)
new = not os.path.exists(dest)
with open(dest, "a", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "backend", "loss", "form", "slabs", "us_per_call", "command", "raw"])
    print("| loss | allocating, arena per tensor | allocating, slabs | into buffers |")
    print("| --- | --- | --- | --- |")
    for loss in losses:
        for (l, form, slabs), us in score.items():
            if l == loss:
                w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"],
                            os.environ.get("BACKEND", ""), loss, form, slabs, "%.3f" % us, os.environ["RUN_COMMAND"], os.environ["RUN_RAW"]])
        into = score.get((loss, "into", "true"))
        print("| %s | %.1f µs | %.1f µs | %s |" % (loss, score[(loss, "allocating", "false")], score[(loss, "allocating", "true")],
                                                 "-" if into is None else "%.1f µs" % into))
    limits = os.path.join(out, "limits.csv")
    if os.path.exists(limits):
        seen = []
        for r in csv.DictReader(open(limits)):
            name, us = r["Benchmark"].rsplit(".", 1)[1], float(r["Score"])
            w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"],
                        os.environ.get("BACKEND", ""), "limit", name, "true", "%.3f" % us, os.environ["RUN_COMMAND"],
                        os.environ["RUN_RAW"]])
            seen.append("%s %.1f µs" % (name, us))
        print("limits (SlabCostBench): " + ", ".join(seen))
PY
echo "# raw: $out/; rows appended to bench/results/small_calls.csv"
