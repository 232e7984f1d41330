#!/usr/bin/env bash
# Session 52 (img52), goal 2: lead52's offcpu.sh (a 60 s 2-thread run under perf's sched_switch with call graphs) on
# the branch's build as it is (B) and with the switch (N), each on a fresh copy. Run under /work/timed.
# usage: sw.sh OUT [SECS]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1; S=${2:-60}; BIN=/work/tmp-img52/bin/S
$HERE/../lead52/offcpu.sh $BIN /work/tmp-img52/db $OUT/B 2 $S
BUFPOOL_IMG52_NO_IMAGES=1 $HERE/../lead52/offcpu.sh $BIN /work/tmp-img52/db $OUT/N 2 $S
