#!/bin/bash
# perf43: main (bc3e2b7) against b3 (the branch's two code commits, ddfa985), 2 rounds at 1 thread, then 2 at 2 threads
P=/work/wt/perf43/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-perf43/db /work/tmp-perf43/pairs/t1 main=/work/tmp-perf43/bin/main b3=/work/tmp-perf43/bin/b3
/work/timed $P/pairs.sh 2 2 /work/tmp-perf43/db /work/tmp-perf43/pairs/t2 main=/work/tmp-perf43/bin/main b3=/work/tmp-perf43/bin/b3
