#!/usr/bin/env bash
# perf29: prof.sh stat at 1 and 2 threads, both without a checkpoint (BUFPOOL_TPCC_LOG_MAX=1 TiB), alternated
# 1 2 2 1 (under /work/timed): the second thread's cost in the steady state. usage: steady.sh BIN DB OUT
BIN=$1; DB=$2; OUT=$3; P=$(dirname $0); export BUFPOOL_TPCC_LOG_MAX=1099511627776
for t in 1 2 2 1; do
  tag=r5-off-$(date -u +%H%M%S)-stat-t$t
  $P/prof.sh $BIN $DB $OUT $t $tag stat
  echo "$tag $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s.*consistent: [a-z]+' $OUT/$tag.txt)" >> $OUT/summary.txt
done
