#!/usr/bin/env bash
# Scaled dot-product attention forward+backward, jnce (cpu: native tiles; java) against PyTorch
# written out (its 1.13 has no fused SDPA) in one run, same threads, each in a fresh process, best
# of REPS, with the bound the machine's sgemm rate sets (measured in jnce's process: 7 products of
# 2·L²·d flops a batch-head, halved by a causal mask) and the peak memory each adds. The raw log
# goes to bench/results/raw/sdpa-<date>/, one row per implementation to bench/results/sdpa.csv.
#
#   bench/scripts/sdpa_vs_torch.sh [threads] [B H L D] [CAUSAL]   default 2 threads, 1 16 4096 64, 0
#   REPS=3, BACKENDS="cpu java" (default: cpu)
set -euo pipefail
command="${REPS:+REPS=$REPS }${BACKENDS:+BACKENDS=\"$BACKENDS\" }bench/scripts/sdpa_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2}
b=${2:-1} h=${3:-16} l=${4:-4096} d=${5:-64} causal=${6:-0}
reps=${REPS:-3}
source bench/scripts/side_by_side.sh
side_by_side_setup sdpa "$threads" "$command"
{
    echo "$header"
    for backend in ${BACKENDS:-cpu}; do
        "${java[@]}" dev.jnce.bench.AttentionProbe "$backend" "$b" "$h" "$l" "$d" "$reps" "$causal" 2>/dev/null
    done
    /usr/bin/python3 bench/scripts/torch_attention.py "$b" "$h" "$l" "$d" "$reps" "$causal"
} | tee "$out/raw.txt"
[ -f bench/results/sdpa.csv ] ||
    echo "date,machine,commit,command,threads,impl,B,H,L,D,causal,seconds,peak_added_mib,sgemm_gflops,gemm_bound_s,over_bound,torch_over_jnce,raw_log" \
        > bench/results/sdpa.csv
awk -v pre="$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command,$threads" -v causal="$causal" -v raw="$RUN_RAW" '
    $1 == "jnce" && $3 == "sdpa" { t[$2] = $8; p[$2] = $9; dims = $4 "," $5 "," $6 "," $7; order[++n] = $2 }
    $1 == "jnce" && $3 == "sgemm" { rate[$2] = $4; bound[$2] = $5 }
    $1 == "torch" { torch = $7; tpeak = $8; tdims = $3 "," $4 "," $5 "," $6 }
    END {
        for (i = 1; i <= n; i++) { k = order[i]
            printf "%s,jnce %s,%s,%s,%.4f,%.1f,%s,%.4f,%.2f,%s,%s\n", pre, k, dims, causal, t[k], p[k] / 1048576, rate[k], bound[k],
                t[k] / bound[k], torch ? sprintf("%.2f", torch / t[k]) : "", raw }
        if (torch) printf "%s,PyTorch,%s,%s,%.4f,%.1f,,,,,%s\n", pre, tdims, causal, torch, tpeak / 1048576, raw
    }' "$out/raw.txt" | tee -a bench/results/sdpa.csv > "$out/rows.csv"
column -s, -t < <(cut -d, -f6- "$out/rows.csv")
echo "# raw: $out/; rows appended to bench/results/sdpa.csv"
