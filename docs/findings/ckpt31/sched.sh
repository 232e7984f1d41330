#!/usr/bin/env bash
# Session 31 (ckpt31): where the 2-thread run's threads spend the checkpoint's seconds: on-CPU samples (cpu-clock,
# 250 Hz) and every switch off the CPU (sched:sched_switch), each with its call chain (dwarf), one 12 s run on a
# fresh copy; then sched.py OUT reads them by second, by thread and by the chain's top frames.
# usage (under /work/timed, as root): sched.sh BIN DB OUT [THREADS] [SECONDS]
set -u
BIN=$1; DB=$2; OUT=$3; T=${4:-2}; S=${5:-12}; mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run
perf record -o $OUT/sched.data -e cpu-clock -F 250 -e sched:sched_switch --call-graph dwarf,8192 -- \
  $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.run --tpcc-samples $OUT/sched.samples.csv > $OUT/sched-run.txt 2>&1
rm -rf $DB.run
perf script -i $OUT/sched.data -F comm,tid,time,event,ip,sym > $OUT/sched.txt 2>/dev/null
