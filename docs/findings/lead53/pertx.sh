#!/usr/bin/env bash
# Session 53: each symbol's cost in ns per committed transaction, from prof.sh's (lead52) cpu-clock samples of the
# given threads over the whole run (997 Hz: a sample is 1/997 s), divided by the run's transactions (tx/s x seconds).
# usage: pertx.sh PERF.data TX_TOTAL TID...  (the worker tids: lead52's tids-tT.txt, the top T threads but the main one)
D=$1; TX=$2; shift 2; T=" $* "
perf script -i $D -F tid,ip,sym 2>/dev/null | awk -v T="$T" -v tx=$TX 'index(T, " " $1 " ") {n++; $1="";$2=""; s=$0; sub(/\+0x[0-9a-f]+$/,"",s); c[s]++}
  END {for (k in c) printf "%8.1f %s\n", c[k]*1e9/997/tx, k; printf "%8.1f TOTAL\n", n*1e9/997/tx}' | sort -rn
