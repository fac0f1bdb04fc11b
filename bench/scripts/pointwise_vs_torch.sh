#!/usr/bin/env bash
# The element-wise losses (BCE, BCE with logits, sigmoid focal, KL divergence, entropy) and the
# softmax focal loss, forward+backward at (N, C), jnce `cpu` and `java` (PointwiseProbe, into the caller's buffers)
# against PyTorch (torch_pointwise.py, fresh gradients as its autograd makes them), same thread
# count, each in a fresh process, best of REPS; with the machine's limit measured in jnce's
# process: copying the bytes the op moves (inputs read, gradients written). Raw log and table go
# to bench/results/raw/pointwise-<date>/, one row per op and backend to bench/results/pointwise.csv.
#
#   [OPS="bce ..."] bench/scripts/pointwise_vs_torch.sh [threads] [N] [C] [reps]     default 2 8192 4096 10
set -euo pipefail
command="${OPS:+OPS=\"$OPS\" }bench/scripts/pointwise_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2} n=${2:-8192} c=${3:-4096} reps=${4:-10}
source bench/scripts/side_by_side.sh
side_by_side_setup pointwise "$threads" "$command"
{
    echo "$header"
    for op in ${OPS:-bce bce_logits sigmoid_focal kl_div entropy softmax_focal}; do
        for backend in cpu java; do "${java[@]}" dev.jnce.bench.PointwiseProbe "$backend" "$op" "$n" "$c" "$reps" 2>/dev/null; done
        (cd bench/scripts && /usr/bin/python3 torch_pointwise.py "$op" "$n" "$c" "$reps")
    done
} | tee "$out/raw.txt"
/usr/bin/python3 - "$out/raw.txt" bench/results/pointwise.csv <<'PY' | tee "$out/summary.txt"
import csv, os, sys
raw, dest = sys.argv[1], sys.argv[2]
jnce, torch = {}, {}
for line in open(raw):
    f = line.split()
    if f and f[0] == "jnce":
        jnce[(f[2], f[1])] = (int(f[3]), int(f[4]), float(f[5]), float(f[6]))
    elif f and f[0] == "torch":
        torch[f[1]] = float(f[4])
new = not os.path.exists(dest)
env = os.environ
with open(dest, "a", newline="") as out:
    w = csv.writer(out, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "backend", "op", "N", "C", "jnce_s", "copy_s",
                    "jnce_over_copy", "torch_s", "speedup_vs_torch", "command", "raw"])
    print("| op | backend | (N, C) | jnce | copy of its bytes | jnce / copy | PyTorch | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (op, backend), (n, c, s, copy) in jnce.items():
        t = torch.get(op, float("nan"))
        w.writerow([env["RUN_DATE"], env["RUN_MACHINE"], env["RUN_COMMIT"], env["RUN_THREADS"], backend, op, n, c,
                    "%.6f" % s, "%.6f" % copy, "%.2f" % (s / copy), "%.6f" % t, "%.2f" % (t / s), env["RUN_COMMAND"], env["RUN_RAW"]])
        print("| %s | `%s` | (%d, %d) | %.1f ms | %.1f ms | %.2f | %.1f ms | %.2fx |" % (op, backend, n, c, s * 1e3, copy * 1e3, s / copy, t * 1e3, t / s))
PY
echo "# raw: $out/; rows appended to bench/results/pointwise.csv"
