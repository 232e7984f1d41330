#!/usr/bin/env bash
# Session 53: profall.sh's system-wide samples by second of the run: the two workers (w), the driver's thread (m:
# main, the fast tick's log write-outs), the slow tick's (s: the checkpoints), everything else (o: io_uring
# workers, the pool's io thread, kworkers, other processes) and the idle task (idle); 997 samples a CPU-second.
# usage: seconds.sh ALL.data WORKER1 WORKER2 MAIN SLOW
D=$1; A=$2; B=$3; M=$4; S=$5
perf script -i $D -F comm,tid,time 2>/dev/null | awk -v a=$A -v b=$B -v m=$M -v s=$S '{t=int($3); if(!t0)t0=t; r=t-t0;
  if ($2==a||$2==b) k="w"; else if ($2==m) k="m"; else if ($2==s) k="s"; else if ($1=="swapper") k="idle"; else k="o";
  n[r","k]++; R[r]=1} END {for (r in R) printf "%d w=%d m=%d s=%d o=%d idle=%d\n", r, n[r",w"], n[r",m"], n[r",s"], n[r",o"], n[r",idle"]}' | sort -n
