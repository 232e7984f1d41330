#!/usr/bin/env bash
# Session 53: one 60 s TPC-C run (4 warehouses in memory, nondurable-autocommit) under a system-wide
# `perf record -a -e cpu-clock` (no call graphs): every process's and kernel thread's CPU, so the writeback
# workers, io_uring workers and interrupts beside the run's own threads. Run under /work/timed.
# usage: profall.sh BIN DB OUT T [SECS]
set -eu
BIN=$1; DB=$2; OUT=$3; T=$4; S=${5:-60}
mkdir -p $OUT; rm -rf $DB.run; cp -r $DB $DB.run; sync
perf record -a -e cpu-clock -F 997 -o $OUT/all-t$T.data -- $BIN bench --workload tpcc --warehouses 4 --threads $T \
  --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/samples-t$T.csv \
  > $OUT/run-t$T.txt 2>&1
rm -rf $DB.run
