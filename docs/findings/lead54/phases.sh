#!/usr/bin/env bash
# Session 54: from profrec.sh's perf.data, each thread's first and last sample (s from the first sample of all)
# and its sample count (threads with over 50): the restart's phases (the open of the transaction log and the
# pool's build, the trees' opens, the replay's lanes, the checkpoint and the check) by the threads that ran them.
# usage: phases.sh PERF.data
perf script -i "$1" -F comm,tid,time 2>/dev/null | awk '{t=$3+0; if (t0 == "") t0 = t; if (!($2 in f)) { f[$2] = t; c[$2] = $1 }
  l[$2] = t; n[$2]++} END {for (k in f) if (n[k] > 50) printf "%-8s %-16s %7.2f %7.2f %6d\n", k, c[k], f[k] - t0, l[k] - t0, n[k]}' | sort -k3 -n
