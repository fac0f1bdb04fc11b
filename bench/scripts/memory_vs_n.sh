#!/usr/bin/env bash
# Peak memory added by one InfoNCE forward+backward step against the batch size N (D fixed), jnce
# (cpu) against PyTorch written the usual way, each point in a fresh process (InfoNceProbe,
# torch_infonce.py: growth of the resident high-water mark over the step), for the forms in FORMS
# (default: infonce, two towers; onetensor; clip). PyTorch runs up to TORCH_MAX_N (default 16384:
# beyond, its N×N buffers outgrow this 24 GiB machine); jnce goes on. One rep per point: memory,
# not time, is measured. The raw log goes to bench/results/raw/memory-<date>/, one row per point
# to bench/results/memory.csv, and the chart to bench/results/memory.png.
#
#   bench/scripts/memory_vs_n.sh [D] [N ...]      default: D=128, N = 2048 4096 8192 16384 32768 65536
set -euo pipefail
command="${FORMS:+FORMS=\"$FORMS\" }bench/scripts/memory_vs_n.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
d=${1:-128}
shift || true
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(2048 4096 8192 16384 32768 65536)
read -r -a forms <<< "${FORMS:-infonce onetensor clip}"
torch_max=${TORCH_MAX_N:-16384}
source bench/scripts/side_by_side.sh
side_by_side_setup memory 2 "$command"
{
    echo "$header"
    for form in "${forms[@]}"; do
        for n in "${ns[@]}"; do
            "${java[@]}" dev.jnce.bench.InfoNceProbe cpu "$n" "$d" 1 "$form" 2>/dev/null | grep -v -- "-blas" || true
            [ "$n" -le "$torch_max" ] && /usr/bin/python3 bench/scripts/torch_infonce.py "$n" "$d" 1 "$form" | grep -v '^#' || true
        done
    done
} | tee "$out/raw.txt"
[ -f bench/results/memory.csv ] ||
    echo "date,machine,commit,command,form,N,D,impl,seconds,peak_added_mib,raw_log" > bench/results/memory.csv
awk -v pre="$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command" -v raw="$RUN_RAW" '
    $1 == "jnce" { printf "%s,%s,%s,%s,jnce %s,%s,%.1f,%s\n", pre, $3, $4, $5, $2, $6, $7 / 1048576, raw }
    $1 == "torch" { printf "%s,%s,%s,%s,PyTorch,%s,%.1f,%s\n", pre, $2, $3, $4, $5, $6 / 1048576, raw }' "$out/raw.txt" \
    | tee -a bench/results/memory.csv | tee "$out/rows.csv"
"$java_home/bin/java" -Djava.awt.headless=true -cp bench/target/benchmarks.jar dev.jnce.bench.report.MemoryChart \
    "$out/rows.csv" bench/results/memory.png
echo "# raw: $out/; rows appended to bench/results/memory.csv; chart bench/results/memory.png"
