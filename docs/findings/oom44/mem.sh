#!/bin/bash
# Session 44 (oom44): in memory: 4 warehouses, pool-fraction 8, 2 threads, 40 s, main44 then fix44 on fresh copies of one load
set -u
O=/work/wt/oom44/docs/findings/oom44/runs/mem; mkdir -p $O
DB=/work/tmp-oom44/db4
/work/heavy /work/tmp-oom44/bin/main44 bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB > $O/load.txt 2>&1
for B in main44 fix44; do
  /work/timed bash -c "rm -rf $DB.copy; cp -r $DB $DB.copy; /work/tmp-oom44/bin/$B bench --workload tpcc --warehouses 4 --threads 2 --seconds 40 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB.copy --tpcc-samples $O/$B-t2.samples.csv --json $O/$B-t2.json > $O/$B-t2.txt 2>&1; rm -rf $DB.copy"
done
rm -rf $DB
echo done > $O/done
