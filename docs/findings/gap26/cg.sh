#!/bin/bash
# gap26's instruction counts at 1 thread (as BENCHMARKS.md "TPC-C: instructions per transaction against vmcache"):
# usage: cg.sh BIN DB OUT NAME [VAR=VALUE ...]  (run under /work/heavy; the variant's switches as env assignments)
BIN=$1; DB=$2; OUT=$3; NAME=$4; shift 4; mkdir -p $OUT
rm -rf $DB.cg-$NAME; cp -r $DB $DB.cg-$NAME
env "$@" valgrind --tool=callgrind '--toggle-collect=*tpcc*txns*run*' --callgrind-out-file=$OUT/$NAME.cg \
  $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 20 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.cg-$NAME --seed 1 > $OUT/$NAME.txt 2>&1
rm -rf $DB.cg-$NAME
callgrind_annotate --inclusive=yes --tree=caller $OUT/$NAME.cg > $OUT/$NAME.annot 2>&1
