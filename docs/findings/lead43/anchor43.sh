#!/bin/bash
# anchor43.sh: issue 15's same-hour sitting on main's build: vmcache and ours, 60 s, 2 rounds, 2 threads then 1
cd /work/main
OUT=${2:-/work/tmp-lead43/anchor}
BIN=${1:-/work/tmp-lead43/bufpool}
T=2 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-lead43/db $OUT 60 MAIN43=$BIN > /work/logs/anchor43${3}-t2.log 2>&1
T=1 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-lead43/db $OUT 60 MAIN43=$BIN > /work/logs/anchor43${3}-t1.log 2>&1
echo done > /work/logs/anchor43${3}.done
