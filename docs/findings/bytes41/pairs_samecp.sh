#!/usr/bin/env bash
# Session 41 (bytes41): as pairs.sh at 2 threads (one call, 2 rounds), with the branch's LOG_MAX scaled to its
# records (BUFPOOL_TPCC_LOG_MAX = 512 MiB x 649.5 / 826.8 bytes of records a transaction, bytes_table.py's
# figures): checkpoints as often per transaction as main's, so what is left is the bytes' own effect.
# usage: pairs_samecp.sh MAIN_BIN BRANCH_BIN DB OUT   (from the repository's root)
set -u; M=$1; B=$2; DB=$3; OUT=$4; D=docs/findings
/work/timed $D/speed37/pairs.sh 2 2 $DB $OUT/t2c MAIN=$M BYTES=$B:BUFPOOL_TPCC_LOG_MAX=421748000
python3 $D/speed37/pair_ratios.py MAIN BYTES $OUT/t2c/r* > $OUT/pairs-t2-samecp.txt
# A second pair at 1 thread, the branch first (pairs.sh's t1 pair ran main first).
/work/timed $D/speed37/pairs.sh 1 1 $DB $OUT/t1b BYTES=$B MAIN=$M
python3 $D/speed37/pair_ratios.py MAIN BYTES $OUT/t1/r* $OUT/t1b/r* > $OUT/pairs-t1-both.txt
