#!/usr/bin/env bash
# Session 37 (speed37): one timed call of A/B pairs of our builds alone: ROUNDS 60 s runs of each of the two builds
# at T threads (speed36/steady.sh's runs and statistics, mode 0, VMC=0: no vmcache), round r in OUT/rN, build A
# first in odd rounds and B first in even ones. pair_ratios.py A B OUT/r* gives the pair ratios and their median.
# usage: /work/timed pairs.sh T ROUNDS DB OUT A=BIN B=BIN
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=$1; R=$2; DB=$3; OUT=$4; A=$5; B=$6
for r in $(seq $R); do
  if [ $((r % 2)) = 1 ]; then set -- "$A" "$B"; else set -- "$B" "$A"; fi
  T=$T MODES=0 VMC=0 $HERE/../speed36/steady.sh $DB $OUT/r$r 60 "$@"
done
