#!/bin/bash
# perf49: the branch's final code (e2: e7a9b8e + feef23e, without insert_parsed) against main at 2 threads, after
# the 2-thread pairs of i4 (pairs.sh, pairs2.sh) all favoured main.
P=$(cd "$(dirname "$0")/../speed37" && pwd)
/work/timed $P/pairs.sh 2 2 /work/tmp-lead44/db /work/tmp-perf49/pairs/t2c main=/work/tmp-perf49/bin/main perf49=/work/tmp-perf49/bin/e2
