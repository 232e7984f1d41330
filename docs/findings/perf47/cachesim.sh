#!/bin/bash
# perf47: lead28/cg.sh's fixed seeded transactions under callgrind's cache simulation (D1 32 KiB 8-way, LL as given,
# default 32 MiB 16-way: this machine's L1d and L3; the sim has no L2), totals over the transactions only.
# Run under /work/heavy. usage: cachesim.sh BIN DB OUT NAME N [LL]
BIN=$1; DB=$2; OUT=$3; NAME=$4; N=$5; LL=${6:-33554432,16,64}; mkdir -p $OUT
rm -rf $DB.cs-$NAME-${LL%%,*}; cp -r $DB $DB.cs-$NAME-${LL%%,*}
valgrind --tool=callgrind --cache-sim=yes --D1=32768,8,64 --I1=32768,8,64 --LL=$LL \
  '--toggle-collect=*tpcc*txns*run*' --callgrind-out-file=$OUT/$NAME.cs \
  $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.cs-$NAME-${LL%%,*} --seed 1 \
  --tpcc-transactions $N > $OUT/$NAME.cs.txt 2>&1
rm -rf $DB.cs-$NAME-${LL%%,*}
grep -E '^(events|summary):' $OUT/$NAME.cs
