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
# Run here, after `mvn -B -pl java -am package -DskipTests` (or pass --build to run it).
# Fails if the folder exceeds 60 MiB (the device tool carries 64 MiB in all).
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
    --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$OUT/jdk"
strip --strip-unneeded "$OUT/jdk/lib/server/libjvm.so"   # 29 -> 25 MiB

cp java/target/jnce-*[0-9T].jar "$OUT/lib/jnce.jar"
cp bindings/target/jnce-bindings-*[0-9T].jar "$OUT/lib/jnce-bindings.jar"
OPENBLAS_VERSION=$(sed -n 's|.*<openblas.version>\(.*\)</openblas.version>.*|\1|p' pom.xml)
cp "$HOME/.m2/repository/org/bytedeco/openblas/$OPENBLAS_VERSION/openblas-$OPENBLAS_VERSION-linux-x86_64.jar" "$OUT/lib/"
# The test classes only: the golden data (java/src/test/resources) is not needed by the cuda tests.
(cd java/target/test-classes && "$JDK_HOME/bin/jar" cf "../../../$OUT/lib/jnce-tests.jar" $(find dev -name '*.class'))
mvn -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE_VERSION" \
    -DoutputDirectory="$OUT/lib" -Dmdep.stripVersion=true

SIZE=$(du -sm "$OUT" | cut -f1)
echo "make-runtime.sh: $OUT is $SIZE MiB"
ls -la "$OUT/lib"
if (( SIZE > 60 )); then
    echo "make-runtime.sh: $OUT exceeds 60 MiB; the device tool carries 64 MiB in all" >&2
    exit 1
fi
