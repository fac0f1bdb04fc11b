#!/usr/bin/env bash
# The benchmark suite in one command: every op family through JMH on every backend that loads
# here, the same cases in PyTorch (Debian's CPU build) with the same thread count, the machine's
# limits (sgemm peak, memcpy bandwidth) measured in the same run, then the generated section of
# bench/RESULTS.md (between its markers) and bench/results/scaling.png.
#
#   bench/run.sh [--quick|--full] [--threads T]     default: --quick, T = all cores
#
# --quick is sized for about ten minutes on two cores; --full measures longer and further.
# Raw outputs (JMH JSON and logs per group, torch.jsonl, machine.txt, scaling.tsv) go to
# bench/results/raw/suite-<date>-<time>/, one row per case to bench/results/suite.csv. Builds
# bench/target/benchmarks.jar when a source is newer.
set -euo pipefail
command="bench/run.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/scripts/side_by_side.sh
mode=--quick threads=$(nproc)
while [ $# -gt 0 ]; do
    case $1 in
        --quick|--full) mode=$1 ;;
        --threads) threads=$2; shift ;;
        *) echo "usage: bench/run.sh [--quick|--full] [--threads T]" >&2; exit 2 ;;
    esac
    shift
done
start=$(date +%s)
java=$(.mvn/find-jdk.sh)/bin/java
jar=bench/target/benchmarks.jar

# PyTorch, and OpenBLAS for it: Debian's torch calls whatever libblas.so.3 the alternatives
# system selects, the slow reference BLAS unless OpenBLAS is installed.
for pkg in python3-torch libopenblas0-pthread; do
    dpkg -s "$pkg" >/dev/null 2>&1 && continue
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    else
        echo "missing: sudo apt-get install $pkg" >&2; exit 1
    fi
done
if [ ! -f $jar ] || [ -n "$(find bench/src java/src/main native bench/pom.xml -newer $jar -type f -print -quit)" ]; then
    echo "building $jar"
    mvn -B -q -pl bench -am package -DskipTests
fi

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads JNCE_NUM_THREADS=$threads
results_run suite "$threads" "$command"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
echo "$(nproc --all) cores $cpu, $(free -g | awk '/Mem:/ {print $2}') GiB; threads $threads; load $(cut -d' ' -f1-3 /proc/loadavg) at start; $mode" \
    | tee "$out/machine.txt"

"$java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector --sun-misc-unsafe-memory-access=allow \
    -cp $jar dev.jnce.bench.Suite "$mode" "$out" 2>&1 | grep -v 'WARNING: Using incubator modules'
budget=$([ "$mode" = --full ] && echo 2 || echo 0.5)
/usr/bin/python3 bench/scripts/torch_suite.py --budget "$budget" "$out"/*.json > "$out/torch.jsonl"
echo "pytorch                done"
/usr/bin/python3 bench/scripts/report.py "$out" bench/RESULTS.md "$out/scaling.tsv" --csv bench/results/suite.csv
# the GPU points (cpu and cuda on a lent GPU machine, from its raw log) join the suite's
[ -f bench/results/gpu_scaling.tsv ] && cat bench/results/gpu_scaling.tsv >> "$out/scaling.tsv"
"$java" -Djava.awt.headless=true -cp $jar dev.jnce.bench.report.ScalingChart "$out/scaling.tsv" bench/results/scaling.png
echo "wrote bench/RESULTS.md (generated section), bench/results/scaling.png, bench/results/suite.csv, $out/ in $(( $(date +%s) - start )) s"
