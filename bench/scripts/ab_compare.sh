#!/usr/bin/env bash
# A/B check that a change made nothing slower: the same probes from two benchmark jars (BEFORE,
# AFTER), interleaved in one run on one machine, so that machine noise hits both alike.
#   - softmax cross-entropy forward+backward (JMH CrossEntropyBench.forwardBackward, plain and
#     weighted+smoothed, (8192, 32000) and (32, 128)), cpu and java backends;
#   - InfoNCE-family forms (InfoNceProbe, best of 3 in a fresh JVM each), cpu and java backends.
# Prints per case the time before, after and after/before.
#
#   bench/scripts/ab_compare.sh BEFORE.jar AFTER.jar [threads]
#   FORMS="infonce onetensor" SHAPES="8192x256" CE_SHAPES= BACKENDS=cpu ROUNDS=3 REPS=5 \
#       bench/scripts/ab_compare.sh ...   (subsets; ROUNDS repeats each before/after pair, the
#       best of all rounds counts; REPS is InfoNceProbe's best-of count per process)
#
# Build a jar of an older commit with: git worktree add /tmp/before COMMIT &&
#   (cd /tmp/before && mvn -B -q -DskipTests package) -> /tmp/before/bench/target/benchmarks.jar
# Run it on an idle machine. Raw logs: bench/results/raw/ab-<UTC date>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
before=$1 after=$2 threads=${3:-2}
read -r -a forms <<< "${FORMS:-infonce onetensor ntxent supcon labels clip siglip negatives}"
read -r -a shapes <<< "${SHAPES:-8192x256 16384x128}"
read -r -a ce_shapes <<< "${CE_SHAPES-8192x32000 32x128}"
read -r -a backends <<< "${BACKENDS:-cpu java}"
rounds=${ROUNDS:-1} reps=${REPS:-3}
java_home=$(.mvn/find-jdk.sh)
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads JNCE_NUM_THREADS=$threads
source bench/scripts/side_by_side.sh
results_run ab "$threads" "$(printf '%q ' FORMS="${forms[*]}" SHAPES="${shapes[*]}" CE_SHAPES="${ce_shapes[*]}" BACKENDS="${backends[*]}" ROUNDS=$rounds REPS=$reps bench/scripts/ab_compare.sh "$@")"
java=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector --sun-misc-unsafe-memory-access=allow)
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads=$threads"
    echo "# before: $before ($(unzip -p "$before" META-INF/MANIFEST.MF 2>/dev/null | grep -i implementation-version | tr -d '\r' || true))"
    echo "# after:  $after, commit $RUN_COMMIT"
} | tee "$out/raw.txt"
for b in "${backends[@]}"; do
    for s in "${ce_shapes[@]}"; do
        for side in $(for r in $(seq "$rounds"); do echo before after; done); do
            jar=$before; [ "$side" = after ] && jar=$after
            "${java[@]}" -jar "$jar" 'CrossEntropyBench.forwardBackward' -p backend=$b -p shape="$s" \
                -wi 3 -i 5 -w 1 -r 1 -f 1 -rf json -rff "$out/ce-$side-$b-$s.json" > "$out/ce-$side-$b-$s.log" 2>&1
            /usr/bin/python3 - "$out/ce-$side-$b-$s.json" "$side" <<'PY' | tee -a "$out/raw.txt"
import json, sys
for r in json.load(open(sys.argv[1])):
    p = r["params"]
    print(f"ce {sys.argv[2]} {p['backend']} {p['options']} {p['shape']} {r['primaryMetric']['score'] / 1e6:.9f}")
PY
        done
    done
done
for s in "${shapes[@]}"; do
    n=${s%x*}; d=${s#*x}
    for form in "${forms[@]}"; do
        for b in "${backends[@]}"; do
            for side in $(for r in $(seq "$rounds"); do echo before after; done); do
                jar=$before; [ "$side" = after ] && jar=$after
                "${java[@]}" -cp "$jar" dev.jnce.bench.InfoNceProbe "$b" "$n" "$d" "$reps" "$form" 2>/dev/null \
                    | awk -v side="$side" '$1 == "jnce" && $3 !~ /-(blas|traffic)$/ {print "infonce", side, $2, $3, $4 "x" $5, $6}' | tee -a "$out/raw.txt"
            done
        done
    done
done
/usr/bin/python3 - "$out/raw.txt" bench/results/ab.csv <<'PY' | tee "$out/summary.txt"
import csv, os, sys
t = {}
for line in open(sys.argv[1]):
    f = line.split()
    if not f or f[0].startswith("#"):
        continue
    kind, side, backend, what, shape, secs = f[0], f[1], f[2], f[3], f[4], float(f[5])
    v = t.setdefault((kind, backend, what, shape), {})
    v[side] = min(v.get(side, secs), secs)   # best over the rounds
print(f"{'op':<8}{'backend':<8}{'case':<19}{'shape':<12}{'before s':>12}{'after s':>12}{'after/before':>14}")
new = not os.path.exists(sys.argv[2])
with open(sys.argv[2], "a", newline="") as f:
    w = csv.writer(f)
    if new:
        w.writerow(["date", "machine", "commit", "command", "threads", "op", "backend", "case", "shape",
                    "before_s", "after_s", "after_over_before", "raw_log"])
    for (kind, backend, what, shape), v in t.items():
        if "before" in v and "after" in v:
            r = v["after"] / v["before"]
            print(f"{kind:<8}{backend:<8}{what:<19}{shape:<12}{v['before']:>12.6g}{v['after']:>12.6g}{r:>13.3f}x")
            w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_COMMAND"],
                        os.environ["RUN_THREADS"], kind, backend, what, shape, f"{v['before']:.6g}", f"{v['after']:.6g}",
                        f"{r:.3f}", os.environ["RUN_RAW"]])
PY
echo "# raw: $out/"
