#!/bin/bash
# rep52's larger crashed state, one /work/timed call (session 52): SECS seconds of 2-thread log, no checkpoint, then
# SIGKILL, made by main's build (rec51c.sh's steps, from lead50's loaded database), then recovered by the builds
# named, two rounds.  usage: SECS=20 rep52b.sh OUT NAME=BINARY...
set -u
D=/work/tmp-rep52; OUT=$1; shift; mkdir -p $OUT; SECS=${SECS:-20}
S=$(dirname $0)/../rec51/rec51c.sh
SECS=$SECS O=$D/rec$SECS B=$D/bufpool-base DB=/work/tmp-lead50/db $S "$@" | tee $OUT/rec$SECS.txt
cp $D/rec$SECS/make.txt $OUT/make$SECS.txt
for f in $D/rec$SECS/v-*.txt; do cp $f $OUT/rec$SECS-$(basename $f); done
ls -la $D/rec$SECS/crashed/*/txn.log >> $OUT/make$SECS.txt
