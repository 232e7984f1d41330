#!/bin/bash
# perf48: lead28/cg.sh with --dump-instr=yes (the same counts, and each instruction's own, for instr.py and
# lines.py). usage: cgi.sh BIN DB OUT NAME N   (run under /work/heavy; DB a copy of /work/tmp-lead44/db, copied
# again for the run)
BIN=$1; DB=$2; OUT=$3; NAME=$4; N=${5:-10000}; mkdir -p $OUT
rm -rf $DB.cg-$NAME; cp -r $DB $DB.cg-$NAME
valgrind --tool=callgrind --dump-instr=yes '--toggle-collect=*tpcc*txns*run*' --callgrind-out-file=$OUT/$NAME.cg \
  $BIN bench --workload tpcc --warehouses 4 --threads 1 --seconds 3600 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $DB.cg-$NAME --seed 1 \
  --tpcc-transactions $N > $OUT/$NAME.txt 2>&1
rm -rf $DB.cg-$NAME
callgrind_annotate --inclusive=yes --tree=caller $OUT/$NAME.cg > $OUT/$NAME.annot 2>&1
callgrind_annotate --threshold=100 --auto=no $OUT/$NAME.cg > $OUT/$NAME.self 2>/dev/null
python3 "$(dirname "$0")/../gap26/per_type.py" $OUT/$NAME.annot
