#!/usr/bin/env bash
# usage: ckpt.sh BIN OUT TAG [env...]: tpccab2's run (--threads 1,2 --seconds 15) on a fresh copy, with samples
# The database: $WORK/db (default /work/tmp-tpcc22/db), loaded once; each run on a fresh copy. Run under /work/timed.
set -u
BIN=$1; OUT=$2; TAG=$3; shift 3; mkdir -p $OUT
W=${WORK:-/work/tmp-tpcc22}; C=$W/c2; rm -rf $C; cp -r $W/db $C
env "$@" $BIN bench --workload tpcc --warehouses 4 --threads 1,2 --seconds 15 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/$TAG.samples > $OUT/$TAG.txt 2>&1
echo "$TAG $(date -u +%H:%M:%S) $*: $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$TAG.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
rm -rf $C
