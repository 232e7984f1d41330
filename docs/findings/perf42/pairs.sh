#!/bin/bash
# perf42: main against b3 (the branch's three commits), 2 rounds at 1 thread, then 2 at 2 threads
P=/work/wt/perf42/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-perf42/db /work/tmp-perf42/pairs/t1 main=/work/tmp-perf42/bin/main b3=/work/tmp-perf42/bin/b3
/work/timed $P/pairs.sh 2 2 /work/tmp-perf42/db /work/tmp-perf42/pairs/t2 main=/work/tmp-perf42/bin/main b3=/work/tmp-perf42/bin/b3
