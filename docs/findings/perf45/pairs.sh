#!/bin/bash
# perf45: main (190f722) against b1 (the branch's key_hash, f32e664), 2 rounds at 1 thread, then 2 at 2 threads, on
# a byte copy of /work/tmp-lead44/db (steady.sh copies it again for each run)
P=/work/wt/perf45/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-perf45/db /work/tmp-perf45/pairs/t1 main=/work/tmp-perf45/bin/main b1=/work/tmp-perf45/bin/b1c
/work/timed $P/pairs.sh 2 2 /work/tmp-perf45/db /work/tmp-perf45/pairs/t2 main=/work/tmp-perf45/bin/main b1=/work/tmp-perf45/bin/b1c
