#!/usr/bin/env bash
# Time until the cpu backend is ready in a fresh JVM (dev.jnce.bench.NativeLoadProbe): once on an
# empty cache folder (the native files are unpacked) and RUNS times on the warm cache (they are
# reused), on the class path (the benchmarks jar), on the module path (jnce's and the bindings'
# jars), and on the class path with the JDK's AOT cache; and, as the floor, the JDK's own first
# FFM downcall in a fresh JVM (dev.jnce.bench.FfmFloorProbe), in the same run. Target on a warm cache: 100 ms or less. The raw log goes to
# bench/results/raw/native-load-<date>/, one row per path and cache state (median, min, max of the
# runs) to bench/results/native_load.csv.
#
#   bench/scripts/native_load.sh [RUNS]        default 10
set -euo pipefail
command="bench/scripts/native_load.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs=${1:-10}
source bench/scripts/side_by_side.sh
java_home=$(.mvn/find-jdk.sh)
[ -f bench/target/benchmarks.jar ] || mvn -B -q -pl bench -am package -DskipTests
results_run native-load 0 "$command"
jars=$(ls java/target/jnce-*[0-9T].jar bindings/target/jnce-bindings-*[0-9T].jar | paste -sd:)
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
probe() {   # probe PATH_KIND
    case "$1" in
        classpath) "$java_home/bin/java" -Djnce.cache.dir="$cache" --enable-native-access=ALL-UNNAMED \
                       -cp bench/target/benchmarks.jar dev.jnce.bench.NativeLoadProbe 2>/dev/null ;;
        modulepath) "$java_home/bin/java" -Djnce.cache.dir="$cache" --enable-native-access=dev.jnce,dev.jnce.bindings \
                       -p "$jars" --add-modules dev.jnce -cp bench/target/classes dev.jnce.bench.NativeLoadProbe 2>/dev/null ;;
        ffm-floor) "$java_home/bin/java" --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
                       dev.jnce.bench.FfmFloorProbe 2>/dev/null ;;
        classpath+aot) "$java_home/bin/java" -XX:AOTCache="$cache/probe.aot" -Djnce.cache.dir="$cache" \
                       --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.jnce.bench.NativeLoadProbe 2>/dev/null ;;
    esac
}
# classpath+aot: the JDK's AOT cache (JDK 25, JEP 483/514), made by one training run of the probe
# itself; a user makes theirs from a run of their own program (README "Start-up time").
aot_train() {
    "$java_home/bin/java" -XX:AOTCacheOutput="$cache/probe.aot" -Djnce.cache.dir="$cache" \
        --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.jnce.bench.NativeLoadProbe >/dev/null 2>&1
}
[ -f bench/results/native_load.csv ] ||
    echo "date,machine,commit,command,path,cache,runs,ready_ms_median,ready_ms_min,ready_ms_max,first_call_ms_median,raw_log" \
        > bench/results/native_load.csv
for kind in classpath modulepath classpath+aot ffm-floor; do
    rm -rf "${cache:?}"/*
    if [ "$kind" = classpath+aot ]; then
        aot_train   # also unpacks the native files: no cold row
    elif [ "$kind" != ffm-floor ]; then
        cold=$(probe "$kind")
        echo "$kind cold $cold" | tee -a "$out/raw.txt"
        read -r cold_ready cold_call _ <<< "$cold"
        echo "$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command,$kind,cold,1,$cold_ready,$cold_ready,$cold_ready,$cold_call,$RUN_RAW" \
            >> bench/results/native_load.csv
    fi
    for _ in $(seq "$runs"); do echo "$kind warm $(probe "$kind")"; done | tee -a "$out/raw.txt" > "$out/$kind.txt"
    ready=$(cut -d' ' -f3 "$out/$kind.txt" | sort -n | paste -sd' ')
    call=$(cut -d' ' -f4 "$out/$kind.txt" | sort -n | paste -sd' ')
    echo "$ready|$call" | awk -F'|' -v pre="$RUN_DATE,$RUN_MACHINE,$RUN_COMMIT,$command,$kind,warm,$runs" -v raw="$RUN_RAW" '
        { n = split($1, r, " "); split($2, c, " "); m = int((n + 1) / 2)
          printf "%s,%s,%s,%s,%s,%s\n", pre, r[m], r[1], r[n], c[m], raw }' \
        | tee -a bench/results/native_load.csv
done
echo "# raw: $out/; rows appended to bench/results/native_load.csv"
