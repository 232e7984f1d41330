#!/bin/bash
# perf49: e2 against main at 1 thread again (pairs4.sh's two pairs both favoured main), three rounds.
P=$(cd "$(dirname "$0")/../speed37" && pwd)
/work/timed $P/pairs.sh 1 3 /work/tmp-lead44/db /work/tmp-perf49/pairs/t1d main=/work/tmp-perf49/bin/main perf49=/work/tmp-perf49/bin/e2
