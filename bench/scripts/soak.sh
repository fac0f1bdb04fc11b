#!/usr/bin/env bash
# The soak in benchmark mode: 10^6 mixed public calls (cross-entropy, NLL, BCE, softmax, normalise,
# InfoNCE, NT-Xent, CLIP, linear cross-entropy; cpu and java; new tensors, scopes, user arenas and
# into-buffer forms; one call in eight refused; platform and virtual threads) in a JVM with Native
# Memory Tracking, printing the memory curve (SOAK-SAMPLE: calls, resident KiB, NMT committed KiB)
# and the verdict (flat: within 5% + 16 MiB of the first sample after a warm-up of two fifths of
# the calls). The log goes to bench/results/raw/soak-<date>/soak.txt.
#
#   bench/scripts/soak.sh [calls]        default 1000000 (about 15-25 minutes on 2 cores)
set -euo pipefail
command="bench/scripts/soak.sh${*:+ $*}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
calls=${1:-1000000}
source bench/scripts/side_by_side.sh
results_run soak 0 "$command"
java_home=$(.mvn/find-jdk.sh)
[ -d java/target/test-classes ] || mvn -B -q -pl java -am test-compile -Djnce.sanitize.skip=true
cp=$(mvn -B -q -pl java dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test 2>/dev/null)
echo "# $RUN_DATE $RUN_MACHINE commit $RUN_COMMIT: $command" | tee "$out/soak.txt"
"$java_home/bin/java" --enable-native-access=ALL-UNNAMED -XX:NativeMemoryTracking=summary -Xms192m -Xmx192m \
    -XX:+AlwaysPreTouch -cp "java/target/test-classes:java/target/classes:$cp" dev.jnce.harness.SoakMain "$calls" \
    | grep --line-buffered '^SOAK-' | tee -a "$out/soak.txt"
echo "# log: $out/soak.txt"
