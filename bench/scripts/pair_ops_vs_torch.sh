#!/usr/bin/env bash
# Triplet margin loss (forward+backward) and hard-negative mining (top-K non-positive keys per
# query), jnce `cpu` and `java` against PyTorch, same thread count, each in a fresh process, best
# of 3, with the peak resident memory added by the step (PairOpsProbe, torch_pair_ops.py). The
# raw log and the table go to bench/results/raw/pair-ops-<date>/, one row per measurement to
# bench/results/pair_ops.csv.
#
#   bench/scripts/pair_ops_vs_torch.sh [threads]     shapes: triplet 65536x256, mining 8192 (K = 64)
set -euo pipefail
command="bench/scripts/pair_ops_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
source bench/scripts/side_by_side.sh
side_by_side_setup pair-ops "$threads" "$command"
{
    echo "$header"
    for spec in "triplet 65536 256" "mining 8192 64"; do
        read -r form n d <<< "$spec"
        for backend in cpu java; do "${java[@]}" dev.jnce.bench.PairOpsProbe "$backend" "$form" "$n" "$d" 3 2>/dev/null; done
        (cd bench/scripts && /usr/bin/python3 torch_pair_ops.py "$form" "$n" "$d" 3)
    done
} | tee "$out/raw.txt"
/usr/bin/python3 bench/scripts/summarize.py pair_ops --csv bench/results/pair_ops.csv "$out/raw.txt" | tee "$out/summary.txt"
echo "# raw: $out/; rows appended to bench/results/pair_ops.csv"
