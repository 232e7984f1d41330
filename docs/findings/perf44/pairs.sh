#!/bin/bash
# perf44: main (90e6f2f) against b5 (the branch's code, 14e771e), 2 rounds at 1 thread, then 2 at 2 threads
P=/work/wt/perf44/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-perf44/db /work/tmp-perf44/pairs/t1 main=/work/tmp-perf44/bin/main b5=/work/tmp-perf44/bin/b5
/work/timed $P/pairs.sh 2 2 /work/tmp-perf44/db /work/tmp-perf44/pairs/t2 main=/work/tmp-perf44/bin/main b5=/work/tmp-perf44/bin/b5
