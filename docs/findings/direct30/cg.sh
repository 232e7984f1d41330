#!/bin/bash
# direct30: lead28/cg.sh with --fair-sched=yes (valgrind runs one thread at a time; unfair, it let the worker run
# for long stretches without the driver's tick, whose write-outs a direct log waits for: its buffer grew to the hard
# bound, reallocated four times). Otherwise as lead28:
# Instructions per transaction at 1 thread on a FIXED number of seeded transactions (session 28): every build runs
# the same draws, so their totals compare (gap26/cg.sh ran 20 s, whose count of transactions depended on the load).
# usage: cg.sh BIN DB OUT NAME [N] [VAR=VALUE ...]   (run under /work/heavy; DB loaded once by
#   bufpool bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db DB)
# then: python3 docs/findings/gap26/per_type.py OUT/NAME.annot
BIN=$1; DB=$2; OUT=$3; NAME=$4; N=${5:-10000}; shift 5 2>/dev/null || shift $#; mkdir -p $OUT
rm -rf $DB.cg-$NAME; cp -r $DB $DB.cg-$NAME
env "$@" valgrind --tool=callgrind --fair-sched=yes '--toggle-collect=*tpcc*txns*run*' --callgrind-out-file=$OUT/$NAME.cg \
  $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.cg-$NAME --seed 1 \
  --tpcc-transactions $N > $OUT/$NAME.txt 2>&1
rm -rf $DB.cg-$NAME
callgrind_annotate --inclusive=yes --tree=caller $OUT/$NAME.cg > $OUT/$NAME.annot 2>&1
python3 "$(dirname "$0")/../gap26/per_type.py" $OUT/$NAME.annot
