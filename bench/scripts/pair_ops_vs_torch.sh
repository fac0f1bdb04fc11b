#!/usr/bin/env bash
# Triplet margin loss (forward+backward) and hard-negative mining (top-K non-positive keys per
# query), jnce `cpu` and `java` against PyTorch, same thread count, each in a fresh process, best
# of 3, with the peak resident memory added by the step (PairOpsProbe, torch_pair_ops.py).
#
#   bench/scripts/pair_ops_vs_torch.sh [threads]     shapes: triplet 65536x256, mining 8192 (K = 64)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
source bench/scripts/side_by_side.sh
side_by_side_setup pair-ops "$threads"
{
    echo "$header"
    for spec in "triplet 65536 256" "mining 8192 64"; do
        read -r form n d <<< "$spec"
        for backend in cpu java; do "${java[@]}" dev.jnce.bench.PairOpsProbe "$backend" "$form" "$n" "$d" 3 2>/dev/null; done
        (cd bench/scripts && /usr/bin/python3 torch_pair_ops.py "$form" "$n" "$d" 3)
    done
} | tee "$out/raw.txt"
/usr/bin/python3 - "$out/raw.txt" <<'PY' | tee "$out/summary.txt"
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "jnce":
        rows[(f[1], f[2])] = (float(f[5]), int(f[6]) >> 20, f[3], f[4])
    elif f and f[0] == "torch":
        rows[("torch", f[1])] = (float(f[4]), int(f[5]) >> 20, f[2], f[3])
print(f"{'op':<8} {'N':>6} {'D/K':>4} {'backend':<7} {'jnce s':>8} {'torch s':>8} {'speed-up':>9} {'peak MiB':>9} {'torch MiB':>10}")
for form in ("triplet", "mining"):
    t = rows.get(("torch", form))
    for b in ("cpu", "java"):
        j = rows.get((b, form))
        if j and t:
            print(f"{form:<8} {j[2]:>6} {j[3]:>4} {b:<7} {j[0]:8.3f} {t[0]:8.3f} {t[0] / j[0]:8.2f}x {j[1]:9d} {t[1]:10d}")
PY
echo "# raw: $out/"
