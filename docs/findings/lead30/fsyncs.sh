#!/usr/bin/env bash
# Session 30: who calls fsync/fdatasync during a 2-thread TPC-C run (12 s, fresh copy), by call chain.
# usage (under /work/timed): fsyncs.sh BIN DB OUT
set -u
BIN=$1; DB=$2; OUT=$3; mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run
perf record -o $OUT/fsync.data -e syscalls:sys_enter_fsync -e syscalls:sys_enter_fdatasync --call-graph dwarf,16384 -- \
  $BIN bench --workload tpcc --warehouses 4 --threads 2 --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.run --tpcc-samples $OUT/fsync.samples.csv > $OUT/fsync-run.txt 2>&1
rm -rf $DB.run
