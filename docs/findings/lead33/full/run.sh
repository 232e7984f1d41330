#!/usr/bin/env bash
# Issue 15's table from one run: systems x modes x threads, 4 warehouses in memory (pool 8x the data), fresh loads.
cd /work/full33 && rm -rf tmp && mkdir tmp && TMPDIR=/work/full33/tmp \
/work/bin-main33s/bufpool bench --workload tpcc --warehouses 4 --threads 1,2 --seconds 10 --pool-fraction 8 \
  --durability nondurable-autocommit,durable,batch:100 --btree-systems bufpool-btree,lmdb,redb --json full.json > full.txt 2>&1
echo exit $? >> full.txt; rm -rf tmp
