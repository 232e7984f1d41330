#!/bin/bash
# session 43: issue 15's table from one run: every system and mode, 4 warehouses in memory
OUT=/work/tmp-lead43/full; rm -rf $OUT/db
/work/timed /work/tmp-lead43/bufpool-final bench --workload tpcc --warehouses 4 --threads 1,2 --seconds 10 \
  --pool-fraction 8 --durability nondurable-autocommit,durable,batch:100 --tpcc-db $OUT/db --json $OUT/full.json > $OUT/full.txt 2>&1
echo "rc=$? $(date +%T)" >> $OUT/full.txt
rm -rf $OUT/db
