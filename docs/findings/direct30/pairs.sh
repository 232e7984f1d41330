#!/usr/bin/env bash
# direct30's timed runs: apply27's pairs.sh (TPC-C 4 warehouses in memory, nondurable-autocommit, each run on its own
# fresh copy of one database loaded once, the builds in the order given) with, per run, the steady median (the
# median of its per-second samples from the fourth second on, its last partial line left out: vmcache's statistic,
# lead26/ab26.sh), the bench's cpu/tx and syncs/tx columns. One summary line a run. Run under /work/timed.
# usage: pairs.sh DB OUT T NAME=BIN [NAME=BIN ...]
set -u
DB=$1; OUT=$2; T=$3; shift 3; mkdir -p $OUT
for nb in "$@"; do
  name=${nb%%=*}; bin=${nb#*=}
  rm -rf $DB.run; cp -r $DB $DB.run
  start=$(date -u +%H:%M:%S)
  txt=$OUT/$name-t$T-$start.txt; smp=$OUT/$name-t$T-$start.samples.csv
  $bin bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $smp > $txt 2>&1
  med=$(grep -v '^#' $smp | awk -F, 'NR>1 && $1>=3 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  row=$(grep -E '^bufpool-btree +[0-9]' $txt | awk '{print "cpu/tx", $3, "syncs/tx", $9}')
  echo "t$T $name $start $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $txt) steady-median $med $row" | tee -a $OUT/summary.txt
done
rm -rf $DB.run
