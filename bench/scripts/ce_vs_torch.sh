#!/usr/bin/env bash
# Softmax cross-entropy forward+backward, jnce (JMH, every CPU backend) against PyTorch on the
# same shapes in one run, with the same thread count; prints GB/s effective (12 bytes per
# logit) and the ratio jnce/PyTorch.
#
#   bench/scripts/ce_vs_torch.sh [threads] [shape ...]      default: 2 threads, 8192x32000 32x128
#
# Both options of CrossEntropyBench run: plain, and weighted_smoothed (class weights + label
# smoothing 0.1).
#
# Needs Debian's python3-torch (installed here with apt-get when running as root) and the
# built benchmarks jar (built here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(8192x32000 32x128)

java_home=$(.mvn/find-jdk.sh)
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
    else
        echo "PyTorch is missing: sudo apt-get install python3-torch" >&2; exit 1
    fi
fi
[ -f bench/target/benchmarks.jar ] || mvn -B -q -pl bench -am package -DskipTests

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads JNCE_NUM_THREADS=$threads
out=bench/results/ce-$(date -u +%Y%m%d-%H%M)
mkdir -p "$out"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB, threads=$threads, $("$java_home/bin/java" -version 2>&1 | head -1)" | tee "$out/machine.txt"
shape_list=$(IFS=,; echo "${shapes[*]}")
"$java_home/bin/java" --sun-misc-unsafe-memory-access=allow -jar bench/target/benchmarks.jar 'CrossEntropyBench.forwardBackward' \
    -p backend=cpu,java -p shape="$shape_list" -rf json -rff "$out/jmh.json" > "$out/jmh.log"
for opt in plain weighted_smoothed; do
    /usr/bin/python3 bench/scripts/torch_ce.py --options "$opt" "${shapes[@]}"
done > "$out/torch.txt"
/usr/bin/python3 - "$out/jmh.json" "$out/torch.txt" <<'PY' | tee "$out/summary.txt"
import json, sys
jmh = json.load(open(sys.argv[1]))
torch = {}
for line in open(sys.argv[2]):
    if line.startswith("#"):
        print(line.rstrip())
        continue
    f = line.split()
    if len(f) >= 7 and f[0] == "torch":
        torch[(f"{f[2]}x{f[3]}", f[6])] = float(f[4])
print(f"{'backend':<8}{'options':<19}{'shape':<12}{'jnce us':>12}{'GB/s':>8}{'torch us':>12}{'GB/s':>8}{'speed-up':>10}")
for r in jmh:
    p = r["params"]
    n, c = map(int, p["shape"].split("x"))
    assert r["primaryMetric"]["scoreUnit"] == "us/op"
    us = r["primaryMetric"]["score"]
    gbs = 12 * n * c / (us / 1e6) / 1e9
    t = torch.get((p["shape"], p["options"]))
    tus = t * 1e6 if t else float("nan")
    tgbs = 12 * n * c / t / 1e9 if t else float("nan")
    print(f"{p['backend']:<8}{p['options']:<19}{p['shape']:<12}{us:>12.1f}{gbs:>8.2f}{tus:>12.1f}{tgbs:>8.2f}{tus / us:>9.2f}x")
PY
echo "# raw logs: $out/ (jmh.log, jmh.json, torch.txt)"
