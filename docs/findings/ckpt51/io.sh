#!/usr/bin/env bash
# Session 51 (ckpt51): one 2-thread TPC-C run in memory on a fresh copy of DB, recording each direct I/O's begin
# (iomap:iomap_dio_rw_begin: its length and flags; a punted write shows twice, NOWAIT inline then blocking in iou-wrk),
# each io_uring submission and each punt (io_uring_queue_async_work): counts, not timings (run under /work/heavy).
# usage: io.sh BIN DB OUT SECS [ENV=VALUE ...]
set -u; BIN=$1; DB=$2; OUT=$3; S=$4; shift 4
mkdir -p $OUT; C=$DB.io$$; rm -rf $C; cp -r $DB $C; sync
env "$@" perf record -e iomap:iomap_dio_rw_begin -e io_uring:io_uring_submit_req -e io_uring:io_uring_queue_async_work -e syscalls:sys_enter_io_uring_enter \
  -o $OUT/io.data -- $BIN bench --workload tpcc --warehouses 4 --threads 2 --seconds $S --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/samples.csv --json $OUT/run.json > $OUT/run.txt 2> $OUT/perf.err
rm -rf $C
perf script -i $OUT/io.data -F tid,time,event,trace > $OUT/io.txt 2>/dev/null
