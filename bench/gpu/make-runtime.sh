#!/usr/bin/env bash
#
# Packs what bench/gpu/verify.sh needs on a GPU machine that has no Java, into
# bench/gpu/runtime/ (git-ignored; carry it to the GPU machine with the working tree):
#   jdk/       a jlink'd JDK 25 runtime (java.base, java.logging, jdk.incubator.vector,
#              jdk.unsupported, jdk.zipfs for JUnit's class path scan), stripped and compressed;
#              no java.xml, so the JUnit console writes no XML reports (verify.sh keeps its log)
#   lib/       jnce.jar, jnce-bindings.jar, OpenBLAS's jar (so the cpu reference loads),
#              jnce-tests.jar (the test classes, without the golden data) and the JUnit
#              console launcher
# and packs the folder into bench/gpu/runtime.tar.xz (git-ignored), which is what travels: the
# device tool carries 64 MiB in all, the working tree included, and the folder itself is over
# 70 MiB. jnce.jar is repacked with stored (uncompressed) entries so that xz compresses the native
# libraries in it; verify.sh unpacks the archive when the folder is not there.
# Run here, after `mvn -B -pl java -am package -DskipTests` (or pass --build to run it).
# Fails if the archive exceeds 36 MiB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."            # repository root

JDK_HOME=${JDK_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JUNIT_CONSOLE_VERSION=${JUNIT_CONSOLE_VERSION:-1.11.4}
OUT=bench/gpu/runtime

if [[ "${1:-}" == "--build" ]]; then
    mvn -B -q -pl java -am package -DskipTests
fi
ls java/target/jnce-*.jar >/dev/null || { echo "make-runtime.sh: build first (mvn -B -pl java -am package -DskipTests)" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/lib"
"$JDK_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported,jdk.zipfs \
    --strip-debug --no-man-pages --no-header-files --output "$OUT/jdk"   # uncompressed: xz does better
strip --strip-unneeded "$OUT/jdk/lib/server/libjvm.so"   # 29 -> 25 MiB

# jnce.jar bundles OpenBLAS (the cpu reference); repacked with stored entries for xz
UNPACKED=$(mktemp -d)
(cd "$UNPACKED" && "$JDK_HOME/bin/jar" xf "$OLDPWD"/java/target/jnce-*[0-9T].jar)
"$JDK_HOME/bin/jar" --create --no-compress --file "$OUT/lib/jnce.jar" --manifest "$UNPACKED/META-INF/MANIFEST.MF" \
    -C "$UNPACKED" .
rm -rf "$UNPACKED"
cp bindings/target/jnce-bindings-*[0-9T].jar "$OUT/lib/jnce-bindings.jar"
# The test classes only: the golden data (java/src/test/resources) is not needed by the cuda tests.
(cd java/target/test-classes && "$JDK_HOME/bin/jar" cf "../../../$OUT/lib/jnce-tests.jar" $(find dev -name '*.class'))
mvn -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE_VERSION" \
    -DoutputDirectory="$OUT/lib" -Dmdep.stripVersion=true

tar -C "$OUT" -cf - jdk lib | xz -9 -T0 > "$OUT.tar.xz"
SIZE=$(du -m "$OUT.tar.xz" | cut -f1)
echo "make-runtime.sh: $OUT is $(du -sm "$OUT" | cut -f1) MiB, $OUT.tar.xz $SIZE MiB"
ls -la "$OUT/lib"
if (( SIZE > 36 )); then
    echo "make-runtime.sh: $OUT.tar.xz exceeds 36 MiB; the device tool carries 64 MiB in all, the working tree included" >&2
    exit 1
fi
