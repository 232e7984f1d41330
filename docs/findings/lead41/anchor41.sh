#!/bin/bash
# anchor41.sh: issue 15's same-hour sitting on main 879ed91's build: vmcache and ours, 60 s, 2 rounds, 2 threads then 1
cd /work/main
OUT=/work/tmp-lead41/anchor
T=2 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-speed40/db $OUT 60 MAIN41=/work/tmp-lead41/bufpool > /work/logs/anchor41-t2.log 2>&1
T=1 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-speed40/db $OUT 60 MAIN41=/work/tmp-lead41/bufpool > /work/logs/anchor41-t1.log 2>&1
echo done > /work/logs/anchor41.done
