#!/usr/bin/env bash
# wal27's timed pair: TPC-C 4 warehouses in memory, nondurable-autocommit, T threads, 12 s; each build on its own
# fresh copy of one database, in the order given (call it twice, A B then B A). Run under /work/timed (one call
# is under 3 minutes: two runs with their copies).
# usage: ab27.sh OUT DB TAG T NAME=BIN [NAME=BIN ...]
set -u
OUT=$1; DB=$2; TAG=$3; T=$4; shift 4; mkdir -p $OUT
for nb in "$@"; do
  name=${nb%%=*}; bin=${nb#*=}
  rm -rf $DB.c; cp -r $DB $DB.c
  $bin bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $DB.c > $OUT/$TAG-$name-t$T.txt 2>&1
  echo "$TAG t$T $name $(date -u +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$TAG-$name-t$T.txt | tr '\n' ' ') $(grep -E '^bufpool-btree ' $OUT/$TAG-$name-t$T.txt | awk '{print "cpu/tx", $3}')" | tee -a $OUT/summary.txt
done
rm -rf $DB.c
