#!/usr/bin/env bash
# Session 30's measurement of the leaf images' share of the 2-thread checkpoint dip: one binary of branch exp30
# (main 960d219 plus an environment switch, BUFPOOL_EXP_NO_IMAGES, under which a covered change logs no leaf image:
# unsafe after a crash, for this measurement only, never merged), run alternately as A (images, as main) and
# N (no images), each on a fresh copy of one database, 12 s, with per-second samples.
# usage (under /work/timed): images.sh BIN OUT T ORDER...   (ORDER: a list of A and N)
set -u
BIN=$1; OUT=$2; T=$3; shift 3; mkdir -p $OUT; DB=$OUT/db
[ -d $DB ] || $BIN bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB > $OUT/load.txt 2>&1
for v in "$@"; do
  rm -rf $DB.run; cp -r $DB $DB.run
  start=$(date -u +%H:%M:%S); smp=$OUT/$v-t$T-$start.samples.csv
  if [ $v = N ]; then e="env BUFPOOL_EXP_NO_IMAGES=1"; else e=env; fi
  $e $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $smp > $OUT/$v-t$T-$start.txt 2>&1
  stats=$(grep -v '^#' $smp | awk -F, 'NR>1 && $1>=3 {print $2, $4}' | sed '$d' | python3 -c '
import sys, statistics as st
r=[tuple(map(float,l.split())) for l in sys.stdin]
ck=[t for t,s in r if s>50]; no=[t for t,s in r if s<=50]
print("steady-median %d ckpt-seconds %d ckpt-mean %d other-median %d" % (st.median([t for t,_ in r]), len(ck), st.mean(ck) if ck else 0, st.median(no) if no else 0))')
  echo "t$T $v $start $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$v-t$T-$start.txt) $stats" | tee -a $OUT/summary.txt
done
rm -rf $DB.run
