#!/bin/bash
# usage: count.sh NAME SECS: the near-hint counters of bufpool-NAME-count, on a fresh database copy
cd /work/tmp-cpu25; rm -rf ct-$1; cp -r db ct-$1
echo "$1 count start $(date -u +%H:%M:%S)" >> cg-times.txt
./bufpool-$1 bench --workload tpcc --warehouses 4 --threads 1 --seconds $2 --pool-fraction 2 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db ct-$1 --seed 1 > ct-$1.txt 2>&1
rm -rf ct-$1
