#!/bin/bash
set -u
out=${1:-/tmp/slab/out3}; mkdir -p $out
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2; do
  for v in before after after2; do
    $J -jar /tmp/slab/$v.jar 'SmallCallBench.allocating' -p backend=cpu -p loss=bpr,infonce,ce,onetensor,triplet -wi 4 -w 1 -i 5 -r 1 -f 1 \
      -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Djnce.threads=2" \
      -rf csv -rff $out/$v-$round.csv > $out/$v-$round.txt 2>&1
    echo "$v $round $(cut -d, -f5,9 $out/$v-$round.csv | tail -5 | tr '\n' ' ')"
  done
done
