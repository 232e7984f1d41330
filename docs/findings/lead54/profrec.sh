#!/usr/bin/env bash
# Session 54: one restart (--tpcc-verify) of a fresh copy of a crashed state under `perf record -e cpu-clock -g`
# (frame pointers off: caller lines are partial), every thread, kernel included; caches dropped first.
# Run under /work/timed. usage: profrec.sh BIN CRASHED_DIR OUT
set -eu; PERFARGS=${PERFARGS:-}
BIN=$1; C=$2; OUT=$3
mkdir -p $OUT; rm -rf $C.prof; cp -r $C $C.prof; : > $OUT/acks; sync; echo 3 > /proc/sys/vm/drop_caches
perf record -e cpu-clock -F 997 $PERFARGS -o $OUT/perf.data -- $BIN bench --workload tpcc --warehouses 4 --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $C.prof --tpcc-verify $OUT/acks > $OUT/verify.txt 2>&1
rm -rf $C.prof
perf report -i $OUT/perf.data --no-children --sort comm,tid --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30 > $OUT/tids.txt
perf report -i $OUT/perf.data --no-children --sort comm,dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -120 > $OUT/syms.txt
