# side_by_side.sh - sourced by the scripts that run jnce and PyTorch side by side in one run
# (ce_vs_torch.sh, infonce_vs_torch.sh, pair_ops_vs_torch.sh) and by bench/run.sh. Run from the
# repository root.
#
# `results_run NAME THREADS COMMAND` makes the run's raw-log folder and exports what
# summarize.py and report.py write into every row they append to bench/results/*.csv:
#   out          bench/results/raw/NAME-<UTC yyyymmdd-hhmm>/ (made)
#   RUN_DATE     UTC date and time, 2026-11-23T13:39Z
#   RUN_MACHINE  CPU model and cores, "AMD EPYC (2 cores)"
#   RUN_COMMIT   git rev-parse --short HEAD, "-dirty" added when tracked files outside the
#                results (bench/results/, bench/RESULTS.md) have changes
#   RUN_COMMAND  COMMAND, the command line as the user typed it
#   RUN_THREADS  THREADS
#   RUN_RAW      $out/
#
# `side_by_side_setup NAME THREADS COMMAND` calls results_run, finds the JDK 25+, installs
# Debian's PyTorch and OpenBLAS when missing (as root), builds the benchmarks jar when missing,
# pins every thread pool to THREADS, and sets
#   java_home  the JDK
#   java       the java command line that runs the probes from the jar
#   header     the '#' line that opens a raw log: date, cores, CPU, threads

results_run() {
    local name=$1 threads=$2 command=$3 now
    now=$(date -u +%s)
    out=bench/results/raw/$name-$(date -u -d "@$now" +%Y%m%d-%H%M)
    # two runs started in one minute keep both logs: the second gets -2, the third -3, ...
    local base=$out i=2
    while [ -e "$out" ]; do out=$base-$i; i=$((i + 1)); done
    mkdir -p "$out"
    RUN_DATE=$(date -u -d "@$now" +%Y-%m-%dT%H:%MZ)
    RUN_MACHINE="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc --all) cores)"
    if RUN_COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
        # results and RESULTS.md are what the runs themselves write
        git diff --quiet HEAD -- . ':(exclude)bench/results' ':(exclude)bench/RESULTS.md' || RUN_COMMIT+=-dirty
    else
        RUN_COMMIT=unknown
    fi
    RUN_COMMAND=$command RUN_THREADS=$threads RUN_RAW=$out/
    export RUN_DATE RUN_MACHINE RUN_COMMIT RUN_COMMAND RUN_THREADS RUN_RAW
}

side_by_side_setup() {
    local name=$1 threads=$2 command=$3
    java_home=$(.mvn/find-jdk.sh)
    # PyTorch with a real BLAS: Debian's torch uses the libblas.so.3 alternative, which is the
    # reference BLAS (about 20 times slower here) unless OpenBLAS is installed.
    for pkg in python3-torch libopenblas0-pthread; do
        dpkg -s "$pkg" >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null; }
    done
    [ -f bench/target/benchmarks.jar ] || mvn -B -q -pl bench -am package -DskipTests
    export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads JNCE_NUM_THREADS=$threads
    results_run "$name" "$threads" "$command"
    java=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar)
    header="# $RUN_DATE $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads=$threads"
}
