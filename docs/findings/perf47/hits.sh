#!/bin/bash
# perf47: the NearHints outcomes (none / hit / wrong leaf) by table, single reads and batched keys, of lead28's fixed
# seeded transactions at 1 thread, for a table of 2^L slots (P47_SLOTS_LOG2), from a measurement build
# (instr.patch: counters printed when the worker's NearHints drops; not committed). Run under /work/heavy.
# usage: [P47_TAG=t P47_CUST_BITS=b ...] hits.sh BIN DB OUT N L...  (instr.patch: P47_CUST_BITS, P47_STOCK_BITS, P47_ITEM_BITS)
BIN=$1; DB=$2; OUT=$3; N=$4; shift 4; mkdir -p $OUT
for L in "$@"; do
  rm -rf $DB.hits; cp -r $DB $DB.hits
  P47_SLOTS_LOG2=$L $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
    --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.hits --seed 1 \
    --tpcc-transactions $N > $OUT/hits${P47_TAG}-L$L-n$N.txt 2>&1
  rm -rf $DB.hits
done
