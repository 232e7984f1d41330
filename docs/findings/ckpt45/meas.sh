#!/usr/bin/env bash
# Session 45 (ckpt45): what the checkpoint seconds take from the workers, TPC-C in memory (4 warehouses,
# nondurable-autocommit, pool fraction 8), at T threads, on fresh copies of DB. Two runs:
#  1. "sys": SECS s under a lean system-wide `perf record` (clock: CLOCK_MONOTONIC; OUT/clock-tT.txt: realtime minus monotonic): cpu-clock at 499 Hz on every CPU with
#     kernel call chains (idle = the swapper's samples; the kernel's functions; each thread's user function, the
#     leaf only), and every sched_switch into or out of a thread named `main` (the process's threads, all named so, but the
#     pool's named ones and io_uring's), with the kernel stack of the thread switched out (why it left its CPU);
#     beside it speed38's tmon.py (each thread's CPU, schedstat, switches, each second).
#  2. "dwarf": DSECS s under `perf record -e sched:sched_switch` with DWARF user stacks (4 KiB), same filter: which
#     of our waits a sleep was in (the lock, latch, log mutex).
# The samples (--tpcc-samples) give tx/s and syncs/s each second. an.py reads them.
# The copies are made beside DB (DB under /dev/shm: a run on tmpfs, whose writes reach no device). DSECS 0: no
# DWARF run. Run under /work/timed. usage: meas.sh BIN DB OUT T [SECS] [DSECS]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; DB=$2; OUT=$3; T=$4; S=${5:-60}; DS=${6:-30}
mkdir -p $OUT
FILTER='prev_comm == "main" || next_comm == "main"'
bench() { # $1 = seconds, $2 = tag
  echo $$ > $OUT/$2-t$T.pid
  exec $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $1 --pool-fraction 8 \
    --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/$2-t$T.samples.csv
}
export -f bench; export BIN DB OUT T
python3 -c "import time; print(time.time() - time.monotonic())" > $OUT/clock-t$T.txt
rm -rf $DB.run; cp -r $DB $DB.run; sync; sleep 2
perf record -a -k mono -o $OUT/sys-t$T.data -e 'cpu-clock/freq=499,call-graph=fp/' \
  -e 'sched:sched_switch/call-graph=fp/' --filter "$FILTER" -- bash -c "bench $S sys" > $OUT/sys-t$T.txt 2>&1 &
PP=$!
for i in $(seq 50); do [ -s $OUT/sys-t$T.pid ] && break; sleep 0.1; done
python3 $HERE/../speed38/tmon.py $(cat $OUT/sys-t$T.pid) $OUT/sys-t$T.tmon.csv &
wait $PP; wait
grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+" $OUT/sys-t$T.txt
[ "$DS" = 0 ] && { rm -rf $DB.run; exit 0; }
rm -rf $DB.run; cp -r $DB $DB.run; sync; sleep 2
perf record -k mono -o $OUT/dwarf-t$T.data -e 'sched:sched_switch/call-graph=dwarf,stack-size=4096/' --filter "$FILTER" -a \
  -- bash -c "bench $DS dwarf" > $OUT/dwarf-t$T.txt 2>&1
grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+" $OUT/dwarf-t$T.txt
rm -rf $DB.run
