#!/bin/bash
# usage: cg.sh NAME (binary bufpool-NAME, database copy cg-NAME)
cd /work/tmp-cpu25
echo "$1 start $(date -u +%H:%M:%S)" >> cg-times.txt
valgrind --tool=callgrind --callgrind-out-file=cg-$1.out '--toggle-collect=*txns*new_order' '--toggle-collect=*txns*payment' ./bufpool-$1 bench --workload tpcc --warehouses 4 --threads 1 --seconds 30 --pool-fraction 2 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db cg-$1 --seed 1 > cg-$1.txt 2>&1
echo "$1 end $(date -u +%H:%M:%S)" >> cg-times.txt
