#!/bin/bash
# perf48: a third call at 1 thread (after the tests), rounds into t1c.
P=/work/wt/perf48/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf48/pairs/t1c main=/work/tmp-perf48/bin/main perf48=/work/tmp-perf48/bin/b4
