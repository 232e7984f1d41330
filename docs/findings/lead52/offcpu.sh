#!/usr/bin/env bash
# Session 52: where the workers leave their CPUs. One TPC-C run (4 warehouses in memory, nondurable-autocommit) on
# a fresh copy of a loaded database, under `perf record -e sched:sched_switch` with DWARF call graphs (the stack of
# every switch-out), the per-second samples file beside it. Run under /work/timed.
# usage: offcpu.sh BIN DB OUT T SECS
set -eu
BIN=$1; DB=$2; OUT=$3; T=$4; S=$5
mkdir -p $OUT; rm -rf $DB.run; cp -r $DB $DB.run
perf record -e sched:sched_switch --call-graph dwarf,8192 -o $OUT/sw-t$T.data -- $BIN bench --workload tpcc \
  --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run \
  --tpcc-samples $OUT/sw-samples-t$T.csv > $OUT/sw-run-t$T.txt 2>&1
rm -rf $DB.run
