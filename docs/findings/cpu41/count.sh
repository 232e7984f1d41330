#!/bin/bash
# Session 41 (cpu41): one build's count at 1 thread on lead28's fixed 10,000 seeded transactions, per type and by
# function (self and inclusive). Run under /work/heavy. usage: count.sh BIN DB OUT NAME
# (DB: a copy of /work/tmp-speed40/db, 4 warehouses; lead28/cg.sh copies it again for the run)
HERE=$(cd "$(dirname "$0")" && pwd); BIN=$1; DB=$2; OUT=$3; NAME=$4
bash $HERE/../lead28/cg.sh $BIN $DB $OUT $NAME 10000 > $OUT/$NAME.per-type.txt
callgrind_annotate --threshold=100 --auto=no $OUT/$NAME.cg > $OUT/$NAME.self 2>/dev/null
python3 $HERE/selfagg.py $OUT/$NAME.self 60 > $OUT/$NAME.self-funcs.txt
python3 $HERE/../inplace29/funcs.py $OUT/$NAME.annot > $OUT/$NAME.funcs.txt
cat $OUT/$NAME.per-type.txt
