#!/bin/bash
# anchor45.sh BIN OUT TAG: issue 15's same-hour sitting (lead43/anchor43.sh on a database the session's build loaded:
# its logs are of the block layout, R44-1): vmcache and ours, 60 s, 2 rounds, 2 threads then 1
cd /work/main
BIN=$1; OUT=$2; DB=${DB:-/work/tmp-lead44/db}
T=2 MODES="0 0" /work/timed docs/findings/speed36/steady.sh $DB $OUT 60 MAIN45=$BIN > /work/logs/anchor45${3}-t2.log 2>&1
T=1 MODES="0 0" /work/timed docs/findings/speed36/steady.sh $DB $OUT 60 MAIN45=$BIN > /work/logs/anchor45${3}-t1.log 2>&1
echo done > /work/logs/anchor45${3}.done
