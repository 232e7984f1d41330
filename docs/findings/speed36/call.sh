#!/usr/bin/env bash
# Session 36 (speed36): one timed call of the protocol question at one thread count: two 60 s rounds of
# steady.sh, one without the sync and one with it. At 1 thread modes 0 1 (round 1 vmcache first without the
# sync, round 2 ours first with it), at 2 threads modes 1 0 (round 1 vmcache first with the sync, round 2 ours
# first without it): over both calls each mode once in each order. Two rounds, not four: the first call waited
# 45 minutes for the lock, and four rounds a call did not fit before the session's stop.
# usage: /work/timed call.sh T DB OUT BIN
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$1" = 2 ]; then M="1 0"; else M="0 1"; fi
T=$1 MODES=$M REST=5 $HERE/steady.sh $2 $3 60 MAIN=$4
