#!/usr/bin/env bash
# Prints the home of an installed JDK 25 or newer: $JAVA_HOME if it qualifies, else the newest
# under /usr/lib/jvm, ~/.sdkman and ~/.jdks. Exits 1 with advice when there is none.
set -euo pipefail
version_of() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
best=""
best_version=0
for home in ${JAVA_HOME:-} /usr/lib/jvm/* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || continue
    v=$(version_of "$home" || echo 0)
    if [ "${v%%.*}" -ge 25 ] 2>/dev/null && [ "${v%%.*}" -gt "$best_version" ]; then best=$home; best_version=${v%%.*}; fi
done
if [ -z "$best" ]; then
    echo "jnce needs a JDK 25 or newer (FFM API). Install one, e.g. Eclipse Temurin 25 or 'openjdk-25-jdk'," >&2
    echo "or set JAVA_HOME to it. The default java may stay older: the build finds the JDK by itself." >&2
    exit 1
fi
echo "$best"
