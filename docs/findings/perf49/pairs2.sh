#!/bin/bash
# perf49: a second call at 2 threads and at 1, as the first calls' four pairs all favoured main (pairs.sh).
P=$(cd "$(dirname "$0")/../speed37" && pwd)
B=${1:-/work/tmp-perf49/bin/i4}
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t2b main=/work/tmp-perf49/bin/main perf49=$B
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t1b main=/work/tmp-perf49/bin/main perf49=$B
