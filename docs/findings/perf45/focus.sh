#!/bin/bash
# perf45: perf44/focus.sh with the database as an argument: callgrind of N fixed transactions (seed 1) collecting
# only inside TOGGLE (an exact function name, e.g. bufpool::bench::tpcc::txns::new_order), on a copy of DB.
# Run under /work/heavy. usage: focus.sh BIN DB OUT NAME TOGGLE N
BIN=$1; DB=$2; OUT=$3; NAME=$4; T=$5; N=$6; mkdir -p $OUT
rm -rf $DB.t-$NAME; cp -r $DB $DB.t-$NAME
valgrind --tool=callgrind "--toggle-collect=$T" --dump-instr=yes --callgrind-out-file=$OUT/$NAME.cg $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.t-$NAME --seed 1 --tpcc-transactions $N > $OUT/$NAME.txt 2>&1
rm -rf $DB.t-$NAME
callgrind_annotate --inclusive=yes --tree=calling $OUT/$NAME.cg > $OUT/$NAME.calling 2>&1
callgrind_annotate --inclusive=no $OUT/$NAME.cg > $OUT/$NAME.self 2>&1
