#!/usr/bin/env bash
set -u
W=/work/tmp-ckpt23; BIN=$1; TAG=$2; OUT=$W/prof; mkdir -p $OUT; C=$W/c; rm -rf $C; cp -r $W/db $C
perf record -e cpu-clock -F 2000 -g -o $OUT/$TAG.data -- $BIN bench --workload tpcc --warehouses 4 --threads 2 --seconds 30 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/$TAG.samples > $OUT/$TAG.txt 2> $OUT/$TAG.err
rm -rf $C
