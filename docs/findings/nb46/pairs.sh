#!/bin/bash
# nb46: main (c72ba78) against b1 (dbcf50c), 2 rounds at 1 thread, then 2 at 2 threads
P=/work/wt/nb46/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-nb46/pairs/t1 main=/work/tmp-nb46/bin/main nb46=/work/tmp-nb46/bin/b1
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-nb46/pairs/t2 main=/work/tmp-nb46/bin/main nb46=/work/tmp-nb46/bin/b1
