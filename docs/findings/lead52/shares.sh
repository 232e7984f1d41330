#!/usr/bin/env bash
# Session 52: each symbol's share of the two workers' cpu-clock samples from the run's 3rd to its 60th second
# (prof.sh's perf data; the workers are the two threads with the most samples).
# usage: shares.sh PERF.data [N]
set -eu
D=$1; N=${2:-40}
W=$(perf report -i $D --no-children --sort pid --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -2 | sed -E 's/.* ([0-9]+):.*/\1/' | tr '\n' ' ')
set -- $W
perf script -i $D -F tid,time,ip,sym 2>/dev/null | awk -v a=$1 -v b=$2 '($1==a||$1==b) {t=int($2); if (!t0) t0=t; r=t-t0;
  if (r>=3 && r<60) {n++; $1="";$2="";$3=""; s=$0; sub(/\+0x[0-9a-f]+$/,"",s); c[s]++}}
  END {for (k in c) printf "%6.2f %s\n", 100*c[k]/n, k}' | sort -rn | head -$N
