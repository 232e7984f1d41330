#!/usr/bin/env bash
# Session 51 (ckpt51): pairs of 60 s runs of two builds, alternated call by call, each call its own /work/timed job
# of one round of speed36/steady.sh (VMC=0: no vmcache; each run on a fresh copy of DB).
# usage: T=2 pairs.sh DB OUT N A=BIN B=BIN   (N calls: odd ones A then B, even ones B then A)
set -u; T=${T:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
DB=$1; OUT=$2; N=$3; A=$4; B=$5
for c in $(seq 1 $N); do
  if [ $((c % 2)) = 1 ]; then first=$A second=$B; else first=$B second=$A; fi
  /work/timed env T=$T MODES=0 VMC=0 $HERE/../speed36/steady.sh $DB $OUT/t$T-c$c 60 $first $second
done
