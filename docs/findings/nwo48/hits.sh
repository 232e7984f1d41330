#!/bin/bash
# nwo48: the hinted reads' outcomes (none / hit / linked / wrong) by table, single and batched, of lead28's fixed
# seeded transactions at 1 thread, from the measurement build (patches/instr.py; never committed), for the sticky
# note (P48_STICKY=1, the branch) and without it (0: l1's policy). Run under /work/heavy. usage: hits.sh N...
DB=/work/tmp-nwo48/db; OUT=/work/tmp-nwo48/hits
for S in 0 1; do for N in "$@"; do
  rm -rf $DB.hits; cp -r $DB $DB.hits
  P48_STICKY=$S /work/tmp-nwo48/bin/instr bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
    --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.hits --seed 1 \
    --tpcc-transactions $N > $OUT/hits-s$S-n$N.txt 2>&1
  rm -rf $DB.hits
done; done
