#!/usr/bin/env bash
# InfoNCE forward+backward (cosine, tau 0.07) in its matrix forms: two towers with in-batch
# negatives (infonce), one tensor with logits f fᵀ (onetensor), SimCLR's NT-Xent (ntxent, N
# views), supervised contrastive (supcon, one tensor, 8 rows a label) and two towers with several
# positives by labels (labels, 8 keys a query), CLIP's symmetric loss (clip), SigLIP's pairwise
# sigmoid loss (siglip) and explicit negatives (negatives, K = 64 a query); the last four run when
# FORMS names them. jnce against the BLAS calls it needs (three GEMMs for two towers; SYRK + one
# GEMM for the symmetric one-tensor forms) and against PyTorch written the usual way (normalize +
# matmul + cross_entropy + backward; SupCon as log_softmax and a masked mean), same thread count,
# each in a fresh process, best of 3 after 2 untimed steps on jnce's side and on its BLAS calls'
# (the first steps fault in the workspace and OpenBLAS's buffers, and the java backend's run
# before the JIT is done), then the step and its BLAS calls in 7 pairs back to back (the median
# of the pairs' ratios, the "paired" column: both sides of a pair see the machine in the same
# state, where the best-of figures are taken a minute apart); the least memory traffic of the
# step's passes over the N×N logits, timed beside it (the "limit" column: (BLAS + traffic) / BLAS,
# the step's floor on this machine); peak resident memory added by the step. PyTorch runs on Debian's OpenBLAS (installed
# here when missing and root); its '#' line names the BLAS it loaded. The raw log and the table
# go to bench/results/raw/infonce-<date>/, one row per measurement to bench/results/infonce.csv.
#
#   bench/scripts/infonce_vs_torch.sh [threads] [NxD ...]     default: 2 threads, 8192x256 16384x128
#   FORMS="infonce ntxent" bench/scripts/infonce_vs_torch.sh  (default: all four)
set -euo pipefail
command="${FORMS:+FORMS='$FORMS' }bench/scripts/infonce_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(8192x256 16384x128)
read -r -a forms <<< "${FORMS:-infonce onetensor ntxent supcon}"
source bench/scripts/side_by_side.sh
side_by_side_setup infonce "$threads" "$command"
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
/usr/bin/python3 bench/scripts/summarize.py infonce --csv bench/results/infonce.csv "$out/raw.txt" | tee "$out/summary.txt"
echo "# raw: $out/; rows appended to bench/results/infonce.csv"
