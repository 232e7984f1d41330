#!/usr/bin/env bash
# perf29: one round of prof.sh (under /work/timed, about 90 s): usage round.sh BIN DB OUT R ORDER...
#   ORDER items MODE:T, e.g. stat:1 stat:2 record:1 record:2
BIN=$1; DB=$2; OUT=$3; R=$4; shift 4
for mt in "$@"; do m=${mt%%:*}; t=${mt#*:}
  $(dirname $0)/prof.sh $BIN $DB $OUT $t r$R-$m-t$t $m
  echo "r$R-$m-t$t $(date -u +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s.*consistent: [a-z]+' $OUT/r$R-$m-t$t.txt)" >> $OUT/summary.txt
done
