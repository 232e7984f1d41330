#!/usr/bin/env bash
# perf29: prof.sh stat at 2 threads with the checkpoint's pacing off (BUFPOOL_TPCC_LOG_MAX=1 TiB: no checkpoint, so
# the slow tick writes no page) against as main runs, alternated (under /work/timed). usage: logmax.sh BIN DB OUT
BIN=$1; DB=$2; OUT=$3; P=$(dirname $0)
for v in base off off base; do
  if [ $v = off ]; then export BUFPOOL_TPCC_LOG_MAX=1099511627776; else unset BUFPOOL_TPCC_LOG_MAX; fi
  tag=r4-$v-$(date -u +%H%M%S)-stat-t2
  $P/prof.sh $BIN $DB $OUT 2 $tag stat
  echo "$tag $(grep -oE 'threads=2 pool-fraction=8: [0-9]+ tx/s.*consistent: [a-z]+' $OUT/$tag.txt)" >> $OUT/summary.txt
done
