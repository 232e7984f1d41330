#!/usr/bin/env bash
# Session 40 (lead): the checkpoint interval's bytes at 2 threads: main's build with the default LOG_MAX (512 MiB)
# against the same build with BUFPOOL_TPCC_LOG_MAX=1 GiB (half the checkpoints, so about half the checkpoints'
# page writes and leaf images). Two calls of speed37/pairs.sh (2 rounds each, order turned by round).
# usage: logmax.sh BIN DB OUT   (each call under /work/timed, from the repository's root)
set -u; BIN=$1; DB=$2; OUT=$3; D=docs/findings
/work/timed $D/speed37/pairs.sh 2 2 $DB $OUT/t2a L512=$BIN L1G=$BIN:BUFPOOL_TPCC_LOG_MAX=1073741824
/work/timed $D/speed37/pairs.sh 2 2 $DB $OUT/t2b L512=$BIN L1G=$BIN:BUFPOOL_TPCC_LOG_MAX=1073741824
python3 $D/speed37/pair_ratios.py L512 L1G $OUT/t2a/r* $OUT/t2b/r* > $OUT/pairs-t2.txt
