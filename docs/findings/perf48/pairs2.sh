#!/bin/bash
# perf48: a second call at 1 thread (the first call's two pairs both favoured main: 0.954, 0.969), rounds into t1b.
P=/work/wt/perf48/docs/findings/speed37
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf48/pairs/t1b main=/work/tmp-perf48/bin/main perf48=/work/tmp-perf48/bin/b4
