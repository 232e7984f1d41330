#!/usr/bin/env bash
# Session 52 (img52), goal 1: the images' ceiling. One release build of the branch's switch commit (S); B runs it
# as it is, N with the switch set (recovery broken in N). 60 s runs in memory, nondurable-autocommit, a fresh copy
# of session 50's database each (steady.sh). usage: T=2 MODES="0 0 0" /work/timed sit1.sh OUT [ORDER=BN|NB]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
S=/work/tmp-img52/bin/S; OUT=$1; ORDER=${2:-BN}
B="B=$S"; N="N=$S:BUFPOOL_IMG52_NO_IMAGES=1"
if [ "$ORDER" = NB ]; then set -- "$N" "$B"; else set -- "$B" "$N"; fi
VMC=0 exec $HERE/../speed36/steady.sh /work/tmp-img52/db $OUT 60 "$@"
