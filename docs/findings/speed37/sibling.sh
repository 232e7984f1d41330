#!/usr/bin/env bash
# Session 37 (speed37): sibling.c's two modes, one copy on CPU 0 alone, then one copy on each of CPUs 0 and 1 at
# once, ROUNDS times alternated. Run under /work/timed. usage: sibling.sh OUT [SECS] [ROUNDS]
set -u
HERE=$(cd "$(dirname "$0")" && pwd); OUT=$1; S=${2:-5}; R=${3:-2}
mkdir -p $OUT; gcc -O2 -o $OUT/sibling $HERE/sibling.c || exit 1
for r in $(seq $R); do
  for m in alu chase; do
    echo "round $r $m alone: $(taskset -c 0 $OUT/sibling $m $S)"
    taskset -c 0 $OUT/sibling $m $S > $OUT/a.txt & taskset -c 1 $OUT/sibling $m $S > $OUT/b.txt; wait
    echo "round $r $m both: cpu0 $(cat $OUT/a.txt) | cpu1 $(cat $OUT/b.txt)"
  done
done
