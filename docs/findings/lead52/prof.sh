#!/usr/bin/env bash
# Session 52: one 60 s TPC-C run (4 warehouses in memory, nondurable-autocommit) under `perf record -e cpu-clock`
# (no call graphs), every thread, kernel included, on a fresh copy of a loaded database. Run under /work/timed.
# usage: prof.sh BIN DB OUT T [SECS]
set -eu
BIN=$1; DB=$2; OUT=$3; T=$4; S=${5:-60}
mkdir -p $OUT; rm -rf $DB.run; cp -r $DB $DB.run
perf record -e cpu-clock -F 997 -o $OUT/perf-t$T.data -- $BIN bench --workload tpcc --warehouses 4 --threads $T \
  --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/samples-t$T.csv \
  > $OUT/run-t$T.txt 2>&1
rm -rf $DB.run
perf report -i $OUT/perf-t$T.data --no-children --sort pid --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 > $OUT/tids-t$T.txt
perf report -i $OUT/perf-t$T.data --no-children --sort pid,dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -150 > $OUT/syms-t$T.txt
