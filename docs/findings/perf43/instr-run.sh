#!/bin/bash
# perf43 (session 43): callgrind by instruction (--dump-instr=yes) on 3,000 of lead28's seeded transactions. usage: instr-run.sh BIN NAME
BIN=$1; NAME=$2; DB=/work/tmp-perf43/db; OUT=/work/tmp-perf43/cg
rm -rf $DB.i-$NAME; cp -r $DB $DB.i-$NAME
valgrind --tool=callgrind --dump-instr=yes '--toggle-collect=*tpcc*txns*run*' --callgrind-out-file=$OUT/$NAME.i.cg \
  $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.i-$NAME --seed 1 \
  --tpcc-transactions 3000 > $OUT/$NAME.i.txt 2>&1
rm -rf $DB.i-$NAME
