#!/bin/bash
# one recovery of a fresh copy of the crashed state, caches dropped: one.sh BINARY OUTFILE
O=/work/tmp-rec51/rec
rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
/usr/bin/time -f "%e s wall %U user %S sys" $1 bench --workload tpcc --warehouses 4 --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $O/db --tpcc-verify $O/acks > $2 2>&1
grep -E '^recovery|wall|consistent' $2
