#!/usr/bin/env bash
set -u
W=/work/tmp-ckpt23; OUT=$W/off; mkdir -p $OUT; C=$W/c; rm -rf $C; cp -r $W/db $C
perf record -e sched:sched_switch --call-graph dwarf,16384 -o $OUT/off.data -- $W/bin-main bench --workload tpcc --warehouses 4 --threads 2 --seconds 30 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/s.samples > $OUT/out.txt 2> $OUT/err.txt
rm -rf $C
