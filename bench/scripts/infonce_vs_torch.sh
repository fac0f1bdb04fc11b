#!/usr/bin/env bash
# InfoNCE forward+backward (cosine, tau 0.07) in its matrix forms: two towers with in-batch
# negatives (infonce), one tensor (onetensor, the notes' info_nce_loss), SimCLR's NT-Xent
# (ntxent, N views), supervised contrastive (supcon, one tensor, 8 rows a label) and two towers
# with several positives by labels (labels, 8 keys a query), CLIP's symmetric loss (clip) and
# SigLIP's pairwise sigmoid loss (siglip); the last three run when FORMS names them. jnce
# against the BLAS calls it needs (three GEMMs for two towers; SYRK + one GEMM for the symmetric
# one-tensor forms) and against PyTorch written as the notes write it (normalize + matmul +
# cross_entropy + backward; SupCon as log_softmax and a masked mean), same thread count, each in
# a fresh process, best of 3 (the java backend's first call or two run before the JIT is done);
# peak resident memory added by the step. PyTorch runs on Debian's OpenBLAS
# (installed here when missing and root); its '#' line names the BLAS it loaded.
#
#   bench/scripts/infonce_vs_torch.sh [threads] [NxD ...]     default: 2 threads, 8192x256 16384x128
#   FORMS="infonce ntxent" bench/scripts/infonce_vs_torch.sh  (default: all four)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(8192x256 16384x128)
read -r -a forms <<< "${FORMS:-infonce onetensor ntxent supcon}"
source bench/scripts/side_by_side.sh
side_by_side_setup infonce "$threads"
{
    echo "$header"
    for s in "${shapes[@]}"; do
        n=${s%x*}; d=${s#*x}
        for form in "${forms[@]}"; do
            "${java[@]}" dev.jnce.bench.InfoNceProbe cpu "$n" "$d" 3 "$form" 2>/dev/null
            "${java[@]}" dev.jnce.bench.InfoNceProbe java "$n" "$d" 3 "$form" 2>/dev/null
            /usr/bin/python3 bench/scripts/torch_infonce.py "$n" "$d" 3 "$form"
        done
    done
} | tee "$out/raw.txt"
/usr/bin/python3 - "$out/raw.txt" <<'PY' | tee "$out/summary.txt"
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if not f or f[0].startswith("#"):
        continue
    if f[0] == "jnce":
        rows[(f[1], f[2], f[3], f[4])] = f[5:]
    elif f[0] == "torch":
        rows[("torch", f[1], f[2], f[3])] = f[4:]
cases = sorted({(k[1], k[2], k[3]) for k in rows if not k[1].endswith("-blas")},
               key=lambda c: (int(c[1]), int(c[2]), ["infonce", "onetensor", "ntxent", "supcon", "labels", "clip", "siglip", "negatives"].index(c[0])))
print(f"{'N':>6} {'D':>4} {'form':<9} {'backend':<7} {'jnce s':>8} {'BLAS s':>8} {'/BLAS':>6} {'torch s':>8} {'speed-up':>9} {'peak MiB':>9} {'torch MiB':>10}")
for form, n, d in cases:
    t = rows.get(("torch", form, n, d))
    for b in ("cpu", "java"):
        r = rows.get((b, form, n, d))
        g = rows.get((b, form + "-blas", n, d))
        if not r or not t:
            continue
        s = float(r[0])
        print(f"{n:>6} {d:>4} {form:<9} {b:<7} {s:>8.3f} {float(g[0]):>8.3f} {s / float(g[0]):>6.2f} "
              f"{float(t[0]):>8.3f} {float(t[0]) / s:>8.2f}x {int(r[1]) / 2**20:>9.0f} {int(t[1]) / 2**20:>10.0f}")
PY
echo "# raw: $out/"
