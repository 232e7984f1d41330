#!/usr/bin/env bash
# Session 35 (speed35): one TPC-C run (4 warehouses in memory, nondurable-autocommit, 2 threads) of BIN on a fresh
# copy of DB under `perf record -e iomap:iomap_dio_rw_begin` (a tracepoint: counts, not a timing), then runlen.py.
# Extra environment (BUFPOOL_EXP_RUN_PAGES, BUFPOOL_TPCC_LOG_MAX) is passed through. Run under /work/heavy.
# usage: runlen.sh BIN DB OUT SECS
set -u
BIN=$1; DB=$2; OUT=$3; S=$4; D=$(dirname $0)
rm -rf $DB.rl; cp -r $DB $DB.rl
perf record -q -o $OUT.data -e iomap:iomap_dio_rw_begin $BIN bench --workload tpcc --warehouses 4 --threads 2 \
  --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.rl --tpcc-samples $OUT.samples.csv > $OUT.txt 2>&1
perf script -i $OUT.data -F comm,tid,time,event,trace 2>/dev/null | python3 $D/runlen.py > $OUT.runlen.txt
perf script -i $OUT.data -F comm,tid,time,event,trace 2>/dev/null | python3 $D/runlen.py --by-thread >> $OUT.runlen.txt
rm -rf $DB.rl $OUT.data
