#!/usr/bin/env bash
# direct30: one TPC-C run a build (as pairs.sh's, 1 thread unless T is given) under `perf stat -a` counting the
# machine's interrupts, softirqs, workqueue items and context switches, and vda's writes (/proc/diskstats) over the
# run; to see whether a direct log's writes cost the worker's core per write. Run under /work/timed.
# usage: irqs.sh DB OUT T NAME=BIN [NAME=BIN ...]
set -u
DB=$1; OUT=$2; T=$3; shift 3; mkdir -p $OUT
for nb in "$@"; do
  name=${nb%%=*}; bin=${nb#*=}
  rm -rf $DB.run; cp -r $DB $DB.run
  start=$(date -u +%H:%M:%S)
  d0=$(awk '$3 == "vda" {print $8}' /proc/diskstats)
  perf stat -a -x, -o $OUT/$name-t$T-$start.perf -e irq:irq_handler_entry,irq:softirq_entry,workqueue:workqueue_execute_start,context-switches \
    $bin bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.run > $OUT/$name-t$T-$start.txt 2>&1
  d1=$(awk '$3 == "vda" {print $8}' /proc/diskstats)
  tx=$(grep -oE 'pool-fraction=8: [0-9]+ tx/s' $OUT/$name-t$T-$start.txt | grep -oE '[0-9]+ tx/s')
  ev=$(grep -vE '^#|^$' $OUT/$name-t$T-$start.perf | awk -F, '{printf "%s=%s ", $3, $1}')
  echo "t$T $name $start $tx vda-writes=$((d1 - d0)) $ev" | tee -a $OUT/summary.txt
done
rm -rf $DB.run
