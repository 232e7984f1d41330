#!/bin/bash
# anchor44c.sh: the hour or the code? Session 43's final build and session 44's, on session 43's database (its
# logs of the sector layout: session 44's build moves them at its open, before the measured window), beside
# vmcache in the same call: 2 threads, 60 s, 2 rounds (vmcache first in round 1, ours first in round 2).
cd /work/main
OUT=${1:-/work/tmp-lead44/anchor-c}
T=2 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-lead43/db $OUT 60 \
  MAIN43=/work/tmp-lead43/bufpool-final MAIN44=/work/tmp-lead43/bufpool-44a > /work/logs/anchor44c-t2.log 2>&1
echo done > /work/logs/anchor44c.done
