#!/bin/bash
# (session 26, ckpt26) Timed pairs of two builds: A B, B A, ... each on a fresh `cp -r` of the loaded database.
# usage: pairs.sh OUT T ORDER...   (ORDER: e.g. AB BA AB); each run on a fresh cp -r of the loaded database; run under /work/timed
set -u
OUT=$1; T=$2; shift 2; mkdir -p $OUT; D=/work/tmp-ckpt26
for order in "$@"; do
  for x in $(echo $order | grep -o .); do
    rm -rf $D/c; cp -r $D/db $D/c
    start=$(date -u +%H:%M:%S)
    $D/bin/$x bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/c > $OUT/$x-t$T-$start.txt 2>&1
    echo "t$T $order $x $start $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$x-t$T-$start.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
  done
done
rm -rf $D/c
