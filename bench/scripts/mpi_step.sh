#!/usr/bin/env bash
# A sharded step (the global batch's exact loss; FORM clip: both InfoNCE directions, the default;
# siglip; ntxent: N views; supcon) on localhost ranks started by mpirun, P = each of PS: time per
# step, in the collectives (all-gather, reduce-scatter, all-reduce; waiting for the slowest rank
# included) and outside them, and the bytes each rank receives from the all-gathers and
# contributes to the reduce-scatters. The raw log goes to bench/results/raw/mpi-<date>/, one row
# per P to bench/results/mpi.csv (the form is in its command column).
#
#   bench/scripts/mpi_step.sh [N D REPS]     default 16384 256 3;  PS="2 4";  FORM=clip
set -euo pipefail
command="${FORM:+FORM=$FORM }${PS:+PS=\"$PS\" }bench/scripts/mpi_step.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-16384} d=${2:-256} reps=${3:-3}
source bench/scripts/side_by_side.sh
side_by_side_setup mpi 2 "$command"
command -v mpirun >/dev/null || { echo "mpi_step.sh: no mpirun (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
{
    echo "$header"
    for p in ${PS:-2 4}; do
        mpirun --allow-run-as-root --oversubscribe -np "$p" "$java_home/bin/java" --enable-native-access=ALL-UNNAMED \
            -cp bench/target/benchmarks.jar dev.jnce.bench.MpiStepProbe "$n" "$d" "$reps" "${FORM:-clip}" 2>/dev/null | grep '^mpi '
    done
} | tee "$out/raw.txt"
[ -f bench/results/mpi.csv ] ||
    echo "date,machine,commit,command,P,N,D,step_s,comm_s,compute_s,bytes_gathered_per_rank,bytes_reduced_per_rank,raw_log" > bench/results/mpi.csv
awk -v pre="$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command" -v raw="$RUN_RAW" '$1 == "mpi" {
    printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", pre, $2, $3, $4, $5, $6, $7, $8, $9, raw }' "$out/raw.txt" | tee -a bench/results/mpi.csv
echo "# raw: $out/; rows appended to bench/results/mpi.csv"
