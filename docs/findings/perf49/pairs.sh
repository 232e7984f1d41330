#!/bin/bash
# perf49: main (09fd1be) against the branch's build (i4: e7a9b8e + feef23e + 484a044, the patch path reverted),
# 2 rounds at 1 thread, then 2 at 2 threads (each call under 10 minutes; /work/timed is exclusive).
# Then: python3 ../speed37/pair_ratios.py main perf49 OUT/r*
P=$(cd "$(dirname "$0")/../speed37" && pwd)
B=${1:-/work/tmp-perf49/bin/i4}
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t1 main=/work/tmp-perf49/bin/main perf49=$B
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t2 main=/work/tmp-perf49/bin/main perf49=$B
