#!/bin/bash
# perf48: main (1dcfbb5) against the branch's build (b4), 2 rounds at 1 thread, then 2 at 2 threads (each call under
# 10 minutes; /work/timed is exclusive). Then: python3 ../speed37/pair_ratios.py main perf48 OUT/r*
P=/work/wt/perf48/docs/findings/speed37
B=${1:-/work/tmp-perf48/bin/b4}
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf48/pairs/t1 main=/work/tmp-perf48/bin/main perf48=$B
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf48/pairs/t2 main=/work/tmp-perf48/bin/main perf48=$B
