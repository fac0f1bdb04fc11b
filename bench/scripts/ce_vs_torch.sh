#!/usr/bin/env bash
# Softmax cross-entropy forward+backward, jnce (JMH, every CPU backend) against PyTorch on the
# same shapes in one run, with the same thread count; prints GB/s effective (12 bytes per
# logit) and the ratio jnce/PyTorch. The raw logs (jmh.json, jmh.log, torch.txt, machine.txt)
# and the table go to bench/results/raw/ce-<date>/, one row per measurement to
# bench/results/ce.csv.
#
#   bench/scripts/ce_vs_torch.sh [threads] [shape ...]      default: 2 threads, 8192x32000 32x128
#
# Both options of CrossEntropyBench run: plain, and weighted_smoothed (class weights + label
# smoothing 0.1).
#
# Needs Debian's python3-torch (installed here with apt-get when running as root) and the
# built benchmarks jar (built here if missing).
set -euo pipefail
command="bench/scripts/ce_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(8192x32000 32x128)
source bench/scripts/side_by_side.sh
side_by_side_setup ce "$threads" "$command"
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "PyTorch is missing: sudo apt-get install python3-torch libopenblas0-pthread" >&2; exit 1
fi

echo "$header, $(free -g | awk '/Mem:/ {print $2}') GiB, $("$java_home/bin/java" -version 2>&1 | head -1)" | tee "$out/machine.txt"
shape_list=$(IFS=,; echo "${shapes[*]}")
"$java_home/bin/java" --sun-misc-unsafe-memory-access=allow -jar bench/target/benchmarks.jar 'CrossEntropyBench.forwardBackward' \
    -p backend=cpu,java -p shape="$shape_list" -rf json -rff "$out/jmh.json" > "$out/jmh.log"
for opt in plain weighted_smoothed; do
    /usr/bin/python3 bench/scripts/torch_ce.py --options "$opt" "${shapes[@]}"
done > "$out/torch.txt"
/usr/bin/python3 bench/scripts/summarize.py ce --csv bench/results/ce.csv "$out/jmh.json" "$out/torch.txt" | tee "$out/summary.txt"
echo "# raw logs: $out/ (jmh.log, jmh.json, torch.txt); rows appended to bench/results/ce.csv"
