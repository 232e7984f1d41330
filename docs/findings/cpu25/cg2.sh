#!/bin/bash
# usage: cg2.sh NAME FN SECS (binary bufpool-NAME, a fresh database copy cg-NAME-FN)
cd /work/tmp-cpu25; rm -rf cg-$1-$2; cp -r db cg-$1-$2
echo "$1 $2 $3 s start $(date -u +%H:%M:%S)" >> cg-times.txt
valgrind --tool=callgrind --callgrind-out-file=cg-$1-$2.out "--toggle-collect=*txns*$2" ./bufpool-$1 bench --workload tpcc --warehouses 4 --threads 1 --seconds $3 --pool-fraction 2 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db cg-$1-$2 --seed 1 > cg-$1-$2.txt 2>&1
echo "$1 $2 end $(date -u +%H:%M:%S)" >> cg-times.txt
rm -rf cg-$1-$2
