#!/usr/bin/env bash
# Session 41 (bytes41): main's build against the branch's (short row ops in the transaction log), 60 s TPC-C runs,
# 4 warehouses in memory, nondurable-autocommit: two calls of speed37/pairs.sh at 2 threads (2 rounds each, order
# turned by round), then one at 1 thread (1 round). Each pairs.sh call under /work/timed.
# usage: pairs.sh MAIN_BIN BRANCH_BIN DB OUT   (from the repository's root)
set -u; M=$1; B=$2; DB=$3; OUT=$4; D=docs/findings
/work/timed $D/speed37/pairs.sh 2 2 $DB $OUT/t2a MAIN=$M BYTES=$B
/work/timed $D/speed37/pairs.sh 2 2 $DB $OUT/t2b MAIN=$M BYTES=$B
python3 $D/speed37/pair_ratios.py MAIN BYTES $OUT/t2a/r* $OUT/t2b/r* > $OUT/pairs-t2.txt
/work/timed $D/speed37/pairs.sh 1 1 $DB $OUT/t1 MAIN=$M BYTES=$B
python3 $D/speed37/pair_ratios.py MAIN BYTES $OUT/t1/r* > $OUT/pairs-t1.txt
