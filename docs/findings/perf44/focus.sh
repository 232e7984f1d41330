#!/bin/bash
# perf44: callgrind of N fixed transactions (seed 1) collecting only inside TOGGLE (an exact function name, e.g.
# bufpool::bench::tpcc::txns::delivery: a pattern with a wildcard also matches its closures, which toggle
# collection off again), on a copy of /work/tmp-perf44/db. Run under /work/heavy.
# usage: focus.sh BIN NAME TOGGLE N
BIN=$1; NAME=$2; T=$3; N=$4; OUT=/work/tmp-perf44/cg
rm -rf /work/tmp-perf44/db.t-$NAME; cp -r /work/tmp-perf44/db /work/tmp-perf44/db.t-$NAME
valgrind --tool=callgrind "--toggle-collect=$T" --callgrind-out-file=$OUT/$NAME.cg $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db /work/tmp-perf44/db.t-$NAME --seed 1 --tpcc-transactions $N > $OUT/$NAME.txt 2>&1
rm -rf /work/tmp-perf44/db.t-$NAME
callgrind_annotate --inclusive=yes --tree=calling $OUT/$NAME.cg > $OUT/$NAME.calling 2>&1
