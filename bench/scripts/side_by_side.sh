# side_by_side.sh - sourced by the scripts that run jnce's probes and PyTorch side by side in one
# run (infonce_vs_torch.sh, pair_ops_vs_torch.sh): `side_by_side_setup NAME THREADS` finds the
# JDK 22+, installs Debian's PyTorch and OpenBLAS when missing (as root), builds the benchmarks
# jar when missing, pins every thread pool to THREADS, and sets
#   out     bench/results/NAME-<UTC date and time>/ (made)
#   java    the java command line that runs the probes from the jar
#   header  the '#' line that opens a raw log: date, cores, CPU, threads
# Run from the repository root.

side_by_side_setup() {
    local name=$1 threads=$2
    java_home=$(.mvn/find-jdk.sh)
    # PyTorch with a real BLAS: Debian's torch uses the libblas.so.3 alternative, which is the
    # reference BLAS (about 20 times slower here) unless OpenBLAS is installed.
    for pkg in python3-torch libopenblas0-pthread; do
        dpkg -s "$pkg" >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null; }
    done
    [ -f bench/target/benchmarks.jar ] || mvn -B -q -DskipTests install
    export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads JNCE_NUM_THREADS=$threads
    out=bench/results/$name-$(date -u +%Y%m%d-%H%M)
    mkdir -p "$out"
    java=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar)
    header="# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads=$threads"
}
