#!/bin/bash
# perf49: the branch's final code (e2) against main at 1 thread (pairs3.sh did 2 threads).
P=$(cd "$(dirname "$0")/../speed37" && pwd)
/work/timed $P/pairs.sh 1 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t1c main=/work/tmp-perf49/bin/main perf49=/work/tmp-perf49/bin/e2
