#!/bin/bash
# one recovery of a fresh copy of the crashed state under perf (cpu-clock, dwarf call graphs): prof.sh BINARY OUT
O=/work/tmp-rep52/rec
rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -o $2.data -- $1 bench --workload tpcc --warehouses 4 --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $O/db --tpcc-verify $O/acks > $2.txt 2>&1
grep -E '^recovery|consistent|PHASE' $2.txt
