#!/usr/bin/env bash
# Session 38 (speed38): where the 2 CPUs go beside our workers, at T threads (4 warehouses in memory,
# nondurable-autocommit, as speed36/steady.sh runs them), on a fresh copy of DB each run:
#  1. SECS s with tmon.py (each thread's CPU, on-CPU and runnable-waiting ns, voluntary and involuntary switches,
#     each second) and the run's samples (tx/s, syncs/s a second: a checkpoint's seconds have > 50 syncs/s);
#  2. SECS s under `perf sched record` (every switch and wakeup: each park's sleep and wake latency, timehist);
#  3. SECS s under `perf trace -s` (each thread's syscalls: counts and times);
#  4. SECS s under `perf record -e cpu-clock -F 999` (self time by thread and function: what the driver's and the
#     checkpoint's threads spend their CPU on; no call graphs);
#  5. 30 s under `perf record -e sched:sched_switch --call-graph dwarf,4096` (each switch out with its user stack:
#     which wait a worker slept in; the run is shorter, the data large: ~0.5 GB).
# Run under /work/timed. usage: probe.sh BIN DB OUT T [SECS] [STEPS]   (STEPS: any of 1-5, default "1 2 3 4 5")
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; DB=$2; OUT=$3; T=$4; S=${5:-40}; STEPS=${6:-"1 2 3 4 5"}
mkdir -p $OUT
run() { # $1 = tag, rest = a prefix command (perf ...) or nothing
  local tag=$1; shift
  rm -rf $DB.run; cp -r $DB $DB.run
  "$@" $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 \
    --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/$tag-t$T.samples.csv \
    > $OUT/$tag-t$T.txt 2> $OUT/$tag-t$T.err &
  local pid=$!
  if [ "$tag" = mon ]; then python3 $HERE/tmon.py $pid $OUT/$tag-t$T.tmon.csv & fi
  wait $pid; wait
  grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+.*" $OUT/$tag-t$T.err $OUT/$tag-t$T.txt | cut -c1-200
}
for st in $STEPS; do
  case $st in
    1) run mon ;;
    2) run sched perf sched record -g -o $OUT/sched-t$T.data -- ;;
    3) run trace perf trace -s -o $OUT/trace-t$T.summary -- ;;
    4) run prof perf record -e cpu-clock -F 999 -o $OUT/prof-t$T.data -- ;;
    5) S0=$S; S=30; run dwarf perf record -e sched:sched_switch --call-graph dwarf,4096 -o $OUT/dwarf-t$T.data --; S=$S0 ;;
  esac
done
rm -rf $DB.run
