#!/usr/bin/env bash
# Session 37 (speed37): where a TPC-C transaction's CPU goes at 1 and at 2 threads. One run of BIN (4 warehouses in
# memory, nondurable-autocommit, SECS seconds, on a fresh copy of DB) under `perf record` (cpu-clock: this VM has
# no hardware counters, so a sample is 1/FREQ s of a thread on a CPU; no call graphs, self time only). The
# workers are the threads whose samples are only the transactions'; the report gives each function's samples
# over the workers, divided by the run's transactions (committed + rolled back) = us of CPU a transaction.
# Run under /work/timed. usage: prof.sh BIN DB OUT T [SECS] [FREQ]
set -u
BIN=$1; DB=$2; OUT=$3; T=$4; S=${5:-25}; F=${6:-1999}
mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run; sync
perf record -e cpu-clock -F $F -o $OUT/perf-t$T.data -- \
  $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.run > $OUT/run-t$T.txt 2> $OUT/perf-t$T.err
cat $OUT/perf-t$T.err >&2
rm -rf $DB.run
grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s" $OUT/perf-t$T.err
