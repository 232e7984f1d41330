#!/bin/bash
# Session 44 (oom44): one build's out-of-memory runs, lead33/oom33.sh's steps chained as lead43/oom43.sh does (the
# load under /work/heavy, done before), then per thread count one /work/timed call of oom33.sh's `ours` step (the
# protocol's figures) and one of cause.sh (the same run under perf, split by cause).
# usage: oom44.sh BIN DB OUT NAME
S=/work/main/docs/findings/lead33/oom33.sh; C=$(cd "$(dirname "$0")" && pwd)/cause.sh
BIN=$1; DB=$2; OUT=$3; NAME=$4
mkdir -p $OUT
for T in 1 2; do
  /work/timed bash -c "$S ours $BIN $DB $OUT $T $NAME" >> $OUT/log.txt 2>&1
done
for T in 1 2; do
  /work/timed bash -c "$C $BIN $DB $OUT/cause $NAME $T" >> $OUT/log.txt 2>&1
done
echo "done $NAME $(date +%T)" >> $OUT/log.txt
