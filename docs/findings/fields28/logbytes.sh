#!/bin/bash
# The transaction log's bytes after 10,000 seeded transactions at 1 thread (no valgrind), per build.
T=/work/tmp-fields28
for n in "$@"; do
  rm -rf $T/db/lb; cp -r $T/db/tpcc4 $T/db/lb
  before=$(du -b $T/db/lb/bufpool-btree/txn.log 2>/dev/null | cut -f1)
  $T/bin/$n bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $T/db/lb --seed 1 --tpcc-transactions 10000 > $T/lb-$n.txt 2>&1
  echo "$n: $(grep -o 'consistent: [a-z]*' $T/lb-$n.txt | head -1); txn.log before $before; after: $(ls -ls $T/db/lb/bufpool-btree/ | grep -i txn)"
done
rm -rf $T/db/lb
