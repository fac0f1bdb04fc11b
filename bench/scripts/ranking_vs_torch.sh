#!/usr/bin/env bash
# Evaluation metrics at scale, each side in a fresh process, same thread count:
#  * the fused top-k of ranking metrics (dev.jnce.metrics.TopK.fromEmbeddings: row blocks of
#    queries (N,D) · items (M,D)ᵀ, 20 excluded items per query, top K) against the same blocks'
#    GEMMs alone (in the same JVM: the floor) and against PyTorch (the same blocks, scatter of
#    -inf over the excluded items, topk);
#  * ROC-AUC of N scores (dev.jnce.metrics.BinaryScores) against scikit-learn's roc_auc_score.
# RankingProbe and torch_ranking.py; the ratios are printed, the raw log and the table go to
# bench/results/raw/ranking-<date>/, one row per jnce measurement to bench/results/ranking.csv.
#
#   bench/scripts/ranking_vs_torch.sh [threads] [N M D K] [AUC_N]
#   full size:  bench/scripts/ranking_vs_torch.sh 2 65536 100000 128 10 10000000
#   quick:      bench/scripts/ranking_vs_torch.sh 2 4096 20000 128 10 1000000
set -euo pipefail
command="bench/scripts/ranking_vs_torch.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
threads=${1:-2} n=${2:-65536} m=${3:-100000} d=${4:-128} k=${5:-10} auc_n=${6:-10000000}
reps=${REPS:-3}
source bench/scripts/side_by_side.sh
side_by_side_setup ranking "$threads" "$command"
{
    echo "$header"
    for backend in cpu java; do
        "${java[@]}" dev.jnce.bench.RankingProbe "$backend" topk "$n" "$m" "$d" "$k" "$reps" 2>/dev/null
    done
    rows=$(( 16777216 / m < n ? 16777216 / m : n )); rows=$(( rows < 1 ? 1 : rows ))   # TopK's default block: 64 MiB of scores
    /usr/bin/python3 bench/scripts/torch_ranking.py topk "$n" "$m" "$d" "$k" "$reps" "$rows"
    "${java[@]}" dev.jnce.bench.RankingProbe cpu auc "$auc_n" "$reps" 2>/dev/null
    /usr/bin/python3 bench/scripts/torch_ranking.py auc "$auc_n" "$reps"
} | tee "$out/raw.txt"
/usr/bin/python3 bench/scripts/summarize.py ranking --csv bench/results/ranking.csv "$out/raw.txt" | tee "$out/summary.txt"
echo "# raw: $out/; rows appended to bench/results/ranking.csv"
