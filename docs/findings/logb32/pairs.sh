#!/usr/bin/env bash
# apply27's pairs.sh with per-second samples (--tpcc-samples) and the run's length as a parameter: TPC-C 4 warehouses
# in memory (nondurable-autocommit), each run on its own fresh copy of one database loaded once; the builds in the
# order given (name=binary ...), one summary line a run. DUR=durable (session 35) adds --durability durable. usage (under /work/timed): pairs.sh DB OUT T SECONDS NAME=BIN ...
set -u; DUR=${DUR:-}
DB=$1; OUT=$2; T=$3; S=$4; shift 4; mkdir -p $OUT
for nb in "$@"; do
  name=${nb%%=*}; bin=${nb#*=}
  rm -rf $DB.run; cp -r $DB $DB.run
  start=$(date -u +%H:%M:%S)
  f=$OUT/$name-t$T-s$S-$start
  $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree ${DUR:+--durability $DUR} \
    --tpcc-db $DB.run --tpcc-samples $f.samples > $f.txt 2>&1
  echo "t$T s$S $name $start $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $f.txt)" | tee -a $OUT/summary.txt
done
rm -rf $DB.run
