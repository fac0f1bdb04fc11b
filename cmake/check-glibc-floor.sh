#!/usr/bin/env bash
# Fails when the shared library $1 needs a glibc symbol version newer than $2 (e.g. 2.17), naming
# the symbols; prints the version it needs otherwise. readelf reads any architecture's ELF.
#   cmake/check-glibc-floor.sh <library.so> <floor>
set -euo pipefail
lib=$1 floor=$2
newest=$(readelf --dyn-syms -W "$lib" | grep -o '@GLIBC_[0-9.]*' | sed 's/@GLIBC_//' | sort -uV | tail -n 1)
newest=${newest:-none}
if [ "$newest" != none ] && [ "$(printf '%s\n%s\n' "$floor" "$newest" | sort -V | tail -n 1)" != "$floor" ]; then
    echo "check-glibc-floor: $(basename "$lib") needs glibc $newest, above its floor $floor, for:" >&2
    readelf --dyn-syms -W "$lib" | awk '{print $8}' | grep '@GLIBC_' | while read -r s; do
        v=${s##*@GLIBC_}
        if [ "$(printf '%s\n%s\n' "$floor" "$v" | sort -V | tail -n 1)" != "$floor" ]; then echo "  $s" >&2; fi
    done || true
    echo "  bind them to an older version in native/src/glibc_floor.h" >&2
    exit 1
fi
echo "check-glibc-floor: $(basename "$lib") needs glibc $newest (floor $floor)"
