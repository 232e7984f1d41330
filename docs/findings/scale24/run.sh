#!/usr/bin/env bash
# usage: run.sh BIN TAG THREADS SECONDS [env...]: one TPC-C run on a fresh copy of db, with per-second samples
set -u
BIN=$1; TAG=$2; T=$3; S=$4; shift 4
W=${W:-/work/tmp-scale24}; OUT=$W/out; mkdir -p $OUT; C=$W/c; rm -rf $C; cp -r $W/db $C
env "$@" $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/$TAG.samples > $OUT/$TAG.txt 2>&1
echo "$TAG $(date -u +%H:%M:%S) T=$T S=$S $*: $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$TAG.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
rm -rf $C
