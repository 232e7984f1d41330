#!/usr/bin/env bash
# Session 39 (speed39): the system calls that make logs durable, and the pool's I/O calls, counted by thread, in one
# SECS s run of BIN at T threads (4 warehouses in memory, nondurable-autocommit, as speed36/steady.sh runs them) on
# a fresh copy of DB: `perf record` of the syscall tracepoints fdatasync (the logs' fsyncs: TreeWal's
# `sync_data`), io_uring_enter (the pool's page writes and data-file syncs through io_uring: one call or two
# each), pwrite64 (the logs' writes; the page writes too with BUFPOOL_TPCC_IO=pread) and fallocate (the cuts'
# punches), counted by thread from `perf script`. The run's samples give its checkpoints (speed38/ckpt_spans.py),
# so the counts divide into per-checkpoint figures; its report line gives syncs/tx by cause. perf's data goes to
# DATA (default /work/tmp-speed39), not OUT.
# Run under /work/timed. usage: fsyncs.sh BIN DB OUT TAG T [SECS] [ENV=VALUE ...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; DB=$2; OUT=$3; TAG=$4; T=$5; S=${6:-40}; shift 5; [ $# -gt 0 ] && shift
DATA=${DATA:-/work/tmp-speed39}
mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run
env "$@" perf record -q -o $DATA/$TAG-t$T.perf.data \
  -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_pwrite64,syscalls:sys_enter_fallocate \
  -- $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/$TAG-t$T.samples.csv \
  > $OUT/$TAG-t$T.txt 2> $OUT/$TAG-t$T.err
{
  grep -ohE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+.*" $OUT/$TAG-t$T.err $OUT/$TAG-t$T.txt | cut -c1-400
  python3 $HERE/../speed38/ckpt_spans.py $OUT/$TAG-t$T.samples.csv
  # Per event, the threads (tid) with their counts, largest first.
  perf script -i $DATA/$TAG-t$T.perf.data -F tid,event 2>/dev/null |
    awk '{c[$2" "$1]++} END {for (k in c) print k, c[k]}' | sort -k1,1 -k3,3nr |
    awk '{if ($1 != e) {if (e != "") print line; e = $1; line = $1} line = line " " $2 "=" $3} END {print line}'
} | tee $OUT/$TAG-t$T.counts
rm -rf $DB.run
