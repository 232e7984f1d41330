#!/usr/bin/env bash
# Session 35 (speed35): one timed call of the run-length lever's pairs (run under /work/timed). A = main's release
# build, B = the lever's build with BUFPOOL_EXP_RUN_PAGES=256 (B.sh), N = the lever's build with the switch unset
# (main's behaviour: the control of two builds). 2 threads; 2 pairs at 60 s (A B B A: several checkpoints
# a run), then 2 pairs at 12 s and one control pair (N A); each run on a fresh copy of DB. usage: call.sh DB OUT
set -u
DB=$1; OUT=$2; D=$(dirname $0); BIN=/work/wt/speed35-bin
A=A=$BIN/main; B=B=$BIN/B; N=N=$BIN/lever
$D/../logb32/pairs.sh $DB $OUT/s60 2 60 $A $B $B $A
$D/../logb32/pairs.sh $DB $OUT/s12 2 12 $A $B $B $A $N $A
