#!/bin/bash
# rep52's second build (the sort by index) against main's, one /work/timed call: rec51c.sh's two rounds on the 6 s
# state and on rec51's 12 s state (both copied).  usage: rep52c.sh OUT
set -u
D=/work/tmp-rep52; OUT=$1; mkdir -p $OUT
S=$(dirname $0)/../rec51/rec51c.sh
O=$D/rec $S base=$D/bufpool-base new2=$D/bufpool-new2 | tee $OUT/rec6.txt
for f in $D/rec/v-*.txt; do cp $f $OUT/rec6-$(basename $f); done
O=$D/rec12 $S new2=$D/bufpool-new2 | tee $OUT/rec12.txt
for f in $D/rec12/v-new2*.txt; do cp $f $OUT/rec12-$(basename $f); done
