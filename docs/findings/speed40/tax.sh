#!/usr/bin/env bash
# Session 40 (speed40): what our I/O costs a CPU-bound engine that does none. vmcache's 60 s TPC-C runs at T
# threads (speed36/steady.sh's vmcache runs and statistics, MODES=0, no build of ours), alone (A) or with replay.c
# playing back, in a loop from before vmcache starts until it ends, the writes, syncs and punches of one 60 s run
# of ours (iocause.py's TRACE) on a fresh copy of our database DB (W), in the order SEQ ("A W W A"). Run k's
# output in OUT/k-A or OUT/k-W (summary.txt, mon-tT.csv, vmcache's lines); replay's lag report in OUT/k-W/replay.txt.
# A word NAME=FILE in SEQ plays the trace FILE instead (a part of the run's I/O), into OUT/k-NAME. SECS (default
# 60): vmcache's seconds a run.
# Run under /work/timed. usage: [T=2] [SECS=60] tax.sh TRACE DB OUT "A W W A"
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TRACE=$1; DB=$2; OUT=$3; SEQ=$4; T=${T:-2}; SECS=${SECS:-60}
REPLAY=${REPLAY:-/work/tmp-speed40/replay}
k=0
for s in $SEQ; do
  k=$((k + 1)); tr=$TRACE
  case $s in *=*) tr=${s#*=}; s=${s%%=*} ;; esac
  o=$OUT/$k-$s; mkdir -p $o
  if [ "$s" != A ]; then
    rm -rf $DB.replay; cp -r $DB $DB.replay; sync; sleep 1
    $REPLAY $tr $DB.replay 0 > $o/replay.txt 2>&1 & RP=$!
    sleep 1
  fi
  T=$T MODES=0 $HERE/../speed36/steady.sh /nonexistent $o $SECS
  if [ "$s" != A ]; then
    kill -INT $RP; wait $RP 2>/dev/null; rm -rf $DB.replay
  fi
  sed "s/^/$k-$s /" $o/summary.txt >> $OUT/summary.txt
done
