#!/usr/bin/env bash
# Session 53 (lead): the session's main against its start beside vmcache, 2 threads (four rounds) then 1 (two)
# (speed36/steady.sh: odd rounds vmcache first, even rounds ours first; the builds in the order given). Run under
# /work/timed. usage: sit53.sh DB OUT N=BIN S=BIN
set -u; H=$(cd "$(dirname "$0")/.." && pwd); DB=$1; OUT=$2; shift 2
T=2 MODES="0 0 0 0" $H/speed36/steady.sh $DB $OUT 60 "$@"
T=1 MODES="0 0" $H/speed36/steady.sh $DB $OUT 60 "$@"
