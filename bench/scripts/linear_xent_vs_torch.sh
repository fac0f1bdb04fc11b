#!/usr/bin/env bash
# Fused linear cross-entropy forward+backward (LinearCrossEntropy: hidden (N,D), classifier (V,D),
# bias (V), class targets), jnce against the three GEMMs it needs at the same shapes and against
# PyTorch written the usual way (F.linear + F.cross_entropy + backward), same thread count, each in
# a fresh process, best of REPS; peak resident memory added by the step. Prints per shape the
# ratios jnce / GEMMs and PyTorch / jnce, and the same GEMMs run in the loss's row blocks (what
# blocking alone costs on this BLAS: W packed again and dW read and written once a block). The raw log and the table go to
# bench/results/raw/linear-xent-<date>/, one row per shape to bench/results/linear_xent.csv.
#
#   bench/scripts/linear_xent_vs_torch.sh [threads] [NxDxV ...]     default: 2 threads, 4096x1024x32000
#   REPS=1 bench/scripts/linear_xent_vs_torch.sh 2 16384x2048x128000   (the large head; PyTorch skipped)
set -euo pipefail
command="${REPS:+REPS=$REPS }bench/scripts/linear_xent_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(4096x1024x32000)
reps=${REPS:-3}
source bench/scripts/side_by_side.sh
side_by_side_setup linear-xent "$threads" "$command"
{
    echo "$header"
    for s in "${shapes[@]}"; do
        IFS=x read -r n d v <<< "$s"
        "${java[@]}" dev.jnce.bench.LinearXentProbe cpu "$n" "$d" "$v" "$reps" 2>/dev/null
        /usr/bin/python3 bench/scripts/torch_linear_xent.py "$n" "$d" "$v" "$reps"
    done
} | tee "$out/raw.txt"
/usr/bin/python3 - "$out/raw.txt" bench/results/linear_xent.csv <<'PY' | tee "$out/summary.txt"
import csv, os, sys
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 6 and p[0] in ("jnce", "torch"):
        shape = tuple(p[3:6]) if p[0] == "jnce" else tuple(p[2:5])
        key = (p[0], p[2] if p[0] == "jnce" else p[1])
        rows.setdefault(shape, {})[key] = p[6:] if p[0] == "jnce" else p[5:]
new = not os.path.exists(sys.argv[2])
with open(sys.argv[2], "a", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    if new:
        w.writerow(["date", "machine", "commit", "threads", "N", "D", "V", "jnce_s", "jnce_peak_MiB", "gemms_s",
                    "torch_s", "torch_peak_MiB", "jnce_over_gemms", "torch_over_jnce", "command", "raw",
                    "blocked_gemms_s", "jnce_over_blocked_gemms", "jnce_peak_warm_blas_MiB"])
    for shape, r in rows.items():
        j = r.get(("jnce", "linear")); g = r.get(("jnce", "linear-blas")); t = r.get(("torch", "linear"))
        js = float(j[0]); jp = int(j[1]) / 2**20
        gs = float(g[0]) if g else None
        bl = r.get(("jnce", "linear-blas-blocked")); bs = float(bl[0]) if bl else None
        wb = r.get(("jnce", "linear-warm-blas")); wp = int(wb[0]) / 2**20 if wb and int(wb[0]) >= 0 else None
        ts = float(t[0]) if t and t[0] != "skipped" else None
        tp = int(t[1]) / 2**20 if ts else None
        print("N=%s D=%s V=%s: jnce %.3f s (+%.0f MiB; +%s once OpenBLAS's buffers exist), GEMMs %s, the same in blocks %s, PyTorch %s; jnce/GEMMs %s, "
              "jnce/blocked GEMMs %s, PyTorch/jnce %s" % (
            *shape, js, jp, "%.0f MiB" % wp if wp is not None else "n/a", "%.3f s" % gs if gs else "n/a", "%.3f s" % bs if bs else "n/a",
            "%.3f s (+%.0f MiB)" % (ts, tp) if ts else "skipped",
            "%.3f" % (js / gs) if gs else "n/a", "%.3f" % (js / bs) if bs else "n/a", "%.2f" % (ts / js) if ts else "n/a"))
        w.writerow([os.environ["RUN_DATE"], os.environ["RUN_MACHINE"], os.environ["RUN_COMMIT"], os.environ["RUN_THREADS"],
                    *shape, "%.6f" % js, "%.0f" % jp, "%.6f" % gs if gs else "", "%.6f" % ts if ts else "",
                    "%.0f" % tp if tp else "", "%.4f" % (js / gs) if gs else "", "%.4f" % (ts / js) if ts else "",
                    os.environ["RUN_COMMAND"], os.environ["RUN_RAW"],
                    "%.6f" % bs if bs else "", "%.4f" % (js / bs) if bs else "", "%.0f" % wp if wp is not None else ""])
PY
echo "# raw: $out/; rows appended to bench/results/linear_xent.csv"
