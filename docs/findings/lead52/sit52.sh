#!/usr/bin/env bash
# Session 52 (lead): the merged main against the session's start beside vmcache, 2 threads then 1, two rounds
# each (steady.sh: round 1 vmcache first, round 2 ours first; E before S in both). Run under /work/timed.
# usage: sit52.sh DB OUT S=BIN E=BIN
set -u; H=$(cd "$(dirname "$0")/.." && pwd); DB=$1; OUT=$2; shift 2
T=2 MODES="0 0" $H/speed36/steady.sh $DB $OUT 60 "$@"
T=1 MODES="0 0" $H/speed36/steady.sh $DB $OUT 60 "$@"
