#!/bin/bash
# Session 53: one 15 s TPC-C run (2 threads, in memory) of each build on a fresh copy of the loaded database, the
# process's Rss and AnonHugePages (smaps_rollup) printed 12 s in. Run under /work/timed. usage: thp.sh NAME=BIN ...
# run BIN for 15 s on a fresh DB copy; print the process's AnonHugePages at 10 s
for nb in "$@"; do n=${nb%%=*}; b=${nb#*=}
rm -rf /work/tmp-lead50/db.thp; cp -r /work/tmp-lead50/db /work/tmp-lead50/db.thp
$b bench --workload tpcc --warehouses 4 --threads 2 --seconds 15 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db /work/tmp-lead50/db.thp > /tmp/thp-$n.txt 2>&1 & P=$!
sleep 12; echo "$n $(grep -E 'AnonHugePages|^Rss' /proc/$P/smaps_rollup | tr -s ' ' | tr '\n' ' ')"; wait $P; grep -E "^bufpool-btree " /tmp/thp-$n.txt
done
rm -rf /work/tmp-lead50/db.thp
