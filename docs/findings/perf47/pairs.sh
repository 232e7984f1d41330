#!/bin/bash
# perf47: main (b7fc747) against b1 (the NearHints commit), 2 rounds at 1 thread, then 2 at 2 threads
P=/work/wt/perf47/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf47/pairs/t1 main=/work/tmp-perf47/bin/main perf47=/work/tmp-perf47/bin/b1
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf47/pairs/t2 main=/work/tmp-perf47/bin/main perf47=/work/tmp-perf47/bin/b1
# a second call of each (17:0x UTC), rounds into t1b, t2b
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf47/pairs/t1b main=/work/tmp-perf47/bin/main perf47=/work/tmp-perf47/bin/b1
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf47/pairs/t2b main=/work/tmp-perf47/bin/main perf47=/work/tmp-perf47/bin/b1
