#!/usr/bin/env bash
# Puts the native files the jar carries in one folder and lists them for the loader
# (dev.jnce.internal.NativeFiles): copies the files named after the folder (OpenBLAS and the GCC
# runtime it needs, from the unpacked org.bytedeco:openblas jar) beside libjnce.so, then writes
# files.sha256 there: "<sha256> <bytes> <name>" for every file in the folder. The loader unpacks
# them into a cache folder named after that list's hash and checks each file against it.
#
#   java/src/build/bundle-natives.sh <native output folder> [file to copy ...]
set -euo pipefail
out=$1
shift
mkdir -p "$out"
for f in "$@"; do
    [ -f "$f" ] || { echo "bundle-natives.sh: $f is missing (is the org.bytedeco:openblas jar unpacked?)" >&2; exit 1; }
    cp -p "$f" "$out/"
done
cd "$out"
[ -f libjnce.so ] || { echo "bundle-natives.sh: $out holds no libjnce.so" >&2; exit 1; }
list=files.sha256
: > "$list.tmp"
for f in *; do
    case "$f" in "$list" | "$list.tmp") continue ;; esac
    [ -f "$f" ] || continue
    echo "$(sha256sum "$f" | cut -d' ' -f1) $(stat -c %s "$f") $f" >> "$list.tmp"
done
mv "$list.tmp" "$list"
